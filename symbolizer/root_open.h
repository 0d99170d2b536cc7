/* Opening a file of a process as the process itself would, inside its root
 * (its container's file system), never the host's. Internal to symbolizer/.
 *
 * Paths are absolute, as the process sees them. Every open adds
 * O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY (a FIFO or tty planted at
 * the path cannot block us or become our terminal) to the flags given.
 * Errors are negative errno values. */
#ifndef SMOLDER_ROOT_OPEN_H
#define SMOLDER_ROOT_OPEN_H

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

/* sym_root_open for a file to be read: it must be a regular file (a
 * directory, FIFO or device is -ENOEXEC, and is never opened: only looked
 * at through O_PATH), and *st is what fstat says of the file opened.
 * The file is reopened through /proc/self/fd: our own /proc must be
 * mounted, whatever proc_root says. */
int sym_root_open_file(const char *proc_root, int pid, const char *path,
		       struct stat *st);

#endif
