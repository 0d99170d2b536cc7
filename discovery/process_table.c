/* discovery: the table of known processes, keyed by (pid, start time).
 *
 * agent/ looks up, for every stack BPF counted, the process it came from;
 * the table answers from memory, reading /proc only for a process it has
 * not seen yet. A pid alone is not an identity: pids are reused, so an
 * entry matches only when its start time matches too, and a process that
 * has exited stays here, marked, until the drain that may still hold its
 * samples is over (disc_table_expire).
 *
 * Entries are allocated one by one and never move while in the table:
 * agent/ keeps pointers to them across a drain. They are chained in hash
 * buckets by pid; the chains are short, as a pid has at most one live
 * process and rarely an exited one besides.
 *
 * A process's mappings are what costs: they are read only once it is
 * sampled (a scan reads the rest of what is known of it), and at most once
 * an interval, however often its samples ask for them (an address in no
 * mapping known, a first sample, code outside the ranges BPF was given).
 * The exceptions: an exec (the old image's mappings are no use), and a
 * process BPF saw run code outside them (a dlopen: its unwind table is
 * wanted now), read again as soon as the last read's cost allows: no more
 * than DISC_MAPS_BYTES_MAX of its mappings a second (a few kilobytes, the
 * usual, take a millisecond; BPF asks at most every 50 ms), unless they
 * were cut (the code is then likely past the cut, and would be again).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "proc.h"

#define PF_KTHREAD 0x00200000u
#define INITIAL_BUCKETS 256

struct entry {
	struct disc_process p;
	struct entry *next;    /* in the pid's bucket */
	uint64_t seen;         /* last scan that found it alive */
	uint64_t maps_interval; /* interval its maps were last read in; 0: never */
	uint64_t maps_read_ns;  /* when (CLOCK_MONOTONIC) */
	bool stale;            /* exec'd since it was read: not to be used as is */
	/* The record of an image the process exec'd out of, kept (as exited)
	 * for that image's samples only: found by find_retired, never find. */
	bool retired;
	uint64_t exit_interval; /* interval it was marked exited in */
};

struct disc_table {
	char *proc_root;       /* NULL: /proc */
	struct entry **buckets;
	size_t nbuckets;       /* a power of two */
	size_t n;
	uint64_t scan;         /* scans so far */
	uint64_t interval;     /* disc_table_next_interval calls, from 1 */
	struct disc_table_stats stats; /* maps_bytes is summed when asked */
};

/* Errors that mean the process has exited since it was listed: normal
 * churn, not a failure. */
static bool vanished(int err)
{
	return err == -ENOENT || err == -ESRCH;
}

static struct entry **bucket(const struct disc_table *t, int pid)
{
	return &t->buckets[(unsigned int)pid & (t->nbuckets - 1)];
}

static struct entry *find(const struct disc_table *t, int pid, uint64_t start_ticks)
{
	for (struct entry *e = *bucket(t, pid); e; e = e->next)
		if (e->p.pid == pid && e->p.start_ticks == start_ticks && !e->retired)
			return e;
	return NULL;
}

static struct entry *find_retired(const struct disc_table *t, int pid, uint64_t start_ticks,
				  uint32_t exec_id)
{
	for (struct entry *e = *bucket(t, pid); e; e = e->next)
		if (e->retired && e->p.pid == pid && e->p.start_ticks == start_ticks &&
		    e->p.exec_id == exec_id)
			return e;
	return NULL;
}

/* Frees what a process record owns (not the record). */
static void process_release(struct disc_process *p)
{
	free(p->exe_path);
	free(p->service_name);
	free(p->cmdline);
	free(p->cgroup_path);
	disc_mappings_release(&p->maps);
}

static void entry_free(struct entry *e)
{
	process_release(&e->p);
	free(e);
}

/* Sequential pids spread evenly over the buckets, so the table grows only
 * to keep chains short, and a failure to grow just leaves them longer. */
/* Marked once: it stays until the drain after the one it exited in. */
static void mark_exited(struct disc_table *t, struct entry *e)
{
	if (e->p.exited)
		return;
	e->p.exited = true;
	e->exit_interval = t->interval;
}

