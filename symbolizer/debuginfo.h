/* DWARF state of one ELF file, through libdwfl: its debug file found the
 * way gdb finds one, then function, file:line and inlined calls of an
 * address. Internal to symbolizer/.
 *
 * One Dwfl with one module per file, reported at bias 0, so the addresses
 * asked about are the file's own virtual addresses. */
#ifndef SMOLDER_SYM_DEBUGINFO_H
#define SMOLDER_SYM_DEBUGINFO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <elfutils/libdwfl.h>

#include "sym.h"

struct sym_dwarf;
struct sym_debuginfod;

/* Why a debug file candidate was opened: what must match for it to be
 * taken. */
enum sym_debug_candidate_kind {
	SYM_DEBUG_BY_BUILD_ID,     /* a .build-id path: its build-id */
	SYM_DEBUG_BY_DEBUGLINK,    /* a .gnu_debuglink path: its CRC */
	SYM_DEBUG_FROM_DEBUGINFOD, /* debuginfod's cache: its build-id */
};

#define SYM_DEBUG_CANDIDATES_MAX 15

/* Candidates opened by the agent for the parser worker, in gdb's order. */
struct sym_debug_candidates {
	int fds[SYM_DEBUG_CANDIDATES_MAX];
	enum sym_debug_candidate_kind kinds[SYM_DEBUG_CANDIDATES_MAX];
	size_t n;
	bool pending; /* debuginfod was asked and has nothing yet */
};

/* Where the debug file of one binary may be. */
struct sym_debug_search {
	const char *proc_root;          /* "/proc" */
	int pid;                        /* whose root to look in first; 0: host only */
	const char *path;               /* the binary, as the process sees it; may be NULL */
	const char *const *debug_dirs;  /* NULL-terminated, may be NULL */
	struct sym_debuginfod *debuginfod; /* may be NULL */
	/* How debuginfod is asked (sym_debuginfod_find), given by the agent:
	 * a pointer, so that the parser worker, which never asks, does not
	 * link libdebuginfod and the libcurl it brings. */
	int (*debuginfod_find)(struct sym_debuginfod *d, const char *build_id, char **path);
	/* Set in the parser worker, which opens no path: the candidates
	 * come from the agent (sym_debug_open_candidates there), and only
	 * their checks run here. Returns 0 or a negative errno. */
	int (*candidates)(void *ctx, const char *build_id, const char *debuglink,
			  struct sym_debug_candidates *out);
	void *candidates_ctx;
};

/* How the debug information of a file was found. */
enum sym_debug_source {
	SYM_DEBUG_NONE,       /* no DWARF at all */
	SYM_DEBUG_SELF,       /* in the binary itself */
	SYM_DEBUG_FILE,       /* a separate debug file found locally */
	SYM_DEBUG_PENDING,    /* none here; debuginfod was asked */
	SYM_DEBUG_DEBUGINFOD, /* a file debuginfod brought */
};

/* Sets up the DWARF state of the ELF file open at fd (duplicated, not
 * taken) and looks for its debug information. build_id: hex or NULL.
 * -ENOEXEC when libdwfl refuses the file. */
int sym_dwarf_open(int fd, const char *build_id,
		   const struct sym_debug_search *search, struct sym_dwarf **out);

/* Sets up the DWARF state from a debug file alone (its addresses are those
 * of the binary it belongs to): what debuginfod brings. */
int sym_dwarf_open_debug_file(const char *path, struct sym_dwarf **out);
/* The same from a descriptor, which is taken (closed on failure). */
int sym_dwarf_open_debug_fd(int fd, struct sym_dwarf **out);

void sym_dwarf_free(struct sym_dwarf *d);

enum sym_debug_source sym_dwarf_source(const struct sym_dwarf *d);

/* Frames of vaddr from DWARF, innermost first, at most max. Names point
 * into d (valid until sym_dwarf_free) except the demangled ones, which are
 * malloc'd and listed in owned[0..*n_owned) (at most max of them) for the
 * caller to free. -ENOENT: no DWARF covers vaddr. */
int sym_dwarf_frames(struct sym_dwarf *d, uint64_t vaddr, struct sym_frame *frames,
		     size_t max, size_t *n, char **owned, size_t *n_owned);

/* The line table's file:line of vaddr, whether or not a function DIE
 * covers it (code GCC gives no DIE: an identical function folded into a
 * jump to another, a thunk). *file points into d. -ENOENT when none. */
int sym_dwarf_line(struct sym_dwarf *d, uint64_t vaddr, const char **file, int64_t *line);

/* The symbol covering vaddr in the tables libdwfl reads (the binary's,
 * the debug file's, MiniDebugInfo's). -ENOENT when none. */
int sym_dwarf_symbol(struct sym_dwarf *d, uint64_t vaddr, const char **name);

/* What the heap holds (mallinfo2: in use, mapped chunks included). It
 * walks every free chunk: for rare moments only (see dwarf.c). */
size_t sym_heap_in_use(void);

/* A batch of lookups through d (NULL: none): what libdw reads during it
 * and keeps is measured from the first lookup that reads something new,
 * and sym_dwarf_growing is true from then on. sym_dwarf_end returns the
 * growth of the heap since then, less transient (what the caller
 * allocated since and frees after; 0 when nothing new was read). See
 * dwarf.c. */
void sym_dwarf_begin(struct sym_dwarf *d);
bool sym_dwarf_growing(const struct sym_dwarf *d);
size_t sym_dwarf_end(struct sym_dwarf *d, size_t transient);

/* ---- the debug file search (debug_find.c) ---- */

/* What sym_debug_find needs, set as the module's userdata. */
struct sym_debug_ctx {
	const struct sym_debug_search *search;
	const char *build_id;       /* hex; NULL when the binary has none */
	enum sym_debug_source found; /* set when a search ends */
};

/* libdwfl's find_debuginfo callback: the process's root first (build-id,
 * then .gnu_debuglink with its CRC, next to the binary, in .debug/, under
 * /usr/lib/debug), then libdwfl's build-id search of the debug_dirs and
 * /usr/lib/debug, then the debuglink in each debug dir, and last the
 * debuginfod worker, which is only asked, never waited for. A request for
 * a dwz supplementary file goes to libdwfl's build-id search. */
int sym_debug_find(Dwfl_Module *mod, void **userdata, const char *modname,
		   Dwarf_Addr base, const char *file_name, const char *debuglink_file,
		   GElf_Word debuglink_crc, char **debuginfo_file_name);

/* The agent's half of a worker's search: opens (regular files only, in
 * the process's root through RESOLVE_IN_ROOT) every candidate gdb would
 * look at for build_id and link (either may be NULL or ""), and the file
 * debuginfod has, if any; checks none of them. */
int sym_debug_open_candidates(const struct sym_debug_search *s, const char *build_id,
			      const char *link, struct sym_debug_candidates *out);
void sym_debug_candidates_close(struct sym_debug_candidates *c);

/* The debuginfo_path libdwfl searches by build-id: the debug dirs, then
 * /usr/lib/debug. malloc'd. */
char *sym_debuginfo_path(const char *const *debug_dirs);

/* A debug file's compressed sections within the caps (refusals.h): libdw
 * expands them whole. A refusal is counted. */
bool sym_debug_file_is_safe(int fd);

/* gdb's .gnu_debuglink checksum: CRC-32 of the whole file. -EFBIG (and
 * counted) for a file over SYM_DEBUGLINK_CRC_MAX, which is not read. */
int sym_debuglink_crc(int fd, uint32_t *crc);

#endif
