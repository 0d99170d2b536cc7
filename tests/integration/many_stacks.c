/* Workload for test_loss_counters.py: more distinct stacks than small maps
 * can hold.
 *
 *   many_stacks [SECONDS [SEED [PROCESSES [THREADS]]]]
 *
 * PROCESSES processes (default 3: this one and forked copies, which share
 * its addresses, so the same user stack shows up under several pids), each
 * with THREADS threads (default 2). Half of the time a thread spins in
 * steady_work(), always under the same stack; the other half it recurses to
 * a random depth 1..60 through four functions picked at random at every
 * level, burns a little CPU at the bottom and now and then makes a system
 * call there (getrandom, with an inline `syscall`), so kernel stacks join
 * the mix. Many distinct stacks overflow a small stack map; the steady one,
 * counted once per process, overflows a small count map. The ready line names
 * every pid; the done line reports the CPU time of all of them. Protocol
 * with the harness: see workload.h.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "workload.h"

#define MAX_DEPTH 60
#define MAX_PROCS 16
#define MAX_THREADS 16

volatile uint64_t sink;
static uint64_t deadline_ns;
static uint64_t base_seed;

NOINLINE long getrandom_direct(void *p, unsigned long len)
{
	KEEP_FRAME();
	long ret;

	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "0"((long)SYS_getrandom), "D"(p), "S"(len), "d"(0L)
			 : "rcx", "r11", "memory");
	return ret;
}

/* The bottom of each descent: 20..200 us of arithmetic, or a system call. */
NOINLINE uint64_t leaf_work(uint64_t *rng)
{
	uint64_t r = rng_next(rng), x = r | 1;

	if (r % 4 == 0) {
		unsigned char buf[4096];

		getrandom_direct(buf, sizeof(buf));
		return buf[r % sizeof(buf)];
	}
	return lcg_rounds(x, 20000 + r % 180000);
}

uint64_t rec_a(int depth, uint64_t *rng);
uint64_t rec_b(int depth, uint64_t *rng);
uint64_t rec_c(int depth, uint64_t *rng);
uint64_t rec_d(int depth, uint64_t *rng);

/* One level down, to a function picked at random; the addition after the
 * call keeps every level a real frame. */
static inline uint64_t descend(int depth, uint64_t *rng)
{
	uint64_t r;

	if (depth <= 0)
		return leaf_work(rng);
	switch (rng_next(rng) % 4) {
	case 0:
		r = rec_a(depth - 1, rng);
		break;
	case 1:
		r = rec_b(depth - 1, rng);
		break;
	case 2:
		r = rec_c(depth - 1, rng);
		break;
	default:
		r = rec_d(depth - 1, rng);
		break;
	}
	return r + (uint64_t)depth;
}

NOINLINE uint64_t rec_a(int depth, uint64_t *rng)
{
	return descend(depth, rng) ^ 1;
}

NOINLINE uint64_t rec_b(int depth, uint64_t *rng)
{
	return descend(depth, rng) ^ 2;
}

NOINLINE uint64_t rec_c(int depth, uint64_t *rng)
{
	return descend(depth, rng) ^ 3;
}

NOINLINE uint64_t rec_d(int depth, uint64_t *rng)
{
	return descend(depth, rng) ^ 4;
}

/* The same stack every time, in every thread of every process: it is what
 * makes many count-map keys (one per process and stack) out of few stacks. */
NOINLINE uint64_t steady_work(uint64_t n)
{
	KEEP_FRAME();
	return lcg_rounds(sink | 1, n);
}

/* Half the time the steady stack, half a random descent. */
NOINLINE static void *worker(void *arg)
{
	uint64_t rng = base_seed ^ ((uint64_t)(uintptr_t)arg * 0x9E3779B97F4A7C15ULL);

	if (!rng)
		rng = 1;
	while (wall_ns() < deadline_ns) {
		uint64_t r = rng_next(&rng);
		int depth = 1 + (int)(r % MAX_DEPTH);

		if ((r >> 32) & 1)
			sink += steady_work(110000);
		else
			sink += rec_a(depth - 1, &rng);
	}
	return NULL;
}

