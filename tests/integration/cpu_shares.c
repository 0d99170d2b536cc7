/* Workload for test_cpu_shares.py: known CPU shares to compare a profile with.
 *
 *   cpu_shares [SECONDS [SEED]]
 *
 * Three hot functions get CPU shares drawn at random from SEED (default: the
 * clock; printed on the ready line); hot_gamma's share is itself split at
 * random between two callers, via_left and via_right. Work is interleaved in
 * rounds of 10..30 ms of CPU time, each cut in slices by the shares and run
 * in a random order, for SECONDS of wall time. Every call is timed with the thread's own CPU clock (less
 * what reading that clock costs), and the done line reports what each
 * function really got: that, not the drawn target, is what the profile must
 * agree with. Protocol with the harness: see workload.h.
 */
#include <stdint.h>
#include <stdio.h>

#include "workload.h"

#define ROUND_NS 20000000ULL /* 20 ms of CPU time a round, on average */
#define CALL_NS 50000ULL     /* aim for calls of about 50 us */

enum slot { SLOT_ALPHA, SLOT_BETA, SLOT_LEFT, SLOT_RIGHT, SLOT_COUNT };

static const char *const slot_names[SLOT_COUNT] = {
	"hot_alpha", "hot_beta", "via_left", "via_right",
};

volatile uint64_t sink;

/* The hot functions differ in their bodies so that no compiler pass can fold
 * them into one symbol. */
NOINLINE uint64_t hot_alpha(uint64_t n)
{
	KEEP_FRAME();
	return store_sink(&sink, lcg_rounds(sink | 1, n));
}

NOINLINE uint64_t hot_beta(uint64_t n)
{
	KEEP_FRAME();
	return store_sink(&sink, xorshift_rounds(sink | 2, n));
}

NOINLINE uint64_t hot_gamma(uint64_t n)
{
	KEEP_FRAME();
	return store_sink(&sink, mix_rounds(sink | 4, n));
}

/* Two different callers of hot_gamma; the extra statement after the call
 * keeps it a real call even where sibling calls are optimised. */
NOINLINE uint64_t via_left(uint64_t n)
{
	uint64_t r = hot_gamma(n);

	sink += 1;
	return r;
}

NOINLINE uint64_t via_right(uint64_t n)
{
	uint64_t r = hot_gamma(n);

	sink += 2;
	return r;
}

static uint64_t iters_per_call[SLOT_COUNT];
static uint64_t calls[SLOT_COUNT];
/* What reading the clock twice costs with nothing in between: taken off
 * every timed call, as the profile puts those instants in clock_gettime. */
static uint64_t bracket_ns;

static uint64_t call_slot(enum slot s, uint64_t n)
{
	switch (s) {
	case SLOT_ALPHA:
		return hot_alpha(n);
	case SLOT_BETA:
		return hot_beta(n);
	case SLOT_LEFT:
		return via_left(n);
	case SLOT_RIGHT:
		return via_right(n);
	default:
		return 0;
	}
}

/* This thread's CPU time around one call of slot s. */
ALWAYS_INLINE uint64_t timed_call(enum slot s, uint64_t n)
{
	uint64_t t0 = thread_cpu_ns();

	call_slot(s, n);
	return thread_cpu_ns() - t0;
}

/* Sizes each slot's calls to about CALL_NS, so the clock is read often enough
 * to cut slices finely but costs little next to the work. */
static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void calibrate(void)
{
	static uint64_t empty[1001];

	for (size_t i = 0; i < sizeof(empty) / sizeof(empty[0]); i++) {
		uint64_t t0 = thread_cpu_ns();

		empty[i] = thread_cpu_ns() - t0;
	}
	qsort(empty, sizeof(empty) / sizeof(empty[0]), sizeof(empty[0]), cmp_u64);
	bracket_ns = empty[sizeof(empty) / sizeof(empty[0]) / 2];

	for (int s = 0; s < SLOT_COUNT; s++) {
		uint64_t n = 1000, t;

		for (;;) {
			t = timed_call((enum slot)s, n);
			if (t >= 2000000 || n >= (1ULL << 40))
				break;
			n *= 4;
		}
		iters_per_call[s] = n * CALL_NS / (t ? t : 1);
		if (iters_per_call[s] == 0)
			iters_per_call[s] = 1;
	}
}

/* Runs slot s for target_ns of this thread's CPU time and returns the CPU
 * time measured around its calls. */
