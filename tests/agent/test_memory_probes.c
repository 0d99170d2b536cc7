/* agent/memory_probes.c on live processes, with and without the parser
 * worker (this very program, run again as one): this test itself, whose
 * allocator is glibc's libc.so.6, and a helper linked with jemalloc
 * (JEMALLOC_HELPER). Where each function is comes from the dynamic linker
 * (dlsym; the helper's malloc) and binutils (nm -D of libjemalloc,
 * JEMALLOC_NM), placed in the file through /proc/PID/maps: never from the
 * symbolizer. */
#include <dlfcn.h>
#include <errno.h>
#include <gnu/libc-version.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "disc.h"
#include "memory.h"
#include "memory_probes.h"
#include "sym.h"
#include "test_util.h"

struct want {
	const char *name;
	uint32_t call;
};

#define W(n, c) { n, SMOLDER_MEM_##c }

/* memalign and aligned_alloc are one function (one probe); cfree is
 * free, and dlsym finds no default version of it. */
static const struct want glibc_wants[] = {
	W("malloc", MALLOC), W("valloc", MALLOC), W("pvalloc", MALLOC),
	W("calloc", CALLOC), W("realloc", REALLOC),
	W("memalign", MEMALIGN), W("aligned_alloc", MEMALIGN),
	W("posix_memalign", POSIX_MEMALIGN), W("free", FREE),
};
static const char *const glibc_unprobed[] = { "reallocarray", "malloc_usable_size" };

static const struct want jemalloc_wants[] = {
	W("malloc", MALLOC), W("valloc", MALLOC), W("mallocx", MALLOC),
	W("calloc", CALLOC), W("realloc", REALLOC), W("rallocx", REALLOC),
	W("memalign", MEMALIGN), W("aligned_alloc", MEMALIGN),
	W("posix_memalign", POSIX_MEMALIGN),
	W("free", FREE), W("dallocx", FREE), W("sdallocx", FREE),
	W("_Znwm", MALLOC), W("_Znam", MALLOC),
	W("_ZnwmRKSt9nothrow_t", MALLOC), W("_ZnamRKSt9nothrow_t", MALLOC),
	W("_ZnwmSt11align_val_t", MALLOC), W("_ZnamSt11align_val_t", MALLOC),
	W("_ZnwmSt11align_val_tRKSt9nothrow_t", MALLOC),
	W("_ZnamSt11align_val_tRKSt9nothrow_t", MALLOC),
	W("_ZdlPv", FREE), W("_ZdaPv", FREE), W("_ZdlPvm", FREE), W("_ZdaPvm", FREE),
	W("_ZdlPvRKSt9nothrow_t", FREE), W("_ZdaPvRKSt9nothrow_t", FREE),
	W("_ZdlPvSt11align_val_t", FREE), W("_ZdaPvSt11align_val_t", FREE),
	W("_ZdlPvmSt11align_val_t", FREE), W("_ZdaPvmSt11align_val_t", FREE),
	W("_ZdlPvSt11align_val_tRKSt9nothrow_t", FREE),
	W("_ZdaPvSt11align_val_tRKSt9nothrow_t", FREE),
};
static const char *const jemalloc_unprobed[] = {
	"xallocx", "nallocx", "sallocx", "malloc_usable_size", "mallctl",
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* A process to inspect and where its allocator's functions are loaded. */
struct target {
	int pid;
	const char *lib;       /* its allocator file's base name starts so */
	const char *allocator; /* what memory_probes_find must say */
	const struct want *wants;
	size_t n_wants;
	const char *const *unprobed;
	size_t n_unprobed;
	uint64_t (*addr_of)(const struct target *t, const char *name); /* 0: none */
	void *libc;       /* this process: libc's handle */
	const char *nm;   /* the helper: nm -D of its libjemalloc */
	uint64_t bias;    /* and where that is loaded */
};

static uint64_t self_addr(const struct target *t, const char *name)
{
	return (uint64_t)(uintptr_t)dlsym(t->libc, name);
}

static uint64_t helper_addr(const struct target *t, const char *name)
{
	uint64_t vaddr = test_nm_addr(t->nm, name);

	return vaddr ? t->bias + vaddr : 0;
}

static bool starts_with(const char *path, const char *prefix)
{
	const char *slash = strrchr(path, '/');

	return !strncmp(slash ? slash + 1 : path, prefix, strlen(prefix));
}

/* The file offset of addr in t's process, in its allocator's file. */
static uint64_t file_offset(const struct target *t, uint64_t addr)
{
	struct test_mapping m;

	if (!addr || test_find_mapping(t->pid, addr, &m))
		return UINT64_MAX;
	CHECK(starts_with(m.path, t->lib), "%#" PRIx64 " is in %s", addr, m.path);
	return addr - m.start + m.offset;
}

static const struct memory_probe *probe_at(const struct memory_probe_set *s, uint64_t off)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->v[i].offset == off)
			return &s->v[i];
	return NULL;
}

