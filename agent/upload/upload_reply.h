/* What a server's answer to an upload means: delivered, try again later,
 * or refused for good, and the server's own words for the log.
 *
 * Retried: transport failures (no connection, timeout, connection closed
 * before an answer), 408, 429 and 5xx. Other 4xx are refused: sending the
 * same bytes again cannot succeed. 2xx is delivered; 1xx and 3xx (libcurl
 * does not follow redirects here: a POST body is not replayed to another
 * host) are refused. The message is Connect's JSON {"code","message"} when
 * the body is JSON, else the body's first line, made printable and cut.
 */
#ifndef SMOLDER_UPLOAD_REPLY_H
#define SMOLDER_UPLOAD_REPLY_H

#include <stddef.h>
#include <stdint.h>

enum upload_verdict {
	UPLOAD_DELIVERED,
	UPLOAD_RETRY,
	UPLOAD_REFUSED,
};

#define UPLOAD_MESSAGE_MAX 256

struct upload_reply {
	enum upload_verdict verdict;
	long status;            /* HTTP status; 0 if none came */
	int64_t retry_after_ms; /* from Retry-After (seconds only); 0: none */
	char message[UPLOAD_MESSAGE_MAX];
};

/* Judges an HTTP answer. body may be NULL (len 0) and need not be
 * NUL-terminated; retry_after is the header's value or NULL. */
void upload_reply_judge(long status, const char *body, size_t len, const char *retry_after,
			struct upload_reply *out);

#endif
