/* The per-host cache of opened files, and the way to a process's file.
 *
 * A file is keyed by what fstat says of it (device, inode, size, mtime), so
 * fifty processes of one binary, in one container or many, share one
 * sym_elf. A known file costs a stat() of the candidate path, never a
 * second open or parse; and a mapping whose device and inode led to a file
 * less than REVERIFY_NS ago costs nothing at all, which matters because
 * the agent asks once per frame. The candidate paths, in order: the mapping itself
 * (/proc/PID/map_files/START-END), the path in the process's mount
 * namespace (/proc/PID/root/PATH), the path on the host (/proc/1/root/PATH:
 * the agent in a container with the host's pids sees the host's files
 * there, not at PATH, which is its image's), the path in the agent's own
 * namespace. All but the first are names, which may since have been given
 * to another file: they are taken only when the device and inode match
 * those of the mapping.
 *
 * Failures are remembered by the mapping's device and inode (by path when
 * those are unknown) and fail again without a syscall until they are
 * retried, a minute later. A file that was reached and is not ELF fails
 * for every process; one that was out of reach fails only for the process
 * that asked (its process gone, say): the next process that maps it may
 * reach it.
 *
 * Not thread-safe: agent/ names frames from one thread. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/openat2.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "debuginfo.h"
#include "elf_file.h"
#include "hashtab.h"
#include "kallsyms.h"
#include "perf_map.h"
#include "refusals.h"
#include "remote_elf.h"
#include "resolve.h"
#include "root_open.h"
#include "sym.h"
#include "unwind.h"
#include "worker_client.h"

#define RETRY_FAILED_NS (60ULL * 1000000000ULL)
/* How long a file the parser worker died or hung on is set aside: long
 * enough that a hostile file costs a restart every few minutes at most,
 * short enough that one unlucky kill is forgotten. */
#define QUARANTINE_NS (10ULL * 60ULL * 1000000000ULL)
/* What one call may wait for the worker when no deadline is set (the
 * unwind loader's, between intervals): a large library's table is built
 * in a fraction of it. */
#define CALL_BUDGET_NS (2ULL * 1000000000ULL)
/* Addresses in one request for names: a few hundred kilobytes of answer. */
#define FETCH_BATCH 1024
/* What arrivals from debuginfod may take of the worker at a trim. */
#define ARRIVALS_BUDGET_NS (500ULL * 1000000ULL)
/* How long a mapping's (device, inode) is trusted to name the file it led
 * to: an inode number can be given to a new file once the old one is gone,
 * so the path is looked at again now and then. */
#define REVERIFY_NS (10ULL * 1000000000ULL)

/* All uint64_t: hashed as bytes, so there must be no padding. */
struct file_id {
	uint64_t dev;
	uint64_t ino;
	uint64_t size;
	uint64_t mtime_sec;
	uint64_t mtime_nsec;
};

/* A file identity and the sym_elf it led to (owned by elfs). */
struct file_entry {
	struct sym_hnode node;
	struct file_id id;
	struct sym_elf *elf;
};

/* A build-id and the sym_elf that has it. */
struct build_id_entry {
	struct sym_hnode node;
	struct sym_elf *elf;
};

/* What a mapping's dev/ino led to, and when that was last checked. */
struct mapped_entry {
	struct sym_hnode node;
	uint64_t dev;
	uint64_t ino;
	uint64_t verified_ns;
	struct sym_elf *elf; /* owned by the files table */
};

/* dev/ino of the mapping; path only when both are 0. */
struct fail_key {
	uint64_t dev;
	uint64_t ino;
	const char *path;
	int pid;  /* 0: the file itself failed, for every process */
};

struct fail_entry {
	struct sym_hnode node;
	uint64_t dev;
	uint64_t ino;
	uint64_t retry_ns;
	int err;
	int pid;
	char path[]; /* "" when keyed by dev/ino */
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
};

enum pending_kind { PENDING_NONE, PENDING_OPEN, PENDING_RESOLVE, PENDING_ATTACH };

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
	int err;
};

struct sym_cache {
	char *kallsyms_path;
	char *proc_root;
	char **debug_dirs; /* NULL-terminated */
	size_t max_bytes;
	struct sym_debuginfod *debuginfod;
	/* Every sym_elf, owned here: files and build_ids point into it. */
	struct sym_elf **elfs;
	size_t nelfs;
	size_t elfs_cap;
	uint64_t clock; /* ticks once per lookup: the LRU order */
	struct sym_htab build_ids;
	struct sym_perf_maps *perf_maps;
	struct sym_htab files;
	struct sym_htab mapped;
	struct sym_htab failed;
	size_t failed_sweep_at;
	struct sym_kallsyms *ksyms;
	int ksyms_err;
	bool ksyms_tried;
	struct sym_cache_stats stats;
	struct sym_worker *worker;
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

/* Is field of struct sym_cache_opts within what the caller's sz says? */
#define OPT_HAS(o, field) \
	((o) && (o)->sz >= offsetof(struct sym_cache_opts, field) + sizeof((o)->field))

static bool opts_valid(const struct sym_cache_opts *o)
{
	if (!o)
		return true;
	if (o->sz < sizeof(size_t))
		return false;
	/* A newer caller's fields we do not know must be unset. */
	for (size_t i = sizeof(*o); i < o->sz; i++)
		if (((const char *)o)[i])
			return false;
	return true;
}

static void free_dirs(char **dirs)
{
	for (size_t i = 0; dirs && dirs[i]; i++)
		free(dirs[i]);
	free(dirs);
}

/* A NULL-terminated copy; NULL only when memory runs out. */
static char **copy_dirs(const char *const *dirs)
{
	size_t n = 0;
	char **copy;

	while (dirs && dirs[n])
		n++;
	copy = calloc(n + 1, sizeof(*copy));
	for (size_t i = 0; copy && i < n; i++)
		if (!(copy[i] = strdup(dirs[i]))) {
			free_dirs(copy);
			return NULL;
		}
	return copy;
}

struct sym_cache *sym_cache_new(const struct sym_cache_opts *opts)
{
	const char *ksyms = NULL, *proc = NULL;
	struct sym_cache *c;

