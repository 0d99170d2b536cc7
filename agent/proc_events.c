/* Process events to discovery (see proc_events.h). */
#include "proc_events.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "events.h"
#include "events.skel.h"
#include "log.h"

struct proc_events {
	struct events_bpf *skel;
	struct ring_buffer *rb;
	struct disc_table *disc;
	int stats_fd;
	int n_cpus;
	uint64_t reported[SMOLDER_EVENT_STAT_COUNT]; /* totals at the last take */
};

static int handle_event(void *ctx, void *data, size_t len)
{
	struct proc_events *e = ctx;
	const struct smolder_event *ev = data;

	if (len < sizeof(*ev))
		return 0;
	switch (ev->kind) {
	case SMOLDER_EVENT_EXEC:
		/* Not read now: its libraries are not mapped yet. Its first
		 * sample after the exec announces it again. */
		disc_table_exec(e->disc, (int)ev->tgid, ev->start_ticks);
		break;
	case SMOLDER_EVENT_SAMPLED:
		/* Read now: a short-lived process may be gone by the drain. A
		 * process that is already gone is simply not found. */
		disc_table_refresh(e->disc, (int)ev->tgid, ev->start_ticks);
		break;
	case SMOLDER_EVENT_EXIT:
		disc_table_exit(e->disc, (int)ev->tgid, ev->start_ticks);
		break;
	}
	return 0;
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
	return err;
}

static int attach_programs(struct proc_events *e, const char **what)
{
	struct events_bpf *skel = e->skel;

	skel->links.smolder_exec = bpf_program__attach(skel->progs.smolder_exec);
	if (!skel->links.smolder_exec) {
		*what = "attaching to sched_process_exec";
		return -errno;
	}
	skel->links.smolder_exit = bpf_program__attach(skel->progs.smolder_exit);
	if (!skel->links.smolder_exit) {
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

/* Opens and loads the programs on the sampler's maps, with or without the
 * dlopen watch: it is an fentry program, which some kernels refuse (no
 * ftrace direct calls, or tracing programs not allowed), and the rest
 * works without it. */
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
	if (!watch_mmap)
		bpf_program__set_autoload(e->skel->progs.smolder_mmap_exec, false);
	err = events_bpf__load(e->skel);
	if (err)
		*what = "loading the process-event programs (exec/exit tracepoints)";
	return err;
}

int proc_events_new(const struct sampler *s, struct disc_table *disc,
		    struct proc_events **out, const char **what)
{
	struct proc_events *e = calloc(1, sizeof(*e));
	int err;

	*what = "allocating";
	if (!e)
		return -ENOMEM;
	e->disc = disc;
	e->n_cpus = libbpf_num_possible_cpus();
	err = load_programs(e, s, true, what);
	if (err) {
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
	e->rb = ring_buffer__new(bpf_map__fd(e->skel->maps.events), handle_event, e, NULL);
	if (!e->rb) {
		err = -errno;
		*what = "opening the event ring buffer";
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
	ring_buffer__free(e->rb);
	events_bpf__destroy(e->skel);
	free(e);
}

int proc_events_fd(const struct proc_events *e)
{
	return ring_buffer__epoll_fd(e->rb);
}

int proc_events_consume(struct proc_events *e)
{
	return ring_buffer__consume(e->rb);
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
