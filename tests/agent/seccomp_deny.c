/* Runs a command under a seccomp filter that answers EPERM to one system
 * call, as a container runtime's default profile answers bpf() and
 * perf_event_open() to a container without CAP_SYS_ADMIN:
 *
 *   seccomp_deny bpf|perf_event_open COMMAND [ARG]...
 *
 * For test_cli.py: the agent, with every capability it needs, must then
 * say what refused it, not that the kernel is too old. */
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	unsigned int nr;

	if (argc < 3) {
		fprintf(stderr, "usage: seccomp_deny bpf|perf_event_open COMMAND [ARG]...\n");
		return 2;
	}
	if (!strcmp(argv[1], "bpf"))
		nr = SYS_bpf;
	else if (!strcmp(argv[1], "perf_event_open"))
		nr = SYS_perf_event_open;
	else {
		fprintf(stderr, "seccomp_deny: unknown system call %s\n", argv[1]);
		return 2;
	}
	struct sock_filter filter[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, nr, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = sizeof(filter) / sizeof(filter[0]), .filter = filter };

	/* Root installs a filter without no_new_privs; the capabilities stay. */
	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog)) {
		perror("seccomp_deny: PR_SET_SECCOMP");
		return 1;
	}
	execvp(argv[2], argv + 2);
	perror("seccomp_deny: exec");
	return 127;
}
