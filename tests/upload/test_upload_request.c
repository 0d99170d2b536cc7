/* Unit tests of the request formats (agent/upload/upload_request.h) and of profile
 * IDs (agent/upload/upload_profile.h). The push body is decoded with the
 * protobuf-c code generated from push.proto, not by the encoder's own
 * logic, so a field written under the wrong number or type shows up here;
 * the legacy name and query are compared with what Pyroscope's /ingest
 * parses (app{k=v,...}, seconds, no format= that would change how the body
 * is read). The server drops retried copies by ID, so the ID must be a
 * real, fresh version 4 UUID. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "check.h"
#include "disc.h"
#include "push.pb-c.h"
#include "series_labels.h"
#include "upload_profile.h"
#include "upload_request.h"

#define NS 1000000000LL

/* A profile of service_name=svc (unless extra sets it) and the given extra
 * labels (name, value pairs, NULL-terminated), with len bytes of pprof that
 * are not all alike. */
static struct upload_profile *profile(int64_t start_ns, int64_t end_ns, size_t len,
				      const char *const *extra)
{
	struct disc_labels in = { 0 };
	struct series_labels labels;
	struct series_report rep;
	uint8_t *pprof = malloc(len ? len : 1);

	if (!pprof)
		return NULL;
	for (size_t i = 0; i < len; i++)
		pprof[i] = (uint8_t)(i * 7 + 3);
	CHECK(disc_labels_set(&in, "service_name", "svc") == 0);
	for (size_t i = 0; extra && extra[i]; i += 2)
		CHECK(disc_labels_set(&in, extra[i], extra[i + 1]) == 0);
	CHECK_INT(series_labels_build(&in, "process_cpu", &labels, &rep), 0);
	disc_labels_release(&in);
	return upload_profile_new(start_ns, end_ns, 100, &labels, pprof, len);
}

static void test_push_encode(void)
{
	static const char *const extra[] = { "zone", "eu-1", "arch", "x86_64", NULL };
	struct upload_profile *p = profile(1700000000 * NS, 1700000015 * NS, 300, extra);
	Push__V1__PushRequest *req;
	uint8_t *buf = NULL;
	size_t len = 0;

	CHECK(p != NULL);
	if (!p)
		return;
	CHECK_INT(upload_push_encode(p, &buf, &len), 0);
	CHECK(buf && len > 300, "packed %zu bytes", len);
	req = push__v1__push_request__unpack(NULL, len, buf);
	CHECK(req != NULL, "the push request does not decode");
	if (req) {
		CHECK_INT(req->n_series, 1);
		if (req->n_series == 1) {
			const Push__V1__RawProfileSeries *s = req->series[0];
			static const char *const want[][2] = {
				{ "__name__", "process_cpu" },
				{ "arch", "x86_64" },
				{ "service_name", "svc" },
				{ "zone", "eu-1" },
			};

			CHECK_INT(s->n_labels, 4);
			for (size_t i = 0; i < s->n_labels && i < 4; i++) {
				CHECK_STR(s->labels[i]->name, want[i][0]);
				CHECK_STR(s->labels[i]->value, want[i][1]);
			}
			CHECK_INT(s->n_samples, 1);
			if (s->n_samples == 1) {
				const Push__V1__RawSample *smp = s->samples[0];

				CHECK_INT(smp->raw_profile.len, p->pprof_len);
				CHECK(smp->raw_profile.len == p->pprof_len &&
				      memcmp(smp->raw_profile.data, p->pprof_gz, p->pprof_len) == 0,
				      "raw_profile differs");
				CHECK_STR(smp->id, p->id);
			}
		}
		push__v1__push_request__free_unpacked(req, NULL);
	}
	free(buf);
	upload_profile_free(p);
}

static void test_ingest_name(void)
{
	static const char *const extra[] = { "b", "2", "a", "1", NULL };
	static const char *const bad[] = { "a", "1", "c", "x,y", "d", "x}y", "e", "k=v", "f", "6",
					   NULL };
	struct upload_profile *p = profile(NS, 2 * NS, 10, extra);
	struct series_report rep;
	char name[256];

	CHECK(p != NULL);
	if (!p)
		return;
	CHECK_INT(upload_ingest_name(p, name, sizeof(name), &rep), 0);
	CHECK_STR(name, "svc{a=1,b=2}");
	CHECK_INT(rep.n_dropped, 0);
	/* Exactly fits with its NUL; a byte less does not. */
	CHECK_INT(upload_ingest_name(p, name, strlen("svc{a=1,b=2}") + 1, &rep), 0);
	CHECK_STR(name, "svc{a=1,b=2}");
	CHECK_INT(upload_ingest_name(p, name, strlen("svc{a=1,b=2}"), &rep), -ENAMETOOLONG);
	CHECK_INT(upload_ingest_name(p, name, 4, &rep), -ENAMETOOLONG);
	upload_profile_free(p);

	/* Only service_name: empty braces, as Pyroscope parses them. */
	p = profile(NS, 2 * NS, 10, NULL);
	CHECK(p != NULL);
	if (!p)
		return;
	CHECK_INT(upload_ingest_name(p, name, sizeof(name), &rep), 0);
	CHECK_STR(name, "svc{}");
	upload_profile_free(p);

	p = profile(NS, 2 * NS, 10, bad);
	CHECK(p != NULL);
	if (!p)
		return;
	CHECK_INT(upload_ingest_name(p, name, sizeof(name), &rep), 0);
	CHECK_STR(name, "svc{a=1,f=6}");
	CHECK_INT(rep.n_dropped, 3);
	for (size_t i = 0; i < rep.n_dropped && i < 3; i++)
		CHECK(rep.dropped[i].reason && rep.dropped[i].reason[0], "drop %zu has no reason", i);
	if (rep.n_dropped == 3) {
		CHECK_STR(rep.dropped[0].name, "c");
		CHECK_STR(rep.dropped[1].name, "d");
		CHECK_STR(rep.dropped[2].name, "e");
	}
	upload_profile_free(p);

	/* The syntax's own characters in the service name would end it early
	 * or add labels: each becomes '_'. */
	static const char *const odd_svc[] = { "service_name", "a{b,c=d}e", "z", "1", NULL };
	p = profile(NS, 2 * NS, 10, odd_svc);
	CHECK(p != NULL);
	if (!p)
		return;
	CHECK_INT(upload_ingest_name(p, name, sizeof(name), &rep), 0);
	CHECK_STR(name, "a_b_c_d_e{z=1}");
	upload_profile_free(p);
}

