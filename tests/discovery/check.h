/* tests/discovery: the few assertions the unit tests share.
 *
 * A failed check reports where and what, and the test carries on so that
 * one run shows every failure; main returns check_failures() != 0.
 */
#ifndef SMOLDER_TEST_CHECK_H
#define SMOLDER_TEST_CHECK_H

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static int check_failed;

#define CHECK(cond)                                                              \
	do {                                                                     \
		if (!(cond)) {                                                   \
			fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__,     \
				__LINE__, #cond);                                \
			check_failed++;                                          \
		}                                                                \
	} while (0)

#define CHECK_INT(got, want)                                                     \
	do {                                                                     \
		long long g_ = (long long)(got), w_ = (long long)(want);         \
		if (g_ != w_) {                                                  \
			fprintf(stderr, "%s:%d: %s is %lld, want %lld\n", __FILE__, \
				__LINE__, #got, g_, w_);                         \
			check_failed++;                                          \
		}                                                                \
	} while (0)

#define CHECK_U64(got, want)                                                     \
	do {                                                                     \
		uint64_t g_ = (got), w_ = (want);                                \
		if (g_ != w_) {                                                  \
			fprintf(stderr, "%s:%d: %s is 0x%" PRIx64 ", want 0x%" PRIx64 "\n", \
				__FILE__, __LINE__, #got, g_, w_);               \
			check_failed++;                                          \
		}                                                                \
	} while (0)

/* Either may be NULL: NULL equals only NULL. */
#define CHECK_STR(got, want)                                                     \
	do {                                                                     \
		const char *g_ = (got), *w_ = (want);                            \
		if ((g_ == NULL) != (w_ == NULL) || (g_ && strcmp(g_, w_))) {    \
			fprintf(stderr, "%s:%d: %s is \"%s\", want \"%s\"\n",      \
				__FILE__, __LINE__, #got, g_ ? g_ : "(null)",    \
				w_ ? w_ : "(null)");                             \
			check_failed++;                                          \
		}                                                                \
	} while (0)

static inline int check_failures(void)
{
	if (check_failed)
		fprintf(stderr, "%d check(s) failed\n", check_failed);
	return check_failed != 0;
}

#endif
