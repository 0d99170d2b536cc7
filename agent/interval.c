/* Closing an interval (see interval.h): the one place where BPF's counts
 * become profiles, and where the books are balanced: every sample BPF took
 * is either profiled or counted as lost for a named reason.
 */
#include "interval.h"
#include "python_frames.h"

#include <errno.h>
#include <malloc.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "frames.h"
#include "memory_targets.h"
#include "log.h"
#include "memory_usage.h"
#include "output.h"
#include "profile_set.h"

#define MAX_FRAMES (2 * SMOLDER_MAX_STACK_DEPTH)
/* What naming frames may take of an interval's close: the rest of the
 * second an interval may be late is for writing and handing over. */
#define SYMBOLIZE_BUDGET_NS (800ULL * 1000000ULL)
/* What the tables of the processes whose stacks BPF copied may take at a
 * drain, if they are still being built (cc1's: 0.3 s). */
#define COPIES_BUDGET_NS (500ULL * 1000000ULL)

static uint64_t monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void count_bpf_stats(struct counters *c, const uint64_t *stats)
{
	counters_add(c, CTR_SAMPLES_TAKEN, stats[SMOLDER_STAT_TAKEN]);
	counters_add(c, CTR_SAMPLES_FILTERED, stats[SMOLDER_STAT_FILTERED]);
	counters_add(c, CTR_LOST_STACK_COLLISION, stats[SMOLDER_STAT_LOST_STACK_COLLISION]);
	counters_add(c, CTR_LOST_COUNT_MAP_FULL, stats[SMOLDER_STAT_LOST_COUNT_MAP_FULL]);
	counters_add(c, CTR_LOST_STACK_READ, stats[SMOLDER_STAT_LOST_STACK_READ]);
	counters_add(c, CTR_STACK_COPIES_SENT, stats[SMOLDER_STAT_COPIES_SENT]);
	counters_add(c, CTR_STACK_COPIES_DROPPED, stats[SMOLDER_STAT_COPIES_DROPPED]);
	counters_add(c, CTR_PYTHON_SAMPLES, stats[SMOLDER_STAT_PY_FRAMES]);
	counters_add(c, CTR_PYTHON_NO_FRAMES, stats[SMOLDER_STAT_PY_NO_FRAMES]);
	counters_add(c, CTR_PYTHON_DROPPED, stats[SMOLDER_STAT_PY_DROPPED]);
	counters_add(c, CTR_OFFCPU_SWITCHES, stats[SMOLDER_STAT_OFFCPU_SWITCHES]);
	counters_add(c, CTR_OFFCPU_SAMPLED, stats[SMOLDER_STAT_OFFCPU_SAMPLED]);
	counters_add(c, CTR_OFFCPU_STORED, stats[SMOLDER_STAT_OFFCPU_STORED]);
	counters_add(c, CTR_OFFCPU_LOST_PENDING_FULL, stats[SMOLDER_STAT_OFFCPU_LOST_PENDING_FULL]);
	counters_add(c, CTR_OFFCPU_LOST_STACK_COLLISION,
		     stats[SMOLDER_STAT_OFFCPU_LOST_STACK_COLLISION]);
	counters_add(c, CTR_OFFCPU_LOST_STACK_READ, stats[SMOLDER_STAT_OFFCPU_LOST_STACK_READ]);
	counters_add(c, CTR_OFFCPU_ENDED, stats[SMOLDER_STAT_OFFCPU_ENDED]);
	counters_add(c, CTR_OFFCPU_SHORT, stats[SMOLDER_STAT_OFFCPU_SHORT]);
	counters_add(c, CTR_OFFCPU_LOST_WAIT_MAP_FULL, stats[SMOLDER_STAT_OFFCPU_LOST_WAIT_MAP_FULL]);
	counters_add(c, CTR_OFFCPU_STALE, stats[SMOLDER_STAT_OFFCPU_STALE]);
	counters_add(c, CTR_MUTEX_WAITS, stats[SMOLDER_STAT_MUTEX_WAITS]);
	counters_add(c, CTR_MUTEX_SAMPLED, stats[SMOLDER_STAT_MUTEX_SAMPLED]);
	counters_add(c, CTR_MALLOC_CALLS, stats[SMOLDER_STAT_MEMORY_CALLS]);
	counters_add(c, CTR_MALLOC_NESTED, stats[SMOLDER_STAT_MEMORY_NESTED]);
	counters_add(c, CTR_MALLOC_NO_THREAD, stats[SMOLDER_STAT_MEMORY_NO_THREAD]);
	counters_add(c, CTR_MALLOC_SAMPLED, stats[SMOLDER_STAT_MEMORY_SAMPLED]);
	counters_add(c, CTR_MALLOC_STORED, stats[SMOLDER_STAT_MEMORY_STORED]);
	counters_add(c, CTR_MALLOC_FAILED, stats[SMOLDER_STAT_MEMORY_FAILED]);
	counters_add(c, CTR_MALLOC_LOST_STACK_COLLISION,
		     stats[SMOLDER_STAT_MEMORY_LOST_STACK_COLLISION]);
	counters_add(c, CTR_MALLOC_LOST_STACK_READ, stats[SMOLDER_STAT_MEMORY_LOST_STACK_READ]);
	counters_add(c, CTR_MALLOC_LOST_WAIT_MAP_FULL,
		     stats[SMOLDER_STAT_MEMORY_LOST_WAIT_MAP_FULL]);
	counters_add(c, CTR_MALLOC_LIVE_FULL, stats[SMOLDER_STAT_MEMORY_LIVE_FULL]);
	counters_add(c, CTR_MALLOC_FREED, stats[SMOLDER_STAT_MEMORY_FREED]);
}

/* The profile a count key's kind goes to. */
static enum profile_type kind_profile(uint32_t kind)
{
	switch (kind) {
	case SMOLDER_KIND_OFFCPU_SLEEP:
	case SMOLDER_KIND_OFFCPU_IO:
	case SMOLDER_KIND_OFFCPU_RUNQUEUE:
		return PROFILE_OFFCPU;
	case SMOLDER_KIND_MUTEX:
	case SMOLDER_KIND_MUTEX_MAYBE:
		return PROFILE_MUTEX;
	case SMOLDER_KIND_MEMORY_ALLOC:
	case SMOLDER_KIND_MEMORY_INUSE:
		return PROFILE_MEMORY;
	}
	return PROFILE_CPU;
}

/* The cuts of blocks under way at the drain (sampler.h). */
static void count_cuts(struct counters *c, const struct sampler_drain *d)
{
	counters_add(c, CTR_OFFCPU_CUT, d->offcpu_cut);
	counters_add(c, CTR_OFFCPU_CUT_LOST, d->offcpu_cut_lost);
	counters_set(c, CTR_OFFCPU_PENDING, d->offcpu_pending);
	counters_set(c, CTR_MALLOC_LIVE, d->memory_live);
}

