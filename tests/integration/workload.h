/* What every integration workload shares: the little protocol with
 * smolder_harness.py, clocks, and the loops that burn CPU.
 *
 * The harness starts a workload with a pipe on stdin and stdout. The workload
 * prints one JSON line {"event":"ready",...} naming its pids, then waits for
 * a line on stdin (the harness sends it once the agent is sampling), works
 * for its fixed wall time, prints one JSON line {"event":"done",...} with
 * what it measured, and stays alive, idle, until stdin closes: the agent is
 * stopped while the workload is still there to be named. With stdin at EOF
 * (</dev/null, as bench/run.sh runs them) it starts at once and exits when
 * done.
 */
#ifndef SMOLDER_TEST_WORKLOAD_H
#define SMOLDER_TEST_WORKLOAD_H

#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

/* A function that must stay a frame of its own, under its own name. */
#if defined(__clang__)
#define NOINLINE __attribute__((noinline))
#else
#define NOINLINE __attribute__((noinline, noclone))
#endif

/* GCC 12 on x86-64 omits the frame pointer of a leaf function that needs no
 * stack frame, even with -fno-omit-frame-pointer; a frame-pointer unwinder
 * then skips that function's caller. Taking the frame's address forces the
 * usual push %rbp; mov %rsp,%rbp. Put it first in every leaf function a test
 * looks for. */
#define KEEP_FRAME() __asm__ volatile("" : : "r"(__builtin_frame_address(0)))

/* Inlined wherever it is called, whatever the optimisation level: never a
 * frame of its own. */
#define ALWAYS_INLINE static inline __attribute__((always_inline))

/* The arithmetic the hot functions burn CPU with: n rounds on x, inlined
 * into the named NOINLINE function that calls them, so that function stays
 * the leaf frame. A hot function reads its volatile sink, runs one of these
 * and stores the result with store_sink:
 *
 *	NOINLINE uint64_t churn_hot(uint64_t n)
 *	{
 *		KEEP_FRAME();
 *		return store_sink(&sink, lcg_rounds(sink | 1, n));
 *	}
 *
 * Hot functions of one program use different kinds, so that no compiler
 * pass can fold them into one symbol. */
ALWAYS_INLINE uint64_t lcg_rounds_k(uint64_t x, uint64_t n, uint64_t mul,
				    uint64_t add)
{
	for (uint64_t i = 0; i < n; i++)
		x = x * mul + add;
	return x;
}

ALWAYS_INLINE uint64_t lcg_rounds(uint64_t x, uint64_t n)
{
	return lcg_rounds_k(x, n, 6364136223846793005ULL, 1442695040888963407ULL);
}

ALWAYS_INLINE uint64_t xorshift_rounds(uint64_t x, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
	}
	return x;
}

ALWAYS_INLINE uint64_t mix_rounds(uint64_t x, uint64_t n)
{
	uint64_t y = 0x9E3779B97F4A7C15ULL;

	for (uint64_t i = 0; i < n; i++) {
		x = (x ^ (x >> 31)) * y;
		y += 0x632BE59BD9B4E019ULL;
	}
	return x;
}

ALWAYS_INLINE uint64_t store_sink(volatile uint64_t *sink, uint64_t x)
{
	*sink = x;
	return x;
}

static inline uint64_t clock_ns(clockid_t clk)
{
	struct timespec ts;

	if (clock_gettime(clk, &ts) != 0) {
		perror("clock_gettime");
		exit(2);
	}
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static inline uint64_t thread_cpu_ns(void)
{
	return clock_ns(CLOCK_THREAD_CPUTIME_ID);
}

static inline uint64_t process_cpu_ns(void)
{
	return clock_ns(CLOCK_PROCESS_CPUTIME_ID);
}

static inline uint64_t wall_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

/* Calls spin(n) until clock() (thread_cpu_ns, wall_ns...) has moved
 * budget_ns past its first reading, checking before every call; returns how
 * far it had moved at the last reading. Inlined, so the caller and spin are
 * the frames. */
ALWAYS_INLINE uint64_t spin_for(uint64_t (*clock)(void), uint64_t budget_ns,
				uint64_t (*spin)(uint64_t), uint64_t n)
{
	uint64_t start = clock(), used;

	while ((used = clock() - start) < budget_ns)
		spin(n);
	return used;
}

/* Reads stdin until a newline or EOF: the harness's "go", or its goodbye. */
static inline void wait_stdin_line(void)
{
	char c;

	while (read(STDIN_FILENO, &c, 1) == 1)
		if (c == '\n')
			return;
}

/* poll() of stdin without waiting: > 0 once a line (or EOF) is there, 0
 * while there is nothing, < 0 on an error. */
static inline int stdin_poll(void)
{
	struct pollfd p = { .fd = STDIN_FILENO, .events = POLLIN };

	return poll(&p, 1, 0);
}

static inline void wait_stdin_eof(void)
{
	char buf[64];

	while (read(STDIN_FILENO, buf, sizeof(buf)) > 0)
		;
}

/* xorshift64*: a small deterministic generator, seeded from the command line
 * or the clock, so that a failing run can be repeated. */
static inline uint64_t rng_next(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545F4914F6CDD1DULL;
}

static inline double rng_unit(uint64_t *s)
{
	return (double)(rng_next(s) >> 11) / (double)(1ULL << 53);
}

static inline uint64_t seed_from_args(int argc, char **argv, int idx)
{
	uint64_t seed;

	if (argc > idx)
		seed = strtoull(argv[idx], NULL, 0);
	else
		seed = clock_ns(CLOCK_REALTIME) ^ ((uint64_t)getpid() << 32);
	return seed ? seed : 1;
}

static inline double seconds_from_args(int argc, char **argv, int idx,
				       double dflt)
{
	return argc > idx ? atof(argv[idx]) : dflt;
}

#endif
