// SPDX-License-Identifier: GPL-2.0
/* Process events: exec and the exit of a process's last thread, sent to the
 * agent through the ring buffer shared with the sampler (see events.h); and
 * executable mmaps (a dlopen), which make the sampler announce the process
 * again so the agent re-reads its mappings.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include "sample.h"
#include "events_maps.bpf.h"

/* Each event has two programs: a BTF tracepoint (Linux 5.5), and a raw
 * tracepoint for kernels without one (agent/kernel_features.c); both read
 * the task with CO-RE reads, so one body serves both. */

/* An exec's event says what the new image is, as a first sample's does
 * (identity.bpf.h): a process first sampled while it exec'd is known
 * from it, once the exec is done. */
static __always_inline void event_send_exec(struct task_struct *p, __u32 tgid)
{
	const unsigned char *exe = BPF_CORE_READ(p, mm, exe_file, f_path.dentry, d_name.name);
	struct smolder_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);

	if (!e) {
		event_dropped();
		return;
	}
	event_init(e, SMOLDER_EVENT_EXEC, tgid, task_start_ticks(p));
	BPF_CORE_READ_STR_INTO(&e->comm, p, comm);
	if (exe)
		bpf_probe_read_kernel_str(e->exe_name, sizeof(e->exe_name), exe);
	e->image = (__u64)BPF_CORE_READ(p, mm);
	e->start_code = BPF_CORE_READ(p, mm, start_code);
	e->exec_id = task_exec_id(p);
	fill_vdso(e, p);
	event_submit(e, SMOLDER_EVENT_EXEC);
}

static __always_inline void on_exec(struct task_struct *p)
{
	__u32 tgid = BPF_CORE_READ(p, tgid);

	/* A new image: the next sample announces the process again, by then
	 * with its libraries mapped. */
	bpf_map_delete_elem(&seen, &tgid);
	event_send_exec(p, tgid);
}

/* Called for every thread; the process ends with its last one, which is not
 * necessarily the leader (main may call pthread_exit). do_exit has already
 * counted this thread out of signal->live (older kernels do not pass
 * group_dead to the tracepoint, so read it ourselves). */
static __always_inline void on_exit(struct task_struct *p)
{
	__u32 tgid = BPF_CORE_READ(p, tgid);

	if (BPF_CORE_READ(p, signal, live.counter) != 0)
		return;
	bpf_map_delete_elem(&seen, &tgid);
	event_send(SMOLDER_EVENT_EXIT, tgid, task_start_ticks(p));
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(smolder_exec, struct task_struct *p)
{
	on_exec(p);
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(smolder_exit, struct task_struct *p)
{
	on_exit(p);
	return 0;
}

SEC("raw_tp/sched_process_exec")
int BPF_PROG(smolder_exec_rt, struct task_struct *p)
{
	on_exec(p);
	return 0;
}

SEC("raw_tp/sched_process_exit")
int BPF_PROG(smolder_exit_rt, struct task_struct *p)
{
	on_exit(p);
	return 0;
}

#define PROT_EXEC 0x4

/* ld.so maps a library's code with PROT_EXEC. Forgetting that the process
 * was announced costs one map update here; its next sample (by when the
 * mmap is done) announces it, and the agent reads its maps again. fentry,
 * not the syscall tracepoint: that one needs tracefs, which a container
 * may not have. Optional: the agent loads it only if the kernel has the
 * function (without it, a new library is found at the drain). */
SEC("fentry/vm_mmap_pgoff")
int BPF_PROG(smolder_mmap_exec, struct file *file, unsigned long addr, unsigned long len,
	     unsigned long prot)
{
	__u32 tgid;

	if (!file || !(prot & PROT_EXEC))
		return 0;
	tgid = bpf_get_current_pid_tgid() >> 32;
	bpf_map_delete_elem(&seen, &tgid);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