/* The value of key in a query string (a malloc'd copy), or NULL. */
static char *query_get(const char *q, const char *key)
{
	size_t kl = strlen(key);

	for (const char *p = q; p && *p; p = strchr(p, '&') ? strchr(p, '&') + 1 : NULL) {
		if (strncmp(p, key, kl) == 0 && p[kl] == '=') {
			const char *v = p + kl + 1, *e = strchr(v, '&');
			return strndup(v, e ? (size_t)(e - v) : strlen(v));
		}
	}
	return NULL;
}

static void test_ingest_query(void)
{
	static const char *const extra[] = { "a", "1", "b", "2", NULL };
	/* Half a second in, and 0.2 s into the 16th second: floor and ceiling. */
	struct upload_profile *p = profile(1700000000 * NS + NS / 2, 1700000015 * NS + NS / 5, 10,
					   extra);
	struct series_report rep;
	char name[256], *q = NULL, *v;

	CHECK(p != NULL);
	if (!p)
		return;
	p->sample_rate = 97;
	CHECK_INT(upload_ingest_name(p, name, sizeof(name), &rep), 0);
	CHECK_INT(upload_ingest_query(p, name, &q), 0);
	CHECK(q != NULL);
	if (!q) {
		upload_profile_free(p);
		return;
	}
	/* Every reserved character of the name escaped, nothing else in it. */
	v = query_get(q, "name");
	CHECK_STR(v, "svc%7Ba%3D1%2Cb%3D2%7D");
	if (v) {
		int n = 0;
		char *plain = curl_easy_unescape(NULL, v, 0, &n);
		CHECK_STR(plain, "svc{a=1,b=2}");
		curl_free(plain);
	}
	free(v);
	CHECK_STR((v = query_get(q, "from")), "1700000000");
	free(v);
	CHECK_STR((v = query_get(q, "until")), "1700000016");
	free(v);
	CHECK_STR((v = query_get(q, "sampleRate")), "97");
	free(v);
	CHECK_STR((v = query_get(q, "spyName")), "smolder");
	free(v);
	CHECK(strstr(q, "format=") == NULL, "query has format=: %s", q);
	CHECK(strpbrk(q, "{},") == NULL, "unescaped character in %s", q);
	free(q);

	/* Whole seconds stay as they are: the ceiling of 15 s is 15 s. */
	p->start_ns = 1700000000 * NS;
	p->end_ns = 1700000015 * NS;
	CHECK_INT(upload_ingest_query(p, name, &q), 0);
	CHECK_STR((v = query_get(q, "from")), "1700000000");
	free(v);
	CHECK_STR((v = query_get(q, "until")), "1700000015");
	free(v);
	free(q);
	upload_profile_free(p);
}

static void check_uuid(const char *id)
{
	CHECK_INT(strlen(id), UPLOAD_ID_LEN);
	for (int i = 0; i < UPLOAD_ID_LEN && id[i]; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23)
			CHECK(id[i] == '-', "'%s': no '-' at %d", id, i);
		else
			CHECK(isxdigit((unsigned char)id[i]) && !isupper((unsigned char)id[i]),
			      "'%s': '%c' at %d", id, id[i], i);
	}
	CHECK(id[14] == '4', "'%s': version nibble '%c'", id, id[14]);
	CHECK(strchr("89ab", id[19]) && id[19], "'%s': variant nibble '%c'", id, id[19]);
}

static void test_uuid(void)
{
	char a[UPLOAD_ID_LEN + 1], b[UPLOAD_ID_LEN + 1];

	/* The version and variant bits are forced: try a few, not one. */
	for (int i = 0; i < 64; i++) {
		memset(a, 'X', sizeof(a));
		upload_uuid_v4(a);
		check_uuid(a);
	}
	upload_uuid_v4(a);
	upload_uuid_v4(b);
	CHECK(strcmp(a, b) != 0, "two UUIDs alike: %s", a);

	/* A new profile carries a fresh one of its own. */
	struct upload_profile *p = profile(NS, 2 * NS, 1, NULL), *q = profile(NS, 2 * NS, 1, NULL);
	CHECK(p && q);
	if (p && q) {
		check_uuid(p->id);
		CHECK(strcmp(p->id, q->id) != 0, "two profiles share ID %s", p->id);
	}
	upload_profile_free(p);
	upload_profile_free(q);
}

int main(void)
{
	test_push_encode();
	test_ingest_name();
	test_ingest_query();
	test_uuid();
	return check_report("upload_request");
}
