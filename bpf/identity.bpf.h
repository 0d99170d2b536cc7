/* What the kernel knows of a process, sent with its first sample (events.h)
 * so the agent can label its samples even when the process is gone before
 * its /proc files are read: its comm, its executable's name, and its
 * cgroup, whose path goes once per cgroup into the cgroup_paths map.
 * Included by sample.bpf.c only; read with CO-RE reads throughout.
 */
#ifndef SMOLDER_IDENTITY_BPF_H
#define SMOLDER_IDENTITY_BPF_H

#include "events.h"

/* cgroup id -> its path, leaf first. LRU: a path evicted is written again
 * at the next first sample of a process in that cgroup. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, SMOLDER_CGROUP_PATHS_ENTRIES);
	__type(key, __u64);
	__type(value, struct smolder_cgroup_path);
} cgroup_paths SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct smolder_cgroup_path);
} cgroup_path_scratch SEC(".maps");

/* Linux 6.15 renamed kernfs_node's parent to __parent (it is RCU-managed
 * now); vmlinux.h has the new name, and this is the old one. CO-RE picks
 * whichever the running kernel has. */
struct kernfs_node___before_6_15 {
	struct kernfs_node *parent;
} __attribute__((preserve_access_index));

static __always_inline struct kernfs_node *kernfs_parent(struct kernfs_node *kn)
{
	if (bpf_core_field_exists(struct kernfs_node___before_6_15, parent))
		return BPF_CORE_READ((struct kernfs_node___before_6_15 *)kn, parent);
	return BPF_CORE_READ(kn, __parent);
}

/* The cgroup that says where the process runs, chosen as
 * discovery/cgroup.c chooses from /proc/PID/cgroup: the v2 one unless it is
 * the root (on a hybrid host every process is at "0::/"), else the first
 * v1 controller's that is not the root. (The name=systemd hierarchy has no
 * controller and cannot be reached from here; runtimes create the same
 * path in each controller they use.) 0: the root everywhere.
 *
 * Of the task's css_set (task->cgroups), its address as a number, and the
 * kernfs_node's returned so: a global function, which the verifier checks
 * once, on its own, rather than its loop over the controllers in each
 * state the program reaches it in (on 6.1 a third of the sampling
 * program's instructions); a global function's arguments and result are
 * numbers or pointers to memory, and every read here is a CO-RE read. */
__noinline __u64 smolder_process_cgroup(__u64 css_set)
{
	struct css_set *cs = (struct css_set *)css_set;
	struct kernfs_node *kn = BPF_CORE_READ(cs, dfl_cgrp, kn);
	int n = bpf_core_enum_value(enum cgroup_subsys_id, CGROUP_SUBSYS_COUNT);

	if (kn && kernfs_parent(kn))
		return (__u64)kn;
	for (int i = 0; i < SMOLDER_CGROUP_SUBSYS_MAX; i++) {
		struct cgroup_subsys_state *css;

		if (i >= n)
			break;
		css = BPF_CORE_READ(cs, subsys[i]);
		if (!css)
			continue;
		kn = BPF_CORE_READ(css, cgroup, kn);
		if (kn && kernfs_parent(kn))
			return (__u64)kn;
	}
	return 0;
}

static __always_inline struct kernfs_node *process_cgroup(struct task_struct *task)
{
	return (struct kernfs_node *)smolder_process_cgroup((__u64)BPF_CORE_READ(task, cgroups));
}

/* Writes kn's path into cgroup_paths unless it is there: once per cgroup,
 * not once per process. */
