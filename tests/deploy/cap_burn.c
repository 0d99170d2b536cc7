/* test_capabilities' workload: burns CPU in cap_burn_hot() for argv[1]
 * seconds (default 10), so the agent under its reduced capability set has a
 * process of another user, whose executable it may not read without
 * CAP_DAC_READ_SEARCH, to sample and name; and in the kernel, reading
 * /dev/zero, so its stacks have kernel frames to name (CAP_SYSLOG). */
#include <fcntl.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

__attribute__((noinline)) static unsigned long cap_burn_hot(unsigned long x)
{
	for (int i = 0; i < 1000000; i++)
		x = x * 6364136223846793005UL + 1442695040888963407UL;
	return x;
}

int main(int argc, char **argv)
{
	double seconds = argc > 1 ? atof(argv[1]) : 10.0;
	double end = now() + seconds;
	volatile unsigned long sink = 1;
	static char buf[1 << 18];
	int zero = open("/dev/zero", O_RDONLY);

	while (now() < end) {
		sink = cap_burn_hot(sink);
		for (int i = 0; zero >= 0 && i < 64; i++)
			if (read(zero, buf, sizeof(buf)) < 0)
				return 1;
	}
	return (int)(sink & 0);
}
