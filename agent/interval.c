/* Closing an interval (see interval.h): the one place where BPF's counts
 * become profiles, and where the books are balanced: every sample BPF took
 * is either profiled or counted as lost for a named reason.
 */
#include "interval.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "frames.h"
#include "log.h"
#include "output.h"
#include "profile_set.h"

#define MAX_FRAMES (2 * SMOLDER_MAX_STACK_DEPTH)

static void count_bpf_stats(struct counters *c, const uint64_t *stats)
{
	counters_add(c, CTR_SAMPLES_TAKEN, stats[SMOLDER_STAT_TAKEN]);
	counters_add(c, CTR_SAMPLES_FILTERED, stats[SMOLDER_STAT_FILTERED]);
	counters_add(c, CTR_LOST_STACK_COLLISION, stats[SMOLDER_STAT_LOST_STACK_COLLISION]);
	counters_add(c, CTR_LOST_COUNT_MAP_FULL, stats[SMOLDER_STAT_LOST_COUNT_MAP_FULL]);
	counters_add(c, CTR_LOST_STACK_READ, stats[SMOLDER_STAT_LOST_STACK_READ]);
}

/* Adds one drained entry to its service's profile; returns the counter that
 * takes its samples (profiled, or the reason they were lost). */
static enum counter_id add_entry(struct interval_ctx *ctx, const struct sampler_drain *d,
				 const struct sampler_entry *e, struct profile_set *set)
{
	const struct smolder_count_key *k = &e->key;
	const struct disc_process *p = NULL;
	uint64_t ips[MAX_FRAMES], ids[MAX_FRAMES];
	const char *service = "kernel";
	struct pprof_builder *b;
	int nk, nu = 0, err;
	int64_t value;

	if (!(k->flags & SMOLDER_KEY_KERNEL_THREAD)) {
		p = disc_table_get(ctx->disc, (int)k->tgid, k->start_ticks);
		if (!p)
			return CTR_LOST_UNKNOWN_PROCESS;
		service = p->service_name;
	}
	nk = sampler_read_stack(ctx->sampler, d, k->kernel_stack_id, ips, SMOLDER_MAX_STACK_DEPTH);
	if (nk >= 0 && p)
		nu = sampler_read_stack(ctx->sampler, d, k->user_stack_id, ips + nk,
					SMOLDER_MAX_STACK_DEPTH);
	if (nk < 0 || nu < 0 || nk + nu == 0)
		return CTR_LOST_STACK_READ;

	err = profile_set_builder(set, service, &b);
	if (!err)
		err = frames_add_kernel(ctx->sym, b, ips, (size_t)nk, ids);
	if (!err && p)
		err = frames_add_user(ctx->sym, ctx->disc, p, b, ips + nk, (size_t)nu, ids + nk);
	value = (int64_t)e->count * profile_set_period(set);
	if (!err)
		err = pprof_builder_add_sample(b, ids, (size_t)(nk + nu), &value);
	if (err) {
		log_warn("could not add a sample of %s (pid %u) to its profile: %s",
			 service, k->tgid, strerror(-err));
		return CTR_LOST_PROFILE_ERROR;
	}
	return CTR_SAMPLES_PROFILED;
}

static void write_profiles(struct interval_ctx *ctx, const struct profile_set *set)
{
	struct output_result res;

	output_write_set(ctx->cfg->output_dir, set, &res);
	counters_add(ctx->counters, CTR_PROFILES_WRITTEN, res.written);
	counters_add(ctx->counters, CTR_PROFILE_ERRORS, res.failed);
	if (res.failed)
		log_error("could not write %zu profile(s), the first %s: %s", res.failed,
			  res.failed_path, strerror(-res.first_error));
}

static void log_counters(const struct counters *c, int64_t start_ns, int64_t end_ns)
{
	char line[1024];
	uint64_t taken = c->interval[CTR_SAMPLES_TAKEN];
	uint64_t accounted = c->interval[CTR_SAMPLES_PROFILED] + counters_interval_lost(c);
	int64_t start_s, end_s;

	counters_format_interval(c, line, sizeof(line));
	output_interval_seconds(start_ns, end_ns, &start_s, &end_s);
	log_info("counters interval=%lld-%lld %s", (long long)start_s, (long long)end_s, line);
	if (accounted != taken)
		log_warn("samples do not add up this interval: %llu taken, %llu profiled or lost",
			 (unsigned long long)taken, (unsigned long long)accounted);
}

int interval_close(struct interval_ctx *ctx, int64_t start_ns, int64_t end_ns)
{
	struct counters *c = ctx->counters;
	struct sampler_drain d;
	struct profile_set *set;
	int err;

	err = sampler_drain(ctx->sampler, &d);
	if (err) {
		sampler_drain_release(ctx->sampler, &d);
		return err;
	}
	count_bpf_stats(c, d.stats);
	set = profile_set_new(start_ns, end_ns, ctx->cfg->sample_rate);
	for (size_t i = 0; i < d.n; i++) {
		enum counter_id fate = set ? add_entry(ctx, &d, &d.entries[i], set)
					   : CTR_LOST_PROFILE_ERROR;
		counters_add(c, fate, d.entries[i].count);
	}
	sampler_drain_release(ctx->sampler, &d);
	if (set)
		write_profiles(ctx, set);
	profile_set_free(set);

	/* Processes that exited are needed until their last samples are drained,
	 * which is now. */
	disc_table_expire(ctx->disc);
	counters_set(c, CTR_PROCESSES_TRACKED, disc_table_size(ctx->disc));
	log_counters(c, start_ns, end_ns);
	counters_end_interval(c);
	return 0;
}
