/* The unwind loader (see unwind_loader.h). Tables are few (one per
 * distinct executable file on the host), so arrays searched in full keep
 * this simple; the rows array is allocated first-fit between the tables
 * that hold it. */
#include "unwind_loader.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>

#include "file_set.h"
#include "frames.h"
#include "log.h"
#include "rows_room.h"
#include "rows_window.h"
#include "slim_rows.h"
#include "unwind.h"

#define KEY_MAX 160

struct table {
	char key[KEY_MAX];   /* "" for a free slot */
	uint32_t first, n;   /* elements of the rows array: its rows, then its rules */
	uint32_t n_rows;
	uint32_t refs;       /* live processes that map it */
	uint64_t last_used;
};

struct proc_ref {
	int pid;
	bool incomplete;     /* a file was not read in time: to be published again */
	bool pending;        /* a mapping's file is not read (SMOLDER_UNWIND_PENDING) */
	uint32_t n;
	uint32_t tables[SMOLDER_UNWIND_MAPPINGS_MAX]; /* indices into tables */
};

struct unwind_loader {
	int rows_fd, procs_fd;
	uint32_t max_rows;
	struct sym_cache *sym;
	struct python_procs *python;
	struct table *tables;
	size_t n_tables;
	struct proc_ref *procs; /* sorted by pid */
	size_t n_procs;
	uint64_t clock;
	/* The vDSO's table, read once (rc < 0: none to be had). */
	struct sym_unwind_table vdso;
	uint64_t vdso_vaddr;
	int vdso_rc;
	bool vdso_read;
	bool publishing_incomplete; /* set by map_one during one publish */
	bool on_demand;
	struct file_set wanted;     /* files a stack passed through */
	struct unwind_loader_stats st;
};

struct unwind_loader *unwind_loader_new(const struct unwind_loader_opts *o)
{
	struct unwind_loader *l = calloc(1, sizeof(*l));

	if (!l)
		return NULL;
	l->rows_fd = o->rows_fd;
	l->procs_fd = o->procs_fd;
	l->max_rows = o->max_rows;
	l->sym = o->sym;
	l->on_demand = o->on_demand;
	l->python = o->python;
	return l;
}

void unwind_loader_free(struct unwind_loader *l)
{
	if (!l)
		return;
	free(l->tables);
	free(l->procs);
	file_set_release(&l->wanted);
	sym_unwind_table_release(&l->vdso);
	free(l);
}

void unwind_loader_get_stats(const struct unwind_loader *l, struct unwind_loader_stats *st)
{
	*st = l->st;
}

/* ---- the rows array ---- */

static int by_first(const void *a, const void *b)
{
	const struct table *x = *(const struct table *const *)a;
	const struct table *y = *(const struct table *const *)b;

	return x->first < y->first ? -1 : x->first > y->first;
}

static void evict(struct unwind_loader *l, struct table *victim)
{
	l->st.tables--;
	l->st.rows -= victim->n;
	l->st.evictions++;
	victim->key[0] = '\0';
}

/* Room for n elements, into *first, evicting the window of unmapped
 * tables rows_room_choose picks; -ENOSPC if none makes room. */
static int make_room(struct unwind_loader *l, uint32_t n, uint32_t *first)
{
	struct table **used = malloc((l->n_tables + 1) * sizeof(*used));
	struct rows_span *spans = malloc((l->n_tables + 1) * sizeof(*spans));
	size_t k = 0, from, to;
	int rc = -ENOSPC;

	if (!used || !spans) {
		free(used);
		free(spans);
		return -ENOMEM;
	}
	for (size_t i = 0; i < l->n_tables; i++)
		if (l->tables[i].key[0])
			used[k++] = &l->tables[i];
	qsort(used, k, sizeof(*used), by_first);
	for (size_t i = 0; i < k; i++)
		spans[i] = (struct rows_span){ .first = used[i]->first, .n = used[i]->n,
					       .last_used = used[i]->last_used,
					       .mapped = used[i]->refs > 0 };
	if (rows_room_choose(spans, k, l->max_rows, n, first, &from, &to)) {
		for (size_t j = from; j < to; j++)
			evict(l, used[j]);
		rc = 0;
	}
	free(used);
	free(spans);
	return rc;
}

