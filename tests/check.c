/* The unit tests' assertions (see check.h). */
#include "check.h"

#include <stdarg.h>
#include <stdio.h>

int check_failures;

void check_fail(const char *file, int line, const char *cond, const char *fmt, ...)
{
	va_list ap;

	check_failures++;
	fprintf(stderr, "%s:%d: CHECK(%s) failed", file, line, cond);
	if (strcmp(fmt, ": ")) {
		va_start(ap, fmt);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
	}
	fputc('\n', stderr);
}

int check_report(const char *name)
{
	if (check_failures) {
		fprintf(stderr, "%s: %d check(s) failed\n", name, check_failures);
		return 1;
	}
	printf("%s: all checks passed\n", name);
	return 0;
}
