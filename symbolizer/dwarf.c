/* What DWARF says of an address: the function, its file and line, and the
 * chain of calls inlined there, as eu-addr2line -i -f prints them (and in
 * LTO builds, where eu-addr2line 0.188 finds no chain, as llvm-symbolizer
 * and addr2line do).
 *
 * The innermost frame's file:line comes from the line table at the
 * address; each inlined subroutine's DW_AT_call_file/call_line is the
 * file:line of the frame that encloses it, and so on out to the
 * subprogram that was really called.
 */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>

#include "debuginfo.h"
#include "dwarf_unused.h"
#include "hashtab.h"

struct sym_dwarf {
	Dwfl *dwfl;
	Dwfl_Module *mod;
	char *debuginfo_path; /* libdwfl keeps a pointer to this pointer */
	Dwfl_Callbacks callbacks;
	enum sym_debug_source source;
	struct sym_htab paths; /* source paths made absolute, one copy each */
	struct sym_htab units; /* offsets of the units named from so far */
	bool looked_up;        /* an address was looked up: the ranges are read */
	bool symtab_read;      /* libdwfl's symbol table is read */
	bool symtab_beyond;    /* ... and is a debug file's, beyond the file's own */
	bool batch;            /* between sym_dwarf_begin and sym_dwarf_end */
	size_t before;         /* the heap in use when the batch began to grow */
};

struct path_entry {
	struct sym_hnode node;
	char path[];
};

struct unit_entry {
	struct sym_hnode node;
	Dwarf_Off offset;
};

/* ---- what libdw keeps ----
 *
 * libdw reads lazily and keeps what it read, on its own heap allocations:
 * the address ranges of every unit at the first lookup, a unit's line
 * table and abbreviations the first time an address in it is named,
 * libdwfl's symbol table at its first symbol lookup. What a file costs
 * must count them, so the heap is measured, but only over a batch of
 * lookups that read something new: from the first such read in it
 * (sym_dwarf_growing says there was one) to sym_dwarf_end. mallinfo2
 * walks every free chunk of every arena under the arena lock (60-300 us a
 * call in the worker on a build host): around every batch, or every new
 * unit, it is dearer than what it measures. A batch that reads nothing new
 * keeps nothing here (a unit's header, read to find it, and abbreviations
 * found later in a unit already read, a few hundred bytes, are not
 * counted). */

size_t sym_heap_in_use(void)
{
	struct mallinfo2 mi = mallinfo2();

	return mi.uordblks + mi.hblkhd;
}

#define NOT_MEASURED SIZE_MAX

/* Something new is about to be read: measure from here on. */
static void growing(struct sym_dwarf *d)
{
	if (d->batch && d->before == NOT_MEASURED)
		d->before = sym_heap_in_use();
}

void sym_dwarf_begin(struct sym_dwarf *d)
{
	if (d) {
		d->batch = true;
		d->before = NOT_MEASURED;
	}
}

bool sym_dwarf_growing(const struct sym_dwarf *d)
{
	return d && d->batch && d->before != NOT_MEASURED;
}

size_t sym_dwarf_end(struct sym_dwarf *d, size_t transient)
{
	size_t now, before;

	if (!d)
		return 0;
	before = d->before;
	d->batch = false;
	d->before = NOT_MEASURED;
	if (before == NOT_MEASURED)
		return 0;
	now = sym_heap_in_use();
	return now > before + transient ? now - before - transient : 0;
}

static bool unit_eq(const struct sym_hnode *n, const void *key)
{
	return ((const struct unit_entry *)n)->offset == *(const Dwarf_Off *)key;
}

/* True the first time cu is seen (it is then remembered). */
static bool first_sight(struct sym_dwarf *d, Dwarf_Die *cu)
{
	Dwarf_Off off = dwarf_dieoffset(cu);
	uint64_t h = sym_hash_bytes(&off, sizeof(off), SYM_HASH_INIT);
	struct unit_entry *e;

	if (sym_htab_find(&d->units, h, unit_eq, &off))
		return false;
	e = malloc(sizeof(*e));
	if (!e)
		return true;
	e->node.hash = h;
	e->offset = off;
	if (sym_htab_add(&d->units, &e->node))
		free(e);
	return true;
}

/* The unit holding vaddr, or NULL. */
static Dwarf_Die *unit_at(struct sym_dwarf *d, uint64_t vaddr, Dwarf_Addr *bias)
{
	Dwarf_Die *cu;

	if (!d->looked_up)
		growing(d);
	d->looked_up = true;
	cu = dwfl_module_addrdie(d->mod, vaddr, bias);
	if (cu && first_sight(d, cu))
		growing(d);
	return cu;
}

