/* The run loop (see run.h). Everything here runs on one thread: the
 * sampling itself happens in the kernel, so the drain can take its time
 * without delaying or losing a sample. */
#include "run.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "counters.h"
#include "disc.h"
#include "heap_tuning.h"
#include "http_server.h"
#include "interval.h"
#include "kernel_features.h"
#include "ksym_names.h"
#include "location_memo.h"
#include "parser_exe.h"
#include "log.h"
#include "memory_targets.h"
#include "proc_events.h"
#include "sampler.h"
#include "stack_copy.h"
#include "stack_copies.h"
#include "sym.h"
#include "kube.h"
#include "unwind.h"
#include "unwind_loader.h"
#include "uploader.h"

/* Processes announce themselves (proc_events.c): the scan only reconciles
 * what a full ring buffer may have dropped. */
#define SCAN_PERIOD_MS 10000
/* How often memory targets are looked for and their probe hits read. */
#define MEMORY_TICK_NS 1000000000LL
/* Frames memoized per interval: 16k (at most 1.5 MiB of slots) covers a busy host's
 * distinct frames; past it, the rest are named each time they come. */
#define LOCATION_MEMO_MAX 16384

static int64_t now_ns(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* libbpf's messages at debug level, a line each: a verifier's log is one
 * message of many lines, which one line of ours would cut. */
static int libbpf_log(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char *text, *line, *next;

	if (log_get_level() > LOG_DEBUG || level == LIBBPF_DEBUG)
		return 0;
	if (vasprintf(&text, fmt, ap) < 0)
		return 0;
	for (line = text; *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		else
			next = line + strlen(line);
		log_debug("libbpf: %s", line);
	}
	free(text);
	return 0;
}

/* SIGINT and SIGTERM arrive as readable data on a descriptor, so the loop
 * waits for them and its deadlines in one poll. */
static int signals_open(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	if (sigprocmask(SIG_BLOCK, &set, NULL))
		return -errno;
	signal(SIGPIPE, SIG_IGN);
	int fd = signalfd(-1, &set, SFD_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

static int64_t min3(int64_t a, int64_t b, int64_t c)
{
	int64_t m = a < b ? a : b;
	return m < c ? m : c;
}

/* How long the rings of events and stack copies are left to fill after
 * they woke the agent. A wake-up costs tens of microseconds of the agent's
 * CPU on a virtual machine, and a host that starts dozens of processes a
 * second (shells, probes, builds) woke it some 60 times a second, for one
 * or two events each; batched, at most 10. Nothing waits on the agent
 * meanwhile: BPF keeps counting and copying, a process gone in between is
 * known from the mmap log, and a drain takes what is in the rings first. */
#define EVENTS_BATCH_NS (100LL * 1000000LL)

/* Waits until deadline (monotonic ns), handing process events to discovery
 * and stack copies to their walker as they come, but no sooner than
 * *batch_end, which each batch taken moves on; returns 1 if a signal came. */
static int wait_until(int sigfd, struct proc_events *events, struct stack_copies *copies,
		      int64_t deadline, int64_t *batch_end)
{
	struct pollfd pfd[3] = {
		{ .fd = sigfd, .events = POLLIN },
		{ .events = POLLIN },
		{ .events = POLLIN },
	};

	for (;;) {
		int64_t now = now_ns(CLOCK_MONOTONIC);
		bool batching = *batch_end > now && *batch_end < deadline;
		int64_t left = (batching ? *batch_end : deadline) - now;
		int timeout = left <= 0 ? 0 : (int)((left + 999999) / 1000000);
		int ready;

		/* A negative fd is not polled: only signals, while the rings fill. */
		pfd[1].fd = batching ? -1 : proc_events_fd(events);
		pfd[2].fd = batching || !copies ? -1 : stack_copies_fd(copies);
		pfd[1].revents = pfd[2].revents = 0;
		ready = poll(pfd, 3, timeout);
		if (ready == 0 && batching)
			continue;
		if (ready <= 0)
			return 0;
		if ((pfd[1].revents | pfd[2].revents) & POLLIN)
			*batch_end = now_ns(CLOCK_MONOTONIC) + EVENTS_BATCH_NS;
		if (pfd[1].revents & POLLIN)
			proc_events_consume(events);
		/* After the events: a copy's process is read at its first
		 * sample's event. */
		if (pfd[2].revents & POLLIN)
			stack_copies_consume(copies);
		if (pfd[0].revents & POLLIN) {
			struct signalfd_siginfo si;
			if (read(sigfd, &si, sizeof(si)) == sizeof(si))
				log_info("received %s: writing the last interval",
					 strsignal((int)si.ssi_signo));
			return 1;
		}
		/* A steady stream of events must not hold off the deadline. */
		if (timeout == 0)
			return 0;
	}
}

/* Intervals end on whole seconds of the wall clock, so the files of one
 * service tile time exactly: each one's end is the next one's start. */
static int64_t interval_end_after(int64_t start_rt, int64_t interval)
{
	int64_t end = start_rt + interval;

	return (end + 999999999) / 1000000000 * 1000000000;
}

/* How often a drain whose stack copies wait for tables looks for them. */
#define TABLES_POLL_NS (100LL * 1000000LL)

/* How long a drain that holds samples of a container whose pod is not
 * known yet waits for the watch to bring it, before it is built: what the
 * kubelet and the watch take (a second or two), within half an interval,
 * so that it is built before the next drain. */
static int64_t drain_grace_ns(int64_t interval)
{
	int64_t grace = 2000000000LL;

	return grace < interval / 2 ? grace : interval / 2;
}

/* Test only (tests/integration/test_health.py): SMOLDER_TEST_STALL_S=N
 * makes the loop sleep N seconds as it closes its second interval, so
 * that a test can see /healthz notice a stalled loop. Not a flag, so not
 * in --help; unset, it costs one getenv at start. */
static unsigned int test_stall_s(void)
{
	const char *v = getenv("SMOLDER_TEST_STALL_S");

	return v ? (unsigned int)strtoul(v, NULL, 10) : 0;
}

static int loop(struct interval_ctx *ctx, int sigfd)
{
	const struct config *cfg = ctx->cfg;
	int64_t interval = (int64_t)cfg->upload_interval_ms * 1000000;
	int64_t start_mono = now_ns(CLOCK_MONOTONIC);
	int64_t interval_start = now_ns(CLOCK_REALTIME);
	int64_t interval_end = interval_end_after(interval_start, interval);
	int64_t next_scan = start_mono + SCAN_PERIOD_MS * 1000000LL;
	int64_t next_memory_tick = ctx->memory ? start_mono + MEMORY_TICK_NS : INT64_MAX;
	int64_t end = cfg->duration_ms ? start_mono + (int64_t)cfg->duration_ms * 1000000
				       : INT64_MAX;
	int64_t finish_at = INT64_MAX; /* a drain waits to be finished until then */
	int64_t batch_end = 0;
	unsigned int stall_s = test_stall_s(), closes = 0;
	bool retry_tables = false;
	int stop = 0, err;

	while (!stop) {
		/* the interval's end, on the clock poll waits by */
		int64_t close_at = now_ns(CLOCK_MONOTONIC) + (interval_end - now_ns(CLOCK_REALTIME));
		int64_t now, wake;

		http_server_loop_turned(ctx->http);
		close_at = close_at < finish_at ? close_at : finish_at;
		/* Tables loaded for new processes meanwhile wait for the parser
		 * worker no longer than the interval has left. */
		sym_cache_set_deadline(ctx->sym, close_at > 0 ? (uint64_t)close_at : 1);
		/* Once an interval: tables that missed that deadline last time. */
		if (retry_tables && ctx->unwind)
			unwind_loader_retry(ctx->unwind, ctx->disc);
		retry_tables = false;
		wake = min3(next_scan < next_memory_tick ? next_scan : next_memory_tick, close_at,
			    end);
		/* A drain whose stack copies wait for a table being read: looked
		 * at every moment, without waiting on the parser worker (the
		 * loop goes on taking events meanwhile), until the table comes
		 * or the drain's grace ends. */
		if (finish_at != INT64_MAX && ctx->drained_awaits_tables) {
			sym_cache_set_deadline(ctx->sym, 1);
			stack_copies_walk_waiting(ctx->copies);
			sym_cache_set_deadline(ctx->sym, close_at > 0 ? (uint64_t)close_at : 1);
			wake = min3(wake, now_ns(CLOCK_MONOTONIC) + TABLES_POLL_NS, INT64_MAX);
		}
		stop = wait_until(sigfd, ctx->events, ctx->copies, wake, &batch_end);
		now = now_ns(CLOCK_MONOTONIC);
		if (now >= end)
			stop = 1;
		if (!stop && now >= next_scan) {
			err = disc_table_scan(ctx->disc);
			if (err)
				log_warn("scanning /proc: %s", strerror(-err));
			next_scan = now + SCAN_PERIOD_MS * 1000000LL;
		}
		if (!stop && now >= next_memory_tick) {
			memory_targets_tick(ctx->memory, now);
			next_memory_tick = now + MEMORY_TICK_NS;
		}
		if (finish_at != INT64_MAX &&
		    (stop || now >= finish_at || interval_drain_settled(ctx))) {
			interval_finish(ctx);
			finish_at = INT64_MAX;
		}
		if (stop || now_ns(CLOCK_REALTIME) >= interval_end) {
			/* A stop ends the interval now: that last one is partial. */
			if (stop)
				interval_end = now_ns(CLOCK_REALTIME);
			if (stall_s && ++closes == 2)
				sleep(stall_s);
			err = interval_drain(ctx, interval_start, interval_end);
			if (err) {
				log_error("draining the BPF maps: %s", strerror(-err));
				return 1;
			}
			if (!stop && !interval_drain_settled(ctx))
				finish_at = now_ns(CLOCK_MONOTONIC) + drain_grace_ns(interval);
			else
				interval_finish(ctx);
			interval_start = interval_end;
			interval_end = interval_end_after(interval_start, interval);
			retry_tables = true;
		}
	}
	return 0;
}

/* Kernel frames are named by the kernel, address by address; a kernel that
 * cannot (before 5.14) has kallsyms read whole. */
static void kernel_names_start(struct interval_ctx *ctx, const struct kernel_features *kf)
{
	int err;

	ctx->ksym_names = kf->have[KF_KSYM_BPF] ? ksym_names_new() : NULL;
	if (ctx->ksym_names && sym_cache_set_kernel_namer(ctx->sym, ksym_names_name,
							  ctx->ksym_names) == 0)
		return;
	if (kf->have[KF_KSYM_BPF])
		log_info("naming kernel frames through BPF: %s; reading kallsyms instead",
			 strerror(ctx->ksym_names ? ENOMEM : errno));
	ksym_names_free(ctx->ksym_names);
	ctx->ksym_names = NULL;
	err = sym_cache_load_kernel(ctx->sym);
	if (err)
		log_warn("reading kallsyms: %s; kernel frames stay unnamed", strerror(-err));
}

/* debuginfod is used when a server is named, by flag or by the variable
 * elfutils itself reads. Started after signals are blocked, so that its
 * thread never takes SIGINT/SIGTERM from the signalfd. */
static struct sym_debuginfod *debuginfod_start(const struct config *cfg)
{
	const char *env = getenv("DEBUGINFOD_URLS");
	struct sym_debuginfod_opts opts = {
		.sz = sizeof(opts),
		.urls = cfg->debuginfod_url,
		.cache_dir = cfg->debuginfod_cache_dir,
	};
	struct sym_debuginfod *d;

	if (!cfg->debuginfod_url && (!env || !*env))
		return NULL;
	d = sym_debuginfod_new(&opts);
	if (!d)
		log_warn("debuginfod: cannot start (%s); debug files are only looked for locally",
			 strerror(errno));
	else
		log_info("debuginfod: fetching missing debug files into %s", cfg->debuginfod_cache_dir);
	return d;
}

/* The unwind tables kept across restarts, when --cache-dir names a
 * directory we may trust; otherwise one warning, and none kept. */
static struct sym_table_cache *table_cache_start(const struct config *cfg)
{
	struct sym_table_cache_opts opts = {
		.sz = sizeof(opts),
		.dir = cfg->cache_dir,
		.max_bytes = cfg->cache_max_bytes,
	};
	struct sym_table_cache *tc;
	int err;

	if (!cfg->cache_dir || !*cfg->cache_dir)
		return NULL;
	err = sym_table_cache_new(&opts, &tc);
	if (err == -ELOOP || err == -EPERM)
		log_warn("--cache-dir %s: refused (a symlink, or not root's, or writable by others); unwind tables are not kept",
			 cfg->cache_dir);
	else if (err)
		log_warn("--cache-dir %s: %s; unwind tables are not kept", cfg->cache_dir,
			 strerror(-err));
	else
		log_info("unwind tables kept in %s/unwind", cfg->cache_dir);
	return err ? NULL : tc;
}

/* A secret from its file (the first line, without its line end), or else
 * from its variable's value (env, which config_parse took and scrubbed
 * from the environment); NULL with *err set if the file cannot be read.
 * The secret itself never reaches the log. */
static char *read_secret(const char *path, const char *env, const char *flag, int *err)
{
	char buf[4096];
	size_t n;
	FILE *f;

	*err = 0;
	if (!path)
		return env && *env ? strdup(env) : NULL;
	f = fopen(path, "re");
	if (!f) {
		*err = -errno;
		log_error("%s %s: %s", flag, path, strerror(errno));
		return NULL;
	}
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	if (!buf[0]) {
		*err = -EINVAL;
		log_error("%s %s: the file is empty", flag, path);
		return NULL;
	}
	return strdup(buf);
}

/* Uploading is on when a server is named. Started after signals are
 * blocked, so that its thread never takes SIGINT/SIGTERM. */
static int uploader_start(const struct config *cfg, struct uploader **out)
{
	struct uploader_opts o = {
		.sz = sizeof(o),
		.url = cfg->server_address,
		.legacy = cfg->legacy_ingest,
		.basic_auth_user = cfg->basic_auth_user,
		.tenant_id = cfg->tenant_id,
		.headers = (const char *const *)cfg->headers.v,
		.n_headers = cfg->headers.n,
		.tls_ca_file = cfg->tls_ca_file,
		.tls_insecure_skip_verify = cfg->tls_insecure_skip_verify,
		.timeout_ms = cfg->upload_timeout_ms,
		.user_agent = "smolder/" SMOLDER_VERSION,
		.spool_dir = cfg->spool_dir,
		.spool_max_bytes = cfg->spool_max_bytes,
		.spool_max_age_ms = cfg->spool_max_age_ms,
	};
	char *password = NULL, *token = NULL, server[1024];
	const char *what = "";
	int err = 0;

	*out = NULL;
	if (!cfg->server_address)
		return 0;
	if (cfg->basic_auth_user)
		password = read_secret(cfg->basic_auth_password_file, cfg->basic_auth_password,
				       "--basic-auth-password-file", &err);
	else
		token = read_secret(cfg->bearer_token_file, cfg->bearer_token,
				    "--bearer-token-file", &err);
	if (err)
		return err;
	o.basic_auth_password = password;
	o.bearer_token = token;
	if (cfg->tls_insecure_skip_verify)
		log_warn("--tls-insecure-skip-verify: the server's certificate is not checked");
	*out = uploader_new(&o, &what);
	if (!*out)
		err = -errno;
	else
		log_info("sending profiles to %s (%s API)%s%s",
			 (uploader_redact_url(cfg->server_address, server, sizeof(server)), server),
			 cfg->legacy_ingest ? "legacy /ingest" : "push", o.spool_dir ? ", spool " : "",
			 o.spool_dir ? o.spool_dir : "");
	if (err)
		log_error("%s: %s", what, strerror(-err));
	/* libcurl keeps its own copies. */
	if (password)
		explicit_bzero(password, strlen(password));
	if (token)
		explicit_bzero(token, strlen(token));
	free(password);
	free(token);
	return err;
}

/* How long the last profiles may take to reach the server at exit,
 * before they go to the spool. */
#define UPLOAD_FLUSH_MS 5000

/* Stops the uploader, which delivers or spools the last profiles in
 * bounded time, and tells what became of them all. */
static void uploader_stop(struct uploader *u)
{
	struct uploader_stats st;

	uploader_free(u, UPLOAD_FLUSH_MS, &st);
	log_info("uploads: %llu queued, %llu delivered, %llu refused, %llu attempts retried, "
		 "%llu dropped; %llu in the spool",
		 (unsigned long long)st.queued, (unsigned long long)st.delivered,
		 (unsigned long long)st.refused, (unsigned long long)st.retried,
		 (unsigned long long)(st.dropped_memory + st.spool.dropped_full +
				      st.spool.dropped_age + st.spool.corrupt),
		 (unsigned long long)st.spool.files);
}

struct preload {
	struct unwind_loader *loader;
	struct disc_table *disc;
	const struct config *cfg;
};

/* The --pid targets get their tables before sampling starts. Without
 * --pid, each process gets its own at its first sample: most processes of
 * a host are idle and are never walked, and loading the files of all of
 * them would cost the symbol cache the memory of every one. */
static void publish_unwind(const struct disc_process *p, void *arg)
{
	const struct preload *pl = arg;
	bool target = false;

	for (size_t i = 0; i < pl->cfg->n_pids && !target; i++)
		target = pl->cfg->pids[i] == p->pid;
	if (!target || p->kernel_thread)
		return;
	/* The scan read no maps: a target's are wanted before its first
	 * sample. Only p's own record changes. */
	disc_table_refresh_maps(pl->disc, p);
	unwind_loader_publish(pl->loader, p);
}

static int memory_targets_start(struct interval_ctx *ctx)
{
	struct memory_targets_opts o = {
		.sz = sizeof(o),
		.sampler = ctx->sampler,
		.sym = ctx->sym,
		.disc = ctx->disc,
		.unwind = ctx->unwind,
		.max_hits = ctx->cfg->memory_max_hits,
		.wants = interval_wants_memory,
		.wants_arg = ctx,
	};

	ctx->pid_start_ticks = calloc(ctx->cfg->n_pids + 1, sizeof(*ctx->pid_start_ticks));
	ctx->memory = ctx->pid_start_ticks ? memory_targets_new(&o) : NULL;
	if (!ctx->memory)
		return -1;
	/* The targets running already, before the first interval. */
	memory_targets_tick(ctx->memory, now_ns(CLOCK_MONOTONIC));
	return 0;
}

/* What the sched_switch program is loaded for (bpf/offcpu.h). */
static unsigned int offcpu_types(unsigned int profile_types)
{
	return ((profile_types & PROFILE_TYPE_BIT(PROFILE_OFFCPU)) ? SMOLDER_OFFCPU_TYPE_OFFCPU : 0) |
	       ((profile_types & PROFILE_TYPE_BIT(PROFILE_MUTEX)) ? SMOLDER_OFFCPU_TYPE_MUTEX : 0);
}

int agent_run(const struct config *cfg, const struct disc_targets *targets,
	      const struct kernel_features *kf)
{
	struct disc_table_opts disc_opts = { .sz = sizeof(disc_opts) };
	struct sym_cache_opts sym_opts = { .sz = sizeof(sym_opts) };
	struct sym_worker_opts worker_opts = { .sz = sizeof(worker_opts) };
	struct sampler_opts sampler_opts = {
		.sz = sizeof(sampler_opts),
		.sample_rate = cfg->sample_rate,
		.pids = cfg->pids,
		.n_pids = cfg->n_pids,
		.count_map_entries = cfg->count_map_entries,
		.stack_map_entries = cfg->stack_map_entries,
		.unwind_rows = (uint32_t)(cfg->unwind_table_max_bytes /
					  sizeof(union smolder_unwind_elem)),
		.walk_frame_pointers = !kf->have[KF_BPF_LOOP],
		.regs_from_kernel_stack = !kf->have[KF_TASK_PT_REGS],
		.preallocate_maps = !kf->have[KF_HASH_NO_PREALLOC],
		.stack_copies_per_sec = SMOLDER_STACK_COPIES_PER_SEC,
		.offcpu_types = offcpu_types(cfg->profile_types),
		.offcpu_threshold = (uint64_t)(cfg->off_cpu_sample * (double)SMOLDER_OFFCPU_ALWAYS),
		.offcpu_min_block_ns = cfg->off_cpu_min_block_ns,
		.raw_tracepoints = !kf->have[KF_TP_BTF],
		.no_cpu_clock = !(cfg->profile_types & PROFILE_TYPE_BIT(PROFILE_CPU)),
		.memory = cfg->profile_types & PROFILE_TYPE_BIT(PROFILE_MEMORY),
		.memory_sample_bytes = cfg->memory_sample_bytes,
		.memory_no_cookie = !kf->have[KF_ATTACH_COOKIE],
	};
	struct proc_events_opts events_opts = {
		.raw_tracepoints = !kf->have[KF_TP_BTF],
		.watch_mmap = kf->have[KF_FENTRY],
		.mmap_records = kf->have[KF_MMAP2_BUILD_ID],
	};
	char programs[256];
	struct sym_debuginfod *debuginfod = NULL;
	char *parser = NULL;
	struct sym_table_cache *table_cache = NULL;
	struct counters counters = {};
	struct interval_ctx ctx = { .cfg = cfg, .targets = targets, .counters = &counters };
	struct http_server_opts http_opts = {
		.sz = sizeof(http_opts),
		.listen = cfg->http_listen,
		.listen_given = cfg->http_listen_given,
		.version = SMOLDER_VERSION,
		.interval_ms = cfg->upload_interval_ms,
		.wake_ms = cfg->upload_interval_ms < SCAN_PERIOD_MS ? cfg->upload_interval_ms
								     : SCAN_PERIOD_MS,
	};
	const char *what = "";
	int status = 1, sigfd, err;

	libbpf_set_print(libbpf_log);
	sigfd = signals_open();
	if (sigfd < 0) {
		log_error("setting up signal handling: %s", strerror(-sigfd));
		return 1;
	}
	/* First, so that an address given but in use stops the agent before
	 * BPF loads. */
	if (http_server_start(&http_opts, &ctx.http))
		goto out;
	debuginfod = debuginfod_start(cfg);
	ctx.kube = kube_start(cfg);
	if (uploader_start(cfg, &ctx.uploader))
		goto out;
	if (!ctx.uploader && cfg->output_max_bytes) {
		ctx.output_budget = output_budget_new(cfg->output_dir, cfg->output_max_bytes);
		if (!ctx.output_budget) {
			log_error("out of memory");
			goto out;
		}
	}
	sym_opts.debug_dirs = (const char *const *)cfg->debug_dirs.v;
	sym_opts.max_bytes = cfg->symbol_cache_size;
	sym_opts.debuginfod = debuginfod;
	ctx.debuginfod = debuginfod;
	ctx.disc = disc_table_new(&disc_opts);
	/* The worker's share of --memory-limit: the files the symbol cache
	 * keeps, which it holds, and room to parse one more. */
	worker_opts.memory_cap = cfg->worker_memory_cap;
	parser = parser_exe_find();
	worker_opts.exe = parser;
	log_debug("parser worker: %s", parser ? parser : "this executable");
	ctx.worker = sym_worker_new(&worker_opts);
	sym_opts.worker = ctx.worker;
	table_cache = table_cache_start(cfg);
	sym_opts.table_cache = table_cache;
	ctx.sym = sym_cache_new(&sym_opts);
	ctx.memo = location_memo_new(LOCATION_MEMO_MAX);
	if (!ctx.disc || !ctx.worker || !ctx.sym || !ctx.memo) {
		log_error("out of memory");
		goto out;
	}
	err = disc_table_scan(ctx.disc);
	if (err)
		log_warn("scanning /proc: %s", strerror(-err));
	kernel_names_start(&ctx, kf);
	/* Here, not at start: a mistake that stops the agent is its one line. */
	kernel_features_warn(kf);
	err = sampler_new(&sampler_opts, &ctx.sampler, &what);
	if (err) {
		log_error("%s: %s", what, strerror(-err));
		goto out;
	}
	/* The agent and its parser worker, unless --profile-self. */
	if (!cfg->profile_self)
		sampler_leave_out(ctx.sampler, getpid());
	/* Without bpf_loop the walk follows frame pointers only: no tables. */
	if (!sampler_opts.walk_frame_pointers) {
		/* On the whole system, a file is read for its table once a
		 * stack passes through it: most of the libraries of a host's
		 * processes (the agent's own 40 among them) never are. */
		struct unwind_loader_opts uo = { .sz = sizeof(uo), .sym = ctx.sym,
						 .on_demand = cfg->n_pids == 0 };
		struct preload pl = { NULL, ctx.disc, cfg };

		sampler_unwind_maps(ctx.sampler, &uo.rows_fd, &uo.procs_fd, &uo.max_rows);
		if (cfg->python_frames) {
			struct python_procs_opts po = { .sz = sizeof(po), .sym = ctx.sym,
							.procs_fd = sampler_py_procs_fd(ctx.sampler) };

			ctx.python = python_procs_new(&po);
			if (!ctx.python) {
				log_error("out of memory");
				goto out;
			}
			uo.python = ctx.python;
		}
		ctx.unwind = unwind_loader_new(&uo);
		if (!ctx.unwind) {
			log_error("out of memory");
			goto out;
		}
		/* A file read again (evicted from the symbol cache, mapped by
		 * a new process) is not made to build a table loaded still. */
		sym_cache_set_table_holder(ctx.sym, unwind_loader_holds, ctx.unwind);
		/* Tables for the targets already running, before their first
		 * samples: else those are walked by frame pointers until then. */
		pl.loader = ctx.unwind;
		disc_table_for_each(ctx.disc, publish_unwind, &pl);
		ctx.copies = stack_copies_new(ctx.sampler, ctx.unwind, ctx.disc);
		if (!ctx.copies) {
			log_warn("stack copies: %s; samples taken before a process's unwind tables "
				 "are loaded are walked by frame pointers",
				 strerror(errno));
			/* Nothing would ask for a file: all are read. */
			unwind_loader_set_on_demand(ctx.unwind, false);
		}
	}
	if (sampler_opts.memory && memory_targets_start(&ctx)) {
		log_error("memory targets: %s", strerror(errno));
		goto out;
	}
	err = proc_events_new(ctx.sampler, ctx.disc, ctx.unwind, &events_opts, &ctx.events, &what);
	if (!err)
		err = sampler_start(ctx.sampler, &what);
	if (err) {
		log_error("%s: %s", what, strerror(-err));
		goto out;
	}
	heap_tune_for_run(); /* every BPF object is loaded */
	if (ctx.copies)
		stack_copies_set_reread(ctx.copies, proc_events_reread, ctx.events);
	proc_events_program_names(ctx.events, programs, sizeof(programs));
	log_info("BPF programs: %s, %s%s%s", sampler_program_name(ctx.sampler), programs,
		 sampler_offcpu_program_name(ctx.sampler) ? ", " : "",
		 sampler_offcpu_program_name(ctx.sampler) ? sampler_offcpu_program_name(ctx.sampler)
							   : "");
	sampler_memory_program_names(ctx.sampler, programs, sizeof(programs));
	if (programs[0])
		log_info("memory programs: %s", programs);
	log_info("sampling started: %zu CPUs at %u Hz, %zu process(es) known, %s every %llums",
		 sampler_cpu_count(ctx.sampler), cfg->sample_rate, disc_table_size(ctx.disc),
		 ctx.uploader ? "uploading" : cfg->output_dir,
		 (unsigned long long)cfg->upload_interval_ms);
	http_server_sampling_started(ctx.http);
	status = loop(&ctx, sigfd);
	log_info("stopped: %llu samples taken, %llu profiled, %llu profiles written",
		 (unsigned long long)counters.total[CTR_SAMPLES_TAKEN],
		 (unsigned long long)counters.total[CTR_SAMPLES_PROFILED],
		 (unsigned long long)counters.total[CTR_PROFILES_WRITTEN]);
out:
	http_server_free(ctx.http);
	if (ctx.uploader)
		uploader_stop(ctx.uploader);
	upload_warned_release(&ctx.warned);
	proc_events_free(ctx.events);
	/* Its probes off before the programs they run go. */
	memory_targets_free(ctx.memory);
	free(ctx.pid_start_ticks);
	stack_copies_free(ctx.copies);
	location_memo_free(ctx.memo);
	sym_cache_set_table_holder(ctx.sym, NULL, NULL);
	unwind_loader_free(ctx.unwind);
	python_procs_free(ctx.python);
	kube_stop(ctx.kube);
	output_budget_free(ctx.output_budget);
	sampler_free(ctx.sampler);
	sym_cache_free(ctx.sym);
	ksym_names_free(ctx.ksym_names);
	sym_worker_free(ctx.worker);
	free(parser);
	sym_table_cache_free(table_cache);
	sym_debuginfod_free(debuginfod);
	disc_table_free(ctx.disc);
	close(sigfd);
	return status;
}
