/* Unit tests of the flag table: durations, precedence of flags over
 * environment variables, repeatable --pid, and the one-line errors. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "config.h"
#include "kernel_features.h"

static void test_durations(void)
{
	static const struct { const char *s; int ok; uint64_t ms; } cases[] = {
		{ "500ms", 1, 500 }, { "30s", 1, 30000 }, { "5m", 1, 300000 },
		{ "1h", 1, 3600000 }, { "1m30s", 1, 90000 }, { "0s", 1, 0 },
		{ "1h2m3s4ms", 1, 3723004 },
		{ "", 0, 0 }, { "10", 0, 0 }, { "5x", 0, 0 }, { "s", 0, 0 },
		{ "-1s", 0, 0 }, { "1.5s", 0, 0 }, { "99999999999999999999s", 0, 0 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t ms = 12345;
		int err = config_parse_duration(cases[i].s, &ms);
		CHECK((err == 0) == cases[i].ok, "duration '%s': err %d", cases[i].s, err);
		if (cases[i].ok)
			CHECK(ms == cases[i].ms, "duration '%s' = %llu, want %llu", cases[i].s,
			      (unsigned long long)ms, (unsigned long long)cases[i].ms);
	}
}

/* Durations under a millisecond, for --off-cpu-min-block. */
static void test_durations_ns(void)
{
	static const struct { const char *s; int ok; uint64_t ns; } cases[] = {
		{ "0s", 1, 0 }, { "800ns", 1, 800 }, { "250us", 1, 250000 },
		{ "2ms", 1, 2000000 }, { "1s", 1, 1000000000 }, { "1m", 1, 60000000000ULL },
		{ "1ms500us", 1, 1500000 },
		{ "", 0, 0 }, { "100", 0, 0 }, { "5u", 0, 0 }, { "1.5ms", 0, 0 },
		{ "99999999999999999999ns", 0, 0 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t ns = 12345;
		int err = config_parse_duration_ns(cases[i].s, &ns);
		CHECK((err == 0) == cases[i].ok, "duration '%s': err %d", cases[i].s, err);
		if (cases[i].ok)
			CHECK(ns == cases[i].ns, "duration '%s' = %llu ns, want %llu", cases[i].s,
			      (unsigned long long)ns, (unsigned long long)cases[i].ns);
	}
}

static int parse(struct config *cfg, char *err, size_t len, ...)
{
	char *argv[16] = { "smolder" };
	int argc = 1;
	va_list ap;

	va_start(ap, len);
	for (char *a; (a = va_arg(ap, char *)) && argc < 15;)
		argv[argc++] = a;
	va_end(ap);
	return config_parse(argc, argv, cfg, err, len);
}

static void test_defaults(void)
{
	struct config cfg;
	char err[256] = "";

	CHECK(parse(&cfg, err, sizeof(err), NULL) == CONFIG_RUN, "defaults: %s", err);
	CHECK(cfg.sample_rate == 97, "default rate %u", cfg.sample_rate);
	CHECK(cfg.upload_interval_ms == 15000, "default interval");
	CHECK(cfg.duration_ms == 0, "default duration");
	CHECK(strcmp(cfg.output_dir, "./profiles") == 0, "default dir %s", cfg.output_dir);
	CHECK(cfg.server_address == NULL, "no server by default");
	CHECK(cfg.n_pids == 0, "no pids by default");
	CHECK(cfg.log_level == LOG_INFO, "default level");
	CHECK(!cfg.http_listen_given, "--http-listen defaulted, not given");
	CHECK(cfg.cache_dir == NULL, "no --cache-dir by default");
	CHECK_U64(cfg.cache_max_bytes, 256ull << 20);
	CHECK(cfg.profile_types == PROFILE_TYPE_BIT(PROFILE_CPU), "default types %#x",
	      cfg.profile_types);
	CHECK(cfg.off_cpu_sample == 0.05, "default off-CPU sampling %g", cfg.off_cpu_sample);
	CHECK_U64(cfg.off_cpu_min_block_ns, 0);
	CHECK_U64(cfg.memory_sample_bytes, 512 * 1024);
	CHECK(cfg.memory_max_hits == 20000, "default ceiling %u", cfg.memory_max_hits);
	config_release(&cfg);
	CHECK(parse(&cfg, err, sizeof(err), "--profile-types", "cpu,memory", "--memory-sample-bytes",
		    "64K", "--memory-max-hits", "0", NULL) == CONFIG_RUN, "%s", err);
	CHECK(cfg.profile_types == (PROFILE_TYPE_BIT(PROFILE_CPU) | PROFILE_TYPE_BIT(PROFILE_MEMORY)),
	      "types %#x", cfg.profile_types);
	CHECK_U64(cfg.memory_sample_bytes, 64 * 1024);
	CHECK(cfg.memory_max_hits == 0, "no ceiling %u", cfg.memory_max_hits);
	config_release(&cfg);
	CHECK(parse(&cfg, err, sizeof(err), "--profile-types", "mutex,cpu,offcpu", "--off-cpu-sample",
		    "1", "--off-cpu-min-block", "100us", NULL) == CONFIG_RUN, "%s", err);
	CHECK(cfg.profile_types == (PROFILE_TYPE_BIT(PROFILE_CPU) | PROFILE_TYPE_BIT(PROFILE_OFFCPU) |
				    PROFILE_TYPE_BIT(PROFILE_MUTEX)),
	      "types %#x", cfg.profile_types);
	CHECK(cfg.off_cpu_sample == 1.0, "off-CPU sampling %g", cfg.off_cpu_sample);
	CHECK_U64(cfg.off_cpu_min_block_ns, 100000);
	config_release(&cfg);
	CHECK(parse(&cfg, err, sizeof(err), "--cache-dir", "/var/cache/smolder", "--cache-max-bytes",
		    "1G", NULL) == CONFIG_RUN, "%s", err);
	CHECK_STR(cfg.cache_dir, "/var/cache/smolder");
	CHECK_U64(cfg.cache_max_bytes, 1ull << 30);
	config_release(&cfg);
}

/* An address the user gave, even the default's, must be had (run.c stops
 * when it cannot listen there); the default is only a convenience. */
static void test_http_listen_given(void)
{
	struct config cfg;
	char err[256] = "";

	CHECK(parse(&cfg, err, sizeof(err), "--http-listen", "127.0.0.1:4100", NULL) == CONFIG_RUN,
	      "%s", err);
	CHECK(cfg.http_listen_given, "--http-listen given");
	config_release(&cfg);
	setenv("SMOLDER_HTTP_LISTEN", "127.0.0.1:4101", 1);
	CHECK(parse(&cfg, err, sizeof(err), NULL) == CONFIG_RUN, "%s", err);
	CHECK(cfg.http_listen_given && !strcmp(cfg.http_listen, "127.0.0.1:4101"),
	      "SMOLDER_HTTP_LISTEN given");
	config_release(&cfg);
	unsetenv("SMOLDER_HTTP_LISTEN");
}

static void test_flags_and_env(void)
{
	struct config cfg;
	char err[256] = "";

	setenv("SMOLDER_SAMPLE_RATE", "49", 1);
	setenv("SMOLDER_PID", "10,20", 1);
	setenv("SMOLDER_OUTPUT_DIR", "/tmp/from-env", 1);
	CHECK(parse(&cfg, err, sizeof(err), "--upload-interval=5s", "--log-level", "debug", NULL) == CONFIG_RUN,
	      "env: %s", err);
	CHECK(cfg.sample_rate == 49, "env rate %u", cfg.sample_rate);
	CHECK(cfg.n_pids == 2 && cfg.pids[0] == 10 && cfg.pids[1] == 20, "env pids");
	CHECK(strcmp(cfg.output_dir, "/tmp/from-env") == 0, "env dir");
	CHECK(cfg.upload_interval_ms == 5000 && cfg.log_level == LOG_DEBUG, "flags");
	config_release(&cfg);

	CHECK(parse(&cfg, err, sizeof(err), "--sample-rate", "19", "--pid", "7", "--pid=8",
		    "--output-dir", "out", NULL) == CONFIG_RUN, "flags: %s", err);
	CHECK(cfg.sample_rate == 19, "flag beats env: %u", cfg.sample_rate);
	CHECK(cfg.n_pids == 2 && cfg.pids[0] == 7 && cfg.pids[1] == 8, "--pid replaces env list");
	CHECK(strcmp(cfg.output_dir, "out") == 0, "flag dir");
	config_release(&cfg);

	setenv("SMOLDER_SAMPLE_RATE", "fast", 1);
	CHECK(parse(&cfg, err, sizeof(err), NULL) < 0, "bad env accepted");
	CHECK(strstr(err, "SMOLDER_SAMPLE_RATE") && strstr(err, "fast"), "env error names it: %s", err);
	config_release(&cfg);
	unsetenv("SMOLDER_SAMPLE_RATE");
	unsetenv("SMOLDER_PID");
	unsetenv("SMOLDER_OUTPUT_DIR");
}

static void test_errors(void)
{
	static const struct { const char *args[3]; const char *mention; } cases[] = {
		{ { "--bogus", NULL }, "--bogus" },
		{ { "--sample-rate", "abc" }, "--sample-rate" },
		{ { "--sample-rate", "0" }, "--sample-rate" },
		{ { "--sample-rate=" }, "--sample-rate" },
		{ { "--upload-interval", "15" }, "--upload-interval" },
		{ { "--upload-interval", "100ms" }, "--upload-interval" },
		{ { "--duration" }, "--duration" },
		{ { "--pid", "-3" }, "--pid" },
		{ { "--log-level", "loud" }, "--log-level" },
		{ { "--cache-max-bytes", "lots" }, "--cache-max-bytes" },
		{ { "--cache-dir" }, "--cache-dir" },
		{ { "--test-pretend-missing", "bpf_loop,warp" }, "--test-pretend-missing" },
		{ { "--test-pretend-missing", "bpf_loop,," }, "--test-pretend-missing" },
		{ { "--profile-types", "cpu,gpu" }, "--profile-types" },
		{ { "--profile-types", "cpu,cpu" }, "--profile-types" },
		{ { "--profile-types", "," }, "--profile-types" },
		{ { "--off-cpu-sample", "0" }, "--off-cpu-sample" },
		{ { "--off-cpu-sample", "1.5" }, "--off-cpu-sample" },
		{ { "--off-cpu-sample", "nan" }, "--off-cpu-sample" },
		{ { "--off-cpu-sample", "0.1x" }, "--off-cpu-sample" },
		{ { "--off-cpu-min-block", "5" }, "--off-cpu-min-block" },
		{ { "--memory-sample-bytes", "0" }, "--memory-sample-bytes" },
		{ { "--memory-sample-bytes", "lots" }, "--memory-sample-bytes" },
		{ { "--memory-max-hits", "-1" }, "--memory-max-hits" },
		{ { "--profile-types", "memory,heap" }, "--profile-types" },
		{ { "stray" }, "stray" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct config cfg;
		char err[256] = "";
		int r = parse(&cfg, err, sizeof(err), cases[i].args[0], cases[i].args[1], NULL);

		CHECK(r < 0, "case %zu (%s) accepted", i, cases[i].args[0]);
		CHECK(strstr(err, cases[i].mention) != NULL, "error '%s' does not name '%s'", err,
		      cases[i].mention);
		CHECK(strchr(err, '\n') == NULL, "error is more than one line: %s", err);
		config_release(&cfg);
	}
}

/* --test-pretend-missing: a bit per feature named, in any order. */
static void test_pretend_missing(void)
{
	struct config cfg;
	char err[256] = "";
	int r = parse(&cfg, err, sizeof(err), "--test-pretend-missing", "fentry,bpf_loop", NULL);

	CHECK(r == 0, "refused: %s", err);
	CHECK(cfg.pretend_missing == ((1u << KF_FENTRY) | (1u << KF_BPF_LOOP)),
	      "mask %#x", cfg.pretend_missing);
	config_release(&cfg);
	r = parse(&cfg, err, sizeof(err), NULL);
	CHECK(r == 0 && cfg.pretend_missing == 0, "default mask %#x", cfg.pretend_missing);
	config_release(&cfg);
}

/* --memory-limit is split into parts that add up to it: derived from it
 * when not given, refused (one line naming the flag) when given and they
 * do not fit; the worker's cap is the symbol cache and room to parse. */
static void test_memory_budget(void)
{
	static const struct { const char *args[4]; const char *refused; } bad[] = {
		{ { "--memory-limit", "32M" }, "--memory-limit" },
		{ { "--memory-limit", "lots" }, "--memory-limit" },
		{ { "--symbol-cache-size", "200M" }, "--symbol-cache-size" },
		{ { "--symbol-cache-size", "0" }, "--symbol-cache-size" },
		{ { "--memory-limit", "128M", "--symbol-cache-size", "64M" }, "--symbol-cache-size" },
		{ { "--unwind-table-max-bytes", "32K" }, "--unwind-table-max-bytes" },
		{ { "--unwind-table-max-bytes", "256M" }, "--unwind-table-max-bytes" },
		{ { "--memory-limit", "128M", "--unwind-table-max-bytes", "64M" },
		  "--unwind-table-max-bytes" },
	};
	struct config cfg;
	char err[256] = "";

	CHECK(parse(&cfg, err, sizeof(err), NULL) == CONFIG_RUN, "defaults: %s", err);
	CHECK_U64(cfg.memory_limit, 320ull << 20);
	CHECK_U64(cfg.symbol_cache_size, 80ull << 20);
	CHECK_U64(cfg.worker_memory_cap, 160ull << 20);
	CHECK_U64(cfg.unwind_table_max_bytes, 32ull << 20);
	/* The parts leave the agent its quarter, and fit the DaemonSet's
	 * 512Mi with the BPF maps (about 100M) beside them. */
	CHECK(cfg.worker_memory_cap + cfg.unwind_table_max_bytes <= cfg.memory_limit * 3 / 4,
	      "the agent's own part is under a quarter");
	CHECK(cfg.memory_limit + (100ull << 20) <= 448ull << 20, "no room under 512Mi");
	config_release(&cfg);

	/* Derived from a limit given; an explicit part moves the others. */
	CHECK(parse(&cfg, err, sizeof(err), "--memory-limit", "1G", NULL) == CONFIG_RUN, "%s", err);
	CHECK_U64(cfg.symbol_cache_size, 256ull << 20);
	CHECK_U64(cfg.worker_memory_cap, 512ull << 20);
	CHECK_U64(cfg.unwind_table_max_bytes, 102ull << 20);
	config_release(&cfg);
	CHECK(parse(&cfg, err, sizeof(err), "--symbol-cache-size", "100M", NULL) == CONFIG_RUN,
	      "%s", err);
	CHECK_U64(cfg.worker_memory_cap, 180ull << 20);
	config_release(&cfg);
	CHECK(parse(&cfg, err, sizeof(err), "--unwind-table-max-bytes", "100M", NULL) ==
	      CONFIG_RUN, "%s", err);
	CHECK_U64(cfg.symbol_cache_size, 60ull << 20);
	CHECK_U64(cfg.worker_memory_cap, 140ull << 20);
	config_release(&cfg);
	setenv("SMOLDER_MEMORY_LIMIT", "2G", 1);
	CHECK(parse(&cfg, err, sizeof(err), NULL) == CONFIG_RUN, "%s", err);
	CHECK_U64(cfg.unwind_table_max_bytes, 128ull << 20);
	CHECK_U64(cfg.symbol_cache_size, 512ull << 20);
	config_release(&cfg);
	unsetenv("SMOLDER_MEMORY_LIMIT");

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = parse(&cfg, err, sizeof(err), bad[i].args[0], bad[i].args[1], bad[i].args[2],
			      bad[i].args[3], NULL);

		CHECK(r < 0, "case %zu (%s %s) accepted", i, bad[i].args[0], bad[i].args[1]);
		CHECK(strncmp(err, bad[i].refused, strlen(bad[i].refused)) == 0,
		      "error '%s' does not start with '%s'", err, bad[i].refused);
		CHECK(strchr(err, '\n') == NULL, "error is more than one line: %s", err);
		config_release(&cfg);
	}
}

int main(void)
{
	test_durations();
	test_durations_ns();
	test_defaults();
	test_http_listen_given();
	test_flags_and_env();
	test_errors();
	test_pretend_missing();
	test_memory_budget();
	return check_report("config");
}
