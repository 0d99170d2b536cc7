/* symbolizer: names the frames of sampled stacks.
 *
 * agent/ hands it addresses that discovery/ has placed in a process's file
 * mapping (as a file offset), or kernel addresses. It opens each ELF file once
 * per host (keyed by file identity), reads .symtab, else .dynsym, with libelf,
 * and answers lookups from sorted tables; kernel addresses are named from
 * /proc/kallsyms. Files of a process are opened through /proc/PID/map_files
 * or /proc/PID/root so that a container's files are the ones read.
 *
 * Errors are negative errno values; nothing here prints.
 */
#ifndef SMOLDER_SYM_H
#define SMOLDER_SYM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct sym_cache;
struct sym_elf;

struct sym_debuginfod;
struct sym_worker;

struct sym_cache_opts {
	size_t sz;                 /* sizeof(struct sym_cache_opts) */
	const char *kallsyms_path; /* NULL: /proc/kallsyms (tests point it elsewhere) */
	const char *proc_root;     /* NULL: /proc (tests point it elsewhere) */
	/* NULL-terminated: directories searched for debug files (by build-id
	 * under DIR/.build-id/, by .gnu_debuglink under DIR/<binary's dir>/),
	 * after the process's own root and before /usr/lib/debug. Copied. */
	const char *const *debug_dirs;
	/* Bound on what the cache holds (symbol tables, DWARF state, resolved
	 * addresses), enforced by sym_cache_trim; 0: no bound. */
	size_t max_bytes;
	/* Fetches debug files nothing local has, off this thread; NULL: none.
	 * Not owned: it must outlive the cache. */
	struct sym_debuginfod *debuginfod;
	/* The parser worker that reads every file's contents; NULL: read
	 * here (tests, tools). Not owned: it must outlive the cache. */
	struct sym_worker *worker;
	/* Unwind tables kept on disk across restarts: a file's table found
	 * there is not built by the worker, one built is written there.
	 * NULL: none. Not owned: it must outlive the cache. */
	struct sym_table_cache *table_cache;
};

struct sym_cache *sym_cache_new(const struct sym_cache_opts *opts);
void sym_cache_free(struct sym_cache *c);

/* Which file a mapping of a process holds, as /proc/PID/maps says. */
struct sym_file_ref {
	int pid;            /* process that maps it; 0: open path on the host */
	const char *path;   /* path in the process's mount namespace */
	uint64_t map_start; /* mapping range, for /proc/PID/map_files/START-END */
	uint64_t map_end;
	uint64_t dev;       /* makedev(major, minor) from maps; 0: don't check */
	uint64_t inode;     /* from maps; 0: don't check */
	/* The build-id (lowercase hex) the kernel said the mapped file has: a
	 * file found by path is taken only if it has it. NULL: don't check. */
	const char *build_id;
	/* With build_id and no dev/inode: the process's view of the file
	 * system (its mount namespace and root directory, as the kernel said),
	 * so that the file one process's mapping led to stands for the same
	 * path and build-id in every process of that view, for as long as a
	 * mapping's dev/inode would. 0: per process. */
	uint64_t fs_view;
};

/* Finds the file in the cache or opens it, trying /proc/PID/map_files, then
 * /proc/PID/root/PATH, then PATH on the host when its device and inode match
 * (so a process that has exited can still be named, never from the wrong
 * file). *elf stays owned by the cache and valid until sym_cache_free.
 * A file that failed is remembered and fails again cheaply.
 * -ENOENT: no such file; -ENOEXEC: not an ELF file we can read.
 * (Both PATH candidates are checked against dev/inode when those are
 * nonzero; a PATH ending in " (deleted)" is not tried. A failure is retried
 * after a minute. -EACCES: only reachable without privilege.) */
int sym_cache_get_elf(struct sym_cache *c, const struct sym_file_ref *ref,
		      struct sym_elf **elf);

/* Opens one file by path, outside any cache (tests, tools). */
int sym_elf_open(const char *path, struct sym_elf **elf);
void sym_elf_free(struct sym_elf *elf);

/* GNU build-id as lowercase hex, or NULL when the file has none. */
const char *sym_elf_build_id(const struct sym_elf *elf);

/* The SHA-256 of the file's bytes as 64 lowercase hex digits, or NULL when
 * it could not be had (a file over 2 GiB, one that changed while it was
 * read). Unlike the build-id, which a file says of itself and any file
 * can copy, it names what the file is: two files share tables only when
 * both agree. */
