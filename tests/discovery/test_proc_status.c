/* tests/discovery: the NSpid line of /proc/PID/status, on texts shaped
 * like the kernel's (nested namespaces, a forged-looking Name) and on texts
 * that must be refused; then the real thing: this process, whose NSpid is
 * its own pid, and (when we may create a pid namespace) a child that is
 * pid 1 in a namespace of its own, as the process table must say too. */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "disc.h"

struct status_case {
	const char *name;
	const char *text;
	int err;
	int nspid;
};

/* The lines around NSpid in a real status file. */
#define HEAD "Name:\tcat\nUmask:\t0022\nState:\tR (running)\nTgid:\t25815\nNgid:\t0\n" \
	     "Pid:\t25815\nPPid:\t25813\nTracerPid:\t0\nUid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\n" \
	     "FDSize:\t256\nGroups:\t \nNStgid:\t25815\t9\n"
#define TAIL "NSpgid:\t25815\nNSsid:\t2711\nVmPeak:\t    5512 kB\nThreads:\t1\n"

static const struct status_case cases[] = {
	{ "the host's namespace", HEAD "NSpid:\t25815\n" TAIL, 0, 25815 },
	{ "a container", HEAD "NSpid:\t25815\t9\n" TAIL, 0, 9 },
	{ "a container's init, nested twice", HEAD "NSpid:\t4242\t17\t1\n" TAIL, 0, 1 },
	{ "the last line, no newline", "Name:\tx\nNSpid:\t5\t6", 0, 6 },
	{ "blanks after the last pid", "NSpid:\t5 \t\n", 0, 5 },
	{ "spaces between pids", "NSpid: 5 77\n", 0, 77 },
	{ "a Name that looks like an NSpid line (the kernel escapes newlines)",
	  "Name:\tx\\nNSpid:\t99\nNSpid:\t5\n", 0, 5 },
	{ "the largest pid", "NSpid:\t2147483647\n", 0, 2147483647 },

	{ "no NSpid line (kernels before 4.1)", HEAD TAIL, -ENODATA, 0 },
	{ "empty", "", -ENODATA, 0 },
	{ "a key that only begins alike", "NSpidx:\t5\n", -ENODATA, 0 },
	{ "not at the start of a line", "Name:\tx NSpid:\t5\n", -ENODATA, 0 },
	{ "no pid", "NSpid:\n", -EINVAL, 0 },
	{ "blanks only", "NSpid:\t \t\n", -EINVAL, 0 },
	{ "pid zero", "NSpid:\t12\t0\n", -EINVAL, 0 },
	{ "past INT_MAX", "NSpid:\t2147483648\n", -EINVAL, 0 },
	{ "junk glued to a pid", "NSpid:\t12x\n", -EINVAL, 0 },
	{ "no blank after the key", "NSpid:12\n", -EINVAL, 0 },
	{ "a negative pid", "NSpid:\t-12\n", -EINVAL, 0 },
	{ "two NSpid lines", "NSpid:\t5\nNSpid:\t6\n", -EINVAL, 0 },
};

static void check_cases(void)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct status_case *c = &cases[i];
		int failed_before = check_failures;
		int nspid = -1;
		int err = disc_status_parse_nspid(c->text, strlen(c->text), &nspid);

		CHECK_INT(err, c->err);
		if (!err)
			CHECK_INT(nspid, c->nspid);
		if (check_failures != failed_before)
			fprintf(stderr, "  in case: %s\n", c->name);
	}
	/* The text is bounded by its length, not by a NUL. */
	{
		int nspid = -1;

		CHECK_INT(disc_status_parse_nspid("NSpid:\t5\t6", 9, &nspid), 0);
		CHECK_INT(nspid, 5);
	}
}

static uint64_t start_of(int pid)
{
	struct disc_stat st;

	return disc_stat_read(NULL, pid, &st) ? 0 : st.start_ticks;
}

/* This process, in the namespace of the /proc it reads. */
static void check_self(void)
{
	struct disc_table *t = disc_table_new(NULL);
	const struct disc_process *p;
	int nspid = -1;

	CHECK_INT(disc_status_read_nspid(NULL, getpid(), &nspid), 0);
	CHECK_INT(nspid, getpid());
	CHECK_INT(disc_status_read_nspid(NULL, 0, &nspid), -EINVAL);
	p = disc_table_get(t, getpid(), start_of(getpid()));
	CHECK(p != NULL);
	if (p)
		CHECK_INT(p->nspid, getpid());
	disc_table_free(t);
}

/* The helper of check_namespace: makes a pid namespace, starts its init,
 * tells our parent the init's pid (or -errno) and waits for it. The test
 * process itself stays in its namespace, as a sanitizer's exit-time
 * tracer needs. */
static void namespace_helper(int out)
{
	int msg, status;
	pid_t init;

	if (unshare(CLONE_NEWPID)) {
		msg = -errno;
	} else {
		init = fork();
		if (init == 0) {
			pause();
			_exit(0);
		}
		msg = init < 0 ? -errno : (int)init;
	}
	if (write(out, &msg, sizeof(msg)) != sizeof(msg))
		_exit(1);
	if (msg > 0)
		waitpid(msg, &status, 0);
	_exit(0);
}

/* A process in a new pid namespace is its init: pid 1 there. */
static void check_namespace(void)
{
	struct disc_table *t;
	const struct disc_process *p;
	int fds[2], init = 0, nspid = -1, status;
	pid_t helper;

	if (pipe(fds)) {
		CHECK(0, "pipe: %s", strerror(errno));
		return;
	}
	helper = fork();
	if (helper == 0) {
		close(fds[0]);
		namespace_helper(fds[1]);
	}
	close(fds[1]);
	if (helper < 0 || read(fds[0], &init, sizeof(init)) != sizeof(init))
		CHECK(0, "no word from the namespace helper");
	close(fds[0]);
	if (init < 0)
		printf("unshare(CLONE_NEWPID): %s: pid namespaces not checked\n",
		       strerror(-init));
	if (init > 0) {
		CHECK_INT(disc_status_read_nspid(NULL, init, &nspid), 0);
		CHECK_INT(nspid, 1);
		t = disc_table_new(NULL);
		p = disc_table_get(t, init, start_of(init));
		CHECK(p != NULL);
		if (p) {
			CHECK_INT(p->pid, init);
			CHECK_INT(p->nspid, 1);
		}
		disc_table_free(t);
		kill(init, SIGKILL);
	}
	if (helper > 0)
		waitpid(helper, &status, 0);
}

int main(void)
{
	check_cases();
	check_self();
	check_namespace();
	return check_report("test_proc_status");
}