static int no_elf(Dwfl_Module *mod, void **userdata, const char *modname,
		  Dwarf_Addr base, char **file_name, Elf **elfp)
{
	(void)mod, (void)userdata, (void)modname, (void)base, (void)file_name;
	*elfp = NULL;
	return -1;
}

static int no_debuginfo(Dwfl_Module *mod, void **userdata, const char *modname,
			Dwarf_Addr base, const char *file_name, const char *debuglink_file,
			GElf_Word debuglink_crc, char **debuginfo_file_name)
{
	(void)mod, (void)userdata, (void)modname, (void)base, (void)file_name;
	(void)debuglink_file, (void)debuglink_crc, (void)debuginfo_file_name;
	return -1;
}

static struct sym_dwarf *dwarf_new(const char *const *debug_dirs, bool search)
{
	struct sym_dwarf *d = calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	d->debuginfo_path = sym_debuginfo_path(debug_dirs);
	if (!d->debuginfo_path) {
		free(d);
		return NULL;
	}
	d->callbacks = (Dwfl_Callbacks){
		.find_elf = no_elf,
		.find_debuginfo = search ? sym_debug_find : no_debuginfo,
		.debuginfo_path = &d->debuginfo_path,
	};
	d->dwfl = dwfl_begin(&d->callbacks);
	if (!d->dwfl) {
		free(d->debuginfo_path);
		free(d);
		return NULL;
	}
	return d;
}

static bool free_node(struct sym_hnode *n, void *ctx)
{
	(void)ctx;
	free(n);
	return true;
}

void sym_dwarf_free(struct sym_dwarf *d)
{
	if (!d)
		return;
	sym_htab_drop_if(&d->paths, free_node, NULL);
	sym_htab_release(&d->paths);
	sym_htab_drop_if(&d->units, free_node, NULL);
	sym_htab_release(&d->units);
	dwfl_end(d->dwfl);
	free(d->debuginfo_path);
	free(d);
}

/* Reports the file at fd (taken by libdwfl) as the one module, at its own
 * addresses. */
static int report(struct sym_dwarf *d, const char *name, int fd)
{
	dwfl_report_begin(d->dwfl);
	d->mod = dwfl_report_elf(d->dwfl, name, name, fd, 0, false);
	dwfl_report_end(d->dwfl, NULL, NULL);
	return d->mod ? 0 : -ENOEXEC;
}

/* libdwfl's DWARF of the module reported from fd, its location lists (and
 * those of the debug file sym_debug_find gives) left compressed. */
static bool module_dwarf(struct sym_dwarf *d, int fd)
{
	Dwarf_Addr bias;
	bool got;

	sym_dwarf_unused_note(fd);
	got = dwfl_module_getdwarf(d->mod, &bias) != NULL;
	sym_dwarf_unused_clear();
	return got;
}

int sym_dwarf_open(int fd, const char *build_id,
		   const struct sym_debug_search *search, struct sym_dwarf **out)
{
	struct sym_debug_ctx ctx = { .search = search, .build_id = build_id };
	struct sym_dwarf *d;
	void **userdata;
	int dup_fd, err;

	*out = NULL;
	d = dwarf_new(search ? search->debug_dirs : NULL, true);
	if (!d)
		return -ENOMEM;
	dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (dup_fd < 0) {
		err = -errno;
		sym_dwarf_free(d);
		return err;
	}
	err = report(d, search && search->path ? search->path : "binary", dup_fd);
	if (err) {
		close(dup_fd);
		sym_dwarf_free(d);
		return err;
	}
	/* The search runs now, while the process it belongs to (and its
	 * root) is most likely still there. */
	dwfl_module_info(d->mod, &userdata, NULL, NULL, NULL, NULL, NULL, NULL);
	*userdata = &ctx;
	ctx.found = SYM_DEBUG_SELF;
	if (module_dwarf(d, fd))
		d->source = ctx.found == SYM_DEBUG_FILE || ctx.found == SYM_DEBUG_DEBUGINFOD
				    ? ctx.found : SYM_DEBUG_SELF;
	else
		d->source = ctx.found == SYM_DEBUG_PENDING ? SYM_DEBUG_PENDING : SYM_DEBUG_NONE;
	*userdata = NULL;
	*out = d;
	return 0;
}

