/* The per-host cache of opened files, and the way to a process's file.
 *
 * A file is keyed by what fstat says of it (device, inode, size, mtime), so
 * fifty processes of one binary, in one container or many, share one
 * sym_elf. A known file costs a stat() of the candidate path, never a
 * second open or parse; and a mapping whose device and inode led to a file
 * less than REVERIFY_NS ago costs nothing at all, which matters because
 * the agent asks once per frame. So does a mapping known only from the
 * kernel's word (no device and inode: a process known from its mmap
 * records), by its process, place and build-id, or, when the kernel said
 * which view of the file system the process has (sym_file_ref.fs_view), by
 * that view, its path and build-id, for every process of the view: its
 * paths cost three to five system calls a mapping otherwise, and a host
 * that starts dozens of processes a second maps the same few files in
 * each. (Within one view, a path names one file; a file put in its place
 * with the same build-id is taken for it for up to REVERIFY_NS, and only
 * by processes of that view, whose files those are.) Two files (two containers' copies of
 * one library) share one sym_elf when they have the same build-id and the
 * same content id (the SHA-256 of their bytes), never by build-id alone:
 * a build-id is a note any file can copy, and a file that copied libc's
 * must not name, or unwind, host libc with its own tables, nor take
 * libc's. The candidate paths, in order: the mapping itself
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
 * With a parser worker, a file found here is read by the worker, not here
 * (sym_cache_worker.c).
 *
 * Not thread-safe: agent/ names frames from one thread. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/openat2.h>
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
#include "kernel_names.h"
#include "perf_map.h"
#include "resolve.h"
#include "root_open.h"
#include "sym.h"
#include "sym_cache_internal.h"
#include "worker_client.h"

#define RETRY_FAILED_NS (60ULL * 1000000000ULL)
/* How long a mapping's (device, inode) is trusted to name the file it led
 * to: an inode number can be given to a new file once the old one is gone,
 * so the path is looked at again now and then. */
#define REVERIFY_NS (10ULL * 1000000000ULL)

/* A file identity and the sym_elf it led to (owned by elfs). */
struct file_entry {
	struct sym_hnode node;
	struct file_id id;
	struct sym_elf *elf;
};

/* A sym_elf other files of its build-id and content may stand in for. */
struct shared_entry {
	struct sym_hnode node;
	struct sym_elf *elf;
};

/* What a mapping's dev/ino led to, and when that was last checked. */
struct mapped_entry {
	struct sym_hnode node;
	uint64_t dev;
	uint64_t ino;
	/* Without dev/ino: the process, the mapping's start and a hash of
	 * the build-id the kernel gave (0 with dev/ino). */
	uint64_t pid;
	uint64_t start;
	uint64_t build_id_hash;
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
	if (OPT_HAS(opts, table_cache))
		c->table_cache = opts->table_cache;
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
	if (c->worker)
		sym_perf_maps_set_reader(c->perf_maps, sym_cache_read_perf_map_remote, c);
	return c;
}

/* Frees an entry that owns nothing but itself. */
static bool free_fail_entry(struct sym_hnode *n, void *ctx)
{
	(void)ctx;
	free(n);
	return true;
}

void sym_cache_free(struct sym_cache *c)
{
	if (!c)
		return;
	free(c->pending.path);
	free(c->pending.vaddrs);
	free(c->wanted);
	sym_htab_drop_if(&c->remotes, free_fail_entry, NULL);
	sym_htab_release(&c->remotes);
	sym_htab_drop_if(&c->quarantine, sym_cache_free_quarantine_entry, NULL);
	sym_htab_release(&c->quarantine);
	sym_htab_drop_if(&c->files, free_fail_entry, NULL);
	sym_htab_release(&c->files);
	sym_htab_drop_if(&c->shared, free_fail_entry, NULL);
	sym_htab_release(&c->shared);
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
	sym_vdso_names_free(c->vdso);
	sym_kernel_names_free(c->knames);
	free(c->kallsyms_path);
	free(c->proc_root);
	free(c);
}

void sym_cache_get_stats(const struct sym_cache *c, struct sym_cache_stats *st)
{
	struct sym_perf_maps_stats pm;
	struct sym_table_cache_stats tc;

	if (!st)
		return;
	*st = c ? c->stats : (struct sym_cache_stats){ 0 };
	sym_perf_maps_get_stats(c ? c->perf_maps : NULL, &pm);
	st->perf_map_bytes = pm.bytes;
	st->perf_map_refused = pm.refused;
	sym_table_cache_get_stats(c ? c->table_cache : NULL, &tc);
	st->unwind_cache_hits = tc.hits;
	st->unwind_cache_bad = tc.bad;
	st->unwind_cache_bytes = tc.bytes;
}

