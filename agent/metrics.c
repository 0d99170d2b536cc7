/* The Prometheus text of the counter table, and the --http-listen address
 * (see metrics.h). */
#include "metrics.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#define PREFIX "smolder_"

int metrics_process_read(struct metrics_process *p)
{
	unsigned long long size = 0, resident = 0;
	struct rusage ru;
	long page = sysconf(_SC_PAGESIZE);
	int err = 0;
	FILE *f;

	memset(p, 0, sizeof(*p));
	if (getrusage(RUSAGE_SELF, &ru) == 0)
		p->cpu_seconds = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
				 (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
	f = fopen("/proc/self/statm", "re");
	if (!f)
		return -errno;
	if (fscanf(f, "%llu %llu", &size, &resident) == 2 && page > 0)
		p->resident_bytes = (uint64_t)resident * (uint64_t)page;
	else
		err = -EIO;
	fclose(f);
	return err;
}

int metrics_name(enum counter_id id, char *buf, size_t len)
{
	int n = snprintf(buf, len, PREFIX "%s%s", counter_defs[id].name,
			 counter_defs[id].is_gauge ? "" : "_total");

	return n < 0 || (size_t)n >= len ? -ENOSPC : 0;
}

/* HELP text escapes backslash and line feed; a label value also '"'. */
static void put_escaped(FILE *f, const char *s, int quote)
{
	for (; *s; s++) {
		if (*s == '\\')
			fputs("\\\\", f);
		else if (*s == '\n')
			fputs("\\n", f);
		else if (quote && *s == '"')
			fputs("\\\"", f);
		else
			fputc(*s, f);
	}
}

static void put_family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s ", name);
	put_escaped(f, help, 0);
	fprintf(f, "\n# TYPE %s %s\n", name, type);
}

char *metrics_format(const uint64_t totals[CTR__COUNT], const struct metrics_process *proc,
		     double last_interval_age_s, const char *version, size_t *len)
{
	char *buf = NULL, name[128];
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);

	if (!f)
		return NULL;
	fputs("# smolder's counters as of the end of the last interval (--upload-interval);\n"
	      "# the process_ metrics and last_interval_age_seconds as of this scrape.\n", f);
	for (int i = 0; i < CTR__COUNT; i++) {
		if (metrics_name(i, name, sizeof(name)))
			continue;
		put_family(f, name, counter_defs[i].is_gauge ? "gauge" : "counter", counter_defs[i].help);
		fprintf(f, "%s %llu\n", name, (unsigned long long)totals[i]);
	}
	if (proc) {
		put_family(f, PREFIX "process_resident_memory_bytes", "gauge",
			   "resident memory of the agent, from /proc/self/statm");
		fprintf(f, PREFIX "process_resident_memory_bytes %llu\n",
			(unsigned long long)proc->resident_bytes);
		put_family(f, PREFIX "process_cpu_seconds_total", "counter",
			   "CPU time of the agent, user and system, in seconds");
		fprintf(f, PREFIX "process_cpu_seconds_total %.6f\n", proc->cpu_seconds);
	}
	if (last_interval_age_s >= 0) {
		put_family(f, PREFIX "last_interval_age_seconds", "gauge",
			   "seconds since the last interval closed (before the first: since the "
			   "agent started), as of this scrape; /healthz fails past 3 intervals and 30 s");
		fprintf(f, PREFIX "last_interval_age_seconds %.3f\n", last_interval_age_s);
	}
	put_family(f, PREFIX "build_info", "gauge", "the agent's version, as a label; always 1");
	fputs(PREFIX "build_info{version=\"", f);
	put_escaped(f, version ? version : "", 1);
	fputs("\"} 1\n", f);
	if (ferror(f)) {
		fclose(f);
		free(buf);
		return NULL;
	}
	if (fclose(f)) {
		free(buf);
		return NULL;
	}
	if (len)
		*len = size;
	return buf;
}

static int bad_listen(const char *s, const char *why, char *err, size_t err_len)
{
	snprintf(err, err_len, "--http-listen: bad value '%s': %s", s, why);
	return -EINVAL;
}

int metrics_parse_listen(const char *s, struct sockaddr_storage *addr, socklen_t *addr_len,
			 char *err, size_t err_len)
{
	static const char expected[] =
		"expected HOST:PORT (HOST an IPv4 address, localhost or [IPv6 address]; "
		"PORT 1 to 65535), or off";
	struct sockaddr_storage ss;
	char host[INET6_ADDRSTRLEN + 1];
	const char *port, *end;
	unsigned long p = 0;
	socklen_t sl;
	size_t hl;

	if (!s || !*s || strcmp(s, "off") == 0)
		return 1;
	if (s[0] == '[') {
		end = strchr(s, ']');
		if (!end || end[1] != ':')
			return bad_listen(s, expected, err, err_len);
		host[0] = '\0';
		hl = (size_t)(end - s - 1);
		port = end + 2;
		if (hl >= sizeof(host))
			return bad_listen(s, "not an IPv6 address in the brackets", err, err_len);
		memcpy(host, s + 1, hl);
		host[hl] = '\0';
	} else {
		end = strrchr(s, ':');
		if (!end || end == s)
			return bad_listen(s, expected, err, err_len);
		hl = (size_t)(end - s);
		port = end + 1;
		if (hl >= sizeof(host))
			return bad_listen(s, expected, err, err_len);
		memcpy(host, s, hl);
		host[hl] = '\0';
	}
	if (!*port || strlen(port) > 5)
		return bad_listen(s, "the port must be 1 to 65535", err, err_len);
	for (const char *c = port; *c; c++) {
		if (!isdigit((unsigned char)*c))
			return bad_listen(s, "the port must be 1 to 65535", err, err_len);
		p = p * 10 + (unsigned long)(*c - '0');
	}
	if (p < 1 || p > 65535)
		return bad_listen(s, "the port must be 1 to 65535", err, err_len);

	memset(&ss, 0, sizeof(ss));
	if (s[0] == '[') {
		struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;

		if (inet_pton(AF_INET6, host, &a6->sin6_addr) != 1)
			return bad_listen(s, "not an IPv6 address in the brackets", err, err_len);
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)p);
		sl = sizeof(*a6);
	} else {
		struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;

		if (strcmp(host, "localhost") == 0)
			a4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		else if (inet_pton(AF_INET, host, &a4->sin_addr) != 1)
			return bad_listen(s, strchr(host, ':') ?
				"an IPv6 address goes in brackets: [ADDRESS]:PORT" :
				"the host must be an IPv4 address, localhost or [IPv6 address]",
				err, err_len);
		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)p);
		sl = sizeof(*a4);
	}
	if (addr)
		*addr = ss;
	if (addr_len)
		*addr_len = sl;
	return 0;
}
