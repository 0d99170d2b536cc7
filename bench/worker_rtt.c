/* What the parser worker costs per request (bench/worker.sh).
 *
 *   worker_rtt WORKER_EXE FILE NM_LISTING
 *
 * Names every text function's first address of FILE (from `nm -S`) three
 * ways, each in a fresh cache: in this process; through the worker one
 * request per address; through the worker in batches (sym_cache_want and
 * sym_cache_fetch, as an interval's close does). The difference from the
 * in-process time, over the requests made, is the round trip's cost.
 * WORKER_EXE: the agent (it runs the worker when given its argument). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sym.h"

#define BATCH 1024

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static size_t read_addresses(const char *nm, uint64_t **out)
{
	FILE *f = fopen(nm, "r");
	char line[1024], name[512], type;
	uint64_t addr, size, *a = NULL;
	size_t n = 0, cap = 0;

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "%" SCNx64 " %" SCNx64 " %c %511s", &addr, &size, &type, name) == 4 &&
		    (type == 'T' || type == 't') && size) {
			if (n == cap && !(a = realloc(a, (cap = cap ? 2 * cap : 1024) * sizeof(*a))))
				exit(1);
			a[n++] = addr;
		}
	if (f)
		fclose(f);
	*out = a;
	return n;
}

enum mode { IN_PROCESS, ONE_BY_ONE, BATCHED };

static double name_pass(struct sym_cache *c, struct sym_elf *elf, const uint64_t *addrs,
			size_t n, uint64_t shift, enum mode mode, size_t *named)
{
	struct sym_location loc;
	double t0 = now_s();

	*named = 0;
	for (size_t i = 0; i < n; i += BATCH) {
		size_t end = i + BATCH < n ? i + BATCH : n;

		if (mode == BATCHED) {
			for (size_t j = i; j < end; j++)
				sym_cache_want(c, elf, addrs[j] + shift, 1);
			sym_cache_fetch(c);
		}
		for (size_t j = i; j < end; j++)
			*named += sym_elf_resolve(c, elf, addrs[j] + shift, &loc) == 0 && loc.n > 0;
	}
	return now_s() - t0;
}

/* Seconds to name addrs[0..n) of path, the open excluded (into *open_s):
 * cold (the first address of each function: DWARF read as it is needed)
 * into *cold, then warm (the next byte of each: DWARF read already). */
/* The worker's anonymous resident bytes (statm: resident - shared), 0
 * in-process. */
static uint64_t worker_anon(struct sym_worker *w, enum mode mode)
{
	struct sym_worker_stats st;
	unsigned long size, resident, shared;
	char path[64];
	FILE *f;
	int got;

	sym_worker_get_stats(w, &st);
	if (mode == IN_PROCESS || !st.pid)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/statm", st.pid);
	f = fopen(path, "r");
	got = f ? fscanf(f, "%lu %lu %lu", &size, &resident, &shared) : 0;
	if (f)
		fclose(f);
	return got == 3 ? (resident - shared) * 4096ull : 0;
}

static uint64_t cache_bytes(struct sym_cache *c)
{
	struct sym_cache_stats st;

	sym_cache_get_stats(c, &st);
	return st.bytes;
}

static void name_all(struct sym_worker *w, const char *path, const uint64_t *addrs, size_t n,
		     enum mode mode, double *open_s, double *cold, double *warm, size_t *named)
{
	struct sym_cache *c = sym_cache_new(&(struct sym_cache_opts){
		.sz = sizeof(struct sym_cache_opts), .worker = mode == IN_PROCESS ? NULL : w });
	struct sym_elf *elf;
	double t0 = now_s();
	size_t warm_named;

	if (sym_cache_get_elf(c, &(struct sym_file_ref){ .path = path }, &elf)) {
		fprintf(stderr, "cannot read %s\n", path);
		exit(1);
	}
	*open_s = now_s() - t0;
	printf("  cache bytes: open %.1f MiB", cache_bytes(c) / 1048576.0);
	*cold = name_pass(c, elf, addrs, n, 0, mode, named);
	printf(", cold %.1f MiB", cache_bytes(c) / 1048576.0);
	*warm = name_pass(c, elf, addrs, n, 1, mode, &warm_named);
	printf(", warm %.1f MiB; worker anon resident %.1f MiB\n", cache_bytes(c) / 1048576.0,
	       worker_anon(w, mode) / 1048576.0);
	sym_cache_free(c);
}

int main(int argc, char **argv)
{
	static const char *const names[] = { "in-process", "worker, 1 address a request",
					     "worker, batches of 1024" };
	double cold[3], warm[3], open_s[3];
	struct sym_worker *w;
	size_t named[3], n;
	uint64_t *addrs;

	if (argc != 4) {
		fprintf(stderr, "usage: worker_rtt WORKER_EXE FILE NM_LISTING\n");
		return 2;
	}
	n = read_addresses(argv[3], &addrs);
	w = sym_worker_new(&(struct sym_worker_opts){ .sz = sizeof(struct sym_worker_opts),
						      .exe = argv[1], .timeout_ms = 60000 });
	for (int m = 0; m < 3; m++) {
		name_all(w, argv[2], addrs, n, (enum mode)m, &open_s[m], &cold[m], &warm[m],
			 &named[m]);
		printf("%-28s open %6.1f ms; %zu addresses (%zu named): cold %7.1f ms "
		       "(%6.1f us each), warm %6.1f ms (%5.1f us each)\n",
		       names[m], open_s[m] * 1e3, n, named[m], cold[m] * 1e3,
		       cold[m] * 1e6 / (double)n, warm[m] * 1e3, warm[m] * 1e6 / (double)n);
	}
	printf("round trip, warm: %.1f us a request of 1 address; %.0f us a batch of %d "
	       "(%.2f us an address)\n",
	       (warm[ONE_BY_ONE] - warm[IN_PROCESS]) * 1e6 / (double)n,
	       (warm[BATCHED] - warm[IN_PROCESS]) * 1e6 / (double)((n + BATCH - 1) / BATCH), BATCH,
	       (warm[BATCHED] - warm[IN_PROCESS]) * 1e6 / (double)n);
	sym_worker_free(w);
	free(addrs);
	return 0;
}
