/* The two request formats (see upload_request.h). protobuf-c packs the
 * push request from push.proto; libcurl escapes the legacy query. */
#include "upload_request.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "push.pb-c.h"

int upload_push_encode(const struct upload_profile *p, uint8_t **out, size_t *len)
{
	Types__V1__LabelPair pairs[SERIES_LABELS_MAX], *pair_ptrs[SERIES_LABELS_MAX];
	Push__V1__RawSample sample = PUSH__V1__RAW_SAMPLE__INIT, *sample_ptr = &sample;
	Push__V1__RawProfileSeries series = PUSH__V1__RAW_PROFILE_SERIES__INIT;
	Push__V1__RawProfileSeries *series_ptr = &series;
	Push__V1__PushRequest req = PUSH__V1__PUSH_REQUEST__INIT;

	for (size_t i = 0; i < p->labels.n; i++) {
		types__v1__label_pair__init(&pairs[i]);
		pairs[i].name = p->labels.v[i].name;
		pairs[i].value = p->labels.v[i].value;
		pair_ptrs[i] = &pairs[i];
	}
	series.n_labels = p->labels.n;
	series.labels = pair_ptrs;
	sample.raw_profile.data = p->pprof_gz;
	sample.raw_profile.len = p->pprof_len;
	sample.id = (char *)p->id; /* protobuf-c only reads it */
	series.n_samples = 1;
	series.samples = &sample_ptr;
	req.n_series = 1;
	req.series = &series_ptr;

	*len = push__v1__push_request__get_packed_size(&req);
	*out = malloc(*len ? *len : 1);
	if (!*out)
		return -ENOMEM;
	push__v1__push_request__pack(&req, *out);
	return 0;
}

/* Appends s to out at *at; -ENAMETOOLONG if it would not fit. */
static int append(char *out, size_t len, size_t *at, const char *s)
{
	size_t n = strlen(s);

	if (*at + n + 1 > len)
		return -ENAMETOOLONG;
	memcpy(out + *at, s, n + 1);
	*at += n;
	return 0;
}

int upload_ingest_name(const struct upload_profile *p, char *out, size_t len,
		       struct series_report *report)
{
	const char *svc = series_labels_get(&p->labels, "service_name");
	size_t at = 0, pairs = 0;
	int rc;

	memset(report, 0, sizeof(*report));
	if (!svc || !len)
		return -EINVAL;
	out[0] = '\0';
	if ((rc = append(out, len, &at, svc)) || (rc = append(out, len, &at, "{")))
		return rc;
	/* The name ends at its first '{': the syntax's own characters in a
	 * service name would make it say something else. */
	for (size_t i = 0; i + 1 < at; i++)
		if (strchr("{},=", out[i]))
			out[i] = '_';
	for (size_t i = 0; i < p->labels.n; i++) {
		const struct series_label *l = &p->labels.v[i];

		if (strcmp(l->name, "service_name") == 0 || strcmp(l->name, "__name__") == 0)
			continue;
		if (!series_label_value_legacy_ok(l->value)) {
			if (report->n_dropped < SERIES_DROPPED_REPORTED)
				report->dropped[report->n_dropped] = (struct series_dropped){
					l->name, "the legacy API cannot hold ',', '}' or '=' in a value"
				};
			report->n_dropped++;
			continue;
		}
		if ((pairs++ && (rc = append(out, len, &at, ","))) ||
		    (rc = append(out, len, &at, l->name)) || (rc = append(out, len, &at, "=")) ||
		    (rc = append(out, len, &at, l->value)))
			return rc;
	}
	return append(out, len, &at, "}");
}

int upload_ingest_query(const struct upload_profile *p, const char *name, char **out)
{
	char *escaped = curl_easy_escape(NULL, name, 0);
	int64_t from = p->start_ns / 1000000000;
	int64_t until = (p->end_ns + 999999999) / 1000000000;
	int n;

	if (!escaped)
		return -ENOMEM;
	n = asprintf(out, "name=%s&from=%" PRId64 "&until=%" PRId64 "&sampleRate=%" PRIu32
			  "&spyName=smolder",
		     escaped, from, until, p->sample_rate);
	curl_free(escaped);
	if (n < 0) {
		*out = NULL;
		return -ENOMEM;
	}
	return 0;
}
