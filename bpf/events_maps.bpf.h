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

/* tgid -> its executable ranges (events.h), filled by the agent.
 * Allocated as filled: preallocated, its 5 MB were written whole at start
 * (before Linux 6.1 the agent clears the flag: agent/sampler.c). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SMOLDER_EXEC_RANGES_ENTRIES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
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

/* How an event wakes the agent. An exit need not be heard at once (the
 * process is gone; its pid, reused, is told apart by its start time), so
 * exits wait in the ring for the next event that must be, or the agent's
 * next look, unless they fill an eighth of it: on a host that starts
 * dozens of processes a second, one wake-up less each. Every other event
 * wakes it whatever waits before it (the default would not, unless the
 * agent had read all before it). */
#define SMOLDER_EVENTS_QUIET_BYTES (SMOLDER_EVENTS_RINGBUF_BYTES / 8)

static __always_inline __u64 event_wakeup(enum smolder_event_kind kind)
{
	if (kind == SMOLDER_EVENT_EXIT &&
	    bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) < SMOLDER_EVENTS_QUIET_BYTES)
		return BPF_RB_NO_WAKEUP;
	return BPF_RB_FORCE_WAKEUP;
}

/* A new event, reserved in the ring, zeroed but for what is given. The
 * caller reserves it and checks it (a ring full is counted by
 * event_dropped): 6.1's verifier loses a reservation's null check that is
 * made in one inlined function and relied on in another. */
static __always_inline void event_init(struct smolder_event *e, enum smolder_event_kind kind,
				       __u32 tgid, __u64 start_ticks)
{
	__builtin_memset(e, 0, sizeof(*e));
	e->kind = kind;
	e->tgid = tgid;
	e->start_ticks = start_ticks;
}

static __always_inline void event_dropped(void)
{
	event_stat_add(SMOLDER_EVENT_STAT_DROPPED);
}

static __always_inline void event_submit(struct smolder_event *e, enum smolder_event_kind kind)
{
	bpf_ringbuf_submit(e, event_wakeup(kind));
	event_stat_add(SMOLDER_EVENT_STAT_SENT);
}

static __always_inline void event_send(enum smolder_event_kind kind, __u32 tgid,
				       __u64 start_ticks)
{
	struct smolder_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);

	if (!e) {
		event_dropped();
		return;
	}
	event_init(e, kind, tgid, start_ticks);
	event_submit(e, kind);
}

/* Where the kernel mapped task's vDSO (x86's mm->context), unless its
 * image is the 32-bit one, the only one with a __kernel_vsyscall. */
static __always_inline void fill_vdso(struct smolder_event *e, struct task_struct *task)
{
	const struct vdso_image *image = BPF_CORE_READ(task, mm, context.vdso_image);

	if (!image || BPF_CORE_READ(image, sym___kernel_vsyscall))
		return;
	e->vdso = (__u64)BPF_CORE_READ(task, mm, context.vdso);
	e->vdso_size = BPF_CORE_READ(image, size);
}

/* Which image of its process the task runs: its exec count. */
static __always_inline __u32 task_exec_id(struct task_struct *task)
{
	return (__u32)BPF_CORE_READ(task, self_exec_id);
}

/* A process's start, as /proc/PID/stat gives it: the thread group leader's
 * boot-time start in USER_HZ ticks. Read with CO-RE reads, which serve the
 * raw tracepoints' untyped task pointer as well as a typed one. */
static __always_inline __u64 task_start_ticks(struct task_struct *task)
{
	return BPF_CORE_READ(task, group_leader, start_boottime) / SMOLDER_NSEC_PER_TICK;
}

#endif
