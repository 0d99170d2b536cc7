/* The agent's settings: one table of flags (name, environment variable,
 * default, help) drives parsing, the environment, --help and the README.
 */
#ifndef SMOLDER_CONFIG_H
#define SMOLDER_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "log.h"

/* A repeatable flag's values, NULL-terminated. */
struct config_list {
	char **v;
	size_t n;
};

/* The profile types (--profile-types). */
enum profile_type {
	PROFILE_CPU,
	PROFILE_OFFCPU,
	PROFILE_MUTEX,
	PROFILE_MEMORY,
	PROFILE__COUNT,
};
#define PROFILE_TYPE_BIT(t) (1u << (t))

/* The name --profile-types and the file names spell t with. */
const char *profile_type_name(enum profile_type t);

struct config {
	unsigned int sample_rate;      /* Hz, on each CPU */
	uint64_t upload_interval_ms;
	uint64_t duration_ms;          /* 0: until SIGINT/SIGTERM */
	char *output_dir;
	uint64_t output_max_bytes;     /* 0: no bound */
	char *server_address;          /* NULL: write locally */
	char *ingest_api;              /* "push" or "legacy", as given */
	bool legacy_ingest;            /* --ingest-api legacy */
	char *basic_auth_user;
	char *basic_auth_password_file;
	char *bearer_token_file;
	char *basic_auth_password;     /* $SMOLDER_BASIC_AUTH_PASSWORD */
	char *bearer_token;            /* $SMOLDER_BEARER_TOKEN */
	char *tenant_id;
	struct config_list headers;    /* --header NAME=VALUE, checked */
	char *tls_ca_file;
	bool tls_insecure_skip_verify;
	uint64_t upload_timeout_ms;
	char *spool_dir;
	uint64_t spool_max_bytes;
	uint64_t spool_max_age_ms;
	int *pids;                     /* --pid targets; none: every process */
	size_t n_pids;
	char *config_path;             /* --config: target rules (YAML) */
	struct config_list tags;       /* --tag KEY=VALUE, as given */
	struct config_list debug_dirs; /* --debug-dir */
	char *debuginfod_url;          /* NULL: $DEBUGINFOD_URLS, if set */
	char *debuginfod_cache_dir;
	char *cache_dir;               /* --cache-dir: unwind tables kept; NULL or "": none */
	uint64_t cache_max_bytes;
	uint64_t memory_limit;         /* the agent and its parser worker together */
	uint64_t symbol_cache_size;    /* parts of memory_limit (memory_budget.h): */
	uint64_t unwind_table_max_bytes; /* given, or derived from it */
	uint64_t worker_memory_cap;    /* derived: the symbol cache and room to parse */
	bool kernel_addresses;         /* --kernel-addresses: kept in profiles */
	bool python_frames;            /* --python-frames */
	unsigned int profile_types;    /* --profile-types: PROFILE_TYPE_* bits */
	double off_cpu_sample;         /* --off-cpu-sample: probability, (0, 1] */
	uint64_t off_cpu_min_block_ns; /* --off-cpu-min-block; 0: none */
	uint64_t memory_sample_bytes;  /* --memory-sample-bytes: mean bytes a sample */
	unsigned int memory_max_hits;  /* --memory-max-hits: a target's probe hits a second */
	bool profile_self;             /* --profile-self: the agent samples itself */
	char *http_listen;             /* HOST:PORT; "" or "off": none */
	bool http_listen_given;        /* by flag or variable: must be had */
	bool kubernetes;               /* --kubernetes, or $KUBERNETES_SERVICE_HOST */
	char *node_name;               /* NULL: $NODE_NAME, else the host name */
	char *test_kube_api_url;       /* test only: an API server without auth */
	char *test_pretend_missing;    /* test only: kernel features taken for missing */
	unsigned int pretend_missing;  /* ... as a bit per enum kernel_feature */
	enum log_level log_level;
	unsigned int count_map_entries; /* test only: BPF map sizes */
	unsigned int stack_map_entries;
};

enum config_result {
	CONFIG_RUN = 0,
	CONFIG_HELP_SHOWN = 1,
	CONFIG_VERSION_SHOWN = 2,
};

/* Fills cfg from defaults, then the environment, then argv (flags win).
 * The variables that may hold a secret (SMOLDER_SERVER_ADDRESS,
 * SMOLDER_HEADER, SMOLDER_BASIC_AUTH_PASSWORD, SMOLDER_BEARER_TOKEN) are
 * then overwritten in place and unset, so /proc/PID/environ no longer
 * shows them: cfg holds the only copy (the environment's strings must be
 * writable, as exec's and setenv's are). Credentials on the command line
 * (a URL with user:password@, an Authorization header) are refused.
 * Returns a config_result, or -EINVAL with a one-line reason naming the
 * flag or variable in err. */
int config_parse(int argc, char **argv, struct config *cfg, char *err,
		 size_t err_len);
void config_release(struct config *cfg);

/* Writes --help to f. */
#include <stdio.h>
void config_print_help(FILE *f);

/* Parses 1048576, 512K, 64M and 1G (powers of 1024) into bytes. */
int config_parse_size(const char *s, uint64_t *bytes);

/* Parses 500ms, 30s, 5m, 1h and sequences like 1m30s into milliseconds. */
int config_parse_duration(const char *s, uint64_t *ms);
/* The same, and 250us or 800ns, into nanoseconds. */
int config_parse_duration_ns(const char *s, uint64_t *ns);

#endif
