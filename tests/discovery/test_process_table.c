/* tests/discovery: the process table, against a fake proc root built in a
 * temporary directory (<root>/<pid>/stat, maps, exe, cgroup, cmdline), where
 * the test decides which processes start, exit and reuse a pid, and which
 * container each runs in. */
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "disc.h"

#define PF_KTHREAD 0x00200000u

/* A literal with its NULs, for write_bytes. */
#define TEXT(s) s, sizeof(s) - 1

static char root[64];

/* Writes len bytes of text, NULs and all. */
static void write_bytes(int pid, const char *name, const char *text, size_t len)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%d/%s", root, pid, name);
	f = fopen(path, "w");
	if (!f || fwrite(text, 1, len, f) != len || fclose(f)) {
		perror(path);
		exit(2);
	}
}

static void write_file(int pid, const char *name, const char *text)
{
	write_bytes(pid, name, text, strlen(text));
}

static void write_stat(int pid, const char *comm, unsigned int flags, uint64_t start)
{
	char text[256];

	snprintf(text, sizeof(text),
		 "%d (%s) S 1 %d %d 0 -1 %u 0 0 0 0 0 0 0 0 20 0 1 0 %llu 0 0 0\n",
		 pid, comm, pid, pid, flags, (unsigned long long)start);
	write_file(pid, "stat", text);
}

/* A process dir with stat and maps, and an exe link when exe is not NULL. */
static void make_process(int pid, const char *comm, unsigned int flags, uint64_t start,
			 const char *exe, const char *maps)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/%d", root, pid);
	if (mkdir(path, 0755)) {
		perror(path);
		exit(2);
	}
	write_stat(pid, comm, flags, start);
	write_file(pid, "maps", maps);
	if (exe) {
		snprintf(path, sizeof(path), "%s/%d/exe", root, pid);
		if (symlink(exe, path)) {
			perror(path);
			exit(2);
		}
	}
}

static int remove_one(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	(void)sb;
	(void)type;
	(void)ftw;
	return remove(path);
}

static void remove_tree(const char *path)
{
	if (nftw(path, remove_one, 16, FTW_DEPTH | FTW_PHYS))
		perror(path);
}

static void remove_process(int pid)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/%d", root, pid);
	remove_tree(path);
}

#define SERVER_MAPS                                                                  \
	"5600000000-5600001000 r--p 00000000 08:01 11 /srv/app/server\n"             \
	"5600001000-5600005000 r-xp 00001000 08:01 11 /srv/app/server\n"             \
	"7f0000000000-7f0000001000 rw-p 00000000 00:00 0 \n"

/* pid 100 runs in a Kubernetes pod (containerd, cgroupfs driver, cgroup v1). */
#define SERVER_CONTAINER "d2a84f4b8b650937ec8f73cd8be2c74add5a911ba64df27458ed8229da804a26"
#define SERVER_POD "5b5d0c7d-e998-4ab2-be8e-1572cd062ca2"
#define SERVER_CGROUP_PATH "/kubepods/burstable/pod" SERVER_POD "/" SERVER_CONTAINER
#define SERVER_CGROUP                                                                \
	"5:pids:" SERVER_CGROUP_PATH "\n4:memory:" SERVER_CGROUP_PATH "\n"             \
	"3:cpu,cpuacct:" SERVER_CGROUP_PATH "\n2:rdma:/\n1:name=systemd:" SERVER_CGROUP_PATH "\n"

/* pid 100's arguments, one of them empty, and a newline in one. */
static const char server_cmdline[] = "/srv/app/server\0--port\08080\0\0--motd\0hi\nthere\0";
#define SERVER_CMDLINE "/srv/app/server --port 8080  --motd hi?there"

static struct disc_table *new_table(void)
{
	struct disc_table_opts opts = { .sz = sizeof(opts), .proc_root = root };
	struct disc_table *t = disc_table_new(&opts);

	if (!t) {
		perror("disc_table_new");
		exit(2);
	}
	return t;
}