static void insert(struct disc_table *t, struct entry *e)
{
	if (t->n >= t->nbuckets) {
		size_t old_n = t->nbuckets;
		struct entry **old = t->buckets;
		struct entry **nb = calloc(old_n * 2, sizeof(*nb));

		if (nb) {
			t->buckets = nb;
			t->nbuckets = old_n * 2;
			for (size_t i = 0; i < old_n; i++) {
				struct entry *x, *next;

				for (x = old[i]; x; x = next) {
					next = x->next;
					x->next = *bucket(t, x->p.pid);
					*bucket(t, x->p.pid) = x;
				}
			}
			free(old);
		}
	}
	e->next = *bucket(t, e->p.pid);
	*bucket(t, e->p.pid) = e;
	t->n++;
}

/* The executable's target, or NULL when the process has none we can read
 * (kernel threads, zombies, a target longer than PATH_MAX). */
static int read_exe(int dirfd, char **out)
{
	char buf[PATH_MAX];
	ssize_t n = readlinkat(dirfd, "exe", buf, sizeof(buf));

	*out = NULL;
	if (n <= 0 || (size_t)n >= sizeof(buf))
		return 0;
	*out = strndup(buf, (size_t)n);
	return *out ? 0 : -ENOMEM;
}

static char *service_name(const struct disc_process *p)
{
	static const char deleted[] = " (deleted)";
	const size_t deleted_len = sizeof(deleted) - 1;
	const char *name = p->comm;
	size_t len = strlen(p->comm);

	if (p->kernel_thread)
		return strdup("kernel");
	/* An executable run from a memfd (a sealed or re-exec'd binary, as
	 * runc does) is named "/memfd:NAME (deleted)", and so is its comm:
	 * the name it was started under, argv[0], says more. */
	if (p->exe_path && !strncmp(p->exe_path, "/memfd:", 7) && p->cmdline &&
	    p->cmdline[0] != ' ') {
		size_t arg0 = strcspn(p->cmdline, " ");
		const char *slash = memrchr(p->cmdline, '/', arg0);
		const char *base = slash ? slash + 1 : p->cmdline;

		if (base < p->cmdline + arg0)
			return strndup(base, (size_t)(p->cmdline + arg0 - base));
	}
	if (p->exe_path) {
		const char *slash = strrchr(p->exe_path, '/');
		const char *base = slash ? slash + 1 : p->exe_path;
		size_t base_len = strlen(base);

		/* The kernel appends this to the target of a file since
		 * deleted (an upgraded package, say); the service is the same. */
		if (base_len >= deleted_len &&
		    !strcmp(base + base_len - deleted_len, deleted))
			base_len -= deleted_len;
		if (base_len) {
			name = base;
			len = base_len;
		}
	}
	return strndup(name, len);
}

/* The process's cgroup path and the container it names. A cgroup file we
 * cannot read or make sense of leaves the process known, in no container,
 * and so does a missing one: a kernel built without CONFIG_CGROUPS has
 * none, so ENOENT here need not mean the process is gone (if it is, the
 * next scan says so). Only running out of memory is an error. */
static int read_cgroup(int dirfd, struct disc_process *p)
{
	struct disc_cgroup cg;
	struct disc_container c;
	int err = disc_cgroup_read_at(dirfd, &cg);

	if (err)
		return err == -ENOMEM ? err : 0;
	p->cgroup_path = cg.path;
	if (disc_container_from_cgroup(p->cgroup_path, &c) == 0) {
		p->container_runtime = c.runtime;
		memcpy(p->container_id, c.id, sizeof(p->container_id));
		memcpy(p->pod_uid, c.pod_uid, sizeof(p->pod_uid));
	}
	return 0;
}

/* Reads what the table keeps about the process of dirfd, whose stat is st,
 * into p (its pid and start already set); its mappings only if with_maps. */
static int read_process(int dirfd, const struct disc_stat *st, bool with_maps,
			struct disc_process *p)
{
	int err;

