/* A context-switch storm of known size (issue 16): two threads, or two
 * processes, hand a token back and forth as fast as the scheduler lets
 * them; every hand-over puts one to sleep and wakes the other. Used by
 * bench/offcpu.sh (what the off-CPU profiles cost a workload that switches
 * ~100,000 times a second) and tests/integration/test_switch_storm.py.
 *
 *   pingpong [-t SECONDS] [-m pipe|eventfd|futex|lock] [-c CPU[,CPU]] [-P]
 *            [-w ROUNDS] [-j] [-H]
 *
 *   -t SECONDS  how long (default 10; fractions allowed)
 *   -m MODE     pipe: a byte over a pair of pipes (default); eventfd: two
 *               eventfds; futex: a shared word and FUTEX_WAIT/FUTEX_WAKE
 *               (the wait the agent counts as lock contention); lock: no
 *               hand-over, both threads take one pthread mutex in turn and
 *               hold it for the -w work, so they contend for it (glibc's
 *               slow path sleeps in futex), as many times as they collide
 *   -c CPUS     pin the first thread to the first CPU and the second to
 *               the second (one CPU: both there)
 *   -P          two processes (fork) instead of two threads
 *   -w ROUNDS   arithmetic rounds done by each side per hand-over (default
 *               0): fewer switches a second
 *   -j          one JSON line instead of text
 *   -H          the integration workloads' protocol (tests/integration/
 *               workload.h): {"event":"ready","pids":[...]} on stdout, wait
 *               for a line on stdin, run, {"event":"done",...}, then stay
 *               until stdin closes
 *
 * Prints the round trips a second (a round trip: the token there and back,
 * or in lock mode two lock/unlock pairs, one per side) and the context
 * switches a second of both sides together, voluntary and involuntary, as
 * the kernel counted them (getrusage: RUSAGE_THREAD in each side, read at
 * its start and end); and each side's CPU time (its thread CPU clock) and
 * time spent runnable in a run queue (/proc/thread-self/schedstat, the
 * second field; it includes the wait between a wake-up and running). Where the two sides share a CPU every hand-over is
 * a switch from one to the other; on two CPUs each side sleeps and the
 * CPU goes idle between, so also about one switch per side per hand-over
 * plus the idle task's, which is not counted here.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum mode { MODE_PIPE, MODE_EVENTFD, MODE_FUTEX, MODE_LOCK };
static const char *const mode_names[] = { "pipe", "eventfd", "futex", "lock" };

/* What both sides share: in an anonymous shared mapping, so that two
 * processes see it as two threads do. */
struct shared {
	_Atomic uint32_t turn;   /* futex mode: 0 the first side's, 1 the second's */
	_Atomic uint32_t stop;   /* set by the first side when its time is up */
	_Atomic uint64_t round_trips;
	pthread_mutex_t lock;    /* lock mode */
	volatile uint64_t sink;
	struct side_stats {
		uint64_t nvcsw, nivcsw; /* during the run */
		uint64_t cpu_ns;
		int64_t runqueue_ns;    /* waiting to run (schedstat); -1: unknown */
		int cpu;                /* where it ended */
	} side[2];
};

struct side {
	int index;
	int cpu;                 /* -1: not pinned */
	int rfd, wfd;            /* pipe and eventfd modes */
	struct shared *sh;
};

static enum mode mode = MODE_PIPE;
static double seconds = 10;
static uint64_t work_rounds;
static uint64_t deadline_ns;

static uint64_t now_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void die(const char *what)
{
	fprintf(stderr, "pingpong: %s: %s\n", what, strerror(errno));
	exit(2);
}

/* The work a side does per hand-over (-w), its own frame in a profile. */
static __attribute__((noinline)) void pingpong_work(struct shared *sh)
{
	uint64_t x = sh->sink | 1;

	for (uint64_t i = 0; i < work_rounds; i++)
		x = x * 6364136223846793005ULL + 1442695040888963407ULL;
	sh->sink = x;
}

static long futex(_Atomic uint32_t *addr, int op, uint32_t val)
{
	return syscall(SYS_futex, addr, op, val, NULL, NULL, 0);
}

/* Waits until the token is this side's: reads a byte or an eventfd count,
 * or sleeps on the futex word. */
static __attribute__((noinline)) void pingpong_wait(struct side *s)
{
	uint64_t v;

	switch (mode) {
	case MODE_PIPE:
		if (read(s->rfd, &v, 1) != 1)
			die("read");
		break;
	case MODE_EVENTFD:
		if (read(s->rfd, &v, sizeof(v)) != sizeof(v))
			die("read eventfd");
		break;
	case MODE_FUTEX:
		while (atomic_load(&s->sh->turn) != (uint32_t)s->index)
			if (futex(&s->sh->turn, FUTEX_WAIT, !s->index) < 0 && errno != EAGAIN &&
			    errno != EINTR)
				die("futex wait");
		break;
	case MODE_LOCK:
		break;
	}
}

