/* Naming the frames of one stack and turning them into pprof locations.
 *
 * Every frame but the leaf is a return address: the call that made it is
 * the instruction before, so it is looked up at address - 1 (otherwise a
 * call at the very end of a function names the next function).
 */
#include "frames.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/sysmacros.h>

#include <linux/types.h>
#include "sample.h"

/* Lines of one location: an inlined call chain deeper than this keeps its
 * innermost frames. */
#define FRAMES_LINES_MAX 32

static uint64_t lookup_address(uint64_t addr, size_t frame)
{
	return frame > 0 && addr > 0 ? addr - 1 : addr;
}

/* Adds the location of addr in mapping m (NULL: in none we know) with its
 * lines (none: unnamed). The mapping is added for each location, saying
 * what this one has: the builder keeps each has_* flag only if every
 * location had it. has_functions is the location's own (an unnamed one
 * leaves it to a server to fill in); the others say whether the file was
 * named from DWARF at all (dwarf), as pprof's symbolizer sets them: a
 * function DWARF does not describe (crt1's _start) is no missing line. */
static int add_location(struct pprof_builder *b, struct pprof_mapping_desc *m,
			uint64_t addr, const struct pprof_line_desc *lines, size_t n,
			bool dwarf, uint64_t *id)
{
	uint64_t mapping_id = 0;

	if (m) {
		int err;

		m->has_functions = n > 0;
		m->has_filenames = n > 0 && dwarf;
		m->has_line_numbers = n > 0 && dwarf;
		m->has_inline_frames = n > 0 && dwarf;
		err = pprof_builder_add_mapping(b, m, &mapping_id);
		if (err)
			return err;
	}
	return pprof_builder_add_location(b, mapping_id, addr, lines, n, id);
}

static int add_named_location(struct pprof_builder *b, struct pprof_mapping_desc *m,
			      uint64_t addr, const char *name, uint64_t *id)
{
	struct pprof_line_desc line = { .function_name = name };

	return add_location(b, m, addr, &line, name ? 1 : 0, false, id);
}

void frames_file_ref(const struct disc_process *p, const struct disc_mapping *m,
		     struct sym_file_ref *ref)
{
	*ref = (struct sym_file_ref){
		.pid = p->pid,
		.path = m->path,
		.map_start = m->start,
		.map_end = m->end,
		.dev = makedev(m->dev_major, m->dev_minor),
		.inode = m->inode,
		.build_id = m->build_id,
		.fs_view = p->fs_view,
	};
}

int frames_add_marker(struct pprof_builder *b, const char *name, uint64_t *id)
{
	return add_named_location(b, NULL, 0, name, id);
}

/* Without addresses (the default: they would give KASLR's offset away to
 * anyone who reads the profiles), each kernel frame is a location at
 * address 0 with its function's name, so the builder, which keys locations
 * by mapping, address and lines, still keeps one location per function;
 * frames kallsyms does not name share one "[unknown kernel]" location. The
 * mapping has no range either, since its start would be an address too. */
/* Frame i of a stack as memo keys it; p NULL: a kernel frame. */
static struct location_key memo_key(const struct pprof_builder *b, const struct disc_process *p,
				    const uint64_t *ips, size_t i)
{
	return (struct location_key){
		.profile = b, .address = ips[i], .leaf = i == 0,
		.pid = p ? (uint32_t)p->pid : 0, .start_ticks = p ? p->start_ticks : 0,
		.exec_id = p ? p->exec_id : 0, .exec_id_known = p ? p->exec_id_known : 0,
	};
}

int frames_add_kernel(struct sym_cache *sym, struct location_memo *memo,
		      struct pprof_builder *b, const uint64_t *ips, size_t n, bool addresses,
		      uint64_t *ids)
{
	struct pprof_mapping_desc kernel = {
		.start = addresses ? SMOLDER_KERNEL_START : 0,
		.limit = addresses ? UINT64_MAX : 0,
		.filename = "[kernel.kallsyms]",
	};
	int err = 0;

	for (size_t i = 0; i < n && !err; i++) {
		struct location_key key = memo_key(b, NULL, ips, i);
		const char *name = NULL;

		if (location_memo_find(memo, &key, &ids[i]))
			continue;
		if (sym_cache_lookup_kernel(sym, lookup_address(ips[i], i), &name))
			name = addresses ? NULL : "[unknown kernel]";
		err = add_named_location(b, &kernel, addresses ? ips[i] : 0, name, &ids[i]);
		if (!err)
			location_memo_add(memo, &key, ids[i]);
	}
	return err;
}

size_t frames_kernel_tracing(struct sym_cache *sym, const uint64_t *ips, size_t n)
{
	static const char *const tracing[] = {
		"bpf_prog_", "bpf_trace_run", "__traceiter_", "__bpf_trace_",
	};
	size_t i = 0;

	for (; i < n; i++) {
		const char *name = NULL;
		size_t t = 0;

		if (sym_cache_lookup_kernel(sym, lookup_address(ips[i], i), &name) || !name)
			break;
		while (t < sizeof(tracing) / sizeof(tracing[0]) &&
		       strncmp(name, tracing[t], strlen(tracing[t])))
			t++;
		if (t == sizeof(tracing) / sizeof(tracing[0]))
			break;
	}
	return i;
}