uint64_t sym_cache_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* ---- files by identity ---- */

struct file_id sym_cache_file_id(const struct stat *st)
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

struct sym_elf *sym_cache_find_file(const struct sym_cache *c, const struct file_id *id)
{
	struct sym_hnode *n = sym_htab_find(&c->files, sym_hash_bytes(id, sizeof(*id), SYM_HASH_INIT),
					    file_eq, id);

	return n ? ((struct file_entry *)n)->elf : NULL;
}

/* Remembers that the file id holds elf; failing to costs a re-read. */
void sym_cache_add_file(struct sym_cache *c, const struct file_id *id, struct sym_elf *elf)
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

/* ---- files by build-id and content ---- */

struct shared_key {
	const char *build_id;
	const char *content_id;
};

static uint64_t shared_hash(const char *build_id, const char *content_id)
{
	return sym_hash_bytes(content_id, strlen(content_id),
			      sym_hash_bytes(build_id, strlen(build_id), SYM_HASH_INIT));
}

static bool shared_eq(const struct sym_hnode *n, const void *key)
{
	const struct sym_elf *elf = ((const struct shared_entry *)n)->elf;
	const struct shared_key *k = key;

	return !strcmp(elf->build_id, k->build_id) && !strcmp(elf->content_id, k->content_id);
}

/* Only a file that has both is shared: one whose bytes could not be
 * hashed is itself alone. */
static bool shareable(const char *build_id, const char *content_id)
{
	return build_id && build_id[0] && sym_content_id_valid(content_id);
}

struct sym_elf *sym_cache_find_shared(const struct sym_cache *c, const char *build_id,
				      const char *content_id)
{
	const struct shared_key k = { build_id, content_id };
	struct sym_hnode *n;

	if (!shareable(build_id, content_id))
		return NULL;
	n = sym_htab_find(&c->shared, shared_hash(build_id, content_id), shared_eq, &k);
	return n ? ((struct shared_entry *)n)->elf : NULL;
}

/* Takes ownership of elf. */
int sym_cache_add_elf(struct sym_cache *c, struct sym_elf *elf)
{
	struct shared_entry *be;

	if (c->nelfs == c->elfs_cap) {
		size_t cap = c->elfs_cap ? 2 * c->elfs_cap : 64;
		struct sym_elf **elfs = realloc(c->elfs, cap * sizeof(*elfs));

		if (!elfs)
			return -ENOMEM;
		c->elfs = elfs;
		c->elfs_cap = cap;
	}
	if (shareable(elf->build_id, elf->content_id)) {
		be = calloc(1, sizeof(*be));
		if (!be)
			return -ENOMEM;
		be->elf = elf;
		be->node.hash = shared_hash(elf->build_id, elf->content_id);
		if (sym_htab_add(&c->shared, &be->node)) {
			free(be);
			return -ENOMEM;
		}
	}
	c->elfs[c->nelfs++] = elf;
	c->stats.bytes += elf->bytes;
	return 0;
}

/* ---- memory ---- */

/* What reading a file cost: libelf and libdw allocate behind our back, so
 * it is measured around the read (rare, and dear anyway). */
static size_t heap_growth(size_t before)
{
	size_t now = sym_heap_in_use();

	return now > before ? now - before : 0;
}

/* ---- files by mapping ---- */

/* What a mapping is found by: dev/ino, else (view, path, build-id), else
 * (process, start, build-id); false when none can be had. */
static bool mapped_key_of(const struct sym_file_ref *ref, uint64_t key[5])
{
	key[0] = ref->dev;
	key[1] = ref->inode;
	key[2] = key[3] = key[4] = 0;
	if (ref->dev && ref->inode)
		return true;
	if (ref->pid <= 0 || !ref->build_id || !ref->build_id[0] || ref->map_end <= ref->map_start)
		return false;
	key[4] = sym_hash_bytes(ref->build_id, strlen(ref->build_id), SYM_HASH_INIT);
	if (ref->fs_view && ref->path) {
		key[0] = 0; /* not a dev/inode */
		key[1] = ref->fs_view;
		key[3] = sym_hash_bytes(ref->path, strlen(ref->path), SYM_HASH_INIT);
		return true;
	}
	key[0] = key[1] = 0;
	key[2] = (uint64_t)ref->pid;
	key[3] = ref->map_start;
	return true;
}