	memcpy(p->comm, st->comm, sizeof(p->comm));
	p->kernel_thread = st->flags & PF_KTHREAD;
	/* Kernel threads all live in the first namespace. A status we
	 * cannot read leaves the pid we know it by, right for most. */
	if (p->kernel_thread || disc_status_read_nspid_at(dirfd, &p->nspid))
		p->nspid = p->pid;
	if (!p->kernel_thread) {
		err = read_exe(dirfd, &p->exe_path);
		if (err)
			return err;
		err = with_maps ? disc_maps_read_at(dirfd, &p->maps) : 0;
		/* Maps we may not read (another user's process, when not
		 * root) leave the process known by name, with no mappings. */
		if (err && (vanished(err) || err == -ENOMEM))
			return err;
		/* Only here: a kernel thread runs for everyone, in no container. */
		err = read_cgroup(dirfd, p);
		if (err)
			return err;
		/* A command line we cannot read leaves it NULL, as an empty
		 * one does; if the process is gone, the next scan says so. */
		err = disc_cmdline_read_at(dirfd, &p->cmdline);
		if (err == -ENOMEM)
			return err;
	}
	p->service_name = service_name(p);
	return p->service_name ? 0 : -ENOMEM;
}

/* The maps of e were read (whether or not that worked): no more this
 * interval. */
static uint64_t monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void maps_read(struct disc_table *t, struct entry *e)
{
	e->maps_interval = t->interval;
	e->maps_read_ns = monotonic_ns();
	t->stats.maps_reads++;
	if (e->p.maps.cut)
		t->stats.maps_cut++;
}

/* Whether e's maps were read this interval already; counted if so, as the
 * read asked for is put off. */
static bool maps_read_already(struct disc_table *t, const struct entry *e)
{
	if (e->maps_interval != t->interval)
		return false;
	t->stats.maps_deferred++;
	return true;
}

/* As maps_read_already, for a process BPF saw run code outside its maps:
 * read again once the last read's cost allows (see the top), unless they
 * were cut. */
static bool new_code_reread_refused(struct disc_table *t, const struct entry *e)
{
	uint64_t wait_ns = (uint64_t)e->p.maps.bytes * 1000000000ULL / DISC_MAPS_BYTES_MAX;

	if (e->maps_interval == t->interval && !e->p.maps.cut &&
	    monotonic_ns() - e->maps_read_ns >= wait_ns)
		return false;
	return maps_read_already(t, e);
}

/* The pid is another process's now (but keep's): any other known under it
 * is gone. */
static void exit_others(struct disc_table *t, int pid, const struct entry *keep)
{
	for (struct entry *x = *bucket(t, pid); x; x = x->next)
		if (x->p.pid == pid && x != keep)
			mark_exited(t, x);
}

/* Reads the process of dirfd, whose stat is st, and adds it, marking exited
 * any other process known under its pid: that one must be gone, since the
 * pid is someone else's now. Its maps are read only if with_maps. */
static int add(struct disc_table *t, int dirfd, int pid, const struct disc_stat *st,
	       bool with_maps, struct entry **out)
{
	struct entry *e = calloc(1, sizeof(*e));
	int err;

	if (!e)
		return -ENOMEM;
	e->p.pid = pid;
	e->p.start_ticks = st->start_ticks;
	e->p.ppid = st->ppid;
	e->seen = t->scan;
	err = read_process(dirfd, st, with_maps, &e->p);
	if (err) {
		entry_free(e);
		return err;
	}
	if (with_maps)
		maps_read(t, e);
	exit_others(t, pid, NULL);
	insert(t, e);
	*out = e;
	return 0;
}

struct disc_table *disc_table_new(const struct disc_table_opts *opts)
{
	struct disc_table *t = calloc(1, sizeof(*t));
	const char *root = NULL;

