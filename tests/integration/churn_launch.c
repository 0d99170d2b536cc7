/* Launcher for test_churn.py: a storm of short processes at a steady rate.
 *
 *   churn_launch PROG RATE SECONDS WORKERS
 *
 * Prints {"event":"ready","pids":[P]} and waits for a line on stdin. Then
 * forks WORKERS worker processes; for SECONDS of wall time each starts PROG
 * (posix_spawn: clone + exec) whenever fewer than RATE/WORKERS x elapsed have
 * been started, reaping its children as they exit, at most MAX_INFLIGHT
 * alive at once. Several workers, because on 2 CPUs kept busy by other
 * programs one launcher waits for a CPU at every spawn and falls far short of
 * 1000 a second. The workers count in shared memory; once all are done the
 * launcher prints {"event":"done","launched":N,"failed":F,"bad_status":B,
 * "seconds":S,"rate":(N-F)/S,"max_inflight":M} and exits. "rate" is what was
 * achieved, not what was asked.
 */
#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "workload.h"

#define MAX_INFLIGHT 64
#define MAX_WORKERS 64

extern char **environ;

struct tally {
	long launched, failed, bad_status, max_inflight;
	uint64_t end_ns;
};

static long reap(long inflight, int block, struct tally *t)
{
	int status;
	pid_t pid;

	while (inflight > 0 && (pid = waitpid(-1, &status, block ? 0 : WNOHANG)) > 0) {
		inflight--;
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			t->bad_status++;
		block = 0;
	}
	return inflight;
}

static void work(char *prog, double rate, uint64_t t0, uint64_t span_ns, struct tally *t)
{
	char *child_argv[] = { prog, NULL };
	long inflight = 0;
	uint64_t now;

	while ((now = wall_ns()) - t0 < span_ns) {
		long due = (long)((double)(now - t0) * rate / 1e9) + 1;

		inflight = reap(inflight, 0, t);
		if (t->launched >= due) {
			uint64_t next_ns = t0 + (uint64_t)((double)t->launched * 1e9 / rate);
			struct timespec ts = { 0, 0 };

			if (next_ns > now)
				ts.tv_nsec = (long)(next_ns - now);
			nanosleep(&ts, NULL);
			continue;
		}
		if (inflight >= MAX_INFLIGHT) {
			inflight = reap(inflight, 1, t);
			continue;
		}
		pid_t pid;
		int err = posix_spawn(&pid, prog, NULL, NULL, child_argv, environ);

		t->launched++;
		if (err) {
			if (++t->failed == 1)
				fprintf(stderr, "churn_launch: posix_spawn %s: %s\n", prog, strerror(err));
			continue;
		}
		if (++inflight > t->max_inflight)
			t->max_inflight = inflight;
	}
	t->end_ns = wall_ns();
	while (inflight > 0)
		inflight = reap(inflight, 1, t);
}

int main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: %s PROG RATE SECONDS WORKERS\n", argv[0]);
		return 2;
	}
	double rate = atof(argv[2]);
	uint64_t span_ns = (uint64_t)(atof(argv[3]) * 1e9);
	int workers = atoi(argv[4]);

	if (workers < 1 || workers > MAX_WORKERS || rate <= 0) {
		fprintf(stderr, "churn_launch: bad RATE or WORKERS (1..%d)\n", MAX_WORKERS);
		return 2;
	}
	struct tally *tally = mmap(NULL, sizeof(*tally) * (size_t)workers, PROT_READ | PROT_WRITE,
				   MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (tally == MAP_FAILED) {
		perror("mmap");
		return 2;
	}
	printf("{\"event\":\"ready\",\"pids\":[%d]}\n", (int)getpid());
	fflush(stdout);
	wait_stdin_line();

	uint64_t t0 = wall_ns(), end_ns = t0;

	for (int i = 0; i < workers; i++) {
		pid_t pid = fork();

		if (pid < 0) {
			perror("fork");
			return 2;
		}
		if (pid == 0) {
			work(argv[1], rate / workers, t0, span_ns, &tally[i]);
			_exit(0);
		}
	}
	for (int i = 0; i < workers; i++) {
		int status;

		if (wait(&status) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			fprintf(stderr, "churn_launch: a worker failed\n");
			return 2;
		}
	}
	struct tally sum = { 0 };

	for (int i = 0; i < workers; i++) {
		sum.launched += tally[i].launched;
		sum.failed += tally[i].failed;
		sum.bad_status += tally[i].bad_status;
		sum.max_inflight += tally[i].max_inflight;
		if (tally[i].end_ns > end_ns)
			end_ns = tally[i].end_ns;
	}
	double seconds = (double)(end_ns - t0) / 1e9;

	printf("{\"event\":\"done\",\"launched\":%ld,\"failed\":%ld,\"bad_status\":%ld,"
	       "\"seconds\":%.3f,\"rate\":%.1f,\"max_inflight\":%ld}\n",
	       sum.launched, sum.failed, sum.bad_status, seconds,
	       (double)(sum.launched - sum.failed) / seconds, sum.max_inflight);
	return fflush(stdout) == 0 ? 0 : 1;
}
