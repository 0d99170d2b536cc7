/* Process events to discovery (see proc_events.h). */
#include "proc_events.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "events.h"
#include "events.skel.h"
#include "log.h"
#include "mmap_events.h"

/* What the mmap log may hold: the executable mappings of the processes
 * started since the agent, until they exit, some 60k of them. */
#define MMAP_LOG_BYTES (8u << 20)

struct proc_events {
	struct events_bpf *skel;
	struct bpf_program *exec_prog, *exit_prog;
	bool raw_tracepoints;
	struct ring_buffer *rb;
	struct disc_mmap_log *mmap_log; /* NULL: no mmap records (kernel_features.h) */
	struct mmap_events *mmaps;
	int epfd;                       /* the ring buffer's and the mmap records' */
	/* Processes exited since the last drain, whose logged mappings are
	 * merged in then (proc_events_settle), when the records are surely
	 * read; exec_time tells a pid reused meanwhile. */
	struct exited_proc {
		int pid;
		uint64_t start_ticks, exec_time;
	} *exited;
	size_t n_exited, cap_exited;
	struct disc_table *disc;
	struct unwind_loader *unwind;
	int stats_fd;
	int ranges_fd;
	int cgroup_paths_fd;
	int n_cpus;
	uint64_t reported[SMOLDER_EVENT_STAT_COUNT]; /* totals at the last take */
};

struct code_range {
	uint64_t start, end;
};

/* Merges the closest neighbours until at most max ranges are left: an
 * address in a merged gap is taken for known code, which only delays a
 * re-read. Returns the new count. */
static size_t merge_closest(struct code_range *r, size_t n, size_t max)
{
	while (n > max) {
		size_t best = 1;

		for (size_t i = 2; i < n; i++)
			if (r[i].start - r[i - 1].end < r[best].start - r[best - 1].end)
				best = i;
		r[best - 1].end = r[best].end;
		memmove(&r[best], &r[best + 1], (n - best - 1) * sizeof(*r));
		n--;
	}
	return n;
}

/* Tells the sampler which code of p the agent can name now (see
 * SMOLDER_EVENT_SAMPLED). A full map only leaves the process unwatched. */
static void publish_exec_ranges(struct proc_events *e, const struct disc_process *p)
{
	struct code_range r[4 * SMOLDER_MAX_EXEC_RANGES];
	struct smolder_exec_ranges er = { .start_ticks = p->start_ticks };
	__u32 tgid = (__u32)p->pid;
	size_t n = 0;

	for (size_t i = 0; i < p->maps.n; i++) {
		const struct disc_mapping *m = &p->maps.v[i];

		if (m->perms[2] != 'x')
			continue;
		if (n == sizeof(r) / sizeof(r[0])) /* maps are sorted: so are these */
			n = merge_closest(r, n, n - 1);
		r[n++] = (struct code_range){ m->start, m->end };
	}
	n = merge_closest(r, n, SMOLDER_MAX_EXEC_RANGES);
	for (size_t i = 0; i < n; i++) {
		er.r[i].start = r[i].start;
		er.r[i].end = r[i].end;
	}
	er.n = (__u32)n;
	/* last_notify_ns 0: the next sample outside these ranges announces
	 * the process at once. A process first sampled while ld.so was still
	 * mapping its libraries is read again as soon as it runs them, which
	 * matters when it lives for only a fraction of a second. */
	bpf_map_update_elem(e->ranges_fd, &tgid, &er, BPF_ANY);
}

/* The path of cgroup id as BPF wrote it (leaf first) into buf, root
 * first; "/..." leads a path whose top did not fit. false: not there (an
 * LRU eviction), or the root. */
static bool cgroup_path_of(int fd, __u64 id, char *buf, size_t len)
{
	struct smolder_cgroup_path cp;
	size_t at = 0;

	if (!id || bpf_map_lookup_elem(fd, &id, &cp) || cp.n == 0 ||
	    cp.n > SMOLDER_CGROUP_DEPTH_MAX)
		return false;
	buf[0] = 0;
	if (cp.truncated)
		at += (size_t)snprintf(buf, len, "/...");
	for (__u32 i = cp.n; i-- > 0 && at < len;) {
		cp.names[i][SMOLDER_CGROUP_NAME_MAX - 1] = 0;
		at += (size_t)snprintf(buf + at, len - at, "/%s", cp.names[i]);
	}
	return at < len;
}

