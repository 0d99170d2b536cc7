/* The parser worker's confinement, set once at its start and never lifted:
 * no capability in any set, no_new_privs, and a seccomp allowlist.
 *
 * The worker parses bytes any process on the node controls, with libelf,
 * libdw, zlib and libiberty; a memory-safety bug in any of them must not
 * be a bug in a process with the agent's privileges. What is left to it
 * is what parsing needs: reading and mapping the descriptors it is given,
 * memory, and its socket. Everything else answers EPERM: opening a path,
 * a socket, ptrace, signals to others, capset, execve.
 *
 * Capabilities: the permitted, effective, inheritable and ambient sets
 * can always be emptied; emptying the bounding set needs CAP_SETPCAP,
 * which root has but the DaemonSet's six capabilities do not. Without
 * it the worker enters a user namespace of its own, where it holds every
 * capability over nothing but that namespace, empties the bounding set
 * there, and then drops the rest. */
#include "worker_confine.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <sched.h>
#include <seccomp.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

static int drop_bounding_set(void)
{
	for (int cap = 0; prctl(PR_CAPBSET_READ, cap, 0, 0, 0) >= 0; cap++)
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0))
			return -errno;
	return 0;
}

/* Where user namespaces are refused too (user.max_user_namespaces=0, an
 * LSM), the bounding set stays as it was: with every other set empty,
 * no_new_privs and execve refused, nothing can raise a capability from
 * it; *bounding_kept says so. */
static int empty_capability_sets(bool *bounding_kept)
{
	struct __user_cap_header_struct head = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2] = { 0 };

	*bounding_kept = false;
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) && errno != EINVAL)
		return -errno;
	if (drop_bounding_set() == -EPERM) {
		if (unshare(CLONE_NEWUSER) == 0) {
			if (drop_bounding_set())
				return -errno;
		} else {
			*bounding_kept = true;
		}
	}
	return syscall(SYS_capset, &head, data) ? -errno : 0;
}

/* The system calls parsing needs; anything else fails with EPERM (not a
 * kill: a library probing for something optional then goes on). */
static const int allowed[] = {
	SCMP_SYS(read), SCMP_SYS(pread64), SCMP_SYS(readv), SCMP_SYS(write), SCMP_SYS(writev),
	SCMP_SYS(lseek), SCMP_SYS(close), SCMP_SYS(fstat), SCMP_SYS(fcntl), SCMP_SYS(dup),
	SCMP_SYS(mmap), SCMP_SYS(munmap), SCMP_SYS(mremap), SCMP_SYS(mprotect), SCMP_SYS(brk),
	SCMP_SYS(madvise), SCMP_SYS(recvmsg), SCMP_SYS(sendmsg), SCMP_SYS(recvfrom),
	SCMP_SYS(sendto), SCMP_SYS(poll), SCMP_SYS(ppoll), SCMP_SYS(futex),
	SCMP_SYS(clock_gettime), SCMP_SYS(clock_nanosleep), SCMP_SYS(nanosleep),
	SCMP_SYS(getpid), SCMP_SYS(gettid), SCMP_SYS(getrandom), SCMP_SYS(sched_yield),
	SCMP_SYS(rt_sigreturn), SCMP_SYS(rt_sigprocmask), SCMP_SYS(sigaltstack),
	SCMP_SYS(exit), SCMP_SYS(exit_group), SCMP_SYS(restart_syscall),
	/* A new thread's first calls, which may come after the filter. */
	SCMP_SYS(rseq), SCMP_SYS(set_robust_list),
};

static int load_seccomp(void)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ERRNO(EPERM));
	int err = ctx ? 0 : -ENOMEM;

	/* Every thread of the process, the memory watch's too. */
	if (!err)
		err = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
	for (size_t i = 0; !err && i < sizeof(allowed) / sizeof(allowed[0]); i++)
		err = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, allowed[i], 0);
	/* glibc's fstat is newfstatat(fd, "", AT_EMPTY_PATH): a descriptor,
	 * never a path. */
	if (!err)
		err = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(newfstatat), 1,
				       SCMP_A3(SCMP_CMP_MASKED_EQ, AT_EMPTY_PATH, AT_EMPTY_PATH));
	if (!err)
		err = seccomp_load(ctx);
	seccomp_release(ctx);
	return err;
}

int sym_worker_drop_privileges(bool *bounding_kept)
{
	int err = empty_capability_sets(bounding_kept);

	if (err)
		return err;
	return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ? -errno : 0;
}

int sym_worker_restrict_calls(void)
{
	return load_seccomp();
}
