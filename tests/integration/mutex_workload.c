/* Workload for test_mutex.py: lock contention of known count and delay, next
 * to locking that is not contention, to compare a mutex profile with.
 *
 *   mutex_workload [SECONDS [SEED]]
 *
 * After "go", for SECONDS of wall time:
 *   contend_for_lock  two threads take one pthread_mutex_t in turn: each
 *                     holds it 0.5..1.5 ms (burning CPU), lets go, sleeps
 *                     0.2..0.6 ms and takes it again, so the other one
 *                     usually finds it held. A contention is a failed
 *                     pthread_mutex_trylock followed by pthread_mutex_lock,
 *                     which then waits in the kernel (glibc's slow path:
 *                     futex FUTEX_WAIT); the program counts those and times
 *                     each such pthread_mutex_lock call (its wait);
 *   take_free_lock    a mutex no other thread touches, taken and released
 *                     1000 times, then a 1 ms nanosleep, in a loop: never
 *                     contended, and its sleep is no lock wait;
 *   idle_worker       a pool of IDLE_WORKERS threads in pthread_cond_wait
 *                     (futex FUTEX_WAIT_BITSET), one of them woken every
 *                     POKE_NS by the main thread (pthread_cond_signal,
 *                     without taking the pool's mutex), to wait again:
 *                     waiting for work is not lock contention.
 * The main thread waits for the end in nanosleep (never in pthread_join
 * while a thread runs), then joins the threads that have stopped; the idle
 * workers are left waiting until the process exits.
 *
 * The done line gives, for contend_for_lock, the contentions, their wait
 * (sum of the timed lock calls), how many of those returned within
 * FAST_LOCK_NS (the lock was let go between trylock and lock: likely no
 * sleep at all), the acquisitions; for the others their calls and wake-ups.
 * Protocol with the harness: see workload.h.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>

#include "workload.h"

#define CONTENDERS 2
#define IDLE_WORKERS 4
#define POKE_NS 5000000L        /* one idle worker woken every 5 ms */
#define FAST_LOCK_NS 20000ULL   /* a lock call this short hardly slept */
#define FREE_ROUNDS 1000

static pthread_mutex_t shared_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t free_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pool_cond = PTHREAD_COND_INITIALIZER;
static _Atomic long pool_tickets;
static _Atomic uint64_t pool_wakeups;

struct contender {
	pthread_t thread;
	int tid;
	uint64_t seed, end_ns;
	uint64_t acquisitions, contentions, wait_ns, fast_locks, max_wait_ns;
};

struct free_taker {
	pthread_t thread;
	int tid;
	uint64_t end_ns, calls;
};

static struct contender contenders[CONTENDERS];
static struct free_taker free_taker;
static pthread_t idle_threads[IDLE_WORKERS];
static _Atomic int idle_tids[IDLE_WORKERS];
volatile uint64_t sink;

static int gettid_(void)
{
	return (int)syscall(SYS_gettid);
}

static void die(const char *what, int err)
{
	fprintf(stderr, "mutex_workload: %s: %s\n", what, strerror(err));
	exit(1);
}

/* Holds the CPU (and whatever lock is held) for ns of wall time. */
NOINLINE static void hold_for(uint64_t ns)
{
	KEEP_FRAME();
	uint64_t x = sink | 1, end = wall_ns() + ns;

	while (wall_ns() < end)
		x = xorshift_rounds(x, 200);
	sink = x;
}

NOINLINE void contend_for_lock(struct contender *c)
{
	uint64_t rng = c->seed;

	while (wall_ns() < c->end_ns) {
		int err = pthread_mutex_trylock(&shared_lock);

		if (err == EBUSY) {
			uint64_t t0 = wall_ns();

			err = pthread_mutex_lock(&shared_lock);
			if (err)
				die("pthread_mutex_lock", err);
			uint64_t dt = wall_ns() - t0;

			c->contentions++;
			c->wait_ns += dt;
			if (dt < FAST_LOCK_NS)
				c->fast_locks++;
			if (dt > c->max_wait_ns)
				c->max_wait_ns = dt;
		} else if (err) {
			die("pthread_mutex_trylock", err);
		}
		c->acquisitions++;
		hold_for(500000 + rng_next(&rng) % 1000000);
		pthread_mutex_unlock(&shared_lock);

		struct timespec gap = { 0, 200000 + (long)(rng_next(&rng) % 400000) };

		nanosleep(&gap, NULL);
	}
	sink += 1;
}

NOINLINE void take_free_lock(struct free_taker *f)
{
	struct timespec nap = { 0, 1000000 };

	while (wall_ns() < f->end_ns) {
		for (int i = 0; i < FREE_ROUNDS; i++) {
			pthread_mutex_lock(&free_lock);
			sink += (uint64_t)i;
			pthread_mutex_unlock(&free_lock);
			f->calls++;
		}
		nanosleep(&nap, NULL);
	}
	sink += 1;
}