static int write_elems(struct unwind_loader *l, uint32_t first,
		       const union smolder_unwind_elem *e, size_t n)
{
	struct rows_window w;
	uint32_t *keys;
	__u32 count = (__u32)n;
	int rc = 0;

	/* A copy into the map, not a system call's copy per row (which was
	 * most of the agent's CPU on a build host). No walk reads the gap the
	 * table goes to until it is published. */
	if (rows_window_map(l->rows_fd, first, (uint32_t)n, true, &w) == 0) {
		memcpy(w.elems, e, n * sizeof(*e));
		rows_window_unmap(&w);
		return 0;
	}
	keys = malloc(n * sizeof(*keys));
	if (!keys)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		keys[i] = first + (uint32_t)i;
	if (bpf_map_update_batch(l->rows_fd, keys, e, &count, NULL))
		rc = -errno;
	free(keys);
	return rc;
}

static struct table *new_slot(struct unwind_loader *l)
{
	struct table *v;

	for (size_t i = 0; i < l->n_tables; i++)
		if (!l->tables[i].key[0])
			return &l->tables[i];
	v = realloc(l->tables, (l->n_tables + 1) * sizeof(*v));
	if (!v)
		return NULL;
	l->tables = v;
	memset(&v[l->n_tables], 0, sizeof(*v));
	return &v[l->n_tables++];
}

/* The loaded table of key, made the most recently used; NULL if none. */
static struct table *loaded(struct unwind_loader *l, const char *key)
{
	for (size_t i = 0; i < l->n_tables; i++) {
		if (strcmp(l->tables[i].key, key) == 0) {
			l->tables[i].last_used = ++l->clock;
			return &l->tables[i];
		}
	}
	return NULL;
}

int unwind_loader_map_rows(struct unwind_loader *l, const struct smolder_unwind_mapping *m,
			   struct rows_window *w, size_t *n_elems)
{
	for (size_t i = 0; i < l->n_tables; i++) {
		const struct table *t = &l->tables[i];

		if (t->key[0] && t->first == m->first_row && t->n_rows == m->n_rows && m->n_rows) {
			*n_elems = t->n;
			return rows_window_map(l->rows_fd, t->first, t->n, false, w);
		}
	}
	return -ENOENT;
}

bool unwind_loader_holds(void *loader, const char *content_id)
{
	struct unwind_loader *l = loader;
	char key[KEY_MAX];

	snprintf(key, sizeof(key), "c:%s", content_id);
	return loaded(l, key) != NULL;
}

/* The loaded table of key, loading t if it is not (t NULL: not to be
 * had); -ENOSPC when there is no room for it, -ENOENT when t is NULL. */
static int table_of(struct unwind_loader *l, const char *key, const struct sym_unwind_table *t,
		    uint32_t *index)
{
	struct table *slot = loaded(l, key);
	union smolder_unwind_elem *e;
	size_t n;
	uint32_t first = 0;
	int rc;

	if (slot) {
		*index = (uint32_t)(slot - l->tables);
		return 0;
	}
	if (!t)
		return -ENOENT;
	if (t->n > l->max_rows)
		return -ENOSPC;
	rc = slim_rows_make(t->rows, t->n, &e, &n);
	if (rc == -ERANGE)
		log_debug("unwind table %s not loaded: an address above 4 GiB", key);
	if (rc)
		return rc;
	if (n > l->max_rows) {
		free(e);
		return -ENOSPC;
	}
	rc = make_room(l, (uint32_t)n, &first);
	if (!rc)
		rc = write_elems(l, first, e, n);
	free(e);
	if (rc)
		return rc;
	slot = new_slot(l);
	if (!slot)
		return -ENOMEM;
	snprintf(slot->key, sizeof(slot->key), "%s", key);
	slot->first = first;
	slot->n = (uint32_t)n;
	slot->n_rows = (uint32_t)t->n;
	slot->refs = 0;
	slot->last_used = ++l->clock;
	l->st.tables++;
	l->st.rows += n;
	*index = (uint32_t)(slot - l->tables);
	return 0;
}

/* ---- processes ---- */

static struct proc_ref *find_proc(struct unwind_loader *l, int pid, size_t *at)
{
	size_t lo = 0, hi = l->n_procs;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (l->procs[mid].pid < pid)
			lo = mid + 1;
		else
			hi = mid;
	}
	*at = lo;
	return lo < l->n_procs && l->procs[lo].pid == pid ? &l->procs[lo] : NULL;
}

static void release_refs(struct unwind_loader *l, const struct proc_ref *r)
{
	for (uint32_t i = 0; i < r->n; i++)
		if (r->tables[i] < l->n_tables && l->tables[r->tables[i]].refs)
			l->tables[r->tables[i]].refs--;
}

/* The table key of a file: its content id (the SHA-256 of its bytes),
 * else its identity on the host. Never its build-id: a file that copied
 * another's build-id note would get the other's rows, or give it its
 * own, to every file loaded under it after. */
