/* Where a memory target's uprobes go (memory_probes.h).
 *
 * The allocator in force is the first object the dynamic linker binds
 * malloc to: an executable that defines malloc (a static jemalloc, a
 * static glibc), else a preloaded or linked jemalloc or tcmalloc, else
 * glibc. Only that object is probed: another's entry points are not
 * called (or only through it, which its own probes see).
 *
 * Its entry points are found by name in the symbolizer's function table
 * of its file, which keeps one name per address: an alias group may be
 * kept under any of its names (glibc's malloc as __libc_malloc, static
 * glibc's free as __free, tcmalloc's free as _ZdaPv), so every alias of
 * every entry point is asked for, and each address found is probed once.
 * glibc's reallocarray is not asked for: it tail-calls realloc through
 * the PLT, where the realloc probe sees it.
 *
 * A uprobe costs ~0.7 us per hit where the kernel emulates the probed
 * instruction, ~9 us where it must single-step it (issue 17's research).
 * glibc's free opens with `test %rdi,%rdi; je`, which is single-stepped:
 * a function that frees and opens with exactly that is probed past it,
 * where rdi still holds the pointer (free(NULL) is nothing to count). Its
 * first bytes are read from the process's memory, and only compared.
 * Allocating functions are always probed at their entry, where their
 * return probe must be.
 */
#include "memory_probes.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "frames.h"
#include "memory.h"

/* One name of an entry point. */
struct entry_point {
	const char *name;
	uint32_t call;  /* enum smolder_mem_call */
	bool is_malloc; /* malloc itself: an executable defining it is the allocator */
};

#define EPM(n, c, m) { n, SMOLDER_MEM_##c, m }
#define EP(n, c) EPM(n, c, false)
/* A C function under every name its allocator may keep it by: glibc's
 * libc.so.6 keeps __libc_NAME (it sorts first), a static glibc __NAME,
 * tcmalloc tc_NAME or NAME. */
#define C_NAMES_M(n, c, m) EPM(n, c, m), EPM("__libc_" n, c, m), EPM("__" n, c, m), \
			   EPM("tc_" n, c, m)
#define C_NAMES(n, c) C_NAMES_M(n, c, false)
/* operator new and new[] (the size first), delete and delete[] (the
 * pointer first), mangled with the parameters that follow; tcmalloc's
 * own names for them. */
#define CXX_NEW(params) EP("_Znwm" params, MALLOC), EP("_Znam" params, MALLOC)
#define CXX_DELETE(params) EP("_ZdlPv" params, FREE), EP("_ZdaPv" params, FREE)
#define TC_NEW(sfx) EP("tc_new" sfx, MALLOC), EP("tc_newarray" sfx, MALLOC)
#define TC_DELETE(sfx) EP("tc_delete" sfx, FREE), EP("tc_deletearray" sfx, FREE)

static const struct entry_point entry_points[] = {
	C_NAMES_M("malloc", MALLOC, true),
	C_NAMES("valloc", MALLOC),
	C_NAMES("pvalloc", MALLOC),
	EP("mallocx", MALLOC),
	EP("tc_malloc_skip_new_handler", MALLOC),
	CXX_NEW(""), CXX_NEW("RKSt9nothrow_t"), CXX_NEW("St11align_val_t"),
	CXX_NEW("St11align_val_tRKSt9nothrow_t"),
	TC_NEW(""), TC_NEW("_nothrow"), TC_NEW("_aligned"), TC_NEW("_aligned_nothrow"),
	C_NAMES("calloc", CALLOC),
	C_NAMES("realloc", REALLOC),
	EP("rallocx", REALLOC),
	C_NAMES("memalign", MEMALIGN),
	EP("aligned_alloc", MEMALIGN),
	C_NAMES("posix_memalign", POSIX_MEMALIGN),
	C_NAMES("free", FREE),
	EP("cfree", FREE), EP("tc_cfree", FREE), EP("tc_free_sized", FREE),
	EP("dallocx", FREE), EP("sdallocx", FREE),
	CXX_DELETE(""), CXX_DELETE("m"), CXX_DELETE("RKSt9nothrow_t"),
	CXX_DELETE("St11align_val_t"), CXX_DELETE("mSt11align_val_t"),
	CXX_DELETE("St11align_val_tRKSt9nothrow_t"),
	TC_DELETE(""), TC_DELETE("_nothrow"), TC_DELETE("_sized"), TC_DELETE("_aligned"),
	TC_DELETE("_sized_aligned"), TC_DELETE("_aligned_nothrow"),
};

#define N_ENTRY_POINTS (sizeof(entry_points) / sizeof(entry_points[0]))
_Static_assert(N_ENTRY_POINTS <= SYM_FIND_FUNCTIONS_MAX, "one request to the symbolizer");