/* Hands the token to the other side. */
static __attribute__((noinline)) void pingpong_pass(struct side *s)
{
	uint64_t one = 1;

	switch (mode) {
	case MODE_PIPE:
		if (write(s->wfd, &one, 1) != 1)
			die("write");
		break;
	case MODE_EVENTFD:
		if (write(s->wfd, &one, sizeof(one)) != sizeof(one))
			die("write eventfd");
		break;
	case MODE_FUTEX:
		atomic_store(&s->sh->turn, !s->index);
		if (futex(&s->sh->turn, FUTEX_WAKE, 1) < 0)
			die("futex wake");
		break;
	case MODE_LOCK:
		break;
	}
}

/* Lock mode: take the shared mutex, work under it, let it go. */
static __attribute__((noinline)) void pingpong_locked(struct shared *sh)
{
	pthread_mutex_lock(&sh->lock);
	pingpong_work(sh);
	pthread_mutex_unlock(&sh->lock);
}

static void pin(int cpu)
{
	cpu_set_t set;

	if (cpu < 0)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set) != 0)
		die("sched_setaffinity");
}

/* The kernel's count of the time this thread waited in a run queue
 * (schedstat's second field: runnable, not running); -1 if unknown. */
static int64_t runqueue_ns(void)
{
	unsigned long long on, wait;
	FILE *f = fopen("/proc/thread-self/schedstat", "re");
	int n = f ? fscanf(f, "%llu %llu", &on, &wait) : 0;

	if (f)
		fclose(f);
	return n == 2 ? (int64_t)wait : -1;
}

static void *side_run(void *arg)
{
	struct side *s = arg;
	struct shared *sh = s->sh;
	struct rusage r0, r1;
	uint64_t cpu0, n = 0;
	int64_t rq0;

	pin(s->cpu);
	rq0 = runqueue_ns();
	getrusage(RUSAGE_THREAD, &r0);
	cpu0 = now_ns(CLOCK_THREAD_CPUTIME_ID);
	if (mode == MODE_LOCK) {
		while (!atomic_load_explicit(&sh->stop, memory_order_relaxed)) {
			pingpong_locked(sh);
			if (s->index == 0 && (++n & 255) == 0 && now_ns(CLOCK_MONOTONIC) >= deadline_ns)
				atomic_store(&sh->stop, 1);
			if (s->index == 0)
				atomic_fetch_add_explicit(&sh->round_trips, 1, memory_order_relaxed);
		}
	} else if (s->index == 0) {
		/* The first side serves and keeps time; when the time is up it
		 * sets stop and passes once more, so the second side wakes,
		 * sees it and exits. */
		for (;;) {
			int last = (++n & 255) == 0 && now_ns(CLOCK_MONOTONIC) >= deadline_ns;

			if (last)
				atomic_store(&sh->stop, 1);
			pingpong_work(sh);
			pingpong_pass(s);
			if (last)
				break;
			pingpong_wait(s);
		}
		atomic_store(&sh->round_trips, n - 1);
	} else {
		for (;;) {
			pingpong_wait(s);
			if (atomic_load(&sh->stop))
				break;
			pingpong_work(sh);
			pingpong_pass(s);
		}
	}
	getrusage(RUSAGE_THREAD, &r1);
	sh->side[s->index].cpu_ns = now_ns(CLOCK_THREAD_CPUTIME_ID) - cpu0;
	sh->side[s->index].nvcsw = (uint64_t)(r1.ru_nvcsw - r0.ru_nvcsw);
	sh->side[s->index].nivcsw = (uint64_t)(r1.ru_nivcsw - r0.ru_nivcsw);
	sh->side[s->index].runqueue_ns = rq0 < 0 ? -1 : runqueue_ns() - rq0;
	sh->side[s->index].cpu = sched_getcpu();
	return NULL;
}

static void usage(void)
{
	fprintf(stderr, "usage: pingpong [-t SECONDS] [-m pipe|eventfd|futex|lock] "
			"[-c CPU[,CPU]] [-P] [-w ROUNDS] [-j] [-H]\n");
	exit(2);
}

static void wait_line(void)
{
	char c;

	while (read(STDIN_FILENO, &c, 1) == 1 && c != '\n')
		;
}