/* Where an entry's quantity goes in the books of its type: CPU samples,
 * off-CPU nanoseconds, or contentions, by fate (profiled, dropped by a
 * rule, or lost for a reason the CPU books name). */
static void count_fate(struct counters *c, const struct sampler_entry *e, enum counter_id fate)
{
	enum profile_type t = kind_profile(e->key.kind);

	if (t == PROFILE_CPU) {
		counters_add(c, fate, e->count);
		return;
	}
	if (t == PROFILE_OFFCPU) {
		counters_add(c, CTR_OFFCPU_NS, e->ns);
		counters_add(c, fate == CTR_SAMPLES_PROFILED  ? CTR_OFFCPU_PROFILED_NS
				: fate == CTR_SAMPLES_DROPPED ? CTR_OFFCPU_DROPPED_NS
							      : CTR_OFFCPU_LOST_NS,
			     e->ns);
		return;
	}
	if (t == PROFILE_MEMORY) {
		/* What is held is no new sample: the books count allocations. */
		if (e->key.kind != SMOLDER_KIND_MEMORY_ALLOC)
			return;
		counters_add(c, CTR_MALLOC_SAMPLES, e->count);
		counters_add(c, fate == CTR_SAMPLES_PROFILED  ? CTR_MALLOC_PROFILED
				: fate == CTR_SAMPLES_DROPPED ? CTR_MALLOC_DROPPED
							      : CTR_MALLOC_LOST,
			     e->count);
		return;
	}
	counters_add(c, CTR_MUTEX_CONTENTIONS, e->count);
	counters_add(c, fate == CTR_SAMPLES_PROFILED  ? CTR_MUTEX_PROFILED
			: fate == CTR_SAMPLES_DROPPED ? CTR_MUTEX_DROPPED
			: fate == CTR_MUTEX_NOT_LOCK  ? CTR_MUTEX_NOT_LOCK
						      : CTR_MUTEX_LOST,
		     e->count);
}

/* The labels of one process (and whether the rules keep it), worked out
 * once for all its entries in this interval. */
struct process_verdict {
	const struct disc_process *p; /* NULL: a kernel thread we don't know */
	enum counter_id fate;         /* where its samples go if not profiled */
	struct disc_labels labels;
};

/* What the target rules are applied to for p, its pod's labels into *pod
 * (release them). Returns false when its pod opted out
 * (smolder.io/profile: "false"). */
static bool target_input(struct interval_ctx *ctx, const struct disc_process *p,
			 struct disc_target_input *in, struct disc_labels *pod)
{
	bool opted_out = false;

	in->exe = p->exe_path;
	in->comm = p->comm;
	in->cgroup = p->cgroup_path;
	in->container_id = p->container_id;
	in->default_service_name = p->service_name;
	if (kube_pod_labels(ctx->kube, p->container_id, pod, &opted_out))
		in->kube = pod;
	return !opted_out;
}

int interval_wants_memory(void *arg, const struct disc_process *p)
{
	struct interval_ctx *ctx = arg;
	struct disc_target_input in = { .pid = p->pid };
	struct disc_labels pod = { 0 };
	bool wanted = false;

	if (ctx->cfg->n_pids) {
		for (size_t i = 0; i < ctx->cfg->n_pids && !wanted; i++) {
			uint64_t *first = &ctx->pid_start_ticks[i];

			if (ctx->cfg->pids[i] != p->pid)
				continue;
			if (!*first)
				*first = p->start_ticks;
			wanted = *first == p->start_ticks;
		}
		return wanted;
	}
	/* In a container of this node whose pod the watch has not brought
	 * yet: its annotation cannot be read yet. */
	if (ctx->kube && p->container_id[0] && !kube_knows(ctx->kube, p->container_id))
		return -EAGAIN;
	wanted = target_input(ctx, p, &in, &pod) && disc_targets_memory(ctx->targets, &in) > 0;
	disc_labels_release(&pod);
	return wanted;
}

static void judge_process(struct interval_ctx *ctx, const struct smolder_count_key *k,
			  struct process_verdict *v)
{
	struct disc_target_input in = { .default_service_name = "kernel", .pid = (int)k->tgid };
	struct disc_labels pod = { 0 };
	bool opted_out = false; /* smolder.io/profile: "false" */
	int r;

	disc_labels_release(&v->labels);
	v->p = disc_table_get_image(ctx->disc, (int)k->tgid, k->start_ticks, k->exec_id);
	if (!v->p && !(k->flags & SMOLDER_KEY_KERNEL_THREAD)) {
		v->fate = CTR_LOST_UNKNOWN_PROCESS;
		return;
	}
	if (v->p)
		opted_out = !target_input(ctx, v->p, &in, &pod);
	r = opted_out ? 0 : disc_targets_apply(ctx->targets, &in, &v->labels);
	disc_labels_release(&pod);
	if (r < 0)
		log_warn("labels of pid %u: %s", k->tgid, strerror(-r));
	v->fate = r > 0 ? CTR_SAMPLES_PROFILED : r == 0 ? CTR_SAMPLES_DROPPED : CTR_LOST_PROFILE_ERROR;
}

/* The frame that ends a user stack the walk did not finish, or NULL. A
 * stack is whole only where CFI says the return address is undefined
 * (STOP), or where frame pointers ended in a thread's root (root). */
static const char *unwind_end_marker(unsigned int end, bool root)
{
	switch (end) {
	case SMOLDER_UNWIND_END_STOP:
		return NULL;
	case SMOLDER_UNWIND_END_FP_ZERO:
		return root ? NULL : "[unwind error: frame pointer chain ended]";
	case SMOLDER_UNWIND_END_TRUNCATED:
		return "[truncated]";
	case SMOLDER_UNWIND_END_READ:
		return "[unwind error: stack not readable]";
	case SMOLDER_UNWIND_END_UNSUPPORTED:
		return "[unwind error: unsupported CFI]";
	}
	return "[unwind error: bad frame]";
}

static enum counter_id unwind_end_counter(unsigned int end)
{
	switch (end) {
	case SMOLDER_UNWIND_END_FP_ZERO:
		return CTR_UNWIND_ERROR_NO_ROOT;
	case SMOLDER_UNWIND_END_TRUNCATED:
		return CTR_UNWIND_TRUNCATED;
	case SMOLDER_UNWIND_END_READ:
		return CTR_UNWIND_ERROR_READ;
	case SMOLDER_UNWIND_END_UNSUPPORTED:
		return CTR_UNWIND_ERROR_UNSUPPORTED;
	}
	return CTR_UNWIND_ERROR_BAD_FRAME;
}