static void test_scan_finds_processes(void)
{
	struct disc_table *t = new_table();
	const struct disc_process *p;

	CHECK_INT(disc_table_scan(t), 0);
	CHECK_INT(disc_table_size(t), 4);

	p = disc_table_get(t, 100, 5000);
	CHECK(p != NULL);
	if (p) {
		CHECK_INT(p->pid, 100);
		CHECK_U64(p->start_ticks, 5000);
		CHECK_STR(p->comm, "server");
		CHECK_STR(p->exe_path, "/srv/app/server");
		CHECK_STR(p->service_name, "server");
		CHECK_STR(p->cmdline, SERVER_CMDLINE);
		CHECK(!p->kernel_thread);
		CHECK(!p->exited);
		CHECK_INT(p->maps.n, 3);
		CHECK_STR(p->cgroup_path, SERVER_CGROUP_PATH);
		CHECK_INT(p->container_runtime, DISC_CONTAINER_CONTAINERD);
		CHECK_STR(p->container_id, SERVER_CONTAINER);
		CHECK_STR(p->pod_uid, SERVER_POD);
		if (p->maps.n == 3) {
			CHECK_U64(p->maps.v[1].start, 0x5600001000);
			CHECK_STR(p->maps.v[1].path, "/srv/app/server");
			CHECK(disc_mappings_find(&p->maps, 0x5600002345) == &p->maps.v[1]);
		}
	}
	/* Known entries come back as the same object. */
	CHECK(disc_table_get(t, 100, 5000) == p);

	p = disc_table_get(t, 2, 31);
	CHECK(p != NULL);
	if (p) {
		CHECK(p->kernel_thread);
		CHECK_STR(p->exe_path, NULL);
		CHECK_STR(p->service_name, "kernel");
		CHECK_INT(p->maps.n, 0);
		/* Its cmdline file is not read (a kernel thread's is empty,
		 * this one's is not), nor its cgroup file (which says docker). */
		CHECK_STR(p->cmdline, NULL);
		CHECK_STR(p->cgroup_path, NULL);
		CHECK_INT(p->container_runtime, DISC_CONTAINER_NONE);
		CHECK_STR(p->container_id, "");
	}

	p = disc_table_get(t, 200, 7000);
	CHECK(p != NULL);
	if (p) {
		CHECK_STR(p->exe_path, "/opt/my tools/bin/worker.bin (deleted)");
		CHECK_STR(p->service_name, "worker.bin");
		/* setproctitle: as written, the NULs after it dropped. */
		CHECK_STR(p->cmdline, "worker: idle, 3 jobs done");
		/* A host process. */
		CHECK_STR(p->cgroup_path, "/system.slice/worker.service");
		CHECK_INT(p->container_runtime, DISC_CONTAINER_NONE);
		CHECK_STR(p->container_id, "");
		CHECK_STR(p->pod_uid, "");
	}

	/* No exe link (a zombie, say): named by comm. */
	p = disc_table_get(t, 300, 9000);
	CHECK(p != NULL);
	if (p) {
		CHECK_STR(p->exe_path, NULL);
		CHECK_STR(p->service_name, "my job");
		CHECK(!p->kernel_thread);
		/* An empty cmdline, as a zombie's. */
		CHECK_STR(p->cmdline, NULL);
		/* A cgroup file that makes no sense: still known, in no
		 * container. */
		CHECK_STR(p->cgroup_path, NULL);
		CHECK_INT(p->container_runtime, DISC_CONTAINER_NONE);
		CHECK_STR(p->container_id, "");
	}

	/* A start time that is nobody's is not added. */
	CHECK(disc_table_get(t, 100, 4999) == NULL);
	CHECK(disc_table_get(t, 12345, 1) == NULL);
	CHECK_INT(disc_table_size(t), 4);
	disc_table_free(t);
}

