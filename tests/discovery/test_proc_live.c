/* tests/discovery: the process table against the real /proc. This test
 * finds itself, places one of its own functions in its maps, and sees a
 * child it started exit. Its executable's name is longer than a comm (15)
 * on purpose: the service name must come from the exe link. */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
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
	CHECK_INT(disc_table_refresh_maps(t, p), 0);
	CHECK(disc_mappings_find(&p->maps, (uint64_t)(uintptr_t)&test_finds_itself) != NULL);
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
	disc_table_expire(t);
	CHECK(disc_table_get(t, child, start) == NULL);
}

int main(void)
{
	struct disc_table *t = disc_table_new(NULL);

	if (!t) {
		perror("disc_table_new");
		return 2;
	}
	CHECK_INT(disc_table_scan(t), 0);
	CHECK(disc_table_size(t) >= 2);
	test_finds_itself(t);
	test_kernel_thread(t);
	test_child_exits(t);
	disc_table_free(t);
	return check_report("test_proc_live");
}
