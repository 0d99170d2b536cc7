/* The parser worker: that it is confined, that what it names is what the
 * symbolizer names in-process (itself checked against binutils in
 * test_dwarf.c), that it finds debug files through the agent's
 * descriptors, and that its deaths, hangs and restarts cost a file and a
 * counter, never the process that asked.
 *
 * The worker is worker_host (WORKER_HOST), which runs sym_worker_main as
 * the agent's executable does. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sym.h"
#include "table_cache.h"
#include "test_util.h"
#include "unwind.h"

#define MAX_ADDRS 400

/* AddressSanitizer turns the worker's SIGBUS into a report and exit 1. */
#ifdef __SANITIZE_ADDRESS__
#define DEATH_BY_SIGBUS "exited with status 1"
#else
#define DEATH_BY_SIGBUS "killed by SIGBUS"
#endif

/* Addresses inside the text functions of an `nm` listing: spread over
 * each function where `nm -S` gave its size, its first bytes otherwise. */
static size_t function_addresses(const char *nm_file, uint64_t *out, size_t max)
{
	FILE *f = fopen(nm_file, "r");
	char line[512], name[256], type;
	uint64_t addr, size;
	size_t n = 0;

	CHECK(f, "open %s", nm_file);
	while (f && n < max && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%" SCNx64 " %" SCNx64 " %c %255s", &addr, &size, &type, name) != 4) {
			size = 2;
			if (sscanf(line, "%" SCNx64 " %c %255s", &addr, &type, name) != 3)
				continue;
		}
		if (type != 'T' && type != 't')
			continue;
		for (uint64_t off = 0; off < size && n < max; off += size / 16 + 1)
			out[n++] = addr + off;
	}
	if (f)
		fclose(f);
	return n;
}

static struct sym_worker *worker_new(unsigned int timeout_ms, unsigned int restarts)
{
	struct sym_worker_opts o = {
		.sz = sizeof(o),
		.exe = test_env("WORKER_HOST"),
		.timeout_ms = timeout_ms,
		.restarts_per_minute = restarts,
	};
	struct sym_worker *w = sym_worker_new(&o);

	CHECK(w, "sym_worker_new");
	return w;
}

static struct sym_cache *cache_new(struct sym_worker *w, const char *const *dirs)
{
	struct sym_cache *c = sym_cache_new(&(struct sym_cache_opts){
		.sz = sizeof(struct sym_cache_opts),
		.worker = w,
		.debug_dirs = dirs,
	});

	CHECK(c, "sym_cache_new");
	return c;
}

static struct sym_elf *open_host(struct sym_cache *c, const char *path, int *err)
{
	struct sym_elf *elf = NULL;

	*err = sym_cache_get_elf(c, &(struct sym_file_ref){ .path = path }, &elf);
	return *err ? NULL : elf;
}

static bool same_text(const char *a, const char *b)
{
	return !strcmp(a ? a : "", b ? b : "");
}

static bool same_location(const struct sym_location *a, const struct sym_location *b)
{
	if (a->n != b->n || a->from_dwarf != b->from_dwarf)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (!same_text(a->frames[i].name, b->frames[i].name) ||
		    !same_text(a->frames[i].system_name, b->frames[i].system_name) ||
		    !same_text(a->frames[i].file, b->frames[i].file) ||
		    a->frames[i].line != b->frames[i].line ||
		    a->frames[i].start_line != b->frames[i].start_line)
			return false;
	return true;
}

/* Every address of path named by the worker as in-process; returns how
 * many had inlined frames (so the comparison covered DWARF). */
