/* Workload for test_cache_shared.py: CHILDREN processes of one binary, all
 * on CPU in the same function at once.
 *
 *   smolder_it_cache_burn CHILDREN SECONDS
 *
 * Forks CHILDREN children (fork only, no exec: every one maps exactly the
 * files the parent maps), each blocked on a pipe, and prints
 * {"event":"ready","pids":[PARENT,CHILD...]}. On a line on stdin it closes
 * the pipe: the children spin in cache_hot until the parent, after SECONDS
 * of wall time, raises a flag in shared memory. The children read no clock
 * and make no system call while they spin, so their stacks hold only this
 * binary and libc. The parent reaps them, prints
 * {"event":"done","children":N} and waits for stdin to close.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "workload.h"

#define MAX_CHILDREN 256
#define ROUNDS 100000

volatile uint64_t cache_sink;

NOINLINE uint64_t cache_hot(uint64_t n)
{
	KEEP_FRAME();
	return store_sink(&cache_sink, mix_rounds(cache_sink | 1, n));
}

NOINLINE void cache_child(volatile int *stop, int start_fd)
{
	char c;

	while (read(start_fd, &c, 1) > 0)
		;
	while (!*stop)
		cache_hot(ROUNDS);
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: %s CHILDREN SECONDS\n", argv[0]);
		return 2;
	}
	int n = atoi(argv[1]);
	double seconds = atof(argv[2]);
	pid_t pids[MAX_CHILDREN];
	int start[2];
	volatile int *stop = mmap(NULL, sizeof(*stop), PROT_READ | PROT_WRITE,
				  MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (n < 1 || n > MAX_CHILDREN || stop == MAP_FAILED || pipe(start) != 0) {
		fprintf(stderr, "cache_burn: bad CHILDREN (1..%d), or mmap/pipe failed\n",
			MAX_CHILDREN);
		return 2;
	}
	for (int i = 0; i < n; i++) {
		pids[i] = fork();
		if (pids[i] < 0) {
			perror("fork");
			return 2;
		}
		if (pids[i] == 0) {
			close(start[1]);
			cache_child(stop, start[0]);
			_exit(0);
		}
	}
	close(start[0]);
	printf("{\"event\":\"ready\",\"pids\":[%d", (int)getpid());
	for (int i = 0; i < n; i++)
		printf(",%d", (int)pids[i]);
	printf("]}\n");
	fflush(stdout);
	wait_stdin_line();
	close(start[1]);

	struct timespec ts = { (time_t)seconds,
			       (long)((seconds - (double)(time_t)seconds) * 1e9) };

	nanosleep(&ts, NULL);
	*stop = 1;
	int ok = 0;

	for (int i = 0; i < n; i++) {
		int status;

		if (waitpid(pids[i], &status, 0) == pids[i] && WIFEXITED(status) &&
		    WEXITSTATUS(status) == 0)
			ok++;
	}
	printf("{\"event\":\"done\",\"children\":%d}\n", ok);
	fflush(stdout);
	wait_stdin_eof();
	return ok == n ? 0 : 1;
}
