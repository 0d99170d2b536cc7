/* Loading, attaching and draining the sampling program (see sampler.h). */
#include "sampler.h"

#include <errno.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "memory_usage.h"
#include "sample.skel.h"
#include "sampler_internal.h"
#include "stack_copy.h"


static int perf_event_open_cpu_clock(int cpu, unsigned int rate)
{
	struct perf_event_attr attr = {
		.size = sizeof(attr),
		.type = PERF_TYPE_SOFTWARE,
		.config = PERF_COUNT_SW_CPU_CLOCK,
		.freq = 1,
		.sample_freq = rate,
	};

	return (int)syscall(SYS_perf_event_open, &attr, -1, cpu, -1,
			    PERF_FLAG_FD_CLOEXEC);
}

/* Parses a CPU list such as "0-3,6" into a bitmap of at most max CPUs. */
static int cpu_list_parse(const char *s, bool *online, int max)
{
	while (*s && *s != '\n') {
		char *end;
		long a = strtol(s, &end, 10), b = a;

		if (end == s || a < 0)
			return -EINVAL;
		if (*end == '-') {
			s = end + 1;
			b = strtol(s, &end, 10);
			if (end == s || b < a)
				return -EINVAL;
		}
		for (long c = a; c <= b && c < max; c++)
			online[c] = true;
		s = *end == ',' ? end + 1 : end;
	}
	return 0;
}

static int online_cpus(bool *online, int max)
{
	char buf[1024];
	FILE *f = fopen("/sys/devices/system/cpu/online", "re");
	int err = -EIO;

	if (!f)
		return -errno;
	if (fgets(buf, sizeof(buf), f))
		err = cpu_list_parse(buf, online, max);
	fclose(f);
	return err;
}

/* A kernel before 6.1 lets perf_event programs use preallocated hash maps
 * only. */
static int preallocate(struct bpf_map *m)
{
	return bpf_map__set_map_flags(m, bpf_map__map_flags(m) & ~(__u32)BPF_F_NO_PREALLOC);
}

static int resize_maps(struct sample_bpf *skel, const struct sampler_opts *o)
{
	struct bpf_map *counts[] = { skel->maps.counts_0, skel->maps.counts_1 };
	struct bpf_map *stacks[] = { skel->maps.kernel_stacks_0, skel->maps.kernel_stacks_1 };
	struct bpf_map *user[] = { skel->maps.user_stacks_0, skel->maps.user_stacks_1 };
	struct bpf_map *py[] = { skel->maps.py_stacks_0, skel->maps.py_stacks_1 };
	struct bpf_map *waits[] = { skel->maps.waits_0, skel->maps.waits_1 };
	int err = 0;

	for (int g = 0; g < SMOLDER_GENERATIONS && !err; g++) {
		if (o->count_map_entries)
			err = bpf_map__set_max_entries(counts[g], o->count_map_entries);
		if (!err && o->stack_map_entries)
			err = bpf_map__set_max_entries(stacks[g], o->stack_map_entries);
		if (!err && o->stack_map_entries)
			err = bpf_map__set_max_entries(user[g], o->stack_map_entries);
		if (!err && o->stack_map_entries)
			err = bpf_map__set_max_entries(py[g], o->stack_map_entries);
		if (!err && o->preallocate_maps)
			err = preallocate(py[g]);
		if (!err && o->preallocate_maps)
			err = preallocate(counts[g]);
		if (!err && o->preallocate_maps)
			err = preallocate(user[g]);
		if (!err && o->preallocate_maps)
			err = preallocate(stacks[g]);
		if (!err && o->count_map_entries)
			err = bpf_map__set_max_entries(waits[g], o->count_map_entries);
		if (!err && o->preallocate_maps)
			err = preallocate(waits[g]);
	}
	if (!err && o->preallocate_maps)
		err = preallocate(skel->maps.pending);
	if (!err && o->preallocate_maps)
		err = preallocate(skel->maps.exec_ranges);
	if (!err && o->preallocate_maps)
		err = preallocate(skel->maps.py_procs);
	if (!err && o->unwind_rows)
		err = bpf_map__set_max_entries(skel->maps.unwind_rows, o->unwind_rows);
	/* The smallest ring buffer there is, when nothing is sent to it. */
	if (!err && (o->walk_frame_pointers || !o->stack_copies_per_sec))
		err = bpf_map__set_max_entries(skel->maps.stack_copies, (__u32)sysconf(_SC_PAGESIZE));
	else if (!err)
		err = bpf_map__set_max_entries(skel->maps.copy_scratch,
					       (__u32)libbpf_num_possible_cpus());
	return err;
}

