/* smolder's entry point: settings, start-up checks, then the run loop.
 * Exit status: 0 done, 1 could not run, 2 bad flag or value. */
#include <stdio.h>

#include "config.h"
#include "log.h"
#include "probe.h"
#include "run.h"

#ifndef SMOLDER_VERSION
#define SMOLDER_VERSION "unknown"
#endif

int main(int argc, char **argv)
{
	struct config cfg;
	char err[512] = "";
	int r, status;

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
	if (cfg.server_address) {
		fprintf(stderr, "smolder: --server-address: uploading to a server is not built yet; "
				"leave it out to write profiles to --output-dir\n");
		config_release(&cfg);
		return 2;
	}
	log_set_level(cfg.log_level);
	if (probe_requirements(err, sizeof(err))) {
		fprintf(stderr, "smolder: missing %s; smolder needs %s or later with BTF, run as root\n",
			err, PROBE_MIN_KERNEL);
		config_release(&cfg);
		return 1;
	}
	status = agent_run(&cfg);
	config_release(&cfg);
	return status;
}
