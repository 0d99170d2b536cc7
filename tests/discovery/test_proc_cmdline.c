/* tests/discovery: the /proc/PID/cmdline parser, on argument areas as the
 * kernel gives them (NUL-ended arguments, or rewritten by setproctitle), on
 * control bytes, and on lines too long to keep whole. */
#include <errno.h>
#include <stdlib.h>

#include "check.h"
#include "disc.h"

/* A text with its NULs: its length is the literal's, not strlen's. */
#define TEXT(s) s, sizeof(s) - 1

struct cmdline_case {
	const char *name;
	const char *text;
	size_t len;
	int err;
	const char *want; /* NULL: no line */
};

static const struct cmdline_case cases[] = {
	{ "several arguments", TEXT("/usr/bin/python3\0-m\0http.server\08080\0"), 0,
	  "/usr/bin/python3 -m http.server 8080" },
	{ "one argument", TEXT("sleep\0"), 0, "sleep" },
	{ "no trailing NUL", TEXT("/bin/sh\0-c\0true"), 0, "/bin/sh -c true" },
	{ "an argument with spaces is not quoted", TEXT("sh\0-c\0echo a b\0"), 0,
	  "sh -c echo a b" },
	{ "an empty argument between two", TEXT("a\0\0b\0"), 0, "a  b" },
	{ "an empty first argument", TEXT("\0-x\0"), 0, " -x" },
	{ "empty arguments at the end are dropped with the NULs", TEXT("prog\0\0\0"), 0,
	  "prog" },
	{ "setproctitle: one string with spaces, no NUL",
	  TEXT("nginx: worker process is shutting down"), 0,
	  "nginx: worker process is shutting down" },
	{ "setproctitle: a title padded with NULs",
	  TEXT("postgres: checkpointer \0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0"), 0,
	  "postgres: checkpointer " },
	{ "control bytes become '?'", TEXT("a\tb\nc\r\0\x1b[31mred\x7f\x01\0"), 0,
	  "a?b?c? ?[31mred??" },
	{ "bytes past ASCII are kept, UTF-8 or not", TEXT("caf\xc3\xa9\0\xff\xfe\0"), 0,
	  "caf\xc3\xa9 \xff\xfe" },
	{ "empty (a kernel thread, a zombie)", "", 0, 0, NULL },
	{ "NULs only", TEXT("\0\0"), 0, NULL },
	{ "no text at all", NULL, 0, 0, NULL },
	{ "no text but a length", NULL, 3, -EINVAL, NULL },
};

/* Lines around DISC_CMDLINE_MAX: fill_n times 'a', then mid, then tail_n
 * times 'b'; the line is the first keep bytes of that, then "..." if cut. */
struct long_case {
	const char *name;
	size_t fill_n;
	const char *mid;
	size_t mid_len;
	size_t tail_n;
	size_t keep;
	bool cut;
};

#define MAX DISC_CMDLINE_MAX
#define MID(s) s, sizeof(s) - 1

static const struct long_case long_cases[] = {
	{ "exactly the longest kept", MAX, MID(""), 0, MAX, false },
	{ "the longest kept, then NULs", MAX, MID("\0\0"), 0, MAX, false },
	{ "one byte over", MAX + 1, MID(""), 0, MAX - 3, true },
	{ "far over (a Java class path)", 100000, MID(""), 0, MAX - 3, true },
	{ "a 2-byte character across the cut", MAX - 4, MID("\xc3\xa9"), 100, MAX - 4, true },
	{ "a 4-byte character across the cut", MAX - 6, MID("\xf0\x9f\x98\x80"), 100,
	  MAX - 6, true },
	{ "a 3-byte character ending at the cut", MAX - 6, MID("\xe2\x82\xac"), 100,
	  MAX - 3, true },
	{ "a 2-byte character starting at the cut", MAX - 3, MID("\xc3\xa9"), 100, MAX - 3,
	  true },
	{ "not UTF-8: continuation bytes only, cut where it must be", MAX - 10,
	  MID("\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80"), 100,
	  MAX - 3, true },
};

static void run_case(const struct cmdline_case *c)
{
	int failed_before = check_failures;
	char *out = (char *)"unset";
	int err = disc_cmdline_parse(c->text, c->len, &out);

	CHECK_INT(err, c->err);
	CHECK_STR(out, c->want);
	if (out && strlen(out) > DISC_CMDLINE_MAX)
		CHECK(0, "line of %zu bytes", strlen(out));
	free(out);
	if (check_failures != failed_before)
		fprintf(stderr, "  in case: %s\n", c->name);
}

static void run_long_case(const struct long_case *c)
{
	size_t len = c->fill_n + c->mid_len + c->tail_n;
	char *text = malloc(len + 1), *want = malloc(c->keep + 4), *out = NULL;
	int failed_before = check_failures;

	if (!text || !want)
		exit(2);
	memset(text, 'a', c->fill_n);
	memcpy(text + c->fill_n, c->mid, c->mid_len);
	memset(text + c->fill_n + c->mid_len, 'b', c->tail_n);
	memcpy(want, text, c->keep);
	strcpy(want + c->keep, c->cut ? "..." : "");

	CHECK_INT(disc_cmdline_parse(text, len, &out), 0);
	CHECK(out && !strcmp(out, want), "got %zu bytes ending \"%s\", want %zu ending \"%s\"",
	      out ? strlen(out) : 0, out && strlen(out) > 8 ? out + strlen(out) - 8 : "",
	      strlen(want), strlen(want) > 8 ? want + strlen(want) - 8 : want);
	CHECK(out && strlen(out) <= DISC_CMDLINE_MAX);
	if (check_failures != failed_before)
		fprintf(stderr, "  in case: %s\n", c->name);
	free(out);
	free(want);
	free(text);
}

/* Cut lines are made of whole arguments' text: the NULs and control bytes
 * before the cut are replaced as in a short one. */
static void test_long_with_arguments(void)
{
	size_t len = 3 * MAX;
	char *text = malloc(len), *out = NULL;

	if (!text)
		exit(2);
	for (size_t i = 0; i < len; i++)
		text[i] = i % 4 == 3 ? '\0' : i % 4 == 2 ? '\n' : 'x';
	CHECK_INT(disc_cmdline_parse(text, len, &out), 0);
	CHECK(out && strlen(out) == MAX);
	if (out && strlen(out) == MAX) {
		CHECK(!strncmp(out, "xx? xx? ", 8), "starts \"%.8s\"", out);
		CHECK_STR(out + MAX - 5, " x...");
		CHECK(!memchr(out, '\n', MAX));
	}
	free(out);
	free(text);
}

int main(void)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		run_case(&cases[i]);
	for (size_t i = 0; i < sizeof(long_cases) / sizeof(long_cases[0]); i++)
		run_long_case(&long_cases[i]);
	test_long_with_arguments();
	return check_report("test_proc_cmdline");
}