/* The Python frames of entry e, into py (SMOLDER_PY_MAX_FRAMES of them);
 * how many (0: none, or no process described to name them). */
static int read_python(struct interval_ctx *ctx, const struct sampler_drain *d,
		       const struct sampler_entry *e, struct python_proc **pr,
		       struct smolder_py_frame *py, unsigned int *end)
{
	int n;

	*pr = NULL;
	*end = SMOLDER_PY_END_WHOLE;
	if (!ctx->python || !e->key.py_stack)
		return 0;
	*pr = python_procs_find(ctx->python, (int)e->key.tgid, e->key.start_ticks);
	if (!*pr)
		return 0;
	n = sampler_read_py_stack(ctx->sampler, d, e->key.py_stack, py, SMOLDER_PY_MAX_FRAMES,
				  end);
	return n > 0 ? n : 0;
}

/* The frame that ends a Python walk that did not reach the thread's first
 * frame, or NULL. */
static const char *python_end_marker(unsigned int end)
{
	switch (end) {
	case SMOLDER_PY_END_WHOLE:
		return NULL;
	case SMOLDER_PY_END_TRUNCATED:
		return "[python: truncated]";
	}
	return "[python: frame not readable]";
}

/* The Python frames py[0..np) added to b (with a marker after the
 * outermost when their walk ended early) and put into the user frames
 * ids[0..nu) (at ips) where they belong; returns the user frames' new
 * count. py has room for one more frame. */
static int add_python(struct interval_ctx *ctx, struct python_proc *pr, struct pprof_builder *b,
		      struct smolder_py_frame *py, int np, unsigned int end, uint64_t samples,
		      const uint64_t *ips, uint64_t *ids, int nu, int *err)
{
	uint64_t py_ids[SMOLDER_PY_MAX_FRAMES + 1], merged[MAX_FRAMES + SMOLDER_PY_MAX_FRAMES + 1];
	struct python_frames_unnamed unnamed = { 0 };
	const char *marker = python_end_marker(end);
	size_t n;

	*err = python_frames_add(pr, b, py, (size_t)np, samples, &unnamed, py_ids);
	/* The marker closes the outermost evaluation loop's frames. */
	if (!*err && marker) {
		*err = frames_add_marker(b, marker, &py_ids[np]);
		py[np] = (struct smolder_py_frame){ .tag = SMOLDER_PY_TAG_ENTRY };
		py[np - 1].tag &= ~(uint32_t)SMOLDER_PY_TAG_ENTRY;
		np++;
	}
	if (*err)
		return nu;
	counters_add(ctx->counters, CTR_PYTHON_UNNAMED_GONE, unnamed.gone);
	counters_add(ctx->counters, CTR_PYTHON_UNNAMED_STALE, unnamed.stale);
	counters_add(ctx->counters, CTR_PYTHON_UNNAMED_LATE, unnamed.late);
	n = python_frames_interleave(pr, ips, ids, (size_t)nu, py, py_ids, (size_t)np, merged);
	memcpy(ids, merged, n * sizeof(*ids));
	return (int)n;
}

/* Why a thread was off the CPU, as the offcpu profile's sample label says. */
static const char *offcpu_state(uint32_t kind)
{
	switch (kind) {
	case SMOLDER_KIND_OFFCPU_IO:
		return "io";
	case SMOLDER_KIND_OFFCPU_RUNQUEUE:
		return "runqueue";
	}
	return "sleep";
}

/* A drawn quantity scaled to what all switch-outs would have given. */
static int64_t unbias(const struct interval_ctx *ctx, uint64_t v)
{
	return (int64_t)((double)v / ctx->cfg->off_cpu_sample + 0.5);
}

/* The functions whose FUTEX_WAIT_BITSET waits are for a lock: glibc's
 * rwlocks (their slow paths are inlined into pthread_rwlock_rdlock and the
 * others), Rust std's futex locks (lock_contended, read_contended,
 * write_contended). A condition variable's or a semaphore's wait is not. */
static bool names_a_lock(const char *name)
{
	return strstr(name, "pthread_rwlock_") || strstr(name, "_contended");
}

/* A condition variable's own functions: glibc's pthread_cond_signal waits
 * with FUTEX_WAIT for the waiters of a group to quiesce
 * (__condvar_quiesce_and_switch_g1), a lock of no caller's. */
static bool names_a_condvar(const char *name)
{
	return strstr(name, "pthread_cond_") || strstr(name, "__condvar_");
}

/* Whether a futex wait of kind (user frames ips[0..n)) was for a lock, by
 * the functions it was called from. */
static bool waits_for_lock(struct interval_ctx *ctx, uint32_t kind, const struct disc_process *p,
			   const uint64_t *ips, int n)
{
	if (!p || n <= 0)
		return kind == SMOLDER_KIND_MUTEX;
	if (frames_user_calls(ctx->sym, p, ips, (size_t)n, 6, names_a_condvar))
		return false;
	return kind == SMOLDER_KIND_MUTEX ||
	       frames_user_calls(ctx->sym, p, ips, (size_t)n, 6, names_a_lock);
}

/* Drawn allocations (count of them, bytes in all) scaled to all the
 * allocations they stand for, as Go scales its heap profile: an allocation
 * of size s is drawn with probability 1 - exp(-s / rate), taken at the
 * mean size under the stack. hidden (>= 1) further scales for the time
 * the target's probes were off (memory_targets.h). */
static void unbias_memory(const struct interval_ctx *ctx, const struct sampler_entry *e,
			  double hidden, int64_t *values)
{
	double rate = (double)ctx->cfg->memory_sample_bytes, scale = hidden;

	if (e->count && e->ns && rate > 1)
		scale /= 1 - exp(-((double)e->ns / (double)e->count) / rate);
	values[0] = (int64_t)((double)e->count * scale + 0.5);
	values[1] = (int64_t)((double)e->ns * scale + 0.5);
}

static int add_memory_values(struct interval_ctx *ctx, struct pprof_builder *b,
			     const struct sampler_entry *e, const uint64_t *ids, size_t n)
{
	int64_t values[4] = { 0 };

	if (e->key.kind == SMOLDER_KIND_MEMORY_ALLOC)
		unbias_memory(ctx, e, memory_targets_hidden(ctx->memory, (int)e->key.tgid,
							     e->key.start_ticks),
			      values);
	else
		unbias_memory(ctx, e, 1.0, values + 2);
	return pprof_builder_add_sample(b, ids, n, values);
}