static int fill_pid_filter(struct sample_bpf *skel, const int *pids, size_t n)
{
	int fd = bpf_map__fd(skel->maps.pid_filter);
	__u8 yes = 1;

	if (n > SMOLDER_PID_FILTER_ENTRIES)
		return -E2BIG;
	for (size_t i = 0; i < n; i++) {
		__u32 pid = (__u32)pids[i];
		if (bpf_map_update_elem(fd, &pid, &yes, BPF_ANY))
			return -errno;
	}
	return 0;
}

static int attach_all_cpus(struct sampler *s, unsigned int rate, const char **what)
{
	int max = s->n_possible_cpus;
	bool *online = calloc((size_t)max, sizeof(*online));
	int err;

	s->links = calloc((size_t)max, sizeof(*s->links));
	s->perf_fds = calloc((size_t)max, sizeof(*s->perf_fds));
	if (!online || !s->links || !s->perf_fds) {
		free(online);
		return -ENOMEM;
	}
	err = online_cpus(online, max);
	if (err) {
		*what = "reading /sys/devices/system/cpu/online";
		goto out;
	}
	for (int cpu = 0; cpu < max; cpu++) {
		struct bpf_link *link;
		int fd;

		if (!online[cpu])
			continue;
		fd = perf_event_open_cpu_clock(cpu, rate);
		if (fd < 0) {
			err = -errno;
			*what = "perf_event_open (software CPU clock)";
			goto out;
		}
		link = bpf_program__attach_perf_event(s->prog, fd);
		if (!link) {
			err = -errno;
			close(fd);
			*what = "attaching the perf_event program";
			goto out;
		}
		s->perf_fds[s->n_cpus] = fd;
		s->links[s->n_cpus++] = link;
	}
	if (!s->n_cpus) {
		err = -ENODEV;
		*what = "finding an online CPU";
	}
out:
	free(online);
	return err;
}

/* Of the four sampling programs (CFI walk or frame pointers; user registers
 * from bpf_task_pt_regs or the kernel stack), keeps the one the kernel's
 * features call for: only it is loaded. */
static struct bpf_program *choose_program(struct sample_bpf *skel, const struct sampler_opts *o)
{
	struct bpf_program *all[] = {
		skel->progs.smolder_cfi, skel->progs.smolder_cfi_ks,
		skel->progs.smolder_fp, skel->progs.smolder_fp_ks,
	};
	struct bpf_program *chosen =
		all[(o->walk_frame_pointers ? 2 : 0) + (o->regs_from_kernel_stack ? 1 : 0)];

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		bpf_program__set_autoload(all[i], all[i] == chosen);
	return chosen;
}

/* Of the four sched_switch programs (CFI walk or frame pointers; tp_btf or
 * raw tracepoint), keeps the one the kernel calls for, or none when no
 * profile type needs it. */
static struct bpf_program *choose_offcpu_program(struct sample_bpf *skel,
						 const struct sampler_opts *o)
{
	struct bpf_program *all[] = {
		skel->progs.smolder_off_cfi, skel->progs.smolder_off_cfi_r,
		skel->progs.smolder_off_fp, skel->progs.smolder_off_fp_r,
	};
	struct bpf_program *chosen =
		o->offcpu_types ? all[(o->walk_frame_pointers ? 2 : 0) + (o->raw_tracepoints ? 1 : 0)]
				: NULL;

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		bpf_program__set_autoload(all[i], all[i] == chosen);
	return chosen;
}