	if (!opts_valid(opts)) {
		errno = EINVAL;
		return NULL;
	}
	if (OPT_HAS(opts, kallsyms_path))
		ksyms = opts->kallsyms_path;
	if (OPT_HAS(opts, proc_root))
		proc = opts->proc_root;
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	if (OPT_HAS(opts, max_bytes))
		c->max_bytes = opts->max_bytes;
	if (OPT_HAS(opts, debuginfod))
		c->debuginfod = opts->debuginfod;
	if (OPT_HAS(opts, worker))
		c->worker = opts->worker;
	c->kallsyms_path = strdup(ksyms ? ksyms : "/proc/kallsyms");
	c->proc_root = strdup(proc ? proc : "/proc");
	c->debug_dirs = copy_dirs(OPT_HAS(opts, debug_dirs) ? opts->debug_dirs : NULL);
	c->perf_maps = sym_perf_maps_new(c->proc_root);
	if (!c->kallsyms_path || !c->proc_root || !c->debug_dirs || !c->perf_maps) {
		sym_cache_free(c);
		errno = ENOMEM;
		return NULL;
	}
	c->failed_sweep_at = 256;
	return c;
}

/* Frees an entry that owns nothing but itself. */
static bool free_fail_entry(struct sym_hnode *n, void *ctx)
{
	(void)ctx;
	free(n);
	return true;
}

static bool free_quarantine_entry(struct sym_hnode *n, void *ctx);

void sym_cache_free(struct sym_cache *c)
{
	if (!c)
		return;
	free(c->pending.path);
	free(c->pending.vaddrs);
	free(c->wanted);
	sym_htab_drop_if(&c->remotes, free_fail_entry, NULL);
	sym_htab_release(&c->remotes);
	sym_htab_drop_if(&c->quarantine, free_quarantine_entry, NULL);
	sym_htab_release(&c->quarantine);
	sym_htab_drop_if(&c->files, free_fail_entry, NULL);
	sym_htab_release(&c->files);
	sym_htab_drop_if(&c->build_ids, free_fail_entry, NULL);
	sym_htab_release(&c->build_ids);
	for (size_t i = 0; i < c->nelfs; i++)
		sym_elf_free(c->elfs[i]);
	free(c->elfs);
	free_dirs(c->debug_dirs);
	sym_perf_maps_free(c->perf_maps);
	sym_htab_drop_if(&c->mapped, free_fail_entry, NULL);
	sym_htab_release(&c->mapped);
	sym_htab_drop_if(&c->failed, free_fail_entry, NULL);
	sym_htab_release(&c->failed);
	sym_kallsyms_free(c->ksyms);
	free(c->kallsyms_path);
	free(c->proc_root);
	free(c);
}

void sym_cache_get_stats(const struct sym_cache *c, struct sym_cache_stats *st)
{
	if (st)
		*st = c ? c->stats : (struct sym_cache_stats){ 0 };
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* ---- files by identity ---- */

static struct file_id file_id_of(const struct stat *st)
{
	return (struct file_id){
		.dev = st->st_dev,
		.ino = st->st_ino,
		.size = (uint64_t)st->st_size,
		.mtime_sec = (uint64_t)st->st_mtim.tv_sec,
		.mtime_nsec = (uint64_t)st->st_mtim.tv_nsec,
	};
}

static bool file_eq(const struct sym_hnode *n, const void *key)
{
	return !memcmp(&((const struct file_entry *)n)->id, key, sizeof(struct file_id));
}

static struct sym_elf *find_file(const struct sym_cache *c, const struct file_id *id)
{
	struct sym_hnode *n = sym_htab_find(&c->files, sym_hash_bytes(id, sizeof(*id), SYM_HASH_INIT),
					    file_eq, id);

	return n ? ((struct file_entry *)n)->elf : NULL;
}

/* Remembers that the file id holds elf; failing to costs a re-read. */
static void add_file(struct sym_cache *c, const struct file_id *id, struct sym_elf *elf)
{
	struct file_entry *fe = calloc(1, sizeof(*fe));

	if (!fe)
		return;
	fe->id = *id;
	fe->elf = elf;
	fe->node.hash = sym_hash_bytes(id, sizeof(*id), SYM_HASH_INIT);
	if (sym_htab_add(&c->files, &fe->node))
		free(fe);
}

/* ---- files by build-id ---- */

static uint64_t build_id_hash(const char *build_id)
{
	return sym_hash_bytes(build_id, strlen(build_id), SYM_HASH_INIT);
}

static bool build_id_eq(const struct sym_hnode *n, const void *key)
{
	return !strcmp(((const struct build_id_entry *)n)->elf->build_id, key);
}

static struct sym_elf *find_build_id(const struct sym_cache *c, const char *build_id)
{
	struct sym_hnode *n;

	if (!build_id[0])
		return NULL;
	n = sym_htab_find(&c->build_ids, build_id_hash(build_id), build_id_eq, build_id);
	return n ? ((struct build_id_entry *)n)->elf : NULL;
}

/* Takes ownership of elf. */
static int add_elf(struct sym_cache *c, struct sym_elf *elf)
{
	struct build_id_entry *be;

	if (c->nelfs == c->elfs_cap) {
		size_t cap = c->elfs_cap ? 2 * c->elfs_cap : 64;
		struct sym_elf **elfs = realloc(c->elfs, cap * sizeof(*elfs));

		if (!elfs)
			return -ENOMEM;
		c->elfs = elfs;
		c->elfs_cap = cap;
	}
	if (elf->build_id[0]) {
		be = calloc(1, sizeof(*be));
		if (!be)
			return -ENOMEM;
		be->elf = elf;
		be->node.hash = build_id_hash(elf->build_id);
		if (sym_htab_add(&c->build_ids, &be->node)) {
			free(be);
			return -ENOMEM;
		}
	}
	c->elfs[c->nelfs++] = elf;
	c->stats.bytes += elf->bytes;
	return 0;
}

/* ---- memory ---- */

/* What the heap holds: libdw allocates behind our back, so what reading a
 * file and resolving an address cost is measured around them. */
static size_t heap_in_use(void)
{
	struct mallinfo2 mi = mallinfo2();

	return mi.uordblks + mi.hblkhd;
}

static size_t heap_growth(size_t before)
{
	size_t now = heap_in_use();

	return now > before ? now - before : 0;
}

/* ---- files by mapping ---- */

static uint64_t mapped_hash(uint64_t dev, uint64_t ino)
{
	return sym_hash_bytes(&ino, sizeof(ino), sym_hash_bytes(&dev, sizeof(dev), SYM_HASH_INIT));
}

static bool mapped_eq(const struct sym_hnode *n, const void *key)
{
	const struct mapped_entry *me = (const struct mapped_entry *)n;
	const uint64_t *k = key;

	return me->dev == k[0] && me->ino == k[1];
}

static struct mapped_entry *find_mapped(const struct sym_cache *c, const struct sym_file_ref *ref)
{
	const uint64_t key[2] = { ref->dev, ref->inode };

	if (!ref->dev || !ref->inode)
		return NULL;
	return (struct mapped_entry *)sym_htab_find(&c->mapped, mapped_hash(key[0], key[1]),
						    mapped_eq, key);
}

/* Remembers what ref's dev/ino led to; failing to is only a lost shortcut. */
static void remember_mapped(struct sym_cache *c, struct mapped_entry *me,
			    const struct sym_file_ref *ref, struct sym_elf *elf, uint64_t now)
{
	if (!ref->dev || !ref->inode)
		return;
	if (!me) {
		me = calloc(1, sizeof(*me));
		if (!me)
			return;
		me->dev = ref->dev;
		me->ino = ref->inode;
		me->node.hash = mapped_hash(me->dev, me->ino);
		if (sym_htab_add(&c->mapped, &me->node)) {
			free(me);
			return;
		}
	}
	me->elf = elf;
	me->verified_ns = now;
}

/* ---- failures by mapping ---- */

static bool fail_key_of(const struct sym_file_ref *ref, struct fail_key *k)
{
	*k = (struct fail_key){ .dev = ref->dev, .ino = ref->inode };
	if (k->dev || k->ino)
		return true;
	k->path = ref->path;
	return k->path && k->path[0];
}

static uint64_t fail_hash(const struct fail_key *k)
{
	uint64_t h = sym_hash_bytes(&k->dev, sizeof(k->dev), SYM_HASH_INIT);

	h = sym_hash_bytes(&k->ino, sizeof(k->ino), h);
	h = sym_hash_bytes(&k->pid, sizeof(k->pid), h);
	return k->path ? sym_hash_bytes(k->path, strlen(k->path), h) : h;
}

static bool fail_eq(const struct sym_hnode *n, const void *key)
{
	const struct fail_entry *fe = (const struct fail_entry *)n;
	const struct fail_key *k = key;

	return fe->dev == k->dev && fe->ino == k->ino && fe->pid == k->pid &&
	       !strcmp(fe->path, k->path ? k->path : "");
}

static bool fail_expired(struct sym_hnode *n, void *ctx)
{
	struct fail_entry *fe = (struct fail_entry *)n;

	if (fe->retry_ns > *(const uint64_t *)ctx)
		return false;
	free(fe);
	return true;
}

/* Best effort: a failure that cannot be remembered is just retried. */
static void remember_failure(struct sym_cache *c, const struct fail_key *k,
			     struct fail_entry *old, int err, uint64_t now)
{
	const char *path = k->path ? k->path : "";
	struct fail_entry *fe;

	if (old) {
		old->err = err;
		old->retry_ns = now + RETRY_FAILED_NS;
		return;
	}
	if (c->failed.count >= c->failed_sweep_at) {
		sym_htab_drop_if(&c->failed, fail_expired, &now);
		c->failed_sweep_at = c->failed.count * 2 > 256 ? c->failed.count * 2 : 256;
	}
	fe = malloc(sizeof(*fe) + strlen(path) + 1);
	if (!fe)
		return;
	*fe = (struct fail_entry){
		.node.hash = fail_hash(k),
		.dev = k->dev,
		.ino = k->ino,
		.retry_ns = now + RETRY_FAILED_NS,
		.err = err,
		.pid = k->pid,
	};
	strcpy(fe->path, path);
	if (sym_htab_add(&c->failed, &fe->node))
		free(fe);
}

/* ---- finding a mapping's file ---- */

/* The file at a path candidate must be the one mapped. */
static bool is_mapped_file(const struct stat *st, const struct sym_file_ref *ref)
{
	return (!ref->dev || st->st_dev == ref->dev) &&
	       (!ref->inode || st->st_ino == ref->inode);
}

static int identify(const struct stat *st, const struct sym_file_ref *check,
		    struct file_id *id)
{
	if (check && !is_mapped_file(st, check))
		return -ENOENT;
	if (!S_ISREG(st->st_mode))
		return -ENOEXEC;
	*id = file_id_of(st);
	return 0;
}

/* Where the debug file of ref's file may be. */
static struct sym_debug_search debug_search_of(const struct sym_cache *c,
					       const struct sym_file_ref *ref)
{
	return (struct sym_debug_search){
		.proc_root = c->proc_root,
		.pid = ref->pid,
		.path = ref->path,
		.debug_dirs = (const char *const *)c->debug_dirs,
		.debuginfod = c->debuginfod,
	};
}

/* ---- the parser worker's files ---- */

static uint64_t handle_hash(uint64_t handle)
{
	return sym_hash_bytes(&handle, sizeof(handle), SYM_HASH_INIT);
}

static bool remote_eq(const struct sym_hnode *n, const void *key)
{
	return ((const struct remote_entry *)n)->handle == *(const uint64_t *)key;
}

static struct remote_entry *find_remote(const struct sym_cache *c, uint64_t handle)
{
	return (struct remote_entry *)sym_htab_find(&c->remotes, handle_hash(handle), remote_eq,
						    &handle);
}

static int add_remote(struct sym_cache *c, struct sym_elf *elf, const struct file_id *id,
		      const char *path)
{
	struct remote_entry *re = malloc(sizeof(*re) + strlen(path) + 1);

	if (!re)
		return -ENOMEM;
	*re = (struct remote_entry){
		.node.hash = handle_hash(elf->remote_handle),
		.handle = elf->remote_handle,
		.elf = elf,
		.id = *id,
	};
	strcpy(re->path, path);
	if (sym_htab_add(&c->remotes, &re->node)) {
		free(re);
		return -ENOMEM;
	}
	return 0;
}

static bool drop_remote_of(struct sym_hnode *n, void *ctx)
{
	if (((struct remote_entry *)n)->elf != ctx)
		return false;
	free(n);
	return true;
}

static bool quarantine_eq(const struct sym_hnode *n, const void *key)
{
	return !memcmp(&((const struct quarantine_entry *)n)->id, key, sizeof(struct file_id));
}

static bool free_quarantine_entry(struct sym_hnode *n, void *ctx)
{
	struct quarantine_entry *q = (struct quarantine_entry *)n;

	if (ctx && q->until_ns > *(const uint64_t *)ctx)
		return false;
	sym_elf_free(q->stub);
	free(q);
	return true;
}

/* The stub of a file set aside, or NULL when it is not (any more). */
static struct sym_elf *quarantined(const struct sym_cache *c, const struct file_id *id)
{
	struct quarantine_entry *q = (struct quarantine_entry *)sym_htab_find(
		&c->quarantine, sym_hash_bytes(id, sizeof(*id), SYM_HASH_INIT), quarantine_eq, id);

	return q && now_ns() < q->until_ns ? q->stub : NULL;
}

/* Sets the file aside: keyed by what fstat said of it, never by its
 * build-id, which a hostile file can copy from a good one. */
static struct sym_elf *quarantine(struct sym_cache *c, const struct file_id *id, const char *path,
				  const char *build_id)
{
	struct quarantine_entry *q = calloc(1, sizeof(*q));
	struct sym_elf *stub = calloc(1, sizeof(*stub));

	c->stats.quarantined++;
	snprintf(c->stats.last_quarantine, sizeof(c->stats.last_quarantine), "%s: worker %s",
		 path, sym_worker_last_death(c->worker));
	if (!q || !stub)
		goto fail;
	if (build_id)
		snprintf(stub->build_id, sizeof(stub->build_id), "%s", build_id);
	*q = (struct quarantine_entry){
		.node.hash = sym_hash_bytes(id, sizeof(*id), SYM_HASH_INIT),
		.id = *id,
		.until_ns = now_ns() + QUARANTINE_NS,
		.stub = stub,
	};
	if (sym_htab_add(&c->quarantine, &q->node))
		goto fail;
	return stub;
fail:
	free(q);
	free(stub);
	return NULL;
}

/* Until when this call may wait for the worker. */
static uint64_t wait_until(const struct sym_cache *c)
{
	return c->deadline_ns ? c->deadline_ns : now_ns() + CALL_BUDGET_NS;
}

/* The agent's copy of a file the worker read, with the cache's counts. */
static int remote_elf_new(struct sym_cache *c, uint64_t handle,
			  const Smolder__Worker__OpenReply *r, struct sym_elf **out)
{
	bool malformed = false;
	int err = sym_remote_elf_new(r, handle, sym_worker_generation(c->worker), out, &malformed);

	if (err)
		return err;
	if (malformed || r->corrupt)
		c->stats.corrupt++;
	if (r->debug_source == SYM_DEBUG_FILE || r->debug_source == SYM_DEBUG_DEBUGINFOD)
		c->stats.debug_files++;
	return 0;
}

/* The worker's refusals since it started, into this process's count. */
static void take_refusals(struct sym_cache *c, const Smolder__Worker__OpenReply *r)
{
	uint64_t gen = sym_worker_generation(c->worker);

	if (c->refusals_generation != gen) {
		memset(c->refusals_seen, 0, sizeof(c->refusals_seen));
		c->refusals_generation = gen;
	}
	for (size_t i = 0; i < r->n_refusals && i < SYM_REFUSED__COUNT; i++)
		if (r->refusals[i] > c->refusals_seen[i]) {
			sym_refusal_add((enum sym_refusal)i, r->refusals[i] - c->refusals_seen[i]);
			c->refusals_seen[i] = r->refusals[i];
		}
}

/* An open answered: the file joins the cache (or, when a file with its
 * build-id is there already, that one stands for it). */
static void apply_open(struct sym_cache *c, const Smolder__Worker__OpenReply *r)
{
	struct pending *p = &c->pending;
	struct sym_elf *se, *same;

	take_refusals(c, r);
	p->err = r->error;
	if (p->err) {
		if (p->err == -ENOEXEC)
			c->stats.corrupt++;
		return;
	}
	p->err = remote_elf_new(c, p->handle, r, &se);
	if (p->err)
		return;
	same = find_build_id(c, se->build_id);
	if (same) {
		sym_elf_free(se);
		sym_worker_forget(c->worker, p->handle);
		p->elf = same;
	} else if ((p->err = add_elf(c, se)) || (p->err = add_remote(c, se, &p->id, p->path))) {
		sym_elf_free(se);
		sym_worker_forget(c->worker, p->handle);
		return;
	} else {
		p->elf = se;
		c->stats.files_opened++;
	}
	add_file(c, &p->id, p->elf);
}

static void keep_location(struct sym_cache *c, struct sym_elf *elf, uint64_t vaddr,
			  const Smolder__Worker__Location *l)
{
	struct sym_frame frames[SYM_REMOTE_FRAMES_MAX];
	size_t added = 0, n = sym_remote_frames(l, frames);
	struct sym_location loc;

	if (sym_elf_keep_address(elf, vaddr, frames, n, l->from_dwarf, &loc, &added) == 0) {
		elf->bytes += added;
		c->stats.bytes += added;
	}
}

static void apply_resolve(struct sym_cache *c, const Smolder__Worker__ResolveReply *r)
{
	struct remote_entry *re = find_remote(c, c->pending.handle);
	struct sym_location loc;

	if (!re || r->error || r->n_locations != c->pending.n_vaddrs)
		return;
	for (size_t i = 0; i < r->n_locations; i++)
		if (!sym_elf_kept_address(re->elf, c->pending.vaddrs[i], &loc))
			keep_location(c, re->elf, c->pending.vaddrs[i], r->locations[i]);
	re->elf->bytes += sym_remote_bytes(r->bytes);
	c->stats.bytes += sym_remote_bytes(r->bytes);
}

static void apply_attach(struct sym_cache *c, const Smolder__Worker__AttachReply *r)
{
	struct remote_entry *re = find_remote(c, c->pending.handle);

	if (!re)
		return;
	if (r->error) {
		c->stats.corrupt++;
		re->elf->remote_source = SYM_DEBUG_NONE;
		return;
	}
	sym_elf_forget_addresses(re->elf);
	re->elf->remote_dwarf = r->has_dwarf;
	re->elf->remote_source = SYM_DEBUG_DEBUGINFOD;
	c->stats.debug_files++;
}

static void apply_reply(struct sym_cache *c, const sym_wire_msg *m)
{
	switch (c->pending.kind) {
	case PENDING_OPEN:
		if (m->body_case == SMOLDER__WORKER__WORKER_MESSAGE__BODY_OPEN_REPLY)
			apply_open(c, m->open_reply);
		break;
	case PENDING_RESOLVE:
		if (m->body_case == SMOLDER__WORKER__WORKER_MESSAGE__BODY_RESOLVE_REPLY)
			apply_resolve(c, m->resolve_reply);
		break;
	case PENDING_ATTACH:
		if (m->body_case == SMOLDER__WORKER__WORKER_MESSAGE__BODY_ATTACH_REPLY)
			apply_attach(c, m->attach_reply);
		break;
	case PENDING_NONE:
		break;
	}
}

static void clear_pending(struct sym_cache *c)
{
	free(c->pending.path);
	free(c->pending.vaddrs);
	c->pending = (struct pending){ .kind = PENDING_NONE };
}

/* vaddrs[0..n) are copied. */
static int set_pending(struct sym_cache *c, enum pending_kind kind, const struct file_id *id,
		       const char *path, uint64_t handle, const uint64_t *vaddrs, size_t n)
{
	clear_pending(c);
	c->pending = (struct pending){
		.kind = kind,
		.id = *id,
		.path = strdup(path ? path : ""),
		.handle = handle,
		.vaddrs = n ? malloc(n * sizeof(*vaddrs)) : NULL,
		.n_vaddrs = n,
		.err = -EIO,
	};
	if (n && c->pending.vaddrs)
		memcpy(c->pending.vaddrs, vaddrs, n * sizeof(*vaddrs));
	return c->pending.path && (!n || c->pending.vaddrs) ? 0 : -ENOMEM;
}

/* Waits for the outstanding request until the deadline. 0: answered and
 * applied (an open's result in pending.elf/err, kept until the next
 * request); -EAGAIN: still outstanding; -EIO: the worker died or hung on
 * it, and its file is set aside. */
static int wait_pending(struct sym_cache *c, uint64_t until_ns)
{
	struct remote_entry *re;
	sym_wire_msg *reply;
	uint64_t id;
	int err = sym_worker_wait(c->worker, until_ns, &reply, &id);

	if (err == -EINPROGRESS)
		return -EAGAIN;
	if (err) {
		re = c->pending.kind == PENDING_OPEN ? NULL : find_remote(c, c->pending.handle);
		quarantine(c, &c->pending.id, c->pending.path,
			   re && re->elf->build_id[0] ? re->elf->build_id : NULL);
		c->pending.elf = NULL;
		c->pending.err = -EIO;
		return -EIO;
	}
	apply_reply(c, reply);
	sym_wire_free(reply);
	return 0;
}

/* The worker free for a new request by the deadline, or -EAGAIN. */
static int worker_free(struct sym_cache *c, uint64_t until)
{
	if (sym_worker_busy(c->worker) && wait_pending(c, until) == -EAGAIN)
		return -EAGAIN;
	if (now_ns() >= until)
		return -EAGAIN;
	return 0;
}

/* Has the worker read the file at fd (identified as id): the cache's
 * read_new, in the worker. -EAGAIN: not by the deadline (asked again
 * later). */
static int read_remote(struct sym_cache *c, int fd, const struct sym_file_ref *ref,
		       const struct file_id *id, struct sym_elf **elf)
{
	struct sym_debug_search search = debug_search_of(c, ref);
	Smolder__Worker__OpenFile o = SMOLDER__WORKER__OPEN_FILE__INIT;
	sym_wire_msg m = SMOLDER__WORKER__WORKER_MESSAGE__INIT;
	const char *path = ref->path ? ref->path : "";
	uint64_t until = wait_until(c);
	int err;

	*elf = quarantined(c, id);
	if (*elf)
		return 0;
	if (worker_free(c, until)) {
		c->stats.late++;
		return -EAGAIN;
	}
	o.handle = ++c->next_handle;
	o.path = (char *)path;
	o.pid = ref->pid;
	m.body_case = SMOLDER__WORKER__WORKER_MESSAGE__BODY_OPEN;
	m.open = &o;
	err = set_pending(c, PENDING_OPEN, id, path, o.handle, NULL, 0);
	if (!err)
		err = sym_worker_send(c->worker, &m, &fd, 1, &search);
	if (err == -ECHILD) {
		clear_pending(c);
		return -EIO; /* no worker: nothing can be read now */
	}
	if (err) {
		clear_pending(c);
		return err;
	}
	err = wait_pending(c, until);
	if (err == -EAGAIN) {
		c->stats.late++;
		return -EAGAIN;
	}
	if (err == -EIO) {
		*elf = quarantined(c, id);
		clear_pending(c);
		return *elf ? 0 : -EIO;
	}
	*elf = c->pending.elf;
	err = c->pending.err;
	clear_pending(c);
	return err;
}

/* Asks the worker to name vaddrs[0..n) of the file it holds as re, and
 * waits until the time given. -EAGAIN: not answered by then (taken later,
 * when it comes). */
static int ask_resolve(struct sym_cache *c, struct remote_entry *re, const uint64_t *vaddrs,
		       size_t n, uint64_t until)
{
	Smolder__Worker__Resolve r = SMOLDER__WORKER__RESOLVE__INIT;
	sym_wire_msg m = SMOLDER__WORKER__WORKER_MESSAGE__INIT;
	int err;

	if (worker_free(c, until) ||
	    re->elf->remote_generation != sym_worker_generation(c->worker))
		return -EAGAIN;
	r.handle = re->handle;
	r.vaddrs = (uint64_t *)vaddrs;
	r.n_vaddrs = n;
	m.body_case = SMOLDER__WORKER__WORKER_MESSAGE__BODY_RESOLVE;
	m.resolve = &r;
	err = set_pending(c, PENDING_RESOLVE, &re->id, re->path, re->handle, vaddrs, n);
	if (!err)
		err = sym_worker_send(c->worker, &m, NULL, 0, NULL);
	if (!err)
		err = wait_pending(c, until);
	if (err != -EAGAIN)
		clear_pending(c);
	return err;
}

static int resolve_remote(struct sym_cache *c, struct sym_elf *elf, uint64_t vaddr,
			  struct sym_location *loc)
{
	struct remote_entry *re = find_remote(c, elf->remote_handle);

	*loc = (struct sym_location){ 0 };
	if (sym_elf_kept_address(elf, vaddr, loc) || !re)
		return 0;
	/* Its worker is gone: the file is read again after the next trim. */
	if (elf->remote_generation != sym_worker_generation(c->worker))
		return 0;
	if (ask_resolve(c, re, &vaddr, 1, wait_until(c)) == -EAGAIN)
		c->stats.late++;
	sym_elf_kept_address(elf, vaddr, loc);
	return 0;
}

void sym_cache_want(struct sym_cache *c, struct sym_elf *elf, uint64_t vaddr)
{
	struct sym_location loc;

	if (!c || !c->worker || !elf || !elf->remote_handle ||
	    elf->remote_generation != sym_worker_generation(c->worker) ||
	    sym_elf_kept_address(elf, vaddr, &loc))
		return;
	if (c->n_wanted == c->wanted_cap) {
		size_t cap = c->wanted_cap ? 2 * c->wanted_cap : 1024;
		struct wanted *w = realloc(c->wanted, cap * sizeof(*w));

		if (!w)
			return; /* asked for one by one instead */
		c->wanted = w;
		c->wanted_cap = cap;
	}
	c->wanted[c->n_wanted++] = (struct wanted){ elf->remote_handle, vaddr };
}

static int by_handle_then_vaddr(const void *a, const void *b)
{
	const struct wanted *x = a, *y = b;

	if (x->handle != y->handle)
		return x->handle < y->handle ? -1 : 1;
	return (x->vaddr > y->vaddr) - (x->vaddr < y->vaddr);
}

/* Asks for the wanted addresses of one file, in batches. */
static int fetch_file(struct sym_cache *c, const struct wanted *w, size_t n, uint64_t until)
{
	struct remote_entry *re = find_remote(c, w[0].handle);
	uint64_t batch[FETCH_BATCH];
	size_t i = 0;
	int err = 0;

	while (re && i < n && !err) {
		size_t k = 0;

		for (; i < n && k < FETCH_BATCH; i++)
			if (k == 0 || batch[k - 1] != w[i].vaddr)
				batch[k++] = w[i].vaddr;
		err = ask_resolve(c, re, batch, k, until);
		re = find_remote(c, w[0].handle); /* a death may have taken it */
	}
	return err;
}

void sym_cache_fetch(struct sym_cache *c)
{
	uint64_t until;
	size_t i = 0;

	if (!c || !c->worker || !c->n_wanted)
		return;
	until = wait_until(c);
	qsort(c->wanted, c->n_wanted, sizeof(*c->wanted), by_handle_then_vaddr);
	while (i < c->n_wanted) {
		size_t j = i;

		while (j < c->n_wanted && c->wanted[j].handle == c->wanted[i].handle)
			j++;
		if (fetch_file(c, c->wanted + i, j - i, until) == -EAGAIN)
			break; /* the rest, one by one, as far as the deadline allows */
		i = j;
	}
	c->n_wanted = 0;
}

/* Debug files debuginfod brought for files the worker holds: sent to it,
 * within a budget of the worker's time. */
static void take_remote_arrivals(struct sym_cache *c)
{
	uint64_t until = now_ns() + ARRIVALS_BUDGET_NS;

	for (size_t i = 0; c->debuginfod && i < c->nelfs && now_ns() < until; i++) {
		Smolder__Worker__AttachDebug a = SMOLDER__WORKER__ATTACH_DEBUG__INIT;
		sym_wire_msg m = SMOLDER__WORKER__WORKER_MESSAGE__INIT;
		struct sym_elf *elf = c->elfs[i];
		struct remote_entry *re;
		char *path = NULL;
		int fd;

		if (!elf->remote_handle || elf->remote_source != SYM_DEBUG_PENDING ||
		    elf->remote_generation != sym_worker_generation(c->worker) ||
		    !(re = find_remote(c, elf->remote_handle)) ||
		    sym_debuginfod_find(c->debuginfod, elf->build_id, &path))
			continue;
		fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
		free(path);
		if (fd < 0)
			continue;
		a.handle = elf->remote_handle;
		m.body_case = SMOLDER__WORKER__WORKER_MESSAGE__BODY_ATTACH_DEBUG;
		m.attach_debug = &a;
		if (set_pending(c, PENDING_ATTACH, &re->id, re->path, a.handle, NULL, 0) == 0 &&
		    sym_worker_send(c->worker, &m, &fd, 1, NULL) == 0 &&
		    wait_pending(c, until) == -EAGAIN) {
			close(fd);
			return; /* answered at the next request */
		}
		clear_pending(c);
		close(fd);
	}
}

/* Reads the file at fd into a new sym_elf, DWARF state and all, and
 * adds it to the cache. ref: the mapping it was found through. */
static int read_new(struct sym_cache *c, int fd, const struct sym_file_ref *ref,
		    struct sym_elf **elf)
{
	struct sym_debug_search search = debug_search_of(c, ref);
	size_t before = heap_in_use();
	struct sym_elf *se;
	int err;

	err = sym_elf_read_fd(fd, &se);
	if (err) {
		if (err == -ENOEXEC)
			c->stats.corrupt++;
		return err;
	}
	/* Without DWARF state the symbol tables still name the file. */
	err = sym_dwarf_open(fd, se->build_id[0] ? se->build_id : NULL, &search, &se->dwarf);
	if (err == -ENOEXEC)
		c->stats.corrupt++;
	if (sym_dwarf_source(se->dwarf) == SYM_DEBUG_FILE ||
	    sym_dwarf_source(se->dwarf) == SYM_DEBUG_DEBUGINFOD)
		c->stats.debug_files++;
	se->bytes = heap_growth(before);
	err = add_elf(c, se);
	if (err) {
		sym_elf_free(se);
		return err;
	}
	c->stats.files_opened++;
	*elf = se;
	return 0;
}

/* Tries one candidate path; check is the ref to match, or NULL when the
 * path is the mapping itself. */
static int try_path(struct sym_cache *c, int dirfd, const char *path, uint64_t resolve,
		    const struct sym_file_ref *check, const struct sym_file_ref *ref,
		    struct sym_elf **elf)
{
	char build_id[2 * SYM_BUILD_ID_MAX + 1];
	struct file_id id;
	struct stat st;
	int fd, err;

	/* Only a regular file is opened (a device's open may act, a FIFO's
	 * blocks); what counts is the file opened, whatever the path names
	 * by now. */
	fd = sym_open_regular(dirfd, path, resolve, &st);
	if (fd < 0)
		return fd == -ENOEXEC && check ? -ENOENT : fd;
	err = identify(&st, check, &id);
	if (!err && (*elf = find_file(c, &id))) {
		/* known */
	} else if (!err && c->worker) {
		/* Even its build-id is the worker's to read. */
		err = read_remote(c, fd, ref, &id, elf);
	} else if (!err) {
		/* Another file with the same build-id (another container's
		 * copy) is the same program: read once. */
		sym_elf_peek_build_id(fd, build_id);
		*elf = find_build_id(c, build_id);
		if (!*elf)
			err = read_new(c, fd, ref, elf);
		if (!err)
			add_file(c, &id, *elf);
	}
	close(fd);
	return err;
}

static bool has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && !strcmp(s + n - m, suffix);
}

/* The error to report when no candidate gave the file: the file itself
 * (not ELF) over a lack of privilege over plain absence. */
static int worse(int a, int b)
{
	static const int order[] = { -ENOEXEC, -ENOMEM, -EACCES };

	a = a == -EPERM ? -EACCES : a;
	b = b == -EPERM ? -EACCES : b;
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++)
		if (a == order[i] || b == order[i])
			return order[i];
	return -ENOENT;
}

