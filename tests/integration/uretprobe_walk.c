/* Workload for test_uretprobe_walk.py: a hot loop inside a function a
 * uretprobe is pending on.
 *
 *   smolder_it_uretprobe [SECONDS]
 *
 * main calls outer() over and over, and outer() calls inner(), which burns
 * the CPU: nearly every sample is in inner under outer under main. The test
 * puts a uretprobe on outer (bpftrace, this pid only). While outer runs,
 * the return address on the stack is then the uprobes trampoline's, and
 * only the return instance the kernel keeps says it returns to main.
 *
 * Until the harness's "go", outer is entered every 5 ms with no work to do,
 * so that the test sees the probe hit (the [uprobes] vma appears in
 * /proc/PID/maps at the first hit) before the agent samples; after it,
 * each call of outer burns about 20 ms, for SECONDS of wall time (about
 * 50 returns a second: a return instance is pending, and hijacks outer's
 * return address, all but the microseconds of each return).
 *
 * Protocol with the harness: see workload.h. The done line gives the
 * calls of outer.
 */
#include <stdint.h>
#include <stdio.h>

#include "workload.h"

#define OUTER_NS 20000000ULL /* the CPU time of one call of outer, about */

volatile uint64_t sink;

NOINLINE uint64_t inner(uint64_t n)
{
	KEEP_FRAME();
	return store_sink(&sink, lcg_rounds(sink | 1, n));
}

/* calls rounds of inner, n iterations each; the statement after the loop
 * keeps the last call a real call. */
NOINLINE uint64_t outer(uint64_t rounds, uint64_t n)
{
	uint64_t r = 0;

	for (uint64_t i = 0; i < rounds; i++)
		r += inner(n);
	sink += r;
	return r;
}

int main(int argc, char **argv)
{
	double seconds = seconds_from_args(argc, argv, 1, 8.0);
	uint64_t n = 100000, t, calls = 0, rounds;

	/* inner(n) sized to about 1 ms, outer to OUTER_NS. */
	for (;;) {
		uint64_t t0 = thread_cpu_ns();

		inner(n);
		t = thread_cpu_ns() - t0;
		if (t >= 1000000 || n >= (1ULL << 40))
			break;
		n *= 2;
	}
	rounds = OUTER_NS / (t ? t : 1);
	if (rounds == 0)
		rounds = 1;

	printf("{\"event\":\"ready\",\"pids\":[%d]}\n", (int)getpid());
	fflush(stdout);
	/* The test attaches its uretprobe now and waits for a hit. */
	while (stdin_poll() == 0) {
		outer(0, 0);
		usleep(5000);
	}
	wait_stdin_line();

	uint64_t cpu0 = process_cpu_ns();
	uint64_t end = wall_ns() + (uint64_t)(seconds * 1e9);

	while (wall_ns() < end) {
		outer(rounds, n);
		calls++;
	}
	printf("{\"event\":\"done\",\"pid\":%d,\"outer_calls\":%llu,\"process_cpu_ns\":%llu}\n",
	       (int)getpid(), (unsigned long long)calls,
	       (unsigned long long)(process_cpu_ns() - cpu0));
	fflush(stdout);
	wait_stdin_eof();
	return 0;
}
