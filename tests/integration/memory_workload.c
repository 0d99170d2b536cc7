/* Workload for test_memory.py: allocations of known count and bytes from
 * three functions, to compare a memory profile with; built twice, against
 * glibc's malloc (memory_workload) and against jemalloc
 * (memory_workload_jemalloc, -ljemalloc: its malloc, calloc, realloc and
 * free come before libc's).
 *
 *   memory_workload measure SECONDS HEAVY_SECONDS SAMPLE_BYTES [MIB_PER_S [SEED]]
 *   memory_workload bystand
 *
 * measure: after "go", for SECONDS of wall time, main calls in turn, always
 * the one furthest below its share of the bytes (SHARE_* below, in
 * percent), paced to MIB_PER_S MiB a second (default 64):
 *   grow_realloc   a buffer grown by realloc in GROW_STEPS steps from
 *                  realloc(NULL, 30..34 KiB) by 2..4 KiB a step, then freed
 *                  (a realloc counts as an allocation of the new size it
 *                  asks for, as Go and tcmalloc count one; realloc(NULL, n)
 *                  is glibc's malloc called inside realloc: one call);
 *   zeroed_calloc  calloc(n, 32) of 24..36 KiB, read, freed;
 *   leak_malloc    malloc of 8..12 KiB, written all over (so it is real
 *                  memory), chained to the previous one and never freed.
 * Each function's sizes stay within a factor of two (see test_memory.py
 * for why). Then, for HEAVY_SECONDS, calloc_hot: calloc(1, 16 MiB) and free
 * in a loop, glibc's mmap and trim thresholds raised first so that each
 * block comes back from the heap and calloc clears it with memset: nearly
 * all its CPU time inside calloc.
 *
 * The done line gives, per function, the calls, the bytes and the number of
 * samples a Poisson sampler of mean SAMPLE_BYTES is expected to draw
 * (sum of 1 - exp(-size / SAMPLE_BYTES)); the bytes leaked; the wall clock
 * (CLOCK_REALTIME) at the start and end of each phase; calloc_hot's calls
 * and thread CPU time. The program then idles until stdin closes, its leak
 * still held.
 *
 * bystand: prints its ready line at once, then mallocs and frees a few
 * bytes every millisecond until stdin closes (a line or EOF); prints its
 * done line with the calls made and exits. A process that is not a target,
 * or one that takes a target's pid once the target has gone.
 *
 * Protocol with the harness (measure): see workload.h.
 */
#include <inttypes.h>
#include <malloc.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "workload.h"

#define KIB 1024ULL
#define MIB (1024ULL * 1024ULL)
#define GROW_STEPS 6
#define SHARE_GROW 50
#define SHARE_CALLOC 30
#define SHARE_LEAK 20
#define HOT_BYTES (16 * MIB)

enum { F_GROW, F_CALLOC, F_LEAK, F_COUNT };

static const char *const fn_names[F_COUNT] = { "grow_realloc", "zeroed_calloc", "leak_malloc" };
static const unsigned fn_shares[F_COUNT] = { SHARE_GROW, SHARE_CALLOC, SHARE_LEAK };

struct fn_books {
	uint64_t calls, bytes;
	double expected_samples;
};

static struct fn_books books[F_COUNT];
static double sample_bytes;
static uint64_t rng;
/* The leaked blocks, each holding the previous one's address: reachable,
 * so no compiler may drop them, and never freed. */
static void *volatile leak_head;
volatile uint64_t sink;

static void die(const char *what)
{
	fprintf(stderr, "memory_workload: %s failed\n", what);
	exit(2);
}

static uint64_t uniform(uint64_t lo, uint64_t hi)
{
	return lo + rng_next(&rng) % (hi - lo + 1);
}

static void count(int fn, uint64_t size)
{
	books[fn].calls++;
	books[fn].bytes += size;
	books[fn].expected_samples += 1.0 - exp(-(double)size / sample_bytes);
}

NOINLINE void grow_realloc(void)
{
	uint64_t size = uniform(30 * KIB, 34 * KIB);
	unsigned char *p = NULL;

	for (int i = 0; i < GROW_STEPS; i++) {
		unsigned char *q = realloc(p, size);

		if (!q)
			die("realloc");
		p = q;
		count(F_GROW, size);
		p[size - 1] = (unsigned char)i;
		size += uniform(2 * KIB, 4 * KIB);
	}
	sink += p[0];
	free(p);
}

NOINLINE void zeroed_calloc(void)
{
	uint64_t n = uniform(24 * KIB / 32, 36 * KIB / 32);
	volatile unsigned char *p = calloc(n, 32);

	if (!p)
		die("calloc");
	count(F_CALLOC, n * 32);
	sink += p[n * 32 - 1] + p[0];
	free((void *)p);
}

NOINLINE void leak_malloc(void)
{
	uint64_t size = uniform(8 * KIB, 12 * KIB);
	void **p = malloc(size);

	if (!p)
		die("malloc");
	count(F_LEAK, size);
	memset(p, 0xa5, size);
	p[0] = leak_head;
	leak_head = p;
}

/* Large blocks cleared by calloc itself: glibc keeps them on its heap
 * (thresholds raised) and memsets the reused memory on every call. */
NOINLINE uint64_t calloc_hot(uint64_t end_ns)
{
	uint64_t calls = 0;

	mallopt(M_MMAP_THRESHOLD, 32 * MIB);
	mallopt(M_TRIM_THRESHOLD, 512 * MIB);
	while (wall_ns() < end_ns) {
		volatile unsigned char *p = calloc(1, HOT_BYTES);

		if (!p)
			die("calloc");
		sink += p[uniform(0, HOT_BYTES - 1)];
		free((void *)p);
		calls++;
	}
	return calls;
}

