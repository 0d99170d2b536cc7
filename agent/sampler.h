/* The sampler: loads bpf/sample.bpf.c, opens one CPU-clock perf event per
 * online CPU, and drains the counted samples of each interval.
 *
 * A drain flips the generation BPF writes to, waits until no program can
 * still be writing the old one, and only then reads and clears it: samples
 * landing during the drain go to the new generation, and none is read twice.
 */
#ifndef SMOLDER_SAMPLER_H
#define SMOLDER_SAMPLER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/types.h>
#include "sample.h"
#include "unwind.h"
#include "python.h"
#include "offcpu.h"

struct sampler;

struct sampler_opts {
	size_t sz;
	unsigned int sample_rate;
	const int *pids; /* n_pids == 0: every process */
	size_t n_pids;
	bool include_idle;
	unsigned int count_map_entries; /* 0: sample.h's default */
	unsigned int stack_map_entries;
	uint32_t unwind_rows;           /* 0: unwind.h's default */
	bool walk_frame_pointers;       /* no bpf_loop: the frame-pointer walk */
	bool regs_from_kernel_stack;    /* no bpf_task_pt_regs */
	bool preallocate_maps;          /* no hash maps allocated as filled (before 6.1) */
	/* Stack copies all CPUs together may send per second (stack_copy.h);
	 * 0: none. The frame-pointer walk sends none. */
	unsigned int stack_copies_per_sec;
	/* Time off the CPU and lock contention (bpf/offcpu.h): which of
	 * them (SMOLDER_OFFCPU_TYPE_*; 0: none, and no sched_switch program
	 * is loaded), the probability a switch-out is drawn (in 1/2^32,
	 * SMOLDER_OFFCPU_ALWAYS: every one), and the shortest block counted. */
	unsigned int offcpu_types;
	uint64_t offcpu_threshold;
	uint64_t offcpu_min_block_ns;
	bool raw_tracepoints;           /* no tp_btf: sched_switch as a raw tracepoint */
	bool no_cpu_clock;              /* no cpu profiles: no perf events attached */
	/* Memory profiles (bpf/memory.h): the uprobe programs are loaded,
	 * to be attached to each target (sampler_memory_attach), drawing an
	 * allocation per this many bytes on average. */
	bool memory;
	uint64_t memory_sample_bytes;
	bool memory_no_cookie;          /* no bpf_get_attach_cookie: a program per call */
};

/* A count key's total: for CPU samples, count is the samples; for the
 * other kinds (key.kind), the blocks or contentions that ended and ns the
 * time they took in the interval (unscaled: drawn with probability
 * 1/scale). */
struct sampler_entry {
	struct smolder_count_key key;
	uint64_t count;
	uint64_t ns;
};

/* One generation's samples, readable until sampler_drain_release. */
struct sampler_drain {
	struct sampler_entry *entries;
	size_t n;
	uint64_t stats[SMOLDER_STAT_COUNT];
	unsigned int gen;
	/* Blocks still off the CPU at the flip, cut there (their time so
	 * far is in entries), of them those whose thread came back and
	 * left again during the cut (the time since the flip is lost), and
	 * those in the pending map after it. */
	uint64_t offcpu_cut, offcpu_cut_lost, offcpu_pending;
	/* Sampled allocations held at the drain (their INUSE entries are in
	 * entries, summed by stack). */
	uint64_t memory_live;
};

/* Loads the program and creates its maps, without sampling yet. Returns 0
 * with *out set, or a negative errno; *what names the step that failed
 * (for the one line the agent prints). */
int sampler_new(const struct sampler_opts *opts, struct sampler **out,
		const char **what);
/* The name of the sampling program loaded (one of bpf/sample.bpf.c's). */
const char *sampler_program_name(const struct sampler *s);
/* The sched_switch program loaded, or NULL: no offcpu or mutex profiles. */
const char *sampler_offcpu_program_name(const struct sampler *s);
/* Starts sampling: one perf event per online CPU, and the sched_switch
 * program. */
int sampler_start(struct sampler *s, const char **what);
/* Samples of this process and its children (0: none) are left out, as
 * filtered. */
void sampler_leave_out(struct sampler *s, int pid);
void sampler_free(struct sampler *s);