	if (!t)
		return NULL;
	if (opts && opts->sz >= offsetof(struct disc_table_opts, proc_root) + sizeof(opts->proc_root))
		root = opts->proc_root;
	if (root) {
		t->proc_root = strdup(root);
		if (!t->proc_root)
			goto fail;
	}
	t->interval = 1;
	t->nbuckets = INITIAL_BUCKETS;
	t->buckets = calloc(t->nbuckets, sizeof(*t->buckets));
	if (!t->buckets)
		goto fail;
	return t;
fail:
	free(t->proc_root);
	free(t);
	errno = ENOMEM;
	return NULL;
}

void disc_table_free(struct disc_table *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->nbuckets; i++) {
		struct entry *e, *next;

		for (e = t->buckets[i]; e; e = next) {
			next = e->next;
			entry_free(e);
		}
	}
	free(t->buckets);
	free(t->proc_root);
	free(t);
}

/* One pid listed by the scan. Only errors that would make the scan's
 * verdicts wrong (out of memory, out of fds) are returned; a process that
 * is gone, or whose stat makes no sense, is passed over. */
static bool known_alive(const struct disc_table *t, int pid)
{
	for (struct entry *e = *bucket(t, pid); e; e = e->next)
		if (e->p.pid == pid && !e->p.exited)
			return true;
	return false;
}

/* The start time of pid, from one read of its stat file into a stack
 * buffer: the cheap check, once a second, that a known pid still is the
 * process we know. -EAGAIN when the line does not fit (take the slow way). */
static int read_start_ticks(const struct disc_table *t, int pid, uint64_t *start)
{
	char path[PATH_MAX], text[2048];
	struct disc_stat st;
	ssize_t n;
	int fd, err;

	snprintf(path, sizeof(path), "%s/%d/stat", t->proc_root ? t->proc_root : "/proc", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, text, sizeof(text));
	err = n < 0 ? -errno : 0;
	close(fd);
	if (err)
		return err;
	if ((size_t)n == sizeof(text))
		return -EAGAIN;
	err = disc_stat_parse(text, (size_t)n, &st);
	if (!err)
		*start = st.start_ticks;
	return err;
}

static int scan_pid(struct disc_table *t, int pid)
{
	struct disc_stat st;
	struct entry *e;
	uint64_t start;
	int dirfd, err;

	if (known_alive(t, pid) && read_start_ticks(t, pid, &start) == 0 &&
	    (e = find(t, pid, start)) != NULL) {
		e->p.exited = false;
		e->seen = t->scan;
		return 0;
	}
	dirfd = disc_proc_dir_open(t->proc_root, pid);
	if (dirfd < 0)
		return vanished(dirfd) ? 0 : dirfd;
	err = disc_stat_read_at(dirfd, &st);
	if (err) {
		close(dirfd);
		return vanished(err) || err == -EINVAL ? 0 : err;
	}
	e = find(t, pid, st.start_ticks);
	if (e) {
		/* (pid, start) is one process only: if a scan lost sight of
		 * it, it was not gone after all. */
		e->p.exited = false;
	} else {
		err = add(t, dirfd, pid, &st, false, &e);
	}
	close(dirfd);
	if (err)
		return vanished(err) ? 0 : err;
	e->seen = t->scan;
	return 0;
}

static int parse_pid(const char *name)
{
	const char *p = name;
	uint64_t v;

	if (disc_text_number(&p, name + strlen(name), 10, INT_MAX, &v) || *p || v == 0)
		return -1;
	return (int)v;
}

int disc_table_scan(struct disc_table *t)
{
	struct dirent *de;
	DIR *d;
	int err = 0;

	d = opendir(t->proc_root ? t->proc_root : "/proc");
	if (!d)
		return -errno;
	t->scan++;
	for (;;) {
		int pid;

		errno = 0;
		de = readdir(d);
		if (!de) {
			err = -errno;
			break;
		}
		pid = parse_pid(de->d_name);
		if (pid < 0)
			continue;
		err = scan_pid(t, pid);
		if (err)
			break;
	}
	closedir(d);
	/* A scan cut short has not looked at every pid: no verdicts. */
	if (err)
		return err;
	for (size_t i = 0; i < t->nbuckets; i++)
		for (struct entry *e = t->buckets[i]; e; e = e->next)
			if (e->seen != t->scan)
				mark_exited(t, e);
	return 0;
}

