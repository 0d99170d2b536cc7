/* A malloc-heavy program of known rate (issue 17): each thread keeps a
 * small live set of blocks and, as fast as it can, replaces one of them at
 * random: free and malloc of a random size (16 to 4096 bytes) 8 times in
 * 10, free and calloc once in 10, realloc to a random size once in 10. Used
 * by bench/memory.sh to measure what the uprobes of memory profiles (and
 * their peers, bpftrace's and perf's uprobes) cost a program that does
 * little but call its allocator. Built with -fno-builtin, so that every
 * call is a call into libc (the compiler may otherwise pair or drop them).
 *
 *   malloc_bench [-t SECONDS] [-T THREADS] [-l LIVE] [-j] [-w]
 *
 *   -t SECONDS   how long (default 5; fractions allowed)
 *   -T THREADS   threads, each with its own live set (default 1; also
 *                --threads N)
 *   -l LIVE      blocks each thread keeps (default 64)
 *   -j           one JSON line instead of text
 *   -w           wait for SIGUSR1 before starting (stdout says "ready" with
 *                the pid first): the one measuring can attach its probes
 *                to this process, and then let it run
 *
 * Prints the allocations a second (malloc, calloc and realloc calls, all
 * threads together; with -j also how many of each), the allocator calls a
 * second (those and the frees: the probe hits of a profiler with a probe
 * on each entry), the
 * nanoseconds a thread takes per allocation (one replacement: a free and
 * an allocation, or one realloc), the allocations of each whole second
 * (those of the last, partial one left out: a profiler that takes its
 * probes off and puts them back shows as a rate that changes; with the
 * time of the start, start_unix, to line them up with its log), and the
 * process's user and system CPU time (a uprobe's trap is system time).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define MAX_THREADS 64
#define MAX_SECONDS 3600
#define CLOCK_EVERY 256 /* allocations between two reads of the clock */

struct worker {
	pthread_t thread;
	unsigned index;
	uint64_t allocs, frees;
	uint64_t callocs, reallocs; /* of allocs; the rest are mallocs */
	uint64_t per_s[MAX_SECONDS]; /* allocations in each whole second */
};

static double seconds = 5;
static unsigned live = 64;
static uint64_t start_ns, deadline_ns;
static double start_unix; /* CLOCK_REALTIME at the start, to line up with logs */

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void die(const char *what)
{
	fprintf(stderr, "malloc_bench: %s: %s\n", what, strerror(errno));
	exit(2);
}

