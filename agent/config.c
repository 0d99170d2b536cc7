/* The flag table and what reads it: parsing of argv and SMOLDER_* variables,
 * and --help. Every flag is documented once, here; the README embeds the
 * --help text and a test checks the two agree.
 */
#include "config.h"
#include "kernel_features.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "memory_budget.h"
#include "metrics.h"
#include "sample.h"

enum flag_kind {
	FLAG_UINT, FLAG_DURATION, FLAG_SIZE, FLAG_STRING, FLAG_STRING_LIST, FLAG_PID, FLAG_LOG_LEVEL,
	FLAG_BOOL, /* --flag alone is true; --flag=false, and the variable, say either */
	FLAG_DURATION_NS, FLAG_PROFILE_TYPES, FLAG_PROBABILITY,
};

struct flag_def {
	const char *name; /* without the leading -- */
	const char *env;
	enum flag_kind kind;
	const char *metavar;
	const char *def;  /* parsed like a flag value; NULL: unset */
	const char *help;
	size_t offset;    /* where in struct config */
	unsigned long min, max; /* FLAG_UINT bounds */
	bool test_only;
};

#define AT(field) offsetof(struct config, field)

static const struct flag_def flags[] = {
	{ "sample-rate", "SMOLDER_SAMPLE_RATE", FLAG_UINT, "HZ", "97",
	  "Samples per second on each CPU.", AT(sample_rate), 1, 10000, false },
	{ "upload-interval", "SMOLDER_UPLOAD_INTERVAL", FLAG_DURATION, "DURATION", "15s",
	  "Length of one profile: every interval, one profile per service is written or sent.",
	  AT(upload_interval_ms), 0, 0, false },
	{ "duration", "SMOLDER_DURATION", FLAG_DURATION, "DURATION", "0s",
	  "Stop after this long (0s: run until SIGINT or SIGTERM). The partial interval is written first.",
	  AT(duration_ms), 0, 0, false },
	{ "output-dir", "SMOLDER_OUTPUT_DIR", FLAG_STRING, "DIR", "./profiles",
	  "Where profiles go when there is no server: DIR/<service_name>/<start>-<end>.pb.gz.",
	  AT(output_dir), 0, 0, false },
	{ "output-max-bytes", "SMOLDER_OUTPUT_MAX_BYTES", FLAG_SIZE, "SIZE", "1G",
	  "Most --output-dir holds; beyond it the oldest profiles are removed (and counted). 0: no bound.",
	  AT(output_max_bytes), 0, 0, false },
	{ "server-address", "SMOLDER_SERVER_ADDRESS", FLAG_STRING, "URL", NULL,
	  "Pyroscope server (or Grafana Cloud Profiles URL) to send profiles to, such as http://pyroscope:4040. Without it, profiles are written to --output-dir.",
	  AT(server_address), 0, 0, false },
	{ "ingest-api", "SMOLDER_INGEST_API", FLAG_STRING, "API", "push",
	  "push: Pyroscope's push API (POST /push.v1.PusherService/Push); legacy: POST /ingest with a multipart pprof.",
	  AT(ingest_api), 0, 0, false },
	{ "basic-auth-user", "SMOLDER_BASIC_AUTH_USER", FLAG_STRING, "USER", NULL,
	  "User for HTTP basic auth (Grafana Cloud: the stack's user id).",
	  AT(basic_auth_user), 0, 0, false },
	{ "basic-auth-password-file", "SMOLDER_BASIC_AUTH_PASSWORD_FILE", FLAG_STRING, "FILE", NULL,
	  "File holding the basic auth password (Grafana Cloud: an access token). Without it, $SMOLDER_BASIC_AUTH_PASSWORD is the password.",
	  AT(basic_auth_password_file), 0, 0, false },
	{ "bearer-token-file", "SMOLDER_BEARER_TOKEN_FILE", FLAG_STRING, "FILE", NULL,
	  "File holding a bearer token, sent as Authorization: Bearer. Without it, $SMOLDER_BEARER_TOKEN is the token.",
	  AT(bearer_token_file), 0, 0, false },
	{ "tenant-id", "SMOLDER_TENANT_ID", FLAG_STRING, "ID", NULL,
	  "Tenant of a multi-tenant server, sent as X-Scope-OrgID.",
	  AT(tenant_id), 0, 0, false },
	{ "header", "SMOLDER_HEADER", FLAG_STRING_LIST, "NAME=VALUE", NULL,
	  "An extra HTTP header for every upload (repeatable; the variable takes a comma-separated list).",
	  AT(headers), 0, 0, false },
	{ "tls-ca-file", "SMOLDER_TLS_CA_FILE", FLAG_STRING, "FILE", NULL,
	  "CA certificates (PEM) to verify the server with, instead of the system's.",
	  AT(tls_ca_file), 0, 0, false },
	{ "tls-insecure-skip-verify", "SMOLDER_TLS_INSECURE_SKIP_VERIFY", FLAG_BOOL, "", "false",
	  "Do not verify the server's certificate or name (a warning is logged).",
	  AT(tls_insecure_skip_verify), 0, 0, false },
	{ "upload-timeout", "SMOLDER_UPLOAD_TIMEOUT", FLAG_DURATION, "DURATION", "10s",
	  "Time one upload request may take, connection included.",
	  AT(upload_timeout_ms), 0, 0, false },
	{ "spool-dir", "SMOLDER_SPOOL_DIR", FLAG_STRING, "DIR", "/var/lib/smolder/spool",
	  "Where profiles wait, compressed, while the server cannot take them; sent in order when it can, also after a restart.",
	  AT(spool_dir), 0, 0, false },
	{ "spool-max-bytes", "SMOLDER_SPOOL_MAX_BYTES", FLAG_SIZE, "SIZE", "256M",
	  "Most the spool holds; beyond it the oldest profiles are dropped (and counted).",
	  AT(spool_max_bytes), 0, 0, false },
	{ "spool-max-age", "SMOLDER_SPOOL_MAX_AGE", FLAG_DURATION, "DURATION", "1h",
	  "Spooled profiles older than this are dropped (and counted): Pyroscope refuses profiles older than an hour.",
	  AT(spool_max_age_ms), 0, 0, false },
	{ "pid", "SMOLDER_PID", FLAG_PID, "PID", NULL,
	  "Profile only this process (repeatable; the variable takes a comma-separated list). Default: every process.",
	  AT(pids), 1, INT_MAX, false },
	{ "config", "SMOLDER_CONFIG", FLAG_STRING, "FILE", NULL,
	  "YAML file of target rules (relabeling, as Prometheus does): keep or drop processes, set service_name, add labels.",
	  AT(config_path), 0, 0, false },
	{ "tag", "SMOLDER_TAG", FLAG_STRING_LIST, "KEY=VALUE", NULL,
	  "A label for every profile, such as the host name (repeatable; the variable takes a comma-separated list).",
	  AT(tags), 0, 0, false },
	{ "debug-dir", "SMOLDER_DEBUG_DIR", FLAG_STRING_LIST, "DIR", NULL,
	  "Also look for debug files here, by build-id (DIR/.build-id/xx/rest.debug) and by .gnu_debuglink (DIR/<binary's dir>/NAME), before /usr/lib/debug (repeatable).",
	  AT(debug_dirs), 0, 0, false },
	{ "debuginfod-url", "SMOLDER_DEBUGINFOD_URL", FLAG_STRING, "URL", NULL,
	  "debuginfod server(s), space-separated, to fetch missing debug files from in the background (default: $DEBUGINFOD_URLS).",
	  AT(debuginfod_url), 0, 0, false },
	{ "debuginfod-cache-dir", "SMOLDER_DEBUGINFOD_CACHE_DIR", FLAG_STRING, "DIR", "/var/cache/smolder/debuginfod",
	  "Where debug files fetched from debuginfod are kept.",
	  AT(debuginfod_cache_dir), 0, 0, false },
	{ "cache-dir", "SMOLDER_CACHE_DIR", FLAG_STRING, "DIR", NULL,
	  "Where the unwind tables built are kept (DIR/unwind, by the SHA-256 of their file), so that a restarted agent does not build them again. Created 0700; a symlink, or a directory not root's or writable by others, is refused (the cache is then off). Default: none (off).",
	  AT(cache_dir), 0, 0, false },
	{ "cache-max-bytes", "SMOLDER_CACHE_MAX_BYTES", FLAG_SIZE, "SIZE", "256M",
	  "Most --cache-dir holds; beyond it the least recently used tables are removed (0: no bound).",
	  AT(cache_max_bytes), 0, 0, false },
	{ "memory-limit", "SMOLDER_MEMORY_LIMIT", FLAG_SIZE, "SIZE", "320M",
	  "Memory of the agent's processes together: the agent and its parser worker, resident, not page cache. The parts below are shares of it: the symbol cache a quarter, the worker's cap that plus a quarter to parse in, the unwind tables a tenth, the rest the agent's own. Past it the agent trims and counts memory_over_limit. BPF maps are beside it (bpf_map_bytes). At least 64M.",
	  AT(memory_limit), 0, 0, false },
	{ "symbol-cache-size", "SMOLDER_SYMBOL_CACHE_SIZE", FLAG_SIZE, "SIZE", NULL,
	  "Files kept parsed (symbol tables, DWARF) for all processes, within --memory-limit; least recently used files are dropped beyond it. Default: a quarter of --memory-limit; with --unwind-table-max-bytes at most half of it.",
	  AT(symbol_cache_size), 0, 0, false },
	{ "unwind-table-max-bytes", "SMOLDER_UNWIND_TABLE_MAX_BYTES", FLAG_SIZE, "SIZE", NULL,
	  "Unwind tables of the executables profiled, within --memory-limit (8 bytes a row; libc takes about 230K), and as much kernel memory for BPF; least recently used tables no process maps are dropped beyond it. Default: a tenth of --memory-limit. 64K to 128M.",
	  AT(unwind_table_max_bytes), 0, 0, false },
	{ "kernel-addresses", "SMOLDER_KERNEL_ADDRESSES", FLAG_BOOL, "", "false",
	  "Keep kernel text addresses in profiles. Without it, kernel frames have their names but no addresses, which would tell anyone who can read the profiles where the kernel is (its KASLR offset).",
	  AT(kernel_addresses), 0, 0, false },
	{ "python-frames", "SMOLDER_PYTHON_FRAMES", FLAG_BOOL, "", "true",
	  "Walk the Python frames of CPython 3.8 to 3.13 processes and put them, named with file and line, where their native stacks pass through the interpreter's evaluation loop. --python-frames=false leaves Python processes with native frames only.",
	  AT(python_frames), 0, 0, false },
	{ "profile-types", "SMOLDER_PROFILE_TYPES", FLAG_PROFILE_TYPES, "LIST", "cpu",
	  "Profiles to make, comma-separated: cpu (on-CPU time, sampled at --sample-rate), offcpu (time threads spend off the CPU, by stack and why: sleep, io or runqueue), mutex (contended lock acquisitions: futex lock waits, their count and delay), memory (allocations and what they still hold, by stack, of the memory targets alone: the --pid processes, or those a target rule gives the label __profile_memory__=\"true\" or whose pod has the annotation smolder.io/profile-memory: \"true\"; uprobes on their allocator make its every call cost about a microsecond). Each type is its own profile per label set and interval.",
	  AT(profile_types), 0, 0, false },
	{ "off-cpu-sample", "SMOLDER_OFF_CPU_SAMPLE", FLAG_PROBABILITY, "P", "0.05",
	  "Probability that a thread's switch off the CPU is recorded (offcpu and mutex profiles); values are scaled by 1/P, so totals stay unbiased. 1 records every one.",
	  AT(off_cpu_sample), 0, 0, false },
	{ "off-cpu-min-block", "SMOLDER_OFF_CPU_MIN_BLOCK", FLAG_DURATION_NS, "DURATION", "0s",
	  "Leave out of offcpu and mutex profiles the blocks shorter than this (such as 100us; 0s: none). A threshold biases totals down.",
	  AT(off_cpu_min_block_ns), 0, 0, false },
	{ "memory-sample-bytes", "SMOLDER_MEMORY_SAMPLE_BYTES", FLAG_SIZE, "SIZE", "512K",
	  "Mean bytes allocated between two sampled allocations (memory profiles), drawn at random as Go and tcmalloc draw them; values are scaled so that totals stay unbiased. Smaller samples more, at the same probe cost.",
	  AT(memory_sample_bytes), 0, 0, false },
	{ "memory-max-hits", "SMOLDER_MEMORY_MAX_HITS", FLAG_UINT, "N", "20000",
	  "Most allocator calls a second a memory target may make with its probes on: above it its probes are taken off for a while (10 s, doubling to 5 m while it stays above), what it allocated meanwhile is estimated from the time they were on, and malloc_detached counts it. 0: no ceiling.",
	  AT(memory_max_hits), 0, UINT_MAX, false },
	{ "profile-self", "SMOLDER_PROFILE_SELF", FLAG_BOOL, "", "false",
	  "Profile the agent itself and its parser worker too. Without it their samples are left out (counted as samples_filtered): naming the agent's frames and unwinding its libraries would be work the agent makes for itself. Its CPU is on /metrics either way.",
	  AT(profile_self), 0, 0, false },
	{ "http-listen", "SMOLDER_HTTP_LISTEN", FLAG_STRING, "ADDR", "127.0.0.1:4100",
	  "Where to serve /healthz, /ready and Prometheus /metrics (HOST:PORT; \"\" or \"off\": nowhere).",
	  AT(http_listen), 0, 0, false },
	{ "kubernetes", "SMOLDER_KUBERNETES", FLAG_BOOL, "", "false",
	  "Label processes with their pods' metadata from the Kubernetes API server (on by itself when $KUBERNETES_SERVICE_HOST is set).",
	  AT(kubernetes), 0, 0, false },
	{ "node-name", "SMOLDER_NODE_NAME", FLAG_STRING, "NAME", NULL,
	  "This node's name, whose pods are watched (default: $NODE_NAME, else the host name).",
	  AT(node_name), 0, 0, false },
	{ "log-level", "SMOLDER_LOG_LEVEL", FLAG_LOG_LEVEL, "LEVEL", "info",
	  "debug, info, warn or error.", AT(log_level), 0, 0, false },
	{ "test-kube-api-url", "SMOLDER_TEST_KUBE_API_URL", FLAG_STRING, "URL", NULL,
	  "Test only: the Kubernetes API server to watch, without a service account.",
	  AT(test_kube_api_url), 0, 0, true },
	{ "test-pretend-missing", "SMOLDER_TEST_PRETEND_MISSING", FLAG_STRING, "LIST", NULL,
	  "Test only: kernel features to treat as missing (comma-separated: ringbuf, tp_btf, raw_tp, task_pt_regs, bpf_loop, fentry, mmap2_build_id, ksym_bpf, hash_no_prealloc), to test their fallbacks.",
	  AT(test_pretend_missing), 0, 0, true },
	{ "test-count-map-entries", "SMOLDER_TEST_COUNT_MAP_ENTRIES", FLAG_UINT, "N", "16384",
	  "Test only: size of the BPF count map.", AT(count_map_entries), 1, 1u << 24, true },
	{ "test-stack-map-entries", "SMOLDER_TEST_STACK_MAP_ENTRIES", FLAG_UINT, "N", "16384",
	  "Test only: size of the BPF stack map.", AT(stack_map_entries), 1, 1u << 24, true },
};