const char *sym_elf_content_id(const struct sym_elf *elf);

/* Translates an offset in the file (address - map start + map offset) to
 * the ELF virtual address, through the PT_LOAD segment that holds it; this
 * one rule serves PIE, non-PIE executables and shared libraries. */
int sym_elf_offset_to_vaddr(const struct sym_elf *elf, uint64_t file_offset,
			    uint64_t *vaddr);
/* The inverse: the file offset of an ELF virtual address (a function's,
 * for a uprobe, which perf takes as a file offset), through the PT_LOAD
 * segment whose file bytes hold it. -ENOENT: none does (.bss, or no such
 * address). */
int sym_elf_vaddr_to_offset(const struct sym_elf *elf, uint64_t vaddr,
			    uint64_t *file_offset);

/* Names sym_cache_find_functions takes at most, and their longest. */
#define SYM_FIND_FUNCTIONS_MAX 256
#define SYM_FUNCTION_NAME_MAX 256

/* Where elf's function table puts each of names[0..n) (distinct): vaddrs[i]
 * is the ELF virtual address of the function named names[i], 0 when the
 * table has no such name. The table keeps one name per address (the one
 * sym_elf_lookup answers: global before weak, then the smaller name), so
 * an alias group is found under one of its names only (glibc's malloc
 * under __libc_malloc): ask for every alias. A name the table holds twice
 * (static functions of two objects) is taken at its lowest address. For a
 * file the parser worker read, the worker is asked (its table stays
 * there), within the deadline (sym_cache_set_deadline). -EAGAIN: no answer
 * by then, or the worker that read the file has ended (the file is read
 * again after the next sym_cache_trim); -EIO: the worker died on it or
 * none runs; -E2BIG: more than SYM_FIND_FUNCTIONS_MAX names; -EINVAL: a
 * name longer than SYM_FUNCTION_NAME_MAX. */
int sym_cache_find_functions(struct sym_cache *c, struct sym_elf *elf, const char *const *names,
			     size_t n, uint64_t *vaddrs);

/* The unwind table of a file: its CFI (.eh_frame, else .debug_frame) as
 * the sorted rows the BPF walk follows (bpf/unwind.h), built when the file
 * is read into the cache. */
struct smolder_unwind_row;
struct sym_unwind_table {
	struct smolder_unwind_row *rows; /* sorted by pc, consecutive rows differ */
	size_t n;
	/* Rows of CFI the walk cannot follow, and FDEs skipped (an encoding
	 * not read here, a range libdw refused). */
	size_t unsupported_rows;
	size_t skipped_fdes;
};

/* true when elf's DWARF (its own, or a debug file's) is at hand: its
 * addresses are named with file:line and inlined calls where DWARF covers
 * them (pprof's has_filenames, has_line_numbers, has_inline_frames). */
bool sym_elf_has_dwarf(const struct sym_elf *elf);

/* elf's unwind table, or NULL when it has no CFI that could be read. */
const struct sym_unwind_table *sym_elf_unwind_table(const struct sym_elf *elf);

/* Whether elf was read without its unwind table because the table holder
 * (sym_cache_set_table_holder) had it loaded already: its rows are the
 * holder's, not elf's. */
bool sym_elf_table_held(const struct sym_elf *elf);

/* The unwind table of the vDSO (the same in every process: the agent's
 * own is read), and the file address at the start of its mapping. */
int sym_vdso_unwind_table(struct sym_unwind_table *out, uint64_t *vaddr_at_start);
/* The length of the vDSO's mapping in a process (0: the agent has none). */
uint64_t sym_vdso_size(void);
/* Whether a [vdso] mapping at start, size bytes long, is the image the agent
 * reads: a 32-bit or x32 process's vDSO, another image that may be as
 * long, lies below 4 GiB, where no 64-bit process has its vDSO. */
bool sym_vdso_is_agents(uint64_t start, uint64_t size);
/* The vDSO's functions, named as perf names them (__vdso_clock_gettime,
 * the global name of aliases). */
struct sym_vdso_names;
int sym_vdso_names_new(struct sym_vdso_names **out);
void sym_vdso_names_free(struct sym_vdso_names *v);
/* The function at offset bytes into a [vdso] mapping; -ENOENT: none. *name
 * lives as long as v. */
int sym_vdso_names_lookup(const struct sym_vdso_names *v, uint64_t offset, const char **name);
void sym_unwind_table_release(struct sym_unwind_table *t);

