/* The unwind loader: puts the unwind tables of the processes' executable
 * files into the BPF maps the user-stack walk reads (bpf/unwind.h), and
 * tells the walk which file each process has mapped where.
 *
 * Tables come from the symbol cache (the same files, opened the same way,
 * one table per file however many processes map it) and are loaded once
 * per file, keyed by content id (the SHA-256 of its bytes, sym.h; else
 * device and inode, never by build-id alone), into one array of
 * rows. The array is bounded (--unwind-table-max-bytes): a table that does
 * not fit makes room by evicting, least recently used first, whole tables
 * no live process maps; if that is not enough it is not loaded, and the
 * walk uses frame pointers in that file. A process whose tables are not
 * loaded yet (not read, or not read by the parser worker's deadline) is
 * left unpublished: BPF walks it by frame pointers and copies its stacks
 * for the agent to walk (stack_copies.h). No sample is dropped for it.
 * Run-loop thread only.
 */
#ifndef SMOLDER_UNWIND_LOADER_H
#define SMOLDER_UNWIND_LOADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "disc.h"
#include "python_procs.h"
#include "rows_window.h"
#include "sym.h"
#include "unwind.h"

struct unwind_loader;

struct unwind_loader_opts {
	size_t sz;
	int rows_fd;        /* unwind_rows */
	int procs_fd;       /* unwind_procs */
	uint32_t max_rows;  /* the rows map's size */
	struct sym_cache *sym;
	/* A file is read for its table only once a stack has been seen to
	 * pass through it (unwind_loader_want); until then its mappings are
	 * published SMOLDER_UNWIND_PENDING. false: every file of a process
	 * is read when it is published (--pid targets: a few processes,
	 * wanted whole from their first sample). */
	bool on_demand;
	/* Told of every process published and forgotten (NULL: none). */
	struct python_procs *python;
};

struct unwind_loader_stats {
	uint64_t tables;     /* loaded now */
	uint64_t rows;       /* loaded now */
	uint64_t evictions;
	uint64_t no_room;    /* a table not loaded for want of room */
	uint64_t retries;    /* processes published again: a file missed its deadline */
	uint64_t wanted;     /* files read on demand: a stack passed through them */
};

struct unwind_loader *unwind_loader_new(const struct unwind_loader_opts *opts);
void unwind_loader_free(struct unwind_loader *l);

/* Loads the tables of p's executable mappings (reading their files into
 * the symbol cache if they are not there yet) and publishes p's mappings
 * to the walk. Called whenever discovery has read p's maps anew. */
void unwind_loader_publish(struct unwind_loader *l, const struct disc_process *p);

/* p's mappings as the walk sees them (loading their tables as publish
 * does), into up, without publishing them: for the walk of a stack copy
 * (stack_copies.h), at once. rows[i] (SMOLDER_UNWIND_MAPPINGS_MAX of
 * them): the rows of up->m[i] as the symbol cache holds them, the same
 * BPF has; valid until the symbol cache is next trimmed. NULL: none in
 * the agent's memory: frame pointers there if up->m[i].n_rows is 0, else
 * the table is held only in the rows array (the file was read again
 * without it), to be read there (unwind_loader_map_rows). -EAGAIN: a file
 * was not read in time, and is walked by frame pointers in up. */
int unwind_loader_view(struct unwind_loader *l, const struct disc_process *p,
		       struct smolder_unwind_proc *up, const struct smolder_unwind_row **rows);

/* Maps the table of m (from up of unwind_loader_view) read-only, into w:
 * its rows and rules, *n_elems elements in all; rows_window_unmap lets
 * them go. Valid until the next call that loads a table. -ENOENT: no such
 * table loaded; -errno when the array cannot be mapped. */
int unwind_loader_map_rows(struct unwind_loader *l, const struct smolder_unwind_mapping *m,
			   struct rows_window *w, size_t *n_elems);

/* Whether up (of unwind_loader_view) has a mapping whose file is not
 * read yet, and at addr: -1 if addr is in none, else its index in up. */
int unwind_loader_pending_at(const struct smolder_unwind_proc *up, uint64_t addr);
/* The file p maps at addr is wanted: it is read, and its table loaded,
 * wherever it is mapped from now on (unwind_loader_publish, _view); the
 * processes published with it pending are published again at the next
 * unwind_loader_retry (p among them). 1: newly wanted; 0: it was;
 * -ENOENT: no file mapped there. Past the bound of the set of wanted
 * files, every file is read from then on. */
int unwind_loader_want(struct unwind_loader *l, struct disc_table *disc,
		       const struct disc_process *p, uint64_t addr);
/* Reads files on demand, or every file a process maps (see
 * unwind_loader_opts). */
void unwind_loader_set_on_demand(struct unwind_loader *l, bool on_demand);
/* For sym_cache_set_table_holder: whether the table of the file with
 * this content id is loaded (it is then kept the longest). */
bool unwind_loader_holds(void *loader, const char *content_id);

/* Publishes again the processes a file of which was not read in time (the
 * parser worker's deadline passed, or it died), or became wanted: until
 * then those files are walked by frame pointers. The run loop calls it
 * once an interval, the walk of stack copies when it wants a file. */
void unwind_loader_retry(struct unwind_loader *l, struct disc_table *disc);

/* p has exited: its mappings are forgotten and its tables released. */
void unwind_loader_forget(struct unwind_loader *l, int pid);

void unwind_loader_get_stats(const struct unwind_loader *l, struct unwind_loader_stats *st);

#endif