static void test_pid_reuse(void)
{
	struct disc_table *t = new_table();
	const struct disc_process *old, *new;

	CHECK_INT(disc_table_scan(t), 0);
	old = disc_table_get(t, 100, 5000);
	CHECK(old != NULL);

	/* pid 100 exits and a new process gets the pid. */
	write_stat(100, "server", 0x400000, 5100);
	CHECK_INT(disc_table_scan(t), 0);
	CHECK_INT(disc_table_size(t), 5);
	CHECK(disc_table_get(t, 100, 5000) == old);
	if (old)
		CHECK(old->exited);
	new = disc_table_get(t, 100, 5100);
	CHECK(new != NULL && new != old);
	if (new) {
		CHECK(!new->exited);
		CHECK_STR(new->service_name, "server");
	}

	/* Gone since the last drain began: its samples are in the next
	 * drain, so an expire now keeps it. */
	disc_table_expire(t);
	CHECK(disc_table_get(t, 100, 5000) == old);
	/* Until the expire after the next drain, samples of the old process
	 * still find it. */
	disc_table_next_interval(t);
	disc_table_expire(t);
	CHECK_INT(disc_table_size(t), 4);
	CHECK(disc_table_get(t, 100, 5000) == NULL);
	CHECK(disc_table_get(t, 100, 5100) == new);
	CHECK_INT(disc_table_size(t), 4);

	write_stat(100, "server", 0x400000, 5000);
	disc_table_free(t);
}

/* disc_table_get finds a process that started after the last scan, and
 * takes its pid from an older process it has not seen exit. */
static void test_get_between_scans(void)
{
	struct disc_table *t = new_table();
	const struct disc_process *old, *p;

	CHECK_INT(disc_table_scan(t), 0);
	old = disc_table_get(t, 100, 5000);
	make_process(400, "late", 0x400000, 9500, "/usr/bin/late", SERVER_MAPS);
	p = disc_table_get(t, 400, 9500);
	CHECK(p != NULL);
	if (p) {
		CHECK_STR(p->service_name, "late");
		CHECK_INT(p->maps.n, 3);
		/* No cgroup or cmdline file at all: known, in no container,
		 * with no command line. */
		CHECK_STR(p->cgroup_path, NULL);
		CHECK_STR(p->cmdline, NULL);
		CHECK_INT(p->container_runtime, DISC_CONTAINER_NONE);
	}
	CHECK_INT(disc_table_size(t), 5);

	write_stat(100, "server", 0x400000, 5200);
	p = disc_table_get(t, 100, 5200);
	CHECK(p != NULL);
	if (old)
		CHECK(old->exited);
	CHECK_INT(disc_table_size(t), 6);

	write_stat(100, "server", 0x400000, 5000);
	remove_process(400);
	disc_table_free(t);
}

static void test_vanished(void)
{
	struct disc_table *t = new_table();
	const struct disc_process *p;

	make_process(500, "brief", 0x400000, 9900, "/usr/bin/brief", "");
	CHECK_INT(disc_table_scan(t), 0);
	CHECK_INT(disc_table_size(t), 5);
	p = disc_table_get(t, 500, 9900);
	CHECK(p != NULL);
	if (p)
		CHECK(!p->exited);

	remove_process(500);
	CHECK_INT(disc_table_scan(t), 0);
	CHECK_INT(disc_table_size(t), 5);
	CHECK(disc_table_get(t, 500, 9900) == p);
	if (p)
		CHECK(p->exited);
	/* The others were seen again and stay live. */
	p = disc_table_get(t, 100, 5000);
	CHECK(p != NULL && !p->exited);

	disc_table_next_interval(t);
	disc_table_expire(t);
	CHECK_INT(disc_table_size(t), 4);
	CHECK(disc_table_get(t, 500, 9900) == NULL);
	disc_table_free(t);
}

/* A process one scan missed and the next finds again, same pid and start,
 * is the same process: it is live again, under the same entry. */