#define N_FLAGS (sizeof(flags) / sizeof(flags[0]))

_Static_assert(SMOLDER_COUNT_MAP_ENTRIES == 16384 && SMOLDER_STACK_MAP_ENTRIES == 16384,
	       "keep the test-only defaults in the flag table equal to sample.h's");

struct duration_unit {
	const char *name;
	uint64_t scale;
};

/* A sequence of numbers with units (1m30s) in the units of the table,
 * longest unit names first ("ms" before "m"). */
static int parse_duration(const char *s, const struct duration_unit *units, size_t n_units,
			  uint64_t *out)
{
	uint64_t total = 0;

	if (!*s)
		return -EINVAL;
	while (*s) {
		char *end;
		size_t i;

		if (!isdigit((unsigned char)*s))
			return -EINVAL;
		errno = 0;
		unsigned long long n = strtoull(s, &end, 10);
		if (errno || end == s)
			return -EINVAL;
		for (i = 0; i < n_units; i++)
			if (strncmp(end, units[i].name, strlen(units[i].name)) == 0)
				break;
		if (i == n_units)
			return -EINVAL; /* a bare number has no unit: refuse to guess */
		if (n > UINT64_MAX / units[i].scale || total + n * units[i].scale < total)
			return -ERANGE;
		total += n * units[i].scale;
		s = end + strlen(units[i].name);
	}
	*out = total;
	return 0;
}