static bool is_file_path(const char *path)
{
	return path && path[0] == '/';
}

/* Code no ELF file describes, in executable memory (anonymous, or a memfd
 * a JIT maps twice): named by the JIT's perf map, if it keeps one. */
static int add_jit_frame(struct sym_cache *sym, const struct disc_process *p,
			 struct pprof_mapping_desc *desc, struct pprof_builder *b,
			 uint64_t addr, uint64_t *id, bool *named)
{
	const char *name = NULL;

	if (sym_cache_lookup_perf_map(sym, p->pid, p->nspid, addr, &name))
		name = NULL;
	*named = name != NULL;
	return add_named_location(b, desc, addr, name, id);
}

static bool is_vdso(const struct disc_mapping *m)
{
	return m->path && !strcmp(m->path, "[vdso]");
}

/* Code of the kernel's vDSO (clock_gettime, gettimeofday, getcpu), named
 * from the image every process maps. */
static int add_vdso_frame(struct sym_cache *sym, const struct disc_mapping *m,
			  struct pprof_mapping_desc *desc, struct pprof_builder *b,
			  uint64_t addr, size_t frame, uint64_t *id, bool *named)
{
	const char *name = NULL;

	if (sym_cache_lookup_vdso(sym, m->start, m->end - m->start,
				  lookup_address(addr, frame) - m->start, &name))
		name = NULL;
	*named = name != NULL;
	return add_named_location(b, desc, addr, name, id);
}

/* The file mapping m holds, read into the symbol cache; NULL when m is
 * no file or the file cannot be read (or not yet). */
static struct sym_elf *mapped_elf(struct sym_cache *sym, const struct disc_process *p,
				  const struct disc_mapping *m)
{
	struct sym_file_ref ref;
	struct sym_elf *elf;

	if (!is_file_path(m->path))
		return NULL;
	frames_file_ref(p, m, &ref);
	return sym_cache_get_elf(sym, &ref, &elf) == 0 ? elf : NULL;
}

/* Where frame's addr lies in elf, the file of mapping m. */
static bool file_vaddr(const struct sym_elf *elf, const struct disc_mapping *m, uint64_t addr,
		       size_t frame, uint64_t *vaddr)
{
	uint64_t off = lookup_address(addr, frame) - m->start + m->offset;

	return sym_elf_offset_to_vaddr(elf, off, vaddr) == 0;
}

void frames_want_user(struct sym_cache *sym, const struct disc_process *p,
		      const uint64_t *ips, size_t n, uint64_t samples)
{
	for (size_t i = 0; i < n; i++) {
		const struct disc_mapping *m = disc_mappings_find(&p->maps, ips[i]);
		struct sym_elf *elf = m ? mapped_elf(sym, p, m) : NULL;
		uint64_t vaddr;

		if (elf && file_vaddr(elf, m, ips[i], i, &vaddr))
			sym_cache_want(sym, elf, vaddr, samples);
	}
}

/* The pprof mapping of m, whose file is elf (NULL: not read). */
static struct pprof_mapping_desc mapping_desc(const struct disc_mapping *m,
					      const struct sym_elf *elf)
{
	return (struct pprof_mapping_desc){
		.start = m->start,
		.limit = m->end,
		.offset = m->offset,
		.filename = m->path,
		.build_id = elf ? sym_elf_build_id(elf) : NULL,
	};
}

/* Adds the location of addr, which lies in mapping m of process p;
 * *named: whether it has a name (one not had yet may come later). */
static int add_mapped_frame(struct sym_cache *sym, const struct disc_process *p,
			    const struct disc_mapping *m, struct pprof_builder *b,
			    uint64_t addr, size_t frame, uint64_t *id, bool *named)
{
	struct pprof_line_desc lines[FRAMES_LINES_MAX];
	struct sym_location loc = { 0 };
	struct sym_elf *elf = mapped_elf(sym, p, m);
	struct pprof_mapping_desc desc = mapping_desc(m, elf);
	uint64_t vaddr;

	if (elf && file_vaddr(elf, m, addr, frame, &vaddr) && sym_elf_resolve(sym, elf, vaddr, &loc))
		loc.n = 0;
	if (loc.n == 0 && is_vdso(m))
		return add_vdso_frame(sym, m, &desc, b, addr, frame, id, named);
	if (loc.n == 0 && m->perms[2] == 'x')
		return add_jit_frame(sym, p, &desc, b, addr, id, named);
	*named = loc.n > 0;
	if (loc.n > FRAMES_LINES_MAX)
		loc.n = FRAMES_LINES_MAX;
	for (size_t i = 0; i < loc.n; i++)
		lines[i] = (struct pprof_line_desc){
			.function_name = loc.frames[i].name,
			.system_name = loc.frames[i].system_name,
			.filename = loc.frames[i].file,
			.line = loc.frames[i].line,
			.start_line = loc.frames[i].start_line,
		};
	return add_location(b, &desc, addr, lines, loc.n, sym_elf_has_dwarf(elf), id);
}