/* A shared allocator, by its file's base name: prefix, then whole (the
 * name is the prefix) or ".so" somewhere after it. In the order they
 * interpose. */
struct library {
	const char *allocator;
	const char *prefix;
	bool whole;
};

static const struct library libraries[] = {
	{ "jemalloc", "libjemalloc.so", false },
	{ "tcmalloc", "libtcmalloc", false }, /* _minimal, _and_profiler, _debug */
	{ "glibc", "libc.so.6", true },
};

#define DELETED " (deleted)"

/* path's last component and its length, without the " (deleted)" the
 * kernel appends to a file removed since it was mapped (a libc upgraded
 * under a running process): still the file the process runs. */
static size_t base_name(const char *path, const char **base)
{
	const char *slash = strrchr(path, '/');
	size_t len, dl = strlen(DELETED);

	*base = slash ? slash + 1 : path;
	len = strlen(*base);
	if (len > dl && !strcmp(*base + len - dl, DELETED))
		len -= dl;
	return len;
}

static bool is_library(const char *path, const struct library *lib)
{
	const char *base;
	size_t len = base_name(path, &base), plen = strlen(lib->prefix);

	if (len < plen || strncmp(base, lib->prefix, plen))
		return false;
	return lib->whole ? len == plen : memmem(base, len, ".so", 3) != NULL;
}

static bool same_file(const struct disc_mapping *a, const struct disc_mapping *b)
{
	return a->inode && a->inode == b->inode && a->dev_major == b->dev_major &&
	       a->dev_minor == b->dev_minor;
}

/* The first mapping of p's executable, or NULL. */
static const struct disc_mapping *exe_mapping(const struct disc_process *p)
{
	for (size_t i = 0; p->exe_path && i < p->maps.n; i++)
		if (p->maps.v[i].path && !strcmp(p->maps.v[i].path, p->exe_path))
			return &p->maps.v[i];
	return NULL;
}

/* The first mapping of lib in p, or NULL. */
static const struct disc_mapping *library_mapping(const struct disc_process *p,
						  const struct library *lib)
{
	for (size_t i = 0; i < p->maps.n; i++)
		if (p->maps.v[i].path && p->maps.v[i].path[0] == '/' &&
		    is_library(p->maps.v[i].path, lib))
			return &p->maps.v[i];
	return NULL;
}

/* The entry points of the file m maps: vaddrs[i] for entry_points[i], 0
 * where its table has no such name. */
static int find_entry_points(struct sym_cache *c, const struct disc_process *p,
			     const struct disc_mapping *m, struct sym_elf **elf, uint64_t *vaddrs)
{
	const char *names[N_ENTRY_POINTS];
	struct sym_file_ref ref;
	int err;

	for (size_t i = 0; i < N_ENTRY_POINTS; i++)
		names[i] = entry_points[i].name;
	frames_file_ref(p, m, &ref);
	err = sym_cache_get_elf(c, &ref, elf);
	return err ? err : sym_cache_find_functions(c, *elf, names, N_ENTRY_POINTS, vaddrs);
}

static bool defines_malloc(const uint64_t *vaddrs)
{
	for (size_t i = 0; i < N_ENTRY_POINTS; i++)
		if (entry_points[i].is_malloc && vaddrs[i])
			return true;
	return false;
}

/* Where offset off of the file that m maps is in p's memory; 0: unmapped. */
static uint64_t mapped_address(const struct disc_process *p, const struct disc_mapping *m,
			       uint64_t off)
{
	for (size_t i = 0; i < p->maps.n; i++) {
		const struct disc_mapping *o = &p->maps.v[i];

		if (same_file(o, m) && off >= o->offset && off - o->offset < o->end - o->start)
			return o->start + (off - o->offset);
	}
	return 0;
}

/* How far past a freeing function's entry its probe may go: the length
 * of a leading `test %rdi,%rdi; je rel32` (9) or `je rel8` (5), which the
 * kernel would single-step at every call; 0 when the function opens
 * otherwise or its bytes cannot be read. */
static uint64_t null_test_len(int mem_fd, uint64_t addr)
{
	static const uint8_t je32[] = { 0x48, 0x85, 0xff, 0x0f, 0x84 };
	static const uint8_t je8[] = { 0x48, 0x85, 0xff, 0x74 };
	uint8_t b[9];
	ssize_t n;

	if (mem_fd < 0 || !addr)
		return 0;
	n = pread(mem_fd, b, sizeof(b), (off_t)addr);
	if (n == 9 && !memcmp(b, je32, sizeof(je32)))
		return 9;
	if (n >= 5 && !memcmp(b, je8, sizeof(je8)))
		return 5;
	return 0;
}