NOINLINE static uint64_t run_slice(enum slot s, uint64_t target_ns)
{
	uint64_t spent = 0;

	while (spent < target_ns) {
		uint64_t d = timed_call(s, iters_per_call[s]);

		spent += d > bracket_ns ? d - bracket_ns : 0;
		calls[s]++;
	}
	return spent;
}

int main(int argc, char **argv)
{
	double seconds = seconds_from_args(argc, argv, 1, 20.0);
	uint64_t seed = seed_from_args(argc, argv, 2), rng = seed;
	double w[3], wsum = 0, left_frac, target[SLOT_COUNT];
	uint64_t measured[SLOT_COUNT] = { 0 }, rounds = 0;

	/* Shares: 12%, 30% and 58%, each moved by up to 3 points, dealt to
	 * alpha, beta and gamma in a random order; gamma's part is split
	 * between its callers in [0.2, 0.8). The shares stay at least 12 points
	 * apart, so a profile that mixed two functions up could not pass. */
	static const double base[3] = { 0.12, 0.30, 0.58 };
	int order[3] = { 0, 1, 2 };

	for (int i = 2; i > 0; i--) {
		int j = (int)(rng_next(&rng) % (uint64_t)(i + 1)), t = order[i];

		order[i] = order[j];
		order[j] = t;
	}
	for (int i = 0; i < 3; i++) {
		w[i] = base[order[i]] + 0.06 * (rng_unit(&rng) - 0.5);
		wsum += w[i];
	}
	left_frac = 0.2 + 0.6 * rng_unit(&rng);
	target[SLOT_ALPHA] = w[0] / wsum;
	target[SLOT_BETA] = w[1] / wsum;
	target[SLOT_LEFT] = w[2] / wsum * left_frac;
	target[SLOT_RIGHT] = w[2] / wsum * (1.0 - left_frac);

	calibrate(); /* before "ready": the profile must see only measured work */
	printf("{\"event\":\"ready\",\"pids\":[%d],\"seed\":%llu,"
	       "\"target_share\":{\"hot_alpha\":%.4f,\"hot_beta\":%.4f,"
	       "\"via_left\":%.4f,\"via_right\":%.4f}}\n",
	       (int)getpid(), (unsigned long long)seed, target[SLOT_ALPHA],
	       target[SLOT_BETA], target[SLOT_LEFT], target[SLOT_RIGHT]);
	fflush(stdout);
	fprintf(stderr, "cpu_shares: seed %llu, %.1f s\n",
		(unsigned long long)seed, seconds);

	wait_stdin_line();

	uint64_t cpu0 = process_cpu_ns();
	uint64_t end = wall_ns() + (uint64_t)(seconds * 1e9);

	/* Rounds of 10..30 ms with the slots in a random order: a fixed
	 * pattern could beat in time with the sampling period. */
	while (wall_ns() < end) {
		int order_s[SLOT_COUNT] = { 0, 1, 2, 3 };
		double round_ns = ROUND_NS * (0.5 + rng_unit(&rng));

		for (int i = SLOT_COUNT - 1; i > 0; i--) {
			int j = (int)(rng_next(&rng) % (uint64_t)(i + 1)), t = order_s[i];

			order_s[i] = order_s[j];
			order_s[j] = t;
		}
		for (int i = 0; i < SLOT_COUNT; i++) {
			enum slot s = (enum slot)order_s[i];

			measured[s] += run_slice(s, (uint64_t)(target[s] * round_ns));
		}
		rounds++;
	}
	uint64_t cpu = process_cpu_ns() - cpu0;

	printf("{\"event\":\"done\",\"pid\":%d,\"seed\":%llu,\"rounds\":%llu,"
	       "\"process_cpu_ns\":%llu,\"clock_bracket_ns\":%llu,\"measured_ns\":{",
	       (int)getpid(), (unsigned long long)seed,
	       (unsigned long long)rounds, (unsigned long long)cpu,
	       (unsigned long long)bracket_ns);
	for (int s = 0; s < SLOT_COUNT; s++)
		printf("%s\"%s\":%llu", s ? "," : "", slot_names[s],
		       (unsigned long long)measured[s]);
	printf("},\"calls\":{");
	for (int s = 0; s < SLOT_COUNT; s++)
		printf("%s\"%s\":%llu", s ? "," : "", slot_names[s],
		       (unsigned long long)calls[s]);
	printf("}}\n");
	fflush(stdout);

	wait_stdin_eof();
	return 0;
}
