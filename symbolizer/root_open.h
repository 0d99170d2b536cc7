/* Opening a file of a process as the process itself would, inside its root
 * (its container's file system), never the host's. Internal to symbolizer/.
 *
 * Paths are absolute, as the process sees them. Every open adds
 * O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY (a FIFO or tty planted at
 * the path cannot block us or become our terminal) to the flags given.
 * Errors are negative errno values. */
#ifndef SMOLDER_ROOT_OPEN_H
#define SMOLDER_ROOT_OPEN_H

#include <stdint.h>
#include <sys/stat.h>

/* An O_PATH directory fd on <proc_root>/<pid>/root (proc_root NULL:
 * /proc), for opening several files of one process with sym_root_openat.
 * -EINVAL for pid <= 0. */
int sym_root_dirfd(const char *proc_root, int pid);

/* Opens path under rootfd (from sym_root_dirfd) with openat2(2) and
 * RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS: "..", absolute symlinks and
 * absolute paths all stay inside that root, and /proc magic links (which
 * lead anywhere) are refused (-ELOOP). -EINVAL when path is not absolute;
 * -ENOSYS on kernels before 5.6 (or a seccomp filter that hides openat2):
 * there is no safe way then, and no file is opened. */
int sym_root_openat(int rootfd, const char *path, int flags);

/* sym_root_dirfd and sym_root_openat in one: an fd or -errno. pid 0 means
 * the host: path is opened as it is. */
int sym_root_open(const char *proc_root, int pid, const char *path, int flags);

/* Opens path (relative to dirfd, as openat(2) does) for reading, only if it
 * is a regular file: it is first reached with O_PATH, which opens nothing,
 * and fstat'ed; a directory, FIFO, socket or device is -ENOEXEC and is
 * never opened (no device's open runs, no FIFO blocks). A regular file is
 * then reopened through /proc/self/fd (our own /proc must be mounted) and
 * must be the same dev/ino (else -ESTALE). resolve: openat2(2)'s RESOLVE_*
 * flags (0: plain openat, no openat2 needed), e.g. RESOLVE_IN_ROOT |
 * RESOLVE_NO_MAGICLINKS with a root from sym_root_dirfd. *st is what fstat
 * says of the file opened. An fd or -errno. */
int sym_open_regular(int dirfd, const char *path, uint64_t resolve, struct stat *st);

/* sym_open_regular inside the root of process pid, by sym_root_openat's
 * rules (pid 0: the host, path as it is). */
int sym_root_open_file(const char *proc_root, int pid, const char *path,
		       struct stat *st);

#endif
