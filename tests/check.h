/* check: the assertions of the unit tests. A failed check prints where, the
 * condition and the message (optional, printf-style), and the test goes on,
 * so that one run shows every failure; main returns check_report(name).
 *
 *   CHECK(n > 0);
 *   CHECK(err == 0, "parse '%s': err %d", text, err);
 *   CHECK_INT(got, want);  CHECK_U64(got, want);  CHECK_STR(got, want);
 *
 * The counter and the functions are in check.c, linked into every test, so
 * that a helper library (tests/symbolizer's) counts into the same total. */
#ifndef SMOLDER_TESTS_CHECK_H
#define SMOLDER_TESTS_CHECK_H

#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

/* The failed checks so far; a test may read it (or count a failure of its
 * own with check_failures++). */
extern int check_failures;

/* The message is pasted after ": " (an empty format string would be warned
 * about), so it must be a string literal. */
#define CHECK(cond, ...)                                                        \
	do {                                                                    \
		if (!(cond))                                                    \
			check_fail(__FILE__, __LINE__, #cond, ": " __VA_ARGS__); \
	} while (0)

/* These print the condition as "got == want", and both values. */
#define CHECK_INT(got, want)                                                    \
	do {                                                                    \
		long long g_ = (long long)(got), w_ = (long long)(want);        \
		if (g_ != w_)                                                   \
			check_fail(__FILE__, __LINE__, #got " == " #want,       \
				   ": %s is %lld, want %lld", #got, g_, w_);    \
	} while (0)

#define CHECK_U64(got, want)                                                    \
	do {                                                                    \
		uint64_t g_ = (got), w_ = (want);                               \
		if (g_ != w_)                                                   \
			check_fail(__FILE__, __LINE__, #got " == " #want,       \
				   ": %s is 0x%" PRIx64 ", want 0x%" PRIx64,    \
				   #got, g_, w_);                               \
	} while (0)

/* Either may be NULL: NULL equals only NULL. */
#define CHECK_STR(got, want)                                                    \
	do {                                                                    \
		const char *g_ = (got), *w_ = (want);                           \
		if ((g_ == NULL) != (w_ == NULL) || (g_ && strcmp(g_, w_)))     \
			check_fail(__FILE__, __LINE__, #got " == " #want,       \
				   ": %s is \"%s\", want \"%s\"", #got,          \
				   g_ ? g_ : "(null)", w_ ? w_ : "(null)");     \
	} while (0)

/* Prints "file:line: CHECK(cond) failed" and the message fmt (": " and the
 * caller's, or just ": "), and counts the failure. */
__attribute__((format(printf, 4, 5)))
void check_fail(const char *file, int line, const char *cond, const char *fmt, ...);

/* Prints the verdict of the test named name; the exit status for main. */
int check_report(const char *name);

#endif
