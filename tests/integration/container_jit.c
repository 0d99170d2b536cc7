/* Workload for test_container.py: a static program run in a root of its own
 * (chroot), with a JIT frame named only by a perf map inside that root.
 *
 *   /smolder_it_container DECOY_PATH [SECONDS]   (run inside the root)
 *
 * Copies a hand-assembled function into an anonymous mapping it then makes
 * executable, writes DECOY_PATH (an absolute path, inside the root) as a
 * perf map naming that function jit_decoy_inside, and makes
 * /tmp/perf-PID.map (PID: getpid(), the pid this process sees) a symlink to
 * DECOY_PATH. Prints {"event":"ready","pids":[P],"jit_start":A,"jit_size":S}
 * (A in hex, as a string), waits for a line on stdin, calls the JIT code
 * from jit_caller for SECONDS (default 8) of wall time, prints
 * {"event":"done","process_cpu_ns":N} and waits for stdin to close; the
 * files stay (the agent may read the perf map when it drains the last
 * interval), the test removes the root.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "workload.h"

/* push %rbp; mov %rsp,%rbp (a frame, so a frame-pointer unwinder walks on
 * to jit_caller); mov %rdi,%rax; 1: dec %rax; jne 1b; pop %rbp; ret. */
static const unsigned char jit_code[] = {
	0x55, 0x48, 0x89, 0xe5, 0x48, 0x89, 0xf8, 0x48, 0xff, 0xc8,
	0x75, 0xfb, 0x5d, 0xc3, 0xcc, 0xcc,
};

/* ~3 ms a call. */
#define JIT_ROUNDS 10000000

typedef uint64_t (*jit_fn)(uint64_t);

static jit_fn jit_entry;

NOINLINE uint64_t jit_caller(uint64_t n)
{
	uint64_t r = jit_entry(n);

	__asm__ volatile("" ::: "memory");
	return r;
}

static void *jit_load(void)
{
	void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	memcpy(p, jit_code, sizeof(jit_code));
	if (mprotect(p, 4096, PROT_READ | PROT_EXEC) != 0)
		return NULL;
	return p;
}

static int write_perf_map(const char *decoy, const char *link, void *start)
{
	FILE *f = fopen(decoy, "w");

	if (!f)
		return -1;
	fprintf(f, "%" PRIxPTR " %zx jit_decoy_inside\n", (uintptr_t)start, sizeof(jit_code));
	if (fclose(f) != 0)
		return -1;
	unlink(link);
	return symlink(decoy, link);
}

int main(int argc, char **argv)
{
	char link[64];

	if (argc < 2 || argv[1][0] != '/') {
		fprintf(stderr, "usage: %s DECOY_PATH [SECONDS]\n", argv[0]);
		return 2;
	}
	double seconds = seconds_from_args(argc, argv, 2, 8.0);
	void *code = jit_load();

	snprintf(link, sizeof(link), "/tmp/perf-%d.map", (int)getpid());
	if (!code || write_perf_map(argv[1], link, code) != 0) {
		perror("smolder_it_container: JIT code or perf map");
		return 2;
	}
	jit_entry = (jit_fn)code;
	printf("{\"event\":\"ready\",\"pids\":[%d],\"jit_start\":\"%" PRIxPTR "\","
	       "\"jit_size\":%zu,\"perf_map\":\"%s\"}\n",
	       (int)getpid(), (uintptr_t)code, sizeof(jit_code), link);
	fflush(stdout);
	wait_stdin_line();

	uint64_t start = wall_ns();

	while (wall_ns() - start < (uint64_t)(seconds * 1e9))
		jit_caller(JIT_ROUNDS);
	printf("{\"event\":\"done\",\"process_cpu_ns\":%" PRIu64 "}\n", process_cpu_ns());
	fflush(stdout);
	wait_stdin_eof();
	return 0;
}