static void set_offcpu_options(struct sample_bpf *skel, const struct sampler_opts *o)
{
	skel->rodata->offcpu_types = o->offcpu_types;
	skel->rodata->offcpu_threshold = o->offcpu_threshold;
	skel->rodata->offcpu_min_block_ns = o->offcpu_min_block_ns;
	skel->rodata->offcpu_regs_from_kernel_stack = o->regs_from_kernel_stack;
}

const char *sampler_program_name(const struct sampler *s)
{
	return bpf_program__name(s->prog);
}

int sampler_new(const struct sampler_opts *opts, struct sampler **out, const char **what)
{
	struct sampler *s = calloc(1, sizeof(*s));
	int err;

	*what = "allocating";
	if (!s)
		return -ENOMEM;
	s->n_possible_cpus = libbpf_num_possible_cpus();
	if (s->n_possible_cpus <= 0) {
		err = s->n_possible_cpus ? s->n_possible_cpus : -EINVAL;
		*what = "counting possible CPUs";
		goto fail;
	}
	s->skel = sample_bpf__open();
	if (!s->skel) {
		err = -errno;
		*what = "opening the BPF object";
		goto fail;
	}
	s->skel->rodata->filter_by_pid = opts->n_pids > 0;
	s->skel->rodata->include_idle = opts->include_idle;
	s->copies = !opts->walk_frame_pointers && opts->stack_copies_per_sec;
	s->walk_fp = opts->walk_frame_pointers;
	if (s->copies) {
		long cpus = sysconf(_SC_NPROCESSORS_ONLN);
		unsigned int each = opts->stack_copies_per_sec / (unsigned int)(cpus > 0 ? cpus : 1);

		s->skel->rodata->copies_per_sec = each ? each : 1;
	}
	err = resize_maps(s->skel, opts);
	if (err) {
		*what = "sizing the BPF maps";
		goto fail;
	}
	s->prog = choose_program(s->skel, opts);
	s->offcpu_prog = choose_offcpu_program(s->skel, opts);
	set_offcpu_options(s->skel, opts);
	sampler_memory_choose(s, opts);
	s->offcpu_min_block_ns = opts->offcpu_min_block_ns;
	s->no_cpu_clock = opts->no_cpu_clock;
	err = sample_bpf__load(s->skel);
	if (err) {
		*what = "loading the BPF program (run with --log-level debug for the verifier's log)";
		goto fail;
	}
	err = sampler_memory_fill_draws(s, opts->memory_sample_bytes);
	if (err) {
		*what = "filling the memory sampling draws";
		goto fail;
	}
	err = fill_pid_filter(s->skel, opts->pids, opts->n_pids);
	if (err) {
		*what = "filling the --pid filter";
		goto fail;
	}
	s->sample_rate = opts->sample_rate;
	*out = s;
	return 0;
fail:
	sampler_free(s);
	return err;
}

int sampler_start(struct sampler *s, const char **what)
{
	int err = s->no_cpu_clock ? 0 : attach_all_cpus(s, s->sample_rate, what);

	if (err)
		return err;
	err = sampler_memory_start(s);
	if (err) {
		*what = "attaching the fork program (memory profiles)";
		return err;
	}
	if (!s->offcpu_prog)
		return 0;
	s->offcpu_link = bpf_program__attach(s->offcpu_prog);
	if (!s->offcpu_link) {
		*what = "attaching the sched_switch program (offcpu, mutex profiles)";
		return -errno;
	}
	return 0;
}

const char *sampler_offcpu_program_name(const struct sampler *s)
{
	return s->offcpu_prog ? bpf_program__name(s->offcpu_prog) : NULL;
}

void sampler_leave_out(struct sampler *s, int pid)
{
	s->skel->bss->agent_tgid = (__u32)pid;
}