/* p's executable mapping of its executable file: where its code is. */
static const struct disc_mapping *exe_code_mapping(const struct disc_process *p)
{
	for (size_t i = 0; p->exe_path && i < p->maps.n; i++) {
		const struct disc_mapping *m = &p->maps.v[i];

		if (m->perms[2] == 'x' && m->path && !strcmp(m->path, p->exe_path))
			return m;
	}
	return NULL;
}

int frames_add_main_mapping(struct sym_cache *sym, const struct disc_process *p,
			    struct pprof_builder *b)
{
	const struct disc_mapping *m = exe_code_mapping(p);
	struct pprof_mapping_desc desc;
	uint64_t id;

	if (!m)
		return 0;
	/* Its frames, if it has any, are the ones to say what the mapping
	 * has: every has_* flag is kept only if all of them had it. */
	desc = mapping_desc(m, mapped_elf(sym, p, m));
	desc.has_functions = desc.has_filenames = true;
	desc.has_line_numbers = desc.has_inline_frames = true;
	return pprof_builder_add_mapping(b, &desc, &id);
}

int frames_add_user(struct sym_cache *sym, struct location_memo *memo, struct disc_table *disc,
		    const struct disc_process *p, struct pprof_builder *b,
		    const uint64_t *ips, size_t n, uint64_t *ids)
{
	bool refreshed = false;
	int err = 0;

	for (size_t i = 0; i < n && !err; i++) {
		struct location_key key = memo_key(b, p, ips, i);
		const struct disc_mapping *m;
		bool named = false;

		if (location_memo_find(memo, &key, &ids[i]))
			continue;
		m = disc_mappings_find(&p->maps, ips[i]);

		if (!m && !refreshed && !p->exited) {
			refreshed = true;
			if (disc_table_refresh_maps(disc, p) == 0)
				m = disc_mappings_find(&p->maps, ips[i]);
		}
		if (m)
			err = add_mapped_frame(sym, p, m, b, ips[i], i, &ids[i], &named);
		else
			err = add_named_location(b, NULL, ips[i], NULL, &ids[i]);
		/* An unnamed frame is asked again: its file's answer may come
		 * while the interval closes. */
		if (!err && named)
			location_memo_add(memo, &key, ids[i]);
	}
	return err;
}

/* The functions a thread's stack starts in: the process's entry (crt1's
 * _start) and a new thread's (glibc's clone, clone3, start_thread); in a
 * Go program, a goroutine's (runtime.goexit, below its first function)
 * and a system thread's (runtime.rt0_go, runtime.mstart). */
static bool is_root_function(const char *name)
{
	static const char *const roots[] = {
		"_start", "clone", "clone3", "start_thread",
		"runtime.goexit", "runtime.rt0_go", "runtime.mstart",
	};

	for (size_t i = 0; name && i < sizeof(roots) / sizeof(roots[0]); i++)
		if (strcmp(name, roots[i]) == 0)
			return true;
	return false;
}

/* The function of p's user frame i of ips (its own, the outermost of
 * its inlined calls), named into *loc; false when it has no name. */
static bool user_frame_named(struct sym_cache *sym, const struct disc_process *p,
			     const uint64_t *ips, size_t i, struct sym_location *loc)
{
	const struct disc_mapping *m = disc_mappings_find(&p->maps, ips[i]);
	struct sym_elf *elf;
	uint64_t vaddr;

	if (!m)
		return false;
	elf = mapped_elf(sym, p, m);
	return elf && file_vaddr(elf, m, ips[i], i, &vaddr) && !sym_elf_resolve(sym, elf, vaddr, loc) &&
	       loc->n > 0;
}

bool frames_user_root(struct sym_cache *sym, const struct disc_process *p,
		      const uint64_t *ips, size_t n)
{
	struct sym_location loc = { 0 };

	if (n == 0 || !user_frame_named(sym, p, ips, n - 1, &loc))
		return false;
	return is_root_function(loc.frames[loc.n - 1].name);
}

bool frames_user_calls(struct sym_cache *sym, const struct disc_process *p,
		       const uint64_t *ips, size_t n, size_t depth,
		       bool (*match)(const char *name))
{
	for (size_t i = 0; i < n && i < depth; i++) {
		struct sym_location loc = { 0 };

		if (!user_frame_named(sym, p, ips, i, &loc))
			continue;
		for (size_t j = 0; j < loc.n; j++)
			if (loc.frames[j].name && match(loc.frames[j].name))
				return true;
	}
	return false;
}