static uint64_t real_ns(void)
{
	return clock_ns(CLOCK_REALTIME);
}

/* The function furthest below its share of the bytes so far. */
static int next_fn(void)
{
	uint64_t total = 0;
	int best = 0;
	double best_deficit = -1e300;

	for (int f = 0; f < F_COUNT; f++)
		total += books[f].bytes;
	for (int f = 0; f < F_COUNT; f++) {
		double deficit = (double)fn_shares[f] * (double)total / 100.0 - (double)books[f].bytes;

		if (deficit > best_deficit) {
			best_deficit = deficit;
			best = f;
		}
	}
	return best;
}

static int measure(int argc, char **argv)
{
	if (argc < 5) {
		fprintf(stderr, "usage: %s measure SECONDS HEAVY_SECONDS SAMPLE_BYTES "
				"[MIB_PER_S [SEED]]\n", argv[0]);
		return 2;
	}
	double seconds = atof(argv[2]), heavy_seconds = atof(argv[3]);
	double rate = (argc > 5 ? atof(argv[5]) : 64.0) * (double)MIB;
	uint64_t seed = seed_from_args(argc, argv, 6);

	sample_bytes = atof(argv[4]);
	rng = seed;
	if (seconds <= 0 || heavy_seconds < 0 || sample_bytes < 1 || rate <= 0) {
		fprintf(stderr, "memory_workload: bad arguments\n");
		return 2;
	}
	printf("{\"event\":\"ready\",\"pids\":[%d],\"seed\":%" PRIu64 "}\n", (int)getpid(), seed);
	fflush(stdout);
	wait_stdin_line();

	uint64_t start_real = real_ns(), start = wall_ns(), cpu0 = thread_cpu_ns();
	uint64_t end = start + (uint64_t)(seconds * 1e9), now, bytes = 0;

	while ((now = wall_ns()) < end) {
		/* Ahead of the pace: sleep a millisecond. */
		if ((double)bytes > rate * (double)(now - start) / 1e9) {
			struct timespec ms = { 0, 1000000 };

			nanosleep(&ms, NULL);
			continue;
		}
		uint64_t before = books[0].bytes + books[1].bytes + books[2].bytes;

		switch (next_fn()) {
		case F_GROW:
			grow_realloc();
			break;
		case F_CALLOC:
			zeroed_calloc();
			break;
		default:
			leak_malloc();
			break;
		}
		bytes += books[0].bytes + books[1].bytes + books[2].bytes - before;
	}
	uint64_t mix_end_real = real_ns(), mix_cpu = thread_cpu_ns() - cpu0;

	uint64_t hot_cpu0 = thread_cpu_ns();
	uint64_t hot_calls = calloc_hot(wall_ns() + (uint64_t)(heavy_seconds * 1e9));
	uint64_t hot_cpu = thread_cpu_ns() - hot_cpu0, end_real = real_ns();

	printf("{\"event\":\"done\",\"pid\":%d,\"sample_bytes\":%.0f,\"functions\":{", (int)getpid(),
	       sample_bytes);
	for (int f = 0; f < F_COUNT; f++)
		printf("%s\"%s\":{\"calls\":%" PRIu64 ",\"bytes\":%" PRIu64
		       ",\"expected_samples\":%.1f}", f ? "," : "", fn_names[f], books[f].calls,
		       books[f].bytes, books[f].expected_samples);
	printf("},\"leaked_bytes\":%" PRIu64 ",\"leaked_calls\":%" PRIu64 ",\"start_real_ns\":%"
	       PRIu64 ",\"mix_end_real_ns\":%" PRIu64 ",\"end_real_ns\":%" PRIu64
	       ",\"mix_cpu_ns\":%" PRIu64 ",\"calloc_hot\":{\"calls\":%" PRIu64 ",\"bytes\":%"
	       PRIu64 ",\"cpu_ns\":%" PRIu64 "}}\n",
	       books[F_LEAK].bytes, books[F_LEAK].calls, start_real, mix_end_real, end_real,
	       mix_cpu, hot_calls, (uint64_t)(hot_calls * HOT_BYTES), hot_cpu);
	fflush(stdout);
	wait_stdin_eof();
	return 0;
}

static int bystand(void)
{
	uint64_t calls = 0;

	rng = 1;
	printf("{\"event\":\"ready\",\"pids\":[%d]}\n", (int)getpid());
	fflush(stdout);
	while (stdin_poll() == 0) {
		volatile unsigned char *p = malloc(uniform(16, 256));
		struct timespec ms = { 0, 1000000 };

		if (!p)
			die("malloc");
		p[0] = 1;
		sink += p[0];
		free((void *)p);
		calls++;
		nanosleep(&ms, NULL);
	}
	printf("{\"event\":\"done\",\"pid\":%d,\"calls\":%" PRIu64 "}\n", (int)getpid(), calls);
	return fflush(stdout) == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "measure") == 0)
		return measure(argc, argv);
	if (argc == 2 && strcmp(argv[1], "bystand") == 0)
		return bystand();
	fprintf(stderr, "usage: %s measure SECONDS HEAVY_SECONDS SAMPLE_BYTES [MIB_PER_S [SEED]]\n"
			"       %s bystand\n", argv[0], argv[0]);
	return 2;
}
