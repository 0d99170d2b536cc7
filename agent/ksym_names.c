/* Kernel function names from the kernel (see ksym_names.h). Reading
 * /proc/kallsyms cost some 60 ms of the agent's start (most of it the
 * kernel writing ~120k lines) to name the few hundred functions kernel
 * stacks pass through; asking the kernel for each of those, once, costs a
 * system call each. */
#include "ksym_names.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "ksym.h"
#include "ksym.skel.h"

struct ksym_names {
	struct ksym_bpf *skel;
	int prog_fd;
};

struct ksym_names *ksym_names_new(void)
{
	struct ksym_names *k = calloc(1, sizeof(*k));
	int err;

	if (!k)
		return NULL;
	k->skel = ksym_bpf__open_and_load();
	if (!k->skel) {
		err = errno;
		free(k);
		errno = err;
		return NULL;
	}
	k->prog_fd = bpf_program__fd(k->skel->progs.smolder_ksym_name);
	return k;
}

void ksym_names_free(struct ksym_names *k)
{
	if (!k)
		return;
	ksym_bpf__destroy(k->skel);
	free(k);
}

/* "%ps" writes "function", "function [module]", or, where no symbol holds
 * the address, the address itself ("0x..."), which names nothing. */
int ksym_names_name(void *ctx, uint64_t addr, char *buf, size_t len)
{
	struct ksym_names *k = ctx;
	LIBBPF_OPTS(bpf_test_run_opts, run);
	const char *name = k->skel->bss->name;
	size_t n;

	k->skel->bss->addr = addr;
	k->skel->bss->written = 0;
	if (bpf_prog_test_run_opts(k->prog_fd, &run))
		return -errno;
	if (k->skel->bss->written <= 0 || k->skel->bss->written > SMOLDER_KSYM_NAME_LEN - 1)
		return -ENOENT; /* a failure, or a name cut short */
	n = strcspn(name, " ");
	if (n == 0 || !strncmp(name, "0x", 2) || n >= len)
		return -ENOENT;
	memcpy(buf, name, n);
	buf[n] = '\0';
	return 0;
}
