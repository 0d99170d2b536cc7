/* Workload for test_offcpu.py: threads that are off the CPU for known times,
 * each in a function of its own, to compare an off-CPU profile with.
 *
 *   offcpu_workload [SECONDS [DIR [SEED]]]
 *
 * After "go", for SECONDS of wall time:
 *   sleep_in_nanosleep      nanosleep(0.5 ms) in a loop: asleep (S);
 *   read_slow_pipe          reads one byte at a time from a pipe that a forked
 *                           child process fills one byte every 0.5 ms: asleep (S);
 *   wait_for_disk           O_DIRECT reads of 512 KiB at random offsets of a
 *                           16 MiB file in DIR (default "."; refused on tmpfs
 *                           and ramfs, which have no disk to wait for):
 *                           uninterruptible (D);
 *   spin_on_shared_cpu      two threads burning CPU, both pinned to one CPU,
 *                           so each waits runnable about half the time;
 *   sleep_through_intervals one nanosleep of SECONDS - 1 s, begun at once: a
 *                           block that spans several of the agent's intervals.
 * Each runs under thread_start (our thread entry, with a frame pointer).
 * The blocking calls are made with an inline `syscall` inside the named
 * function, so that function, built with a frame pointer, is the leaf user
 * frame of each block: libc's wrappers have no frame pointer.
 *
 * What is measured, per function: wall time from its first to its last
 * instruction less the thread's CPU time over the same span
 * (CLOCK_THREAD_CPUTIME_ID), i.e. its time off the CPU, whatever the reason;
 * plus the same bracketed around each blocking call alone ("in_calls_ns"),
 * and the number of blocking calls. Meanwhile the main thread reads each
 * worker's state letter from /proc/self/task/TID/stat every 5 ms and counts
 * them ("proc_states"): the disk thread must be seen in D.
 *
 * The ready line names the pids (this process and the pipe's child); the
 * done line holds the measurements, the tids and, for the long sleep, its
 * start and end in CLOCK_REALTIME ns (the agent's intervals are named in
 * Unix seconds). Protocol with the harness: see workload.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/magic.h>

#include "workload.h"

#define NAP_NS 500000L           /* sleep_in_nanosleep's naps */
#define PIPE_GAP_NS 500000L      /* the child's pause between two bytes */
#define DISK_FILE_BYTES (16u << 20)
#define DISK_BLOCK 4096u         /* O_DIRECT alignment */
#define DISK_READ (512u << 10)   /* one read: long enough that a wake-up's cost is small next to it */
#define SPIN_ROUNDS 20000        /* between two readings of the wall clock */
#define WATCH_NS 5000000L        /* the main thread's /proc polling period */

enum fn {
	FN_NANOSLEEP,
	FN_PIPE,
	FN_DISK,
	FN_SPIN_A,
	FN_SPIN_B,
	FN_LONG,
	FN_COUNT,
};

static const char *const fn_names[FN_COUNT] = {
	"sleep_in_nanosleep", "read_slow_pipe", "wait_for_disk",
	"spin_on_shared_cpu", "spin_on_shared_cpu", "sleep_through_intervals",
};

/* Process states counted from /proc: R, S, D, other. */
enum { ST_R, ST_S, ST_D, ST_OTHER, ST_COUNT };
static const char *const st_names[ST_COUNT] = { "R", "S", "D", "other" };

struct worker {
	enum fn fn;
	pthread_t thread;
	_Atomic int tid;
	uint64_t end_ns;         /* CLOCK_MONOTONIC deadline */
	uint64_t wall_ns, cpu_ns, in_calls_ns, calls;
	uint64_t start_real_ns, end_real_ns; /* of the long sleep */
	int cpu;                 /* spinners: the CPU they are pinned to */
	uint64_t states[ST_COUNT];
};

static struct worker workers[FN_COUNT];
static int pipe_rd = -1, disk_fd = -1;
static void *disk_buf;
static uint64_t seed = 1;
static double seconds;
volatile uint64_t sink;