static struct file_id file_id_of(const struct disc_process *p, const struct disc_mapping *m);

static void file_key(const struct sym_elf *elf, const struct disc_process *p,
		     const struct disc_mapping *m, char *out, size_t len)
{
	const char *id = sym_elf_content_id(elf);
	struct file_id f = file_id_of(p, m);

	if (id)
		snprintf(out, len, "c:%s", id);
	else
		snprintf(out, len, "f:%u:%u:%llu", f.dev_major, f.dev_minor,
			 (unsigned long long)f.inode);
}

/* One executable mapping of p: where its rows are, if they can be. */
static void map_one(struct unwind_loader *l, const struct disc_process *p,
		    const struct disc_mapping *m, struct smolder_unwind_mapping *out,
		    struct proc_ref *refs, const struct smolder_unwind_row **rows)
{
	struct sym_file_ref ref;
	const struct sym_unwind_table *t = NULL;
	struct sym_elf *elf;
	char key[KEY_MAX];
	uint64_t vaddr;
	uint32_t index;
	int rc;

	*out = (struct smolder_unwind_mapping){ .start = m->start, .end = m->end };
	frames_file_ref(p, m, &ref);
	rc = sym_cache_get_elf(l->sym, &ref, &elf);
	/* Not the file's failure, but time's (the deadline came before the
	 * worker's answer) or the worker's: try again later. */
	if (rc == -EAGAIN || rc == -EIO || rc == -ENOMEM)
		l->publishing_incomplete = true;
	if (!rc) {
		t = sym_elf_unwind_table(elf);
		if (!t && !sym_elf_table_held(elf))
			rc = -ENODATA;
		else if (sym_elf_offset_to_vaddr(elf, m->offset, &vaddr))
			rc = -ERANGE;
	}
	if (rc) {
		log_debug("no unwind rows for pid %d at %#llx (%s): %s", p->pid,
			  (unsigned long long)m->start, m->path,
			  rc == -ENODATA	? "no table"
			  : rc == -ERANGE ? "offset outside the file"
					  : strerror(-rc));
		return; /* frame pointers here */
	}
	file_key(elf, p, m, key, sizeof(key));
	rc = table_of(l, key, t, &index);
	if (rc == -ENOENT) {
		/* Read without its table, which was loaded then and has been
		 * evicted since: the file is read again, table and all. */
		sym_cache_reread(l->sym, elf);
		l->publishing_incomplete = true;
		return;
	}
	if (rc) {
		if (rc == -ENOSPC)
			l->st.no_room++;
		return;
	}
	l->tables[index].refs++;
	refs->tables[refs->n++] = index;
	out->bias = m->start - vaddr;
	out->first_row = l->tables[index].first;
	out->n_rows = l->tables[index].n_rows;
	/* The rows loaded under this content key are these very rows; a
	 * table held only in the rows array is read there (NULL here). */
	if (rows && t && t->n == out->n_rows)
		*rows = t->rows;
}

static bool executable_file(const struct disc_mapping *m)
{
	return m->perms[2] == 'x' && m->path && m->path[0] == '/';
}

static bool is_vdso(const struct disc_mapping *m)
{
	return m->path && strcmp(m->path, "[vdso]") == 0;
}

/* The vDSO: the kernel's, the same in every process. */
static void map_vdso(struct unwind_loader *l, const struct disc_mapping *m,
		     struct smolder_unwind_mapping *out, struct proc_ref *refs,
		     const struct smolder_unwind_row **rows)
{
	uint32_t index;

	*out = (struct smolder_unwind_mapping){ .start = m->start, .end = m->end };
	if (!l->vdso_read) {
		l->vdso_rc = sym_vdso_unwind_table(&l->vdso, &l->vdso_vaddr);
		l->vdso_read = true;
	}
	if (l->vdso_rc || !l->vdso.n || !sym_vdso_is_agents(m->start, m->end - m->start) ||
	    table_of(l, "vdso", &l->vdso, &index))
		return;
	l->tables[index].refs++;
	refs->tables[refs->n++] = index;
	out->bias = m->start - l->vdso_vaddr;
	out->first_row = l->tables[index].first;
	out->n_rows = l->tables[index].n_rows;
	if (rows)
		*rows = l->vdso.rows;
}

/* A file's identity on the host: its device and inode, as /proc/PID/maps
 * gives them. A mapping known from the kernel's mmap records has none (they
 * carry a build-id in their place): it gets one made of its process's view
 * of the file system, its path and build-id (sym_file_ref.fs_view), on a
 * device no real one has. Two such files of one id only share a "wanted"
 * mark (one's table read before a stack needed it), or, without a content
 * id, a table: files of the same path and build-id in the same view. */
