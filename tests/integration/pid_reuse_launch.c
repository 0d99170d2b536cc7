/* Launcher for test_pid_reuse.py: runs PROG_A, then PROG_B, under one and
 * the same pid.
 *
 *   pid_reuse_launch SECONDS PROG_A PROG_B
 *
 * How the pid is forced: /proc/sys/kernel/ns_last_pid holds the last pid
 * allocated in our pid namespace, and fork() tries the one after it first
 * (Documentation/admin-guide/sysctl/kernel.rst, ns_last_pid). The protocol
 * is the one of the commit that added the sysctl, which CRIU follows to
 * restore pids: for a free target pid P, open ns_last_pid, take an exclusive
 * flock on it (cooperating writers serialise on that lock), write P-1,
 * fork(), release the lock. Any process of the system that forks between
 * our write and our fork takes P first (no lock stops it), so the child
 * checks getpid() == P before it execs and otherwise exits at once with
 * status 111; the parent then reaps it and tries again, up to MAX_TRIES
 * times. P is chosen 1000 above the last pid allocated, free at the time.
 *
 * Each program is given SECONDS (of CPU time to burn) and is reaped before
 * the next one starts, which frees P. Prints, after both have exited,
 * {"event":"done","target":P,"runs":[{"prog":PATH,"pid":N,"tries":T,
 * "status":S},...]}; the programs print their own lines before that.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#define NS_LAST_PID "/proc/sys/kernel/ns_last_pid"
#define MAX_TRIES 200

static long read_long(const char *path)
{
	FILE *f = fopen(path, "r");
	long v = -1;

	if (!f || fscanf(f, "%ld", &v) != 1) {
		fprintf(stderr, "pid_reuse_launch: cannot read %s: %s\n", path, strerror(errno));
		exit(2);
	}
	fclose(f);
	return v;
}

static int pid_in_use(pid_t pid)
{
	char path[64];

	/* /proc/N exists for a thread id too, though readdir hides it. */
	snprintf(path, sizeof(path), "/proc/%d", (int)pid);
	return access(path, F_OK) == 0;
}

static pid_t choose_target(void)
{
	long max = read_long("/proc/sys/kernel/pid_max");
	long p = read_long(NS_LAST_PID) + 1000;

	for (int i = 0; i < 10000; i++, p++) {
		if (p >= max - 1)
			p = 1000;
		if (!pid_in_use((pid_t)p))
			return (pid_t)p;
	}
	fprintf(stderr, "pid_reuse_launch: no free pid found\n");
	exit(2);
}

/* Forks a child with pid target that execs argv; returns its pid (target)
 * and the number of forks it took, or exits 2. */
static pid_t spawn_as(pid_t target, char **argv, int *tries)
{
	for (*tries = 1; *tries <= MAX_TRIES; (*tries)++) {
		int fd = open(NS_LAST_PID, O_RDWR | O_CLOEXEC);
		char buf[32];
		int len;

		if (fd < 0 || flock(fd, LOCK_EX) != 0) {
			fprintf(stderr, "pid_reuse_launch: %s: %s\n", NS_LAST_PID, strerror(errno));
			exit(2);
		}
		len = snprintf(buf, sizeof(buf), "%d", (int)target - 1);
		if (write(fd, buf, (size_t)len) != len) {
			fprintf(stderr, "pid_reuse_launch: writing %s: %s\n", NS_LAST_PID,
				strerror(errno));
			exit(2);
		}
		fflush(stdout);
		pid_t pid = fork();

		if (pid == 0) {
			if (getpid() != target)
				_exit(111);
			execv(argv[0], argv);
			perror("execv");
			_exit(127);
		}
		flock(fd, LOCK_UN);
		close(fd);
		if (pid < 0) {
			perror("fork");
			exit(2);
		}
		if (pid == target)
			return pid;
		waitpid(pid, NULL, 0);
		if (pid_in_use(target)) {
			fprintf(stderr, "pid_reuse_launch: pid %d was taken by another process\n",
				(int)target);
			exit(2);
		}
	}
	fprintf(stderr, "pid_reuse_launch: no fork got pid %d in %d tries\n", (int)target,
		MAX_TRIES);
	exit(2);
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: %s SECONDS PROG_A PROG_B\n", argv[0]);
		return 2;
	}
	pid_t target = choose_target();
	pid_t pids[2];
	int tries[2], status[2];

	for (int i = 0; i < 2; i++) {
		char *child_argv[] = { argv[2 + i], argv[1], NULL };

		pids[i] = spawn_as(target, child_argv, &tries[i]);
		if (waitpid(pids[i], &status[i], 0) != pids[i]) {
			perror("waitpid");
			return 2;
		}
	}
	printf("{\"event\":\"done\",\"target\":%d,\"runs\":[", (int)target);
	for (int i = 0; i < 2; i++)
		printf("%s{\"prog\":\"%s\",\"pid\":%d,\"tries\":%d,\"status\":%d}", i ? "," : "",
		       argv[2 + i], (int)pids[i], tries[i], status[i]);
	printf("]}\n");
	return fflush(stdout) == 0 ? 0 : 1;
}
