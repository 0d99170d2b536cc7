/* Unit tests of the reply judge (agent/upload/upload_reply.h). Its verdict decides
 * whether a profile is resent, spooled or given up: a retry of what can
 * never succeed wastes the server, giving up on a 503 loses data. The body
 * is untrusted bytes from the network, and its message goes to the log:
 * whatever comes in, the message is short, printable and NUL-terminated,
 * and the judge reads no byte past the length it is given. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "upload_reply.h"

static const char *verdict_name(enum upload_verdict v)
{
	switch (v) {
	case UPLOAD_DELIVERED:
		return "delivered";
	case UPLOAD_RETRY:
		return "retry";
	case UPLOAD_REFUSED:
		return "refused";
	}
	return "?";
}

/* The message is a C string of printable ASCII within its array. */
static void check_message(const struct upload_reply *r)
{
	size_t n = strnlen(r->message, sizeof(r->message));

	CHECK(n < sizeof(r->message), "message not NUL-terminated");
	CHECK(n <= UPLOAD_MESSAGE_MAX - 1);
	for (size_t i = 0; i < n; i++)
		CHECK(r->message[i] >= 0x20 && r->message[i] < 0x7f, "byte 0x%02x at %zu",
		      (unsigned char)r->message[i], i);
}

static void test_verdicts(void)
{
	static const struct { long status; enum upload_verdict want; } cases[] = {
		{ 200, UPLOAD_DELIVERED }, { 204, UPLOAD_DELIVERED },
		{ 408, UPLOAD_RETRY }, { 429, UPLOAD_RETRY }, { 500, UPLOAD_RETRY },
		{ 502, UPLOAD_RETRY }, { 503, UPLOAD_RETRY }, { 504, UPLOAD_RETRY },
		{ 0, UPLOAD_RETRY }, /* no answer at all: a transport failure */
		{ 400, UPLOAD_REFUSED }, { 401, UPLOAD_REFUSED }, { 403, UPLOAD_REFUSED },
		{ 404, UPLOAD_REFUSED }, { 413, UPLOAD_REFUSED }, { 422, UPLOAD_REFUSED },
		/* Redirects are not followed (the body is not replayed elsewhere). */
		{ 301, UPLOAD_REFUSED }, { 302, UPLOAD_REFUSED }, { 307, UPLOAD_REFUSED },
		{ 100, UPLOAD_REFUSED },
	};
	struct upload_reply r;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(&r, 0x55, sizeof(r));
		upload_reply_judge(cases[i].status, NULL, 0, NULL, &r);
		CHECK(r.verdict == cases[i].want, "%ld: %s, want %s", cases[i].status,
		      verdict_name(r.verdict), verdict_name(cases[i].want));
		CHECK_INT(r.status, cases[i].status);
		CHECK_INT(r.retry_after_ms, 0);
		CHECK_STR(r.message, "");
	}
}

static void test_retry_after(void)
{
	static const struct { const char *v; long long want_ms; } cases[] = {
		{ "7", 7000 }, { " 7", 7000 }, { "0", 0 }, { "300", 300000 },
		{ "301", 300000 }, { "86400", 300000 },
		/* Past what a long holds is still a wait longer than the cap. */
		{ "99999999999999999999", 300000 },
		/* An HTTP date is the backoff's to decide. */
		{ "Wed, 21 Oct 2015 07:28:00 GMT", 0 },
		{ "", 0 }, { "-5", 0 }, { "7x", 0 },
	};
	struct upload_reply r;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		upload_reply_judge(503, NULL, 0, cases[i].v, &r);
		CHECK(r.retry_after_ms == cases[i].want_ms, "Retry-After '%s': %lld ms, want %lld",
		      cases[i].v, (long long)r.retry_after_ms, cases[i].want_ms);
	}
	upload_reply_judge(429, NULL, 0, "7", &r);
	CHECK_INT(r.verdict, UPLOAD_RETRY);
	CHECK_INT(r.retry_after_ms, 7000);
	upload_reply_judge(503, NULL, 0, NULL, &r);
	CHECK_INT(r.retry_after_ms, 0);
}

static void judge_body(long status, const char *body, struct upload_reply *r)
{
	upload_reply_judge(status, body, strlen(body), NULL, r);
	check_message(r);
}

