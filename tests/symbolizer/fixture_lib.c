/* Fixture for the symbolizer tests: a shared library (also stripped) that
 * the test dlopens into itself, so its frames are named through the test's
 * own /proc/self/maps. Its static function is reached through a getter. */
#include "fixture.h"

volatile int fixture_lib_sink;

FIXTURE_FN int fixture_lib_alpha(int x)
{
	fixture_lib_sink += x * 17;
	return fixture_lib_sink;
}

FIXTURE_FN int fixture_lib_beta(int x)
{
	fixture_lib_sink ^= x + 3;
	return fixture_lib_sink * 2;
}

static FIXTURE_FN int fixture_lib_local(int x)
{
	fixture_lib_sink -= x;
	return fixture_lib_sink + 5;
}

void *fixture_lib_local_addr(void)
{
	return (void *)fixture_lib_local;
}
