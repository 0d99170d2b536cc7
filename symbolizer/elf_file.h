/* What an opened ELF file keeps, shared by the files that fill it in
 * (elf_file.c: headers and segments; elf_symbols.c: functions;
 * elf_gopclntab.c: a stripped Go binary's functions; elf_plt.c: PLT
 * stubs; elf_build_id.c: the build-id) and by sym_cache.c, which opens
 * files by descriptor. Internal to symbolizer/. */
#ifndef SMOLDER_ELF_FILE_H
#define SMOLDER_ELF_FILE_H

#include <libelf.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "content_id.h"
#include "hashtab.h"
#include "sym.h"

struct sym_dwarf;

/* Longer build-ids exist in no toolchain; a longer note is taken for noise. */
#define SYM_BUILD_ID_MAX 64

/* One function: [addr, end). Sorted by addr, one entry per address. */
struct sym_elf_func {
	uint64_t addr; /* first: see addr_search.h */
	uint64_t end;
	const char *name; /* into sym_elf.names */
};

/* A PT_LOAD segment: the file bytes [offset, offset + filesz) are mapped
 * at vaddr. */
struct sym_elf_load {
	uint64_t offset;
	uint64_t filesz;
	uint64_t vaddr;
};

struct sym_elf {
	struct sym_elf_func *funcs;
	size_t nfuncs;
	char *names; /* one arena for every name, so the Elf can be closed */
	/* Demangled names, filled in as they are asked for (demangle.c); an
	 * entry pointing into names is a name that needed no demangling. */
	char **demangled;
	struct sym_elf_load *loads;
	size_t nloads;
	char build_id[2 * SYM_BUILD_ID_MAX + 1]; /* "" when there is none */
	/* The SHA-256 of the file's bytes (content_id.h), set by whoever
	 * read it; "" when it could not be had. With the build-id, what
	 * another file must match to share this one. */
	char content_id[SYM_CONTENT_ID_LEN + 1];
	/* Filled in by sym_cache.c and resolve.c: */
	struct sym_dwarf *dwarf;  /* NULL: libdwfl could not take the file */
	struct sym_unwind_table unwind; /* n == 0: no CFI read */
	struct sym_htab addrs;    /* resolved addresses (resolve.c) */
	size_t bytes;             /* what this file costs the cache */
	uint64_t last_used;       /* cache clock at the last lookup */
	/* A file the parser worker read: no tables here, only what the agent
	 * needs (build-id, segments, unwind table) and the answers kept in
	 * addrs. remote_handle 0: read in this process. */
	uint64_t remote_handle;
	uint64_t remote_generation; /* the worker's that holds it */
	bool remote_dwarf;          /* sym_elf_has_dwarf's answer */
	/* Its worker died, and an address it had not named was asked for:
	 * the file must be read again by the next worker. */
	bool remote_orphan_missed;
	/* Read without its unwind table: the table holder had it
	 * (sym_elf_table_held). */
	bool table_held;
	/* To be evicted at the next trim, and read again (sym_cache_reread). */
	bool reread;
	int remote_source;          /* enum sym_debug_source */
	struct sym_py_file python;  /* runtime 0: no interpreter */
};

/* Drops the resolved addresses (their names may point into dwarf). */
void sym_elf_forget_addresses(struct sym_elf *elf);

/* The index in funcs of the function holding vaddr; -ENOENT when none. */
int sym_elf_lookup_index(const struct sym_elf *elf, uint64_t vaddr, size_t *index);

/* sym_cache_find_functions on a table held here (the worker's, or a file
 * read without one): vaddrs[0..n) are set, 0 for a name not found. */
int sym_elf_find_functions(const struct sym_elf *elf, const char *const *names, size_t n,
			   uint64_t *vaddrs);

/* Reads the open regular file fd (not closed here) into a new sym_elf.
 * -ENOEXEC when it is not an ELF file we can trust. */
int sym_elf_read_fd(int fd, struct sym_elf **elf);
/* The same without the unwind table: the agent has it already (its table
 * cache on disk). */
int sym_elf_read_fd_no_unwind(int fd, struct sym_elf **elf);

/* -EFBIG when a compressed section of e (SHF_COMPRESSED or .zdebug_*)
 * says it expands to more than cap bytes, or by more than
 * SYM_DECOMPRESS_RATIO_MAX times (refusals.h): check before handing a file
 * to libdw, which expands such sections whole. -ENOEXEC: headers corrupt;
 * 0 otherwise. Reads only the headers. */
int sym_elf_check_compressed(Elf *e, uint64_t cap);

/* Fill in se from e; -ENOEXEC when the tables they need are corrupt. */
int sym_elf_read_functions(Elf *e, struct sym_elf *se);
/* A Go binary's functions from its .gopclntab, into se when it has none
 * yet (elf_gopclntab.c); 0 with none when there is no table we can read,
 * -ENOEXEC when it is corrupt. */
int sym_elf_read_gopclntab(Elf *e, struct sym_elf *se);
/* Adds e's PLT stubs to se's functions, named SYMBOL@plt (elf_plt.c);
 * before any name is looked up (se->demangled is NULL). Only -ENOMEM
 * fails: stubs that cannot be read stay unnamed. */
int sym_elf_read_plt(Elf *e, struct sym_elf *se);
void sym_elf_read_build_id(Elf *e, struct sym_elf *se);
/* The CPython interpreter's symbols, into se->python (elf_python.c);
 * nothing when e has none. After sym_elf_read_functions. */
void sym_elf_read_python(Elf *e, struct sym_elf *se);
/* The build-id of the ELF file open at fd, into hex (2 * SYM_BUILD_ID_MAX
 * + 1 bytes; "" when it has none), without reading anything else. */
int sym_elf_peek_build_id(int fd, char *hex);

#endif