static void test_messages(void)
{
	struct upload_reply r;

	judge_body(400, "{\"code\":\"invalid_argument\",\"message\":\"bad label\"}", &r);
	CHECK_INT(r.verdict, UPLOAD_REFUSED);
	CHECK_STR(r.message, "invalid_argument: bad label");
	/* Whitespace around, fields in another order, extra fields. */
	judge_body(503, " \n{\"details\":[], \"message\":\"later\", \"code\":\"unavailable\"}\n", &r);
	CHECK_INT(r.verdict, UPLOAD_RETRY);
	CHECK_STR(r.message, "unavailable: later");
	judge_body(400, "{\"message\":\"only words\"}", &r);
	CHECK_STR(r.message, "only words");
	judge_body(400, "{\"code\":\"internal\"}", &r);
	CHECK_STR(r.message, "internal");
	/* A newline inside the JSON message: its first line. */
	judge_body(400, "{\"code\":\"c\",\"message\":\"one\\ntwo\"}", &r);
	CHECK_STR(r.message, "c: one");

	/* Plain text: its first line, trailing blanks cut. */
	judge_body(500, "upstream connect error  \r\nsecond line\n", &r);
	CHECK_STR(r.message, "upstream connect error");
	judge_body(413, "\n\nrequest entity too large", &r);
	CHECK_STR(r.message, "request entity too large");
	/* Control characters and bytes past ASCII are replaced. */
	judge_body(400, "a\tb\x1b[31mc\x7f\xc3\xa9", &r);
	CHECK_STR(r.message, "a?b?[31mc???");
	judge_body(400, "{\"code\":\"x\",\"message\":\"\\u0007bell \\u00e9\"}", &r);
	CHECK_STR(r.message, "x: ?bell ??");

	/* Malformed or non-Connect JSON falls back to the text. */
	judge_body(400, "{\"code\":\"invalid_argument\",", &r);
	CHECK_STR(r.message, "{\"code\":\"invalid_argument\",");
	judge_body(400, "{\"code\": 3, \"message\": [1]}", &r);
	CHECK_STR(r.message, "{\"code\": 3, \"message\": [1]}");
	judge_body(400, "[\"code\",\"message\"]", &r);
	CHECK_STR(r.message, "[\"code\",\"message\"]");

	/* A delivery says nothing to log, whatever the body. */
	judge_body(200, "{\"code\":\"x\",\"message\":\"y\"}", &r);
	CHECK_INT(r.verdict, UPLOAD_DELIVERED);
	CHECK_STR(r.message, "");
	judge_body(400, "", &r);
	CHECK_STR(r.message, "");
}

static void test_bounds(void)
{
	struct upload_reply r;
	size_t big = 4 * UPLOAD_MESSAGE_MAX;
	char *body = malloc(big + 64);

	CHECK(body != NULL);
	if (!body)
		return;
	/* A long line is cut to the array, NUL included. */
	memset(body, 'x', big);
	upload_reply_judge(500, body, big, NULL, &r);
	check_message(&r);
	CHECK_INT(strlen(r.message), UPLOAD_MESSAGE_MAX - 1);

	/* So is a long JSON message. */
	int n = snprintf(body, 64, "{\"code\":\"c\",\"message\":\"");
	memset(body + n, 'm', big - (size_t)n - 2);
	memcpy(body + big - 2, "\"}", 2);
	upload_reply_judge(400, body, big, NULL, &r);
	check_message(&r);
	CHECK_INT(strlen(r.message), UPLOAD_MESSAGE_MAX - 1);
	CHECK(strncmp(r.message, "c: mmm", 6) == 0, "message '%.16s...'", r.message);

	/* Not NUL-terminated: only len bytes are the body; what follows (here
	 * "SECRET") is never read into the message. Under ASan the copy on the
	 * heap, exactly len bytes long, turns any over-read into a report. */
	const char text[] = "short answerSECRET";
	size_t len = strlen("short answer");
	char *exact = malloc(len);
	CHECK(exact != NULL);
	if (exact) {
		memcpy(exact, text, len);
		upload_reply_judge(500, exact, len, NULL, &r);
		check_message(&r);
		CHECK_STR(r.message, "short answer");
		free(exact);
	}
	upload_reply_judge(500, text, len, NULL, &r);
	CHECK_STR(r.message, "short answer");

	const char json[] = "{\"code\":\"unavailable\",\"message\":\"x\"}GARBAGE";
	len = strlen(json) - strlen("GARBAGE");
	exact = malloc(len);
	CHECK(exact != NULL);
	if (exact) {
		memcpy(exact, json, len);
		upload_reply_judge(503, exact, len, NULL, &r);
		CHECK_STR(r.message, "unavailable: x");
		/* Cut inside the JSON: not JSON any more, shown as text. */
		upload_reply_judge(503, exact, 10, NULL, &r);
		CHECK_STR(r.message, "{\"code\":\"u");
		free(exact);
	}

	/* Deeply nested JSON, small enough to be parsed (the judge parses up
	 * to 64 KiB): the parser gives up at its depth limit, no stack
	 * overflow, and the text is shown. */
	size_t depth = 10000, at = 0;
	char *deep = malloc(6 * depth + 2);
	CHECK(deep != NULL);
	if (deep) {
		for (size_t i = 0; i < depth; i++, at += 5)
			memcpy(deep + at, "{\"a\":", 5);
		deep[at++] = '1';
		memset(deep + at, '}', depth);
		at += depth;
		upload_reply_judge(400, deep, at, NULL, &r);
		check_message(&r);
		CHECK_INT(r.verdict, UPLOAD_REFUSED);
		CHECK(strncmp(r.message, "{\"a\":{\"a\":", 10) == 0, "message '%.16s'", r.message);
		free(deep);
	}

	/* A NUL byte inside the body ends nothing early and breaks nothing. */
	const char nul[] = "before\0after";
	upload_reply_judge(500, nul, sizeof(nul) - 1, NULL, &r);
	check_message(&r);
	CHECK_STR(r.message, "before?after");
	free(body);
}

int main(void)
{
	test_verdicts();
	test_retry_after();
	test_messages();
	test_bounds();
	return check_report("upload_reply");
}