static void test_seen_again(void)
{
	struct disc_table *t = new_table();
	const struct disc_process *p;
	char from[128], to[128];

	CHECK_INT(disc_table_scan(t), 0);
	p = disc_table_get(t, 300, 9000);
	CHECK(p != NULL);
	snprintf(from, sizeof(from), "%s/300", root);
	snprintf(to, sizeof(to), "%s/300.away", root);
	CHECK_INT(rename(from, to), 0);
	CHECK_INT(disc_table_scan(t), 0);
	if (p)
		CHECK(p->exited);
	CHECK_INT(rename(to, from), 0);
	CHECK_INT(disc_table_scan(t), 0);
	CHECK(disc_table_get(t, 300, 9000) == p);
	if (p)
		CHECK(!p->exited);
	CHECK_INT(disc_table_size(t), 4);
	disc_table_free(t);
}

/* A pid dir without a stat (the process went between readdir and read), or
 * with a stat that makes no sense, is passed over; so are names that are
 * not pids. */
static void test_churn_skipped(void)
{
	struct disc_table *t = new_table();
	char path[128];

	snprintf(path, sizeof(path), "%s/600", root);
	mkdir(path, 0755);
	make_process(700, "bad", 0, 1, NULL, "");
	write_file(700, "stat", "700 (bad) S 1\n");
	snprintf(path, sizeof(path), "%s/self", root);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/12ab", root);
	mkdir(path, 0755);

	CHECK_INT(disc_table_scan(t), 0);
	CHECK_INT(disc_table_size(t), 4);
	CHECK(disc_table_get(t, 600, 1) == NULL);
	CHECK(disc_table_get(t, 700, 1) == NULL);

	remove_process(600);
	remove_process(700);
	snprintf(path, sizeof(path), "%s/self", root);
	rmdir(path);
	snprintf(path, sizeof(path), "%s/12ab", root);
	rmdir(path);
	disc_table_free(t);
}

static void count_maps(const struct disc_process *p, void *arg)
{
	*(size_t *)arg += p->maps.n;
}

static void test_refresh_maps(void)
{
	struct disc_table *t = new_table();
	struct disc_table_stats st;
	const struct disc_process *p;
	size_t mappings = 0;

	/* A scan reads no process's maps: only a sampled one's are wanted. */
	CHECK_INT(disc_table_scan(t), 0);
	disc_table_for_each(t, count_maps, &mappings);
	CHECK_INT(mappings, 0);
	disc_table_get_stats(t, &st);
	CHECK_U64(st.maps_reads, 0);
	p = disc_table_get(t, 100, 5000);
	CHECK(p != NULL);
	if (!p) {
		disc_table_free(t);
		return;
	}
	CHECK(disc_mappings_find(&p->maps, 0x7f1000000100) == NULL);
	write_file(100, "maps", SERVER_MAPS
		   "7f1000000000-7f1000002000 r-xp 00000000 08:01 12 /usr/lib/plugin.so\n");
	/* The get read them: not again this interval for the frames. */
	CHECK_INT(disc_table_refresh_maps(t, p), -EAGAIN);
	CHECK_INT(p->maps.n, 3);
	disc_table_next_interval(t);
	CHECK_INT(disc_table_refresh_maps(t, p), 0);
	CHECK_INT(p->maps.n, 4);
	disc_table_get_stats(t, &st);
	CHECK_U64(st.maps_reads, 2);
	CHECK_U64(st.maps_deferred, 1);
	CHECK_U64(st.maps_bytes, p->maps.bytes);
	CHECK_STR(disc_mappings_find(&p->maps, 0x7f1000000100) ?
		  disc_mappings_find(&p->maps, 0x7f1000000100)->path : NULL,
		  "/usr/lib/plugin.so");

	/* Unreadable maps leave the old ones in place. */
	write_file(100, "maps", "garbage\n");
	disc_table_next_interval(t);
	CHECK_INT(disc_table_refresh_maps(t, p), -EINVAL);
	CHECK_INT(p->maps.n, 4);

	/* The pid is someone else's now. */
	write_stat(100, "server", 0x400000, 5300);
	disc_table_next_interval(t);
	CHECK_INT(disc_table_refresh_maps(t, p), -ESRCH);
	CHECK_INT(p->maps.n, 4);

	write_stat(100, "server", 0x400000, 5000);
	write_file(100, "maps", SERVER_MAPS);
	disc_table_free(t);
}

