/* Two files from one source, HOT naming the hot function differently in
 * each, and linked with the same --build-id=0x...: same build-id note,
 * same layout, other bytes (their names). See test_forged_build_id.c. */
#include "fixture.h"

#ifndef HOT
#error "build with -DHOT=NAME"
#endif

FIXTURE_FN int HOT(int n)
{
	volatile int acc = 0;

	for (int i = 0; i < n; i++)
		acc += i * 3;
	return acc;
}

int main(int argc, char **argv)
{
	(void)argv;
	return HOT(argc) & 1;
}
