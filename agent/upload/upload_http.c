/* Upload requests over libcurl (see upload_http.h). The easy handle is
 * kept between requests so its connection is reused; every request sets
 * its URL, body and headers anew. Nothing here logs: a URL or a header may
 * carry a secret. */
#include "upload_http.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "upload_request.h"

/* What is kept of an answer's body: enough for an error message. */
#define BODY_MAX 65536
#define INGEST_NAME_MAX 16384

struct body {
	char data[BODY_MAX];
	size_t len;
};

struct upload_http {
	CURL *curl;
	char *push_url, *ingest_url;   /* base + path */
	struct curl_slist *push_headers, *ingest_headers;
	bool legacy;
	bool (*should_abort)(void *);
	void *arg;
	struct body body;
	char retry_after[32];
	char error[CURL_ERROR_SIZE];
};

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
	struct body *b = arg;
	size_t len = size * n, room = sizeof(b->data) - b->len;

	memcpy(b->data + b->len, data, len < room ? len : room);
	b->len += len < room ? len : room;
	return len; /* the rest is read and ignored, so the connection stays usable */
}

static size_t on_header(char *data, size_t size, size_t n, void *arg)
{
	struct upload_http *h = arg;
	size_t len = size * n;
	static const char name[] = "retry-after:";

	if (len > sizeof(name) - 1 && strncasecmp(data, name, sizeof(name) - 1) == 0) {
		size_t v = len - (sizeof(name) - 1);
		if (v >= sizeof(h->retry_after))
			v = sizeof(h->retry_after) - 1;
		memcpy(h->retry_after, data + sizeof(name) - 1, v);
		h->retry_after[v] = '\0';
	}
	return len;
}

static int on_progress(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	struct upload_http *h = arg;

	(void)dt, (void)dn, (void)ut, (void)un;
	return h->should_abort && h->should_abort(h->arg) ? 1 : 0;
}

static struct curl_slist *add_header(struct curl_slist *l, bool *ok, const char *fmt,
				     const char *a, const char *b)
{
	char line[8192];
	struct curl_slist *n;

	snprintf(line, sizeof(line), fmt, a, b);
	n = curl_slist_append(l, line);
	if (!n) {
		*ok = false;
		return l;
	}
	return n;
}

/* The headers every request carries, after the content type's. */
static struct curl_slist *common_headers(struct curl_slist *l, const struct uploader_opts *o,
					 bool *ok)
{
	/* A large body would otherwise wait a second for "100 Continue". */
	l = add_header(l, ok, "Expect:%s%s", "", "");
	if (o->bearer_token)
		l = add_header(l, ok, "Authorization: Bearer %s%s", o->bearer_token, "");
	if (o->tenant_id)
		l = add_header(l, ok, "X-Scope-OrgID: %s%s", o->tenant_id, "");
	for (size_t i = 0; i < o->n_headers; i++) {
		const char *h = o->headers[i], *eq = strchr(h, '=');
		char name[1024];

		if (!eq || (size_t)(eq - h) >= sizeof(name))
			continue; /* config.c let none of these through */
		memcpy(name, h, (size_t)(eq - h));
		name[eq - h] = '\0';
		l = add_header(l, ok, "%s: %s", name, eq + 1);
	}
	return l;
}

static char *join(const char *base, const char *path)
{
	size_t n = strlen(base);
	char *out;

	while (n && base[n - 1] == '/')
		n--;
	if (asprintf(&out, "%.*s%s", (int)n, base, path) < 0)
		return NULL;
	return out;
}

static bool set_options(struct upload_http *h, const struct uploader_opts *o)
{
	CURL *c = h->curl;
	long timeout = o->timeout_ms > 0x7fffffff ? 0x7fffffff : (long)o->timeout_ms;
	bool ok = true;

	ok &= curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) == CURLE_OK;
	ok &= curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout) == CURLE_OK;
	ok &= curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, timeout) == CURLE_OK;
	ok &= curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https") == CURLE_OK;
	ok &= curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L) == CURLE_OK;
	ok &= curl_easy_setopt(c, CURLOPT_USERAGENT, o->user_agent) == CURLE_OK;
	ok &= curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "") == CURLE_OK;
	ok &= curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body) == CURLE_OK;
	ok &= curl_easy_setopt(c, CURLOPT_WRITEDATA, &h->body) == CURLE_OK;
	ok &= curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header) == CURLE_OK;
	ok &= curl_easy_setopt(c, CURLOPT_HEADERDATA, h) == CURLE_OK;
	ok &= curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress) == CURLE_OK;
	ok &= curl_easy_setopt(c, CURLOPT_XFERINFODATA, h) == CURLE_OK;
	ok &= curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L) == CURLE_OK;
	ok &= curl_easy_setopt(c, CURLOPT_ERRORBUFFER, h->error) == CURLE_OK;
	if (o->basic_auth_user) {
		ok &= curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC) == CURLE_OK;
		ok &= curl_easy_setopt(c, CURLOPT_USERNAME, o->basic_auth_user) == CURLE_OK;
		ok &= curl_easy_setopt(c, CURLOPT_PASSWORD,
				       o->basic_auth_password ? o->basic_auth_password : "") ==
		      CURLE_OK;
	}
	if (o->tls_ca_file)
		ok &= curl_easy_setopt(c, CURLOPT_CAINFO, o->tls_ca_file) == CURLE_OK;
	if (o->tls_insecure_skip_verify) {
		ok &= curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L) == CURLE_OK;
		ok &= curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L) == CURLE_OK;
	}
	return ok;
}

