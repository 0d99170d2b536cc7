/* Helpers shared by the symbolizer's unit tests: check.h's checks (they count
 * failures instead of aborting, so that spawned fixtures are still killed)
 * and CHECK_NAME, and the readers of what binutils and /proc say, where the
 * expectations come from (never from the code under test). */
#ifndef SMOLDER_TEST_SYM_UTIL_H
#define SMOLDER_TEST_SYM_UTIL_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "check.h"

/* err must be 0 and name exactly want; err (the lookup that sets name) is
 * evaluated first. */
#define CHECK_NAME(err, name, want)                                        \
	do {                                                               \
		int check_err_ = (err);                                    \
		test_check_name(__FILE__, __LINE__, #name " == " #want,    \
				check_err_, (name), (want));               \
	} while (0)
void test_check_name(const char *file, int line, const char *cond, int err,
		     const char *name, const char *want);

/* An environment variable the meson test sets (a fixture's path). */
const char *test_env(const char *name);

/* Address of a symbol in `nm` output, 0 when it is not there. */
uint64_t test_nm_addr(const char *nm_file, const char *sym);
/* Build-id from `readelf -n` output into out; -ENOENT when none. */
int test_readelf_build_id(const char *notes_file, char *out, size_t len);

/* A fresh temporary directory, made on first use and removed at exit. */
const char *test_tmpdir(void);
int test_mkdirs(const char *path); /* mkdir -p */
int test_write_file(const char *path, const void *data, size_t len);
/* The first len bytes of src in a new file dst. */
int test_copy_prefix(const char *src, const char *dst, size_t len);

/* One line of /proc/PID/maps. */
struct test_mapping {
	uint64_t start, end, offset, dev, inode;
	char path[PATH_MAX];
};
int test_find_mapping(int pid, uint64_t addr, struct test_mapping *m);

/* A fixture program running, with the addresses it printed. */
#define TEST_PROC_MAX 8
struct test_proc {
	pid_t pid;
	int n;
	char names[TEST_PROC_MAX][64];
	uint64_t addrs[TEST_PROC_MAX];
};
int test_spawn(const char *path, struct test_proc *p);
uint64_t test_proc_addr(const struct test_proc *p, const char *name);
/* Kills and reaps it; also done for every fixture left at exit. */
void test_kill(struct test_proc *p);

#endif