/* e into b, under the stack ids[0..n): its values as its type counts them. */
static int add_values(struct interval_ctx *ctx, const struct profile_set *set,
		      struct pprof_builder *b, const struct sampler_entry *e, const uint64_t *ids,
		      size_t n)
{
	int64_t values[2];

	switch (kind_profile(e->key.kind)) {
	case PROFILE_MEMORY:
		return add_memory_values(ctx, b, e, ids, n);
	case PROFILE_OFFCPU: {
		struct pprof_label state = { "state", offcpu_state(e->key.kind) };

		values[0] = unbias(ctx, e->ns);
		return pprof_builder_add_sample_labeled(b, ids, n, values, &state, 1);
	}
	case PROFILE_MUTEX:
		values[0] = unbias(ctx, e->count);
		values[1] = unbias(ctx, e->ns);
		return pprof_builder_add_sample(b, ids, n, values);
	default:
		values[0] = (int64_t)e->count * profile_set_period(set);
		return pprof_builder_add_sample(b, ids, n, values);
	}
}

/* Adds one drained entry to its label set's profile; returns the counter
 * that takes its samples (profiled, or the reason they were not). */
static enum counter_id add_entry(struct interval_ctx *ctx, const struct sampler_drain *d,
				 const struct sampler_entry *e, const struct process_verdict *v,
				 struct profile_set *set)
{
	const struct smolder_count_key *k = &e->key;
	uint64_t ips[MAX_FRAMES], ids[MAX_FRAMES + SMOLDER_PY_MAX_FRAMES + 2];
	struct smolder_py_frame py[SMOLDER_PY_MAX_FRAMES + 1];
	struct python_proc *pr = NULL;
	struct pprof_builder *b;
	unsigned int end = SMOLDER_UNWIND_END_STOP, py_end;
	const char *marker;
	int nk, nu = 0, np = 0, nframes, err;

	/* The per-sample counters count CPU samples only. */
	uint64_t samples = k->kind == SMOLDER_KIND_CPU ? e->count : 0;

	if (v->fate != CTR_SAMPLES_PROFILED)
		return v->fate;
	nk = sampler_read_kernel_stack(ctx->sampler, d, k->kernel_stack, ips,
				       SMOLDER_MAX_STACK_DEPTH);
	if (nk >= 0 && v->p && !v->p->kernel_thread)
		nu = sampler_read_user_stack(ctx->sampler, d, k->user_stack, ips + nk,
					     SMOLDER_MAX_STACK_DEPTH, &end);
	if (nk > 0 && k->kind != SMOLDER_KIND_CPU) {
		/* Taken in sched_switch's program: the stack starts at __schedule. */
		size_t skip = frames_kernel_tracing(ctx->sym, ips, (size_t)nk);

		memmove(ips, ips + skip, (size_t)(nk + (nu > 0 ? nu : 0) - (int)skip) * sizeof(*ips));
		nk -= (int)skip;
	}
	if (nk < 0 || nu < 0 || nk + nu == 0)
		return CTR_LOST_STACK_READ;
	/* An allocation's stack was walked from its return address: the
	 * call is the byte before. */
	if (kind_profile(k->kind) == PROFILE_MEMORY && nu > 0 && ips[nk])
		ips[nk]--;
	if ((k->kind == SMOLDER_KIND_MUTEX || k->kind == SMOLDER_KIND_MUTEX_MAYBE) &&
	    !waits_for_lock(ctx, k->kind, v->p, ips + nk, nu))
		return CTR_MUTEX_NOT_LOCK;
	if (v->p && !v->p->kernel_thread)
		np = read_python(ctx, d, e, &pr, py, &py_end);
	if (ctx->python && v->p && !v->p->kernel_thread && !pr &&
	    python_procs_undescribed(ctx->python, v->p))
		counters_add(ctx->counters, CTR_PYTHON_UNDESCRIBED, samples);
	if (np && py_end == SMOLDER_PY_END_TRUNCATED)
		counters_add(ctx->counters, CTR_PYTHON_TRUNCATED, samples);
	else if (np && py_end == SMOLDER_PY_END_READ)
		counters_add(ctx->counters, CTR_PYTHON_ERROR_READ, samples);

	err = profile_set_builder(set, kind_profile(k->kind), &v->labels, &b);
	/* A profile's first mapping is the one pprof names it after ("File:"
	 * in go tool pprof): the executable of its first process, which is
	 * its most sampled (add_entries' order) when several processes share
	 * it. */
	if (!err && pprof_builder_sample_count(b) == 0 && v->p)
		err = frames_add_main_mapping(ctx->sym, v->p, b);
	if (!err)
		err = frames_add_kernel(ctx->sym, ctx->memo, b, ips, (size_t)nk,
					ctx->cfg->kernel_addresses, ids);
	if (!err && nu)
		err = frames_add_user(ctx->sym, ctx->memo, ctx->disc, v->p, b, ips + nk, (size_t)nu,
				      ids + nk);
	/* A walk cut short ends in a frame that says why. */
	marker = nu ? unwind_end_marker(end, end == SMOLDER_UNWIND_END_FP_ZERO &&
					     frames_user_root(ctx->sym, v->p, ips + nk, (size_t)nu))
		    : NULL;
	nframes = nk + nu;
	if (!err && np)
		nframes = nk + add_python(ctx, pr, b, py, np, py_end, samples, ips + nk, ids + nk,
					  nu, &err);
	if (!err && marker) {
		err = frames_add_marker(b, marker, &ids[nframes]);
		counters_add(ctx->counters, unwind_end_counter(end), samples);
	}
	if (!err)
		err = add_values(ctx, set, b, e, ids, (size_t)nframes + (marker ? 1 : 0));
	if (err) {
		log_warn("could not add a sample of pid %u to its profile: %s", k->tgid,
			 strerror(-err));
		return CTR_LOST_PROFILE_ERROR;
	}
	return CTR_SAMPLES_PROFILED;
}

static int compare_entries(const void *a, const void *b)
{
	const struct smolder_count_key *x = &((const struct sampler_entry *)a)->key;
	const struct smolder_count_key *y = &((const struct sampler_entry *)b)->key;

	if (x->tgid != y->tgid)
		return x->tgid < y->tgid ? -1 : 1;
	if (x->start_ticks != y->start_ticks)
		return x->start_ticks < y->start_ticks ? -1 : 1;
	if (x->exec_id != y->exec_id)
		return x->exec_id < y->exec_id ? -1 : 1;
	return 0;
}

/* One process image of a drain (a process that exec'd in the interval has
 * two): its entries [start, start + n) once they are sorted by process,
 * and their samples. */
struct drained_process {
	size_t start, n;
	uint64_t samples;
};