void sampler_free(struct sampler *s)
{
	if (!s)
		return;
	bpf_link__destroy(s->offcpu_link);
	bpf_link__destroy(s->memory_fork_link);
	for (size_t i = 0; i < s->n_cpus; i++) {
		bpf_link__destroy(s->links[i]);
		close(s->perf_fds[i]);
	}
	free(s->links);
	free(s->perf_fds);
	sample_bpf__destroy(s->skel);
	free(s);
}

void sampler_event_maps(const struct sampler *s, struct sampler_event_maps *m)
{
	m->events_fd = bpf_map__fd(s->skel->maps.events);
	m->seen_fd = bpf_map__fd(s->skel->maps.seen);
	m->event_stats_fd = bpf_map__fd(s->skel->maps.event_stats);
	m->exec_ranges_fd = bpf_map__fd(s->skel->maps.exec_ranges);
	m->cgroup_paths_fd = bpf_map__fd(s->skel->maps.cgroup_paths);
}

size_t sampler_cpu_count(const struct sampler *s)
{
	return s->n_cpus;
}

static int counts_fd(struct sampler *s, unsigned int gen)
{
	return bpf_map__fd(gen ? s->skel->maps.counts_1 : s->skel->maps.counts_0);
}

int sampler_kernel_stacks_fd(const struct sampler *s, unsigned int gen)
{
	return bpf_map__fd(gen ? s->skel->maps.kernel_stacks_1 : s->skel->maps.kernel_stacks_0);
}

int sampler_user_stacks_fd(const struct sampler *s, unsigned int gen)
{
	return bpf_map__fd(gen ? s->skel->maps.user_stacks_1 : s->skel->maps.user_stacks_0);
}

int sampler_py_stacks_fd(const struct sampler *s, unsigned int gen)
{
	return bpf_map__fd(gen ? s->skel->maps.py_stacks_1 : s->skel->maps.py_stacks_0);
}

/* Makes every program that read the old generation finish: updating a
 * map-in-map makes the kernel wait for an RCU grace period, and perf_event
 * programs run inside RCU read-side sections. */
static int wait_for_running_programs(struct sampler *s)
{
	int outer = bpf_map__fd(s->skel->maps.drain_barrier);
	int inner = bpf_map__fd(s->skel->maps.barrier_inner);
	__u32 zero = 0;

	return bpf_map_update_elem(outer, &zero, &inner, BPF_ANY) ? -errno : 0;
}

static int read_stats(struct sampler *s, unsigned int gen, uint64_t *stats)
{
	int fd = bpf_map__fd(s->skel->maps.stats);
	size_t ncpu = (size_t)s->n_possible_cpus;
	__u64 *values = calloc(ncpu, sizeof(*values));
	int err = 0;

	if (!values)
		return -ENOMEM;
	for (__u32 i = 0; i < SMOLDER_STAT_COUNT && !err; i++) {
		__u32 idx = gen * SMOLDER_STAT_COUNT + i;

		stats[i] = 0;
		if (bpf_map_lookup_elem(fd, &idx, values)) {
			err = -errno;
			break;
		}
		for (size_t c = 0; c < ncpu; c++)
			stats[i] += values[c];
		memset(values, 0, ncpu * sizeof(*values));
		if (bpf_map_update_elem(fd, &idx, values, BPF_ANY))
			err = -errno;
	}
	free(values);
	return err;
}

/* Entries read and deleted per system call: a drain of a busy host's
 * thousands of entries took four calls per entry, each microseconds on a
 * VM, where batches take one call per this many. */
#define DRAIN_BATCH 256

/* Room in d for n more entries. */
int sampler_reserve_entries(struct sampler_drain *d, size_t *cap, size_t n)
{
	size_t ncap = *cap ? *cap : 256;
	struct sampler_entry *v;

	if (d->n + n <= *cap)
		return 0;
	while (ncap < d->n + n)
		ncap *= 2;
	v = realloc(d->entries, ncap * sizeof(*v));
	if (!v)
		return -ENOMEM;
	d->entries = v;
	*cap = ncap;
	return 0;
}

/* How a map's values become entries: a count map's samples, or a wait
 * map's blocks and time. */
