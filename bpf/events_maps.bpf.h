/* The maps bpf/sample.bpf.c and bpf/events.bpf.c share (see events.h), and
 * the one way to send an event. Both objects declare them from here; the
 * agent creates them once, with sample.bpf.c, and gives events.bpf.c the
 * same fds before loading it. */
#ifndef SMOLDER_BPF_EVENTS_MAPS_H
#define SMOLDER_BPF_EVENTS_MAPS_H

#include "events.h"

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, SMOLDER_EVENTS_RINGBUF_BYTES);
} events SEC(".maps");

/* tgid -> start_ticks of the processes already announced. LRU: one evicted
 * is announced again, which costs the agent a re-read and nothing more. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, SMOLDER_SEEN_ENTRIES);
	__type(key, __u32);
	__type(value, __u64);
} seen SEC(".maps");

/* tgid -> its executable ranges (events.h), filled by the agent. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SMOLDER_EXEC_RANGES_ENTRIES);
	__type(key, __u32);
	__type(value, struct smolder_exec_ranges);
} exec_ranges SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SMOLDER_EVENT_STAT_COUNT);
	__type(key, __u32);
	__type(value, __u64);
} event_stats SEC(".maps");

static __always_inline void event_stat_add(enum smolder_event_stat stat)
{
	__u32 idx = stat;
	__u64 *v = bpf_map_lookup_elem(&event_stats, &idx);

	if (v)
		__sync_fetch_and_add(v, 1);
}

static __always_inline void event_send(enum smolder_event_kind kind, __u32 tgid,
				       __u64 start_ticks)
{
	struct smolder_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);

	if (!e) {
		event_stat_add(SMOLDER_EVENT_STAT_DROPPED);
		return;
	}
	e->kind = kind;
	e->tgid = tgid;
	e->start_ticks = start_ticks;
	e->comm[0] = 0;
	e->exe_name[0] = 0;
	e->cgroup_id = 0;
	e->image = 0;
	bpf_ringbuf_submit(e, 0);
	event_stat_add(SMOLDER_EVENT_STAT_SENT);
}

/* A process's start, as /proc/PID/stat gives it: the thread group leader's
 * boot-time start in USER_HZ ticks. Read with CO-RE reads, which serve the
 * raw tracepoints' untyped task pointer as well as a typed one. */
static __always_inline __u64 task_start_ticks(struct task_struct *task)
{
	return BPF_CORE_READ(task, group_leader, start_boottime) / SMOLDER_NSEC_PER_TICK;
}

#endif