/* pid's mappings in the mmap log. The records are read before the ring
 * buffer's events, but a read sometimes returns before records written
 * long before it (seen: a process's every record read only at the next
 * wake-up, after its first sample's event had found it gone): when there
 * are none for pid, the buffers are read once more. */
static int logged_mappings(struct proc_events *e, int pid, struct disc_mappings *out)
{
	if (e->mmaps && !disc_mmap_log_has(e->mmap_log, pid))
		mmap_events_consume(e->mmaps);
	return disc_mmap_log_mappings(e->mmap_log, pid, out);
}

/* A process known from /proc may lack mappings the kernel announced: read
 * before ld.so had mapped its libraries, or not read at all (a scan, which
 * reads no maps, found it) and gone since. Its exit, or a first sample
 * that finds it gone, completes them from the log. (The log is kept until
 * the process exits, not dropped once it is read: an exec the agent hears
 * of after it read the new image makes it read the process again, and if
 * it is gone by then, the log is all there is.) */
static void take_logged_maps(struct proc_events *e, int pid, uint64_t start_ticks)
{
	struct disc_mappings maps;

	if (logged_mappings(e, pid, &maps))
		return;
	disc_table_complete_maps(e->disc, pid, start_ticks, &maps);
	disc_mappings_release(&maps);
}

#define EXITED_MAX 65536

/* Its mappings are merged at the next drain; if it cannot wait (too many
 * waiting, no memory), now. */
static void note_exited(struct proc_events *e, int pid, uint64_t start_ticks)
{
	if (e->n_exited == e->cap_exited && e->cap_exited < EXITED_MAX) {
		size_t cap = e->cap_exited ? 2 * e->cap_exited : 256;
		struct exited_proc *v = realloc(e->exited, cap * sizeof(*v));

		if (v) {
			e->exited = v;
			e->cap_exited = cap;
		}
	}
	if (e->n_exited == e->cap_exited) {
		take_logged_maps(e, pid, start_ticks);
		disc_mmap_log_forget(e->mmap_log, pid);
		return;
	}
	e->exited[e->n_exited++] = (struct exited_proc){
		.pid = pid, .start_ticks = start_ticks,
		.exec_time = disc_mmap_log_exec_time(e->mmap_log, pid),
	};
}

void proc_events_settle(struct proc_events *e)
{
	proc_events_consume(e);
	for (size_t i = 0; i < e->n_exited; i++) {
		const struct exited_proc *x = &e->exited[i];

		/* Exec'd since under the same pid: the log is another image's. */
		if (disc_mmap_log_exec_time(e->mmap_log, x->pid) != x->exec_time)
			continue;
		take_logged_maps(e, x->pid, x->start_ticks);
		disc_mmap_log_forget(e->mmap_log, x->pid);
	}
	e->n_exited = 0;
}

/* The mapping of maps that holds addr, or NULL. */
static const struct disc_mapping *mapping_at(const struct disc_mappings *maps, uint64_t addr)
{
	for (size_t i = 0; i < maps->n; i++)
		if (maps->v[i].start <= addr && addr < maps->v[i].end)
			return &maps->v[i];
	return NULL;
}

/* ev's image's vDSO added to its logged mappings: the kernel maps it at
 * exec, and no mmap record announces it. A failure leaves maps as they
 * were (frames in it go unnamed). */
static void add_vdso(const struct smolder_event *ev, struct disc_mappings *maps)
{
	struct disc_mapping vdso = {
		.start = ev->vdso, .end = ev->vdso + ev->vdso_size, .perms = "r-xp",
		.path = (char *)"[vdso]",
	};
	struct disc_mappings merged;

	if (!ev->vdso || !ev->vdso_size || vdso.end < vdso.start)
		return;
	if (disc_mappings_merge(maps, &(struct disc_mappings){ .v = &vdso, .n = 1 }, &merged) < 0)
		return;
	disc_mappings_release(maps);
	*maps = merged;
}