struct upload_http *upload_http_new(const struct uploader_opts *o,
				    bool (*should_abort)(void *), void *arg)
{
	struct upload_http *h = calloc(1, sizeof(*h));
	bool ok = true;

	if (!h)
		return NULL;
	h->legacy = o->legacy;
	h->should_abort = should_abort;
	h->arg = arg;
	h->curl = curl_easy_init();
	h->push_url = join(o->url, "/push.v1.PusherService/Push");
	h->ingest_url = join(o->url, "/ingest");
	h->push_headers = add_header(NULL, &ok, "Content-Type: application/proto%s%s", "", "");
	h->push_headers = add_header(h->push_headers, &ok, "Connect-Protocol-Version: 1%s%s", "", "");
	h->push_headers = common_headers(h->push_headers, o, &ok);
	h->ingest_headers = common_headers(NULL, o, &ok);
	if (!h->curl || !h->push_url || !h->ingest_url || !ok || !set_options(h, o)) {
		upload_http_free(h);
		errno = ENOMEM;
		return NULL;
	}
	return h;
}

void upload_http_free(struct upload_http *h)
{
	if (!h)
		return;
	curl_easy_cleanup(h->curl);
	curl_slist_free_all(h->push_headers);
	curl_slist_free_all(h->ingest_headers);
	free(h->push_url);
	free(h->ingest_url);
	free(h);
}

static int prepare_push(struct upload_http *h, const struct upload_profile *p, uint8_t **body)
{
	size_t len;
	int rc = upload_push_encode(p, body, &len);

	if (rc)
		return rc;
	curl_easy_setopt(h->curl, CURLOPT_URL, h->push_url);
	curl_easy_setopt(h->curl, CURLOPT_HTTPHEADER, h->push_headers);
	curl_easy_setopt(h->curl, CURLOPT_MIMEPOST, NULL);
	curl_easy_setopt(h->curl, CURLOPT_POSTFIELDS, *body);
	curl_easy_setopt(h->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	return 0;
}

static int prepare_ingest(struct upload_http *h, const struct upload_profile *p,
			  curl_mime **mime, char **url, struct series_report *dropped)
{
	char *name = malloc(INGEST_NAME_MAX), *query = NULL;
	curl_mimepart *part;
	int rc;

	if (!name)
		return -ENOMEM;
	rc = upload_ingest_name(p, name, INGEST_NAME_MAX, dropped);
	if (!rc)
		rc = upload_ingest_query(p, name, &query);
	free(name);
	if (rc)
		return rc;
	rc = asprintf(url, "%s?%s", h->ingest_url, query) < 0 ? -ENOMEM : 0;
	free(query);
	if (rc)
		return rc;
	*mime = curl_mime_init(h->curl);
	part = *mime ? curl_mime_addpart(*mime) : NULL;
	if (!part || curl_mime_name(part, "profile") != CURLE_OK ||
	    curl_mime_filename(part, "profile.pprof") != CURLE_OK ||
	    curl_mime_type(part, "application/octet-stream") != CURLE_OK ||
	    curl_mime_data(part, (const char *)p->pprof_gz, p->pprof_len) != CURLE_OK)
		return -ENOMEM;
	curl_easy_setopt(h->curl, CURLOPT_URL, *url);
	curl_easy_setopt(h->curl, CURLOPT_HTTPHEADER, h->ingest_headers);
	curl_easy_setopt(h->curl, CURLOPT_POSTFIELDS, NULL);
	curl_easy_setopt(h->curl, CURLOPT_MIMEPOST, *mime);
	return 0;
}

/* A transport failure: no answer came, so the same request may succeed
 * later. */
static void transport_failure(struct upload_http *h, CURLcode cc, struct upload_reply *r)
{
	memset(r, 0, sizeof(*r));
	r->verdict = UPLOAD_RETRY;
	snprintf(r->message, sizeof(r->message), "%s", h->error[0] ? h->error : curl_easy_strerror(cc));
}

int upload_http_send(struct upload_http *h, const struct upload_profile *p,
		     struct upload_reply *r, struct series_report *dropped)
{
	uint8_t *body = NULL;
	curl_mime *mime = NULL;
	char *url = NULL;
	long status = 0;
	CURLcode cc;
	int rc;

	memset(dropped, 0, sizeof(*dropped));
	h->body.len = 0;
	h->retry_after[0] = '\0';
	h->error[0] = '\0';
	rc = h->legacy ? prepare_ingest(h, p, &mime, &url, dropped) : prepare_push(h, p, &body);
	if (rc == -ENAMETOOLONG) {
		memset(r, 0, sizeof(*r));
		r->verdict = UPLOAD_REFUSED;
		snprintf(r->message, sizeof(r->message), "labels too long for the legacy API");
		rc = 0;
		goto out;
	}
	if (rc)
		goto out;
	cc = curl_easy_perform(h->curl);
	if (cc != CURLE_OK) {
		transport_failure(h, cc, r);
		goto out;
	}
	curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &status);
	upload_reply_judge(status, h->body.data, h->body.len,
			   h->retry_after[0] ? h->retry_after : NULL, r);
out:
	/* Nothing of this request may outlive it in the handle. */
	curl_easy_setopt(h->curl, CURLOPT_POSTFIELDS, NULL);
	curl_easy_setopt(h->curl, CURLOPT_MIMEPOST, NULL);
	curl_mime_free(mime);
	free(url);
	free(body);
	return rc;
}