static bool format_path(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, len, fmt, ap);
	va_end(ap);
	return n > 0 && (size_t)n < len;
}

/* Tries path inside pid's root, its symlinks resolved as the process
 * would (a container's absolute link stays in the container). */
static int try_in_root(struct sym_cache *c, int pid, const struct sym_file_ref *ref,
		       struct sym_elf **elf)
{
	int rootfd = sym_root_dirfd(c->proc_root, pid), err;

	if (rootfd < 0)
		return rootfd;
	err = try_path(c, rootfd, ref->path, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS, ref, ref,
		       elf);
	close(rootfd);
	return err;
}

static int find_elf(struct sym_cache *c, const struct sym_file_ref *ref,
		    struct sym_elf **elf)
{
	/* " (deleted)": the name now belongs to nothing, or to another file. */
	bool named = ref->path && ref->path[0] == '/' &&
		     !has_suffix(ref->path, " (deleted)");
	char path[PATH_MAX];
	int err = -ENOENT, r;

	if (ref->pid > 0 && ref->map_end > ref->map_start &&
	    format_path(path, sizeof(path), "%s/%d/map_files/%" PRIx64 "-%" PRIx64,
			c->proc_root, ref->pid, ref->map_start, ref->map_end)) {
		r = try_path(c, AT_FDCWD, path, 0, NULL, ref, elf);
		/* The mapped file itself was reached: whatever it is, that
		 * is the answer (or will be, once the worker has read it). */
		if (!r || r == -ENOEXEC || r == -ENOMEM || r == -EAGAIN || r == -EIO)
			return r;
		err = worse(err, r);
	}
	if (named && ref->pid > 0) {
		r = try_in_root(c, ref->pid, ref, elf);
		if (!r)
			return 0;
		err = worse(err, r);
	}
	/* Its error is not the file's: pid 1 may be out of the agent's reach
	 * (not the host's pid namespace, or not ptrace-readable). */
	if (named && ref->pid != 1 && try_in_root(c, 1, ref, elf) == 0)
		return 0;
	if (named) {
		r = try_path(c, AT_FDCWD, ref->path, 0, ref, ref, elf);
		if (!r)
			return 0;
		err = worse(err, r);
	}
	return err;
}

