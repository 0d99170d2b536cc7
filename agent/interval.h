/* One interval's end: drain the sampler, attribute each counted stack to
 * its process and service, name its frames, build the profiles, write them,
 * and account for every sample in the counter table.
 */
#ifndef SMOLDER_INTERVAL_H
#define SMOLDER_INTERVAL_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "counters.h"
#include "disc.h"
#include "http_server.h"
#include "proc_events.h"
#include "sampler.h"
#include "stack_copies.h"
#include "refusals.h"
#include "sym.h"
#include "upload_set.h"
#include "kube.h"
#include "location_memo.h"
#include "output_budget.h"
#include "unwind_loader.h"
#include "python_procs.h"
#include "uploader.h"

struct interval_ctx {
	const struct config *cfg;
	struct sampler *sampler;
	struct proc_events *events;
	struct disc_table *disc;
	const struct disc_targets *targets;
	struct sym_cache *sym;
	struct location_memo *memo; /* the frames of this interval's profiles */
	struct ksym_names *ksym_names; /* NULL: kallsyms names the kernel */
	struct sym_worker *worker;         /* reads file contents for sym */
	struct sym_debuginfod *debuginfod; /* NULL: none */
	struct uploader *uploader;         /* NULL: profiles are written locally */
	struct output_budget *output_budget; /* NULL: no --output-max-bytes, or uploading */
	struct http_server *http;          /* NULL: --http-listen off */
	struct unwind_loader *unwind;
	struct python_procs *python;       /* NULL: no Python frames */
	struct stack_copies *copies;       /* NULL: BPF sends none */
	struct kube *kube;                 /* NULL: not in a cluster */
	struct memory_targets *memory;     /* NULL: no memory profiles */
	/* The start of the process each --pid was first seen as (0: not
	 * yet): a process that takes the pid later is no memory target. */
	uint64_t *pid_start_ticks;
	struct upload_warned warned;
	struct counters *counters;
	/* What the symbolizer's totals were at the last interval's end. */
	struct sym_cache_stats sym_seen;
	struct disc_table_stats disc_seen;
	struct sym_debuginfod_stats debuginfod_seen;
	struct sym_worker_stats worker_seen;
	struct sym_refusal_stats refusals_seen;
	struct uploader_stats uploader_seen;
	uint64_t unwind_evictions_seen, unwind_no_room_seen, unwind_retries_seen, output_removed_seen;
	uint64_t unwind_wanted_seen;
	uint64_t python_unsupported_seen;
	uint64_t mmap_dropped_seen;
	struct stack_copies_stats copies_seen;
	/* The interval drained and not yet finished. */
	struct sampler_drain drained;
	int64_t drained_start, drained_end;
	bool drained_awaits_pod;
	bool drained_awaits_tables; /* stack copies wait for tables being read */
};

/* An interval closes in two steps. interval_drain takes the interval
 * [start_ns, end_ns) (Unix ns) out of the sampler, which goes on counting
 * into the next; a negative errno only when the sampler itself failed.
 * interval_finish, before the next drain, attributes, names, builds and
 * writes; lost samples and failed profiles are counted and logged. In
 * between, ctx->drained_awaits_pod says the drain holds samples of a
 * container whose pod the watch has not brought yet, and
 * ctx->drained_awaits_tables that stack copies of it wait for the unwind
 * tables of a file still being read: the caller may let a moment pass
 * first (see run.c), and finish as soon as interval_drain_settled. */
int interval_drain(struct interval_ctx *ctx, int64_t start_ns, int64_t end_ns);
bool interval_drain_settled(const struct interval_ctx *ctx);
/* Whether p is chosen as a memory target (memory_targets.h): a --pid, or
 * the target rules (or its pod) say so; -EAGAIN while its container's pod
 * is not known yet. arg: the interval_ctx. */
int interval_wants_memory(void *arg, const struct disc_process *p);
void interval_finish(struct interval_ctx *ctx);

#endif