/* A function that frees may be probed past a leading NULL test. */
static const struct memory_probe *probe_of(const struct memory_probe_set *s, uint64_t entry,
					   uint32_t call)
{
	static const uint64_t skips[] = { 0, 5, 9 };
	const struct memory_probe *p = NULL;

	for (size_t i = 0; !p && i < (call == SMOLDER_MEM_FREE ? N(skips) : 1); i++)
		p = probe_at(s, entry + skips[i]);
	return p;
}

/* Each probe: one at its offset, in a mapping of the allocator's file
 * (whose map_files link leads to it), a return probe for all but FREE. */
static void check_shape(const struct target *t, const struct memory_probe_set *s)
{
	for (size_t i = 0; i < s->n; i++) {
		const struct memory_probe *p = &s->v[i];
		uint64_t start = 0, end = 0;
		char link[PATH_MAX];
		struct test_mapping m;
		int pid = 0, len = 0;
		ssize_t n;

		for (size_t j = 0; j < i; j++)
			CHECK(s->v[j].offset != p->offset, "two probes at %#" PRIx64, p->offset);
		CHECK(p->call >= SMOLDER_MEM_MALLOC && p->call < SMOLDER_MEM_CALL_COUNT);
		CHECK(p->ret == (p->call != SMOLDER_MEM_FREE), "%s: ret %d", p->name, p->ret);
		CHECK(p->name && p->name[0]);
		CHECK(sscanf(p->path, "/proc/%d/map_files/%" SCNx64 "-%" SCNx64 "%n", &pid, &start,
			     &end, &len) == 3 && !p->path[len] && pid == t->pid,
		      "path %s", p->path);
		CHECK(!test_find_mapping(t->pid, start, &m) && m.start == start && m.end == end &&
		      starts_with(m.path, t->lib), "%s is no mapping of %s", p->path, t->lib);
		n = readlink(p->path, link, sizeof(link) - 1);
		if (n >= 0) {
			link[n] = '\0';
			CHECK_STR(link, m.path);
		} else {
			CHECK(errno == EPERM, "readlink %s: %s", p->path, strerror(errno));
		}
	}
}

/* glibc 2.36's free opens with test %rdi,%rdi; je rel32 (objdump): its
 * probe goes past it, 9 bytes in. */
static void check_glibc_free(const struct target *t, const struct memory_probe_set *s)
{
	uint64_t entry = file_offset(t, t->addr_of(t, "free"));

	if (strcmp(t->allocator, "glibc") || strcmp(gnu_get_libc_version(), "2.36"))
		return;
	CHECK(probe_at(s, entry + 9), "free (%#" PRIx64 ") is not probed at +9", entry);
}