#define KERNEL_WORD_DEV UINT32_MAX

static uint64_t fnv1a(uint64_t h, const void *p, size_t n)
{
	for (const unsigned char *c = p; n--; c++)
		h = (h ^ *c) * 0x100000001b3ULL;
	return h;
}

static struct file_id file_id_of(const struct disc_process *p, const struct disc_mapping *m)
{
	uint64_t h;

	if (m->inode || !m->path)
		return (struct file_id){ .dev_major = m->dev_major, .dev_minor = m->dev_minor,
					 .inode = m->inode };
	h = fnv1a(0xcbf29ce484222325ULL, &p->fs_view, sizeof(p->fs_view));
	h = fnv1a(h, m->path, strlen(m->path));
	if (m->build_id)
		h = fnv1a(h, m->build_id, strlen(m->build_id));
	return (struct file_id){ .dev_major = KERNEL_WORD_DEV, .dev_minor = KERNEL_WORD_DEV,
				 .inode = h };
}

/* Whether m's file is to be read now, or left for a stack to need it. */
static bool read_now(const struct unwind_loader *l, const struct disc_process *p,
		     const struct disc_mapping *m)
{
	return !l->on_demand || file_set_has(&l->wanted, file_id_of(p, m));
}

/* m as an arena of CPython perf trampolines, into *out, if it is one. */
static bool py_trampolines(struct unwind_loader *l, const struct disc_process *p,
			   const struct disc_mapping *m, struct smolder_unwind_mapping *out)
{
	uint32_t size;

	if (!l->python || m->perms[2] != 'x' || (m->path && m->path[0]))
		return false;
	size = python_procs_trampoline_size(l->python, p, m);
	if (!size)
		return false;
	*out = (struct smolder_unwind_mapping){ .start = m->start, .end = m->end, .bias = m->start,
						.first_row = SMOLDER_UNWIND_PY_TRAMPOLINE,
						.n_rows = size };
	return true;
}

/* p's mappings as the walk sees them, into up, loading the tables of
 * its files; refs takes a reference on each table. rows (NULL: not
 * wanted): each mapping's rows in the agent's memory. */
static void build_proc(struct unwind_loader *l, const struct disc_process *p,
		       struct smolder_unwind_proc *up, struct proc_ref *refs,
		       const struct smolder_unwind_row **rows)
{
	l->publishing_incomplete = false;
	up->start_ticks = p->start_ticks;
	for (size_t i = 0; i < p->maps.n && up->n < SMOLDER_UNWIND_MAPPINGS_MAX; i++) {
		const struct disc_mapping *m = &p->maps.v[i];
		const struct smolder_unwind_row **r = rows ? &rows[up->n] : NULL;
		struct smolder_unwind_mapping *out = &up->m[up->n];

		if (executable_file(m) && read_now(l, p, m)) {
			map_one(l, p, m, out, refs, r);
		} else if (executable_file(m)) {
			*out = (struct smolder_unwind_mapping){ .start = m->start, .end = m->end,
								.first_row = SMOLDER_UNWIND_PENDING };
			refs->pending = true;
		} else if (is_vdso(m)) {
			map_vdso(l, m, out, refs, r);
		} else if (py_trampolines(l, p, m, out)) {
			/* walked by rule, no rows */
		} else {
			continue;
		}
		up->n++;
	}
	refs->incomplete = l->publishing_incomplete;
}

void unwind_loader_set_on_demand(struct unwind_loader *l, bool on_demand)
{
	l->on_demand = on_demand;
}

int unwind_loader_pending_at(const struct smolder_unwind_proc *up, uint64_t addr)
{
	size_t n = up->n < SMOLDER_UNWIND_MAPPINGS_MAX ? up->n : SMOLDER_UNWIND_MAPPINGS_MAX;
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (up->m[mid].end <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == n || addr < up->m[lo].start || up->m[lo].n_rows ||
	    up->m[lo].first_row != SMOLDER_UNWIND_PENDING)
		return -1;
	return (int)lo;
}

static bool maps_file(const struct disc_process *p, struct file_id id)
{
	for (size_t i = 0; i < p->maps.n; i++)
		if (executable_file(&p->maps.v[i]) && file_id_cmp(file_id_of(p, &p->maps.v[i]), id) == 0)
			return true;
	return false;
}

/* The processes published with id's file pending are published again at
 * the next unwind_loader_retry (all of them, id NULL). */