/* The most sampled first; ties by pid, so that a run orders alike. */
static int by_samples(const void *a, const void *b)
{
	const struct drained_process *x = a, *y = b;

	if (x->samples != y->samples)
		return (x->samples < y->samples) - (x->samples > y->samples);
	return (x->start > y->start) - (x->start < y->start);
}

/* The drain's processes, the most sampled first (d's entries sorted by
 * process); NULL when memory runs out. */
static struct drained_process *processes_by_samples(struct sampler_drain *d, size_t *n)
{
	struct drained_process *p = malloc((d->n ? d->n : 1) * sizeof(*p));

	*n = 0;
	if (!p)
		return NULL;
	qsort(d->entries, d->n, sizeof(*d->entries), compare_entries);
	for (size_t i = 0; i < d->n; i++) {
		if (i == 0 || compare_entries(&d->entries[i], &d->entries[i - 1]))
			p[(*n)++] = (struct drained_process){ .start = i };
		p[*n - 1].n++;
		p[*n - 1].samples += d->entries[i].count;
	}
	qsort(p, *n, sizeof(*p), by_samples);
	return p;
}

/* The code objects of e's Python frames, to be named with the rest. */
static void want_python(struct interval_ctx *ctx, const struct sampler_drain *d,
			const struct sampler_entry *e)
{
	struct smolder_py_frame *py = malloc(SMOLDER_PY_MAX_FRAMES * sizeof(*py));
	struct python_proc *pr;
	unsigned int end;
	int n;

	if (!py)
		return;
	n = read_python(ctx, d, e, &pr, py, &end);
	if (n > 0)
		python_procs_want(ctx->python, pr, py, (size_t)n);
	free(py);
}

static void want_entry(struct interval_ctx *ctx, const struct sampler_drain *d,
		       const struct sampler_entry *e, const struct disc_process *p)
{
	uint64_t ips[SMOLDER_MAX_STACK_DEPTH];
	unsigned int end;
	int n = sampler_read_user_stack(ctx->sampler, d, e->key.user_stack, ips,
					SMOLDER_MAX_STACK_DEPTH, &end);

	if (n > 0)
		frames_want_user(ctx->sym, p, ips, (size_t)n, e->count);
	want_python(ctx, d, e);
}

/* Has the symbolizer ask for the names of every user frame of the drain
 * at once, before they are asked for one by one as profiles are built:
 * the parser worker then answers in a few round trips. The most sampled
 * processes come first, so that their files are the first read: what the
 * deadline leaves unnamed is what the fewest samples show. */
static void want_names(struct interval_ctx *ctx, const struct sampler_drain *d,
		       const struct drained_process *procs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct smolder_count_key *k = &d->entries[procs[i].start].key;
		const struct disc_process *p =
			disc_table_get_image(ctx->disc, (int)k->tgid, k->start_ticks, k->exec_id);

		for (size_t j = 0; p && !p->kernel_thread && j < procs[i].n; j++)
			want_entry(ctx, d, &d->entries[procs[i].start + j], p);
	}
	/* Python's names first: a code object is a few small reads, and its
	 * frames say more than the interpreter's around them. */
	if (ctx->python)
		python_procs_fetch(ctx->python);
	sym_cache_fetch(ctx->sym);
}

/* Every drained entry into its profile, process by process, the most
 * sampled first, so that each is looked up and judged by the rules once,
 * and so that the first process of each profile is its most sampled
 * (add_entry gives the profile its executable first). */
static void add_entries(struct interval_ctx *ctx, const struct sampler_drain *d,
			const struct drained_process *procs, size_t n, struct profile_set *set)
{
	struct process_verdict v = { 0 };

	for (size_t i = 0; i < n; i++) {
		judge_process(ctx, &d->entries[procs[i].start].key, &v);
		for (size_t j = procs[i].start; j < procs[i].start + procs[i].n; j++)
			count_fate(ctx->counters, &d->entries[j],
				   add_entry(ctx, d, &d->entries[j], &v, set));
	}
	disc_labels_release(&v.labels);
}

static void submit_profiles(struct interval_ctx *ctx, const struct profile_set *set)
{
	struct upload_set_result res;

	upload_set_submit(ctx->uploader, set, &ctx->warned, &res);
	counters_add(ctx->counters, CTR_PROFILES_WRITTEN, res.queued);
	counters_add(ctx->counters, CTR_PROFILE_ERRORS, res.failed);
	counters_add(ctx->counters, CTR_LABELS_DROPPED, res.labels_dropped);
	if (res.failed)
		log_error("could not queue %zu profile(s) for upload: %s", res.failed,
			  strerror(-res.first_error));
}

static void write_profiles(struct interval_ctx *ctx, const struct profile_set *set)
{
	struct output_result res;

	if (ctx->uploader) {
		submit_profiles(ctx, set);
		return;
	}

	output_write_set(ctx->cfg->output_dir, set, &res);
	counters_add(ctx->counters, CTR_PROFILES_WRITTEN, res.written);
	counters_add(ctx->counters, CTR_PROFILE_ERRORS, res.failed);
	if (ctx->output_budget) {
		struct output_budget_stats st;

		output_budget_wrote(ctx->output_budget, res.bytes);
		output_budget_get_stats(ctx->output_budget, &st);
		counters_set(ctx->counters, CTR_OUTPUT_BYTES, st.bytes);
		counters_add(ctx->counters, CTR_OUTPUT_REMOVED, st.removed - ctx->output_removed_seen);
		if (st.removed != ctx->output_removed_seen)
			log_info("%s holds %llu bytes after removing its %llu oldest profile(s) "
				 "(--output-max-bytes)", ctx->cfg->output_dir,
				 (unsigned long long)st.bytes,
				 (unsigned long long)(st.removed - ctx->output_removed_seen));
		ctx->output_removed_seen = st.removed;
	}
	if (res.failed)
		log_error("could not write %zu profile(s), the first %s: %s", res.failed,
			  res.failed_path, strerror(-res.first_error));
}

/* The off-CPU and mutex books, as the CPU samples' are checked. */
static void check_malloc_books(const uint64_t *v)
{
	uint64_t drawn = v[CTR_MALLOC_STORED] + v[CTR_MALLOC_FAILED] +
			 v[CTR_MALLOC_LOST_STACK_COLLISION] + v[CTR_MALLOC_LOST_STACK_READ] +
			 v[CTR_MALLOC_LOST_WAIT_MAP_FULL];
	uint64_t drained = v[CTR_MALLOC_PROFILED] + v[CTR_MALLOC_DROPPED] + v[CTR_MALLOC_LOST];

	if (drawn != v[CTR_MALLOC_SAMPLED])
		log_warn("allocations do not add up this interval: %llu drawn, %llu stored, failed or lost",
			 (unsigned long long)v[CTR_MALLOC_SAMPLED], (unsigned long long)drawn);
	if (drained != v[CTR_MALLOC_SAMPLES])
		log_warn("allocation samples do not add up this interval: %llu drained, %llu profiled, dropped or lost",
			 (unsigned long long)v[CTR_MALLOC_SAMPLES], (unsigned long long)drained);
}

