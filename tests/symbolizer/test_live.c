/* sym_cache on live processes, the way the agent uses it: runtime address
 * -> /proc/PID/maps -> file offset -> sym_cache_get_elf ->
 * sym_elf_offset_to_vaddr -> sym_elf_lookup. The PIE and non-PIE fixtures
 * run as children and print their functions' addresses; the shared library
 * is dlopened into this process. Also: the host-path fallback (pid 0, or a
 * process that has exited) with its device/inode guard, a fake proc root
 * (map_files naming, /PID/root), the sharing of one sym_elf between
 * processes, and the negative cache. */
#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sym.h"
#include "test_util.h"

struct frame {
	int pid;          /* whose maps */
	uint64_t addr;    /* runtime address */
	struct sym_file_ref ref;
	uint64_t offset;  /* in the file */
	struct test_mapping m;
};

/* addr in pid's maps; ref->pid set to ref_pid. */
static int frame_of(int pid, uint64_t addr, int ref_pid, struct frame *f)
{
	int err = test_find_mapping(pid, addr, &f->m);

	if (err)
		return err;
	f->pid = pid;
	f->addr = addr;
	f->offset = addr - f->m.start + f->m.offset;
	f->ref = (struct sym_file_ref){
		.pid = ref_pid,
		.path = f->m.path,
		.map_start = f->m.start,
		.map_end = f->m.end,
		.dev = f->m.dev,
		.inode = f->m.inode,
	};
	return 0;
}

/* Names f; *vaddr and *elf say how, for the checks that want them. */
static int name_frame(struct sym_cache *c, const struct frame *f,
		      struct sym_elf **elf, uint64_t *vaddr, const char **name)
{
	int err = sym_cache_get_elf(c, &f->ref, elf);

	if (!err)
		err = sym_elf_offset_to_vaddr(*elf, f->offset, vaddr);
	if (!err)
		err = sym_elf_lookup(*elf, *vaddr, name);
	return err;
}

/* Each function of a running fixture, through pid and through pid 0. */
static void check_process(const struct test_proc *p, const char *nm,
			  const char *const *funcs, size_t n)
{
	struct sym_cache *c = sym_cache_new(NULL);

	for (size_t i = 0; i < n; i++) {
		uint64_t addr = test_proc_addr(p, funcs[i]), vaddr = 0;
		struct sym_elf *elf = NULL;
		const char *name = NULL;
		struct frame f;

		CHECK(addr, "fixture printed no %s", funcs[i]);
		CHECK(!frame_of(p->pid, addr + 1, p->pid, &f), "no mapping for %s", funcs[i]);
		CHECK_NAME(name_frame(c, &f, &elf, &vaddr, &name), name, funcs[i]);
		CHECK(vaddr == test_nm_addr(nm, funcs[i]) + 1,
		      "%s: vaddr %#" PRIx64 ", nm says %#" PRIx64 " + 1", funcs[i], vaddr,
		      test_nm_addr(nm, funcs[i]));
		f.ref.pid = 0;
		CHECK_NAME(name_frame(c, &f, &elf, &vaddr, &name), name, funcs[i]);
	}
	/* pid and host path reach one file: opened once. */
	struct sym_cache_stats st;

	sym_cache_get_stats(c, &st);
	CHECK(st.files_opened == 1 && st.files_failed == 0 && st.lookups == 2 * n &&
	      st.lookups_failed == 0,
	      "stats: opened %" PRIu64 " failed %" PRIu64 " lookups %" PRIu64 "/%" PRIu64,
	      st.files_opened, st.files_failed, st.lookups, st.lookups_failed);
	sym_cache_free(c);
}

static void check_executables(void)
{
	static const char *const funcs[] = { "fixture_alpha", "fixture_beta",
					     "fixture_gamma_local", "fixture_delta",
					     "fixture_nosize" };
	static const char *const which[][2] = { { "SYM_PIE", "SYM_PIE_NM" },
						{ "SYM_NOPIE", "SYM_NOPIE_NM" } };

	for (size_t i = 0; i < 2; i++) {
		struct test_proc p;

		CHECK(!test_spawn(test_env(which[i][0]), &p), "spawn %s", which[i][0]);
		check_process(&p, test_env(which[i][1]), funcs, sizeof(funcs) / sizeof(funcs[0]));
		test_kill(&p);
	}
}

