/* What the kernel's verifier does with each program of a BPF object:
 * processed instructions, states, and verification time, from the log's
 * statistics (log level 4), each program loaded on its own (the others'
 * autoload off), as the agent loads one of each kind. Start-up CPU is
 * mostly this (BENCHMARKS.md, issue 14 item 6).
 *
 *   bench/verifier_stats [-n RUNS] [-s VAR=VALUE]... [-l PROG:FILE] OBJ [PROG]...
 *
 * -s sets a `const volatile` global (.rodata, a __u32) before load, as the
 * agent does (sample.bpf.o: copies_per_sec=200 is its default on 2 CPUs).
 * -n loads each program RUNS times and gives the least verification time
 * (the counts do not change between runs). -l writes PROG's whole log at
 * level 2 (every state) to FILE. Root.
 */
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_SETS 16
#define STATS_LOG_BYTES (1u << 20)
#define FULL_LOG_BYTES ((1u << 30) - 1) /* the kernel's most */

struct rodata_set {
	const char *name;
	unsigned long value;
};

struct load_result {
	int err;
	unsigned long insns, total_states, peak_states, max_states, usec;
};

static int quiet_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_WARN)
		return vfprintf(stderr, fmt, ap);
	return 0;
}

/* Writes value into the .rodata variable name (4 bytes). */
static int set_rodata(struct bpf_object *obj, const char *name, unsigned long value)
{
	struct btf *btf = bpf_object__btf(obj);
	struct bpf_map *map = bpf_object__find_map_by_name(obj, ".rodata");
	const struct btf_var_secinfo *vs;
	const struct btf_type *sec;
	size_t size;
	char *data;
	int id;

	if (!btf || !map)
		return -ENOENT;
	id = btf__find_by_name_kind(btf, ".rodata", BTF_KIND_DATASEC);
	if (id < 0)
		return id;
	sec = btf__type_by_id(btf, id);
	data = (char *)bpf_map__initial_value(map, &size);
	vs = btf_var_secinfos(sec);
	for (int i = 0; i < btf_vlen(sec); i++, vs++) {
		const struct btf_type *var = btf__type_by_id(btf, vs->type);

		if (strcmp(btf__name_by_offset(btf, var->name_off), name))
			continue;
		if (vs->size != 4 || vs->offset + 4 > size)
			return -EINVAL;
		*(__u32 *)(data + vs->offset) = (__u32)value;
		return 0;
	}
	return -ENOENT;
}

static unsigned long after(const char *log, const char *key)
{
	const char *p = strstr(log, key);

	return p ? strtoul(p + strlen(key), NULL, 10) : 0;
}

static int load_one(const char *path, const char *prog_name, const struct rodata_set *sets,
		    int n_sets, const char *full_log, struct load_result *res)
{
	size_t log_size = full_log ? FULL_LOG_BYTES : STATS_LOG_BYTES;
	char *log = calloc(1, log_size);
	struct bpf_object *obj = bpf_object__open_file(path, NULL);
	struct bpf_program *prog, *target = NULL;
	int err;

	memset(res, 0, sizeof(*res));
	if (!log || !obj) {
		err = obj ? -ENOMEM : -errno;
		goto out;
	}
	bpf_object__for_each_program(prog, obj) {
		bool is = !strcmp(bpf_program__name(prog), prog_name);

		bpf_program__set_autoload(prog, is);
		if (is)
			target = prog;
	}
	if (!target) {
		err = -ENOENT;
		goto out;
	}
	for (int i = 0; i < n_sets; i++) {
		err = set_rodata(obj, sets[i].name, sets[i].value);
		if (err) {
			fprintf(stderr, "verifier_stats: setting %s: %s\n", sets[i].name,
				strerror(-err));
			goto out;
		}
	}
	bpf_program__set_log_buf(target, log, log_size);
	bpf_program__set_log_level(target, full_log ? 2 | 4 : 4);
	err = bpf_object__load(obj);
	res->insns = after(log, "processed ");
	res->max_states = after(log, "max_states_per_insn ");
	res->total_states = after(log, "total_states ");
	res->peak_states = after(log, "peak_states ");
	res->usec = after(log, "verification time ");
	if (err && !full_log)
		fputs(log, stderr);
	if (full_log) {
		FILE *f = fopen(full_log, "w");

		if (f) {
			fputs(log, f);
			fclose(f);
		}
	}
out:
	res->err = err;
	bpf_object__close(obj);
	free(log);
	return err;
}

int main(int argc, char **argv)
{
	struct rodata_set sets[MAX_SETS];
	const char *full_prog = NULL, *full_file = NULL;
	int n_sets = 0, runs = 1, opt, status = 0;
	struct bpf_object *obj;
	struct bpf_program *prog;
	const char *path;

	while ((opt = getopt(argc, argv, "n:s:l:")) != -1) {
		char *eq;

		switch (opt) {
		case 'n':
			runs = atoi(optarg);
			break;
		case 's':
			eq = strchr(optarg, '=');
			if (!eq || n_sets == MAX_SETS)
				goto usage;
			*eq = '\0';
			sets[n_sets].name = optarg;
			sets[n_sets++].value = strtoul(eq + 1, NULL, 0);
			break;
		case 'l':
			full_file = strchr(optarg, ':');
			if (!full_file)
				goto usage;
			full_prog = optarg;
			*(char *)full_file++ = '\0';
			break;
		default:
			goto usage;
		}
	}
	if (optind >= argc || runs < 1)
		goto usage;
	path = argv[optind++];
	libbpf_set_print(quiet_print);
	obj = bpf_object__open_file(path, NULL);
	if (!obj) {
		fprintf(stderr, "verifier_stats: opening %s: %s\n", path, strerror(errno));
		return 1;
	}
	printf("%-18s %10s %8s %8s %10s %9s\n", "program", "insns", "states", "peak",
	       "max/insn", "time_ms");
	bpf_object__for_each_program(prog, obj) {
		const char *name = bpf_program__name(prog);
		struct load_result r, best = { .usec = ~0ul };
		bool wanted = optind >= argc;

		for (int i = optind; i < argc; i++)
			wanted |= !strcmp(argv[i], name);
		if (!wanted)
			continue;
		for (int i = 0; i < runs; i++) {
			if (load_one(path, name, sets, n_sets, NULL, &r))
				break;
			if (r.usec < best.usec)
				best = r;
		}
		if (r.err) {
			printf("%-18s load failed: %s\n", name, strerror(-r.err));
			status = 1;
			continue;
		}
		printf("%-18s %10lu %8lu %8lu %10lu %9.1f\n", name, best.insns, best.total_states,
		       best.peak_states, best.max_states, best.usec / 1000.0);
		if (full_prog && !strcmp(full_prog, name))
			load_one(path, name, sets, n_sets, full_file, &r);
	}
	bpf_object__close(obj);
	return status;
usage:
	fprintf(stderr, "usage: verifier_stats [-n RUNS] [-s VAR=VALUE]... [-l PROG:FILE] "
			"OBJ [PROG]...\n");
	return 2;
}