static uint64_t mapped_hash(const uint64_t key[5])
{
	return sym_hash_bytes(key, 5 * sizeof(key[0]), SYM_HASH_INIT);
}

static bool mapped_eq(const struct sym_hnode *n, const void *key)
{
	const struct mapped_entry *me = (const struct mapped_entry *)n;
	const uint64_t *k = key;

	return me->dev == k[0] && me->ino == k[1] && me->pid == k[2] && me->start == k[3] &&
	       me->build_id_hash == k[4];
}

static struct mapped_entry *find_mapped(const struct sym_cache *c, const struct sym_file_ref *ref)
{
	uint64_t key[5];

	if (!mapped_key_of(ref, key))
		return NULL;
	return (struct mapped_entry *)sym_htab_find(&c->mapped, mapped_hash(key), mapped_eq, key);
}

/* Remembers what ref led to; failing to is only a lost shortcut. */
static void remember_mapped(struct sym_cache *c, struct mapped_entry *me,
			    const struct sym_file_ref *ref, struct sym_elf *elf, uint64_t now)
{
	uint64_t key[5];

	if (!mapped_key_of(ref, key))
		return;
	if (!me) {
		me = calloc(1, sizeof(*me));
		if (!me)
			return;
		me->dev = key[0];
		me->ino = key[1];
		me->pid = key[2];
		me->start = key[3];
		me->build_id_hash = key[4];
		me->node.hash = mapped_hash(key);
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
	*id = sym_cache_file_id(st);
	return 0;
}

/* Where the debug file of ref's file may be. */
struct sym_debug_search sym_cache_debug_search(const struct sym_cache *c,
						const struct sym_file_ref *ref)
{
	return (struct sym_debug_search){
		.proc_root = c->proc_root,
		.pid = ref->pid,
		.path = ref->path,
		.debug_dirs = (const char *const *)c->debug_dirs,
		.debuginfod = c->debuginfod,
		.debuginfod_find = sym_debuginfod_find,
	};
}

/* Reads the file at fd into a new sym_elf, DWARF state and all, and
 * adds it to the cache. ref: the mapping it was found through;
 * content_id: the file's, as try_path hashed it. */
static int read_new(struct sym_cache *c, int fd, const struct sym_file_ref *ref,
		    const char *content_id, struct sym_elf **elf)
{
	struct sym_debug_search search = sym_cache_debug_search(c, ref);
	size_t before = sym_heap_in_use();
	struct sym_elf *se;
	int err;

	err = sym_elf_read_fd(fd, &se);
	if (err) {
		if (err == -ENOEXEC)
			c->stats.corrupt++;
		return err;
	}
	strcpy(se->content_id, content_id);
	/* Without DWARF state the symbol tables still name the file. */
	err = sym_dwarf_open(fd, se->build_id[0] ? se->build_id : NULL, &search, &se->dwarf);
	if (err == -ENOEXEC)
		c->stats.corrupt++;
	if (sym_dwarf_source(se->dwarf) == SYM_DEBUG_FILE ||
	    sym_dwarf_source(se->dwarf) == SYM_DEBUG_DEBUGINFOD)
		c->stats.debug_files++;
	se->bytes = heap_growth(before);
	err = sym_cache_add_elf(c, se);
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
	char build_id[2 * SYM_BUILD_ID_MAX + 1], content_id[SYM_CONTENT_ID_LEN + 1];
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
	if (!err && (*elf = sym_cache_find_file(c, &id))) {
		/* known */
	} else if (!err && c->worker) {
		/* Even its build-id is the worker's to read. */
		err = sym_cache_read_remote(c, fd, ref, &id, elf);
	} else if (!err) {
		/* Another file with the same build-id and the same bytes
		 * (another container's copy) is the same program: read once.
		 * The same build-id alone is not (see above). The id is
		 * hashed before the file is read, as the worker does. */
		sym_elf_peek_build_id(fd, build_id);
		sym_content_id_fd(fd, content_id); /* "": shared with none */
		*elf = sym_cache_find_shared(c, build_id, content_id);
		if (!*elf)
			err = read_new(c, fd, ref, content_id, elf);
		if (!err)
			sym_cache_add_file(c, &id, *elf);
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

/* A file found for ref that has not the build-id the kernel announced for
 * it is another file of that name (a container's, an upgrade's): not it. */
static int check_build_id(const struct sym_file_ref *ref, int r, struct sym_elf **elf)
{
	const char *id;

	if (r || !ref->build_id)
		return r;
	id = sym_elf_build_id(*elf);
	if (id && !strcmp(id, ref->build_id))
		return 0;
	*elf = NULL;
	return -ENOENT;
}

/* A candidate reached a file whose answer is not in yet (the worker's
 * deadline), or could not be read for want of a worker or memory: not the
 * file's failure, and no reason to try the next candidate (nor to report
 * "not found", which would be remembered as the file's answer). */
static bool answer_pending(int r)
{
	return r == -EAGAIN || r == -EIO || r == -ENOMEM;
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
		if (!r || r == -ENOEXEC || answer_pending(r))
			return r;
		err = worse(err, r);
	}
	if (named && ref->pid > 0) {
		r = check_build_id(ref, try_in_root(c, ref->pid, ref, elf), elf);
		if (!r || answer_pending(r))
			return r;
		err = worse(err, r);
	}
	/* Its error is not the file's: pid 1 may be out of the agent's reach
	 * (not the host's pid namespace, or not ptrace-readable). A process
	 * gone before its file was read gets here: the host's file, being
	 * read, is asked for again later. */
	if (named && ref->pid != 1) {
		r = check_build_id(ref, try_in_root(c, 1, ref, elf), elf);
		if (!r || answer_pending(r))
			return r;
	}
	if (named) {
		r = check_build_id(ref, try_path(c, AT_FDCWD, ref->path, 0, ref, ref, elf), elf);
		if (!r || answer_pending(r))
			return r;
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
	now = sym_cache_now_ns();
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
	if (c->knames)
		return 0;
	if (!c->ksyms_tried) {
		c->ksyms_err = sym_kallsyms_load(c->kallsyms_path, &c->ksyms);
		c->ksyms_tried = c->ksyms_err != -ENOMEM;
	}
	return c->ksyms_err;
}

#define KERNEL_NAMES_MAX 65536

int sym_cache_set_kernel_namer(struct sym_cache *c, sym_kernel_namer namer, void *ctx)
{
	struct sym_kernel_names *k;

	if (!c || !namer)
		return -EINVAL;
	k = sym_kernel_names_new(namer, ctx, KERNEL_NAMES_MAX);
	if (!k)
		return -ENOMEM;
	sym_kernel_names_free(c->knames);
	c->knames = k;
	return 0;
}

int sym_cache_lookup_kernel(struct sym_cache *c, uint64_t addr,
			    const char **name)
{
	int err;

	if (!c || !name)
		return -EINVAL;
	c->stats.lookups++;
	if (c->knames) {
		err = sym_kernel_names_lookup(c->knames, addr, name);
	} else {
		sym_cache_load_kernel(c);
		err = c->ksyms_err ? c->ksyms_err : sym_kallsyms_lookup(c->ksyms, addr, name);
	}
	if (err)
		c->stats.lookups_failed++;
	return err;
}

int sym_cache_lookup_vdso(struct sym_cache *c, uint64_t map_start, uint64_t map_size,
			  uint64_t offset, const char **name)
{
	if (!c || !name)
		return -EINVAL;
	if (!sym_vdso_is_agents(map_start, map_size))
		return -ENOENT;
	if (!c->vdso && !c->vdso_err)
		c->vdso_err = sym_vdso_names_new(&c->vdso);
	if (c->vdso_err)
		return -ENOENT;
	return sym_vdso_names_lookup(c->vdso, offset, name);
}

int sym_elf_resolve(struct sym_cache *c, struct sym_elf *elf, uint64_t vaddr,
		    struct sym_location *loc)
{
	size_t added;
	int err;

	if (!c || !elf || !loc)
		return -EINVAL;
	if (elf->remote_handle) {
		touch(c, elf);
		return sym_cache_resolve_remote(c, elf, vaddr, loc);
	}
	/* The answer kept, and what libdw read to find it (dwarf.c). */
	sym_dwarf_begin(elf->dwarf);
	err = sym_elf_resolve_address(elf, vaddr, loc, &added);
	added += sym_dwarf_end(elf->dwarf, sym_dwarf_growing(elf->dwarf) ? added : 0);
	elf->bytes += added;
	c->stats.bytes += added;
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

static bool shared_of_victim(struct sym_hnode *n, void *ctx)
{
	if (((struct shared_entry *)n)->elf != ctx)
		return false;
	free(n);
	return true;
}

static void evict(struct sym_cache *c, size_t i)
{
	struct sym_elf *victim = c->elfs[i];

	sym_htab_drop_if(&c->files, file_of_victim, victim);
	sym_htab_drop_if(&c->shared, shared_of_victim, victim);
	if (victim->remote_handle) {
		sym_htab_drop_if(&c->remotes, sym_cache_drop_remote_of, victim);
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

/* Files whose worker died keep what it named (the file has not changed);
 * one asked for an address it had not named goes, to be read again by the
 * next worker when it is next seen. */
static void evict_orphans(struct sym_cache *c)
{
	bool any = false;

	for (size_t i = c->nelfs; c->worker && i-- > 0;)
		if (c->elfs[i]->remote_handle && c->elfs[i]->remote_orphan_missed &&
		    c->elfs[i]->remote_generation != sym_worker_generation(c->worker)) {
			evict(c, i);
			any = true;
		}
	if (any)
		sym_htab_drop_if(&c->mapped, free_fail_entry, NULL);
}

/* Files read without a table their holder has lost since
 * (sym_cache_reread): read again when next seen. */
static void evict_rereads(struct sym_cache *c)
{
	bool any = false;

	for (size_t i = c->nelfs; i-- > 0;)
		if (c->elfs[i]->reread) {
			evict(c, i);
			any = true;
		}
	if (any)
		sym_htab_drop_if(&c->mapped, free_fail_entry, NULL);
}

void sym_cache_reread(struct sym_cache *c, struct sym_elf *elf)
{
	if (c && elf)
		elf->reread = true;
}

void sym_cache_set_table_holder(struct sym_cache *c,
				bool (*holds)(void *ctx, const char *content_id), void *ctx)
{
	if (!c)
		return;
	c->table_holds = holds;
	c->table_holds_ctx = ctx;
}

/* Evicts least recently used files until the cache holds at most bound. */
static void evict_to(struct sym_cache *c, size_t bound)
{
	if (c->stats.bytes <= bound)
		return;
	/* Oldest first; evict() moves the last element into the hole, so
	 * walk from the end of a reversed order instead. */
	qsort(c->elfs, c->nelfs, sizeof(*c->elfs), by_last_use);
	for (size_t i = 0; i < c->nelfs / 2; i++) {
		struct sym_elf *t = c->elfs[i];

		c->elfs[i] = c->elfs[c->nelfs - 1 - i];
		c->elfs[c->nelfs - 1 - i] = t;
	}
	while (c->nelfs && c->stats.bytes > bound)
		evict(c, c->nelfs - 1);
	/* Shortcuts may point at what is gone. */
	sym_htab_drop_if(&c->mapped, free_fail_entry, NULL);
}

static void evict_to_fit(struct sym_cache *c)
{
	if (c->max_bytes)
		evict_to(c, c->max_bytes);
}

void sym_cache_shrink(struct sym_cache *c, size_t max_bytes)
{
	if (c)
		evict_to(c, max_bytes);
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

/* A process's own shortcut past its time: one a process exits leaves,
 * and each process leaves its own, so they are let go, not kept. */
static bool stale_process_mapping(struct sym_hnode *n, void *ctx)
{
	const struct mapped_entry *me = (const struct mapped_entry *)n;
	uint64_t now = *(const uint64_t *)ctx;

	if (!me->pid || now - me->verified_ns < REVERIFY_NS)
		return false;
	free(n);
	return true;
}

void sym_cache_trim(struct sym_cache *c)
{
	uint64_t now = sym_cache_now_ns();

	if (!c)
		return;
	if (c->worker) {
		/* An answer that came meanwhile is taken; one still being
		 * worked on stays outstanding. */
		if (sym_worker_busy(c->worker) && sym_cache_wait_pending(c, sym_cache_now_ns()) != -EAGAIN)
			sym_cache_clear_pending(c);
		if (!sym_worker_busy(c->worker))
			sym_cache_take_remote_arrivals(c);
		evict_orphans(c);
		now = sym_cache_now_ns();
		sym_htab_drop_if(&c->quarantine, sym_cache_free_quarantine_entry, &now);
	} else {
		take_arrivals(c);
	}
	evict_rereads(c);
	evict_to_fit(c);
	sym_htab_drop_if(&c->mapped, stale_process_mapping, &now);
	sym_perf_maps_trim(c->perf_maps);
}

int sym_cache_lookup_perf_map(struct sym_cache *c, int pid, int nspid,
			      uint64_t addr, const char **name)
{
	return sym_cache_lookup_perf_map_range(c, pid, nspid, addr, NULL, NULL, name);
}

int sym_cache_lookup_perf_map_range(struct sym_cache *c, int pid, int nspid, uint64_t addr,
				    uint64_t *start, uint64_t *end, const char **name)
{
	if (!c || !name)
		return -EINVAL;
	return sym_perf_maps_lookup_range(c->perf_maps, pid, nspid, addr, start, end, name);
}