/* Whether path's base name is name, which BPF may have cut short. */
static bool base_name_is(const char *path, const char *name)
{
	const char *slash = strrchr(path, '/');

	return !strncmp(slash ? slash + 1 : path, name, SMOLDER_EXE_NAME_LEN - 1);
}

/* pid's logged mappings, if they are those of the image ev was sampled in:
 * its executable's code (mm->start_code, which an exec moves) is in one of
 * them, named as its executable is. Returns that mapping, or NULL (none
 * logged, or the records of this image not read yet even after a read of
 * the buffers; out must be released either way). */
static const struct disc_mapping *logged_image(struct proc_events *e, const struct smolder_event *ev,
					       struct disc_mappings *out)
{
	const struct disc_mapping *exe;

	*out = (struct disc_mappings){ 0 };
	for (int tries = 0; tries < 2; tries++) {
		if (tries)
			mmap_events_consume(e->mmaps);
		disc_mappings_release(out);
		if (disc_mmap_log_mappings(e->mmap_log, (int)ev->tgid, out))
			return NULL;
		add_vdso(ev, out);
		exe = mapping_at(out, ev->start_code);
		if (exe && base_name_is(exe->path, ev->exe_name))
			return exe;
	}
	return NULL;
}

/* What the kernel said of ev's process, its comm, executable and cgroup
 * copied into buf. */
struct kernel_identity_buf {
	char comm[SMOLDER_COMM_LEN + 1], exe[SMOLDER_EXE_NAME_LEN + 1];
	char cgroup[SMOLDER_CGROUP_DEPTH_MAX * (SMOLDER_CGROUP_NAME_MAX + 1) + 8];
};

/* One number for ev's view of the file system (sym_file_ref.fs_view):
 * views are compared, never shown, and a hash of 128 bits of kernel state
 * into 64 collides for no two views a host will have. */
static uint64_t fs_view_of(const struct smolder_event *ev)
{
	uint64_t v = ((uint64_t)ev->mnt_ns << 32 | ev->root_dev) * 0x9e3779b97f4a7c15ULL;

	v ^= ev->root_ino + 0x632be59bd9b4e019ULL + (v << 6) + (v >> 2);
	return v ? v : 1;
}

static void kernel_identity(struct proc_events *e, const struct smolder_event *ev,
			    struct kernel_identity_buf *buf, struct disc_kernel_identity *id)
{
	snprintf(buf->comm, sizeof(buf->comm), "%.*s", SMOLDER_COMM_LEN, ev->comm);
	snprintf(buf->exe, sizeof(buf->exe), "%.*s", SMOLDER_EXE_NAME_LEN, ev->exe_name);
	*id = (struct disc_kernel_identity){
		.comm = buf->comm, .exe_name = buf->exe, .nspid = (int)ev->nspid,
	};
	if (cgroup_path_of(e->cgroup_paths_fd, ev->cgroup_id, buf->cgroup, sizeof(buf->cgroup)))
		id->cgroup_path = buf->cgroup;
	if (ev->mnt_ns && ev->root_dev && ev->root_ino)
		id->fs_view = fs_view_of(ev);
}

/* A process that exec'd while the agent ran is known from the kernel alone:
 * its first sample's identity and the mmap records of its image, which
 * hold every executable mapping it has. Reading its /proc files would cost
 * more than all else the agent does for a short-lived process. A process
 * sampled in its exec (its new image has no code yet) is added with what
 * was announced by then, and completed by the exec's event
 * (exec_done). NULL: not so (it exec'd before the agent started, its
 * records were dropped or are not read yet, its cgroup's path was
 * evicted), or an executable run from a memfd, which is named after its
 * command line: read from /proc. */