/* The row that holds at pc (a file address), or NULL before the first. */
const struct smolder_unwind_row *sym_unwind_table_find(const struct sym_unwind_table *t,
						       uint64_t pc);

/* Names the function containing vaddr. *name stays valid as long as elf.
 * -ENOENT: no symbol covers it (stripped, or between functions). */
int sym_elf_lookup(const struct sym_elf *elf, uint64_t vaddr,
		   const char **name);

/* Like sym_elf_lookup, with C++ and Rust names demangled: *name is what
 * people read ("ns::f(int)"), *system_name the symbol ("_ZN2ns1fEi"); the
 * same string for a C name. The demangled name is computed once per symbol
 * and kept with elf. */
int sym_elf_lookup_names(struct sym_elf *elf, uint64_t vaddr, const char **name,
			 const char **system_name);

/* A C++ or Rust symbol demangled (malloc'd), or NULL when name is not a
 * mangled name or cannot be demangled. */
char *sym_demangle(const char *name);

/* Who names kernel addresses one at a time in kallsyms' place: writes the
 * name of the function holding addr into buf (len bytes), or returns
 * -ENOENT when none does; another error is not the address's (asked
 * again next time). */
#define SYM_KERNEL_NAME_MAX 256
typedef int (*sym_kernel_namer)(void *ctx, uint64_t addr, char *buf, size_t len);
/* From now on kernel addresses are named by namer, each answer kept (up
 * to 65536 of them), and kallsyms is not read. 0, or -ENOMEM. */
int sym_cache_set_kernel_namer(struct sym_cache *c, sym_kernel_namer namer, void *ctx);

/* Names the kernel function containing addr, from the namer if one was
 * set, else from kallsyms (loaded on first use). -ENOENT when none does. */
int sym_cache_lookup_kernel(struct sym_cache *c, uint64_t addr,
			    const char **name);
/* Reads kallsyms now (a lookup would on first use): a few hundred
 * milliseconds better spent at start than at the first interval's close. */
int sym_cache_load_kernel(struct sym_cache *c);

/* What a file says of the CPython interpreter linked into it
 * (libpython3.X.so, or an executable with the interpreter in it), from its
 * dynamic symbols (which a stripped interpreter keeps: extension modules
 * link against them). */
/* What CPython 3.13+ says of its own layout at the start of _PyRuntime
 * (_Py_DebugOffsets, which the file holds initialised): offsets in bytes. */
struct sym_py_debug_offsets {
	uint64_t version;       /* PY_VERSION_HEX, checked against Py_Version */
	bool free_threaded;
	uint16_t runtime_interp_head, interp_threads_head;
	uint16_t tstate_next, tstate_interp, tstate_current_frame, tstate_thread_id;
	uint16_t frame_previous, frame_executable, frame_instr_ptr, frame_owner;
	uint16_t code_filename, code_name, code_qualname, code_linetable, code_firstlineno,
		code_adaptive;
	uint16_t bytes_size, bytes_data;
	uint16_t unicode_state, unicode_length, unicode_ascii_data;
};

struct sym_py_file {
	uint64_t runtime;      /* _PyRuntime's vaddr; 0: no interpreter here */
	uint64_t code_type;    /* PyCode_Type's vaddr */
	uint64_t unicode_type; /* PyUnicode_Type's */
	uint64_t bytes_type;   /* PyBytes_Type's */
	uint32_t version;      /* Py_Version (3.11+: 0x030b07f0 is 3.11.7); 0: none */
	uint32_t n_eval;
	/* _PyEval_EvalFrameDefault's code [start, end), and its .cold part's
	 * where the symbol table names it: where a native stack passes
	 * through an evaluation loop. */
	uint64_t eval[2][2];
	bool has_debug_offsets; /* 3.13+: its cookie read, debug_offsets filled */
	struct sym_py_debug_offsets debug_offsets;
};

/* elf's interpreter; NULL when it has none. */
const struct sym_py_file *sym_elf_python(const struct sym_elf *elf);

/* What it takes to read a Python process's code objects: its CPython
 * minor version, and where its type objects are in it. */
struct sym_py_types {
	unsigned int minor;
	uint64_t code_type, unicode_type, bytes_type;
};

struct sym_py_line_range;

/* A code object's names, as read (symbolizer/python_code.h). */
struct sym_py_code {
	char *qualname; /* co_qualname (3.11+), co_name before */
	char *file;     /* co_filename */
	int32_t first_line;
	struct sym_py_line_range *lines; /* sorted; see python_lines.h */
	size_t n_lines;
};