const struct disc_process *disc_table_get(struct disc_table *t, int pid,
					  uint64_t start_ticks)
{
	struct disc_stat st;
	struct entry *e;
	int dirfd, err;

	e = find(t, pid, start_ticks);
	if (e && e->stale)
		return disc_table_refresh(t, pid, start_ticks);
	/* Known from a scan, sampled now: its maps are wanted. */
	if (e && !e->maps_interval && !e->p.exited && !e->p.kernel_thread)
		disc_table_refresh_maps(t, &e->p);
	if (e)
		return &e->p;
	dirfd = disc_proc_dir_open(t->proc_root, pid);
	if (dirfd < 0)
		return NULL;
	err = disc_stat_read_at(dirfd, &st);
	if (!err && st.start_ticks != start_ticks)
		err = -ESRCH;
	if (!err)
		err = add(t, dirfd, pid, &st, true, &e);
	close(dirfd);
	return err ? NULL : &e->p;
}

const struct disc_process *disc_table_find_live(struct disc_table *t, int pid)
{
	for (struct entry *e = *bucket(t, pid); e; e = e->next)
		if (e->p.pid == pid && !e->p.exited && !e->stale)
			return &e->p;
	return NULL;
}

int disc_table_refresh_maps(struct disc_table *t, const struct disc_process *p)
{
	struct disc_mappings maps;
	struct disc_stat st;
	struct entry *e;
	int dirfd, err;

	if (!p)
		return -EINVAL;
	e = find(t, p->pid, p->start_ticks);
	if (!e || &e->p != p)
		return -EINVAL;
	if (e->p.exited)
		return -ESRCH;
	if (maps_read_already(t, e))
		return -EAGAIN;
	dirfd = disc_proc_dir_open(t->proc_root, p->pid);
	if (dirfd < 0)
		return vanished(dirfd) ? -ESRCH : dirfd;
	/* Through this dirfd, stat and maps are of the same process. */
	err = disc_stat_read_at(dirfd, &st);
	if (!err && st.start_ticks != p->start_ticks)
		err = -ESRCH;
	if (!err) {
		err = disc_maps_read_at(dirfd, &maps);
		e->maps_interval = t->interval;
	}
	close(dirfd);
	if (err)
		return vanished(err) ? -ESRCH : err;
	disc_mappings_release(&e->p.maps);
	e->p.maps = maps;
	maps_read(t, e);
	return 0;
}

void disc_table_expire(struct disc_table *t)
{
	for (size_t i = 0; i < t->nbuckets; i++) {
		struct entry **link = &t->buckets[i];

		while (*link) {
			struct entry *e = *link;

			/* One gone since the drain may have samples in the
			 * next (the drain is finished a moment after it). */
			if (e->p.exited && e->exit_interval < t->interval) {
				*link = e->next;
				entry_free(e);
				t->n--;
			} else {
				link = &e->next;
			}
		}
	}
}

size_t disc_table_size(const struct disc_table *t)
{
	return t->n;
}

void disc_table_for_each(struct disc_table *t,
			 void (*fn)(const struct disc_process *p, void *arg), void *arg)
{
	for (size_t b = 0; b < t->nbuckets; b++)
		for (struct entry *e = t->buckets[b]; e; e = e->next)
			if (!e->stale && !e->p.exited)
				fn(&e->p, arg);
}

/* An exec keeps the pid and the start time but changes everything else, and
 * a first sample comes once the libraries are mapped: either way, read the
 * process again, into a fresh record swapped in whole. */