/* A failure remembered for key, for every process or for pid: the one
 * still in force if there is one. */
static struct fail_entry *find_failure(struct sym_cache *c, struct fail_key *key, int pid,
				       uint64_t now)
{
	struct fail_entry *all, *mine = NULL;

	key->pid = 0;
	all = (struct fail_entry *)sym_htab_find(&c->failed, fail_hash(key), fail_eq, key);
	if ((all && now < all->retry_ns) || pid <= 0)
		return all;
	key->pid = pid;
	mine = (struct fail_entry *)sym_htab_find(&c->failed, fail_hash(key), fail_eq, key);
	key->pid = 0;
	return mine ? mine : all;
}

static void touch(struct sym_cache *c, struct sym_elf *elf)
{
	elf->last_used = ++c->clock;
}

int sym_cache_get_elf(struct sym_cache *c, const struct sym_file_ref *ref,
		      struct sym_elf **elf)
{
	struct fail_entry *failed = NULL;
	struct mapped_entry *mapped;
	struct fail_key key;
	uint64_t now, opened;
	bool keyed;
	int err;

	if (!c || !ref || !elf)
		return -EINVAL;
	*elf = NULL;
	c->stats.lookups++;
	now = now_ns();
	mapped = find_mapped(c, ref);
	if (mapped && now - mapped->verified_ns < REVERIFY_NS) {
		*elf = mapped->elf;
		touch(c, *elf);
		c->stats.hits++;
		return 0;
	}
	keyed = fail_key_of(ref, &key);
	if (keyed)
		failed = find_failure(c, &key, ref->pid, now);
	if (failed && now < failed->retry_ns) {
		c->stats.lookups_failed++;
		return failed->err;
	}
	opened = c->stats.files_opened;
	err = find_elf(c, ref, elf);
	if (!err) {
		remember_mapped(c, mapped, ref, *elf, now);
		touch(c, *elf);
		if (c->stats.files_opened == opened)
			c->stats.hits++;
		return 0;
	}
	c->stats.files_failed++;
	c->stats.lookups_failed++;
	/* Not read by the deadline, or no worker to read it: not the file's
	 * failure. */
	if (keyed && err != -ENOMEM && err != -EAGAIN && err != -EIO) {
		/* Not ELF: the file was reached, and is what it is. */
		key.pid = err == -ENOEXEC ? 0 : ref->pid;
		if (failed && failed->pid != key.pid)
			failed = NULL; /* the other kind: a new entry */
		remember_failure(c, &key, failed, err, now);
	}
	return err;
}