int config_parse_duration(const char *s, uint64_t *ms)
{
	static const struct duration_unit units[] = {
		{ "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "h", 3600000 },
	};

	return parse_duration(s, units, sizeof(units) / sizeof(units[0]), ms);
}

int config_parse_duration_ns(const char *s, uint64_t *ns)
{
	static const struct duration_unit units[] = {
		{ "ns", 1 }, { "us", 1000 }, { "ms", 1000000 }, { "s", 1000000000ULL },
		{ "m", 60000000000ULL }, { "h", 3600000000000ULL },
	};

	return parse_duration(s, units, sizeof(units) / sizeof(units[0]), ns);
}

const char *profile_type_name(enum profile_type t)
{
	static const char *const names[PROFILE__COUNT] = {
		[PROFILE_CPU] = "cpu", [PROFILE_OFFCPU] = "offcpu", [PROFILE_MUTEX] = "mutex",
		[PROFILE_MEMORY] = "memory",
	};

	return t < PROFILE__COUNT ? names[t] : "?";
}

/* "cpu,offcpu" into a bit per type; each at most once, one at least. */
static int parse_profile_types(const char *s, unsigned int *out)
{
	char *copy = strdup(s), *save = NULL;
	unsigned int types = 0;
	int err = copy ? 0 : -ENOMEM;

	for (char *tok = copy ? strtok_r(copy, ",", &save) : NULL; tok && !err;
	     tok = strtok_r(NULL, ",", &save)) {
		int t = 0;

		while (t < PROFILE__COUNT && strcmp(tok, profile_type_name((enum profile_type)t)))
			t++;
		if (t == PROFILE__COUNT || (types & PROFILE_TYPE_BIT(t)))
			err = -EINVAL;
		types |= PROFILE_TYPE_BIT(t);
	}
	free(copy);
	if (!err && !types)
		err = -EINVAL;
	if (!err)
		*out = types;
	return err;
}

/* A probability above 0, at most 1. */
static int parse_probability(const char *s, double *out)
{
	char *end;
	double v;

	if (!isdigit((unsigned char)*s) && *s != '.')
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (errno || *end || !(v > 0.0 && v <= 1.0))
		return -EINVAL;
	*out = v;
	return 0;
}

int config_parse_size(const char *s, uint64_t *bytes)
{
	static const char units[] = "KMGT";
	uint64_t mult = 1;
	const char *u;
	char *end;

	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	unsigned long long n = strtoull(s, &end, 10);
	if (errno)
		return -ERANGE;
	if (*end) {
		u = strchr(units, *end);
		if (!u || end[1] || !*end)
			return -EINVAL;
		for (const char *p = units; p <= u; p++)
			mult *= 1024;
	}
	if (n > UINT64_MAX / mult)
		return -ERANGE;
	*bytes = n * mult;
	return 0;
}

static int parse_uint(const char *s, unsigned long min, unsigned long max,
		      unsigned long *out)
{
	char *end;

	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

static int parse_bool(const char *s, bool *out)
{
	if (strcmp(s, "true") == 0 || strcmp(s, "1") == 0)
		*out = true;
	else if (strcmp(s, "false") == 0 || strcmp(s, "0") == 0)
		*out = false;
	else
		return -EINVAL;
	return 0;
}

static int add_pid(struct config *cfg, unsigned long pid)
{
	int *v = realloc(cfg->pids, (cfg->n_pids + 1) * sizeof(*v));

	if (!v)
		return -ENOMEM;
	v[cfg->n_pids++] = (int)pid;
	cfg->pids = v;
	return 0;
}

static int add_string(struct config_list *l, const char *value)
{
	char **v = realloc(l->v, (l->n + 2) * sizeof(*v));

	if (!v)
		return -ENOMEM;
	l->v = v;
	v[l->n] = strdup(value);
	if (!v[l->n])
		return -ENOMEM;
	v[++l->n] = NULL;
	return 0;
}

/* Repeatable flags take one value each; their variable a comma-separated
 * list. (String lists are checked where they are used: --tag by
 * discovery.) */
static int set_list(struct config *cfg, const struct flag_def *f, const char *value,
		    bool list)
{
	char *copy = strdup(value), *save = NULL, *tok;
	int err = 0;

	if (!copy)
		return -ENOMEM;
	for (tok = list ? strtok_r(copy, ",", &save) : copy; tok && !err;
	     tok = list ? strtok_r(NULL, ",", &save) : NULL) {
		unsigned long pid;

		if (f->kind == FLAG_STRING_LIST) {
			err = add_string((struct config_list *)((char *)cfg + f->offset), tok);
			continue;
		}
		err = parse_uint(tok, f->min, f->max, &pid);
		if (!err)
			err = add_pid(cfg, pid);
	}
	free(copy);
	return err;
}

static int set_flag(struct config *cfg, const struct flag_def *f, const char *value,
		    bool from_env)
{
	void *field = (char *)cfg + f->offset;
	unsigned long u;
	int err;

	switch (f->kind) {
	case FLAG_UINT:
		err = parse_uint(value, f->min, f->max, &u);
		if (!err)
			*(unsigned int *)field = (unsigned int)u;
		return err;
	case FLAG_DURATION:
		return config_parse_duration(value, (uint64_t *)field);
	case FLAG_SIZE:
		return config_parse_size(value, (uint64_t *)field);
	case FLAG_STRING: {
		char *dup = strdup(value);
		if (!dup)
			return -ENOMEM;
		free(*(char **)field);
		*(char **)field = dup;
		return 0;
	}
	case FLAG_PID:
	case FLAG_STRING_LIST:
		return set_list(cfg, f, value, from_env);
	case FLAG_LOG_LEVEL:
		return log_level_parse(value, (enum log_level *)field);
	case FLAG_BOOL:
		return parse_bool(value, (bool *)field);
	case FLAG_DURATION_NS:
		return config_parse_duration_ns(value, (uint64_t *)field);
	case FLAG_PROFILE_TYPES:
		return parse_profile_types(value, (unsigned int *)field);
	case FLAG_PROBABILITY:
		return parse_probability(value, (double *)field);
	}
	return -EINVAL;
}

static void free_list(struct config_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	*l = (struct config_list){ 0 };
}

static const char *kind_expects(const struct flag_def *f)
{
	switch (f->kind) {
	case FLAG_UINT:
	case FLAG_PID:
		return "a whole number";
	case FLAG_DURATION:
		return "a duration such as 500ms, 30s, 5m or 1h";
	case FLAG_DURATION_NS:
		return "a duration such as 0s, 100us, 2ms or 1s";
	case FLAG_PROFILE_TYPES:
		return "a comma-separated list of cpu, offcpu, mutex and memory, each once";
	case FLAG_PROBABILITY:
		return "a probability above 0, at most 1, such as 0.05";
	case FLAG_SIZE:
		return "a size such as 512K, 64M or 1G";
	case FLAG_LOG_LEVEL:
		return "debug, info, warn or error";
	case FLAG_BOOL:
		return "true or false";
	case FLAG_STRING:
	case FLAG_STRING_LIST:
		break;
	}
	return "a value";
}

static void explain(const struct flag_def *f, const char *where, const char *value,
		    char *err, size_t err_len)
{
	if (f->kind == FLAG_UINT || f->kind == FLAG_PID)
		snprintf(err, err_len, "%s: bad value '%s': expected %s from %lu to %lu",
			 where, value, kind_expects(f), f->min, f->max);
	else
		snprintf(err, err_len, "%s: bad value '%s': expected %s", where, value,
			 kind_expects(f));
}

static const struct flag_def *find_flag(const char *name, size_t len)
{
	for (size_t i = 0; i < N_FLAGS; i++)
		if (strlen(flags[i].name) == len && strncmp(flags[i].name, name, len) == 0)
			return &flags[i];
	return NULL;
}

/* Given by the user (on the command line, or by its variable), rather
 * than left at its default. */
static bool flag_given(const struct flag_def *f, const bool from_argv[N_FLAGS])
{
	const char *env = getenv(f->env);

	return from_argv[f - flags] || (env && *env);
}

static int apply_defaults_and_env(struct config *cfg, char *err, size_t err_len)
{
	for (size_t i = 0; i < N_FLAGS; i++) {
		const struct flag_def *f = &flags[i];
		const char *env = getenv(f->env);

		if (f->def && set_flag(cfg, f, f->def, false))
			return -EINVAL; /* a bad default is ours: fail loudly */
		if (env && *env && set_flag(cfg, f, env, true)) {
			explain(f, f->env, env, err, err_len);
			return -EINVAL;
		}
	}
	return 0;
}

/* The variables that may carry a secret: a password, a token, a URL with
 * user:password@, an Authorization header. Once read they are overwritten
 * where they lie, then unset: unsetenv alone only drops the pointer from
 * environ, and the bytes stay in the block the kernel copied at exec, which
 * /proc/PID/environ shows. (A process we exec, such as the parser worker,
 * would inherit them too.) */
static const char *const secret_vars[] = {
	"SMOLDER_SERVER_ADDRESS",
	"SMOLDER_HEADER",
	"SMOLDER_BASIC_AUTH_PASSWORD",
	"SMOLDER_BEARER_TOKEN",
};

/* The value is zeroed, not the name: glibc keeps setenv's strings in a
 * search tree keyed by their text, and "NAME=" is still a true key. */
static void scrub_env(const char *name)
{
	size_t len = strlen(name);

	for (char **e = environ; *e; e++)
		if (strncmp(*e, name, len) == 0 && (*e)[len] == '=')
			explicit_bzero(*e + len + 1, strlen(*e + len + 1));
	unsetenv(name);
}

static int read_secret_env(const char *name, char **out)
{
	const char *v = getenv(name);

	if (!v || !*v)
		return 0;
	*out = strdup(v);
	return *out ? 0 : -ENOMEM;
}

/* The secrets that only have a variable (their flags name a file), then
 * every secret variable scrubbed: the flags' values are copies by now. */
static int take_secret_env(struct config *cfg)
{
	int err = read_secret_env("SMOLDER_BASIC_AUTH_PASSWORD", &cfg->basic_auth_password);

	if (!err)
		err = read_secret_env("SMOLDER_BEARER_TOKEN", &cfg->bearer_token);
	for (size_t i = 0; i < sizeof(secret_vars) / sizeof(secret_vars[0]); i++)
		scrub_env(secret_vars[i]);
	return err;
}

/* user:password@ in a URL's authority. */
static bool url_has_userinfo(const char *url)
{
	const char *authority = strstr(url, "://");
	size_t len;

	if (!authority)
		return false;
	authority += 3;
	len = strcspn(authority, "/?#");
	return memchr(authority, '@', len) != NULL;
}

static bool is_auth_header(const char *header)
{
	size_t n = strcspn(header, "=");

	return (n == strlen("Authorization") && !strncasecmp(header, "Authorization", n)) ||
	       (n == strlen("Proxy-Authorization") &&
		!strncasecmp(header, "Proxy-Authorization", n));
}

/* Every local user can read the command line (/proc/PID/cmdline, ps), so
 * credentials are refused there and pointed to a form that stays private:
 * a file, or the variable (from a Kubernetes Secret, a systemd
 * EnvironmentFile), which is scrubbed once read. */
static int refuse_credentials(const struct flag_def *f, const char *value, char *err,
			      size_t err_len)
{
	if (f->offset == AT(server_address) && url_has_userinfo(value)) {
		snprintf(err, err_len,
			 "--server-address: credentials in the URL are refused on the command line, where any local user can read them: put the URL in $SMOLDER_SERVER_ADDRESS, or use --basic-auth-user with --basic-auth-password-file");
		return -EINVAL;
	}
	if (f->offset == AT(headers) && is_auth_header(value)) {
		snprintf(err, err_len,
			 "--header: an %.*s header is refused on the command line, where any local user can read it: use --bearer-token-file, --basic-auth-password-file or $SMOLDER_HEADER",
			 (int)strcspn(value, "="), value);
		return -EINVAL;
	}
	return 0;
}

/* --memory-limit's parts: the ones given must fit in it, the others are
 * derived from it (memory_budget.c). */
static int split_memory(struct config *cfg, const bool from_argv[N_FLAGS], char *err,
			size_t err_len)
{
	const struct flag_def *sym = find_flag("symbol-cache-size", strlen("symbol-cache-size"));
	const struct flag_def *unw = find_flag("unwind-table-max-bytes",
					       strlen("unwind-table-max-bytes"));
	struct memory_budget b;

	if (memory_budget_split(cfg->memory_limit,
				flag_given(sym, from_argv) ? &cfg->symbol_cache_size : NULL,
				flag_given(unw, from_argv) ? &cfg->unwind_table_max_bytes : NULL,
				&b, err, err_len))
		return -EINVAL;
	cfg->symbol_cache_size = b.symbol_cache;
	cfg->unwind_table_max_bytes = b.unwind_tables;
	cfg->worker_memory_cap = b.worker_cap;
	return 0;
}

/* The upload flags that only make sense together, or in one form. */
static int check_upload(struct config *cfg, char *err, size_t err_len)
{
	const char *addr = cfg->server_address;

	if (strcmp(cfg->ingest_api, "push") == 0)
		cfg->legacy_ingest = false;
	else if (strcmp(cfg->ingest_api, "legacy") == 0)
		cfg->legacy_ingest = true;
	else {
		snprintf(err, err_len, "--ingest-api: bad value '%s': expected push or legacy",
			 cfg->ingest_api);
		return -EINVAL;
	}
	if (addr && strncmp(addr, "http://", 7) != 0 && strncmp(addr, "https://", 8) != 0) {
		snprintf(err, err_len, "--server-address: bad value '%s': expected an http:// or https:// URL",
			 addr);
		return -EINVAL;
	}
	if (cfg->basic_auth_password_file && !cfg->basic_auth_user) {
		snprintf(err, err_len, "--basic-auth-password-file: needs --basic-auth-user");
		return -EINVAL;
	}
	if (cfg->bearer_token_file && cfg->basic_auth_user) {
		snprintf(err, err_len, "--bearer-token-file: cannot be used with --basic-auth-user");
		return -EINVAL;
	}
	for (size_t i = 0; i < cfg->headers.n; i++) {
		const char *h = cfg->headers.v[i], *eq = strchr(h, '=');

		if (!eq || eq == h || strcspn(h, ": \t\r\n") < (size_t)(eq - h) ||
		    strpbrk(eq, "\r\n")) {
			snprintf(err, err_len, "--header: bad value '%s': expected NAME=VALUE", h);
			return -EINVAL;
		}
	}
	if (cfg->upload_timeout_ms < 100) {
		snprintf(err, err_len, "--upload-timeout: must be at least 100ms");
		return -EINVAL;
	}
	if (addr && !*cfg->spool_dir) {
		snprintf(err, err_len, "--spool-dir: must not be empty");
		return -EINVAL;
	}
	if (metrics_parse_listen(cfg->http_listen, NULL, NULL, err, err_len) < 0)
		return -EINVAL;
	return CONFIG_RUN;
}

int config_parse(int argc, char **argv, struct config *cfg, char *err, size_t err_len)
{
	bool from_argv[N_FLAGS] = { false };
	char msg[256];
	int rc;

	memset(cfg, 0, sizeof(*cfg));
	rc = apply_defaults_and_env(cfg, err, err_len);
	if (take_secret_env(cfg) && !rc) {
		snprintf(err, err_len, "reading the environment: %s", strerror(ENOMEM));
		rc = -EINVAL;
	}
	if (rc)
		return -EINVAL;

	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i], *value, *eq;
		const struct flag_def *f;
		char where[96];

		if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0)
			return CONFIG_HELP_SHOWN;
		if (strcmp(arg, "--version") == 0)
			return CONFIG_VERSION_SHOWN;
		if (strncmp(arg, "--", 2) != 0) {
			snprintf(err, err_len, "unexpected argument '%s' (flags start with --; see --help)", arg);
			return -EINVAL;
		}
		eq = strchr(arg + 2, '=');
		f = find_flag(arg + 2, eq ? (size_t)(eq - arg - 2) : strlen(arg + 2));
		if (!f) {
			snprintf(err, err_len, "unknown flag '%.*s' (see --help)",
				 eq ? (int)(eq - arg) : (int)strlen(arg), arg);
			return -EINVAL;
		}
		snprintf(where, sizeof(where), "--%s", f->name);
		if (eq) {
			value = eq + 1;
		} else if (f->kind == FLAG_BOOL) {
			value = "true";
		} else if (i + 1 < argc) {
			value = argv[++i];
		} else {
			snprintf(err, err_len, "%s needs a value (%s)", where, kind_expects(f));
			return -EINVAL;
		}
		/* flags win: a repeatable flag replaces the variable's list */
		if (f->kind == FLAG_PID && !from_argv[f - flags])
			cfg->n_pids = 0;
		if (f->kind == FLAG_STRING_LIST && !from_argv[f - flags])
			free_list((struct config_list *)((char *)cfg + f->offset));
		from_argv[f - flags] = true;
		if (set_flag(cfg, f, value, false)) {
			explain(f, where, value, err, err_len);
			return -EINVAL;
		}
		if (refuse_credentials(f, value, err, err_len))
			return -EINVAL;
	}
	if (split_memory(cfg, from_argv, err, err_len))
		return -EINVAL;
	if (cfg->upload_interval_ms < 1000) {
		snprintf(err, err_len, "--upload-interval: must be at least 1s");
		return -EINVAL;
	}
	if (cfg->memory_sample_bytes == 0) {
		snprintf(err, err_len, "--memory-sample-bytes: must be at least 1");
		return -EINVAL;
	}
	if (!*cfg->output_dir) {
		snprintf(err, err_len, "--output-dir: must not be empty");
		return -EINVAL;
	}
	cfg->http_listen_given = flag_given(find_flag("http-listen", strlen("http-listen")),
					    from_argv);
	if (kernel_features_parse(cfg->test_pretend_missing, &cfg->pretend_missing, msg,
				  sizeof(msg))) {
		snprintf(err, err_len, "--test-pretend-missing: %s", msg);
		return -EINVAL;
	}
	return check_upload(cfg, err, err_len);
}