/* The line of the instruction at byte offset instr of code, or 0 when
 * its table does not say (and first_line is all there is). */
int64_t sym_py_code_line(const struct sym_py_code *code, int32_t instr);
void sym_py_code_release(struct sym_py_code *code);

/* A Python process's layout as the agent will walk and name it, to be
 * checked against its memory (sym_cache_python_check): where its thread
 * list is, and where PyCode_Type (at code_type) says a code object's
 * fields are (SMOLDER_PY_FIELD_NONE: a version without the field). */
struct sym_py_check {
	uint16_t runtime_interp_head, interp_tstate_head, tstate_next, tstate_interp;
	uint64_t code_type;
	uint16_t code_name, code_filename, code_qualname, code_firstlineno, code_linetable;
	unsigned int minor;
};

/* Checks, through the parser worker, that the process mem_fd reads reads
 * as o says (python_code.h's sym_py_check_layout), its _PyRuntime at
 * runtime:
 * 0, -EINVAL when it does not, -EIO when unreadable, -EAGAIN when the
 * worker did not answer in time. */
int sym_cache_python_check(struct sym_cache *c, int mem_fd, uint64_t runtime,
			   const struct sym_py_check *o);

/* Code objects asked for in one sym_cache_python_codes call, at most. */
#define SYM_PY_CODES_BATCH 128

/* Names the code objects codes[0..n) (with the tags BPF took of them) of
 * the process whose memory mem_fd reads, through the parser worker, into
 * out[0..n) (each zeroed first; release each) and errs[0..n) (0, or why
 * that one was not named: sym_py_code_read's errors). Returns 0, -EAGAIN
 * when the worker did not answer by the deadline, or -EIO. */
int sym_cache_python_codes(struct sym_cache *c, int mem_fd, const struct sym_py_types *types,
			   const uint64_t *codes, const uint32_t *tags, size_t n,
			   struct sym_py_code *out, int *errs);

/* ---- What an address holds, through DWARF ---- */

/* One function of a location. An address inside inlined code holds several:
 * the inlined function first, then each caller it was inlined into, ending
 * with the function that was really called. */
struct sym_frame {
	const char *name;        /* what people read: demangled */
	const char *system_name; /* the symbol or DWARF linkage name */
	const char *file;        /* source file; NULL when unknown */
	int64_t line;            /* 0 when unknown */
	int64_t start_line;      /* where the function is declared; 0 unknown */
};

struct sym_location {
	const struct sym_frame *frames; /* innermost first */
	size_t n;                       /* 0: nothing names the address */
	/* The name came from DWARF, so its inlined callers were looked for
	 * (pprof's has_inline_frames). */
	bool from_dwarf;
};

/* Names vaddr (an ELF virtual address, see sym_elf_offset_to_vaddr) of
 * elf: DWARF (function, file:line, inlined calls) from the file or its
 * debug file, else the symbol tables (.symtab, .dynsym, MiniDebugInfo,
 * .gopclntab) with the line table's file:line when there is one, else
 * nothing (loc->n == 0, still 0 returned). The debug file
 * is searched for once, when elf is opened: in the process's root, in the
 * debug_dirs, in /usr/lib/debug, then (asynchronously) through debuginfod;
 * a debug file that debuginfod brings later is used from the next
 * sym_cache_trim on. loc stays valid until the next sym_cache_trim. */
int sym_elf_resolve(struct sym_cache *c, struct sym_elf *elf, uint64_t vaddr,
		    struct sym_location *loc);

/* Says that vaddr of elf is about to be asked for with sym_elf_resolve,
 * by weight samples: sym_cache_fetch then has the parser worker name every
 * address said so in a few requests, not one each, the files the most
 * samples show first. Nothing to do without a worker, or when vaddr is
 * named already. */
void sym_cache_want(struct sym_cache *c, struct sym_elf *elf, uint64_t vaddr, uint64_t weight);
void sym_cache_fetch(struct sym_cache *c);

/* Names addr in an anonymous executable mapping of process pid from the
 * JIT's /tmp/perf-PID.map inside the process's root (PID as the process
 * itself sees it: nspid). *name valid until the next sym_cache_trim.
 * -ENOENT: no map, or no entry covers addr. */
int sym_cache_lookup_perf_map(struct sym_cache *c, int pid, int nspid,
			      uint64_t addr, const char **name);