static void check_library(void)
{
	const char *nm = test_env("SYM_LIB_NM");
	static const char *const funcs[] = { "fixture_lib_alpha", "fixture_lib_beta",
					     "fixture_lib_local" };
	void *h = dlopen(test_env("SYM_LIB"), RTLD_NOW);
	struct test_proc self = { .pid = getpid() };
	void *(*local_addr)(void);

	CHECK(h, "dlopen: %s", dlerror());
	if (!h)
		return;
	/* check_process takes addresses as a fixture prints them. */
	for (size_t i = 0; i < 2; i++) {
		snprintf(self.names[self.n], sizeof(self.names[0]), "%s", funcs[i]);
		self.addrs[self.n++] = (uint64_t)(uintptr_t)dlsym(h, funcs[i]);
	}
	*(void **)&local_addr = dlsym(h, "fixture_lib_local_addr");
	snprintf(self.names[self.n], sizeof(self.names[0]), "%s", funcs[2]);
	self.addrs[self.n++] = local_addr ? (uint64_t)(uintptr_t)local_addr() : 0;
	check_process(&self, nm, funcs, 3);
	/* Not through check_process's kill: self.pid is us. */
	dlclose(h);
}

/* A process that has exited is named through the host path when its
 * file's device and inode match, and never when they do not. */
static void check_exited(void)
{
	struct sym_cache *c = sym_cache_new(NULL);
	struct sym_elf *elf = NULL;
	struct test_proc p;
	const char *name;
	uint64_t vaddr;
	struct frame f;
	int err;

	CHECK(!test_spawn(test_env("SYM_PIE"), &p), "spawn");
	CHECK(!frame_of(p.pid, test_proc_addr(&p, "fixture_beta"), p.pid, &f), "mapping");
	test_kill(&p);

	err = name_frame(c, &f, &elf, &vaddr, &name);
	CHECK_NAME(err, name, "fixture_beta");

	struct sym_cache *c2 = sym_cache_new(NULL);

	f.ref.inode++;
	err = sym_cache_get_elf(c2, &f.ref, &elf);
	CHECK(err == -ENOENT, "exited, wrong inode: %d", err);
	f.ref.pid = 0;
	err = sym_cache_get_elf(c2, &f.ref, &elf);
	CHECK(err == -ENOENT, "pid 0, wrong inode: %d", err);
	f.ref.inode--;
	f.ref.dev++;
	err = sym_cache_get_elf(c2, &f.ref, &elf);
	CHECK(err == -ENOENT, "pid 0, wrong device: %d", err);
	f.ref.dev--;
	f.ref.path = strcat(f.m.path, " (deleted)");
	err = sym_cache_get_elf(c2, &f.ref, &elf);
	CHECK(err == -ENOENT, "pid 0, deleted file: %d", err);
	sym_cache_free(c2);
	sym_cache_free(c);
}

/* Two processes of one binary share one sym_elf. */
static void check_sharing(void)
{
	struct sym_cache *c = sym_cache_new(NULL);
	struct sym_elf *elf[2] = { NULL, NULL };
	struct sym_cache_stats st;
	struct test_proc p[2];

	for (int i = 0; i < 2; i++) {
		const char *name;
		uint64_t vaddr;
		struct frame f;

		CHECK(!test_spawn(test_env("SYM_PIE"), &p[i]), "spawn");
		CHECK(!frame_of(p[i].pid, test_proc_addr(&p[i], "fixture_alpha"), p[i].pid, &f),
		      "mapping");
		CHECK_NAME(name_frame(c, &f, &elf[i], &vaddr, &name), name, "fixture_alpha");
	}
	sym_cache_get_stats(c, &st);
	CHECK(elf[0] && elf[0] == elf[1], "two sym_elf for one file: %p %p",
	      (void *)elf[0], (void *)elf[1]);
	CHECK(st.files_opened == 1, "files_opened %" PRIu64, st.files_opened);
	test_kill(&p[0]);
	test_kill(&p[1]);
	sym_cache_free(c);
}