static bool has_offset(const struct memory_probe_set *s, uint64_t off)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->v[i].offset == off)
			return true;
	return false;
}

/* What memory_probes_find is building: the probed file, through m. */
struct building {
	const struct disc_process *p;
	const struct disc_mapping *m;
	const struct sym_elf *elf;
	int mem_fd; /* p's /proc/PID/mem; -1: unreadable */
};

/* The probe of entry point e at vaddr, unless its offset has one. */
static int add_probe(const struct building *b, const struct entry_point *e, uint64_t vaddr,
		     struct memory_probe_set *s)
{
	struct memory_probe *pr = &s->v[s->n];
	uint64_t off;

	if (sym_elf_vaddr_to_offset(b->elf, vaddr, &off))
		return 0; /* no bytes in the file: no function to probe */
	if (e->call == SMOLDER_MEM_FREE)
		off += null_test_len(b->mem_fd, mapped_address(b->p, b->m, off));
	if (has_offset(s, off))
		return 0;
	*pr = (struct memory_probe){
		.offset = off,
		.call = e->call,
		.ret = e->call != SMOLDER_MEM_FREE,
		.name = e->name,
	};
	if (asprintf(&pr->path, "/proc/%d/map_files/%" PRIx64 "-%" PRIx64, b->p->pid, b->m->start,
		     b->m->end) < 0)
		return -ENOMEM;
	s->n++;
	return 0;
}

/* The set of probes at vaddrs of the file b->m maps, by allocator (the
 * first len bytes of name). */
static int build_set(struct building *b, const uint64_t *vaddrs, const char *name, size_t len,
		     struct memory_probe_set *out)
{
	char mem[64];
	int err = 0;

	out->v = calloc(N_ENTRY_POINTS, sizeof(*out->v));
	if (!out->v)
		return -ENOMEM;
	snprintf(out->allocator, sizeof(out->allocator), "%.*s", (int)len, name);
	snprintf(mem, sizeof(mem), "/proc/%d/mem", b->p->pid);
	b->mem_fd = open(mem, O_RDONLY | O_CLOEXEC);
	for (size_t i = 0; !err && i < N_ENTRY_POINTS; i++)
		if (vaddrs[i])
			err = add_probe(b, &entry_points[i], vaddrs[i], out);
	if (b->mem_fd >= 0)
		close(b->mem_fd);
	if (!err && !out->n)
		err = -ENOENT;
	if (err)
		memory_probe_set_release(out);
	return err;
}

/* The executable's own allocator: 0 and the set when it defines malloc,
 * -ENOENT when it does not (or its file tells nothing). */
static int exe_probes(struct sym_cache *c, const struct disc_process *p,
		      struct memory_probe_set *out)
{
	struct building b = { .p = p, .m = exe_mapping(p) };
	uint64_t vaddrs[N_ENTRY_POINTS];
	struct sym_elf *elf;
	const char *base;
	size_t len;
	int err;

	if (!b.m)
		return -ENOENT;
	err = find_entry_points(c, p, b.m, &elf, vaddrs);
	/* Late or short of memory: which allocator is in force is not known
	 * yet. Any other failure: a file that says nothing defines nothing. */
	if (err == -EAGAIN || err == -ENOMEM)
		return err;
	if (err || !defines_malloc(vaddrs))
		return -ENOENT;
	b.elf = elf;
	len = base_name(p->exe_path, &base);
	return build_set(&b, vaddrs, base, len, out);
}

int memory_probes_find(struct sym_cache *c, const struct disc_process *p,
		       struct memory_probe_set *out)
{
	uint64_t vaddrs[N_ENTRY_POINTS];
	struct sym_elf *elf;
	int err;

	if (!out)
		return -EINVAL;
	*out = (struct memory_probe_set){ 0 };
	if (!c || !p)
		return -EINVAL;
	err = exe_probes(c, p, out);
	if (err != -ENOENT)
		return err;
	for (size_t i = 0; i < sizeof(libraries) / sizeof(libraries[0]); i++) {
		struct building b = { .p = p, .m = library_mapping(p, &libraries[i]) };
		const char *name = libraries[i].allocator;

		if (!b.m)
			continue;
		err = find_entry_points(c, p, b.m, &elf, vaddrs);
		if (err)
			return err;
		b.elf = elf;
		return build_set(&b, vaddrs, name, strlen(name), out);
	}
	return -ENOENT;
}

void memory_probe_set_release(struct memory_probe_set *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i].path);
	free(s->v);
	*s = (struct memory_probe_set){ 0 };
}
