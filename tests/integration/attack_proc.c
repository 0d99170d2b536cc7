/* The hostile processes of test_attack_proc.py: what they make the agent
 * read is not a file of theirs but what /proc and /tmp say about them.
 *
 *   smolder_it_attack_proc perfmap N MIB      (N JIT-like spinners)
 *   smolder_it_attack_proc maps N DIR         (N processes, the first spins)
 *   smolder_it_attack_proc fakestack DIR      (one spinner)
 *
 * perfmap: each of N children spins in anonymous executable memory and
 *   writes /tmp/perf-PID.map of about MIB MiB: distinct ranges with long
 *   names, one of them covering the code it runs; it appends a line every
 *   half second, as a JIT does, so the agent sees the file change.
 * maps: each of N children maps a page of two files with long paths (made
 *   under DIR) in turn, as many times as vm.max_map_count lets it (no two
 *   neighbours merge): /proc/PID/maps of about 56 MB. The first child then
 *   spins in attack_proc_spin, the others sleep.
 * fakestack: maps 20000 such pages, then spins in anonymous executable
 *   code whose frame pointer points at a chain of 64 fake frames, their
 *   return addresses random and new on every call (every ~0.3 ms): each
 *   sample is a new stack full of addresses in no mapping.
 *
 * Prints {"event":"ready","pids":[P...]} once every child is set up, and
 * runs until killed (the test kills the process group). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "workload.h"

#define MAX_CHILDREN 16
#define PATH_PART 200
#define FAKE_FRAMES 64

volatile uint64_t sink;

NOINLINE uint64_t attack_proc_spin(uint64_t n)
{
	KEEP_FRAME();
	return store_sink(&sink, xorshift_rounds(sink | 1, n));
}

/* push %rbp; mov %rdi,%rbp; mov %rsi,%rax; 1: dec %rax; jne 1b; pop %rbp;
 * ret: runs %rsi rounds with the frame pointer at %rdi. */
static const unsigned char fp_code[] = {
	0x55, 0x48, 0x89, 0xfd, 0x48, 0x89, 0xf0, 0x48, 0xff, 0xc8,
	0x75, 0xfb, 0x5d, 0xc3,
};
/* 1: jmp 1b */
static const unsigned char spin_code[] = { 0xeb, 0xfe };

static void *exec_copy(const void *code, size_t len)
{
	void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	memcpy(p, code, len);
	if (mprotect(p, 4096, PROT_READ | PROT_EXEC))
		return NULL;
	return p;
}

static void die(const char *what)
{
	perror(what);
	_exit(2);
}

/* DIR/aaa.../bbb.../ccc.../ddd.../{0,1}: two one-page files whose paths are
 * about 800 bytes long. */
static void long_paths(const char *dir, char paths[2][1024])
{
	char path[1024 - 8];
	size_t len = (size_t)snprintf(path, sizeof(path), "%s", dir);

	if (len + 4 * (PATH_PART + 1) >= sizeof(path)) {
		fprintf(stderr, "%s: too long a directory\n", dir);
		_exit(2);
	}
	for (int part = 0; part < 4; part++) {
		path[len++] = '/';
		memset(path + len, 'a' + part, PATH_PART);
		len += PATH_PART;
		path[len] = '\0';
		if (mkdir(path, 0755) && errno != EEXIST)
			die("mkdir");
	}
	for (int i = 0; i < 2; i++) {
		int fd;

		snprintf(paths[i], sizeof(paths[i]), "%s/%d", path, i);
		fd = open(paths[i], O_RDWR | O_CREAT, 0644);
		if (fd < 0 || ftruncate(fd, 4096))
			die(paths[i]);
		close(fd);
	}
}

/* Up to max pages of the two files in turn, each at offset 0: no mapping
 * can merge with its neighbour. Stops where the kernel says no more. */
static void many_mappings(const char *dir, long max)
{
	char paths[2][1024];
	int fd[2];
	char *area;

	long_paths(dir, paths);
	for (int i = 0; i < 2; i++)
		if ((fd[i] = open(paths[i], O_RDONLY)) < 0)
			die(paths[i]);
	area = mmap(NULL, (size_t)max * 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS |
		    MAP_NORESERVE, -1, 0);
	if (area == MAP_FAILED)
		die("mmap");
	for (long i = 0; i < max; i++)
		if (mmap(area + i * 4096, 4096, PROT_READ, MAP_SHARED | MAP_FIXED,
			 fd[i & 1], 0) == MAP_FAILED)
			break;
}