static void check_wants(const struct target *t, const struct memory_probe_set *s)
{
	uint64_t entries[64];
	size_t distinct = 0;

	for (size_t i = 0; i < t->n_wants && i < N(entries); i++) {
		const struct want *w = &t->wants[i];
		uint64_t entry = file_offset(t, t->addr_of(t, w->name));
		const struct memory_probe *p = probe_of(s, entry, w->call);
		bool seen = false;

		CHECK(entry != UINT64_MAX, "no %s in pid %d", w->name, t->pid);
		CHECK(p, "%s (%#" PRIx64 ") is not probed", w->name, entry);
		if (p)
			CHECK(p->call == w->call, "%s probed as %s, call %u", w->name, p->name,
			      p->call);
		for (size_t j = 0; j < distinct; j++)
			seen |= entries[j] == entry;
		if (!seen)
			entries[distinct++] = entry;
	}
	CHECK(s->n == distinct, "%zu probes, %zu functions", s->n, distinct);
	for (size_t i = 0; i < t->n_unprobed; i++) {
		uint64_t addr = t->addr_of(t, t->unprobed[i]);

		CHECK(!addr || !probe_at(s, file_offset(t, addr)), "%s is probed", t->unprobed[i]);
	}
}

static void check_target(struct sym_cache *c, const struct target *t, const char *how)
{
	struct disc_table *table = disc_table_new(NULL);
	const struct disc_process *p = NULL;
	struct memory_probe_set s;
	struct disc_stat st;
	int err;

	if (table && !disc_stat_read(NULL, t->pid, &st))
		p = disc_table_get(table, t->pid, st.start_ticks);
	CHECK(p, "pid %d not read", t->pid);
	err = p ? memory_probes_find(c, p, &s) : -ESRCH;
	CHECK(!err, "memory_probes_find(%d) %s: %d", t->pid, how, err);
	if (!err) {
		CHECK_STR(s.allocator, t->allocator);
		check_shape(t, &s);
		check_wants(t, &s);
		check_glibc_free(t, &s);
		memory_probe_set_release(&s);
	}
	disc_table_free(table);
}

/* Every target through a cache without a worker and one with. */
static void check_targets(const struct target *const *targets, size_t n)
{
	struct sym_worker *w = sym_worker_new(&(struct sym_worker_opts){
		.sz = sizeof(struct sym_worker_opts) });
	struct sym_cache *caches[2] = {
		sym_cache_new(NULL),
		sym_cache_new(&(struct sym_cache_opts){ .sz = sizeof(struct sym_cache_opts),
							.worker = w }),
	};

	CHECK(w && caches[0] && caches[1], "sym_worker_new, sym_cache_new");
	for (size_t i = 0; w && caches[0] && caches[1] && i < n; i++) {
		check_target(caches[0], targets[i], "in-process");
		check_target(caches[1], targets[i], "through the worker");
	}
	sym_cache_free(caches[0]);
	sym_cache_free(caches[1]);
	sym_worker_free(w);
}

static int run(void)
{
	struct target self = {
		.pid = getpid(), .lib = "libc.so.6", .allocator = "glibc",
		.wants = glibc_wants, .n_wants = N(glibc_wants),
		.unprobed = glibc_unprobed, .n_unprobed = N(glibc_unprobed),
		.addr_of = self_addr,
		.libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD),
	};
	struct target helper = {
		.lib = "libjemalloc.so", .allocator = "jemalloc",
		.wants = jemalloc_wants, .n_wants = N(jemalloc_wants),
		.unprobed = jemalloc_unprobed, .n_unprobed = N(jemalloc_unprobed),
		.addr_of = helper_addr,
		.nm = test_env("JEMALLOC_NM"),
	};
	const struct target *targets[] = { &self, &helper };
	struct test_proc proc;
	int err;

	CHECK(self.libc, "dlopen libc.so.6: %s", dlerror());
	err = test_spawn(test_env("JEMALLOC_HELPER"), &proc);
	CHECK(!err, "the jemalloc helper: %d", err);
	helper.pid = proc.pid;
	helper.bias = test_proc_addr(&proc, "malloc") - test_nm_addr(helper.nm, "malloc");
	check_targets(targets, err ? 1 : 2);
	test_kill(&proc);
	if (self.libc)
		dlclose(self.libc);
	return check_report("test_memory_probes");
}

int main(int argc, char **argv)
{
	/* The caches' parser worker is this program. */
	if (argc > 1 && !strcmp(argv[1], SYM_WORKER_ARGV1))
		return sym_worker_main(argc, argv);
	return run();
}