ALWAYS_INLINE long raw_syscall3(long nr, long a, long b, long c)
{
	long ret;

	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "0"(nr), "D"(a), "S"(b), "d"(c)
			 : "rcx", "r11", "memory");
	return ret;
}

ALWAYS_INLINE long raw_syscall4(long nr, long a, long b, long c, long d)
{
	long ret;
	register long r10 __asm__("r10") = d;

	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "0"(nr), "D"(a), "S"(b), "d"(c), "r"(r10)
			 : "rcx", "r11", "memory");
	return ret;
}

static uint64_t real_ns(void)
{
	return clock_ns(CLOCK_REALTIME);
}

/* Brackets one blocking call: adds its wall time less this thread's CPU
 * time over it to w->in_calls_ns. */
#define TIMED_CALL(w, expr)                                                 \
	({                                                                  \
		uint64_t w0_ = wall_ns(), c0_ = thread_cpu_ns();            \
		long r_ = (expr);                                           \
		uint64_t dw_ = wall_ns() - w0_, dc_ = thread_cpu_ns() - c0_; \
		(w)->in_calls_ns += dw_ > dc_ ? dw_ - dc_ : 0;              \
		(w)->calls++;                                               \
		r_;                                                         \
	})

NOINLINE void sleep_in_nanosleep(struct worker *w)
{
	KEEP_FRAME();
	struct timespec nap = { 0, NAP_NS };

	while (wall_ns() < w->end_ns)
		TIMED_CALL(w, raw_syscall3(SYS_nanosleep, (long)&nap, 0, 0));
}

NOINLINE void read_slow_pipe(struct worker *w)
{
	KEEP_FRAME();
	char c;

	while (wall_ns() < w->end_ns) {
		long n = TIMED_CALL(w, raw_syscall3(SYS_read, pipe_rd, (long)&c, 1));

		if (n != 1) {
			fprintf(stderr, "offcpu_workload: read of the pipe: %ld\n", n);
			exit(1);
		}
	}
}

NOINLINE void wait_for_disk(struct worker *w)
{
	KEEP_FRAME();
	uint64_t rng = seed ^ 0xD15C;

	while (wall_ns() < w->end_ns) {
		long off = (long)(rng_next(&rng) % ((DISK_FILE_BYTES - DISK_READ) / DISK_BLOCK)) *
			   DISK_BLOCK;
		long n = TIMED_CALL(w, raw_syscall4(SYS_pread64, disk_fd, (long)disk_buf,
						    DISK_READ, off));

		if (n != (long)DISK_READ) {
			fprintf(stderr, "offcpu_workload: O_DIRECT read: %ld\n", n);
			exit(1);
		}
	}
}

NOINLINE void spin_on_shared_cpu(struct worker *w)
{
	KEEP_FRAME();
	uint64_t x = (uint64_t)w->fn + 1;

	while (wall_ns() < w->end_ns)
		x = lcg_rounds(x, SPIN_ROUNDS);
	sink = x;
}

NOINLINE void sleep_through_intervals(struct worker *w)
{
	KEEP_FRAME();
	double s = seconds > 2 ? seconds - 1 : 1;
	struct timespec ts = { (time_t)s, (long)((s - (double)(time_t)s) * 1e9) };

	w->start_real_ns = real_ns();
	TIMED_CALL(w, raw_syscall3(SYS_nanosleep, (long)&ts, 0, 0));
	w->end_real_ns = real_ns();
}

NOINLINE void *thread_start(void *arg)
{
	struct worker *w = arg;

	if (w->fn == FN_SPIN_A || w->fn == FN_SPIN_B) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(w->cpu, &set);
		if (sched_setaffinity(0, sizeof(set), &set) != 0) {
			perror("offcpu_workload: sched_setaffinity");
			exit(1);
		}
	}
	w->tid = (int)syscall(SYS_gettid);

	uint64_t w0 = wall_ns(), c0 = thread_cpu_ns();

	switch (w->fn) {
	case FN_NANOSLEEP:
		sleep_in_nanosleep(w);
		break;
	case FN_PIPE:
		read_slow_pipe(w);
		break;
	case FN_DISK:
		wait_for_disk(w);
		break;
	case FN_SPIN_A:
	case FN_SPIN_B:
		spin_on_shared_cpu(w);
		break;
	default:
		sleep_through_intervals(w);
		break;
	}
	w->wall_ns = wall_ns() - w0;
	w->cpu_ns = thread_cpu_ns() - c0;
	sink += 1; /* a real call above, not a tail call */
	return NULL;
}