typedef void (*entry_from_value)(struct sampler_entry *e, const void *value);

static void entry_from_count(struct sampler_entry *e, const void *value)
{
	memcpy(&e->count, value, sizeof(e->count));
	e->ns = 0;
}

static void entry_from_wait(struct sampler_entry *e, const void *value)
{
	struct smolder_wait w;

	memcpy(&w, value, sizeof(w));
	e->count = w.count;
	e->ns = w.ns;
}

/* The largest value of a map drained into entries. */
#define ENTRY_VALUE_MAX sizeof(struct smolder_wait)

/* Reads and deletes the entries of a map keyed by count keys in batches
 * (Linux 5.6). 0: the map is empty; otherwise the error that stopped it (a
 * kernel without batch operations: EINVAL, ENOTSUPP), what was read kept
 * in d. */
static int read_entries_batched(int fd, size_t value_size, entry_from_value put,
				struct sampler_drain *d, size_t *cap)
{
	struct smolder_count_key keys[DRAIN_BATCH];
	unsigned char values[DRAIN_BATCH * ENTRY_VALUE_MAX];
	__u64 batch = 0;
	void *in = NULL;

	for (;;) {
		__u32 n = DRAIN_BATCH;
		int err = sampler_reserve_entries(d, cap, DRAIN_BATCH);

		if (err)
			return err;
		err = bpf_map_lookup_and_delete_batch(fd, in, &batch, keys, values, &n, NULL);
		if (err && errno != ENOENT)
			return -errno;
		for (__u32 i = 0; i < n && i < DRAIN_BATCH; i++) {
			d->entries[d->n].key = keys[i];
			put(&d->entries[d->n++], values + i * value_size);
		}
		if (err)
			return 0; /* ENOENT: the last bucket was read */
		in = &batch;
	}
}

/* Reads and deletes every entry of a (no longer written) map of count
 * keys: in batches, else (or for what a failed batch left) one at a time. */
static int read_entries(int fd, size_t value_size, entry_from_value put,
			struct sampler_drain *d, size_t *cap)
{
	struct smolder_count_key key, next;
	unsigned char value[ENTRY_VALUE_MAX];
	size_t from;
	void *prev = NULL;
	int err = read_entries_batched(fd, value_size, put, d, cap);

	if (err == 0 || err == -ENOMEM)
		return err;
	from = d->n;
	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		if (sampler_reserve_entries(d, cap, 1))
			return -ENOMEM;
		if (bpf_map_lookup_elem(fd, &next, value) == 0) {
			d->entries[d->n].key = next;
			put(&d->entries[d->n++], value);
		}
		key = next;
		prev = &key;
	}
	for (size_t i = from; i < d->n; i++)
		bpf_map_delete_elem(fd, &d->entries[i].key);
	return 0;
}

static int waits_fd(struct sampler *s, unsigned int gen)
{
	return bpf_map__fd(gen ? s->skel->maps.waits_1 : s->skel->maps.waits_0);
}

static uint64_t monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts); /* bpf_ktime_get_ns's clock */
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* A block's time up to the cut, as the entries it is counted under. */
static int add_cut_piece(struct sampler_drain *d, size_t *cap, const struct smolder_pending *p,
			 uint64_t ns)
{
	int err = sampler_reserve_entries(d, cap, 2);

	if (err)
		return err;
	if (p->flags & SMOLDER_PENDING_OFFCPU)
		d->entries[d->n++] = (struct sampler_entry){ .key = p->key, .ns = ns };
	if (p->flags & (SMOLDER_PENDING_MUTEX | SMOLDER_PENDING_MUTEX_MAYBE)) {
		d->entries[d->n] = (struct sampler_entry){ .key = p->key, .ns = ns };
		d->entries[d->n++].key.kind = (p->flags & SMOLDER_PENDING_MUTEX)
						      ? SMOLDER_KIND_MUTEX
						      : SMOLDER_KIND_MUTEX_MAYBE;
	}
	return 0;
}