/* Runs THREADS workers in this process (the calling thread is one of them)
 * and returns the process's CPU time while they ran. */
static uint64_t run_process(int index, int nthreads)
{
	pthread_t tids[MAX_THREADS];
	uint64_t cpu0 = process_cpu_ns();

	for (int t = 1; t < nthreads; t++) {
		int err = pthread_create(&tids[t], NULL, worker,
					 (void *)(uintptr_t)(index * MAX_THREADS + t + 1));
		if (err) {
			fprintf(stderr, "many_stacks: pthread_create: %s\n", strerror(err));
			exit(2);
		}
	}
	worker((void *)(uintptr_t)(index * MAX_THREADS + 1));
	for (int t = 1; t < nthreads; t++)
		pthread_join(tids[t], NULL);
	return process_cpu_ns() - cpu0;
}

static void read_full(int fd, void *p, size_t len)
{
	unsigned char *b = p;

	while (len) {
		ssize_t n = read(fd, b, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			fprintf(stderr, "many_stacks: a child died\n");
			exit(2);
		}
		b += n;
		len -= (size_t)n;
	}
}

int main(int argc, char **argv)
{
	double seconds = seconds_from_args(argc, argv, 1, 15.0);
	int nprocs = argc > 3 ? atoi(argv[3]) : 3;
	int nthreads = argc > 4 ? atoi(argv[4]) : 2;
	int go[2], stop[2], done[2];
	pid_t pids[MAX_PROCS];

	base_seed = seed_from_args(argc, argv, 2);
	if (nprocs < 1 || nprocs > MAX_PROCS || nthreads < 1 || nthreads > MAX_THREADS) {
		fprintf(stderr, "many_stacks: 1..%d processes, 1..%d threads\n",
			MAX_PROCS, MAX_THREADS);
		return 2;
	}
	if (pipe(go) || pipe(stop) || pipe(done)) {
		perror("pipe");
		return 2;
	}
	pids[0] = getpid();
	for (int p = 1; p < nprocs; p++) {
		pid_t pid = fork();

		if (pid < 0) {
			perror("fork");
			return 2;
		}
		if (pid == 0) {
			char c;
			uint64_t cpu;

			close(go[1]);
			close(stop[1]);
			close(done[0]);
			while (read(go[0], &c, 1) > 0) /* EOF: go */
				;
			deadline_ns = wall_ns() + (uint64_t)(seconds * 1e9);
			cpu = run_process(p, nthreads);
			if (write(done[1], &cpu, sizeof(cpu)) != sizeof(cpu))
				_exit(2);
			while (read(stop[0], &c, 1) > 0) /* EOF: exit */
				;
			_exit(0);
		}
		pids[p] = pid;
	}
	close(go[0]);
	close(stop[0]);
	close(done[1]);

	printf("{\"event\":\"ready\",\"pids\":[");
	for (int p = 0; p < nprocs; p++)
		printf("%s%d", p ? "," : "", (int)pids[p]);
	printf("],\"seed\":%llu,\"threads\":%d}\n", (unsigned long long)base_seed,
	       nthreads);
	fflush(stdout);
	fprintf(stderr, "many_stacks: seed %llu, %d processes x %d threads, %.1f s\n",
		(unsigned long long)base_seed, nprocs, nthreads, seconds);

	wait_stdin_line();
	close(go[1]);
	deadline_ns = wall_ns() + (uint64_t)(seconds * 1e9);
	uint64_t cpu = run_process(0, nthreads);
	for (int p = 1; p < nprocs; p++) {
		uint64_t c;

		read_full(done[0], &c, sizeof(c));
		cpu += c;
	}

	printf("{\"event\":\"done\",\"pids\":[");
	for (int p = 0; p < nprocs; p++)
		printf("%s%d", p ? "," : "", (int)pids[p]);
	printf("],\"process_cpu_ns\":%llu}\n", (unsigned long long)cpu);
	fflush(stdout);

	wait_stdin_eof();
	close(stop[1]);
	for (int p = 1; p < nprocs; p++)
		waitpid(pids[p], NULL, 0);
	return 0;
}