int sym_cache_load_kernel(struct sym_cache *c)
{
	if (!c)
		return -EINVAL;
	if (!c->ksyms_tried) {
		c->ksyms_err = sym_kallsyms_load(c->kallsyms_path, &c->ksyms);
		c->ksyms_tried = c->ksyms_err != -ENOMEM;
	}
	return c->ksyms_err;
}

int sym_cache_lookup_kernel(struct sym_cache *c, uint64_t addr,
			    const char **name)
{
	int err;

	if (!c || !name)
		return -EINVAL;
	c->stats.lookups++;
	sym_cache_load_kernel(c);
	err = c->ksyms_err ? c->ksyms_err : sym_kallsyms_lookup(c->ksyms, addr, name);
	if (err)
		c->stats.lookups_failed++;
	return err;
}

int sym_elf_resolve(struct sym_cache *c, struct sym_elf *elf, uint64_t vaddr,
		    struct sym_location *loc)
{
	size_t before, added;
	int err;

	if (!c || !elf || !loc)
		return -EINVAL;
	if (elf->remote_handle) {
		touch(c, elf);
		return resolve_remote(c, elf, vaddr, loc);
	}
	before = heap_in_use();
	err = sym_elf_resolve_address(elf, vaddr, loc, &added);
	if (added) {
		size_t grown = heap_growth(before);

		added = grown > added ? grown : added;
		elf->bytes += added;
		c->stats.bytes += added;
	}
	touch(c, elf);
	return err;
}

