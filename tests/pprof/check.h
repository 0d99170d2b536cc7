/* check: the assertion of the pprof unit tests. A failed check says where and
 * what, and the test goes on, so that one run shows every failure; main
 * turns the count into the exit status. */
#ifndef SMOLDER_TESTS_PPROF_CHECK_H
#define SMOLDER_TESTS_PPROF_CHECK_H

#include <stdio.h>

static int failures;

#define CHECK(cond, ...)                                                \
	do {                                                            \
		if (!(cond)) {                                          \
			fprintf(stderr, "%s:%d: ", __FILE__, __LINE__); \
			fprintf(stderr, __VA_ARGS__);                   \
			fputc('\n', stderr);                            \
			failures++;                                     \
		}                                                       \
	} while (0)

/* The exit status of a test named name. */
static inline int check_report(const char *name)
{
	if (failures) {
		fprintf(stderr, "%s: %d check(s) failed\n", name, failures);
		return 1;
	}
	printf("%s: ok\n", name);
	return 0;
}

#endif