static size_t check_same_names(struct sym_cache *remote, const char *path, const char *nm_file)
{
	struct sym_cache *here = sym_cache_new(NULL);
	uint64_t addrs[MAX_ADDRS];
	size_t n = function_addresses(nm_file, addrs, MAX_ADDRS), inlined = 0, named = 0;
	struct sym_elf *r, *h;
	int err;

	CHECK(n > 20, "only %zu addresses in %s", n, nm_file);
	h = open_host(here, path, &err);
	CHECK(h, "in-process open of %s: %d", path, err);
	r = open_host(remote, path, &err);
	CHECK(r, "worker's open of %s: %d", path, err);
	if (!h || !r)
		goto out;
	CHECK(!strcmp(sym_elf_build_id(r) ? sym_elf_build_id(r) : "",
		      sym_elf_build_id(h) ? sym_elf_build_id(h) : ""), "build-ids differ");
	CHECK(sym_elf_has_dwarf(r) == sym_elf_has_dwarf(h), "has_dwarf differs");
	CHECK(sym_elf_unwind_table(r) && sym_elf_unwind_table(h) &&
	      sym_elf_unwind_table(r)->n == sym_elf_unwind_table(h)->n &&
	      !memcmp(sym_elf_unwind_table(r)->rows, sym_elf_unwind_table(h)->rows,
		      sym_elf_unwind_table(h)->n * sizeof(uint64_t)),
	      "unwind tables differ");
	for (size_t i = 0; i < n; i++)
		sym_cache_want(remote, r, addrs[i], 1);
	sym_cache_fetch(remote);
	for (size_t i = 0; i < n; i++) {
		struct sym_location lr, lh;

		CHECK(sym_elf_resolve(remote, r, addrs[i], &lr) == 0, "resolve %" PRIx64, addrs[i]);
		CHECK(sym_elf_resolve(here, h, addrs[i], &lh) == 0, "resolve %" PRIx64, addrs[i]);
		CHECK(same_location(&lr, &lh), "%s %#" PRIx64 ": the worker says %s (%zu frames), "
		      "in-process %s (%zu)", path, addrs[i], lr.n ? lr.frames[0].name : "nothing",
		      lr.n, lh.n ? lh.frames[0].name : "nothing", lh.n);
		named += lh.n > 0;
		inlined += lh.n > 1;
	}
	CHECK(named > n / 2, "only %zu of %zu addresses named", named, n);
out:
	sym_cache_free(here);
	return inlined;
}

static void check_names(void)
{
	struct sym_worker *w = worker_new(0, 0);
	struct sym_cache *c = cache_new(w, NULL);
	struct sym_worker_stats st;

	CHECK(check_same_names(c, test_env("SYM_INLINE"), test_env("SYM_INLINE_NM")) > 0,
	      "no inlined frames compared");
	check_same_names(c, test_env("SYM_PIE"), test_env("SYM_PIE_NM"));
	sym_worker_get_stats(w, &st);
	CHECK(st.starts == 1 && st.deaths == 0, "starts %" PRIu64 " deaths %" PRIu64, st.starts,
	      st.deaths);
	sym_cache_free(c);
	sym_worker_free(w);
}

/* sym_cache_find_functions through the worker answers as in-process, at
 * nm's addresses; an alias is found under the name the table keeps. */