/* The same, with the named range [*start, *end). */
int sym_cache_lookup_perf_map_range(struct sym_cache *c, int pid, int nspid, uint64_t addr,
				    uint64_t *start, uint64_t *end, const char **name);

/* Names the function offset bytes into a [vdso] mapping at map_start,
 * map_size long (sym_vdso_names_lookup). *name lives as long as c.
 * -ENOENT: none, or the mapping is not of the agent's vDSO image
 * (sym_vdso_is_agents). */
int sym_cache_lookup_vdso(struct sym_cache *c, uint64_t map_start, uint64_t map_size,
			  uint64_t offset, const char **name);

/* Called between intervals, when no name handed out is in use any more:
 * evicts least recently used files until the cache holds at most
 * max_bytes, and takes in debug files that debuginfod has brought. Every
 * sym_elf and name handed out before may be gone afterwards. */
void sym_cache_trim(struct sym_cache *c);

/* Who holds unwind tables apart from the files (the agent's loader: the
 * BPF rows array), asked by content id before the parser worker reads a
 * file: a table held is not built again. A file is evicted from the
 * cache sooner than its table (a large binary's table costs the worker
 * 300 ms to build; its symbols, 15). NULL: none. */
void sym_cache_set_table_holder(struct sym_cache *c,
				bool (*holds)(void *ctx, const char *content_id), void *ctx);

/* elf was read without its table for a holder that has lost it since:
 * the file is read again, table and all, after the next sym_cache_trim
 * (which evicts it; elf stays valid until then). */
void sym_cache_reread(struct sym_cache *c, struct sym_elf *elf);

/* Once, between intervals as sym_cache_trim: evicts least recently used
 * files until the cache holds at most max_bytes (the parser worker drops
 * them at its next request), leaving the bound of sym_cache_opts as it
 * is. For an agent over its memory limit. */
void sym_cache_shrink(struct sym_cache *c, size_t max_bytes);

/* Past deadline_ns (CLOCK_MONOTONIC; 0: none), nothing waits on the parser
 * worker: a file or address it has not answered for is left unnamed (its
 * address, file and build-id kept) and counted as late, and named in a
 * later interval. The agent sets it so that intervals close on time. */
void sym_cache_set_deadline(struct sym_cache *c, uint64_t deadline_ns);

struct sym_cache_stats {
	uint64_t files_opened;   /* files read into the cache: misses */
	uint64_t files_failed;   /* attempts that found no readable file */
	uint64_t lookups;        /* sym_cache_get_elf and _lookup_kernel calls */
	uint64_t lookups_failed; /* of those, the ones that returned an error */
	uint64_t hits;           /* sym_cache_get_elf answered from the cache */
	uint64_t evictions;      /* files dropped to stay within max_bytes */
	uint64_t bytes;          /* what the cache holds now (an estimate) */
	uint64_t debug_files;    /* separate debug files found and opened */
	uint64_t corrupt;        /* files or DWARF found unreadable */
	uint64_t late;           /* files and addresses not named by the deadline */
	uint64_t quarantined;    /* files set aside: the worker died or hung on them */
	uint64_t perf_map_bytes;   /* what the JITs' perf maps hold (not in bytes) */
	uint64_t perf_map_refused; /* perf maps not read or kept: SYM_PERF_MAPS_TOTAL_MAX */
	/* The unwind table cache on disk (opts.table_cache): tables read
	 * from it; tables the worker built that it did not hold (written to
	 * it); files refused and removed; what its files hold. */
	uint64_t unwind_cache_hits;
	uint64_t unwind_cache_misses;
	uint64_t unwind_cache_bad;
	uint64_t unwind_cache_bytes;
	/* What the last quarantine was, for the log: "PATH: REASON". */
	char last_quarantine[256];
};
void sym_cache_get_stats(const struct sym_cache *c, struct sym_cache_stats *st);

/* ---- unwind tables on disk ---- */

/* The tables the parser worker built, kept under DIR/unwind/ by the
 * content id of their file (table_cache.h says the format), so that a
 * restarted agent finds them instead of having them built again. */
struct sym_table_cache;

struct sym_table_cache_opts {
	size_t sz;          /* sizeof(struct sym_table_cache_opts) */
	const char *dir;    /* created 0700 when missing, DIR/unwind too */
	uint64_t max_bytes; /* least recently used files removed beyond it; 0: no bound */
};

/* -ELOOP: DIR (or DIR/unwind) is a symlink; -EPERM: it is not owned by
 * this user, or others may write it; -ENOTDIR, -EACCES and the like from
 * opening it. */