/* A stack of the old generation's map into the new one's, under its key. */
void sampler_copy_stack(int from, int to, uint64_t key, void *buf)
{
	if (key && bpf_map_lookup_elem(from, &key, buf) == 0)
		bpf_map_update_elem(to, &key, buf, BPF_NOEXIST);
}

/* Takes the pending entry of tid (the agent's alone from here: a switch-in
 * that comes now finds none); -ENOENT when the thread came back first. */
static int take_pending(int fd, __u32 tid, struct smolder_pending *p)
{
	if (bpf_map_lookup_and_delete_elem(fd, &tid, p) == 0)
		return 0;
	if (errno == ENOENT)
		return -ENOENT;
	/* Before Linux 5.14 hash maps have no lookup-and-delete: a delete
	 * that fails says the program took it in between. */
	if (bpf_map_lookup_elem(fd, &tid, p) || bpf_map_delete_elem(fd, &tid))
		return -ENOENT;
	return 0;
}

/* Cuts the blocks still off the CPU at the flip (cut_ns): their stacks go
 * to the new generation, they go back to the pending map as of the flip,
 * and their time up to it into d (offcpu.h). The stacks are copied before
 * the entry is taken, so that it is out of the map for two system calls
 * only: a thread that comes back meanwhile finds none (its block is
 * counted up to the cut), and the entry put back is deleted at its next
 * switch-out (offcpu_stale). */
static int cut_pending(struct sampler *s, struct sampler_drain *d, size_t *cap, uint64_t cut_ns)
{
	int fd = bpf_map__fd(s->skel->maps.pending);
	size_t max = bpf_map__max_entries(s->skel->maps.pending), n = 0;
	__u32 *tids = malloc(max * sizeof(*tids)), key, next;
	void *buf = malloc(sizeof(struct smolder_py_stack)), *prev = NULL;
	int err = tids && buf ? 0 : -ENOMEM;
	struct smolder_pending seen, p;

	while (!err && n < max && bpf_map_get_next_key(fd, prev, &next) == 0) {
		tids[n++] = next;
		key = next;
		prev = &key;
	}
	for (size_t i = 0; i < n && !err; i++) {
		if (bpf_map_lookup_elem(fd, &tids[i], &seen) || seen.gen != d->gen)
			continue; /* gone, or left after the flip */
		sampler_copy_stack(sampler_user_stacks_fd(s, d->gen),
				   sampler_user_stacks_fd(s, s->gen), seen.key.user_stack, buf);
		sampler_copy_stack(sampler_kernel_stacks_fd(s, d->gen),
				   sampler_kernel_stacks_fd(s, s->gen), seen.key.kernel_stack, buf);
		sampler_copy_stack(sampler_py_stacks_fd(s, d->gen),
				   sampler_py_stacks_fd(s, s->gen), seen.key.py_stack, buf);
		if (take_pending(fd, tids[i], &p))
			continue; /* the thread came back: the program counted it */
		if (p.gen != d->gen || p.start_ns != seen.start_ns) {
			/* Another block of the thread, left after the flip. */
			if (bpf_map_update_elem(fd, &tids[i], &p, BPF_NOEXIST))
				d->offcpu_cut_lost++;
			continue;
		}
		p.gen = s->gen;
		if (cut_ns > p.from_ns) {
			uint64_t ns = cut_ns - p.from_ns;

			p.from_ns = cut_ns;
			if (bpf_map_update_elem(fd, &tids[i], &p, BPF_NOEXIST))
				d->offcpu_cut_lost++; /* it came back and left again meanwhile */
			if (!s->offcpu_min_block_ns || cut_ns - p.start_ns >= s->offcpu_min_block_ns)
				err = add_cut_piece(d, cap, &p, ns);
		} else if (bpf_map_update_elem(fd, &tids[i], &p, BPF_NOEXIST)) {
			d->offcpu_cut_lost++;
		}
		d->offcpu_cut++;
	}
	d->offcpu_pending = n;
	free(tids);
	free(buf);
	return err;
}