/* mkdir -p DIR/SUB, and DIR/SUB/NAME a symbolic link to target. */
static void link_in(const char *dir, const char *sub, const char *name, const char *target)
{
	char p[1024];

	snprintf(p, sizeof(p), "%s/%s", dir, sub);
	CHECK(!test_mkdirs(p), "mkdir %s", p);
	snprintf(p, sizeof(p), "%s/%s/%s", dir, sub, name);
	CHECK(!symlink(target, p), "symlink %s", p);
}

/* mkdir -p DIR/SUB, and DIR/SUB/NAME the file target itself (a hard link,
 * else a copy): a root's files are resolved inside the root, so a symbolic
 * link to a host path would lead nowhere there. */
static void file_in(const char *dir, const char *sub, const char *name, const char *target)
{
	char p[1024], cmd[2200];

	snprintf(p, sizeof(p), "%s/%s", dir, sub);
	CHECK(!test_mkdirs(p), "mkdir %s", p);
	snprintf(p, sizeof(p), "%s/%s/%s", dir, sub, name);
	if (link(target, p) == 0)
		return;
	snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", target, p);
	CHECK(system(cmd) == 0, "%s", cmd);
}

/* The agent in a container with the host's pids: a process that has exited
 * (4299, no directory) is named from the host's file, at 1/root/PATH (the
 * host's init's root), where the agent's own / does not have it. And a
 * process that cannot reach its file (4298: gone) does not keep a live
 * one that can (4243, /app/fixture in its root) from it, though both map
 * the same device and inode. */
static void check_host_root(const char *proc, const char *dir, const struct stat *st,
			    const char *want_id)
{
	char in_root[1024];
	struct sym_cache *c;
	struct sym_elf *elf;
	int err;

	snprintf(in_root, sizeof(in_root), "%s/rootfs/app/fixture", dir);
	file_in(dir, "hostfs/opt/host-only", "fixture", in_root);
	link_in(proc, "1", "root", "../../hostfs");

	c = sym_cache_new(&(struct sym_cache_opts){ .sz = sizeof(struct sym_cache_opts),
						    .proc_root = proc });
	err = sym_cache_get_elf(c, &(struct sym_file_ref){ .pid = 4299,
							   .path = "/opt/host-only/fixture",
							   .dev = st->st_dev,
							   .inode = st->st_ino }, &elf);
	CHECK(!err && !strcmp(sym_elf_build_id(elf), want_id), "1/root: %d", err);
	sym_cache_free(c);

	c = sym_cache_new(&(struct sym_cache_opts){ .sz = sizeof(struct sym_cache_opts),
						    .proc_root = proc });
	err = sym_cache_get_elf(c, &(struct sym_file_ref){ .pid = 4298,
							   .path = "/app/fixture",
							   .dev = st->st_dev,
							   .inode = st->st_ino }, &elf);
	CHECK(err == -ENOENT, "gone, not on the host: %d", err);
	err = sym_cache_get_elf(c, &(struct sym_file_ref){ .pid = 4243,
							   .path = "/app/fixture",
							   .dev = st->st_dev,
							   .inode = st->st_ino }, &elf);
	CHECK(!err && !strcmp(sym_elf_build_id(elf), want_id),
	      "a live process after a gone one failed on the same file: %d", err);
	sym_cache_free(c);
}

/* A fake proc root: map_files entries are named START-END in lowercase hex
 * without 0x; PID/root is the process's own root, where the fixture is at
 * /app/fixture, a path the host does not have. */