static const struct disc_process *add_from_kernel(struct proc_events *e,
						  const struct smolder_event *ev)
{
	struct kernel_identity_buf buf;
	struct disc_kernel_identity id;
	struct disc_mappings maps = { 0 };
	const struct disc_mapping *exe = NULL;
	const struct disc_process *p = NULL;

	if (!e->mmap_log || !ev->image || !ev->exe_name[0] || !strncmp(ev->exe_name, "memfd:", 6))
		return NULL;
	kernel_identity(e, ev, &buf, &id);
	if (ev->cgroup_id && !id.cgroup_path)
		return NULL;
	if (ev->start_code)
		exe = logged_image(e, ev, &maps);
	else
		id.in_exec = disc_mmap_log_mappings(e->mmap_log, (int)ev->tgid, &maps) == 0;
	if (exe || id.in_exec) {
		id.exe_path = exe ? exe->path : NULL;
		id.maps = &maps;
		p = disc_table_add_from_kernel(e->disc, (int)ev->tgid, ev->start_ticks, &id);
	}
	disc_mappings_release(&maps); /* what add_from_kernel did not take */
	return p;
}

/* ev's process as it is known, or NULL. */
static const struct disc_process *known(struct proc_events *e, const struct smolder_event *ev)
{
	const struct disc_process *p = disc_table_find_live(e->disc, (int)ev->tgid);

	return p && p->start_ticks == ev->start_ticks ? p : NULL;
}

/* The exec a process was first sampled in is done (see add_from_kernel):
 * false if it was not so sampled, or its image's records are not there. */
static bool exec_done(struct proc_events *e, const struct smolder_event *ev)
{
	const struct disc_process *p = known(e, ev);
	struct disc_mappings maps;
	const struct disc_mapping *exe;
	char comm[SMOLDER_COMM_LEN + 1];
	bool done = false;

	if (!e->mmap_log || !p || !p->in_exec || !ev->start_code)
		return false;
	exe = logged_image(e, ev, &maps);
	snprintf(comm, sizeof(comm), "%.*s", SMOLDER_COMM_LEN, ev->comm);
	if (exe)
		done = disc_table_exec_done(e->disc, p->pid, p->start_ticks, comm, exe->path, &maps);
	disc_mappings_release(&maps);
	return done;
}

/* A process forked by one known, sampled before it exec'd (a shell's
 * child, a server's worker): its parent's image, so its parent's record. */
static const struct disc_process *add_forked(struct proc_events *e, const struct smolder_event *ev)
{
	char comm[SMOLDER_COMM_LEN + 1];
	struct disc_fork f = {
		.pid = (int)ev->tgid, .nspid = (int)ev->nspid, .start_ticks = ev->start_ticks,
		.comm = comm, .parent_pid = (int)ev->parent_tgid,
		.parent_start_ticks = ev->parent_start_ticks, .code_addr = ev->start_code,
	};

	if (!ev->start_code || !ev->parent_tgid || !ev->parent_image)
		return NULL;
	snprintf(comm, sizeof(comm), "%.*s", SMOLDER_COMM_LEN, ev->comm);
	return disc_table_add_forked(e->disc, &f);
}

/* A process gone before its /proc files were read: known from what the
 * kernel said at its first sample, so its samples keep their service,
 * container and pod, and its frames are named from its mmap records. */
static const struct disc_process *add_gone(struct proc_events *e, const struct smolder_event *ev)
{
	struct kernel_identity_buf buf;
	struct disc_kernel_identity id;
	struct disc_mappings maps = { 0 };
	const struct disc_process *p;

	kernel_identity(e, ev, &buf, &id);
	if (!buf.comm[0] && !buf.exe[0])
		return NULL; /* not a first sample's event, or nothing read */
	if (e->mmap_log && logged_mappings(e, (int)ev->tgid, &maps) == 0) {
		add_vdso(ev, &maps);
		id.maps = &maps;
	}
	p = disc_table_add_gone(e->disc, (int)ev->tgid, ev->start_ticks, &id);
	disc_mappings_release(&maps); /* what add_gone did not take */
	return p;
}

