/* The agent's own metrics for Prometheus, and where to serve them: the
 * text exposition format (version 0.0.4) of a copy of the counter table's
 * totals, and the --http-listen address. No HTTP here (http_server.c
 * serves it), so the unit tests and config.c use it without libmicrohttpd.
 */
#ifndef SMOLDER_METRICS_H
#define SMOLDER_METRICS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "counters.h"

/* The content type of metrics_format's text. */
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* What the process itself uses, read when scraped. */
struct metrics_process {
	uint64_t resident_bytes; /* /proc/self/statm */
	double cpu_seconds;      /* getrusage: user + system */
};

/* Fills *p; a value that cannot be read is left 0. Returns 0, or a
 * negative errno when /proc/self/statm cannot be read. */
int metrics_process_read(struct metrics_process *p);

/* The exposition text, malloc()ed (*len its length, without the NUL the
 * text ends with), of totals (struct counters' total[]: the running sums,
 * and the gauges' last values), proc (NULL: left out), the seconds since
 * the last interval closed (negative: left out) and version. Counters are
 * smolder_<name>_total, gauges smolder_<name>; then
 * smolder_process_resident_memory_bytes, smolder_process_cpu_seconds_total,
 * smolder_last_interval_age_seconds and smolder_build_info{version="..."} 1.
 * NULL when out of memory. */
char *metrics_format(const uint64_t totals[CTR__COUNT], const struct metrics_process *proc,
		     double last_interval_age_s, const char *version, size_t *len);

/* The metric name of counter id (with its smolder_ prefix and, for a
 * counter, its _total suffix) into buf; -ENOSPC if it does not fit. */
int metrics_name(enum counter_id id, char *buf, size_t len);

/* Parses --http-listen: HOST:PORT, HOST an IPv4 address (dotted),
 * "localhost" (127.0.0.1) or an IPv6 address in brackets ([::1]:4100),
 * PORT 1 to 65535. Returns 1 for "" and "off" (no server), 0 with the
 * address in *addr and its size in *addr_len (either may be NULL), or
 * -EINVAL with a one-line reason naming the flag in err. */
int metrics_parse_listen(const char *s, struct sockaddr_storage *addr, socklen_t *addr_len,
			 char *err, size_t err_len);

#endif