static void perfmap_child(size_t bytes)
{
	void *code = exec_copy(spin_code, sizeof(spin_code));
	char path[64], name[128];
	uint64_t base = 0x10000000000ULL;
	size_t written = 0;
	FILE *f;

	if (!code)
		die("mmap");
	snprintf(path, sizeof(path), "/tmp/perf-%d.map", (int)getpid());
	f = fopen(path, "w");
	if (!f)
		die(path);
	memset(name, 'j', 100);
	name[100] = '\0';
	fprintf(f, "%" PRIxPTR " 10 attack_jit_spin\n", (uintptr_t)code);
	for (uint64_t i = 0; written < bytes; i++) {
		int n = fprintf(f, "%" PRIx64 " 10 jit_%08" PRIu64 "_%s\n", base + i * 16, i, name);

		if (n < 0)
			die(path);
		written += (size_t)n;
	}
	fflush(f);
	if (fork() == 0) {
		/* the JIT goes on emitting code */
		for (uint64_t i = 0;; i++) {
			fprintf(f, "%" PRIx64 " 10 jit_late_%" PRIu64 "\n", base - (i + 1) * 16, i);
			fflush(f);
			usleep(500000);
		}
	}
	((void (*)(void))code)();
}

static void fakestack_child(const char *dir)
{
	uint64_t (*fn)(uint64_t *, uint64_t) = exec_copy(fp_code, sizeof(fp_code));
	uint64_t chain[2 * FAKE_FRAMES + 2];
	uint64_t x = 0x9E3779B97F4A7C15ULL;

	if (!fn)
		die("mmap");
	many_mappings(dir, 20000);
	for (;;) {
		for (int i = 0; i < FAKE_FRAMES; i++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			/* saved frame pointer, then return address */
			chain[2 * i] = i + 1 < FAKE_FRAMES ? (uint64_t)(uintptr_t)&chain[2 * i + 2] : 0;
			chain[2 * i + 1] = 0x1000 + x % 0x7ffffffff000ULL;
		}
		fn(chain, 1000000);
	}
}

static pid_t start_child(const char *mode, int i, const char *arg)
{
	int ready[2];
	pid_t pid;
	char c;

	if (pipe(ready))
		die("pipe");
	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		close(ready[0]);
		if (!strcmp(mode, "maps"))
			many_mappings(arg, 1L << 20);
		if (!strcmp(mode, "perfmap")) {
			if (write(ready[1], "r", 1) != 1)
				_exit(2);
			perfmap_child((size_t)atol(arg) << 20);
		}
		if (!strcmp(mode, "fakestack")) {
			if (write(ready[1], "r", 1) != 1)
				_exit(2);
			fakestack_child(arg);
		}
		if (write(ready[1], "r", 1) != 1)
			_exit(2);
		if (i == 0)
			for (;;)
				attack_proc_spin(1 << 20);
		for (;;)
			pause();
	}
	close(ready[1]);
	if (read(ready[0], &c, 1) != 1) {
		fprintf(stderr, "%s: child %d failed\n", mode, i);
		exit(2);
	}
	close(ready[0]);
	return pid;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";
	int n = !strcmp(mode, "fakestack") ? 1 : argc > 2 ? atoi(argv[2]) : 0;
	const char *arg = argv[argc - 1];
	pid_t pids[MAX_CHILDREN];

	if ((strcmp(mode, "perfmap") && strcmp(mode, "maps") && strcmp(mode, "fakestack")) ||
	    argc != (n == 1 && !strcmp(mode, "fakestack") ? 3 : 4) || n < 1 || n > MAX_CHILDREN) {
		fprintf(stderr, "usage: %s perfmap N MIB | maps N DIR | fakestack DIR\n", argv[0]);
		return 2;
	}
	for (int i = 0; i < n; i++)
		pids[i] = start_child(mode, i, arg);
	printf("{\"event\":\"ready\",\"pids\":[");
	for (int i = 0; i < n; i++)
		printf("%s%d", i ? "," : "", (int)pids[i]);
	printf("]}\n");
	fflush(stdout);
	for (;;)
		pause();
}
