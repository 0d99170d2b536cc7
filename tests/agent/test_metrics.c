/* Unit tests of the agent's Prometheus text (agent/metrics.c): every
 * counter of the table once, as smolder_<name>_total or, a gauge,
 * smolder_<name>, its HELP and TYPE before its sample, valid names, the
 * totals as values; and the --http-listen forms taken and refused. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "metrics.h"

#define MAX_FAMILIES (CTR__COUNT + 8)

struct family {
	char name[128];
	char type[16];
	bool help, typed;
	int samples;
	char value[64];  /* the last sample's */
	char labels[128];
};

static bool valid_name(const char *s, size_t n)
{
	if (!n)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';

		if (!alpha && !(i && c >= '0' && c <= '9'))
			return false;
	}
	return true;
}

static struct family *find(struct family *f, int n, const char *name, size_t len)
{
	for (int i = 0; i < n; i++)
		if (strlen(f[i].name) == len && !memcmp(f[i].name, name, len))
			return &f[i];
	return NULL;
}

/* A small parser of the exposition text: every line a comment, a HELP or
 * TYPE (HELP then TYPE, once each, before the family's samples) or a
 * sample of a family already typed. Returns the families found. */
static int parse(char *text, struct family *fam)
{
	int n = 0, line_no = 0;

	for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
		line_no++;
		if (!strncmp(line, "# HELP ", 7) || !strncmp(line, "# TYPE ", 7)) {
			bool help = line[2] == 'H';
			char *name = line + 7, *sp = strchr(name, ' ');
			struct family *f;

			CHECK(sp != NULL, "line %d: %s without text", line_no, line);
			if (!sp)
				continue;
			CHECK(valid_name(name, (size_t)(sp - name)), "line %d: bad name", line_no);
			f = find(fam, n, name, (size_t)(sp - name));
			if (!f) {
				CHECK(n < MAX_FAMILIES, "too many families");
				if (n >= MAX_FAMILIES)
					return n;
				f = &fam[n++];
				snprintf(f->name, sizeof(f->name), "%.*s", (int)(sp - name), name);
			}
			CHECK(f->samples == 0, "line %d: %s after %s's samples", line_no, line, f->name);
			if (help) {
				CHECK(!f->help && !f->typed, "line %d: HELP of %s twice or after TYPE",
				      line_no, f->name);
				f->help = true;
			} else {
				CHECK(!f->typed, "line %d: TYPE of %s twice", line_no, f->name);
				CHECK(!strcmp(sp + 1, "counter") || !strcmp(sp + 1, "gauge"),
				      "line %d: type %s", line_no, sp + 1);
				f->typed = true;
				snprintf(f->type, sizeof(f->type), "%s", sp + 1);
			}
			continue;
		}
		if (line[0] == '#')
			continue;
		size_t nl = strcspn(line, "{ ");
		struct family *f = find(fam, n, line, nl);
		char *rest = line + nl;

		CHECK(valid_name(line, nl), "line %d: bad sample name: %s", line_no, line);
		CHECK(f && f->typed, "line %d: sample of a family without TYPE: %s", line_no, line);
		if (!f)
			continue;
		f->labels[0] = '\0';
		if (*rest == '{') {
			char *close = strchr(rest, '}');

			CHECK(close != NULL, "line %d: labels not closed", line_no);
			if (!close)
				continue;
			snprintf(f->labels, sizeof(f->labels), "%.*s", (int)(close - rest + 1), rest);
			rest = close + 1;
		}
		CHECK(*rest == ' ', "line %d: no value", line_no);
		char *end;
		strtod(rest + 1, &end);
		CHECK(end != rest + 1 && *end == '\0', "line %d: bad value '%s'", line_no, rest + 1);
		snprintf(f->value, sizeof(f->value), "%s", rest + 1);
		f->samples++;
	}
	return n;
}