static void check_wait_books(const struct counters *c)
{
	const uint64_t *v = c->interval;
	uint64_t stored = v[CTR_OFFCPU_STORED] + v[CTR_OFFCPU_LOST_PENDING_FULL] +
			  v[CTR_OFFCPU_LOST_STACK_COLLISION] + v[CTR_OFFCPU_LOST_STACK_READ];
	uint64_t ns = v[CTR_OFFCPU_PROFILED_NS] + v[CTR_OFFCPU_DROPPED_NS] + v[CTR_OFFCPU_LOST_NS];
	uint64_t mutex = v[CTR_MUTEX_PROFILED] + v[CTR_MUTEX_DROPPED] + v[CTR_MUTEX_LOST] +
			 v[CTR_MUTEX_NOT_LOCK];

	if (stored != v[CTR_OFFCPU_SAMPLED])
		log_warn("off-CPU switches do not add up this interval: %llu drawn, %llu stored or lost",
			 (unsigned long long)v[CTR_OFFCPU_SAMPLED], (unsigned long long)stored);
	if (ns != v[CTR_OFFCPU_NS])
		log_warn("off-CPU time does not add up this interval: %llu ns drained, %llu profiled, dropped or lost",
			 (unsigned long long)v[CTR_OFFCPU_NS], (unsigned long long)ns);
	if (mutex != v[CTR_MUTEX_CONTENTIONS])
		log_warn("contentions do not add up this interval: %llu drained, %llu profiled, dropped, lost or no lock's",
			 (unsigned long long)v[CTR_MUTEX_CONTENTIONS], (unsigned long long)mutex);
	check_malloc_books(v);
}

static void log_counters(const struct counters *c, int64_t start_ns, int64_t end_ns)
{
	char line[8192];
	uint64_t taken = c->interval[CTR_SAMPLES_TAKEN];
	uint64_t accounted = c->interval[CTR_SAMPLES_PROFILED] + c->interval[CTR_SAMPLES_DROPPED] +
			     counters_interval_lost(c);
	int64_t start_s, end_s;

	counters_format_interval(c, line, sizeof(line));
	output_interval_seconds(start_ns, end_ns, &start_s, &end_s);
	log_info("counters interval=%lld-%lld %s", (long long)start_s, (long long)end_s, line);
	if (accounted != taken)
		log_warn("samples do not add up this interval: %llu taken, %llu profiled, dropped or lost",
			 (unsigned long long)taken, (unsigned long long)accounted);
	check_wait_books(c);
}

/* The per-file caps' refusals, counted process-wide by the symbolizer. */
static void count_refusals(struct interval_ctx *ctx)
{
	static const enum counter_id ids[SYM_REFUSED__COUNT] = {
		[SYM_REFUSED_SECTION] = CTR_SYMBOL_REFUSED_SECTION,
		[SYM_REFUSED_COMPRESSED] = CTR_SYMBOL_REFUSED_COMPRESSED,
		[SYM_REFUSED_DEBUGLINK] = CTR_SYMBOL_REFUSED_DEBUGLINK,
	};
	struct sym_refusal_stats st;

	sym_refusals_get_stats(&st);
	for (int i = 0; i < SYM_REFUSED__COUNT; i++)
		counters_add(ctx->counters, ids[i], st.count[i] - ctx->refusals_seen.count[i]);
	ctx->refusals_seen = st;
}

/* The parser worker's starts and ends; a worker that keeps dying is an
 * error said every interval, since names are missing meanwhile. */
static void count_worker(struct interval_ctx *ctx)
{
	struct sym_worker_stats st, *seen = &ctx->worker_seen;
	struct counters *c = ctx->counters;

	sym_worker_get_stats(ctx->worker, &st);
	counters_add(c, CTR_WORKER_STARTS, st.starts - seen->starts);
	counters_add(c, CTR_WORKER_DEATHS, st.deaths - seen->deaths);
	counters_add(c, CTR_WORKER_TIMEOUTS, st.timeouts - seen->timeouts);
	counters_add(c, CTR_WORKER_REFUSED, st.refused - seen->refused);
	if (st.refused != seen->refused)
		log_error("symbolizer: the parser worker was restarted too often this minute; "
			  "%llu requests refused, frames sent unnamed",
			  (unsigned long long)(st.refused - seen->refused));
	*seen = st;
}

static void count_symbolizer(struct interval_ctx *ctx)
{
	struct sym_debuginfod_stats d = { 0 };
	struct counters *c = ctx->counters;
	struct sym_cache_stats st;

	sym_cache_get_stats(ctx->sym, &st);
	counters_add(c, CTR_SYMBOL_CACHE_HITS, st.hits - ctx->sym_seen.hits);
	counters_add(c, CTR_SYMBOL_CACHE_MISSES, st.files_opened - ctx->sym_seen.files_opened);
	counters_add(c, CTR_SYMBOL_CACHE_EVICTIONS, st.evictions - ctx->sym_seen.evictions);
	counters_add(c, CTR_SYMBOL_DEBUG_FILES, st.debug_files - ctx->sym_seen.debug_files);
	counters_add(c, CTR_SYMBOL_CORRUPT, st.corrupt - ctx->sym_seen.corrupt);
	counters_set(c, CTR_SYMBOL_CACHE_BYTES, st.bytes);
	counters_set(c, CTR_PERF_MAP_BYTES, st.perf_map_bytes);
	counters_add(c, CTR_PERF_MAP_REFUSED, st.perf_map_refused - ctx->sym_seen.perf_map_refused);
	counters_add(c, CTR_SYMBOL_LATE, st.late - ctx->sym_seen.late);
	counters_add(c, CTR_SYMBOL_QUARANTINED, st.quarantined - ctx->sym_seen.quarantined);
	counters_add(c, CTR_UNWIND_CACHE_HITS, st.unwind_cache_hits - ctx->sym_seen.unwind_cache_hits);
	counters_add(c, CTR_UNWIND_CACHE_MISSES,
		     st.unwind_cache_misses - ctx->sym_seen.unwind_cache_misses);
	counters_add(c, CTR_UNWIND_CACHE_BAD, st.unwind_cache_bad - ctx->sym_seen.unwind_cache_bad);
	counters_set(c, CTR_UNWIND_CACHE_BYTES, st.unwind_cache_bytes);
	if (st.quarantined != ctx->sym_seen.quarantined)
		log_warn("symbolizer: set aside for 10 minutes: %s", st.last_quarantine);
	ctx->sym_seen = st;
	count_worker(ctx);
	count_refusals(ctx);
	if (!ctx->debuginfod)
		return;
	sym_debuginfod_get_stats(ctx->debuginfod, &d);
	counters_add(c, CTR_DEBUGINFOD_FETCHED, d.fetched - ctx->debuginfod_seen.fetched);
	counters_add(c, CTR_DEBUGINFOD_FAILED, d.missing + d.failed - ctx->debuginfod_seen.missing -
						     ctx->debuginfod_seen.failed);
	ctx->debuginfod_seen = d;
}

