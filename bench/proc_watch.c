/* What bench/run.sh reads of a running process, from one small reader.
 *
 *   proc_watch memory PID OUT   every 0.2 s until PID exits: the peak of
 *       VmRSS summed over PID and its children, and the peak of their Pss
 *       (smaps_rollup: a page shared by both, or mapped twice, counted
 *       once); "PEAK_RSS_KIB PEAK_PSS_KIB" into OUT.
 *   proc_watch bpf PID OUT      every second until PID exits: run_time_ns
 *       and run_cnt summed over PID's perf_event BPF programs (from the
 *       fdinfo of its program fds, each program once); the last reading
 *       taken while it still had them, "NS CNT" into OUT.
 *
 * One process that reads /proc and sleeps: the shell loops it replaces
 * started some 35 processes a second (ps, cat, awk, bpftool, sleep), churn
 * the agent under test had to discover, map and name and perf did not; a
 * Python reader would have put the interpreter's 22 MB of DWARF in front
 * of the agent (see BENCHMARKS.md, issue 14). A small C program adds only
 * a process that sleeps.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BPF_PROG_TYPE_PERF_EVENT 7
#define MAX_PROGS 64

/* The value of "NAME:" in a /proc file of "key: value" lines; 0 if none. */
static unsigned long long proc_field(const char *path, const char *name)
{
	size_t len = strlen(name);
	unsigned long long v = 0;
	char line[256];
	FILE *f = fopen(path, "re");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, name, len) == 0 && line[len] == ':') {
			v = strtoull(line + len + 1, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

/* Still running: /proc/PID/stat exists and its state is not zombie. */
static int alive(int pid)
{
	char path[64], buf[512], *paren;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	paren = strrchr(buf, ')');
	return paren && paren[1] == ' ' && paren[2] != 'Z';
}

static void add_memory(int pid, unsigned long long *rss, unsigned long long *pss)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	*rss += proc_field(path, "VmRSS");
	snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", pid);
	*pss += proc_field(path, "Pss");
}

/* PID and the children of each of its threads. */
static void memory(int pid, unsigned long long *rss, unsigned long long *pss)
{
	char path[64], kids[4096];
	struct dirent *t;
	DIR *d;

	*rss = *pss = 0;
	add_memory(pid, rss, pss);
	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	d = opendir(path);
	if (!d)
		return;
	while ((t = readdir(d))) {
		char cpath[300], *p, *end;
		size_t n;
		FILE *f;

		if (t->d_name[0] == '.')
			continue;
		snprintf(cpath, sizeof(cpath), "/proc/%d/task/%s/children", pid, t->d_name);
		f = fopen(cpath, "re");
		if (!f)
			continue;
		n = fread(kids, 1, sizeof(kids) - 1, f);
		fclose(f);
		kids[n] = '\0';
		for (p = kids;; p = end) {
			long kid = strtol(p, &end, 10);

			if (end == p)
				break;
			add_memory((int)kid, rss, pss);
		}
	}
	closedir(d);
}

/* Sums over pid's perf_event programs; 0 if it has none (any more). */
static int bpf_stats(int pid, unsigned long long *ns, unsigned long long *cnt)
{
	unsigned long long seen[MAX_PROGS];
	char path[64];
	struct dirent *e;
	int n = 0;
	DIR *d;

	*ns = *cnt = 0;
	snprintf(path, sizeof(path), "/proc/%d/fdinfo", pid);
	d = opendir(path);
	if (!d)
		return 0;
	while ((e = readdir(d)) && n < MAX_PROGS) {
		char info[300];
		unsigned long long id;
		int dup = 0;

		if (e->d_name[0] == '.')
			continue;
		snprintf(info, sizeof(info), "/proc/%d/fdinfo/%s", pid, e->d_name);
		if (proc_field(info, "prog_type") != BPF_PROG_TYPE_PERF_EVENT)
			continue;
		id = proc_field(info, "prog_id");
		for (int i = 0; i < n; i++)
			dup |= seen[i] == id;
		if (dup)
			continue;
		seen[n++] = id;
		*ns += proc_field(info, "run_time_ns");
		*cnt += proc_field(info, "run_cnt");
	}
	closedir(d);
	return n;
}

static void nap(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

int main(int argc, char **argv)
{
	unsigned long long best[2] = { 0, 0 }, a, b;
	int pid, is_memory;
	FILE *out;

	if (argc != 4 || (strcmp(argv[1], "memory") && strcmp(argv[1], "bpf"))) {
		fprintf(stderr, "usage: proc_watch memory|bpf PID OUT\n");
		return 2;
	}
	is_memory = strcmp(argv[1], "memory") == 0;
	pid = atoi(argv[2]);
	while (alive(pid)) {
		if (is_memory) {
			memory(pid, &a, &b);
			best[0] = a > best[0] ? a : best[0];
			best[1] = b > best[1] ? b : best[1];
			nap(200);
		} else {
			if (bpf_stats(pid, &a, &b)) {
				best[0] = a;
				best[1] = b;
			}
			nap(1000);
		}
	}
	out = fopen(argv[3], "we");
	if (!out)
		return 1;
	fprintf(out, "%llu %llu\n", best[0], best[1]);
	return fclose(out) ? 1 : 0;
}
