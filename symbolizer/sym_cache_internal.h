/* The symbol cache's insides, shared by its two files: sym_cache.c (files
 * found, opened, kept, evicted) and sym_cache_worker.c (the files the
 * parser worker reads for it). Internal to symbolizer/. */
#ifndef SMOLDER_SYM_CACHE_INTERNAL_H
#define SMOLDER_SYM_CACHE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "content_id.h"
#include "debuginfo.h"
#include "elf_file.h"
#include "hashtab.h"
#include "refusals.h"
#include "sym.h"

/* All uint64_t: hashed as bytes, so there must be no padding. */
struct file_id {
	uint64_t dev;
	uint64_t ino;
	uint64_t size;
	uint64_t mtime_sec;
	uint64_t mtime_nsec;
};

/* A file the parser worker holds for us, by the handle we gave it. */
struct remote_entry {
	struct sym_hnode node;
	uint64_t handle;
	struct sym_elf *elf;
	struct file_id id;
	char path[]; /* for the quarantine's message */
};

/* A file set aside: the worker died or hung on it. Its stub (build-id at
 * most, no names) is what the cache answers for it meanwhile. */
struct quarantine_entry {
	struct sym_hnode node;
	struct file_id id;
	uint64_t until_ns;
	struct sym_elf *stub;
};

/* An address of a file the worker holds that is not named yet. */
struct wanted {
	uint64_t handle;
	uint64_t vaddr;
	uint64_t weight; /* samples that will show it */
};

enum pending_kind {
	PENDING_NONE, PENDING_PEEK, PENDING_OPEN, PENDING_RESOLVE, PENDING_ATTACH,
	PENDING_PERF_MAP, PENDING_PYTHON, PENDING_PYTHON_CHECK, PENDING_FUNCTIONS
};

struct sym_perf_map;

/* The worker's request outstanding, and what its answer is for. */
struct pending {
	enum pending_kind kind;
	struct file_id id;
	char *path;
	uint64_t handle;
	uint64_t *vaddrs; /* a resolve's addresses, owned */
	size_t n_vaddrs;
	/* An open's answer, once applied. */
	struct sym_elf *elf;
	/* A perf map's, once applied (owned until taken). */
	struct sym_perf_map *perf_map;
	/* The file's build-id, once known (a peek's answer): a quarantine
	 * keeps it. */
	char build_id[2 * SYM_BUILD_ID_MAX + 1];
	/* Its content id, from the same answer ("" when not had). */
	char content_id[SYM_CONTENT_ID_LEN + 1];
	/* An open's unwind table, read from the table cache: the worker
	 * was asked not to build it (owned until the answer takes it). */
	struct sym_unwind_table cached;
	/* A PythonCodes request's answers go here (the caller's arrays). */
	struct sym_py_code *py_out;
	int *py_errs;
	size_t py_n;
	/* A FindFunctions request's answer goes here (the caller's array). */
	uint64_t *fn_vaddrs;
	size_t fn_n;
	/* The worker was asked not to build the table: the holder has it. */
	bool table_held;
	int err;
};

struct sym_cache {
	char *kallsyms_path;
	char *proc_root;
	char **debug_dirs; /* NULL-terminated */
	size_t max_bytes;
	struct sym_debuginfod *debuginfod;
	/* Every sym_elf, owned here: files and shared point into it. */
	struct sym_elf **elfs;
	size_t nelfs;
	size_t elfs_cap;
	uint64_t clock; /* ticks once per lookup: the LRU order */
	/* Files by build-id and content id together (sym_cache_find_shared). */
	struct sym_htab shared;
	struct sym_perf_maps *perf_maps;
	struct sym_htab files;
	struct sym_htab mapped;
	struct sym_htab failed;
	size_t failed_sweep_at;
	struct sym_kallsyms *ksyms;
	struct sym_kernel_names *knames; /* NULL: kallsyms names the kernel */
	int ksyms_err;
	bool ksyms_tried;
	struct sym_vdso_names *vdso; /* NULL: not read, or -vdso_err */
	int vdso_err;
	struct sym_cache_stats stats;
	struct sym_worker *worker;
	struct sym_table_cache *table_cache; /* NULL: none */
	bool (*table_holds)(void *ctx, const char *content_id); /* NULL: none */
	void *table_holds_ctx;
	uint64_t deadline_ns;
	uint64_t next_handle;
	struct pending pending;
	struct sym_htab remotes;
	struct sym_htab quarantine;
	/* Addresses to be asked for together (sym_cache_want). */
	struct wanted *wanted;
	size_t n_wanted, wanted_cap;
	/* The worker's refusal counts already counted, and whose they are. */
	uint64_t refusals_seen[SYM_REFUSED__COUNT];
	uint64_t refusals_generation;
};

uint64_t sym_cache_now_ns(void);
struct file_id sym_cache_file_id(const struct stat *st);
struct sym_elf *sym_cache_find_file(const struct sym_cache *c, const struct file_id *id);
/* Remembers that the file id holds elf; failing to costs a re-read. */
void sym_cache_add_file(struct sym_cache *c, const struct file_id *id, struct sym_elf *elf);
/* The file already read that another file may stand in for: the same
 * build-id and the same content id, both present. A build-id alone is
 * what a file says of itself (a container's file can copy libc's note):
 * it never makes two files one. NULL when none. */
struct sym_elf *sym_cache_find_shared(const struct sym_cache *c, const char *build_id,
				      const char *content_id);
/* Takes ownership of elf. */
int sym_cache_add_elf(struct sym_cache *c, struct sym_elf *elf);
/* Where the debug file of ref's file may be. */
struct sym_debug_search sym_cache_debug_search(const struct sym_cache *c,
					       const struct sym_file_ref *ref);

/* ---- sym_cache_worker.c ---- */

/* Has the worker read the file at fd (identified as id): what reading a
 * new file is when there is a worker. -EAGAIN: not by the deadline (asked
 * again later); -EIO: no worker to read it. A file set aside answers with
 * its stub. */
int sym_cache_read_remote(struct sym_cache *c, int fd, const struct sym_file_ref *ref,
			  const struct file_id *id, struct sym_elf **elf);
/* sym_elf_resolve for a file the worker read. */
int sym_cache_resolve_remote(struct sym_cache *c, struct sym_elf *elf, uint64_t vaddr,
			     struct sym_location *loc);
/* The perf maps' reader when there is a worker (sym_perf_map_reader):
 * the map parsed there, its table checked here. -EAGAIN: not by the
 * deadline; -EIO: the worker died or hung on it. */
int sym_cache_read_perf_map_remote(void *cache, int fd, const struct stat *st,
				   struct sym_perf_map **out);
/* Debug files debuginfod brought for files the worker holds, sent to it. */
void sym_cache_take_remote_arrivals(struct sym_cache *c);
/* Waits for the outstanding request until until_ns: 0 answered (applied),
 * -EAGAIN still outstanding, -EIO the worker died or hung on it. */
int sym_cache_wait_pending(struct sym_cache *c, uint64_t until_ns);
void sym_cache_clear_pending(struct sym_cache *c);
/* sym_htab_drop_if visitors: the remote entry of the elf ctx; a quarantine
 * entry expired by *(uint64_t *)ctx (NULL: every one). */
bool sym_cache_drop_remote_of(struct sym_hnode *n, void *ctx);
bool sym_cache_free_quarantine_entry(struct sym_hnode *n, void *ctx);

#endif
