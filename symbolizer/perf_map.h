/* JIT perf maps (/tmp/perf-PID.map): what a JIT (V8 with --perf-basic-prof,
 * the JVM through perf-map-agent, .NET, LuaJIT, ...) says it put where in
 * its anonymous executable memory. Used by sym_cache.c. Internal to
 * symbolizer/.
 *
 * A map is one file, parsed into a table of address ranges; a cache of
 * maps, one per process, answers sym_cache_lookup_perf_map. */
#ifndef SMOLDER_PERF_MAP_H
#define SMOLDER_PERF_MAP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

/* The file is the process's to write: bounds on what one costs us. A line
 * longer than this (the newline included) is a bad line. */
#define SYM_PERF_MAP_LINE_MAX 4096
/* Of a longer text, only the last SYM_PERF_MAP_LINES_MAX lines within the
 * last SYM_PERF_MAP_TEXT_MAX bytes are read: JITs append, so the newest
 * lines, which say what the memory holds now, are the ones kept. Node 20
 * with --perf-basic-prof writes 27 bytes a line on average (1.7 MB for
 * 20000 functions compiled): 16 MiB is some 600000 lines. Reading one costs
 * about 110 bytes a line on top of the text while it is parsed, and the
 * map then holds at most 48 bytes a line and the names it keeps. */
#define SYM_PERF_MAP_LINES_MAX (512u << 10)
#define SYM_PERF_MAP_TEXT_MAX (16u << 20)

struct sym_perf_map;

struct sym_perf_map_info {
	size_t lines;     /* lines taken (blank ones are not counted) */
	size_t bad_lines; /* skipped: malformed, too long, a range empty or reaching 2^64 */
	size_t dropped;   /* lines never read: beyond the bounds above */
	size_t ranges;    /* ranges of the table, overlaps resolved */
	size_t bytes;     /* memory the map holds */
};

/* Parses the text of a perf map: "START SIZE NAME" a line, START and SIZE
 * in hex with or without 0x, NAME the rest of the line (spaces included,
 * trailing white space dropped, control characters made '?'). Where
 * ranges overlap, each address is named by the LAST line that covers it:
 * a JIT reuses the memory of code it freed, and the later line says what
 * is there now (perf keeps the later of two entries with the same start;
 * this extends that to every overlap). A last line without a newline is
 * taken. Only -ENOMEM (and -EINVAL for NULL arguments) fails. */
int sym_perf_map_parse(const char *buf, size_t len, struct sym_perf_map **out);

/* The name of the range holding addr, valid as long as m. -ENOENT: none. */
int sym_perf_map_lookup(const struct sym_perf_map *m, uint64_t addr,
			const char **name);
/* The same, with the range [*start, *end) (either may be NULL). */
int sym_perf_map_lookup_range(const struct sym_perf_map *m, uint64_t addr, uint64_t *start,
			      uint64_t *end, const char **name);

void sym_perf_map_get_info(const struct sym_perf_map *m,
			   struct sym_perf_map_info *info);
void sym_perf_map_free(struct sym_perf_map *m);

/* The table of m, to send: n ranges [starts[i], ends[i]) named at
 * name_offsets[i] in names (names_len bytes). Pointers into m, or into
 * the arrays given (n entries each). */
struct sym_perf_map_table {
	const uint64_t *starts, *ends;
	const uint32_t *name_offsets;
	size_t n;
	const char *names;
	size_t names_len;
	size_t lines, bad_lines, dropped;
};
/* Fills the arrays starts, ends, offs (m's range count each) and t. */
void sym_perf_map_export(const struct sym_perf_map *m, uint64_t *starts, uint64_t *ends,
			 uint32_t *offs, struct sym_perf_map_table *t);
size_t sym_perf_map_ranges(const struct sym_perf_map *m);
/* A map from a table made elsewhere (the parser worker), checked as the
 * untrusted bytes it is: ranges non-empty, sorted and apart, every name
 * inside names and ended. -EPROTO when it is not so; -ENOMEM. */
int sym_perf_map_import(const struct sym_perf_map_table *t, struct sym_perf_map **out);

/* Reads the open perf map fd, whose fstat is st: its last
 * SYM_PERF_MAP_TEXT_MAX bytes, up to the last newline (a JIT may be in
 * the middle of a line). */