static void count_copies(struct interval_ctx *ctx)
{
	struct stack_copies_stats st, *seen = &ctx->copies_seen;

	if (!ctx->copies)
		return;
	stack_copies_get_stats(ctx->copies, &st);
	counters_add(ctx->counters, CTR_STACK_COPIES_DROPPED, st.dropped - seen->dropped);
	counters_add(ctx->counters, CTR_STACK_COPIES_USED, st.used - seen->used);
	counters_add(ctx->counters, CTR_STACK_COPIES_UNUSED, st.unused - seen->unused);
	counters_add(ctx->counters, CTR_STACK_COPIES_LATE, st.late - seen->late);
	counters_set(ctx->counters, CTR_STACK_COPIES_BYTES, st.pending_bytes);
	*seen = st;
}

static void count_python(struct interval_ctx *ctx)
{
	struct python_procs_stats st;

	if (!ctx->python)
		return;
	python_procs_get_stats(ctx->python, &st);
	counters_set(ctx->counters, CTR_PYTHON_PROCESSES, st.processes);
	counters_set(ctx->counters, CTR_PYTHON_CODES, st.codes);
	counters_add(ctx->counters, CTR_PYTHON_UNSUPPORTED, st.unsupported - ctx->python_unsupported_seen);
	ctx->python_unsupported_seen = st.unsupported;
}

static void count_unwind(struct interval_ctx *ctx)
{
	struct unwind_loader_stats st;

	if (!ctx->unwind)
		return;
	unwind_loader_get_stats(ctx->unwind, &st);
	counters_set(ctx->counters, CTR_UNWIND_TABLES, st.tables);
	counters_set(ctx->counters, CTR_UNWIND_ROWS, st.rows);
	counters_add(ctx->counters, CTR_UNWIND_EVICTIONS, st.evictions - ctx->unwind_evictions_seen);
	counters_add(ctx->counters, CTR_UNWIND_NO_ROOM, st.no_room - ctx->unwind_no_room_seen);
	ctx->unwind_evictions_seen = st.evictions;
	ctx->unwind_no_room_seen = st.no_room;
	counters_add(ctx->counters, CTR_UNWIND_RETRIES, st.retries - ctx->unwind_retries_seen);
	ctx->unwind_retries_seen = st.retries;
	counters_add(ctx->counters, CTR_UNWIND_FILES_WANTED, st.wanted - ctx->unwind_wanted_seen);
	ctx->unwind_wanted_seen = st.wanted;
}

/* The agent's and the worker's memory against --memory-limit, measured
 * after the trim, when the interval's work has been let go of. Over it,
 * the free heap glibc keeps is handed back to the kernel (what the caches
 * and the interval dropped often stays in malloc's arenas), and it is
 * said, with the figures. */
static void count_memory(struct interval_ctx *ctx)
{
	struct counters *c = ctx->counters;
	uint64_t agent = 0, worker = 0, limit = ctx->cfg->memory_limit;
	struct sym_worker_stats st;

	memory_anon_resident(0, &agent);
	sym_worker_get_stats(ctx->worker, &st);
	if (st.pid)
		memory_anon_resident(st.pid, &worker);
	counters_set(c, CTR_MEMORY_RESIDENT, agent);
	counters_set(c, CTR_WORKER_RESIDENT, worker);
	counters_set(c, CTR_MEMORY_LIMIT, limit);
	counters_set(c, CTR_BPF_MAP_BYTES, sampler_map_bytes(ctx->sampler));
	if (agent + worker <= limit)
		return;
	counters_add(c, CTR_MEMORY_OVER_LIMIT, 1);
	/* Half the symbol cache goes (the worker's share of those files goes
	 * at its next request), and the heap's free memory back to the
	 * kernel. */
	sym_cache_shrink(ctx->sym, ctx->cfg->symbol_cache_size / 2);
	malloc_trim(0);
	memory_anon_resident(0, &agent);
	log_warn("memory: the agent and its parser worker held %llu MiB together, over "
		 "--memory-limit (%llu MiB): the symbol cache halved, the agent's heap "
		 "trimmed to %llu MiB",
		 (unsigned long long)((c->interval[CTR_MEMORY_RESIDENT] + worker) >> 20),
		 (unsigned long long)(limit >> 20), (unsigned long long)(agent >> 20));
}

/* The uploader's totals since the last interval, into the table. */
static void count_uploads(struct interval_ctx *ctx)
{
	struct uploader_stats st, *seen = &ctx->uploader_seen;
	struct counters *c = ctx->counters;

	if (!ctx->uploader)
		return;
	uploader_get_stats(ctx->uploader, &st);
	counters_add(c, CTR_UPLOADS_QUEUED, st.queued - seen->queued);
	counters_add(c, CTR_UPLOADS_DELIVERED, st.delivered - seen->delivered);
	counters_add(c, CTR_UPLOADS_REFUSED, st.refused - seen->refused);
	counters_add(c, CTR_UPLOADS_RETRIED, st.retried - seen->retried);
	counters_add(c, CTR_UPLOADS_DROPPED, st.dropped_memory - seen->dropped_memory);
	counters_set(c, CTR_UPLOAD_QUEUE, st.in_memory);
	counters_set(c, CTR_SPOOL_FILES, st.spool.files);
	counters_set(c, CTR_SPOOL_BYTES, st.spool.bytes);
	counters_add(c, CTR_SPOOL_DROPPED_FULL, st.spool.dropped_full - seen->spool.dropped_full);
	counters_add(c, CTR_SPOOL_DROPPED_AGE, st.spool.dropped_age - seen->spool.dropped_age);
	counters_add(c, CTR_SPOOL_CORRUPT, st.spool.corrupt - seen->spool.corrupt);
	counters_add(c, CTR_SPOOL_WRITE_ERRORS, st.spool.write_errors - seen->spool.write_errors);
	*seen = st;
}

/* Whether a process of the drain is in a container that no pod of this
 * node has yet, while the pod watch works: the kubelet reports a new
 * container's id a second or so after it starts, and the watch brings it
 * after that, so the pod of a container first sampled at the end of an
 * interval is not known at its drain. */
