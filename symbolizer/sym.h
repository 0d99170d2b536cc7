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

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct sym_cache;
struct sym_elf;

struct sym_cache_opts {
	size_t sz;                 /* sizeof(struct sym_cache_opts) */
	const char *kallsyms_path; /* NULL: /proc/kallsyms (tests point it elsewhere) */
	const char *proc_root;     /* NULL: /proc (tests point it elsewhere) */
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

/* Translates an offset in the file (address - map start + map offset) to
 * the ELF virtual address, through the PT_LOAD segment that holds it; this
 * one rule serves PIE, non-PIE executables and shared libraries. */
int sym_elf_offset_to_vaddr(const struct sym_elf *elf, uint64_t file_offset,
			    uint64_t *vaddr);

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

/* Names the kernel function containing addr, from kallsyms (loaded on
 * first use). -ENOENT when none does. */
int sym_cache_lookup_kernel(struct sym_cache *c, uint64_t addr,
			    const char **name);

struct sym_cache_stats {
	uint64_t files_opened;   /* files read into the cache */
	uint64_t files_failed;   /* attempts that found no readable file */
	uint64_t lookups;        /* sym_cache_get_elf and _lookup_kernel calls */
	uint64_t lookups_failed; /* of those, the ones that returned an error */
};
void sym_cache_get_stats(const struct sym_cache *c, struct sym_cache_stats *st);

#endif