/* The pipe's writer: one byte every PIPE_GAP_NS once the parent says go
 * (a byte on ctl), until the reader is gone (EPIPE) or the parent dies. */
static void pipe_child(int wr, int ctl)
{
	struct timespec gap = { 0, PIPE_GAP_NS };
	char c = 'x';

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	signal(SIGPIPE, SIG_IGN);
	if (read(ctl, &c, 1) != 1)
		_exit(0);
	for (;;) {
		if (write(wr, &c, 1) != 1)
			_exit(0);
		nanosleep(&gap, NULL);
	}
}

/* A 16 MiB file of real blocks in dir (a hole would be read without any
 * I/O), opened O_DIRECT and unlinked. */
static void open_disk_file(const char *dir, char *fs_name, size_t fs_len)
{
	struct statfs sf;
	char path[4096];

	if (statfs(dir, &sf) != 0) {
		fprintf(stderr, "offcpu_workload: statfs %s: %s\n", dir, strerror(errno));
		exit(2);
	}
	if (sf.f_type == TMPFS_MAGIC || sf.f_type == RAMFS_MAGIC) {
		fprintf(stderr, "offcpu_workload: %s is on tmpfs/ramfs: no disk to wait for; "
			"give a directory on a block device\n", dir);
		exit(2);
	}
	snprintf(fs_name, fs_len, "%#lx", (unsigned long)sf.f_type);
	snprintf(path, sizeof(path), "%s/smolder-offcpu-XXXXXX", dir);
	int fd = mkstemp(path);

	if (fd < 0) {
		fprintf(stderr, "offcpu_workload: mkstemp %s: %s\n", path, strerror(errno));
		exit(2);
	}
	if (posix_memalign(&disk_buf, DISK_BLOCK, 1u << 20) != 0)
		exit(2);
	memset(disk_buf, 0x5a, 1u << 20);
	for (unsigned off = 0; off < DISK_FILE_BYTES; off += 1u << 20)
		if (write(fd, disk_buf, 1u << 20) != (ssize_t)(1u << 20)) {
			perror("offcpu_workload: write");
			exit(2);
		}
	if (fsync(fd) != 0) {
		perror("offcpu_workload: fsync");
		exit(2);
	}
	posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	disk_fd = open(path, O_RDONLY | O_DIRECT);
	if (disk_fd < 0) {
		fprintf(stderr, "offcpu_workload: open %s O_DIRECT: %s\n", path, strerror(errno));
		exit(2);
	}
	unlink(path);
	close(fd);
}

/* The spinners' CPU: the last one this process may run on. */
static int shared_cpu(void)
{
	cpu_set_t set;
	int cpu = 0;

	if (sched_getaffinity(0, sizeof(set), &set) != 0)
		return 0;
	for (int i = 0; i < CPU_SETSIZE; i++)
		if (CPU_ISSET(i, &set))
			cpu = i;
	return cpu;
}

static int state_index(char c)
{
	switch (c) {
	case 'R':
		return ST_R;
	case 'S':
		return ST_S;
	case 'D':
		return ST_D;
	default:
		return ST_OTHER;
	}
}

/* The state letter of thread tid, or 0. */
static char thread_state(int tid)
{
	char path[64], buf[512];
	int fd;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", tid);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	char *p = strrchr(buf, ')');

	return p && p[1] == ' ' ? p[2] : 0;
}