static void test_format(void)
{
	struct family fam[MAX_FAMILIES];
	struct metrics_process proc = { .resident_bytes = 12345678, .cpu_seconds = 1.5 };
	uint64_t totals[CTR__COUNT];
	char name[128], want[32];
	size_t len = 0;
	char *text;
	int n;

	for (int i = 0; i < CTR__COUNT; i++)
		totals[i] = 1000 + (uint64_t)i;
	totals[CTR_SAMPLES_TAKEN] = 18446744073709551615ull;
	text = metrics_format(totals, &proc, 12.5, "1.2.3", &len);
	CHECK(text != NULL);
	if (!text)
		return;
	CHECK_INT(len, strlen(text));
	CHECK(len && text[len - 1] == '\n', "the text ends with a line feed");
	memset(fam, 0, sizeof(fam));
	n = parse(text, fam);
	CHECK_INT(n, CTR__COUNT + 4);
	for (int i = 0; i < CTR__COUNT; i++) {
		struct family *f;

		CHECK_INT(metrics_name(i, name, sizeof(name)), 0);
		f = find(fam, n, name, strlen(name));
		CHECK(f != NULL, "no %s", name);
		if (!f)
			continue;
		CHECK(f->help && f->typed, "%s: HELP and TYPE", name);
		CHECK_INT(f->samples, 1);
		CHECK_STR(f->type, counter_defs[i].is_gauge ? "gauge" : "counter");
		CHECK_STR(f->labels, "");
		snprintf(want, sizeof(want), "%llu", (unsigned long long)totals[i]);
		CHECK_STR(f->value, want);
		if (counter_defs[i].is_gauge)
			CHECK(strncmp(name, "smolder_", 8) == 0 && strcmp(name + 8, counter_defs[i].name) == 0,
			      "gauge name %s", name);
		else
			CHECK(strlen(name) > 6 && strcmp(name + strlen(name) - 6, "_total") == 0,
			      "counter name %s", name);
	}
	CHECK(find(fam, n, "smolder_samples_taken_total", 27) != NULL);
	CHECK(find(fam, n, "smolder_processes_tracked", 25) != NULL);

	struct family *f = find(fam, n, "smolder_process_resident_memory_bytes", 37);
	CHECK(f && !strcmp(f->type, "gauge") && !strcmp(f->value, "12345678"), "resident memory");
	f = find(fam, n, "smolder_process_cpu_seconds_total", 33);
	CHECK(f && !strcmp(f->type, "counter") && strtod(f->value, NULL) == 1.5, "cpu seconds");
	f = find(fam, n, "smolder_last_interval_age_seconds", 33);
	CHECK(f && !strcmp(f->type, "gauge") && strtod(f->value, NULL) == 12.5, "last interval age");
	f = find(fam, n, "smolder_build_info", 18);
	CHECK(f && !strcmp(f->type, "gauge") && !strcmp(f->value, "1"), "build_info");
	if (f)
		CHECK_STR(f->labels, "{version=\"1.2.3\"}");
	free(text);

	/* Without process metrics or age; a version that needs escaping. */
	text = metrics_format(totals, NULL, -1, "a\"b\\c", &len);
	CHECK(text != NULL);
	if (!text)
		return;
	CHECK(strstr(text, "process_resident") == NULL);
	CHECK(strstr(text, "TYPE smolder_last_interval_age") == NULL);
	CHECK(strstr(text, "smolder_build_info{version=\"a\\\"b\\\\c\"} 1\n") != NULL, "%s", text);
	free(text);
}

static void test_process(void)
{
	struct metrics_process p;

	CHECK_INT(metrics_process_read(&p), 0);
	CHECK(p.resident_bytes > 0);
	CHECK(p.cpu_seconds >= 0);
}

static void test_listen(void)
{
	static const struct { const char *in; int family; const char *addr; int port; } good[] = {
		{ "127.0.0.1:4100", AF_INET, "127.0.0.1", 4100 },
		{ "0.0.0.0:1", AF_INET, "0.0.0.0", 1 },
		{ "localhost:65535", AF_INET, "127.0.0.1", 65535 },
		{ "10.1.2.3:08080", AF_INET, "10.1.2.3", 8080 },
		{ "[::1]:4100", AF_INET6, "::1", 4100 },
		{ "[::]:9100", AF_INET6, "::", 9100 },
		{ "[fd00::1:2]:80", AF_INET6, "fd00::1:2", 80 },
	};
	static const char *const bad[] = {
		"4100", ":4100", "127.0.0.1", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:65536",
		"127.0.0.1:99999999999999999999", "127.0.0.1:-1", "127.0.0.1:+80", "127.0.0.1: 80",
		"127.0.0.1:80x", "127.1:80", "256.0.0.1:80", "example.com:80", "::1:4100",
		"[::1]", "[::1]4100", "[::1:4100", "[127.0.0.1]:80", "[]:80", "[fe80::1%eth0]:80",
		" 127.0.0.1:80", "localhost:http", "OFF", "none",
	};
	struct sockaddr_storage ss;
	socklen_t sl;
	char err[256], buf[INET6_ADDRSTRLEN];

	CHECK_INT(metrics_parse_listen("", &ss, &sl, err, sizeof(err)), 1);
	CHECK_INT(metrics_parse_listen("off", &ss, &sl, err, sizeof(err)), 1);
	CHECK_INT(metrics_parse_listen(NULL, &ss, &sl, err, sizeof(err)), 1);
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		int r = metrics_parse_listen(good[i].in, &ss, &sl, err, sizeof(err));

		CHECK(r == 0, "'%s' refused: %s", good[i].in, err);
		if (r)
			continue;
		CHECK_INT(ss.ss_family, good[i].family);
		if (good[i].family == AF_INET) {
			struct sockaddr_in *a = (struct sockaddr_in *)&ss;

			CHECK_INT(sl, sizeof(*a));
			inet_ntop(AF_INET, &a->sin_addr, buf, sizeof(buf));
			CHECK_INT(ntohs(a->sin_port), good[i].port);
		} else {
			struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

			CHECK_INT(sl, sizeof(*a));
			inet_ntop(AF_INET6, &a->sin6_addr, buf, sizeof(buf));
			CHECK_INT(ntohs(a->sin6_port), good[i].port);
		}
		CHECK_STR(buf, good[i].addr);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		CHECK(metrics_parse_listen(bad[i], &ss, &sl, err, sizeof(err)) == -EINVAL,
		      "'%s' taken", bad[i]);
		CHECK(strncmp(err, "--http-listen: bad value '", 26) == 0 && !strchr(err, '\n'),
		      "'%s': reason '%s'", bad[i], err);
	}
}

int main(void)
{
	test_format();
	test_process();
	test_listen();
	return check_report("metrics");
}
