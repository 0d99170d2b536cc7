/* tests/discovery: the process table against the real /proc. This test
 * finds itself, places one of its own functions in its maps, finds its own
 * cgroup and command line, and sees a child it started exit. Its executable's name is longer
 * than a comm (15) on purpose: the service name must come from the exe
 * link. */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "disc.h"

#define EXE_NAME "disc_live_proc_test"

static uint64_t start_of(int pid)
{
	struct disc_stat st;
	int err = disc_stat_read(NULL, pid, &st);

	CHECK_INT(err, 0);
	return err ? 0 : st.start_ticks;
}

static void test_finds_itself(struct disc_table *t)
{
	int pid = getpid();
	const struct disc_process *p = disc_table_get(t, pid, start_of(pid));
	const struct disc_mapping *m;

	CHECK(p != NULL);
	if (!p)
		return;
	CHECK_INT(p->pid, pid);
	CHECK(!p->exited);
	CHECK(!p->kernel_thread);
	CHECK_STR(p->service_name, EXE_NAME);
	m = disc_mappings_find(&p->maps, (uint64_t)(uintptr_t)&test_finds_itself);
	CHECK(m != NULL);
	if (m) {
		CHECK_INT(m->perms[2], 'x');
		CHECK(m->path && strlen(m->path) > strlen(EXE_NAME) &&
		      !strcmp(m->path + strlen(m->path) - strlen("/" EXE_NAME), "/" EXE_NAME));
		CHECK_STR(m->path, p->exe_path);
	}
	disc_table_next_interval(t);
	CHECK_INT(disc_table_refresh_maps(t, p), 0);
	CHECK(disc_mappings_find(&p->maps, (uint64_t)(uintptr_t)&test_finds_itself) != NULL);
}

/* The path /proc/self/cgroup places this process in, read here with stdio
 * and none of the parser's code: the v2 line unless at "/", else
 * name=systemd's unless at "/", else the first other line not at "/", else
 * "/". NULL when the file cannot be read. */
static char *own_cgroup_path(void)
{
	char *v2 = NULL, *systemd = NULL, *other = NULL, *line = NULL, *chosen;
	size_t cap = 0;
	ssize_t n;
	FILE *f = fopen("/proc/self/cgroup", "r");

	if (!f)
		return NULL;
	while ((n = getline(&line, &cap, f)) > 0) {
		char *controllers = strchr(line, ':');
		char *path = controllers ? strchr(controllers + 1, ':') : NULL;

		if (!path)
			continue;
		path++;
		if (line[n - 1] == '\n')
			line[n - 1] = '\0';
		if (!strcmp(path, "/"))
			continue;
		if (!strncmp(line, "0::", 3))
			v2 = v2 ? v2 : strdup(path);
		else if (!strncmp(controllers, ":name=systemd:", 14))
			systemd = systemd ? systemd : strdup(path);
		else
			other = other ? other : strdup(path);
	}
	free(line);
	fclose(f);
	chosen = v2 ? v2 : systemd ? systemd : other ? other : strdup("/");
	if (chosen != v2)
		free(v2);
	if (chosen != systemd)
		free(systemd);
	if (chosen != other)
		free(other);
	return chosen;
}

static void test_own_cgroup(struct disc_table *t)
{
	int pid = getpid();
	const struct disc_process *p = disc_table_get(t, pid, start_of(pid));
	char *want = own_cgroup_path();
	struct disc_container c;

	CHECK(p != NULL);
	CHECK(want != NULL);
	if (p && want) {
		CHECK_STR(p->cgroup_path, want);
		/* Whatever container that is (none, on a developer's host),
		 * the table says what the path says. */
		CHECK_INT(disc_container_from_cgroup(want, &c), 0);
		CHECK_INT(p->container_runtime, c.runtime);
		CHECK_STR(p->container_id, c.id);
		CHECK_STR(p->pod_uid, c.pod_uid);
		printf("own cgroup: %s (runtime %s)\n", want,
		       c.runtime ? disc_container_runtime_name(c.runtime) : "none");
	}
	free(want);
}

/* The command line starts with argv[0] (as it was run: meson gives a path)
 * and holds the arguments main was given, joined by spaces. */
static void test_own_cmdline(struct disc_table *t, int argc, char **argv)
{
	int pid = getpid();
	const struct disc_process *p = disc_table_get(t, pid, start_of(pid));
	size_t n0 = strlen(argv[0]);

	CHECK(p != NULL);
	if (!p)
		return;
	CHECK(p->cmdline != NULL);
	if (!p->cmdline)
		return;
	CHECK(!strncmp(p->cmdline, argv[0], n0) &&
	      (p->cmdline[n0] == '\0' || p->cmdline[n0] == ' '),
	      "cmdline \"%s\", argv[0] \"%s\"", p->cmdline, argv[0]);
	CHECK_INT(p->cmdline[n0] == '\0', argc == 1);
}

static void test_kernel_thread(struct disc_table *t)
{
	/* kthreadd is pid 2 wherever /proc shows the host's processes. */
	struct disc_stat st;
	const struct disc_process *p;

	if (disc_stat_read(NULL, 2, &st) || strcmp(st.comm, "kthreadd"))
		return;
	p = disc_table_get(t, 2, st.start_ticks);
	CHECK(p != NULL);
	if (p) {
		CHECK(p->kernel_thread);
		CHECK_STR(p->service_name, "kernel");
		CHECK_STR(p->cgroup_path, NULL);
		CHECK_STR(p->cmdline, NULL);
	}
}

static void test_child_exits(struct disc_table *t)
{
	const struct disc_process *p;
	uint64_t start;
	int fds[2], status;
	pid_t child;
	char c;

	if (pipe(fds)) {
		perror("pipe");
		check_failures++;
		return;
	}
	child = fork();
	if (child < 0) {
		perror("fork");
		check_failures++;
		return;
	}
	if (child == 0) {
		/* Lives until the parent closes its end of the pipe. */
		close(fds[1]);
		while (read(fds[0], &c, 1) < 0 && errno == EINTR)
			;
		_exit(0);
	}
	close(fds[0]);
	start = start_of(child);
	CHECK_INT(disc_table_scan(t), 0);
	p = disc_table_get(t, child, start);
	CHECK(p != NULL);
	if (p) {
		CHECK(!p->exited);
		/* A fork runs the parent's executable. */
		CHECK_STR(p->service_name, EXE_NAME);
	}

	close(fds[1]);
	CHECK_INT(waitpid(child, &status, 0), child);
	CHECK_INT(disc_table_scan(t), 0);
	CHECK(disc_table_get(t, child, start) == p);
	if (p)
		CHECK(p->exited);
	CHECK_INT(disc_table_refresh_maps(t, p), -ESRCH);
	disc_table_next_interval(t);
	disc_table_expire(t);
	CHECK(disc_table_get(t, child, start) == NULL);
}

int main(int argc, char **argv)
{
	struct disc_table *t = disc_table_new(NULL);

	if (!t) {
		perror("disc_table_new");
		return 2;
	}
	CHECK_INT(disc_table_scan(t), 0);
	CHECK(disc_table_size(t) >= 2);
	test_finds_itself(t);
	test_own_cgroup(t);
	test_own_cmdline(t, argc, argv);
	test_kernel_thread(t);
	test_child_exits(t);
	disc_table_free(t);
	return check_report("test_proc_live");
}