static bool awaits_pod(struct interval_ctx *ctx, const struct sampler_drain *d)
{
	int32_t last_tgid = -1;

	if (!kube_synced(ctx->kube))
		return false;
	for (size_t i = 0; i < d->n; i++) {
		const struct smolder_count_key *k = &d->entries[i].key;
		const struct disc_process *p;

		if ((int32_t)k->tgid == last_tgid)
			continue;
		last_tgid = (int32_t)k->tgid;
		p = disc_table_get_image(ctx->disc, (int)k->tgid, k->start_ticks, k->exec_id);
		if (p && p->container_id[0] && !kube_knows(ctx->kube, p->container_id))
			return true;
	}
	return false;
}

/* The process table's reads of /proc/PID/maps since the last interval. */
static void count_discovery(struct interval_ctx *ctx)
{
	struct disc_table_stats st, *seen = &ctx->disc_seen;
	struct counters *c = ctx->counters;

	disc_table_get_stats(ctx->disc, &st);
	counters_add(c, CTR_PROCESSES_FROM_KERNEL,
		     st.gone_added + st.kernel_added - seen->gone_added - seen->kernel_added);
	counters_add(c, CTR_PROCESSES_FORKED, st.forked_added - seen->forked_added);
	counters_add(c, CTR_PROCESS_MAPS_READS, st.maps_reads - seen->maps_reads);
	counters_add(c, CTR_PROCESS_MAPS_DEFERRED, st.maps_deferred - seen->maps_deferred);
	counters_add(c, CTR_PROCESS_MAPS_CUT, st.maps_cut - seen->maps_cut);
	counters_set(c, CTR_PROCESS_MAPS_BYTES, st.maps_bytes);
	*seen = st;
}

int interval_drain(struct interval_ctx *ctx, int64_t start_ns, int64_t end_ns)
{
	struct sampler_drain *d = &ctx->drained;
	int err;

	/* The drain names the interval's frames: a process's maps may be
	 * read once more for them (a library mapped meanwhile). */
	disc_table_next_interval(ctx->disc);
	if (ctx->events)
		proc_events_settle(ctx->events);
	err = sampler_drain(ctx->sampler, d);
	if (err) {
		sampler_drain_release(ctx->sampler, d);
		return err;
	}
	if (ctx->memory)
		memory_targets_interval_closed(ctx->memory, (int64_t)monotonic_ns());
	if (ctx->copies) {
		/* The exec and first-sample events of the copies' processes,
		 * up to the flip; and a moment for tables still being built. */
		if (ctx->events)
			proc_events_consume(ctx->events);
		sym_cache_set_deadline(ctx->sym, monotonic_ns() + COPIES_BUDGET_NS);
		ctx->drained_awaits_tables = stack_copies_apply(ctx->copies, d, false) > 0;
	}
	ctx->drained_start = start_ns;
	ctx->drained_end = end_ns;
	ctx->drained_awaits_pod = awaits_pod(ctx, d);
	return 0;
}

bool interval_drain_settled(const struct interval_ctx *ctx)
{
	return !ctx->drained_awaits_pod &&
	       (!ctx->drained_awaits_tables || !stack_copies_waiting(ctx->copies, ctx->drained.gen));
}

void interval_finish(struct interval_ctx *ctx)
{
	struct counters *c = ctx->counters;
	struct sampler_drain *d = &ctx->drained;
	struct drained_process *procs = NULL;
	struct profile_set *set;
	size_t n_procs = 0;

	if (ctx->drained_awaits_tables) {
		/* What has not come by now is walked with what tables there are. */
		sym_cache_set_deadline(ctx->sym, monotonic_ns() + 1);
		stack_copies_apply(ctx->copies, d, true);
		ctx->drained_awaits_tables = false;
	}
	count_bpf_stats(c, d->stats);
	count_cuts(c, d);
	counters_set(c, CTR_BPF_COUNT_MAP_ENTRIES, d->n);
	set = profile_set_new(ctx->drained_start, ctx->drained_end, ctx->cfg->sample_rate);
	if (set)
		profile_set_set_memory_period(set, (int64_t)ctx->cfg->memory_sample_bytes);
	if (set)
		procs = processes_by_samples(d, &n_procs);
	/* Names the parser worker has not given by then are left out: the
	 * interval closes on time whatever the worker is doing. */
	sym_cache_set_deadline(ctx->sym, monotonic_ns() + SYMBOLIZE_BUDGET_NS);
	if (procs) {
		want_names(ctx, d, procs, n_procs);
		add_entries(ctx, d, procs, n_procs, set);
	} else {
		for (size_t i = 0; i < d->n; i++)
			count_fate(c, &d->entries[i], CTR_LOST_PROFILE_ERROR);
	}
	free(procs);
	sampler_drain_release(ctx->sampler, d);
	if (set)
		write_profiles(ctx, set);
	profile_set_free(set);
	/* Its keys name the builders just freed. */
	location_memo_clear(ctx->memo);
	/* The names handed out are in the files written: the symbolizer may
	 * now let go of what it must. */
	sym_cache_trim(ctx->sym);
	sym_cache_set_deadline(ctx->sym, 0);
	count_symbolizer(ctx);
	count_uploads(ctx);
	count_unwind(ctx);
	if (ctx->python)
		python_procs_end_interval(ctx->python);
	count_python(ctx);
	count_copies(ctx);
	count_memory(ctx);
	if (ctx->memory)
		memory_targets_count(ctx->memory, c);
	kube_count(ctx->kube, c);
	http_server_count(ctx->http, c);

	uint64_t sent = 0, dropped = 0;
	if (ctx->events && proc_events_take_stats(ctx->events, &sent, &dropped) == 0) {
		counters_add(c, CTR_PROCESS_EVENTS, sent);
		counters_add(c, CTR_PROCESS_EVENTS_DROPPED, dropped);
	}
	if (ctx->events) {
		struct proc_events_mmap_stats ms;

		proc_events_mmap_stats(ctx->events, &ms);
		counters_set(c, CTR_MMAP_LOG_BYTES, ms.bytes);
		counters_add(c, CTR_MMAP_RECORDS_DROPPED, ms.dropped - ctx->mmap_dropped_seen);
		ctx->mmap_dropped_seen = ms.dropped;
	}
	/* Processes that exited are needed until their last samples are drained,
	 * which is now. */
	disc_table_expire(ctx->disc);
	counters_set(c, CTR_PROCESSES_TRACKED, disc_table_size(ctx->disc));
	count_discovery(ctx);
	log_counters(c, ctx->drained_start, ctx->drained_end);
	counters_end_interval(c);
	/* What /metrics and /ready see, as of this interval's end. */
	http_server_publish(ctx->http, c);
}