/* The maps the sampler shares with the process-event programs
 * (bpf/events.h): the ring buffer, the seen map, the event counters. */
struct sampler_event_maps {
	int events_fd;
	int seen_fd;
	int event_stats_fd;
	int exec_ranges_fd;
	int cgroup_paths_fd; /* bpf/identity.bpf.h */
};
void sampler_event_maps(const struct sampler *s, struct sampler_event_maps *m);

/* Number of perf events attached (one per online CPU). */
size_t sampler_cpu_count(const struct sampler *s);

int sampler_drain(struct sampler *s, struct sampler_drain *d);

/* ---- memory profiles (sampler_memory.c) ---- */

struct bpf_link;

/* Attaches the memory programs to process pid alone: the entry program at
 * offset of the file at path (a file offset, as the uprobe PMU takes it),
 * told by the cookie which call it is (enum smolder_mem_call), and when ret,
 * the return program at the same place. *entry and *exit (NULL when !ret)
 * are the links, to bpf_link__destroy (slow: an RCU grace period each).
 * A negative errno. */
int sampler_memory_attach(struct sampler *s, int pid, const char *path, uint64_t offset,
			  uint32_t call, bool ret, struct bpf_link **entry, struct bpf_link **exit);
/* The memory programs loaded, comma-separated ("": none). */
void sampler_memory_program_names(const struct sampler *s, char *buf, size_t len);
/* Takes up to max forks of memory targets the kernel has seen since the
 * last call (their children, by tgid, into children[] with their start
 * times); returns how many. */
size_t sampler_memory_forks(struct sampler *s, int *children, uint64_t *start_ticks, size_t max);
/* Starts counting probe hits of tgid (0 so far), or stops. */
int sampler_memory_watch(struct sampler *s, int tgid, bool on);
/* Probe hits of tgid since it was watched. */
int sampler_memory_hits(struct sampler *s, int tgid, uint64_t *hits);
/* Forgets what tgid's sampled allocations hold (its probes are gone: its
 * frees would go unseen), and its threads' records of calls in flight.
 * Returns how many live allocations were forgotten. */
size_t sampler_memory_forget(struct sampler *s, int tgid);

/* Copies the kernel stack of key (leaf first) into ips; returns how many
 * (0 for key 0: none). */
int sampler_read_kernel_stack(struct sampler *s, const struct sampler_drain *d, uint64_t key,
			      uint64_t *ips, size_t max);

/* Copies the user stack of key (leaf first) into ips; returns how many,
 * with how the walk ended (enum smolder_unwind_end) in *end. */
int sampler_read_user_stack(struct sampler *s, const struct sampler_drain *d, uint64_t key,
			    uint64_t *ips, size_t max, unsigned int *end);

/* Copies the Python frames of key (leaf first) into frames; returns how
 * many (0 for key 0), with how their walk ended (enum smolder_py_end) in
 * *end. */
int sampler_read_py_stack(struct sampler *s, const struct sampler_drain *d, uint64_t key,
			  struct smolder_py_frame *frames, size_t max, unsigned int *end);

/* The map of Python processes (bpf/python.h); -1 when the program loaded
 * walks no Python frames (the frame-pointer one). */
int sampler_py_procs_fd(const struct sampler *s);

/* The unwind tables' maps (bpf/unwind.h), for the unwind loader. */
void sampler_unwind_maps(const struct sampler *s, int *rows_fd, int *procs_fd,
			 uint32_t *max_rows);

/* The ring buffer of stack copies (bpf/stack_copy.h); -1 when the
 * program sends none. */
int sampler_stack_copies_fd(const struct sampler *s);

/* Puts a stack walked in user space into the user stacks of d's
 * generation, under the hash BPF would give it; *key is that hash. */
int sampler_add_user_stack(struct sampler *s, const struct sampler_drain *d,
			   const struct smolder_user_stack *st, uint64_t *key);

/* The kernel memory of every map of the sampler's BPF object (counts,
 * stacks, unwind rows, events, ...; the process-event programs share
 * them), from their fdinfo: what BPF takes, beside --memory-limit. */
uint64_t sampler_map_bytes(const struct sampler *s);

/* Clears the drained generation's stacks so it is empty when it is next
 * written to, and frees d's memory. */
void sampler_drain_release(struct sampler *s, struct sampler_drain *d);

#endif
