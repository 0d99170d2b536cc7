/* Judging server answers (see upload_reply.h). The body is untrusted
 * bytes from the network: json-c parses it with its length given, and
 * whatever reaches the log is printable ASCII of bounded length. */
#include "upload_reply.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

/* Longest Retry-After honoured: the backoff's own ceiling. */
#define RETRY_AFTER_MAX_S 300
/* A JSON body is parsed only up to this size; past it, its start is shown. */
#define JSON_BODY_MAX 65536

/* Copies what is printable of s[0..n) into out, up to the first line end. */
static void printable(const char *s, size_t n, char *out, size_t len)
{
	size_t o = 0;

	for (size_t i = 0; i < n && o + 1 < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\n' || c == '\r') {
			if (o)
				break;
			continue;
		}
		out[o++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	while (o && out[o - 1] == ' ')
		o--;
	out[o] = '\0';
}

/* Connect's error body: {"code": "...", "message": "..."}. */
static bool json_message(const char *body, size_t len, char *out, size_t out_len)
{
	struct json_tokener *tok;
	struct json_object *obj, *code = NULL, *msg = NULL;
	bool found = false;
	size_t i = 0;

	while (i < len && isspace((unsigned char)body[i]))
		i++;
	if (i == len || body[i] != '{' || len > JSON_BODY_MAX)
		return false;
	tok = json_tokener_new();
	if (!tok)
		return false;
	obj = json_tokener_parse_ex(tok, body, (int)len);
	if (obj && json_object_is_type(obj, json_type_object)) {
		json_object_object_get_ex(obj, "code", &code);
		json_object_object_get_ex(obj, "message", &msg);
		const char *c = code && json_object_is_type(code, json_type_string)
					? json_object_get_string(code) : NULL;
		const char *m = msg && json_object_is_type(msg, json_type_string)
					? json_object_get_string(msg) : NULL;
		if (c || m) {
			char both[2 * UPLOAD_MESSAGE_MAX];
			snprintf(both, sizeof(both), "%s%s%s", c ? c : "", c && m ? ": " : "",
				 m ? m : "");
			printable(both, strlen(both), out, out_len);
			found = true;
		}
	}
	json_object_put(obj);
	json_tokener_free(tok);
	return found;
}

static int64_t retry_after_ms(const char *v)
{
	char *end;
	long s;

	if (!v)
		return 0;
	while (*v == ' ')
		v++;
	if (!isdigit((unsigned char)*v))
		return 0; /* an HTTP date: the backoff decides */
	errno = 0;
	s = strtol(v, &end, 10);
	if (*end && !isspace((unsigned char)*end))
		return 0;
	if (errno == ERANGE)
		s = RETRY_AFTER_MAX_S; /* all digits, just many of them */
	if (s > RETRY_AFTER_MAX_S)
		s = RETRY_AFTER_MAX_S;
	return (int64_t)s * 1000;
}

static enum upload_verdict verdict_of(long status)
{
	if (status >= 200 && status < 300)
		return UPLOAD_DELIVERED;
	if (status == 408 || status == 429 || status >= 500 || status == 0)
		return UPLOAD_RETRY;
	return UPLOAD_REFUSED;
}

void upload_reply_judge(long status, const char *body, size_t len, const char *retry_after,
			struct upload_reply *out)
{
	memset(out, 0, sizeof(*out));
	out->status = status;
	out->verdict = verdict_of(status);
	if (out->verdict == UPLOAD_RETRY)
		out->retry_after_ms = retry_after_ms(retry_after);
	if (!body || !len || out->verdict == UPLOAD_DELIVERED)
		return;
	if (!json_message(body, len, out->message, sizeof(out->message)))
		printable(body, len, out->message, sizeof(out->message));
}