static void republish_pending(struct unwind_loader *l, struct disc_table *disc,
			      const struct file_id *id)
{
	for (size_t i = 0; i < l->n_procs; i++) {
		const struct disc_process *q;

		if (!l->procs[i].pending)
			continue;
		q = id ? disc_table_find_live(disc, l->procs[i].pid) : NULL;
		if (!id || (q && maps_file(q, *id)))
			l->procs[i].incomplete = true;
	}
}

int unwind_loader_want(struct unwind_loader *l, struct disc_table *disc,
		       const struct disc_process *p, uint64_t addr)
{
	const struct disc_mapping *m = disc_mappings_find(&p->maps, addr);
	struct file_id id;
	int rc;

	if (!m || !executable_file(m))
		return -ENOENT;
	id = file_id_of(p, m);
	rc = file_set_add(&l->wanted, id);
	if (rc == -E2BIG) {
		log_info("unwind tables: over %d files wanted; every file is read from now on",
			 FILE_SET_MAX);
		l->on_demand = false;
		republish_pending(l, disc, NULL);
		return 1;
	}
	if (rc == 1) {
		l->st.wanted++;
		republish_pending(l, disc, &id);
	}
	return rc;
}

int unwind_loader_view(struct unwind_loader *l, const struct disc_process *p,
		       struct smolder_unwind_proc *up, const struct smolder_unwind_row **rows)
{
	struct proc_ref refs = { .pid = p->pid };

	memset(up, 0, sizeof(*up));
	memset(rows, 0, SMOLDER_UNWIND_MAPPINGS_MAX * sizeof(*rows));
	build_proc(l, p, up, &refs, rows);
	/* Nothing holds them: the caller walks at once, before any other
	 * table is loaded in their place. */
	release_refs(l, &refs);
	return refs.incomplete ? -EAGAIN : 0;
}

void unwind_loader_publish(struct unwind_loader *l, const struct disc_process *p)
{
	struct smolder_unwind_proc *up = calloc(1, sizeof(*up));
	struct proc_ref refs = { .pid = p->pid }, *old;
	__u32 tgid = (__u32)p->pid;
	size_t at;

	if (!up)
		return;
	/* First: an interpreter's perf trampolines are walked by rule. */
	python_procs_publish(l->python, p);
	build_proc(l, p, up, &refs, NULL);
	/* The new references before the old ones go: a table both map is
	 * not evicted in between. */
	old = find_proc(l, p->pid, &at);
	if (old) {
		release_refs(l, old);
		*old = refs;
	} else {
		struct proc_ref *v = realloc(l->procs, (l->n_procs + 1) * sizeof(*v));
		if (v) {
			l->procs = v;
			memmove(&v[at + 1], &v[at], (l->n_procs - at) * sizeof(*v));
			v[at] = refs;
			l->n_procs++;
		} else {
			release_refs(l, &refs); /* unpublished, then: frame pointers */
			free(up);
			return;
		}
	}
	/* A file not read in time leaves the process unpublished, not walked
	 * by frame pointers there: BPF copies its stacks meanwhile, for the
	 * agent to walk once the retry has its tables (stack_copies.h). */
	if (refs.incomplete)
		bpf_map_delete_elem(l->procs_fd, &tgid);
	else
		bpf_map_update_elem(l->procs_fd, &tgid, up, BPF_ANY);
	free(up);
}

void unwind_loader_retry(struct unwind_loader *l, struct disc_table *disc)
{
	int *pids = NULL;
	size_t n = 0;

	for (size_t i = 0; i < l->n_procs; i++)
		if (l->procs[i].incomplete) {
			int *v = realloc(pids, (n + 1) * sizeof(*v));

			if (!v)
				break;
			pids = v;
			pids[n++] = l->procs[i].pid;
		}
	/* By pid, not by reference: publishing moves the array. */
	for (size_t i = 0; i < n; i++) {
		const struct disc_process *p = disc_table_find_live(disc, pids[i]);

		if (p)
			unwind_loader_publish(l, p);
		l->st.retries++;
	}
	free(pids);
}

void unwind_loader_forget(struct unwind_loader *l, int pid)
{
	__u32 tgid = (__u32)pid;
	size_t at;
	struct proc_ref *r = find_proc(l, pid, &at);

	bpf_map_delete_elem(l->procs_fd, &tgid);
	if (l->python)
		python_procs_forget(l->python, pid);
	if (!r)
		return;
	release_refs(l, r);
	memmove(&l->procs[at], &l->procs[at + 1], (l->n_procs - at - 1) * sizeof(*l->procs));
	l->n_procs--;
}