static __always_inline void note_cgroup_path(struct kernfs_node *kn, __u64 id)
{
	struct smolder_cgroup_path *p;
	__u32 zero = 0;

	if (bpf_map_lookup_elem(&cgroup_paths, &id))
		return;
	p = bpf_map_lookup_elem(&cgroup_path_scratch, &zero);
	if (!p)
		return;
	p->n = 0;
	p->truncated = 1;
	for (int i = 0; i < SMOLDER_CGROUP_DEPTH_MAX; i++) {
		struct kernfs_node *parent = kernfs_parent(kn);

		if (!parent) { /* kn is the hierarchy's root, whose name is not the path's */
			p->truncated = 0;
			break;
		}
		bpf_probe_read_kernel_str(p->names[i], sizeof(p->names[i]), BPF_CORE_READ(kn, name));
		p->n = i + 1;
		kn = parent;
	}
	bpf_map_update_elem(&cgroup_paths, &id, p, BPF_NOEXIST);
}

/* The pid the process has in the innermost pid namespace it is in: what a
 * JIT names its /tmp/perf-PID.map after. struct pid's numbers[] is indexed
 * by namespace level, so its offset is computed from the kernel's own
 * layout. */
static __always_inline __u32 task_nspid(struct task_struct *task)
{
	struct pid *pid = BPF_CORE_READ(task, group_leader, thread_pid);
	unsigned int level = BPF_CORE_READ(pid, level);
	int nr = 0;

	if (!pid)
		return 0;
	bpf_probe_read_kernel(&nr, sizeof(nr),
			      (char *)pid + bpf_core_field_offset(struct pid, numbers) +
				      (level & 31) * bpf_core_type_size(struct upid) +
				      bpf_core_field_offset(struct upid, nr));
	return (__u32)nr;
}

/* Whether the process still runs the image its parent had when it forked
 * it, and the parent too: an exec counts itself in self_exec_id, and a
 * fork gives the child its parent's count as parent_exec_id. (A non-PIE
 * executable's code is at the same address in every image, so where the
 * code is cannot tell.) */
static __always_inline __u32 same_image_as_parent(struct task_struct *task)
{
	struct task_struct *leader = BPF_CORE_READ(task, group_leader);
	__u64 forked_at = BPF_CORE_READ(leader, parent_exec_id);

	return BPF_CORE_READ(leader, self_exec_id) == forked_at &&
	       BPF_CORE_READ(leader, real_parent, self_exec_id) == forked_at;
}

static __always_inline void fill_identity(struct smolder_event *e, struct task_struct *task)
{
	struct kernfs_node *kn = process_cgroup(task);
	const unsigned char *exe =
		BPF_CORE_READ(task, mm, exe_file, f_path.dentry, d_name.name);

	BPF_CORE_READ_STR_INTO(&e->comm, task, group_leader, comm);
	e->exe_name[0] = 0;
	if (exe)
		bpf_probe_read_kernel_str(e->exe_name, sizeof(e->exe_name), exe);
	e->cgroup_id = 0;
	if (kn) {
		e->cgroup_id = BPF_CORE_READ(kn, id);
		note_cgroup_path(kn, e->cgroup_id);
	}
}

/* The event of a first sample, with what the kernel knows of the process. */
static __always_inline void event_send_sampled(__u32 tgid, __u64 start_ticks,
					       struct task_struct *task)
{
	struct smolder_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);

	if (!e) {
		event_dropped();
		return;
	}
	event_init(e, SMOLDER_EVENT_SAMPLED, tgid, start_ticks);
	fill_identity(e, task);
	e->image = (__u64)BPF_CORE_READ(task, mm);
	e->start_code = BPF_CORE_READ(task, mm, start_code);
	e->nspid = task_nspid(task);
	e->parent_tgid = BPF_CORE_READ(task, group_leader, real_parent, tgid);
	e->parent_start_ticks = task_start_ticks(BPF_CORE_READ(task, group_leader, real_parent));
	e->parent_image = same_image_as_parent(task);
	e->exec_id = task_exec_id(task);
	e->mnt_ns = BPF_CORE_READ(task, nsproxy, mnt_ns, ns.inum);
	e->root_dev = BPF_CORE_READ(task, fs, root.mnt, mnt_sb, s_dev);
	e->root_ino = BPF_CORE_READ(task, fs, root.dentry, d_inode, i_ino);
	fill_vdso(e, task);
	event_submit(e, SMOLDER_EVENT_SAMPLED);
}

#endif