int sym_dwarf_open_debug_fd(int fd, struct sym_dwarf **out)
{
	struct sym_dwarf *d;
	int err;

	*out = NULL;
	if (!sym_debug_file_is_safe(fd)) {
		close(fd);
		return -EFBIG;
	}
	d = dwarf_new(NULL, false);
	if (!d) {
		close(fd);
		return -ENOMEM;
	}
	err = report(d, "debug", fd);
	if (err) {
		close(fd);
		sym_dwarf_free(d);
		return err;
	}
	if (!module_dwarf(d, fd)) {
		sym_dwarf_free(d);
		return -ENOEXEC;
	}
	d->source = SYM_DEBUG_DEBUGINFOD;
	*out = d;
	return 0;
}

int sym_dwarf_open_debug_file(const char *path, struct sym_dwarf **out)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);

	*out = NULL;
	if (fd < 0)
		return -errno;
	return sym_dwarf_open_debug_fd(fd, out);
}

enum sym_debug_source sym_dwarf_source(const struct sym_dwarf *d)
{
	return d ? d->source : SYM_DEBUG_NONE;
}

/* ---- frames ---- */

static const char *attr_string(Dwarf_Die *die, unsigned int name)
{
	Dwarf_Attribute attr;

	return dwarf_formstring(dwarf_attr_integrate(die, name, &attr));
}

static int64_t attr_int(Dwarf_Die *die, unsigned int name)
{
	Dwarf_Attribute attr;
	Dwarf_Word w;

	if (dwarf_formudata(dwarf_attr_integrate(die, name, &attr), &w))
		return 0;
	return (int64_t)w;
}

/* The function a subprogram or inlined-subroutine DIE stands for. */
static void name_frame(Dwarf_Die *die, struct sym_frame *f, char **owned, size_t *n_owned)
{
	const char *linkage = attr_string(die, DW_AT_linkage_name);
	const char *name = attr_string(die, DW_AT_name);
	char *demangled;

	if (!linkage)
		linkage = attr_string(die, DW_AT_MIPS_linkage_name);
	f->system_name = linkage ? linkage : name;
	f->name = name ? name : linkage;
	f->start_line = attr_int(die, DW_AT_decl_line);
	demangled = linkage ? sym_demangle(linkage) : NULL;
	if (demangled) {
		owned[(*n_owned)++] = demangled;
		f->name = demangled;
	}
}

static bool path_eq(const struct sym_hnode *n, const void *key)
{
	return !strcmp(((const struct path_entry *)n)->path, key);
}

/* A relative source name joined to its compilation directory, as gdb and
 * addr2line show it; kept once per sym_dwarf. NULL when out of memory. */
static const char *absolute_path(struct sym_dwarf *d, Dwarf_Die *cu, const char *name)
{
	const char *dir = attr_string(cu, DW_AT_comp_dir);
	struct path_entry *e;
	size_t len;
	uint64_t h;

	if (!name || name[0] == '/' || !dir)
		return name;
	len = strlen(dir) + 1 + strlen(name) + 1;
	e = malloc(sizeof(*e) + len);
	if (!e)
		return name;
	snprintf(e->path, len, "%s/%s", dir, name);
	h = sym_hash_bytes(e->path, len - 1, SYM_HASH_INIT);
	struct sym_hnode *found = sym_htab_find(&d->paths, h, path_eq, e->path);
	if (found) {
		free(e);
		return ((struct path_entry *)found)->path;
	}
	e->node.hash = h;
	if (sym_htab_add(&d->paths, &e->node)) {
		free(e);
		return name;
	}
	return e->path;
}

/* File name number index of the CU's line table (DW_AT_call_file). */
static const char *cu_file(Dwarf_Die *cu, Dwarf_Word index)
{
	Dwarf_Files *files;
	size_t n;

	if (dwarf_getsrcfiles(cu, &files, &n) || index >= n)
		return NULL;
	return dwarf_filesrc(files, index, NULL, NULL);
}

static bool is_function(Dwarf_Die *die)
{
	int tag = dwarf_tag(die);

	return tag == DW_TAG_subprogram || tag == DW_TAG_inlined_subroutine;
}

/* Nesting deeper than this is a damaged file, not code. */
#define SCOPE_DEPTH_MAX 256

/* Whether a DIE of this tag can hold code, or hold what does: asking a
 * type's or a variable's DIE for address ranges costs a scan of its
 * attributes, and most of a unit's DIEs are those. */