static inline uint64_t xorshift(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

/* One replacement in the live set: the whole of what is measured. Its own
 * frame, so that a profile of this program names it. */
static __attribute__((noinline)) void replace_one(void **slots, uint64_t r, struct worker *w)
{
	void **slot = &slots[r % live];
	size_t size = 16 + (size_t)((r >> 32) % 4081);
	unsigned kind = (unsigned)((r >> 16) % 10);
	void *p;

	if (kind == 1) {
		/* realloc: grows or shrinks the block, or is a malloc when
		 * the slot is empty */
		p = realloc(*slot, size);
		w->reallocs++;
	} else {
		if (*slot) {
			free(*slot);
			w->frees++;
		}
		if (kind == 0) {
			p = calloc(1 + size / 256, 16);
			w->callocs++;
		} else {
			p = malloc(size);
		}
	}
	if (!p)
		die("allocation");
	((volatile char *)p)[0] = 1;
	*slot = p;
	w->allocs++;
}

static void *worker_run(void *arg)
{
	struct worker *w = arg;
	uint64_t seed = 0x9e3779b97f4a7c15ULL * (w->index + 1), n = 0, counted = 0, now;
	void **slots = calloc(live, sizeof(*slots));

	if (!slots)
		die("calloc");
	for (;;) {
		replace_one(slots, xorshift(&seed), w);
		if (++n % CLOCK_EVERY)
			continue;
		now = now_ns();
		if (now >= deadline_ns)
			break;
		/* the allocations since the last read go to the second of
		 * this one (off by at most CLOCK_EVERY) */
		uint64_t s = (now - start_ns) / 1000000000ULL;

		if (s < MAX_SECONDS)
			w->per_s[s] += n - counted;
		counted = n;
	}
	for (unsigned i = 0; i < live; i++) {
		if (slots[i]) {
			free(slots[i]);
			w->frees++;
		}
	}
	free(slots);
	return NULL;
}

static void usage(void)
{
	fprintf(stderr, "usage: malloc_bench [-t SECONDS] [-T|--threads THREADS] [-l LIVE] [-j] [-w]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "threads", required_argument, NULL, 'T' },
		{ "seconds", required_argument, NULL, 't' },
		{ 0, 0, 0, 0 },
	};
	unsigned threads = 1;
	int json = 0, wait_go = 0, opt;
	struct worker *w;
	struct rusage ru;
	uint64_t allocs = 0, frees = 0, callocs = 0, reallocs = 0, end_ns;
	double wall, user, sys;
	char *end;
	sigset_t set;

	while ((opt = getopt_long(argc, argv, "t:T:l:jw", longopts, NULL)) != -1) {
		switch (opt) {
		case 't':
			seconds = strtod(optarg, &end);
			if (*end || !(seconds > 0) || seconds > MAX_SECONDS)
				usage();
			break;
		case 'T':
			threads = (unsigned)strtoul(optarg, &end, 10);
			if (*end || threads < 1 || threads > MAX_THREADS)
				usage();
			break;
		case 'l':
			live = (unsigned)strtoul(optarg, &end, 10);
			if (*end || live < 1)
				usage();
			break;
		case 'j':
			json = 1;
			break;
		case 'w':
			wait_go = 1;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	if (!(w = calloc(threads, sizeof(*w))))
		die("calloc");

	if (wait_go) {
		sigemptyset(&set);
		sigaddset(&set, SIGUSR1);
		if (sigprocmask(SIG_BLOCK, &set, NULL) != 0)
			die("sigprocmask");
		printf("ready %d\n", (int)getpid());
		fflush(stdout);
		if (sigwaitinfo(&set, NULL) < 0)
			die("sigwaitinfo");
	}

	{
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		start_unix = (double)ts.tv_sec + ts.tv_nsec / 1e9;
	}
	start_ns = now_ns();
	deadline_ns = start_ns + (uint64_t)(seconds * 1e9);
	for (unsigned i = 0; i < threads; i++) {
		w[i].index = i;
		if (i && pthread_create(&w[i].thread, NULL, worker_run, &w[i]) != 0) {
			errno = EAGAIN;
			die("pthread_create");
		}
	}
	worker_run(&w[0]);
	for (unsigned i = 1; i < threads; i++)
		pthread_join(w[i].thread, NULL);
	end_ns = now_ns();
	getrusage(RUSAGE_SELF, &ru);

	wall = (double)(end_ns - start_ns) / 1e9;
	user = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6;
	sys = ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
	for (unsigned i = 0; i < threads; i++) {
		allocs += w[i].allocs;
		frees += w[i].frees;
		callocs += w[i].callocs;
		reallocs += w[i].reallocs;
	}
	if (json) {
		printf("{\"threads\":%u,\"live\":%u,\"seconds\":%.3f,\"allocs\":%llu,\"frees\":%llu,"
		       "\"mallocs\":%llu,\"callocs\":%llu,\"reallocs\":%llu,"
		       "\"allocs_per_s\":%.0f,\"calls_per_s\":%.0f,\"ns_per_alloc\":%.1f,"
		       "\"user_s\":%.3f,\"sys_s\":%.3f,\"start_unix\":%.3f,\"per_s\":[",
		       threads, live, wall, (unsigned long long)allocs, (unsigned long long)frees,
		       (unsigned long long)(allocs - callocs - reallocs), (unsigned long long)callocs,
		       (unsigned long long)reallocs, allocs / wall, (allocs + frees) / wall,
		       wall * 1e9 * threads / (double)allocs, user, sys, start_unix);
		for (unsigned s = 0; s < (unsigned)seconds && s < MAX_SECONDS; s++) {
			uint64_t n = 0;

			for (unsigned i = 0; i < threads; i++)
				n += w[i].per_s[s];
			printf("%s%llu", s ? "," : "", (unsigned long long)n);
		}
		printf("]}\n");
	} else {
		printf("%u thread%s, live set %u, %.2f s\n", threads, threads > 1 ? "s" : "", live,
		       wall);
		printf("allocations/s %.0f (%llu), allocator calls/s %.0f (frees %llu)\n",
		       allocs / wall, (unsigned long long)allocs, (allocs + frees) / wall,
		       (unsigned long long)frees);
		printf("ns per allocation (one thread) %.1f\n", wall * 1e9 * threads / (double)allocs);
		printf("CPU s user %.3f, system %.3f\n", user, sys);
	}
	free(w);
	return 0;
}