const struct disc_process *disc_table_refresh(struct disc_table *t, int pid,
					      uint64_t start_ticks)
{
	struct disc_process fresh = { .pid = pid, .start_ticks = start_ticks };
	struct entry *e = find(t, pid, start_ticks);
	struct disc_stat st;
	int dirfd, err;

	if (!e)
		return disc_table_get(t, pid, start_ticks);
	if (e->p.exited && !e->stale)
		return &e->p;
	if (!e->stale && new_code_reread_refused(t, e))
		return &e->p;
	dirfd = disc_proc_dir_open(t->proc_root, pid);
	if (dirfd < 0)
		return e->stale ? NULL : &e->p;
	err = disc_stat_read_at(dirfd, &st);
	if (!err && st.start_ticks != start_ticks)
		err = -ESRCH;
	if (!err)
		err = read_process(dirfd, &st, true, &fresh);
	close(dirfd);
	if (err) {
		process_release(&fresh);
		/* What we know of a process that exec'd is of its old image:
		 * better unknown than mislabelled. */
		return e->stale ? NULL : &e->p;
	}
	fresh.exited = e->p.exited;
	/* Read again without an exec between: the same image. */
	fresh.image = e->stale ? 0 : e->p.image;
	process_release(&e->p);
	e->p = fresh;
	e->stale = false;
	maps_read(t, e);
	return &e->p;
}

/* The service a process known only from the kernel gets: its executable's
 * base name as service_name() would give it, unless that is a memfd's (the
 * comm says more, as the command line would). */
static char *kernel_service_name(const struct disc_process *p,
				 const struct disc_kernel_identity *id)
{
	if (p->exe_path)
		return service_name(p);
	if (id->exe_name && id->exe_name[0] && strncmp(id->exe_name, "memfd:", 6))
		return strdup(id->exe_name);
	return strdup(id->comm);
}

/* A record of what the kernel said of (pid, start_ticks), taking over
 * id->maps; false: out of memory. */
static bool process_from_kernel(int pid, uint64_t start_ticks, const struct disc_kernel_identity *id,
				bool gone, struct disc_process *p)
{
	struct disc_container c;

	*p = (struct disc_process){
		.pid = pid, .nspid = id->nspid > 0 ? id->nspid : pid, .start_ticks = start_ticks,
		.exited = gone, .from_kernel = true, .fs_view = id->fs_view,
		.in_exec = id->in_exec,
	};
	snprintf(p->comm, sizeof(p->comm), "%s", id->comm);
	if (id->maps) {
		p->maps = *id->maps;
		*id->maps = (struct disc_mappings){ 0 };
	}
	p->exe_path = id->exe_path ? strdup(id->exe_path) : NULL;
	p->service_name = kernel_service_name(p, id);
	p->cgroup_path = id->cgroup_path ? strdup(id->cgroup_path) : NULL;
	if (!p->service_name || (id->cgroup_path && !p->cgroup_path) ||
	    (id->exe_path && !p->exe_path)) {
		process_release(p);
		return false; /* half made is worse than unknown: counted lost */
	}
	if (p->cgroup_path && disc_container_from_cgroup(p->cgroup_path, &c) == 0) {
		p->container_runtime = c.runtime;
		memcpy(p->container_id, c.id, sizeof(p->container_id));
		memcpy(p->pod_uid, c.pod_uid, sizeof(p->pod_uid));
	}
	return true;
}

/* Puts p in (pid, start_ticks)'s entry e, or a new one (e NULL). */
static struct entry *entry_set(struct disc_table *t, struct entry *e, struct disc_process *p)
{
	if (!e) {
		e = calloc(1, sizeof(*e));
		if (!e) {
			process_release(p);
			return NULL;
		}
		e->p.pid = p->pid;
		insert(t, e);
	}
	process_release(&e->p);
	e->p = *p;
	e->stale = false;
	e->seen = t->scan;
	e->maps_interval = t->interval; /* none to read: the kernel gave them */
	e->maps_read_ns = monotonic_ns();
	return e;
}

const struct disc_process *disc_table_add_gone(struct disc_table *t, int pid,
					       uint64_t start_ticks,
					       const struct disc_kernel_identity *id)
{
	struct entry *e = find(t, pid, start_ticks);
	struct disc_process p;

	if (e && !e->stale)
		return &e->p;
	if (!process_from_kernel(pid, start_ticks, id, true, &p))
		return NULL;
	e = entry_set(t, e, &p);
	if (!e)
		return NULL;
	e->exit_interval = t->interval;
	t->stats.gone_added++;
	return &e->p;
}