static void check_find_functions(void)
{
	static const char *const names[] = {
		"fixture_alpha", "fixture_beta", "fixture_gamma_local", "fixture_delta",
		"fixture_c_weak_alias", "no_such_function",
	};
	enum { N = sizeof(names) / sizeof(names[0]) };
	const char *nm = test_env("SYM_PIE_NM"), *path = test_env("SYM_PIE");
	struct sym_worker *w = worker_new(0, 0);
	struct sym_cache *caches[2] = { cache_new(w, NULL), sym_cache_new(NULL) };
	const char *many[SYM_FIND_FUNCTIONS_MAX + 1];
	char long_name[SYM_FUNCTION_NAME_MAX + 2];

	for (size_t i = 0; i <= SYM_FIND_FUNCTIONS_MAX; i++)
		many[i] = "fixture_alpha";
	memset(long_name, 'x', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	for (size_t k = 0; k < 2; k++) {
		uint64_t vaddrs[SYM_FIND_FUNCTIONS_MAX + 1];
		const char *bad[] = { "fixture_alpha", long_name };
		struct sym_elf *elf;
		int err;

		elf = open_host(caches[k], path, &err);
		CHECK(elf, "open of %s (%s): %d", path, k ? "in-process" : "worker", err);
		if (!elf)
			continue;
		err = sym_cache_find_functions(caches[k], elf, names, N, vaddrs);
		CHECK(!err, "find_functions (%s): %d", k ? "in-process" : "worker", err);
		for (size_t i = 0; !err && i < 4; i++)
			CHECK_U64(vaddrs[i], test_nm_addr(nm, names[i]));
		CHECK(!err && !vaddrs[4] && !vaddrs[5], "found an alias not kept, or no function");
		CHECK_INT(sym_cache_find_functions(caches[k], elf, many,
						   SYM_FIND_FUNCTIONS_MAX + 1, vaddrs), -E2BIG);
		CHECK_INT(sym_cache_find_functions(caches[k], elf, bad, 2, vaddrs), -EINVAL);
	}
	sym_cache_free(caches[0]);
	sym_cache_free(caches[1]);
	sym_worker_free(w);
}

static void copy_file(const char *src, const char *dst)
{
	char cmd[2048];

	snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", src, dst);
	CHECK(system(cmd) == 0, "%s", cmd);
}

/* A stripped binary whose .gnu_debuglink names a file beside it: the
 * worker opens nothing, so the agent's side opened the candidate. */
static void check_debuglink(void)
{
	struct sym_worker *w = worker_new(0, 0);
	struct sym_cache *c = cache_new(w, NULL);
	char dir[512], bin[600], dbg[600];
	struct sym_location loc;
	struct sym_elf *elf;
	uint64_t addrs[MAX_ADDRS];
	size_t n = function_addresses(test_env("SYM_INLINE_NM"), addrs, MAX_ADDRS), inlined = 0;
	int err;

	snprintf(dir, sizeof(dir), "%s/debuglink", test_tmpdir());
	CHECK(!test_mkdirs(dir), "mkdir");
	snprintf(bin, sizeof(bin), "%s/fixture_inline", dir);
	snprintf(dbg, sizeof(dbg), "%s/fixture_inline.debug", dir);
	copy_file(test_env("SYM_INLINE_LINKED"), bin);
	copy_file(test_env("SYM_INLINE_DEBUG"), dbg);
	elf = open_host(c, bin, &err);
	CHECK(elf && sym_elf_has_dwarf(elf), "debug file not found through the agent: %d", err);
	for (size_t i = 0; elf && i < n; i++)
		if (sym_elf_resolve(c, elf, addrs[i], &loc) == 0)
			inlined += loc.n > 1 && loc.from_dwarf;
	CHECK(inlined > 0, "no inlined frames from the debug file");
	sym_cache_free(c);
	sym_worker_free(w);
}

/* The filter is on each of the worker's threads (its memory watch too). */
static void check_every_thread_filtered(int pid)
{
	char path[512], line[256];
	size_t threads = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	d = opendir(path);
	CHECK(d, "opendir %s", path);
	for (struct dirent *e; d && (e = readdir(d));) {
		bool filtered = false;
		FILE *f;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%s/status", pid, e->d_name);
		f = fopen(path, "r");
		while (f && fgets(line, sizeof(line), f))
			filtered |= !strcmp(line, "Seccomp:\t2\n");
		if (f)
			fclose(f);
		CHECK(filtered, "thread %s of the worker has no seccomp filter", e->d_name);
		threads++;
	}
	if (d)
		closedir(d);
	CHECK(threads >= 2, "the worker has %zu thread(s), not its memory watch too", threads);
}

/* /proc/PID/status of the running worker: nothing held, seccomp on. */
static void check_confined(void)
{
	static const char *const want[] = { "CapInh:\t0000000000000000", "CapPrm:\t0000000000000000",
					    "CapEff:\t0000000000000000", "CapBnd:\t0000000000000000",
					    "CapAmb:\t0000000000000000", "NoNewPrivs:\t1",
					    "Seccomp:\t2" };
	struct sym_worker *w = worker_new(0, 0);
	struct sym_cache *c = cache_new(w, NULL);
	char path[64], status[4096] = "";
	struct sym_worker_stats st;
	FILE *f;
	int err;

	CHECK(open_host(c, test_env("SYM_PIE"), &err), "open: %d", err);
	sym_worker_get_stats(w, &st);
	CHECK(st.pid > 0, "no worker running");
	snprintf(path, sizeof(path), "/proc/%d/status", st.pid);
	f = fopen(path, "r");
	CHECK(f, "open %s", path);
	if (f) {
		size_t len = fread(status, 1, sizeof(status) - 1, f);

		status[len] = '\0';
		fclose(f);
	}
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		CHECK(strstr(status, want[i]), "worker's status lacks \"%s\"", want[i]);
	check_every_thread_filtered(st.pid);
	sym_cache_free(c);
	sym_worker_free(w);
}

/* What the confinement refuses, tried by the worker itself. */
static void check_refusals(void)
{
	static const char *const calls[] = { "open", "openat", "socket", "ptrace",
					     "kill", "capset", "execve" };
	char cmd[1024], line[128];
	size_t refused = 0, lines = 0;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "'%s' %s 0 --self-test 3</dev/null", test_env("WORKER_HOST"),
		 SYM_WORKER_ARGV1);
	p = popen(cmd, "r");
	CHECK(p, "popen");
	while (p && fgets(line, sizeof(line), p)) {
		char call[32], result[32];

		lines++;
		if (sscanf(line, "%31s %31s", call, result) != 2)
			continue;
		for (size_t i = 0; i < sizeof(calls) / sizeof(calls[0]); i++)
			if (!strcmp(call, calls[i])) {
				CHECK(!strcmp(result, "EPERM"), "%s from the worker: %s", call, result);
				refused += !strcmp(result, "EPERM");
			}
	}
	CHECK(p && pclose(p) == 0, "self-test failed");
	CHECK(lines == 7 && refused == 7, "%zu of %zu calls refused", refused, lines);
}