int sampler_drain(struct sampler *s, struct sampler_drain *d)
{
	unsigned int old = s->gen;
	uint64_t cut_ns = monotonic_ns();
	size_t cap = 0;
	int err;

	memset(d, 0, sizeof(*d));
	d->gen = old;
	s->gen = old ^ 1;
	__atomic_store_n(&s->skel->bss->generation_start_ns[s->gen], cut_ns, __ATOMIC_SEQ_CST);
	__atomic_store_n(&s->skel->bss->generation, s->gen, __ATOMIC_SEQ_CST);
	err = wait_for_running_programs(s);
	if (err)
		return err;
	err = read_entries(counts_fd(s, old), sizeof(__u64), entry_from_count, d, &cap);
	if (!err && s->offcpu_prog) {
		err = cut_pending(s, d, &cap, cut_ns);
		/* A switch-in that took an entry before the cut may still be
		 * counting its time in the old generation. */
		if (!err)
			err = wait_for_running_programs(s);
		if (!err)
			err = read_entries(waits_fd(s, old), sizeof(struct smolder_wait),
					   entry_from_wait, d, &cap);
	} else if (!err && s->memory_ret) {
		err = read_entries(waits_fd(s, old), sizeof(struct smolder_wait),
				   entry_from_wait, d, &cap);
	}
	if (!err && s->memory_ret)
		err = sampler_memory_read_live(s, d, &cap);
	return err ? err : read_stats(s, old, d->stats);
}

int sampler_read_kernel_stack(struct sampler *s, const struct sampler_drain *d, uint64_t key,
			      uint64_t *ips, size_t max)
{
	struct smolder_kernel_stack st;
	size_t n = 0;

	if (key == 0)
		return 0;
	if (bpf_map_lookup_elem(sampler_kernel_stacks_fd(s, d->gen), &key, &st))
		return -errno;
	while (n < st.len && n < SMOLDER_MAX_STACK_DEPTH && n < max) {
		ips[n] = st.pcs[n];
		n++;
	}
	return (int)n;
}

int sampler_read_user_stack(struct sampler *s, const struct sampler_drain *d, uint64_t key,
			    uint64_t *ips, size_t max, unsigned int *end)
{
	struct smolder_user_stack st;
	size_t n = 0;

	*end = SMOLDER_UNWIND_END_STOP;
	if (key == 0)
		return 0;
	if (bpf_map_lookup_elem(sampler_user_stacks_fd(s, d->gen), &key, &st))
		return -errno;
	while (n < st.len && n < SMOLDER_MAX_STACK_DEPTH && n < max) {
		ips[n] = st.pcs[n];
		n++;
	}
	*end = st.end;
	return (int)n;
}

int sampler_read_py_stack(struct sampler *s, const struct sampler_drain *d, uint64_t key,
			  struct smolder_py_frame *frames, size_t max, unsigned int *end)
{
	struct smolder_py_stack *st;
	size_t n = 0;

	*end = SMOLDER_PY_END_WHOLE;
	if (key == 0)
		return 0;
	st = malloc(sizeof(*st)); /* 2 KiB: not on the stack of the drain */
	if (!st)
		return -ENOMEM;
	if (bpf_map_lookup_elem(sampler_py_stacks_fd(s, d->gen), &key, st)) {
		int err = -errno;

		free(st);
		return err;
	}
	while (n < st->len && n < SMOLDER_PY_MAX_FRAMES && n < max) {
		frames[n] = st->frames[n];
		n++;
	}
	*end = st->end;
	free(st);
	return (int)n;
}

int sampler_py_procs_fd(const struct sampler *s)
{
	return s->walk_fp ? -1 : bpf_map__fd(s->skel->maps.py_procs);
}

/* Stack entries deleted per system call: their values (a kilobyte each)
 * come back too, into a scratch buffer small enough for the heap to reuse
 * (a larger one would be mapped afresh, and page faults cost more here
 * than the calls saved). */
#define CLEAR_BATCH 32

