/* What one profile looks like on the wire, for each of the two APIs.
 *
 * push (default): the body of POST /push.v1.PusherService/Push, a
 *   push.v1.PushRequest holding one series (the profile's labels) with one
 *   sample (the gzipped pprof and the profile's ID).
 * legacy: the query of POST /ingest,
 *   name=<service_name>{k=v,...}&from=S&until=S&sampleRate=HZ&spyName=smolder,
 *   the pprof going in a multipart part named "profile". No format=pprof:
 *   with it the server reads the body as a raw profile, not as a form.
 */
#ifndef SMOLDER_UPLOAD_REQUEST_H
#define SMOLDER_UPLOAD_REQUEST_H

#include <stddef.h>
#include <stdint.h>

#include "upload_profile.h"

/* The PushRequest, packed into *out (malloc'd). */
int upload_push_encode(const struct upload_profile *p, uint8_t **out, size_t *len);

/* The legacy application name, service_name{k=v,...} (labels other than
 * service_name and __name__), into out; '{', '}', ',' and '=' in the
 * service name become '_'. Labels whose values the syntax
 * cannot hold (',', '}', '=') are left out and reported in report.
 * -ENAMETOOLONG if it does not fit. */
int upload_ingest_name(const struct upload_profile *p, char *out, size_t len,
		       struct series_report *report);

/* The legacy query string (after "?"), with name percent-encoded, into a
 * malloc'd string in *out. */
int upload_ingest_query(const struct upload_profile *p, const char *name, char **out);

#endif