static void sleep_ms(long ms)
{
	struct timespec t = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	nanosleep(&t, NULL);
}

static int worker_pid(struct sym_worker *w)
{
	struct sym_worker_stats st;

	sym_worker_get_stats(w, &st);
	return st.pid;
}

/* Killed between requests: the next request starts another, and the
 * files the dead one held are read again after a trim. */
static void check_killed(void)
{
	struct sym_worker *w = worker_new(0, 0);
	struct sym_cache *c = cache_new(w, NULL);
	uint64_t addrs[MAX_ADDRS];
	size_t n = function_addresses(test_env("SYM_PIE_NM"), addrs, MAX_ADDRS), named = 0;
	struct sym_location loc;
	struct sym_worker_stats st;
	struct sym_cache_stats cs;
	struct sym_elf *elf;
	int err;

	elf = open_host(c, test_env("SYM_PIE"), &err);
	CHECK(elf, "open: %d", err);
	kill(worker_pid(w), SIGKILL);
	sleep_ms(50);
	/* This interval's frames of it stay unnamed (the death is found
	 * here); from the next one on, a new worker names them. */
	CHECK(elf && sym_elf_resolve(c, elf, addrs[0], &loc) == 0 && loc.n == 0,
	      "named by a dead worker");
	sym_cache_trim(c);
	elf = open_host(c, test_env("SYM_PIE"), &err);
	CHECK(elf, "open after the worker was killed: %d", err);
	for (size_t i = 0; elf && i < n; i++)
		named += sym_elf_resolve(c, elf, addrs[i], &loc) == 0 && loc.n > 0;
	CHECK(named > n / 2, "after a restart only %zu of %zu named", named, n);
	sym_worker_get_stats(w, &st);
	sym_cache_get_stats(c, &cs);
	CHECK(st.starts == 2, "starts %" PRIu64, st.starts);
	CHECK(cs.quarantined == 0, "a kill between requests quarantined a file");
	sym_cache_free(c);
	sym_worker_free(w);
}

/* The file at path is set aside: what the cache answers for it is a stub
 * with the build-id of original, and nothing else. */
static void check_stub(struct sym_cache *c, const char *path, const char *original)
{
	struct sym_elf *stub, *orig = NULL;
	uint64_t vaddr;
	int err;

	stub = open_host(c, path, &err);
	CHECK(stub, "the file set aside: %d", err);
	CHECK(sym_elf_open(original, &orig) == 0, "open %s", original);
	CHECK(stub && orig && sym_elf_build_id(stub) && sym_elf_build_id(orig) &&
	      !strcmp(sym_elf_build_id(stub), sym_elf_build_id(orig)),
	      "the stub's build-id is %s", stub && sym_elf_build_id(stub) ? sym_elf_build_id(stub)
								   : "none");
	CHECK(stub && !sym_elf_unwind_table(stub) && sym_elf_offset_to_vaddr(stub, 0, &vaddr),
	      "the stub has a table or segments");
	sym_elf_free(orig);
}

/* A worker that stops answering is killed at the request's deadline, and
 * the file it was reading is set aside (its frames unnamed, no error):
 * one it hangs on before it has read its build-id, and one it has read
 * and hangs on naming an address, which keeps its build-id. */