static int handle_event(void *ctx, void *data, size_t len)
{
	struct proc_events *e = ctx;
	const struct smolder_event *ev = data;
	const struct disc_process *p;
	__u32 tgid;

	if (len < sizeof(*ev))
		return 0;
	tgid = ev->tgid;
	switch (ev->kind) {
	case SMOLDER_EVENT_EXEC:
		/* Not read now: its libraries are not mapped yet. Its first
		 * sample after the exec announces it again. */
		if (!exec_done(e, ev))
			disc_table_exec(e->disc, (int)ev->tgid, ev->start_ticks, ev->exec_id);
		/* The old image's mappings mislead the walk: frame pointers
		 * until the new one is read. */
		if (e->unwind)
			unwind_loader_forget(e->unwind, (int)ev->tgid);
		break;
	case SMOLDER_EVENT_SAMPLED:
		/* Read now: a short-lived process may be gone by the drain. A
		 * process that is already gone is simply not found. */
		p = add_from_kernel(e, ev);
		if (!p)
			p = add_forked(e, ev);
		/* Sampled in its exit, its memory let go: its /proc files
		 * have nothing more to say. */
		if (!p && !ev->image)
			p = known(e, ev);
		else if (!p)
			p = disc_table_refresh(e->disc, (int)ev->tgid, ev->start_ticks);
		if (!p)
			p = add_gone(e, ev);
		else if (e->mmap_log && !p->from_kernel && !p->maps.n)
			take_logged_maps(e, p->pid, p->start_ticks);
		/* An exec's event comes before its image's first sample's:
		 * the maps read now are those of the image ev names. (None:
		 * a sample of its exit, its memory already let go.) */
		if (p && ev->image)
			disc_table_set_image(e->disc, p, ev->image);
		if (p)
			disc_table_set_exec_id(e->disc, p, ev->exec_id);
		if (p && !p->exited) {
			publish_exec_ranges(e, p);
			if (e->unwind)
				unwind_loader_publish(e->unwind, p);
		}
		break;
	case SMOLDER_EVENT_EXIT:
		disc_table_exit(e->disc, (int)ev->tgid, ev->start_ticks);
		if (e->mmap_log)
			note_exited(e, (int)ev->tgid, ev->start_ticks);
		bpf_map_delete_elem(e->ranges_fd, &tgid);
		if (e->unwind)
			unwind_loader_forget(e->unwind, (int)ev->tgid);
		break;
	}
	return 0;
}

const struct disc_process *proc_events_reread(void *ctx, int pid, uint64_t start_ticks,
					      uint64_t image)
{
	struct proc_events *e = ctx;
	const struct disc_process *p = disc_table_find_live(e->disc, pid);

	/* Not one exec'd since: its maps now would be another image's. */
	if (!p || p->start_ticks != start_ticks || p->image != image)
		return NULL;
	p = disc_table_refresh(e->disc, pid, start_ticks);
	if (p && !p->exited) {
		publish_exec_ranges(e, p);
		if (e->unwind)
			unwind_loader_publish(e->unwind, p);
	}
	return p;
}

static int reuse_shared_maps(struct events_bpf *skel, const struct sampler *s)
{
	struct sampler_event_maps m;
	int err;

	sampler_event_maps(s, &m);
	err = bpf_map__reuse_fd(skel->maps.events, m.events_fd);
	if (!err)
		err = bpf_map__reuse_fd(skel->maps.seen, m.seen_fd);
	if (!err)
		err = bpf_map__reuse_fd(skel->maps.event_stats, m.event_stats_fd);
	if (!err)
		err = bpf_map__reuse_fd(skel->maps.exec_ranges, m.exec_ranges_fd);
	return err;
}