int sym_perf_map_read_fd(int fd, const struct stat *st, struct sym_perf_map **out);

/* Reads /tmp/perf-NSPID.map inside the root of process pid (see
 * root_open.h; proc_root NULL: /proc, pid 0: the host's /tmp). nspid is
 * the pid as the process sees it, in its own pid namespace. -ENOENT: the
 * process has no map; -ENOEXEC: the path is not a regular file; -EPERM:
 * the file is not owned by the process's owner (the owner of
 * <proc_root>/<pid>; not checked for pid 0). */
int sym_perf_map_read(const char *proc_root, int pid, int nspid,
		      struct sym_perf_map **out);

/* ---- The cache: one map per process ---- */

/* A process's map is read on its first lookup, then looked at again (one
 * open and fstat) at most once per SYM_PERF_MAPS_RECHECK_NS, and read again
 * only if its inode, size or mtime changed: JITs append as they go. A map
 * replaced, or a process forgotten, stays in memory until the next trim,
 * so that names handed out stay valid until then. A process is known by
 * its pid and nspid: one that has exited keeps its last map (its samples
 * may still be named), and a new process under its pid is told from it
 * only by another nspid or another file (JITs leave their maps behind, so
 * a stale /tmp/perf-PID.map is read as perf itself would). Not
 * thread-safe. */
#define SYM_PERF_MAPS_RECHECK_NS 1000000000ULL
/* A process not looked up for this long is forgotten at a trim. */
#define SYM_PERF_MAPS_IDLE_NS (60ULL * 1000000000ULL)
/* What the maps of all processes may hold together, replaced ones waiting
 * for the trim included. A map that would pass it is not read (its size
 * is the estimate) or, once read, not kept: its frames stay unnamed, and
 * a process's older map, if it has one, stays. Later part of
 * --memory-limit. */
#define SYM_PERF_MAPS_TOTAL_MAX (64u << 20)

struct sym_perf_maps;

/* proc_root: as sym_cache_opts has it (NULL: /proc); copied. NULL and
 * errno ENOMEM on failure. */
struct sym_perf_maps *sym_perf_maps_new(const char *proc_root);

/* Who parses a map file opened here: sym_perf_map_read_fd by default, the
 * parser worker when the cache has one. -EAGAIN from it: not parsed in
 * time; the map held stays, and the file is read again at the next look. */
typedef int (*sym_perf_map_reader)(void *ctx, int fd, const struct stat *st,
				   struct sym_perf_map **out);
void sym_perf_maps_set_reader(struct sym_perf_maps *c, sym_perf_map_reader read, void *ctx);
void sym_perf_maps_free(struct sym_perf_maps *c);

/* The body of sym_cache_lookup_perf_map (see sym.h): names addr from the
 * perf map of process pid (nspid <= 0: same as pid). -ENOENT: no map, or
 * no range holds addr; -ENOEXEC or -EPERM: as sym_perf_map_read says;
 * -ENOSPC: the map was refused (SYM_PERF_MAPS_TOTAL_MAX); -EINVAL: pid
 * <= 0. *name is valid until the next sym_perf_maps_trim. */
int sym_perf_maps_lookup_range(struct sym_perf_maps *c, int pid, int nspid, uint64_t addr,
			       uint64_t *start, uint64_t *end, const char **name);
int sym_perf_maps_lookup(struct sym_perf_maps *c, int pid, int nspid,
			 uint64_t addr, const char **name);

/* Frees replaced maps and forgets idle processes: call from
 * sym_cache_trim, when no name handed out is in use any more. */
void sym_perf_maps_trim(struct sym_perf_maps *c);

struct sym_perf_maps_stats {
	uint64_t processes; /* processes the cache holds an entry for */
	uint64_t reads;     /* maps read (first reads and re-reads) */
	uint64_t bad_lines; /* bad lines in the maps read, summed */
	uint64_t bytes;     /* memory the maps hold, retired ones included */
	uint64_t refused;   /* maps (a file as it was) not read or kept: TOTAL_MAX */
};
void sym_perf_maps_get_stats(const struct sym_perf_maps *c,
			     struct sym_perf_maps_stats *st);

#endif