/* ---- between intervals ---- */

static bool file_of_victim(struct sym_hnode *n, void *ctx)
{
	if (((struct file_entry *)n)->elf != ctx)
		return false;
	free(n);
	return true;
}

static bool build_id_of_victim(struct sym_hnode *n, void *ctx)
{
	if (((struct build_id_entry *)n)->elf != ctx)
		return false;
	free(n);
	return true;
}

static void evict(struct sym_cache *c, size_t i)
{
	struct sym_elf *victim = c->elfs[i];

	sym_htab_drop_if(&c->files, file_of_victim, victim);
	sym_htab_drop_if(&c->build_ids, build_id_of_victim, victim);
	if (victim->remote_handle) {
		sym_htab_drop_if(&c->remotes, drop_remote_of, victim);
		if (victim->remote_generation == sym_worker_generation(c->worker))
			sym_worker_forget(c->worker, victim->remote_handle);
	}
	c->stats.bytes -= victim->bytes < c->stats.bytes ? victim->bytes : c->stats.bytes;
	c->elfs[i] = c->elfs[--c->nelfs];
	sym_elf_free(victim);
	c->stats.evictions++;
}

static int by_last_use(const void *a, const void *b)
{
	const struct sym_elf *x = *(struct sym_elf *const *)a;
	const struct sym_elf *y = *(struct sym_elf *const *)b;

	return (x->last_used > y->last_used) - (x->last_used < y->last_used);
}