static int attach_programs(struct proc_events *e, const char **what)
{
	struct events_bpf *skel = e->skel;
	/* in the skeleton's own slots, which it destroys */
	struct bpf_link **exec_link = e->raw_tracepoints ? &skel->links.smolder_exec_rt
							 : &skel->links.smolder_exec;
	struct bpf_link **exit_link = e->raw_tracepoints ? &skel->links.smolder_exit_rt
							 : &skel->links.smolder_exit;

	*exec_link = bpf_program__attach(e->exec_prog);
	if (!*exec_link) {
		*what = "attaching to sched_process_exec";
		return -errno;
	}
	*exit_link = bpf_program__attach(e->exit_prog);
	if (!*exit_link) {
		*what = "attaching to sched_process_exit";
		return -errno;
	}
	if (bpf_program__autoload(skel->progs.smolder_mmap_exec)) {
		skel->links.smolder_mmap_exec = bpf_program__attach(skel->progs.smolder_mmap_exec);
		if (!skel->links.smolder_mmap_exec)
			log_warn("not watching for dlopen (attaching fentry/vm_mmap_pgoff: %s)",
				 strerror(errno));
	}
	return 0;
}

/* Keeps the exec and exit programs of one kind, BTF or raw tracepoints:
 * only those are loaded. */
static void choose_tracepoints(struct proc_events *e)
{
	struct events_bpf *skel = e->skel;

	e->exec_prog = e->raw_tracepoints ? skel->progs.smolder_exec_rt : skel->progs.smolder_exec;
	e->exit_prog = e->raw_tracepoints ? skel->progs.smolder_exit_rt : skel->progs.smolder_exit;
	bpf_program__set_autoload(skel->progs.smolder_exec, !e->raw_tracepoints);
	bpf_program__set_autoload(skel->progs.smolder_exit, !e->raw_tracepoints);
	bpf_program__set_autoload(skel->progs.smolder_exec_rt, e->raw_tracepoints);
	bpf_program__set_autoload(skel->progs.smolder_exit_rt, e->raw_tracepoints);
}

/* Opens and loads the programs on the sampler's maps, with or without the
 * dlopen watch: it is an fentry program, which some kernels refuse even
 * when the probe's took (no ftrace direct calls on that function), and the
 * rest works without it. */
static int load_programs(struct proc_events *e, const struct sampler *s, bool watch_mmap,
			 const char **what)
{
	int err;

	events_bpf__destroy(e->skel);
	e->skel = events_bpf__open();
	if (!e->skel) {
		*what = "opening the process-event BPF object";
		return -errno;
	}
	err = reuse_shared_maps(e->skel, s);
	if (err) {
		*what = "sharing the sampler's maps with the process-event programs";
		return err;
	}
	choose_tracepoints(e);
	if (!watch_mmap)
		bpf_program__set_autoload(e->skel->progs.smolder_mmap_exec, false);
	err = events_bpf__load(e->skel);
	if (err)
		*what = "loading the process-event programs (exec/exit tracepoints)";
	return err;
}

void proc_events_program_names(const struct proc_events *e, char *buf, size_t len)
{
	snprintf(buf, len, "%s, %s%s", bpf_program__name(e->exec_prog),
		 bpf_program__name(e->exit_prog),
		 e->skel->links.smolder_mmap_exec ? ", smolder_mmap_exec" : "");
}

/* The kernel's mmap records, where it gives build-ids with them; without,
 * the agent works as before: a process gone before it was read has its
 * frames unnamed. */
static void open_mmap_records(struct proc_events *e)
{
	const char *what = "";
	int err;

	e->mmap_log = disc_mmap_log_new(MMAP_LOG_BYTES);
	if (!e->mmap_log)
		return;
	err = mmap_events_new(e->mmap_log, &e->mmaps, &what);
	if (err) {
		log_warn("not reading the kernel's mmap records (%s: %s): a process gone before "
			 "its /proc files are read has its frames unnamed", what, strerror(-err));
		disc_mmap_log_free(e->mmap_log);
		e->mmap_log = NULL;
	}
}

static int watch(int epfd, int fd)
{
	struct epoll_event ev = { .events = EPOLLIN };

	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) ? -errno : 0;
}

int proc_events_new(const struct sampler *s, struct disc_table *disc,
		    struct unwind_loader *unwind, const struct proc_events_opts *opts,
		    struct proc_events **out, const char **what)
{
	struct proc_events *e = calloc(1, sizeof(*e));
	int err;

