/* Shared by the fixtures of the symbolizer tests: functions that keep their
 * own body and symbol (no inlining, no clones such as foo.constprop.0), so
 * that a test can name them exactly. */
#ifndef SMOLDER_TEST_FIXTURE_H
#define SMOLDER_TEST_FIXTURE_H

#ifdef __clang__
#define FIXTURE_FN __attribute__((noinline, used))
#else
#define FIXTURE_FN __attribute__((noinline, noclone, used))
#endif

#endif