/* Deletes a stack map's entries in batches of CLEAR_BATCH; false if the
 * kernel would not (no batch operations, a bucket larger than a batch, no
 * memory), what is left to clear_map. */
static bool clear_stacks_batched(int fd, size_t value_size)
{
	__u64 keys[CLEAR_BATCH], batch = 0;
	void *values = malloc(value_size * CLEAR_BATCH), *in = NULL;
	int err = values ? 0 : ENOMEM;

	while (!err) {
		__u32 n = CLEAR_BATCH;

		if (bpf_map_lookup_and_delete_batch(fd, in, &batch, keys, values, &n, NULL))
			err = errno;
		in = &batch;
	}
	free(values);
	return err == ENOENT; /* the last bucket was read */
}

/* Deletes every entry of a map whose keys are key_size bytes. */
static void clear_map(int fd, size_t key_size)
{
	uint64_t key[2], next[2]; /* room for the largest key here */
	void *prev = NULL;

	if (key_size > sizeof(key))
		return;
	/* Deleting the current key would lose our place: delete behind us. */
	while (bpf_map_get_next_key(fd, prev, next) == 0) {
		if (prev)
			bpf_map_delete_elem(fd, key);
		memcpy(key, next, key_size);
		prev = key;
	}
	if (prev)
		bpf_map_delete_elem(fd, key);
}

void sampler_drain_release(struct sampler *s, struct sampler_drain *d)
{
	if (!clear_stacks_batched(sampler_kernel_stacks_fd(s, d->gen),
				  sizeof(struct smolder_kernel_stack)))
		clear_map(sampler_kernel_stacks_fd(s, d->gen), sizeof(__u64));
	if (!clear_stacks_batched(sampler_user_stacks_fd(s, d->gen),
				  sizeof(struct smolder_user_stack)))
		clear_map(sampler_user_stacks_fd(s, d->gen), sizeof(__u64));
	if (!clear_stacks_batched(sampler_py_stacks_fd(s, d->gen), sizeof(struct smolder_py_stack)))
		clear_map(sampler_py_stacks_fd(s, d->gen), sizeof(__u64));
	free(d->entries);
	memset(d, 0, sizeof(*d));
}

int sampler_stack_copies_fd(const struct sampler *s)
{
	return s->copies ? bpf_map__fd(s->skel->maps.stack_copies) : -1;
}

#define FNV_PRIME 0x100000001b3ULL
#define FNV_OFFSET 0xcbf29ce484222325ULL

int sampler_add_user_stack(struct sampler *s, const struct sampler_drain *d,
			   const struct smolder_user_stack *st, uint64_t *key)
{
	uint64_t h = FNV_OFFSET;

	/* As bpf/unwind.bpf.h's push_frame and walk_finish hash a walk: the
	 * same stack gets the same key, wherever it was walked. */
	for (uint32_t i = 0; i < st->len && i < SMOLDER_MAX_STACK_DEPTH; i++)
		h = (h ^ st->pcs[i]) * FNV_PRIME;
	h = (h ^ st->end) * FNV_PRIME;
	if (h == 0)
		h = 1;
	if (bpf_map_update_elem(sampler_user_stacks_fd(s, d->gen), &h, st, BPF_NOEXIST) &&
	    errno != EEXIST)
		return -errno;
	*key = h;
	return 0;
}

void sampler_unwind_maps(const struct sampler *s, int *rows_fd, int *procs_fd,
			 uint32_t *max_rows)
{
	*rows_fd = bpf_map__fd(s->skel->maps.unwind_rows);
	*procs_fd = bpf_map__fd(s->skel->maps.unwind_procs);
	*max_rows = bpf_map__max_entries(s->skel->maps.unwind_rows);
}

uint64_t sampler_map_bytes(const struct sampler *s)
{
	const struct bpf_map *map;
	uint64_t total = 0, bytes;

	bpf_object__for_each_map(map, s->skel->obj)
		if (bpf_map__fd(map) >= 0 && memory_bpf_map_bytes(bpf_map__fd(map), &bytes) == 0)
			total += bytes;
	return total;
}
