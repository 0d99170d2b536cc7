/* libFuzzer target for the reply judge: a server's answer (or whatever
 * answers in its place: a proxy, a captive portal, a broken load balancer)
 * is untrusted, and its message goes to the log. Input: 2 bytes pick the
 * status from a table of ones that matter, 1 byte a Retry-After header, and
 * the rest is the body, passed with its length and no NUL after it (the
 * fuzzer's buffer is exactly that long, so ASan sees any over-read). The
 * judge must not crash or leak, and the message must be NUL-terminated
 * printable ASCII, within UPLOAD_MESSAGE_MAX, empty on a delivery. Built
 * with -Dfuzz=true (CC=clang); seeds in corpus/reply/. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "upload_reply.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const long statuses[] = {
	0, 100, 200, 201, 202, 204, 206, 301, 302, 304, 307, 308, 400, 401, 403, 404, 405,
	408, 409, 411, 413, 415, 422, 429, 431, 499, 500, 501, 502, 503, 504, 507, 520, 599,
	-1, 600, 999,
};

static const char *const retry_afters[] = {
	NULL, "", "0", "1", "7", " 7", "7 ", "300", "301", "86400", "-1", "1.5", "7x",
	"99999999999999999999", "Wed, 21 Oct 2015 07:28:00 GMT", " ", "\t5",
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct upload_reply r;
	long status;
	const char *ra;
	size_t n;

	if (size < 3)
		return 0;
	status = statuses[(((size_t)data[0] << 8) | data[1]) % N(statuses)];
	ra = retry_afters[data[2] % N(retry_afters)];
	/* An empty body as NULL, as libcurl may give it. */
	upload_reply_judge(status, size > 3 ? (const char *)data + 3 : NULL, size - 3, ra, &r);
	n = strnlen(r.message, sizeof(r.message));
	if (n >= sizeof(r.message) || r.status != status)
		abort();
	for (size_t i = 0; i < n; i++)
		if (r.message[i] < 0x20 || r.message[i] > 0x7e)
			abort();
	if (r.verdict == UPLOAD_DELIVERED && n)
		abort();
	if (r.retry_after_ms < 0 || r.retry_after_ms > 300000 ||
	    (r.retry_after_ms && r.verdict != UPLOAD_RETRY))
		abort();
	return 0;
}