static void check_hung(void)
{
	struct sym_worker *w = worker_new(300, 0);
	struct sym_cache *c = cache_new(w, NULL);
	struct sym_location loc;
	struct sym_worker_stats st;
	struct sym_cache_stats cs;
	struct sym_elf *elf;
	int err, pid;

	CHECK(open_host(c, test_env("SYM_PIE"), &err), "open: %d", err);
	pid = worker_pid(w);
	kill(pid, SIGSTOP);
	elf = open_host(c, test_env("SYM_INLINE"), &err);
	sym_worker_get_stats(w, &st);
	sym_cache_get_stats(c, &cs);
	CHECK(st.timeouts == 1, "timeouts %" PRIu64, st.timeouts);
	CHECK(cs.quarantined == 1, "quarantined %" PRIu64, cs.quarantined);
	CHECK(elf && !sym_elf_unwind_table(elf), "a quarantined file: %d", err);
	CHECK(kill(pid, 0) < 0 && errno == ESRCH, "the hung worker still exists");
	/* The next file goes to a new worker, which hangs naming it. */
	elf = open_host(c, test_env("SYM_NOPIE"), &err);
	CHECK(elf, "open after a hang: %d", err);
	sym_worker_get_stats(w, &st);
	CHECK(st.starts == 2, "starts %" PRIu64, st.starts);
	kill(worker_pid(w), SIGSTOP);
	CHECK(elf && sym_elf_resolve(c, elf, 0x401000, &loc) == 0 && loc.n == 0,
	      "named by a hung worker");
	sym_cache_trim(c);
	check_stub(c, test_env("SYM_NOPIE"), test_env("SYM_NOPIE"));
	sym_cache_free(c);
	sym_worker_free(w);
}

static uint64_t monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* A pid no process has now. */
static int gone_pid(void)
{
	pid_t pid = fork();

	if (pid == 0)
		_exit(0);
	waitpid(pid, NULL, 0);
	return (int)pid;
}

/* A process gone before its file was read: the file is reached through
 * the host's root, and while the worker is still reading it the answer is
 * "not yet" (asked again later), not "no such file", which was remembered
 * as the file's answer for that process: its frames stayed unnamed and
 * its stack copies were walked without the file's table (a cold cc1plus
 * in CI, 0 of 56 samples whole). */
static void check_gone_process_late(void)
{
	struct sym_worker *w = worker_new(0, 0);
	struct sym_cache *c = cache_new(w, NULL);
	struct sym_file_ref ref = {
		.pid = gone_pid(), .path = test_env("SYM_PIE"),
		.map_start = 0x7f0000000000, .map_end = 0x7f0000010000,
	};
	struct sym_elf *elf = NULL;
	int err, pid;

	CHECK(open_host(c, test_env("SYM_NOPIE"), &err), "open: %d", err); /* starts the worker */
	pid = worker_pid(w);
	kill(pid, SIGSTOP);
	sym_cache_set_deadline(c, monotonic_ns() + 20 * 1000000ULL);
	err = sym_cache_get_elf(c, &ref, &elf);
	CHECK(err == -EAGAIN, "a gone process's file being read: %d, not -EAGAIN", err);
	kill(pid, SIGCONT);
	sym_cache_set_deadline(c, 0);
	err = sym_cache_get_elf(c, &ref, &elf);
	CHECK(err == 0 && elf && sym_elf_unwind_table(elf),
	      "the same file asked again once read: %d", err);
	sym_cache_free(c);
	sym_worker_free(w);
}

/* A file truncated after it was read: libdw maps it, so the worker dies
 * of SIGBUS naming it; the file is set aside, the caller goes on. */
static void check_truncated(void)
{
	struct sym_worker *w = worker_new(0, 0);
	struct sym_cache *c = cache_new(w, NULL);
	uint64_t addrs[MAX_ADDRS];
	size_t n = function_addresses(test_env("SYM_INLINE_NM"), addrs, MAX_ADDRS);
	char path[600];
	struct sym_location loc;
	struct sym_worker_stats st;
	struct sym_cache_stats cs;
	struct sym_elf *elf;
	int err;

	snprintf(path, sizeof(path), "%s/truncated", test_tmpdir());
	copy_file(test_env("SYM_INLINE"), path);
	elf = open_host(c, path, &err);
	CHECK(elf, "open: %d", err);
	CHECK(truncate(path, 4096) == 0, "truncate");
	for (size_t i = 0; elf && i < n; i++)
		sym_elf_resolve(c, elf, addrs[i], &loc);
	sym_worker_get_stats(w, &st);
	sym_cache_get_stats(c, &cs);
	CHECK(st.deaths == 1 && cs.quarantined == 1,
	      "deaths %" PRIu64 ", quarantined %" PRIu64, st.deaths, cs.quarantined);
	CHECK(strstr(cs.last_quarantine, "truncated") && strstr(cs.last_quarantine, DEATH_BY_SIGBUS),
	      "quarantine says: %s", cs.last_quarantine);
	CHECK(open_host(c, test_env("SYM_PIE"), &err), "another file after the death: %d", err);
	sym_cache_free(c);
	sym_worker_free(w);
}