/* Files whose worker died: nothing more can be asked of them, so they
 * go, and are read again by the next worker when they are next seen. */
static void evict_orphans(struct sym_cache *c)
{
	bool any = false;

	for (size_t i = c->nelfs; c->worker && i-- > 0;)
		if (c->elfs[i]->remote_handle &&
		    c->elfs[i]->remote_generation != sym_worker_generation(c->worker)) {
			evict(c, i);
			any = true;
		}
	if (any)
		sym_htab_drop_if(&c->mapped, free_fail_entry, NULL);
}

static void evict_to_fit(struct sym_cache *c)
{
	if (!c->max_bytes || c->stats.bytes <= c->max_bytes)
		return;
	/* Oldest first; evict() moves the last element into the hole, so
	 * walk from the end of a reversed order instead. */
	qsort(c->elfs, c->nelfs, sizeof(*c->elfs), by_last_use);
	for (size_t i = 0; i < c->nelfs / 2; i++) {
		struct sym_elf *t = c->elfs[i];

		c->elfs[i] = c->elfs[c->nelfs - 1 - i];
		c->elfs[c->nelfs - 1 - i] = t;
	}
	while (c->nelfs && c->stats.bytes > c->max_bytes)
		evict(c, c->nelfs - 1);
	/* Shortcuts may point at what is gone. */
	sym_htab_drop_if(&c->mapped, free_fail_entry, NULL);
}