/* An exec keeps pid and start time; until the new image is read, the old
 * one's record is not handed out, but for the old image's samples, and a
 * process gone before that is unknown rather than mislabelled. The
 * kernel's exit event marks it. */
static void test_exec_and_exit_events(void)
{
	struct disc_table *t = new_table();
	const struct disc_process *p;
	char path[128];

	make_process(930, "sh", 0x400000, 7000, "/usr/bin/dash",
		     "55d000000000-55d000010000 r-xp 00000000 08:01 7 /usr/bin/dash\n");
	write_bytes(930, "cmdline", TEXT("sh\0-c\0exec worker\0"));
	p = disc_table_get(t, 930, 7000);
	CHECK(p != NULL);
	CHECK_STR(p ? p->service_name : NULL, "dash");
	CHECK_STR(p ? p->cmdline : NULL, "sh -c exec worker");
	/* Read again without an exec (code outside its maps): the same
	 * image, whose stack copies its maps still walk. */
	if (p)
		disc_table_set_image(t, p, 0xabc000);
	disc_table_next_interval(t);
	p = disc_table_refresh(t, 930, 7000);
	CHECK_U64(p ? p->image : 0, 0xabc000);

	/* exec: new exe, new maps, same pid and start */
	snprintf(path, sizeof(path), "%s/930/exe", root);
	CHECK(unlink(path) == 0 && symlink("/usr/bin/worker", path) == 0);
	write_stat(930, "worker", 0x400000, 7000);
	write_file(930, "maps", "55e000000000-55e000020000 r-xp 00000000 08:01 8 /usr/bin/worker\n");
	write_bytes(930, "cmdline", TEXT("worker\0--once\0"));
	disc_table_exec(t, 930, 7000, 2);
	p = disc_table_refresh(t, 930, 7000);
	CHECK_STR(p ? p->service_name : NULL, "worker");
	CHECK_STR(p ? p->cmdline : NULL, "worker --once");
	CHECK(p && disc_mappings_find(&p->maps, 0x55e000000100) != NULL);
	CHECK(p && disc_mappings_find(&p->maps, 0x55d000000100) == NULL);
	/* Read after an exec: another image, not known until its event says. */
	CHECK_U64(p ? p->image : 1, 0);

	/* exec, then gone before it could be read again: unknown */
	disc_table_exec(t, 930, 7000, 3);
	disc_table_exit(t, 930, 7000);
	remove_process(930);
	CHECK(disc_table_get(t, 930, 7000) == NULL);
	CHECK(disc_table_refresh(t, 930, 7000) == NULL);
	/* but the samples of each image before it are named after it, until
	 * the drain after */
	p = disc_table_get_image(t, 930, 7000, 1);
	CHECK_STR(p ? p->service_name : NULL, "dash");
	p = disc_table_get_image(t, 930, 7000, 2);
	CHECK_STR(p ? p->service_name : NULL, "worker");
	CHECK(disc_table_get_image(t, 930, 7000, 3) == NULL);
	disc_table_next_interval(t);
	disc_table_expire(t);
	disc_table_next_interval(t);
	disc_table_expire(t);
	CHECK(disc_table_get_image(t, 930, 7000, 1) == NULL);
	CHECK(disc_table_get_image(t, 930, 7000, 2) == NULL);

	/* exit without exec: still known until expired after the drain */
	make_process(931, "cron", 0x400000, 7100, "/usr/sbin/cron",
		     "55f000000000-55f000010000 r-xp 00000000 08:01 9 /usr/sbin/cron\n");
	p = disc_table_get(t, 931, 7100);
	CHECK(p != NULL);
	/* an image it is not known to be in is not it */
	if (p)
		disc_table_set_exec_id(t, p, 5);
	CHECK(disc_table_get_image(t, 931, 7100, 5) == p);
	CHECK(disc_table_get_image(t, 931, 7100, 4) == NULL);
	disc_table_exit(t, 931, 7100);
	remove_process(931);
	p = disc_table_get(t, 931, 7100);
	CHECK(p && p->exited);
	CHECK_STR(p ? p->service_name : NULL, "cron");
	disc_table_next_interval(t);
	disc_table_expire(t);
	CHECK(disc_table_get(t, 931, 7100) == NULL);

	/* run from a memfd: named after argv[0], not "memfd:..." */
	make_process(932, "memfd:sealed-9", 0x400000, 7200, "/memfd:sealed-91173221a7ea (deleted)",
		     "55f000000000-55f000010000 r-xp 00000000 00:01 9 /memfd:sealed-91173221a7ea (deleted)\n");
	write_bytes(932, "cmdline", TEXT("tools/binary_backend\0--uid\00\0"));
	p = disc_table_get(t, 932, 7200);
	CHECK_STR(p ? p->service_name : NULL, "binary_backend");
	/* and a memfd without a command line falls back as before */
	make_process(933, "memfd:x", 0x400000, 7300, "/memfd:x (deleted)", "");
	p = disc_table_get(t, 933, 7300);
	CHECK_STR(p ? p->service_name : NULL, "memfd:x");

	/* A shell's child whose first-sample event was taken after it
	 * exec'd (events come in batches): added as gone, from the event,
	 * then its exec's event. The samples before the exec are still the
	 * shell's, and the new image is read apart. */
	struct disc_kernel_identity gone = { .comm = "sh", .exe_name = "dash" };

	p = disc_table_add_gone(t, 934, 7400, &gone);
	CHECK(p && p->exited);
	if (p)
		disc_table_set_exec_id(t, p, 4);
	disc_table_exec(t, 934, 7400, 5);
	p = disc_table_get_image(t, 934, 7400, 4);
	CHECK_STR(p ? p->service_name : NULL, "dash");
	CHECK(disc_table_get_image(t, 934, 7400, 5) == NULL); /* not read yet */
	disc_table_free(t);
}