const struct disc_process *disc_table_add_from_kernel(struct disc_table *t, int pid,
						      uint64_t start_ticks,
						      const struct disc_kernel_identity *id)
{
	struct entry *e = find(t, pid, start_ticks);
	struct disc_process p;

	if (e && !e->stale) {
		/* Known already (a scan, an earlier sample): what it was
		 * labelled with stays; the records complete its mappings. */
		if (!e->p.exited && !e->p.kernel_thread && id->maps)
			disc_table_complete_maps(t, pid, start_ticks, id->maps);
		return &e->p;
	}
	if (!process_from_kernel(pid, start_ticks, id, false, &p))
		return NULL;
	exit_others(t, pid, e);
	e = entry_set(t, e, &p);
	if (!e)
		return NULL;
	t->stats.kernel_added++;
	return &e->p;
}

bool disc_table_exec_done(struct disc_table *t, int pid, uint64_t start_ticks,
			  const char *comm, const char *exe_path, struct disc_mappings *maps)
{
	struct entry *e = find(t, pid, start_ticks);
	struct disc_process *p = e ? &e->p : NULL;
	char *exe = strdup(exe_path), *old_exe, *service;

	if (!p || e->stale || !p->in_exec || !exe) {
		free(exe);
		return false;
	}
	old_exe = p->exe_path;
	p->exe_path = exe;
	snprintf(p->comm, sizeof(p->comm), "%s", comm);
	service = service_name(p);
	if (!service) {
		p->exe_path = old_exe;
		free(exe);
		return false;
	}
	free(old_exe);
	free(p->service_name);
	p->service_name = service;
	disc_mappings_release(&p->maps);
	p->maps = *maps;
	*maps = (struct disc_mappings){ 0 };
	p->in_exec = false;
	e->maps_interval = t->interval;
	return true;
}

/* Whether p's executable is mapped at addr: a process forked from p that
 * has not exec'd since has its code where p's is (an exec moves it, its
 * place chosen at random). */
static bool exe_mapped_at(const struct disc_process *p, uint64_t addr)
{
	for (size_t i = 0; p->exe_path && i < p->maps.n; i++) {
		const struct disc_mapping *m = &p->maps.v[i];

		if (m->start <= addr && addr < m->end)
			return m->path && !strcmp(m->path, p->exe_path);
	}
	return false;
}

/* A copy of parent's record as its child's, which has the same image. */
static bool process_forked(const struct disc_process *parent, const struct disc_fork *f,
			   struct disc_process *p)
{
	*p = *parent;
	p->pid = f->pid;
	p->nspid = f->nspid > 0 ? f->nspid : f->pid;
	p->start_ticks = f->start_ticks;
	p->ppid = f->parent_pid;
	p->exited = false;
	snprintf(p->comm, sizeof(p->comm), "%s", f->comm);
	p->exe_path = parent->exe_path ? strdup(parent->exe_path) : NULL;
	p->service_name = strdup(parent->service_name);
	p->cmdline = parent->cmdline ? strdup(parent->cmdline) : NULL;
	p->cgroup_path = parent->cgroup_path ? strdup(parent->cgroup_path) : NULL;
	if (disc_mappings_merge(&parent->maps, &(struct disc_mappings){ 0 }, &p->maps) < 0 ||
	    !p->service_name || (parent->exe_path && !p->exe_path) ||
	    (parent->cmdline && !p->cmdline) || (parent->cgroup_path && !p->cgroup_path)) {
		process_release(p);
		return false;
	}
	return true;
}

