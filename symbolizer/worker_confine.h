/* Confines the calling process for good (see worker_confine.c), in two
 * steps. Internal to symbolizer/. */
#ifndef SMOLDER_WORKER_CONFINE_H
#define SMOLDER_WORKER_CONFINE_H

#include <stdbool.h>

/* Every capability set empty, and no_new_privs. While the process has one
 * thread: entering a user namespace (where the bounding set can only be
 * emptied so) is refused to a threaded process. *bounding_kept: the
 * bounding set could not be emptied (no CAP_SETPCAP, no user namespace). */
int sym_worker_drop_privileges(bool *bounding_kept);

/* The seccomp allowlist, on every thread: open, socket, ptrace, kill,
 * capset and execve fail with EPERM from then on. After every descriptor
 * and thread the process needs exists. */
int sym_worker_restrict_calls(void);

#endif