	*what = "allocating";
	if (!e)
		return -ENOMEM;
	e->epfd = -1;
	e->disc = disc;
	e->unwind = unwind;
	e->n_cpus = libbpf_num_possible_cpus();
	e->raw_tracepoints = opts->raw_tracepoints;
	err = load_programs(e, s, opts->watch_mmap, what);
	if (err && opts->watch_mmap) {
		log_warn("not watching for dlopen (fentry/vm_mmap_pgoff: %s): new libraries are "
			 "found when their frames are named", strerror(-err));
		err = load_programs(e, s, false, what);
	}
	if (err)
		goto fail;
	err = attach_programs(e, what);
	if (err)
		goto fail;
	e->stats_fd = bpf_map__fd(e->skel->maps.event_stats);
	e->ranges_fd = bpf_map__fd(e->skel->maps.exec_ranges);
	{
		struct sampler_event_maps m;

		sampler_event_maps(s, &m);
		e->cgroup_paths_fd = m.cgroup_paths_fd;
	}
	e->rb = ring_buffer__new(bpf_map__fd(e->skel->maps.events), handle_event, e, NULL);
	if (!e->rb) {
		err = -errno;
		*what = "opening the event ring buffer";
		goto fail;
	}
	if (opts->mmap_records)
		open_mmap_records(e);
	e->epfd = epoll_create1(EPOLL_CLOEXEC);
	err = e->epfd < 0 ? -errno : watch(e->epfd, ring_buffer__epoll_fd(e->rb));
	if (!err && e->mmaps)
		err = watch(e->epfd, mmap_events_fd(e->mmaps));
	if (err) {
		*what = "polling the event buffers";
		goto fail;
	}
	*out = e;
	return 0;
fail:
	proc_events_free(e);
	return err;
}

void proc_events_free(struct proc_events *e)
{
	if (!e)
		return;
	if (e->epfd >= 0)
		close(e->epfd);
	mmap_events_free(e->mmaps);
	disc_mmap_log_free(e->mmap_log);
	free(e->exited);
	ring_buffer__free(e->rb);
	events_bpf__destroy(e->skel);
	free(e);
}

int proc_events_fd(const struct proc_events *e)
{
	return e->epfd;
}

int proc_events_consume(struct proc_events *e)
{
	/* The mappings first: a first sample's event, read next, may be of a
	 * process gone already, which takes them. */
	if (e->mmaps)
		mmap_events_consume(e->mmaps);
	return ring_buffer__consume(e->rb);
}

void proc_events_mmap_stats(const struct proc_events *e, struct proc_events_mmap_stats *st)
{
	struct disc_mmap_log_stats ls = { 0 };
	struct mmap_events_stats ms = { 0 };

	if (e->mmap_log)
		disc_mmap_log_get_stats(e->mmap_log, &ls);
	if (e->mmaps)
		mmap_events_get_stats(e->mmaps, &ms);
	st->dropped = ls.dropped + ms.lost + ms.no_build_id;
	st->bytes = ls.bytes;
}

int proc_events_take_stats(struct proc_events *e, uint64_t *sent, uint64_t *dropped)
{
	uint64_t totals[SMOLDER_EVENT_STAT_COUNT] = { 0 };
	__u64 *values = calloc((size_t)e->n_cpus, sizeof(*values));
	int err = 0;

	if (!values)
		return -ENOMEM;
	/* BPF only ever adds: report the growth since last time rather than
	 * zeroing counters that programs may be adding to right now. */
	for (__u32 i = 0; i < SMOLDER_EVENT_STAT_COUNT && !err; i++) {
		if (bpf_map_lookup_elem(e->stats_fd, &i, values)) {
			err = -errno;
			break;
		}
		for (int c = 0; c < e->n_cpus; c++)
			totals[i] += values[c];
	}
	free(values);
	if (err)
		return err;
	*sent = totals[SMOLDER_EVENT_STAT_SENT] - e->reported[SMOLDER_EVENT_STAT_SENT];
	*dropped = totals[SMOLDER_EVENT_STAT_DROPPED] - e->reported[SMOLDER_EVENT_STAT_DROPPED];
	memcpy(e->reported, totals, sizeof(totals));
	return 0;
}