int main(int argc, char **argv)
{
	int cpus[2] = { -1, -1 }, processes = 0, json = 0, harness = 0, opt;
	struct side sides[2];
	struct shared *sh;
	pthread_t thread;
	pthread_mutexattr_t ma;
	char *end;
	int p01[2], p10[2];
	uint64_t t0, t1, switches;
	double wall;
	pid_t kids[2] = { 0, 0 };

	while ((opt = getopt(argc, argv, "t:m:c:Pw:jH")) != -1) {
		switch (opt) {
		case 't':
			seconds = strtod(optarg, &end);
			if (*end || !(seconds > 0))
				usage();
			break;
		case 'm':
			for (mode = 0; mode < 4 && strcmp(optarg, mode_names[mode]); mode++)
				;
			if (mode == 4)
				usage();
			break;
		case 'c':
			cpus[0] = (int)strtol(optarg, &end, 10);
			cpus[1] = *end == ',' ? (int)strtol(end + 1, &end, 10) : cpus[0];
			if (*end || cpus[0] < 0 || cpus[1] < 0)
				usage();
			break;
		case 'P':
			processes = 1;
			break;
		case 'w':
			work_rounds = strtoull(optarg, &end, 10);
			if (*end)
				usage();
			break;
		case 'j':
			json = 1;
			break;
		case 'H':
			harness = json = 1;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();

	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		die("mmap");
	memset(sh, 0, sizeof(*sh));
	pthread_mutexattr_init(&ma);
	if (processes)
		pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
	pthread_mutex_init(&sh->lock, &ma);
	if (mode == MODE_EVENTFD) {
		if ((p01[0] = p01[1] = eventfd(0, EFD_CLOEXEC)) < 0 ||
		    (p10[0] = p10[1] = eventfd(0, EFD_CLOEXEC)) < 0)
			die("eventfd");
	} else if (pipe2(p01, O_CLOEXEC) != 0 || pipe2(p10, O_CLOEXEC) != 0) {
		die("pipe");
	}
	for (int i = 0; i < 2; i++)
		sides[i] = (struct side){ .index = i, .cpu = cpus[i], .sh = sh,
					  .rfd = i ? p01[0] : p10[0], .wfd = i ? p10[1] : p01[1] };

	if (harness) {
		/* Threads share the process's pid; processes are forked only
		 * after "go", so the ready line names this one, their parent:
		 * run the harness with threads. */
		printf("{\"event\":\"ready\",\"pids\":[%d],\"mode\":\"%s\"}\n", (int)getpid(),
		       mode_names[mode]);
		fflush(stdout);
		wait_line();
	}

	t0 = now_ns(CLOCK_MONOTONIC);
	deadline_ns = t0 + (uint64_t)(seconds * 1e9);
	if (processes) {
		for (int i = 0; i < 2; i++) {
			kids[i] = fork();
			if (kids[i] < 0)
				die("fork");
			if (kids[i] == 0) {
				side_run(&sides[i]);
				_exit(0);
			}
		}
		for (int i = 0; i < 2; i++) {
			int status;

			if (waitpid(kids[i], &status, 0) < 0)
				die("waitpid");
			if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
				fprintf(stderr, "pingpong: side %d failed\n", i);
				return 1;
			}
		}
	} else {
		if (pthread_create(&thread, NULL, side_run, &sides[1]) != 0) {
			errno = EAGAIN;
			die("pthread_create");
		}
		side_run(&sides[0]);
		pthread_join(thread, NULL);
	}
	t1 = now_ns(CLOCK_MONOTONIC);

	wall = (double)(t1 - t0) / 1e9;
	switches = sh->side[0].nvcsw + sh->side[0].nivcsw + sh->side[1].nvcsw + sh->side[1].nivcsw;
	if (json) {
		printf("{\"event\":\"done\",\"mode\":\"%s\",\"processes\":%d,\"cpus\":[%d,%d],"
		       "\"work\":%llu,\"seconds\":%.3f,\"round_trips\":%llu,"
		       "\"round_trips_per_s\":%.0f,\"switches\":%llu,\"switches_per_s\":%.0f,"
		       "\"voluntary\":%llu,\"involuntary\":%llu,\"cpu_s\":[%.3f,%.3f],"
		       "\"runqueue_s\":[%.3f,%.3f]}\n",
		       mode_names[mode], processes, cpus[0], cpus[1],
		       (unsigned long long)work_rounds, wall,
		       (unsigned long long)sh->round_trips, sh->round_trips / wall,
		       (unsigned long long)switches, switches / wall,
		       (unsigned long long)(sh->side[0].nvcsw + sh->side[1].nvcsw),
		       (unsigned long long)(sh->side[0].nivcsw + sh->side[1].nivcsw),
		       sh->side[0].cpu_ns / 1e9, sh->side[1].cpu_ns / 1e9,
		       sh->side[0].runqueue_ns / 1e9, sh->side[1].runqueue_ns / 1e9);
	} else {
		printf("mode %s, %s, cpus %d,%d, work %llu: %.2f s\n", mode_names[mode],
		       processes ? "processes" : "threads", cpus[0], cpus[1],
		       (unsigned long long)work_rounds, wall);
		printf("round trips/s %.0f\n", sh->round_trips / wall);
		printf("context switches/s %.0f (voluntary %llu, involuntary %llu)\n", switches / wall,
		       (unsigned long long)(sh->side[0].nvcsw + sh->side[1].nvcsw),
		       (unsigned long long)(sh->side[0].nivcsw + sh->side[1].nivcsw));
		printf("CPU s %.3f + %.3f, waiting to run %.3f + %.3f\n", sh->side[0].cpu_ns / 1e9,
		       sh->side[1].cpu_ns / 1e9, sh->side[0].runqueue_ns / 1e9,
		       sh->side[1].runqueue_ns / 1e9);
	}
	fflush(stdout);
	if (harness)
		while (read(STDIN_FILENO, &opt, 1) > 0)
			;
	return 0;
}
