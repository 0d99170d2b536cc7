/* Process events, shared by bpf/events.bpf.c, bpf/sample.bpf.c and agent/.
 *
 * The kernel tells the agent about processes as things happen, through one
 * ring buffer: an exec (the process's image changed), the exit of a
 * process's last thread, and the first sample of a process the sampler has
 * not seen before (so the agent reads its /proc files while it still lives,
 * however short its life). The "seen" map, which remembers the processes
 * already announced, lives in sample.bpf.c; events.bpf.c shares it and the
 * ring buffer (the agent hands their fds over before loading it).
 */
#ifndef SMOLDER_BPF_EVENTS_H
#define SMOLDER_BPF_EVENTS_H

#ifndef __VMLINUX_H__ /* user space; BPF gets these types from vmlinux.h */
#include <linux/types.h>
#endif

#define SMOLDER_EVENTS_RINGBUF_BYTES (1024 * 1024)
#define SMOLDER_SEEN_ENTRIES 16384

enum smolder_event_kind {
	SMOLDER_EVENT_EXEC = 1,     /* a new image: re-read exe and maps */
	SMOLDER_EVENT_EXIT = 2,     /* the last thread exited */
	SMOLDER_EVENT_SAMPLED = 3,  /* first sample of a process not seen before,
				     * or since it exec'd or mapped code (dlopen) */
};

/* A first sample (SMOLDER_EVENT_SAMPLED) also says what the kernel knows of
 * the process (bpf/identity.bpf.h), so that the agent need not read /proc
 * (and can label a process gone before it could); an exec says its comm,
 * executable, image and start_code; an exit none of these (zeros). */
#define SMOLDER_COMM_LEN 16
#define SMOLDER_EXE_NAME_LEN 64

struct smolder_event {
	__u32 kind;
	__u32 tgid;
	__u64 start_ticks; /* as in smolder_count_key */
	char comm[SMOLDER_COMM_LEN];         /* the thread group leader's */
	char exe_name[SMOLDER_EXE_NAME_LEN]; /* base name of the executable's file */
	__u64 cgroup_id;                     /* key into cgroup_paths; 0: the root */
	/* Which image of the process was sampled (the address of its
	 * mm_struct, which an exec replaces): a stack copy (stack_copy.h) is
	 * walked only through mappings read for the image it was taken in.
	 * A token for comparing, never shown. 0 in exit events. */
	__u64 image;
	/* Where the executable's code starts (mm->start_code): how the agent
	 * knows that the mmap records it holds (agent/mmap_events.c) are of
	 * this image, so that it need not read /proc. 0: no mm. */
	__u64 start_code;
	__u32 nspid; /* the process's pid in its own pid namespace */
	/* The process that forked it (its leader's real parent): as
	 * smolder_count_key has it. */
	__u32 parent_tgid;
	__u64 parent_start_ticks;
	/* 1: neither it nor its parent has exec'd since the fork (the exec
	 * counts of both, self_exec_id, are still the one the fork copied):
	 * it has its parent's image. */
	__u32 parent_image;
	/* The image's exec count, as smolder_count_key has it: in exec
	 * events, that of the new image (the old one's is one less). */
	__u32 exec_id;
	/* Its view of the file system, which the paths of its mmap records
	 * are relative to: its mount namespace, and its root directory's
	 * device and inode. Two processes with the same view reach the same
	 * file by the same path. 0s: not known (a process in its exit). */
	__u32 mnt_ns;
	__u32 root_dev;
	__u64 root_ino;
	/* Where the kernel mapped its vDSO, and how long: no mmap record
	 * announces it. 0s: no mm, or a 32-bit image's vDSO (not the one
	 * the agent reads). */
	__u64 vdso;
	__u64 vdso_size;
};

/* The path of a cgroup, leaf first, one component a slot: enough for the
 * container and pod components discovery/cgroup.c looks for (a runtime's
 * "cri-containerd-<64 hex>.scope" is 85 bytes). truncated: more components
 * above names[n - 1] than fit. */
#define SMOLDER_CGROUP_DEPTH_MAX 8
#define SMOLDER_CGROUP_NAME_MAX 128
#define SMOLDER_CGROUP_PATHS_ENTRIES 1024
#define SMOLDER_CGROUP_SUBSYS_MAX 16

struct smolder_cgroup_path {
	__u32 n;
	__u32 truncated;
	char names[SMOLDER_CGROUP_DEPTH_MAX][SMOLDER_CGROUP_NAME_MAX];
};

/* The executable mappings of a process, as the agent last read them, so the
 * sampler can tell an address the agent cannot name yet (a library loaded
 * since) and announce the process again, at most once per
 * SMOLDER_RANGES_RENOTIFY_NS. More mappings than fit are merged by the
 * agent across their smallest gaps. */
#define SMOLDER_MAX_EXEC_RANGES 32
#define SMOLDER_EXEC_RANGES_ENTRIES 8192
#define SMOLDER_RANGES_RENOTIFY_NS 50000000ULL /* 20 re-reads a second at most */

struct smolder_exec_ranges {
	__u64 start_ticks;
	__u64 last_notify_ns; /* set by BPF when it announces; 0 from the agent */
	__u32 n;
	__u32 pad;
	struct {
		__u64 start;
		__u64 end;
	} r[SMOLDER_MAX_EXEC_RANGES];
};

/* Counted per CPU in events.bpf.c's event_stats array. */
enum smolder_event_stat {
	SMOLDER_EVENT_STAT_SENT = 0,
	SMOLDER_EVENT_STAT_DROPPED, /* ring buffer full */
	SMOLDER_EVENT_STAT_COUNT,
};

#endif