/* Maps larger than the reader's first buffer are read whole. */
static void test_large_maps(void)
{
	size_t cap = 2000 * 80, len = 0;
	char *text = malloc(cap);
	struct disc_mappings m;

	if (!text)
		exit(2);
	for (int i = 0; i < 2000; i++)
		len += (size_t)snprintf(text + len, cap - len,
					"%llx-%llx r-xp 00000000 08:01 %d /usr/lib/lib%04d.so\n",
					0x7f0000000000ULL + i * 0x1000ULL,
					0x7f0000001000ULL + i * 0x1000ULL, i, i);
	make_process(800, "big", 0x400000, 12000, "/usr/bin/big", text);
	free(text);

	CHECK_INT(disc_maps_read(root, 800, &m), 0);
	CHECK_INT(m.n, 2000);
	if (m.n == 2000) {
		CHECK_U64(m.v[1999].start, 0x7f0000000000ULL + 1999 * 0x1000ULL);
		CHECK_STR(m.v[1999].path, "/usr/lib/lib1999.so");
	}
	disc_mappings_release(&m);
	CHECK_INT(disc_maps_read(root, 801, &m), -ENOENT);
	remove_process(800);
}

static void test_stat_read(void)
{
	struct disc_stat st;

	CHECK_INT(disc_stat_read(root, 200, &st), 0);
	CHECK_INT(st.pid, 200);
	CHECK_STR(st.comm, "worker.bin");
	CHECK_U64(st.start_ticks, 7000);
	CHECK_INT(disc_stat_read(root, 201, &st), -ENOENT);
	CHECK_INT(disc_stat_read(root, 0, &st), -EINVAL);
}

static void test_cmdline_read(void)
{
	char *cmdline = (char *)"unset";

	CHECK_INT(disc_cmdline_read(root, 100, &cmdline), 0);
	CHECK_STR(cmdline, SERVER_CMDLINE);
	free(cmdline);
	CHECK_INT(disc_cmdline_read(root, 300, &cmdline), 0);
	CHECK_STR(cmdline, NULL);
	/* The reader reads a kernel thread's too: the table is what skips it. */
	CHECK_INT(disc_cmdline_read(root, 2, &cmdline), 0);
	CHECK_STR(cmdline, "not read");
	free(cmdline);
	CHECK_INT(disc_cmdline_read(root, 201, &cmdline), -ENOENT);
	CHECK_STR(cmdline, NULL);
	CHECK_INT(disc_cmdline_read(root, 0, &cmdline), -EINVAL);
	CHECK_STR(cmdline, NULL);
}

