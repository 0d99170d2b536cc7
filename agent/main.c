/* smolder's entry point: settings, start-up checks, then the run loop.
 * Exit status: 0 done, 1 could not run, 2 bad flag or value. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <curl/curl.h>

#include "config.h"
#include "disc.h"
#include "heap_tuning.h"
#include "log.h"
#include "kernel_features.h"
#include "probe.h"
#include "run.h"
#include "sym.h"

#ifndef SMOLDER_VERSION
#define SMOLDER_VERSION "unknown"
#endif

/* The target rules and tags: a bad one is a bad flag value, told in one
 * line naming the file, line and rule (or the tag). */
static struct disc_targets *load_targets(const struct config *cfg, char *err, size_t len)
{
	struct disc_targets_opts opts = {
		.sz = sizeof(opts),
		.config_path = cfg->config_path,
		.tags = (const char *const *)cfg->tags.v,
		.n_tags = cfg->tags.n,
		.err = err,
		.err_len = len,
	};
	struct disc_targets *t;

	err[0] = '\0';
	t = disc_targets_new(&opts);
	if (!t && !err[0])
		snprintf(err, len, "--config %s: %s", cfg->config_path ? cfg->config_path : "",
			 strerror(errno));
	return t;
}

int main(int argc, char **argv)
{
	struct disc_targets *targets;
	struct config cfg;
	char err[512] = "";
	bool refused = false;
	int r, status;

	/* The parser worker: this executable, run again by the agent. */
	if (argc > 1 && !strcmp(argv[1], SYM_WORKER_ARGV1))
		return sym_worker_main(argc, argv);
	r = config_parse(argc, argv, &cfg, err, sizeof(err));
	if (r < 0) {
		fprintf(stderr, "smolder: %s\n", err);
		config_release(&cfg);
		return 2;
	}
	if (r == CONFIG_HELP_SHOWN || r == CONFIG_VERSION_SHOWN) {
		if (r == CONFIG_HELP_SHOWN)
			config_print_help(stdout);
		else
			printf("smolder %s\n", SMOLDER_VERSION);
		config_release(&cfg);
		return 0;
	}
	log_set_level(cfg.log_level);
	heap_tune_for_start();
	/* Before any thread: libcurl's global state is not thread-safe. */
	curl_global_init(CURL_GLOBAL_DEFAULT);
	targets = load_targets(&cfg, err, sizeof(err));
	if (!targets) {
		fprintf(stderr, "smolder: %s\n", err);
		config_release(&cfg);
		return 2;
	}
	if (probe_requirements(err, sizeof(err), &refused)) {
		if (refused)
			fprintf(stderr, "smolder: %s\n", err);
		else
			fprintf(stderr, "smolder: missing %s; smolder needs %s or later with BTF, "
				"run as root\n", err, PROBE_MIN_KERNEL);
		status = 1;
	} else {
		struct kernel_features kf;

		kernel_features_probe(&kf, cfg.pretend_missing);
		if (kernel_features_check(&kf, err, sizeof(err))) {
			fprintf(stderr, "smolder: %s\n", err);
			status = 1;
		} else {
			status = agent_run(&cfg, targets, &kf);
		}
	}
	disc_targets_free(targets);
	config_release(&cfg);
	curl_global_cleanup();
	return status;
}
