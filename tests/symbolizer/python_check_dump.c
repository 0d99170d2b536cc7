/* python_check_dump: sym_py_check_layout on a running CPython, for
 * test_python_check.py.
 *
 *   python_check_dump PID MINOR CODE_TYPE RUNTIME
 *
 * Checks the process as smolder's layout of 3.MINOR says, then with that
 * layout spoiled in one way at a time, and prints one line each:
 * "NAME ERR THREADS" (ERR 0 or a negative errno). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "python_code.h"

static void check(int fd, const char *name, uint64_t runtime, const struct sym_py_check *o)
{
	uint32_t threads;
	int err = sym_py_check_layout(fd, runtime, o, &threads);

	printf("%s %d %u\n", name, err, err ? 0 : threads);
}

int main(int argc, char **argv)
{
	const struct sym_py_layout *l;
	struct sym_py_check o, bad;
	uint64_t runtime;
	char path[64];
	int fd;

	if (argc != 5 || !(l = sym_py_layout_find(3, (unsigned int)atoi(argv[2])))) {
		fprintf(stderr, "usage: python_check_dump PID MINOR CODE_TYPE RUNTIME\n");
		return 2;
	}
	snprintf(path, sizeof(path), "/proc/%s/mem", argv[1]);
	fd = open(path, O_RDONLY);
	if (fd < 0) {
		perror(path);
		return 1;
	}
	runtime = strtoull(argv[4], NULL, 0);
	o = (struct sym_py_check){
		.runtime_interp_head = l->walk.runtime_interp_head,
		.interp_tstate_head = l->walk.interp_tstate_head,
		.tstate_next = l->walk.tstate_next,
		.tstate_interp = l->tstate_interp,
		.code_type = strtoull(argv[3], NULL, 0),
		.code_name = l->walk.code_name,
		.code_filename = l->walk.code_filename,
		.code_qualname = l->code_qualname,
		.code_firstlineno = l->walk.code_firstlineno,
		.code_linetable = l->code_linetable,
		.minor = l->minor,
	};
	check(fd, "layout", runtime, &o);
	bad = o;
	bad.code_firstlineno += 4;
	check(fd, "firstlineno", runtime, &bad);
	bad = o;
	bad.code_linetable += 8;
	check(fd, "linetable", runtime, &bad);
	bad = o;
	bad.code_type = o.code_type + 8; /* not a type object's start */
	check(fd, "code_type", runtime, &bad);
	bad = o;
	bad.tstate_interp += 8;
	check(fd, "tstate_interp", runtime, &bad);
	bad = o;
	bad.tstate_next += 8;
	check(fd, "tstate_next", runtime, &bad);
	close(fd);
	return 0;
}