static bool may_hold_code(int tag)
{
	switch (tag) {
	case DW_TAG_base_type:
	case DW_TAG_const_type:
	case DW_TAG_volatile_type:
	case DW_TAG_restrict_type:
	case DW_TAG_atomic_type:
	case DW_TAG_pointer_type:
	case DW_TAG_reference_type:
	case DW_TAG_rvalue_reference_type:
	case DW_TAG_typedef:
	case DW_TAG_array_type:
	case DW_TAG_subrange_type:
	case DW_TAG_enumeration_type:
	case DW_TAG_enumerator:
	case DW_TAG_structure_type:
	case DW_TAG_union_type:
	case DW_TAG_class_type:
	case DW_TAG_member:
	case DW_TAG_subroutine_type:
	case DW_TAG_unspecified_parameters:
	case DW_TAG_formal_parameter:
	case DW_TAG_variable:
	case DW_TAG_constant:
	case DW_TAG_imported_declaration:
	case DW_TAG_imported_module:
	case DW_TAG_call_site:
	case DW_TAG_call_site_parameter:
	case DW_TAG_GNU_call_site:
	case DW_TAG_GNU_call_site_parameter:
		return false;
	default:
		return true;
	}
}

/* Below parent, the DIEs down to the innermost one whose ranges hold addr,
 * found by descending only into children whose own ranges hold it, as
 * dwarf_getscopes does: path[depth] is parent's child on the way, and the
 * way ends before path[*end]. When siblings overlap (GCC gives lexical
 * blocks that do), the one holding the most inlined subroutines wins, as
 * in llvm-symbolizer; else the first. Returns how many inlined subroutines
 * lie on the way down, -1 when no child holds addr. */
static int innermost_path(Dwarf_Die *parent, Dwarf_Addr addr, unsigned int depth,
			  Dwarf_Die *path, unsigned int *end)
{
	Dwarf_Die child, winner;
	unsigned int below;
	bool written = false; /* path[depth..) holds the winner's way */
	int best = -1;

	if (depth >= SCOPE_DEPTH_MAX || dwarf_child(parent, &child))
		return -1;
	do {
		int tag = dwarf_tag(&child), n;

		if (!may_hold_code(tag) || dwarf_haspc(&child, addr) <= 0)
			continue;
		path[depth] = child;
		n = innermost_path(&child, addr, depth + 1, path, &below);
		if (n < 0) {
			below = depth + 1;
			n = 0;
		}
		n += tag == DW_TAG_inlined_subroutine;
		written = n > best;
		if (written) {
			best = n;
			winner = child;
			*end = below;
		}
	} while (dwarf_siblingof(&child, &child) == 0);
	/* A later sibling that lost wrote its own way over the winner's:
	 * the winner's is found again (overlaps are rare). */
	if (best >= 0 && !written) {
		path[depth] = winner;
		if (innermost_path(&winner, addr, depth + 1, path, end) < 0)
			*end = depth + 1;
	}
	return best;
}

/* The chain of DIEs holding vaddr, innermost first, out to (not including)
 * the CU, through the concrete tree: each inlined subroutine is followed
 * by what it was inlined into. *out is malloc'd; returns its length.
 *
 * Not dwarf_getscopes: from an inlined subroutine it goes on to the scopes
 * of its abstract definition, which it looks for in the same CU; with LTO
 * (GCC's "<artificial>" units, whose DW_AT_abstract_origin is a
 * DW_FORM_ref_addr into the source file's own CU) it never finds it and
 * answers 0 scopes for every address of inlined code. Nor
 * dwarf_getscopes_die on the innermost DIE: it walks the unit again from
 * its start to find the DIEs around it, which the descent already passed
 * through (in libc, a fifth of what naming an address cost). */
static int concrete_scopes(Dwarf_Die *cu, Dwarf_Addr addr, Dwarf_Die **out)
{
	Dwarf_Die *path = malloc(SCOPE_DEPTH_MAX * sizeof(*path));
	unsigned int end;

	*out = NULL;
	if (!path)
		return 0;
	if (innermost_path(cu, addr, 0, path, &end) < 0) {
		free(path);
		return 0;
	}
	for (unsigned int i = 0; i < end / 2; i++) {
		Dwarf_Die t = path[i];

		path[i] = path[end - 1 - i];
		path[end - 1 - i] = t;
	}
	*out = path;
	return (int)end;
}

/* The line table's row for addr in cu: file (NULL when none) and line. */
static void line_of(struct sym_dwarf *d, Dwarf_Die *cu, Dwarf_Addr addr,
		    const char **file, int *lineno)
{
	Dwarf_Line *line = dwarf_getsrc_die(cu, addr);

	*file = NULL;
	*lineno = 0;
	if (line) {
		*file = absolute_path(d, cu, dwarf_linesrc(line, NULL, NULL));
		dwarf_lineno(line, lineno);
	}
}

