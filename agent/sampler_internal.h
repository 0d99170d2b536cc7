/* What sampler.c and sampler_memory.c share: the sampler's state and the
 * helpers both use. Not for the rest of the agent (sampler.h). */
#ifndef SMOLDER_SAMPLER_INTERNAL_H
#define SMOLDER_SAMPLER_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "memory.h"
#include "sampler.h"

struct sampler {
	struct sample_bpf *skel;
	struct bpf_program *prog; /* the one of the four that is loaded */
	struct bpf_program *offcpu_prog; /* NULL: no offcpu or mutex profiles */
	struct bpf_link *offcpu_link;
	struct bpf_link **links;
	int *perf_fds;
	size_t n_cpus;
	int n_possible_cpus;
	unsigned int gen;
	unsigned int sample_rate;
	bool copies;
	bool walk_fp; /* the frame-pointer program: no Python walk */
	uint64_t offcpu_min_block_ns;
	bool no_cpu_clock;
	/* Memory profiles (sampler_memory.c): the return program loaded;
	 * NULL: none asked. */
	struct bpf_program *memory_ret;
	/* The entry program of each kind of call (enum smolder_mem_call):
	 * all the one told by its cookie, or each its own. */
	struct bpf_program *memory_in[SMOLDER_MEM_CALL_COUNT];
	struct bpf_link *memory_fork_link;
};

int sampler_user_stacks_fd(const struct sampler *s, unsigned int gen);
int sampler_kernel_stacks_fd(const struct sampler *s, unsigned int gen);
int sampler_py_stacks_fd(const struct sampler *s, unsigned int gen);
/* Room in d for n more entries (*cap: its room now). */
int sampler_reserve_entries(struct sampler_drain *d, size_t *cap, size_t n);
/* A stack of one generation's map (fd from) into another's (to), under its
 * key; buf holds the largest stack. */
void sampler_copy_stack(int from, int to, uint64_t key, void *buf);

/* sampler_memory.c: */
/* Before load: loads the memory programs only if asked. */
void sampler_memory_choose(struct sampler *s, const struct sampler_opts *o);
/* After load: the exponential draws of --memory-sample-bytes. */
int sampler_memory_fill_draws(struct sampler *s, uint64_t mean_bytes);
/* Attaches the fork program (none without memory profiles). */
int sampler_memory_start(struct sampler *s);
/* At a drain: what the sampled allocations hold, as INUSE entries of d. */
int sampler_memory_read_live(struct sampler *s, struct sampler_drain *d, size_t *cap);

#endif
