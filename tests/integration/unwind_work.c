/* Workload for test_unwind.py: stacks a frame-pointer walk cannot follow.
 * Built at -O2 with -fomit-frame-pointer, by gcc and by clang, PIE and not.
 *
 *   unwind_work MODE [SECONDS [LIBRARY]]
 *
 * MODE:
 *   chain    a chain of 20 noinline functions, chain_20 .. chain_1, down to
 *            the hot leaf;
 *   qsort    the work done in a qsort comparator, so stacks pass through
 *            libc's qsort (built without frame pointers);
 *   syscall  a loop of getpid-like system calls (getppid) made through libc:
 *            samples land in the kernel and the user stack starts at libc's
 *            wrapper;
 *   signal   the work done in a SIGALRM handler, raised over and over, so
 *            stacks pass through the kernel's signal frame;
 *   threads  8 threads, thread k in a chain 4 + 2k deep, the work at its
 *            leaf;
 *   recurse  recursion 300 deep, the work at the bottom: the walk must stop
 *            at 127 frames and say so;
 *   stack30  the work at the bottom of a recursion 25 deep: stacks of 30
 *            frames with main and libc's start (bench/unwind.sh);
 *   vdso     clock_gettime in a loop: the time is read in the vDSO;
 *   dlopen   after "go", dlopen the library named by the third argument
 *            (unwind_mod.c) and run its mod_link_3 chain.
 * Protocol with the harness: see workload.h.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "workload.h"

volatile uint64_t sink;
static uint64_t end_ns;

NOINLINE uint64_t hot_leaf(uint64_t n)
{
	return store_sink(&sink, lcg_rounds(sink | 1, n));
}

/* Each link does a little arithmetic after its call, so that no call is a
 * tail call and every function keeps its frame. */
#define LINK(name, next)                                     \
	NOINLINE uint64_t name(uint64_t n, int depth)       \
	{                                                    \
		uint64_t r = depth > 1 ? next(n, depth - 1) : hot_leaf(n); \
		sink += r;                                   \
		return r ^ (uint64_t)depth;                  \
	}

NOINLINE uint64_t chain_0(uint64_t n, int depth)
{
	(void)depth;
	return hot_leaf(n) + 1;
}
LINK(chain_1, chain_0)
LINK(chain_2, chain_1)
LINK(chain_3, chain_2)
LINK(chain_4, chain_3)
LINK(chain_5, chain_4)
LINK(chain_6, chain_5)
LINK(chain_7, chain_6)
LINK(chain_8, chain_7)
LINK(chain_9, chain_8)
LINK(chain_10, chain_9)
LINK(chain_11, chain_10)
LINK(chain_12, chain_11)
LINK(chain_13, chain_12)
LINK(chain_14, chain_13)
LINK(chain_15, chain_14)
LINK(chain_16, chain_15)
LINK(chain_17, chain_16)
LINK(chain_18, chain_17)
LINK(chain_19, chain_18)
LINK(chain_20, chain_19)

static void run_chain(void)
{
	while (wall_ns() < end_ns)
		chain_20(20000, 20);
}

NOINLINE int compare_hot(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	hot_leaf(200);
	return x < y ? -1 : x > y;
}

static void run_qsort(void)
{
	static uint64_t v[4096];
	uint64_t s = 7;

	while (wall_ns() < end_ns) {
		for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
			v[i] = rng_next(&s);
		qsort(v, sizeof(v) / sizeof(v[0]), sizeof(v[0]), compare_hot);
	}
}

NOINLINE void syscall_burst(void)
{
	for (int i = 0; i < 1000; i++)
		sink += (uint64_t)getppid();
}

static void run_syscall(void)
{
	while (wall_ns() < end_ns)
		syscall_burst();
}

NOINLINE void in_handler(int sig)
{
	/* Not a tail call: the handler keeps a frame of its own. */
	sink += hot_leaf(200000 + (uint64_t)sig);
}

NOINLINE void raise_loop(void)
{
	while (wall_ns() < end_ns) {
		raise(SIGALRM);
		sink++;
	}
}

static void run_signal(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = in_handler;
	sigaction(SIGALRM, &sa, NULL);
	raise_loop();
}

static void *thread_main(void *arg)
{
	int depth = 4 + 2 * (int)(intptr_t)arg;

	while (wall_ns() < end_ns)
		chain_20(20000, depth);
	return NULL;
}

static void run_threads(void)
{
	pthread_t t[8];

	for (intptr_t i = 0; i < 8; i++)
		pthread_create(&t[i], NULL, thread_main, (void *)i);
	for (int i = 0; i < 8; i++)
		pthread_join(t[i], NULL);
}

NOINLINE uint64_t recurse(int depth)
{
	uint64_t r = depth > 0 ? recurse(depth - 1) : hot_leaf(50000);

	sink += r;
	return r + (uint64_t)depth;
}

static void run_recurse(void)
{
	while (wall_ns() < end_ns)
		recurse(299);
}

static void run_stack30(void)
{
	while (wall_ns() < end_ns)
		recurse(24);
}

NOINLINE void clock_loop(void)
{
	struct timespec ts;

	for (int i = 0; i < 1000; i++) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		sink += (uint64_t)ts.tv_nsec;
	}
}

static void run_vdso(void)
{
	while (wall_ns() < end_ns)
		clock_loop();
}

NOINLINE void call_module(uint64_t (*entry)(uint64_t))
{
	while (wall_ns() < end_ns)
		sink += entry(100000);
}

static int run_dlopen(const char *path)
{
	void *h = dlopen(path, RTLD_NOW);
	uint64_t (*entry)(uint64_t) = h ? (uint64_t (*)(uint64_t))dlsym(h, "mod_link_3") : NULL;

	if (!entry) {
		fprintf(stderr, "unwind_work: dlopen %s: %s\n", path, dlerror());
		return 1;
	}
	call_module(entry);
	return 0;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "chain";
	double seconds = seconds_from_args(argc, argv, 2, 6.0);

	printf("{\"event\":\"ready\",\"pids\":[%d],\"mode\":\"%s\"}\n", (int)getpid(), mode);
	fflush(stdout);
	wait_stdin_line();
	end_ns = wall_ns() + (uint64_t)(seconds * 1e9);
	if (strcmp(mode, "qsort") == 0)
		run_qsort();
	else if (strcmp(mode, "syscall") == 0)
		run_syscall();
	else if (strcmp(mode, "signal") == 0)
		run_signal();
	else if (strcmp(mode, "threads") == 0)
		run_threads();
	else if (strcmp(mode, "recurse") == 0)
		run_recurse();
	else if (strcmp(mode, "stack30") == 0)
		run_stack30();
	else if (strcmp(mode, "vdso") == 0)
		run_vdso();
	else if (strcmp(mode, "dlopen") == 0 && (argc < 4 || run_dlopen(argv[3])))
		return 1;
	else
		run_chain();
	printf("{\"event\":\"done\",\"pid\":%d}\n", (int)getpid());
	fflush(stdout);
	wait_stdin_eof();
	return 0;
}
