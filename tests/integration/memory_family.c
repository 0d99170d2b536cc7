/* Workload for test_memory_targets.py: a memory target's family and its
 * call rate, driven line by line on stdin.
 *
 *   memory_family
 *
 * Prints {"event":"ready","pid":P} and then obeys, one command a line, and
 * answers each with a JSON line:
 *   fork     forks a child that calls malloc and free 1,000 times a second
 *            until its parent exits: {"event":"forked","pid":C}
 *   exec     forks a child that execs /bin/sleep 600 (another executable:
 *            no longer its parent's image): {"event":"execed","pid":C}
 *   rate N   this process calls malloc and free N times a second from
 *            now on (0: none): {"event":"rate","n":N}
 * and exits at EOF, taking its children with it (they watch their parent).
 * Built with -fno-builtin: every call is a call.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

static volatile void *sink;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Calls malloc and free n times, spread over a millisecond. */
static void __attribute__((noinline)) churn(unsigned int n)
{
	for (unsigned int i = 0; i < n; i++) {
		void *p = malloc(64 + (i & 255));

		sink = p;
		free(p);
	}
}

static void child_loop(void)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	for (;;) {
		struct timespec ms = { 0, 1000000 };

		churn(1);
		nanosleep(&ms, NULL);
	}
}

static pid_t spawn(int exec_sleep)
{
	pid_t c = fork();

	if (c == 0) {
		if (exec_sleep) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			execl("/bin/sleep", "sleep", "600", (char *)NULL);
			_exit(127);
		}
		child_loop();
	}
	return c;
}

static void answer(const char *line)
{
	unsigned int n;
	pid_t c;

	if (strncmp(line, "fork", 4) == 0 && (c = spawn(0)) > 0)
		printf("{\"event\":\"forked\",\"pid\":%d}\n", (int)c);
	else if (strncmp(line, "exec", 4) == 0 && (c = spawn(1)) > 0)
		printf("{\"event\":\"execed\",\"pid\":%d}\n", (int)c);
	else if (sscanf(line, "rate %u", &n) == 1)
		printf("{\"event\":\"rate\",\"n\":%u}\n", n);
	fflush(stdout);
}

int main(void)
{
	unsigned int rate = 0;
	double next = now_s();
	char line[128];

	printf("{\"event\":\"ready\",\"pid\":%d}\n", (int)getpid());
	fflush(stdout);
	for (;;) {
		struct pollfd in = { .fd = 0, .events = POLLIN };

		if (poll(&in, 1, rate ? 0 : 100) > 0) {
			if (!fgets(line, sizeof(line), stdin))
				return 0;
			if (sscanf(line, "rate %u", &rate) != 1 && strncmp(line, "rate", 4) == 0)
				rate = 0;
			answer(line);
		}
		if (!rate)
			continue;
		/* rate calls a second, a millisecond's share at a time. */
		churn(rate / 1000 ? rate / 1000 : 1);
		next += 0.001;
		while (now_s() < next) {
			struct timespec us = { 0, 100000 };

			nanosleep(&us, NULL);
		}
		if (now_s() - next > 0.1)
			next = now_s(); /* behind: do not burst to catch up */
	}
}
