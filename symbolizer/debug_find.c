/* Finding a binary's debug file, the way gdb does, for libdwfl.
 *
 * libdwfl's own dwfl_standard_find_debuginfo would do most of this, but it
 * knows nothing of containers, and once DEBUGINFOD_URLS is set (Debian's
 * /etc/profile.d sets it for login shells) it downloads in the caller's
 * thread: the drain would wait on the network. So this callback searches
 * the process's root itself (every path opened with RESOLVE_IN_ROOT, so a
 * container's symlinks stay inside it), hands the host directories to
 * libdwfl's build-id search, and only asks the debuginfod worker.
 *
 * A candidate is taken only if it is what it claims to be: the build-id
 * of a build-id path's file must be the binary's; a debuglink file must
 * have the CRC the binary's .gnu_debuglink gives.
 */
#include <errno.h>
#include <fcntl.h>
#include <libelf.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <elfutils/libdwelf.h>

#include "debuginfo.h"
#include "elf_file.h"
#include "refusals.h"
#include "root_open.h"

#define DEFAULT_DEBUG_DIR "/usr/lib/debug"

char *sym_debuginfo_path(const char *const *debug_dirs)
{
	size_t len = sizeof(DEFAULT_DEBUG_DIR);
	char *path, *p;

	for (size_t i = 0; debug_dirs && debug_dirs[i]; i++)
		len += strlen(debug_dirs[i]) + 1;
	path = malloc(len);
	if (!path)
		return NULL;
	p = path;
	for (size_t i = 0; debug_dirs && debug_dirs[i]; i++)
		p += sprintf(p, "%s:", debug_dirs[i]);
	strcpy(p, DEFAULT_DEBUG_DIR);
	return path;
}

int sym_debuglink_crc(int fd, uint32_t *crc)
{
	unsigned char buf[65536];
	uLong c = crc32(0L, Z_NULL, 0);
	struct stat st;
	off_t off = 0;
	ssize_t n;

	/* Read whole, a candidate costs its size: a sparse file that claims
	 * gigabytes is refused, not read. */
	if (fstat(fd, &st))
		return -errno;
	if ((uint64_t)st.st_size > SYM_DEBUGLINK_CRC_MAX) {
		sym_refusal_count(SYM_REFUSED_DEBUGLINK);
		return -EFBIG;
	}
	while ((n = pread(fd, buf, sizeof(buf), off)) > 0) {
		c = crc32(c, buf, (uInt)n);
		off += n;
	}
	if (n < 0)
		return -errno;
	*crc = (uint32_t)c;
	return 0;
}

static bool build_id_is(int fd, const char *want)
{
	char hex[2 * SYM_BUILD_ID_MAX + 1];
	const unsigned char *bits;
	bool same = false;
	ssize_t len;
	Elf *e;

	elf_version(EV_CURRENT);
	e = elf_begin(fd, ELF_C_READ, NULL);
	if (!e)
		return false;
	len = dwelf_elf_gnu_build_id(e, (const void **)&bits);
	if (len > 0 && len <= SYM_BUILD_ID_MAX) {
		for (ssize_t i = 0; i < len; i++)
			sprintf(hex + 2 * i, "%02x", bits[i]);
		same = !strcmp(hex, want);
	}
	elf_end(e);
	return same;
}

static bool crc_is(int fd, uint32_t want)
{
	uint32_t crc;

	return sym_debuglink_crc(fd, &crc) == 0 && crc == want;
}

/* Opens path inside the process's root (pid > 0) or on the host; only a
 * regular file counts. */
static int open_candidate(const struct sym_debug_search *s, bool in_root,
			  const char *path)
{
	struct stat st;
	int fd;

	if (in_root)
		fd = sym_root_open(s->proc_root, s->pid, path, 0);
	else
		fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		close(fd);
		return -1;
	}
	return fd;
}

static bool format_path(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, len, fmt, ap);
	va_end(ap);
	return n > 0 && (size_t)n < len;
}

/* The fd of a checked candidate, its name in *name (malloc'd, for
 * libdwfl), or -1. */
static int take(int fd, const char *path, char **name)
{
	*name = strdup(path);
	if (!*name) {
		close(fd);
		return -1;
	}
	return fd;
}

static int by_build_id(const struct sym_debug_search *s, bool in_root,
		       const char *dir, const char *build_id, char **name)
{
	char path[PATH_MAX];
	int fd;

	if (strlen(build_id) < 3 ||
	    !format_path(path, sizeof(path), "%s/.build-id/%.2s/%s.debug", dir,
			 build_id, build_id + 2))
		return -1;
	fd = open_candidate(s, in_root, path);
	if (fd < 0)
		return -1;
	if (!build_id_is(fd, build_id)) {
		close(fd);
		return -1;
	}
	return take(fd, path, name);
}

static int by_debuglink_at(const struct sym_debug_search *s, bool in_root,
			   const char *path, uint32_t crc, char **name)
{
	int fd = open_candidate(s, in_root, path);

	if (fd < 0)
		return -1;
	if (!crc_is(fd, crc)) {
		close(fd);
		return -1;
	}
	return take(fd, path, name);
}