/* Until the deadline: every worker's state letter every WATCH_NS. */
NOINLINE static void watch_states(uint64_t end)
{
	struct timespec gap = { 0, WATCH_NS };

	while (wall_ns() < end) {
		nanosleep(&gap, NULL);
		for (int i = 0; i < FN_COUNT; i++) {
			char c = workers[i].tid ? thread_state(workers[i].tid) : 0;

			if (c)
				workers[i].states[state_index(c)]++;
		}
	}
}

int main(int argc, char **argv)
{
	seconds = seconds_from_args(argc, argv, 1, 12.0);
	const char *dir = argc > 2 ? argv[2] : ".";
	char fs_name[32];
	int p[2], ctl[2];

	seed = seed_from_args(argc, argv, 3);
	open_disk_file(dir, fs_name, sizeof(fs_name));
	if (pipe(p) != 0 || pipe(ctl) != 0) {
		perror("offcpu_workload: pipe");
		return 2;
	}
	fflush(stdout);
	pid_t child = fork();

	if (child < 0) {
		perror("offcpu_workload: fork");
		return 2;
	}
	if (child == 0) {
		close(p[0]);
		close(ctl[1]);
		pipe_child(p[1], ctl[0]);
	}
	close(p[1]);
	close(ctl[0]);
	pipe_rd = p[0];

	int cpu = shared_cpu();

	printf("{\"event\":\"ready\",\"pids\":[%d,%d],\"seed\":%llu,\"disk_dir\":\"%s\","
	       "\"disk_fs_magic\":\"%s\",\"shared_cpu\":%d}\n",
	       (int)getpid(), (int)child, (unsigned long long)seed, dir, fs_name, cpu);
	fflush(stdout);
	wait_stdin_line();

	char go = 'g';

	if (write(ctl[1], &go, 1) != 1) {
		perror("offcpu_workload: write to the child");
		return 1;
	}
	uint64_t end = wall_ns() + (uint64_t)(seconds * 1e9);

	for (int i = 0; i < FN_COUNT; i++) {
		workers[i].fn = (enum fn)i;
		workers[i].end_ns = end;
		workers[i].cpu = cpu;
		if (pthread_create(&workers[i].thread, NULL, thread_start, &workers[i]) != 0) {
			fprintf(stderr, "offcpu_workload: pthread_create failed\n");
			return 1;
		}
	}
	watch_states(end);
	for (int i = 0; i < FN_COUNT; i++)
		pthread_join(workers[i].thread, NULL);
	close(pipe_rd); /* the child's next write fails: it exits */
	waitpid(child, NULL, 0);

	printf("{\"event\":\"done\",\"pid\":%d,\"child\":%d,\"seconds\":%.3f,\"workers\":[",
	       (int)getpid(), (int)child, seconds);
	for (int i = 0; i < FN_COUNT; i++) {
		struct worker *w = &workers[i];

		printf("%s{\"function\":\"%s\",\"tid\":%d,\"wall_ns\":%llu,\"cpu_ns\":%llu,"
		       "\"offcpu_ns\":%llu,\"in_calls_ns\":%llu,\"calls\":%llu",
		       i ? "," : "", fn_names[i], (int)w->tid, (unsigned long long)w->wall_ns,
		       (unsigned long long)w->cpu_ns,
		       (unsigned long long)(w->wall_ns > w->cpu_ns ? w->wall_ns - w->cpu_ns : 0),
		       (unsigned long long)w->in_calls_ns, (unsigned long long)w->calls);
		if (i == FN_LONG)
			printf(",\"start_real_ns\":%llu,\"end_real_ns\":%llu",
			       (unsigned long long)w->start_real_ns,
			       (unsigned long long)w->end_real_ns);
		if (i == FN_SPIN_A || i == FN_SPIN_B)
			printf(",\"cpu\":%d", w->cpu);
		printf(",\"proc_states\":{");
		for (int s = 0; s < ST_COUNT; s++)
			printf("%s\"%s\":%llu", s ? "," : "", st_names[s],
			       (unsigned long long)w->states[s]);
		printf("}}");
	}
	printf("]}\n");
	fflush(stdout);

	wait_stdin_eof();
	return 0;
}