static bool has_dwarf(const struct sym_dwarf *d)
{
	return d && d->source != SYM_DEBUG_NONE && d->source != SYM_DEBUG_PENDING;
}

int sym_dwarf_frames(struct sym_dwarf *d, uint64_t vaddr, struct sym_frame *frames,
		     size_t max, size_t *n, char **owned, size_t *n_owned)
{
	const char *file;
	Dwarf_Die *cu, *scopes = NULL;
	Dwarf_Addr bias;
	int nscopes, lineno;

	*n = *n_owned = 0;
	if (!has_dwarf(d) || !max)
		return -ENOENT;
	cu = unit_at(d, vaddr, &bias);
	if (!cu)
		return -ENOENT;
	line_of(d, cu, vaddr - bias, &file, &lineno);
	nscopes = concrete_scopes(cu, vaddr - bias, &scopes);
	for (int i = 0; i < nscopes && *n < max; i++) {
		Dwarf_Die *s = &scopes[i];
		struct sym_frame *f;

		if (!is_function(s))
			continue;
		f = &frames[(*n)++];
		name_frame(s, f, owned, n_owned);
		f->file = file;
		f->line = lineno;
		if (dwarf_tag(s) == DW_TAG_subprogram)
			break;
		/* The caller's file:line is where this one was inlined. */
		file = absolute_path(d, cu, cu_file(cu, (Dwarf_Word)attr_int(s, DW_AT_call_file)));
		lineno = (int)attr_int(s, DW_AT_call_line);
	}
	free(scopes);
	/* A frame without a name helps nobody: leave it to the symbols. */
	for (size_t i = 0; i < *n; i++)
		if (!frames[i].name) {
			for (size_t j = 0; j < *n_owned; j++)
				free(owned[j]);
			*n = *n_owned = 0;
			return -ENOENT;
		}
	return *n ? 0 : -ENOENT;
}

int sym_dwarf_line(struct sym_dwarf *d, uint64_t vaddr, const char **file, int64_t *line)
{
	Dwarf_Addr bias;
	Dwarf_Die *cu;
	int lineno;

	if (!has_dwarf(d))
		return -ENOENT;
	cu = unit_at(d, vaddr, &bias);
	if (!cu)
		return -ENOENT;
	line_of(d, cu, vaddr - bias, file, &lineno);
	if (!*file)
		return -ENOENT;
	*line = lineno;
	return 0;
}

/* Whether the module's file has a .gnu_debugdata section, whose symbols
 * libdwfl reads and the file's own tables do not. */
static bool has_minidebuginfo(Dwfl_Module *mod)
{
	GElf_Addr bias;
	Elf *e = dwfl_module_getelf(mod, &bias);
	Elf_Scn *scn = NULL;
	size_t shstrndx;

	if (!e || elf_getshdrstrndx(e, &shstrndx))
		return false;
	while ((scn = elf_nextscn(e, scn))) {
		GElf_Shdr sh;
		const char *name;

		if (!gelf_getshdr(scn, &sh))
			continue;
		name = elf_strptr(e, shstrndx, sh.sh_name);
		if (name && !strcmp(name, ".gnu_debugdata"))
			return true;
	}
	return false;
}

int sym_dwarf_symbol(struct sym_dwarf *d, uint64_t vaddr, const char **name)
{
	GElf_Off off;
	GElf_Sym sym;
	const char *s;

	if (!d)
		return -ENOENT;
	if (!d->symtab_read) {
		const char *debugfile = NULL;

		growing(d);
		d->symtab_read = true;
		/* Without a debug file or MiniDebugInfo, libdwfl's table is
		 * the file's own .symtab or .dynsym, which the file's tables
		 * hold already: asking it again only searches them (linearly,
		 * an address at a time: a sixth of the parser worker's CPU on
		 * a build host, for cc1's unnamed frames). */
		dwfl_module_getsymtab(d->mod);
		dwfl_module_info(d->mod, NULL, NULL, NULL, NULL, NULL, NULL, &debugfile);
		d->symtab_beyond = debugfile != NULL || has_minidebuginfo(d->mod);
	}
	if (!d->symtab_beyond)
		return -ENOENT;
	s = dwfl_module_addrinfo(d->mod, vaddr, &off, &sym, NULL, NULL, NULL);
	if (!s || GELF_ST_TYPE(sym.st_info) != STT_FUNC)
		return -ENOENT;
	*name = s;
	return 0;
}
