/* One upload request: a profile, encoded for the push or the legacy API,
 * sent with libcurl over one reused connection, with the auth, tenant and
 * extra headers, the TLS settings and the timeout of the uploader's
 * options; the answer judged by upload_reply. Used by the uploader's
 * thread only. */
#ifndef SMOLDER_UPLOAD_HTTP_H
#define SMOLDER_UPLOAD_HTTP_H

#include <stdbool.h>

#include "series_labels.h"
#include "upload_profile.h"
#include "upload_reply.h"
#include "uploader.h"

struct upload_http;

/* should_abort(arg) is asked about once a second while a request runs;
 * true ends it (judged UPLOAD_RETRY). */
struct upload_http *upload_http_new(const struct uploader_opts *opts,
				    bool (*should_abort)(void *), void *arg);
void upload_http_free(struct upload_http *h);

/* Sends p and judges the answer into *r. Labels the legacy API cannot say
 * are left out and reported in *dropped. Returns a negative errno only
 * when the request could not even be made (out of memory). */
int upload_http_send(struct upload_http *h, const struct upload_profile *p,
		     struct upload_reply *r, struct series_report *dropped);

#endif