/* A JIT's perf map is parsed by the worker, and names as it would here:
 * the later of two overlapping lines wins (sizes are hex), a bad line is
 * skipped. */
static void check_perf_map(void)
{
	static const char text[] = "1000 100 js:alpha\n"
				   "not a line\n"
				   "1080 40 js:beta (later, over alpha's middle)\n"
				   "2000 10 Lua:gamma\n";
	static const struct {
		uint64_t addr;
		const char *name;
	} want[] = { { 0x1000, "js:alpha" }, { 0x107f, "js:alpha" },
		     { 0x1080, "js:beta (later, over alpha's middle)" },
		     { 0x10bf, "js:beta (later, over alpha's middle)" }, { 0x10c0, "js:alpha" },
		     { 0x10ff, "js:alpha" }, { 0x1100, NULL }, { 0x200f, "Lua:gamma" },
		     { 0x2010, NULL } };
	struct sym_worker *w = worker_new(0, 0);
	struct sym_cache *c = cache_new(w, NULL);
	struct sym_worker_stats st;
	char path[64];

	snprintf(path, sizeof(path), "/tmp/perf-%d.map", (int)getpid());
	CHECK(test_write_file(path, text, sizeof(text) - 1) == 0, "write %s", path);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		const char *name = NULL;
		int err = sym_cache_lookup_perf_map(c, getpid(), getpid(), want[i].addr, &name);

		if (want[i].name)
			CHECK_NAME(err, name, want[i].name);
		else
			CHECK(err == -ENOENT, "%#" PRIx64 " named %s", want[i].addr, name);
	}
	sym_worker_get_stats(w, &st);
	CHECK(st.starts == 1, "the perf map was not parsed by the worker (starts %" PRIu64 ")",
	      st.starts);
	unlink(path);
	sym_cache_free(c);
	sym_worker_free(w);
}

/* A worker that keeps dying is restarted at most so often; past that,
 * requests fail at once and are counted. */
static void check_restart_bound(void)
{
	struct sym_worker *w = worker_new(0, 2);
	struct sym_cache *c = cache_new(w, NULL);
	struct sym_worker_stats st;
	char path[600];
	int err;

	/* Copies: each a file to read, so each a request. */
	for (int i = 0; i < 8; i++) {
		snprintf(path, sizeof(path), "%s/copy%d", test_tmpdir(), i);
		copy_file(test_env("SYM_PIE"), path);
		open_host(c, path, &err);
		if (worker_pid(w) > 0)
			kill(worker_pid(w), SIGKILL);
		sleep_ms(20);
		sym_cache_trim(c);
	}
	sym_worker_get_stats(w, &st);
	CHECK(st.starts == 2, "starts %" PRIu64 " (bound 2 a minute)", st.starts);
	CHECK(st.refused >= 1, "refused %" PRIu64, st.refused);
	sym_cache_free(c);
	sym_worker_free(w);
}

/* A cache and a worker of their own, on the table cache at dir: path's
 * unwind table (copied into *out) and the cache's counts. */
static void open_with_tables(const char *dir, const char *path, struct sym_unwind_table *out,
			     char *content_id, struct sym_cache_stats *st)
{
	struct sym_table_cache_opts to = { .sz = sizeof(to), .dir = dir };
	struct sym_worker *w = worker_new(0, 0);
	struct sym_table_cache *tc = NULL;
	const struct sym_unwind_table *t;
	struct sym_cache *c;
	struct sym_elf *elf;
	int err;

	*out = (struct sym_unwind_table){ 0 };
	CHECK_INT(sym_table_cache_new(&to, &tc), 0);
	c = sym_cache_new(&(struct sym_cache_opts){
		.sz = sizeof(struct sym_cache_opts), .worker = w, .table_cache = tc });
	elf = open_host(c, path, &err);
	CHECK(elf, "open %s: %d", path, err);
	t = elf ? sym_elf_unwind_table(elf) : NULL;
	if (t && (out->rows = malloc(t->n * sizeof(*t->rows)))) {
		memcpy(out->rows, t->rows, t->n * sizeof(*t->rows));
		out->n = t->n;
	}
	snprintf(content_id, SYM_CONTENT_ID_LEN + 1, "%s",
		 elf && sym_elf_content_id(elf) ? sym_elf_content_id(elf) : "");
	sym_cache_get_stats(c, st);
	sym_cache_free(c);
	sym_table_cache_free(tc);
	sym_worker_free(w);
}