static void test_cgroup_read(void)
{
	struct disc_cgroup cg;

	CHECK_INT(disc_cgroup_read(root, 100, &cg), 0);
	CHECK_STR(cg.path, SERVER_CGROUP_PATH);
	CHECK_INT(cg.hierarchy, 1);
	disc_cgroup_release(&cg);
	CHECK_INT(disc_cgroup_read(root, 300, &cg), -EINVAL);
	CHECK_STR(cg.path, NULL);
	CHECK_INT(disc_cgroup_read(root, 201, &cg), -ENOENT);
	CHECK_INT(disc_cgroup_read(root, 0, &cg), -EINVAL);
}

/* Logged mappings of pid as the mmap log hands them out: (start, path)
 * pairs, each 0x1000 long, with build-id "ab". */
static struct disc_mappings logged(struct disc_mmap_log *l, int pid, uint64_t exec_time,
				   const uint64_t *starts, const char *const *paths, size_t n)
{
	struct disc_mappings m;

	disc_mmap_log_exec(l, pid, exec_time);
	for (size_t i = 0; i < n; i++)
		CHECK_INT(disc_mmap_log_add(l, pid, exec_time + 1 + i, starts[i], 0x1000, 0, "ab",
					    paths[i]), 0);
	CHECK_INT(disc_mmap_log_mappings(l, pid, &m), 0);
	return m;
}

/* Processes known from the kernel alone: its first sample's identity and
 * its mmap records (disc_table_add_from_kernel), a copy of the parent it
 * was forked by (disc_table_add_forked), one sampled in its exec and
 * completed at its end (disc_table_exec_done). None has a /proc dir here:
 * nothing is read. */