static void check_proc_root(void)
{
	const char *pie = test_env("SYM_PIE"), *dir = test_tmpdir();
	char proc[256], in_root[1024], want_id[129];
	struct sym_cache *c;
	struct sym_elf *elf;
	struct stat st;
	int err;

	snprintf(proc, sizeof(proc), "%s/proc", dir);
	link_in(proc, "4242/map_files", "7f00abc01000-7f00abc05000", pie);
	file_in(dir, "rootfs/app", "fixture", pie);
	link_in(proc, "4243", "root", "../../rootfs");
	snprintf(in_root, sizeof(in_root), "%s/rootfs/app/fixture", dir);
	CHECK(!stat(in_root, &st), "stat");
	CHECK(!test_readelf_build_id(test_env("SYM_PIE_NOTES"), want_id, sizeof(want_id)),
	      "readelf");

	c = sym_cache_new(&(struct sym_cache_opts){ .sz = sizeof(struct sym_cache_opts),
						    .proc_root = proc });
	err = sym_cache_get_elf(c, &(struct sym_file_ref){ .pid = 4242,
							   .map_start = 0x7f00abc01000,
							   .map_end = 0x7f00abc05000 }, &elf);
	CHECK(!err && !strcmp(sym_elf_build_id(elf), want_id), "map_files: %d", err);
	err = sym_cache_get_elf(c, &(struct sym_file_ref){ .pid = 4242,
							   .map_start = 0x7f00abc01000,
							   .map_end = 0x7f00abc06000 }, &elf);
	CHECK(err == -ENOENT, "map_files, other range: %d", err);
	err = sym_cache_get_elf(c, &(struct sym_file_ref){ .pid = 4243,
							   .path = "/app/fixture",
							   .dev = st.st_dev,
							   .inode = st.st_ino }, &elf);
	CHECK(!err && !strcmp(sym_elf_build_id(elf), want_id), "PID/root: %d", err);
	err = sym_cache_get_elf(c, &(struct sym_file_ref){ .pid = 4243,
							   .path = "/app/fixture",
							   .dev = st.st_dev,
							   .inode = st.st_ino + 1 }, &elf);
	CHECK(err == -ENOENT, "PID/root, wrong inode: %d", err);
	sym_cache_free(c);
	/* A container's absolute link names a path in the container: the
	 * host's file it would reach from the host's / is not taken. (A new
	 * cache: this one knows the mapping's device and inode already.) */
	link_in(dir, "rootfs/app", "escape", pie);
	c = sym_cache_new(&(struct sym_cache_opts){ .sz = sizeof(struct sym_cache_opts),
						    .proc_root = proc });
	err = sym_cache_get_elf(c, &(struct sym_file_ref){ .pid = 4243,
							   .path = "/app/escape",
							   .dev = st.st_dev,
							   .inode = st.st_ino }, &elf);
	CHECK(err == -ENOENT, "PID/root, a link out of the root was followed: %d", err);
	sym_cache_free(c);
	check_host_root(proc, dir, &st, want_id);
}

/* Failures are remembered, and fail again without touching the disk. */
static void check_negative(void)
{
	struct sym_cache *c = sym_cache_new(NULL);
	char junk[256], path[256];
	struct sym_cache_stats st;
	struct sym_elf *elf;
	int err;

	for (int i = 0; i < 3; i++) {
		err = sym_cache_get_elf(c, &(struct sym_file_ref){ .path = "/nonexistent/smolder" },
					&elf);
		CHECK(err == -ENOENT && !elf, "absent file: %d", err);
	}
	memset(junk, 'x', sizeof(junk));
	snprintf(path, sizeof(path), "%s/not-elf", test_tmpdir());
	CHECK(!test_write_file(path, junk, sizeof(junk)), "write");
	for (int i = 0; i < 2; i++) {
		err = sym_cache_get_elf(c, &(struct sym_file_ref){ .path = path }, &elf);
		CHECK(err == -ENOEXEC, "not ELF: %d", err);
	}
	sym_cache_get_stats(c, &st);
	CHECK(st.files_opened == 0 && st.files_failed == 2 && st.lookups == 5 &&
	      st.lookups_failed == 5,
	      "stats: opened %" PRIu64 " failed %" PRIu64 " lookups %" PRIu64 "/%" PRIu64,
	      st.files_opened, st.files_failed, st.lookups, st.lookups_failed);
	CHECK(sym_cache_get_elf(NULL, &(struct sym_file_ref){ .path = path }, &elf) == -EINVAL,
	      "NULL cache");
	sym_cache_free(c);
}

int main(void)
{
	check_executables();
	check_library();
	check_exited();
	check_sharing();
	check_proc_root();
	check_negative();
	return check_report("test_live");
}
