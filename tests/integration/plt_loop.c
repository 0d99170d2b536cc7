/* Workload for test_plt_names.py, test_main_mapping.py and
 * test_pid_label.py: a loop that calls a tiny function of a shared library
 * (libsmolder_it_pltlib.so) and libc's strlen, each through its PLT stub,
 * in one or more processes of one executable and, optionally, a lighter
 * process of another.
 *
 *   smolder_it_plt SECONDS [CHILDREN [LIGHT_EXE]]
 *
 * The process and CHILDREN forked copies of it (same executable, other
 * pids) run the loop for SECONDS of wall time. With LIGHT_EXE (a copy of
 * this executable under another name), a process forked before the
 * children runs `LIGHT_EXE --light SECONDS FD`: it burns a fifth of the
 * time and sleeps the rest, so it has fewer samples than each child, and
 * a lower pid; the parent then only waits. The ready line names every pid
 * that burns, the light one also as "light". All wait for the harness's
 * go (the children and the light one on a pipe the parent closes), and
 * all stay alive until stdin closes. Protocol with the harness: see
 * workload.h.
 */
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "workload.h"

#define MAX_CHILDREN 8

uint64_t plt_tiny(uint64_t x);

volatile uint64_t sink;
static char text[] = "a short string, read by strlen";

/* The calls go through plt_tiny@plt and strlen@plt. */
NOINLINE uint64_t call_through_plt(uint64_t n)
{
	KEEP_FRAME();
	uint64_t x = sink;

	/* strlen takes ten times what plt_tiny does: called less often, it
	 * leaves the stubs a share of the samples a test can count on. */
	for (uint64_t i = 0; i < n; i++) {
		x = plt_tiny(x);
		if (!(i & 7))
			x += strlen(text + (x & 7));
	}
	return store_sink(&sink, x);
}

static void burn_for(double seconds, double duty)
{
	uint64_t end = wall_ns() + (uint64_t)(seconds * 1e9);

	while (wall_ns() < end) {
		uint64_t slice = wall_ns();

		while (wall_ns() - slice < (uint64_t)(duty * 10e6))
			call_through_plt(10000);
		if (duty < 1.0)
			usleep((useconds_t)((1.0 - duty) * 10e3));
	}
}

/* Blocks until the parent closes the go pipe. */
static void wait_go(int fd)
{
	char c;

	while (read(fd, &c, 1) > 0)
		;
	close(fd);
}

static int run_light(int argc, char **argv)
{
	if (argc != 4)
		return 2;
	wait_go(atoi(argv[3]));
	burn_for(atof(argv[2]), 0.2);
	wait_stdin_eof();
	return 0;
}

static pid_t start_light(const char *exe, double seconds, const int go[2])
{
	char secs[32], fd[16];
	pid_t pid = fork();

	if (pid != 0)
		return pid;
	close(go[1]); /* else it would wait for itself to close it */
	snprintf(secs, sizeof(secs), "%g", seconds);
	snprintf(fd, sizeof(fd), "%d", go[0]);
	execl(exe, exe, "--light", secs, fd, (char *)NULL);
	perror("plt_loop: exec");
	_exit(127);
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "--light"))
		return run_light(argc, argv);

	double seconds = seconds_from_args(argc, argv, 1, 10.0);
	int children = argc > 2 ? atoi(argv[2]) : 0;
	pid_t pids[MAX_CHILDREN + 1], light = 0;
	bool burn = argc <= 3;
	int go[2];

	if (children < 0 || children > MAX_CHILDREN || pipe(go)) {
		fprintf(stderr, "usage: %s SECONDS [CHILDREN (0-%d) [LIGHT_EXE]]\n", argv[0],
			MAX_CHILDREN);
		return 2;
	}
	if (!burn)
		light = start_light(argv[3], seconds, go);
	for (int i = 0; i < children; i++) {
		pids[i] = fork();
		if (pids[i] == 0) {
			close(go[1]);
			wait_go(go[0]);
			burn_for(seconds, 1.0);
			wait_stdin_eof();
			_exit(0);
		}
	}
	close(go[0]);

	if (burn)
		printf("{\"event\":\"ready\",\"pids\":[%d", (int)getpid());
	else
		printf("{\"event\":\"ready\",\"light\":%d,\"pids\":[%d", (int)light, (int)light);
	for (int i = 0; i < children; i++)
		printf(",%d", (int)pids[i]);
	printf("]}\n");
	fflush(stdout);
	wait_stdin_line();
	close(go[1]);

	if (burn)
		burn_for(seconds, 1.0);
	else
		usleep((useconds_t)(seconds * 1e6));
	printf("{\"event\":\"done\",\"pid\":%d}\n", (int)getpid());
	fflush(stdout);

	wait_stdin_eof();
	for (int i = 0; i < children; i++)
		waitpid(pids[i], NULL, 0);
	if (light > 0)
		waitpid(light, NULL, 0);
	return 0;
}