/* gdb's places for a debuglink: next to the binary, in .debug/ beside it,
 * and under each debug dir at the binary's directory. */
static int by_debuglink(const struct sym_debug_search *s, bool in_root,
			const char *const *dirs, const char *link, uint32_t crc,
			char **name)
{
	const char *slash = s->path ? strrchr(s->path, '/') : NULL;
	int dirlen = slash ? (int)(slash - s->path) : 0;
	char path[PATH_MAX];
	int fd = -1;

	if (!slash || strchr(link, '/'))
		return -1;
	if (format_path(path, sizeof(path), "%.*s/%s", dirlen, s->path, link))
		fd = by_debuglink_at(s, in_root, path, crc, name);
	if (fd < 0 && format_path(path, sizeof(path), "%.*s/.debug/%s", dirlen, s->path, link))
		fd = by_debuglink_at(s, in_root, path, crc, name);
	for (size_t i = 0; fd < 0 && dirs && dirs[i]; i++)
		if (format_path(path, sizeof(path), "%s%.*s/%s", dirs[i], dirlen, s->path, link))
			fd = by_debuglink_at(s, in_root, path, crc, name);
	return fd;
}

/* The process's own root, when it is not the host's. */
static int in_process_root(const struct sym_debug_search *s, const char *build_id,
			   const char *link, uint32_t crc, char **name)
{
	static const char *const root_dirs[] = { DEFAULT_DEBUG_DIR, NULL };
	int fd = -1;

	if (s->pid <= 0)
		return -1;
	if (build_id)
		fd = by_build_id(s, true, DEFAULT_DEBUG_DIR, build_id, name);
	if (fd < 0 && link)
		fd = by_debuglink(s, true, root_dirs, link, crc, name);
	return fd;
}

static int on_host(Dwfl_Module *mod, void **userdata, const char *modname,
		   Dwarf_Addr base, const char *file_name, const char *link,
		   GElf_Word crc, char **name)
{
	const struct sym_debug_ctx *ctx = *userdata;
	const struct sym_debug_search *s = ctx->search;
	static const char *const host_dirs[] = { DEFAULT_DEBUG_DIR, NULL };
	int fd = -1;

	if (ctx->build_id) {
		fd = dwfl_build_id_find_debuginfo(mod, userdata, modname, base, file_name,
						  link, crc, name);
		if (fd >= 0)
			return fd;
	}
	if (!link)
		return -1;
	/* With a pid, next-to-the-binary was the process's root's business. */
	if (s->pid <= 0)
		fd = by_debuglink(s, false, host_dirs, link, crc, name);
	for (size_t i = 0; fd < 0 && s->debug_dirs && s->debug_dirs[i]; i++) {
		const char *one[] = { s->debug_dirs[i], NULL };
		struct sym_debug_search host = *s;

		host.pid = 0;
		fd = by_debuglink(&host, false, one, link, crc, name);
	}
	return fd;
}

static int from_debuginfod(const struct sym_debug_ctx *ctx, char **name)
{
	char *path = NULL;
	int fd, err;

	if (!ctx->search->debuginfod || !ctx->build_id)
		return -1;
	err = sym_debuginfod_find(ctx->search->debuginfod, ctx->build_id, &path);
	if (err == -EAGAIN)
		return -2;
	if (err)
		return -1;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd >= 0 && !build_id_is(fd, ctx->build_id)) {
		close(fd);
		fd = -1;
	}
	if (fd >= 0)
		*name = path;
	else
		free(path);
	return fd;
}

int sym_debug_find(Dwfl_Module *mod, void **userdata, const char *modname,
		   Dwarf_Addr base, const char *file_name, const char *debuglink_file,
		   GElf_Word debuglink_crc, char **debuginfo_file_name)
{
	struct sym_debug_ctx *ctx = *userdata;
	int fd;

	if (!ctx)
		return -1;
	/* libdwfl asks for a dwz supplementary file with the altlink's name
	 * and no CRC; its build-id search knows that case. */
	if (debuglink_file && debuglink_crc == 0)
		return dwfl_build_id_find_debuginfo(mod, userdata, modname, base, file_name,
						    debuglink_file, debuglink_crc,
						    debuginfo_file_name);
	fd = in_process_root(ctx->search, ctx->build_id, debuglink_file, debuglink_crc,
			     debuginfo_file_name);
	if (fd < 0)
		fd = on_host(mod, userdata, modname, base, file_name, debuglink_file,
			     debuglink_crc, debuginfo_file_name);
	if (fd >= 0) {
		ctx->found = SYM_DEBUG_FILE;
		return fd;
	}
	fd = from_debuginfod(ctx, debuginfo_file_name);
	if (fd >= 0) {
		ctx->found = SYM_DEBUG_DEBUGINFOD;
		return fd;
	}
	ctx->found = fd == -2 ? SYM_DEBUG_PENDING : SYM_DEBUG_NONE;
	return -1;
}