void config_release(struct config *cfg)
{
	free_list(&cfg->tags);
	free_list(&cfg->debug_dirs);
	free(cfg->debuginfod_url);
	free(cfg->debuginfod_cache_dir);
	free(cfg->cache_dir);
	free(cfg->config_path);
	free(cfg->output_dir);
	free(cfg->server_address);
	free(cfg->ingest_api);
	free(cfg->basic_auth_user);
	free(cfg->basic_auth_password_file);
	free(cfg->bearer_token_file);
	if (cfg->basic_auth_password)
		explicit_bzero(cfg->basic_auth_password, strlen(cfg->basic_auth_password));
	free(cfg->basic_auth_password);
	if (cfg->bearer_token)
		explicit_bzero(cfg->bearer_token, strlen(cfg->bearer_token));
	free(cfg->bearer_token);
	free(cfg->tenant_id);
	free_list(&cfg->headers);
	free(cfg->tls_ca_file);
	free(cfg->spool_dir);
	free(cfg->http_listen);
	free(cfg->node_name);
	free(cfg->test_kube_api_url);
	free(cfg->test_pretend_missing);
	free(cfg->pids);
	memset(cfg, 0, sizeof(*cfg));
}

void config_print_help(FILE *f)
{
	fprintf(f,
		"Usage: smolder [FLAG VALUE]...\n"
		"Samples the on-CPU stacks of every process with eBPF and writes one pprof\n"
		"profile per service every interval. Each flag also reads the environment\n"
		"variable named after it; the flag wins.\n\n");
	for (int pass = 0; pass < 2; pass++) {
		if (pass)
			fprintf(f, "\nTest only:\n");
		for (size_t i = 0; i < N_FLAGS; i++) {
			const struct flag_def *fl = &flags[i];

			if (fl->test_only != (pass == 1))
				continue;
			fprintf(f, "  --%s%s%s\n      %s\n      env %s", fl->name,
				*fl->metavar ? " " : "", fl->metavar, fl->help, fl->env);
			if (fl->def)
				fprintf(f, ", default %s", fl->def);
			fprintf(f, "\n");
		}
	}
	fprintf(f, "\n  --help\n      Show this help.\n  --version\n      Show the version.\n");
}