int sym_table_cache_new(const struct sym_table_cache_opts *opts, struct sym_table_cache **out);
void sym_table_cache_free(struct sym_table_cache *tc);

struct sym_table_cache_stats {
	uint64_t hits;      /* tables read from disk */
	uint64_t written;   /* tables written (the cache counts its misses itself) */
	uint64_t bad;       /* files refused (corrupt, another file's, too big), removed */
	uint64_t evictions; /* files removed to stay within max_bytes */
	uint64_t bytes;     /* what the files hold now */
};
void sym_table_cache_get_stats(const struct sym_table_cache *tc, struct sym_table_cache_stats *st);

/* ---- the parser worker ---- */

/* The process that parses file contents for the cache (symbolizer/
 * worker.c): the agent's own executable run again with SYM_WORKER_ARGV1,
 * confined (no capabilities, no_new_privs, a seccomp allowlist: it can
 * open nothing), under its own memory cap, each request under a deadline
 * past which it is killed. Files come to it as descriptors. When it dies
 * it is started again at the next request, at most restarts_per_minute
 * times a minute; the file it died on is quarantined by the cache. */
#define SYM_WORKER_ARGV1 "__smolder_parser_worker"
#define SYM_WORKER_DEFAULT_MEMORY_CAP (256u << 20)
/* The worker's exit status when it passed its memory cap. */
#define SYM_WORKER_EXIT_MEMORY 75

struct sym_worker_opts {
	size_t sz;                 /* sizeof(struct sym_worker_opts) */
	const char *exe;           /* NULL: /proc/self/exe */
	size_t memory_cap;         /* anonymous resident bytes; 0: the default */
	unsigned int timeout_ms;   /* one request; 0: 10 s */
	unsigned int restarts_per_minute; /* 0: 10 */
};

/* Nothing is started until the first request. NULL and errno on failure. */
struct sym_worker *sym_worker_new(const struct sym_worker_opts *opts);
/* Ends the worker (EOF, then SIGKILL if it lingers). */
void sym_worker_free(struct sym_worker *w);

struct sym_worker_stats {
	uint64_t starts;        /* processes started */
	uint64_t deaths;        /* died on a request: signal, exit, memory cap */
	uint64_t timeouts;      /* killed past a request's deadline */
	uint64_t refused;       /* requests failed: too many restarts this minute */
	int pid;                /* the running worker; 0: none */
};
void sym_worker_get_stats(const struct sym_worker *w, struct sym_worker_stats *st);

/* The worker's main(): call it from main() when argv[1] is
 * SYM_WORKER_ARGV1. Its exit status. */
int sym_worker_main(int argc, char **argv);

/* ---- debuginfod ---- */

struct sym_debuginfod_opts {
	size_t sz;             /* sizeof(struct sym_debuginfod_opts) */
	const char *urls;      /* space-separated server URLs; NULL: $DEBUGINFOD_URLS */
	const char *cache_dir; /* where fetched files are kept (created 0700) */
	unsigned int timeout_s;     /* per request, connect and transfer; 0: 30 */
	unsigned int retry_after_s; /* a build-id no server had; 0: 600 */
};

/* Starts the worker thread that fetches debug files. elfutils 0.188 reads
 * its servers, cache and timeout from the environment only, so this sets
 * DEBUGINFOD_URLS, DEBUGINFOD_CACHE_PATH and DEBUGINFOD_TIMEOUT: call it
 * before any other thread starts. NULL and errno on failure (EINVAL: no
 * URL). */
struct sym_debuginfod *sym_debuginfod_new(const struct sym_debuginfod_opts *opts);
/* Stops the worker, abandoning a transfer in flight. */
void sym_debuginfod_free(struct sym_debuginfod *d);

/* Never blocks on the network. 0: the debug file of build_id (lowercase
 * hex) is here, *path malloc'd; -EAGAIN: asked for (queued now, or in
 * flight); -ENOENT: no server has it (asked again after retry_after_s). */
int sym_debuginfod_find(struct sym_debuginfod *d, const char *build_id,
			char **path);

struct sym_debuginfod_stats {
	uint64_t requested; /* build-ids queued */
	uint64_t fetched;   /* debug files that arrived */
	uint64_t missing;   /* no server had it */
	uint64_t failed;    /* network or server errors, timeouts */
};
void sym_debuginfod_get_stats(struct sym_debuginfod *d,
			      struct sym_debuginfod_stats *st);

#endif