const struct disc_process *disc_table_add_forked(struct disc_table *t, const struct disc_fork *f)
{
	struct entry *e = find(t, f->pid, f->start_ticks);
	const struct entry *parent = find(t, f->parent_pid, f->parent_start_ticks);
	struct disc_process p;

	/* Known already (announced again, its code outside the mappings it
	 * has: a dlopen since the parent was read): not the parent's to say. */
	if (e && !e->stale)
		return NULL;
	if (!parent || parent->stale || parent->p.exited || parent->p.kernel_thread ||
	    !exe_mapped_at(&parent->p, f->code_addr) || !process_forked(&parent->p, f, &p))
		return NULL;
	exit_others(t, f->pid, e);
	e = entry_set(t, e, &p);
	if (!e)
		return NULL;
	e->maps_interval = parent->maps_interval;
	t->stats.forked_added++;
	return &e->p;
}

int disc_table_complete_maps(struct disc_table *t, int pid, uint64_t start_ticks,
			     const struct disc_mappings *logged)
{
	struct entry *e = find(t, pid, start_ticks);
	struct disc_mappings merged;
	int added;

	if (!e || e->stale || e->p.kernel_thread || !logged->n)
		return 0;
	added = disc_mappings_merge(&e->p.maps, logged, &merged);
	if (added <= 0) {
		disc_mappings_release(&merged);
		return 0;
	}
	disc_mappings_release(&e->p.maps);
	e->p.maps = merged;
	e->maps_interval = t->interval;
	return added;
}

const struct disc_process *disc_table_get_image(struct disc_table *t, int pid,
						uint64_t start_ticks, uint32_t exec_id)
{
	struct entry *r = find_retired(t, pid, start_ticks, exec_id);
	const struct disc_process *p;

	if (r)
		return &r->p;
	p = disc_table_get(t, pid, start_ticks);
	return p && p->exec_id_known && p->exec_id != exec_id ? NULL : p;
}

/* The old image's record moves to an entry of its own, retired: samples
 * taken before the exec (a shell's child before it runs the command) keep
 * their names and labels even when the process is gone by the drain. */
static void retire(struct disc_table *t, struct entry *e, uint32_t old_exec_id)
{
	struct entry *r = calloc(1, sizeof(*r));

	if (!r)
		return; /* its old image's samples are then unknown */
	r->p = e->p;
	r->p.exec_id = old_exec_id;
	r->p.exec_id_known = true;
	r->retired = true;
	r->p.exited = true;
	r->exit_interval = t->interval;
	e->p = (struct disc_process){
		.pid = r->p.pid, .nspid = r->p.nspid, .start_ticks = r->p.start_ticks,
	};
	snprintf(e->p.comm, sizeof(e->p.comm), "%s", r->p.comm);
	insert(t, r);
}

void disc_table_exec(struct disc_table *t, int pid, uint64_t start_ticks, uint32_t exec_id)
{
	struct entry *e = find(t, pid, start_ticks);

	if (!e)
		return;
	/* Also a record already marked exited: one added from the old image's
	 * first-sample event when that was read after the exec (the agent
	 * takes events in batches), whose samples are the old image's too. */
	if (!e->stale && !e->p.kernel_thread)
		retire(t, e, exec_id - 1);
	e->stale = true;
}

void disc_table_set_exec_id(struct disc_table *t, const struct disc_process *p, uint32_t exec_id)
{
	struct entry *e = find(t, p->pid, p->start_ticks);

	if (e) {
		e->p.exec_id = exec_id;
		e->p.exec_id_known = true;
	}
}

void disc_table_set_image(struct disc_table *t, const struct disc_process *p, uint64_t image)
{
	struct entry *e = find(t, p->pid, p->start_ticks);

	if (e)
		e->p.image = image;
}

void disc_table_exit(struct disc_table *t, int pid, uint64_t start_ticks)
{
	struct entry *e = find(t, pid, start_ticks);

	if (e)
		mark_exited(t, e);
}

void disc_table_next_interval(struct disc_table *t)
{
	t->interval++;
}

void disc_table_get_stats(const struct disc_table *t, struct disc_table_stats *st)
{
	*st = t->stats;
	st->maps_bytes = 0;
	for (size_t i = 0; i < t->nbuckets; i++)
		for (const struct entry *e = t->buckets[i]; e; e = e->next)
			st->maps_bytes += e->p.maps.bytes;
}