static void test_known_from_kernel(void)
{
	static const uint64_t starts[] = { 0x7000, 0x9000 };
	static const char *const paths[] = { "/usr/bin/ps", "/usr/lib/libc.so.6" };
	struct disc_table *t = new_table();
	struct disc_mmap_log *l = disc_mmap_log_new(1 << 20);
	struct disc_mappings m = logged(l, 4000, 100, starts, paths, 2);
	struct disc_kernel_identity id = {
		.comm = "ps", .exe_name = "ps", .exe_path = "/usr/bin/ps", .nspid = 7,
		.fs_view = 42, .maps = &m,
		.cgroup_path = "/system.slice/cri-containerd-" SERVER_CONTAINER ".scope",
	};
	const struct disc_process *p = disc_table_add_from_kernel(t, 4000, 11, &id);
	struct disc_table_stats st;

	CHECK(p != NULL);
	if (p) {
		CHECK(!p->exited);
		CHECK(p->from_kernel);
		CHECK_INT(p->nspid, 7);
		CHECK_U64(p->fs_view, 42);
		CHECK_STR(p->service_name, "ps");
		CHECK_STR(p->exe_path, "/usr/bin/ps");
		CHECK_STR(p->container_id, SERVER_CONTAINER);
		CHECK_INT(p->maps.n, 2);
		CHECK(disc_table_get(t, 4000, 11) == p); /* no /proc read: none there */
	}
	CHECK_INT(m.n, 0); /* taken over */

	/* Its child, sampled before it exec'd: its image, its labels. */
	struct disc_fork f = {
		.pid = 4001, .nspid = 8, .start_ticks = 12, .comm = "ps",
		.parent_pid = 4000, .parent_start_ticks = 11, .code_addr = 0x7010,
	};
	const struct disc_process *c = disc_table_add_forked(t, &f);

	CHECK(c != NULL && c != p);
	if (c) {
		CHECK_INT(c->pid, 4001);
		CHECK_INT(c->nspid, 8);
		CHECK_STR(c->service_name, "ps");
		CHECK_STR(c->container_id, SERVER_CONTAINER);
		CHECK_INT(c->maps.n, 2);
		CHECK(c->maps.v != p->maps.v); /* its own copy */
	}
	/* Known already: not the parent's to say again. */
	CHECK(disc_table_add_forked(t, &f) == NULL);
	/* Code elsewhere than the parent's executable, or a parent not known:
	 * refused. */
	f.pid = 4002;
	f.code_addr = 0x9010;
	CHECK(disc_table_add_forked(t, &f) == NULL);
	f.code_addr = 0x7010;
	f.parent_start_ticks = 10;
	CHECK(disc_table_add_forked(t, &f) == NULL);

	/* Sampled in its exec: what was logged by then, completed at its end. */
	struct disc_mappings early = logged(l, 4003, 200, starts, paths, 1);
	struct disc_kernel_identity in_exec = {
		.comm = "bash", .exe_name = "ps", .in_exec = true, .maps = &early,
	};

	p = disc_table_add_from_kernel(t, 4003, 13, &in_exec);
	CHECK(p != NULL);
	if (p) {
		CHECK(p->in_exec);
		CHECK_STR(p->service_name, "ps");
		CHECK_INT(p->maps.n, 1);
	}
	m = logged(l, 4003, 200, starts + 1, paths + 1, 1);
	CHECK(disc_table_exec_done(t, 4003, 13, "ps", "/usr/bin/ps", &m));
	if (p) {
		CHECK(!p->in_exec);
		CHECK_STR(p->comm, "ps");
		CHECK_STR(p->exe_path, "/usr/bin/ps");
		CHECK_INT(p->maps.n, 2);
	}
	CHECK(!disc_table_exec_done(t, 4003, 13, "ps", "/usr/bin/ps", &m)); /* done once */
	disc_mappings_release(&m);

	disc_table_get_stats(t, &st);
	CHECK_U64(st.kernel_added, 2);
	CHECK_U64(st.forked_added, 1);
	CHECK_U64(st.maps_reads, 0);
	disc_mmap_log_free(l);
	disc_table_free(t);
}

int main(void)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(root, sizeof(root), "%s/disc-proc-XXXXXX", tmp && strlen(tmp) < 40 ? tmp : "/tmp");
	if (!mkdtemp(root)) {
		perror("mkdtemp");
		return 2;
	}
	/* The flag, not the missing link, makes a kernel thread. */
	make_process(2, "kthreadd", 0x00208040, 31, "/usr/sbin/not-a-kthread", "");
	make_process(100, "server", 0x400000, 5000, "/srv/app/server", SERVER_MAPS);
	make_process(200, "worker.bin", 0x400000, 7000, "/opt/my tools/bin/worker.bin (deleted)",
		     SERVER_MAPS);
	make_process(300, "my job", 0x400000, 9000, NULL, "");
	write_file(2, "cgroup", "0::/system.slice/docker-" SERVER_CONTAINER ".scope\n");
	write_file(100, "cgroup", SERVER_CGROUP);
	write_file(200, "cgroup", "0::/system.slice/worker.service\n");
	write_file(300, "cgroup", "not a cgroup file\n");
	write_bytes(2, "cmdline", TEXT("not read\0"));
	write_bytes(100, "cmdline", server_cmdline, sizeof(server_cmdline) - 1);
	write_bytes(200, "cmdline", TEXT("worker: idle, 3 jobs done\0\0\0\0\0\0"));
	write_file(300, "cmdline", "");

	test_scan_finds_processes();
	test_pid_reuse();
	test_get_between_scans();
	test_vanished();
	test_seen_again();
	test_churn_skipped();
	test_refresh_maps();
	test_exec_and_exit_events();
	test_large_maps();
	test_stat_read();
	test_cmdline_read();
	test_cgroup_read();
	test_known_from_kernel();

	remove_tree(root);
	return check_report("test_process_table");
}
