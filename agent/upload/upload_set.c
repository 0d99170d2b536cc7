/* From profile set to upload queue (see upload_set.h). */
#include "upload_set.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "series_labels.h"

void upload_warned_release(struct upload_warned *w)
{
	for (size_t i = 0; i < w->n; i++)
		free(w->names[i]);
	w->n = 0;
}

bool upload_warned_first(struct upload_warned *w, const char *name)
{
	for (size_t i = 0; i < w->n; i++)
		if (strcmp(w->names[i], name) == 0)
			return false;
	if (w->n == UPLOAD_WARNED_MAX)
		return false;
	w->names[w->n] = strdup(name);
	if (w->names[w->n])
		w->n++;
	return true;
}

static void warn_dropped(const char *service, const struct series_report *r,
			 struct upload_warned *w)
{
	for (size_t i = 0; i < r->n_dropped && i < SERIES_DROPPED_REPORTED; i++)
		if (upload_warned_first(w, r->dropped[i].name))
			log_warn("upload: label %s (service %s) is left out of every profile: %s",
				 r->dropped[i].name, service, r->dropped[i].reason);
}

static int submit_entry(struct uploader *u, const struct profile_set *set, size_t i,
			struct upload_warned *warned, size_t *labels_dropped)
{
	struct series_labels labels;
	struct series_report report;
	struct upload_profile *p;
	struct profile_entry e;
	uint8_t *data = NULL;
	size_t len = 0;
	int rc;

	profile_set_entry(set, i, &e);
	rc = series_labels_build(e.labels, &labels, &report);
	if (rc)
		return rc;
	*labels_dropped += report.n_dropped;
	warn_dropped(e.service_name, &report, warned);
	rc = pprof_builder_encode(e.builder, &data, &len);
	if (rc) {
		series_labels_release(&labels);
		return rc;
	}
	p = upload_profile_new(profile_set_start_ns(set), profile_set_end_ns(set),
			       profile_set_sample_rate(set), &labels, data, len);
	if (!p)
		return -ENOMEM;
	uploader_submit(u, p);
	return 0;
}

void upload_set_submit(struct uploader *u, const struct profile_set *set,
		       struct upload_warned *warned, struct upload_set_result *res)
{
	memset(res, 0, sizeof(*res));
	for (size_t i = 0; i < profile_set_count(set); i++) {
		int rc = submit_entry(u, set, i, warned, &res->labels_dropped);

		if (!rc) {
			res->queued++;
		} else if (!res->failed++) {
			res->first_error = rc;
		}
	}
}
