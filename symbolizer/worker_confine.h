/* Confines the calling process for good (see worker_confine.c): every
 * capability set empty, no_new_privs, a seccomp allowlist under which
 * open, socket, ptrace, kill, capset and execve fail with EPERM. Call it
 * after every descriptor and thread the process needs exists. Internal
 * to symbolizer/. */
#ifndef SMOLDER_WORKER_CONFINE_H
#define SMOLDER_WORKER_CONFINE_H

int sym_worker_confine(void);

#endif