/* A debug file that debuginfod has brought replaces the DWARF state of
 * the files waiting for it. */
static void take_arrivals(struct sym_cache *c)
{
	for (size_t i = 0; c->debuginfod && i < c->nelfs; i++) {
		struct sym_elf *elf = c->elfs[i];
		struct sym_dwarf *d;
		char *path = NULL;

		if (sym_dwarf_source(elf->dwarf) != SYM_DEBUG_PENDING ||
		    sym_debuginfod_find(c->debuginfod, elf->build_id, &path))
			continue;
		if (sym_dwarf_open_debug_file(path, &d) == 0) {
			sym_elf_forget_addresses(elf);
			sym_dwarf_free(elf->dwarf);
			elf->dwarf = d;
			c->stats.debug_files++;
		} else {
			c->stats.corrupt++;
		}
		free(path);
	}
}

void sym_cache_trim(struct sym_cache *c)
{
	uint64_t now;

	if (!c)
		return;
	if (c->worker) {
		/* An answer that came meanwhile is taken; one still being
		 * worked on stays outstanding. */
		if (sym_worker_busy(c->worker) && wait_pending(c, now_ns()) != -EAGAIN)
			clear_pending(c);
		if (!sym_worker_busy(c->worker))
			take_remote_arrivals(c);
		evict_orphans(c);
		now = now_ns();
		sym_htab_drop_if(&c->quarantine, free_quarantine_entry, &now);
	} else {
		take_arrivals(c);
	}
	evict_to_fit(c);
	sym_perf_maps_trim(c->perf_maps);
}

void sym_cache_set_deadline(struct sym_cache *c, uint64_t deadline_ns)
{
	if (c)
		c->deadline_ns = deadline_ns;
}

int sym_cache_lookup_perf_map(struct sym_cache *c, int pid, int nspid,
			      uint64_t addr, const char **name)
{
	if (!c || !name)
		return -EINVAL;
	return sym_perf_maps_lookup(c->perf_maps, pid, nspid, addr, name);
}