/* The table cache: the first open builds the table and writes it; the
 * next cache (a restart) asks the worker not to build it and takes it
 * from disk: a table changed on disk (half its rows, still sorted) is
 * the one it gets. */
static void check_table_cache(void)
{
	char dir[] = "/tmp/smolder_worker_tables.XXXXXX", id[SYM_CONTENT_ID_LEN + 1], cmd[64];
	struct sym_table_cache_opts to = { .sz = sizeof(to), .dir = dir };
	struct sym_unwind_table built, again, half;
	struct sym_table_cache *tc = NULL;
	struct sym_cache_stats st;

	if (!mkdtemp(dir))
		return;
	open_with_tables(dir, test_env("SYM_PIE"), &built, id, &st);
	CHECK(built.n > 10, "a table built: %zu rows", built.n);
	CHECK_U64(st.unwind_cache_misses, 1);
	CHECK_U64(st.unwind_cache_hits, 0);
	CHECK(st.unwind_cache_bytes > 0, "bytes written");

	open_with_tables(dir, test_env("SYM_PIE"), &again, id, &st);
	CHECK_U64(st.unwind_cache_misses, 0);
	CHECK_U64(st.unwind_cache_hits, 1);
	CHECK(again.n == built.n && !memcmp(again.rows, built.rows, built.n * sizeof(*built.rows)),
	      "the table from disk is the one built");
	sym_unwind_table_release(&again);

	half = built;
	half.n = built.n / 2;
	CHECK_INT(sym_table_cache_new(&to, &tc), 0);
	CHECK_INT(sym_table_cache_write(tc, id, &half), 0);
	sym_table_cache_free(tc);
	open_with_tables(dir, test_env("SYM_PIE"), &again, id, &st);
	CHECK_U64(st.unwind_cache_hits, 1);
	CHECK_U64(again.n, half.n);
	sym_unwind_table_release(&again);
	sym_unwind_table_release(&built);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd))
		check_failures++;
}

/* The table holder's answer and the content ids it was asked about. */
struct holder {
	bool holds;
	int asked;
	char last[SYM_CONTENT_ID_LEN + 1];
};

static bool holder_holds(void *ctx, const char *content_id)
{
	struct holder *h = ctx;

	h->asked++;
	snprintf(h->last, sizeof(h->last), "%s", content_id);
	return h->holds;
}

/* A file whose table the holder (the agent's rows array) has loaded is
 * read without building it again; one it has not, with its table. The
 * holder is asked by the file's content id; a file marked to be read again
 * is, table and all, after the trim. */
static void check_table_holder(void)
{
	struct holder h = { .holds = true };
	struct sym_worker *w = worker_new(0, 0);
	struct sym_cache *c = cache_new(w, NULL);
	struct sym_elf *elf;
	int err;

	sym_cache_set_table_holder(c, holder_holds, &h);
	elf = open_host(c, test_env("SYM_PIE"), &err);
	CHECK(elf, "open: %d", err);
	CHECK_INT(h.asked, 1);
	CHECK(elf && sym_elf_content_id(elf) && !strcmp(h.last, sym_elf_content_id(elf)),
	      "asked about '%s'", h.last);
	CHECK(elf && !sym_elf_unwind_table(elf) && sym_elf_table_held(elf),
	      "a held table was built again");
	/* The holder lost it: read again, with its table. */
	h.holds = false;
	sym_cache_reread(c, elf);
	sym_cache_trim(c);
	elf = open_host(c, test_env("SYM_PIE"), &err);
	CHECK(elf, "open again: %d", err);
	CHECK_INT(h.asked, 2);
	CHECK(elf && sym_elf_unwind_table(elf) && !sym_elf_table_held(elf),
	      "no table after the holder lost it");
	sym_cache_free(c);
	sym_worker_free(w);
}