/* Waits for work that never comes: each wake-up takes a ticket and waits
 * again. Runs until the process exits. */
NOINLINE void idle_worker(int slot)
{
	idle_tids[slot] = gettid_();
	pthread_mutex_lock(&pool_lock);
	for (;;) {
		while (atomic_load(&pool_tickets) <= 0)
			pthread_cond_wait(&pool_cond, &pool_lock);
		atomic_fetch_sub(&pool_tickets, 1);
		atomic_fetch_add(&pool_wakeups, 1);
	}
}

NOINLINE static void *contender_start(void *arg)
{
	struct contender *c = arg;

	c->tid = gettid_();
	contend_for_lock(c);
	sink += 1;
	return NULL;
}

NOINLINE static void *free_taker_start(void *arg)
{
	struct free_taker *f = arg;

	f->tid = gettid_();
	take_free_lock(f);
	sink += 1;
	return NULL;
}

NOINLINE static void *idle_start(void *arg)
{
	idle_worker((int)(intptr_t)arg);
	return NULL;
}

/* The main thread until the end: wakes one idle worker every POKE_NS. */
NOINLINE static uint64_t poke_idle_workers(uint64_t end)
{
	struct timespec gap = { 0, POKE_NS };
	uint64_t pokes = 0;

	while (wall_ns() < end) {
		nanosleep(&gap, NULL);
		atomic_fetch_add(&pool_tickets, 1);
		pthread_cond_signal(&pool_cond);
		pokes++;
	}
	return pokes;
}

int main(int argc, char **argv)
{
	double seconds = seconds_from_args(argc, argv, 1, 10.0);
	uint64_t seed = seed_from_args(argc, argv, 2), rng = seed;
	int err;

	for (int i = 0; i < IDLE_WORKERS; i++) {
		err = pthread_create(&idle_threads[i], NULL, idle_start, (void *)(intptr_t)i);
		if (err)
			die("pthread_create", err);
	}
	while (1) {
		int n = 0;

		for (int i = 0; i < IDLE_WORKERS; i++)
			n += idle_tids[i] != 0;
		if (n == IDLE_WORKERS)
			break;
		struct timespec ms = { 0, 1000000 };

		nanosleep(&ms, NULL);
	}
	printf("{\"event\":\"ready\",\"pids\":[%d],\"seed\":%llu}\n", (int)getpid(),
	       (unsigned long long)seed);
	fflush(stdout);
	wait_stdin_line();

	uint64_t end = wall_ns() + (uint64_t)(seconds * 1e9);

	for (int i = 0; i < CONTENDERS; i++) {
		contenders[i].seed = rng_next(&rng) | 1;
		contenders[i].end_ns = end;
		err = pthread_create(&contenders[i].thread, NULL, contender_start, &contenders[i]);
		if (err)
			die("pthread_create", err);
	}
	free_taker.end_ns = end;
	err = pthread_create(&free_taker.thread, NULL, free_taker_start, &free_taker);
	if (err)
		die("pthread_create", err);

	uint64_t pokes = poke_idle_workers(end);

	/* The workers stop within a hold and a gap of the end: wait that out
	 * asleep, so that pthread_join finds them gone. */
	struct timespec settle = { 0, 50000000 };

	nanosleep(&settle, NULL);
	for (int i = 0; i < CONTENDERS; i++)
		pthread_join(contenders[i].thread, NULL);
	pthread_join(free_taker.thread, NULL);

	uint64_t acq = 0, cont = 0, wait = 0, fast = 0, maxw = 0;

	for (int i = 0; i < CONTENDERS; i++) {
		acq += contenders[i].acquisitions;
		cont += contenders[i].contentions;
		wait += contenders[i].wait_ns;
		fast += contenders[i].fast_locks;
		if (contenders[i].max_wait_ns > maxw)
			maxw = contenders[i].max_wait_ns;
	}
	printf("{\"event\":\"done\",\"pid\":%d,\"seconds\":%.3f,"
	       "\"contend_for_lock\":{\"threads\":%d,\"tids\":[%d,%d],\"acquisitions\":%llu,"
	       "\"contentions\":%llu,\"wait_ns\":%llu,\"fast_locks\":%llu,\"max_wait_ns\":%llu},"
	       "\"take_free_lock\":{\"tid\":%d,\"calls\":%llu},"
	       "\"idle_worker\":{\"threads\":%d,\"pokes\":%llu,\"wakeups\":%llu}}\n",
	       (int)getpid(), seconds, CONTENDERS, contenders[0].tid, contenders[1].tid,
	       (unsigned long long)acq, (unsigned long long)cont, (unsigned long long)wait,
	       (unsigned long long)fast, (unsigned long long)maxw, free_taker.tid,
	       (unsigned long long)free_taker.calls, IDLE_WORKERS, (unsigned long long)pokes,
	       (unsigned long long)atomic_load(&pool_wakeups));
	fflush(stdout);

	wait_stdin_eof();
	return 0;
}