/* The voluntary context switches of the worker's threads together. */
static uint64_t worker_switches(int pid)
{
	char dir[64], path[384], line[256];
	uint64_t total = 0;
	struct dirent *d;
	DIR *tasks;

	snprintf(dir, sizeof(dir), "/proc/%d/task", pid);
	tasks = opendir(dir);
	while (tasks && (d = readdir(tasks))) {
		FILE *f;

		if (d->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s/status", dir, d->d_name);
		f = fopen(path, "r");
		while (f && fgets(line, sizeof(line), f)) {
			unsigned long long v;

			if (sscanf(line, "voluntary_ctxt_switches: %llu", &v) == 1)
				total += v;
		}
		if (f)
			fclose(f);
	}
	if (tasks)
		closedir(tasks);
	return total;
}

/* Anonymous resident bytes of process pid, as the worker counts its own. */
static size_t anon_resident_of(int pid)
{
	char path[64];
	unsigned long size = 0, resident = 0, shared = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/statm", pid);
	f = fopen(path, "r");
	if (f && fscanf(f, "%lu %lu %lu", &size, &resident, &shared) != 3)
		resident = shared = 0;
	if (f)
		fclose(f);
	return resident > shared ? (resident - shared) * (size_t)sysconf(_SC_PAGESIZE) : 0;
}

/* A worker that has read one small file (SYM_PIE); its pid. */
static int worker_with_small_file(struct sym_worker *w, struct sym_cache *c)
{
	int err;

	CHECK(open_host(c, test_env("SYM_PIE"), &err), "a small file: %d", err);
	return worker_pid(w);
}

/* The memory cap holds while a request is served (a large table's build
 * passes it: the worker exits, counted as a death), and an idle worker
 * does not wake: its memory watch waits for the next request instead of
 * looking 200 times a second. The cap is what a worker holds after one
 * small file (more under the sanitizers) plus 4 MiB, which cc1's table
 * alone (478k rows, 7.6 MB) passes. */
static void check_memory_cap(void)
{
	struct sym_worker *w = worker_new(0, 0);
	struct sym_cache *c = cache_new(w, NULL);
	struct sym_worker_opts o = { .sz = sizeof(o), .exe = test_env("WORKER_HOST") };
	struct sym_worker_stats st;
	char cc1[512] = "";
	FILE *p = popen("gcc -print-prog-name=cc1", "r");
	struct sym_elf *elf;
	uint64_t before;
	int err, pid;

	if (p && !fgets(cc1, sizeof(cc1), p))
		cc1[0] = '\0';
	if (p)
		pclose(p);
	cc1[strcspn(cc1, "\n")] = '\0';
	CHECK(cc1[0] == '/', "no cc1 (gcc -print-prog-name=cc1: '%s')", cc1);
	pid = worker_with_small_file(w, c);
	CHECK(pid > 0, "no worker");
	o.memory_cap = anon_resident_of(pid) + (4u << 20);
	before = worker_switches(pid);
	sleep_ms(500);
	CHECK(worker_switches(pid) - before < 5, "an idle worker woke %llu times in 0.5 s",
	      (unsigned long long)(worker_switches(pid) - before));
	sym_cache_free(c);
	sym_worker_free(w);

	w = sym_worker_new(&o);
	c = cache_new(w, NULL);
	CHECK(worker_with_small_file(w, c) > 0, "no worker under a cap of %zu", o.memory_cap);
	/* The worker's death on it sets the file aside: a stub, no table. */
	elf = open_host(c, cc1, &err);
	CHECK(!elf || !sym_elf_unwind_table(elf), "cc1 read within a cap of %zu", o.memory_cap);
	sym_worker_get_stats(w, &st);
	CHECK(st.deaths == 1, "deaths %" PRIu64 " (%d)", st.deaths, err);
	sym_cache_free(c);
	sym_worker_free(w);
}

int main(void)
{
	check_refusals();
	check_confined();
	check_names();
	check_find_functions();
	check_debuglink();
	check_killed();
	check_hung();
	check_truncated();
	check_gone_process_late();
	check_restart_bound();
	check_perf_map();
	check_table_cache();
	check_table_holder();
	check_memory_cap();
	return check_report("test_worker");
}
