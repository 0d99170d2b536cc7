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
#include "dwarf_unused.h"
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

bool sym_debug_file_is_safe(int fd)
{
	Elf *e = elf_begin(fd, ELF_C_READ, NULL);
	int err = e ? sym_elf_check_compressed(e, SYM_DECOMPRESSED_MAX) : -ENOEXEC;

	elf_end(e);
	if (err == -EFBIG)
		sym_refusal_count(SYM_REFUSED_COMPRESSED);
	return err == 0;
}

static bool crc_is(int fd, uint32_t want)
{
	uint32_t crc;

	return sym_debuglink_crc(fd, &crc) == 0 && crc == want;
}

/* Opens path inside the process's root (pid > 0) or on the host; only a
 * regular file is opened at all (a device or FIFO planted as a debug file
 * is not). */
static int open_candidate(const struct sym_debug_search *s, bool in_root,
			  const char *path)
{
	struct stat st;
	int fd = sym_root_open_file(s->proc_root, in_root ? s->pid : 0, path, &st);

	return fd < 0 ? -1 : fd;
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

/* One walk over gdb's candidates, in gdb's order; visit is told of each
 * that opens as a regular file and says whether the walk ends there. */
struct candidate_walk {
	const struct sym_debug_search *s;
	const char *build_id; /* hex, or NULL */
	const char *link;     /* .gnu_debuglink name, or NULL */
	bool (*visit)(struct candidate_walk *w, int fd, const char *path,
		      enum sym_debug_candidate_kind kind);
	void *ctx;
};

static bool try_candidate(struct candidate_walk *w, bool in_root, const char *path,
			  enum sym_debug_candidate_kind kind)
{
	int fd = open_candidate(w->s, in_root, path);

	return fd >= 0 && w->visit(w, fd, path, kind);
}

static bool by_build_id(struct candidate_walk *w, bool in_root, const char *dir)
{
	char path[PATH_MAX];

	return w->build_id && strlen(w->build_id) >= 3 &&
	       format_path(path, sizeof(path), "%s/.build-id/%.2s/%s.debug", dir,
			   w->build_id, w->build_id + 2) &&
	       try_candidate(w, in_root, path, SYM_DEBUG_BY_BUILD_ID);
}

/* gdb's places for a debuglink: next to the binary, in .debug/ beside it,
 * and under each debug dir at the binary's directory. */
static bool by_debuglink(struct candidate_walk *w, bool in_root, bool beside,
			 const char *const *dirs)
{
	const char *bin = w->s->path, *slash = bin ? strrchr(bin, '/') : NULL;
	int dirlen = slash ? (int)(slash - bin) : 0;
	const char *link = w->link;
	char path[PATH_MAX];

	if (!link || !slash || strchr(link, '/'))
		return false;
	if (beside && format_path(path, sizeof(path), "%.*s/%s", dirlen, bin, link) &&
	    try_candidate(w, in_root, path, SYM_DEBUG_BY_DEBUGLINK))
		return true;
	if (beside && format_path(path, sizeof(path), "%.*s/.debug/%s", dirlen, bin, link) &&
	    try_candidate(w, in_root, path, SYM_DEBUG_BY_DEBUGLINK))
		return true;
	for (size_t i = 0; dirs && dirs[i]; i++)
		if (format_path(path, sizeof(path), "%s%.*s/%s", dirs[i], dirlen, bin, link) &&
		    try_candidate(w, in_root, path, SYM_DEBUG_BY_DEBUGLINK))
			return true;
	return false;
}

/* The process's own root first (when it is not the host's), then the
 * debug dirs and /usr/lib/debug on the host: by build-id, then by
 * debuglink. With a pid, next-to-the-binary was the root's business. */
static bool walk_candidates(struct candidate_walk *w)
{
	static const char *const default_dirs[] = { DEFAULT_DEBUG_DIR, NULL };
	const char *const *dirs = w->s->debug_dirs;
	bool root = w->s->pid > 0;

	if (root && (by_build_id(w, true, DEFAULT_DEBUG_DIR) ||
		     by_debuglink(w, true, true, default_dirs)))
		return true;
	for (size_t i = 0; dirs && dirs[i]; i++)
		if (by_build_id(w, false, dirs[i]))
			return true;
	if (by_build_id(w, false, DEFAULT_DEBUG_DIR))
		return true;
	if (!root && by_debuglink(w, false, true, default_dirs))
		return true;
	return by_debuglink(w, false, false, dirs);
}

/* ---- in this process: open, check, take the first that is right ---- */

struct found {
	uint32_t crc;
	int fd;
	char **name;
};

static bool candidate_is_right(int fd, const char *build_id, uint32_t crc,
			       enum sym_debug_candidate_kind kind)
{
	if (kind == SYM_DEBUG_BY_DEBUGLINK)
		return crc_is(fd, crc) && sym_debug_file_is_safe(fd);
	return build_id && build_id_is(fd, build_id) && sym_debug_file_is_safe(fd);
}

static bool take_if_right(struct candidate_walk *w, int fd, const char *path,
			  enum sym_debug_candidate_kind kind)
{
	struct found *f = w->ctx;

	if (!candidate_is_right(fd, w->build_id, f->crc, kind) || !(*f->name = strdup(path))) {
		close(fd);
		return false;
	}
	f->fd = fd;
	return true;
}

static int search_here(const struct sym_debug_ctx *ctx, const char *link, uint32_t crc,
		       char **name)
{
	struct found f = { .crc = crc, .fd = -1, .name = name };
	struct candidate_walk w = {
		.s = ctx->search,
		.build_id = ctx->build_id,
		.link = link,
		.visit = take_if_right,
		.ctx = &f,
	};

	walk_candidates(&w);
	return f.fd;
}

static int from_debuginfod(const struct sym_debug_ctx *ctx, char **name)
{
	char *path = NULL;
	int fd, err;

	if (!ctx->search->debuginfod || !ctx->search->debuginfod_find || !ctx->build_id)
		return -1;
	err = ctx->search->debuginfod_find(ctx->search->debuginfod, ctx->build_id, &path);
	if (err == -EAGAIN)
		return -2;
	if (err)
		return -1;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
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

/* ---- in the agent, for the parser worker: open, check nothing ---- */

static bool collect(struct candidate_walk *w, int fd, const char *path,
		    enum sym_debug_candidate_kind kind)
{
	struct sym_debug_candidates *c = w->ctx;

	(void)path;
	c->fds[c->n] = fd;
	c->kinds[c->n++] = kind;
	return c->n == SYM_DEBUG_CANDIDATES_MAX;
}

int sym_debug_open_candidates(const struct sym_debug_search *s, const char *build_id,
			      const char *link, struct sym_debug_candidates *out)
{
	struct candidate_walk w = {
		.s = s,
		.build_id = build_id && build_id[0] ? build_id : NULL,
		.link = link && link[0] ? link : NULL,
		.visit = collect,
		.ctx = out,
	};
	char *path = NULL;
	int err, fd;

	out->n = 0;
	out->pending = false;
	walk_candidates(&w);
	if (!w.build_id || !s->debuginfod || !s->debuginfod_find ||
	    out->n == SYM_DEBUG_CANDIDATES_MAX)
		return 0;
	err = s->debuginfod_find(s->debuginfod, w.build_id, &path);
	out->pending = err == -EAGAIN;
	if (err)
		return 0;
	fd = open_candidate(s, false, path);
	free(path);
	if (fd >= 0) {
		out->fds[out->n] = fd;
		out->kinds[out->n++] = SYM_DEBUG_FROM_DEBUGINFOD;
	}
	return 0;
}

void sym_debug_candidates_close(struct sym_debug_candidates *c)
{
	for (size_t i = 0; i < c->n; i++)
		close(c->fds[i]);
	c->n = 0;
}

/* ---- in the parser worker: the agent's candidates, checked here ---- */

static int from_agent(struct sym_debug_ctx *ctx, const char *link, uint32_t crc,
		      char **name)
{
	const struct sym_debug_search *s = ctx->search;
	struct sym_debug_candidates c = { 0 };
	int fd = -1;

	if (s->candidates(s->candidates_ctx, ctx->build_id, link, &c))
		return -1;
	for (size_t i = 0; i < c.n; i++) {
		if (fd < 0 && candidate_is_right(c.fds[i], ctx->build_id, crc, c.kinds[i]) &&
		    (*name = strdup("debug"))) {
			fd = c.fds[i];
			ctx->found = c.kinds[i] == SYM_DEBUG_FROM_DEBUGINFOD ? SYM_DEBUG_DEBUGINFOD
									   : SYM_DEBUG_FILE;
			continue;
		}
		close(c.fds[i]);
	}
	if (fd < 0)
		ctx->found = c.pending ? SYM_DEBUG_PENDING : SYM_DEBUG_NONE;
	return fd;
}

static int find_debug_file(Dwfl_Module *mod, void **userdata, const char *modname,
			   Dwarf_Addr base, const char *file_name, const char *debuglink_file,
			   GElf_Word debuglink_crc, char **debuginfo_file_name)
{
	struct sym_debug_ctx *ctx = *userdata;
	int fd;

	if (!ctx)
		return -1;
	/* libdwfl asks for a dwz supplementary file with the altlink's name
	 * and no CRC; its build-id search knows that case. Not in the
	 * worker, which opens no path. */
	if (debuglink_file && debuglink_crc == 0)
		return ctx->search->candidates
			       ? -1
			       : dwfl_build_id_find_debuginfo(mod, userdata, modname, base,
							      file_name, debuglink_file,
							      debuglink_crc, debuginfo_file_name);
	if (ctx->search->candidates)
		return from_agent(ctx, debuglink_file, debuglink_crc, debuginfo_file_name);
	fd = search_here(ctx, debuglink_file, debuglink_crc, debuginfo_file_name);
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

/* The file found is the one libdw opens next: its location lists stay
 * compressed (dwarf_unused.c). */
int sym_debug_find(Dwfl_Module *mod, void **userdata, const char *modname,
		   Dwarf_Addr base, const char *file_name, const char *debuglink_file,
		   GElf_Word debuglink_crc, char **debuginfo_file_name)
{
	int fd = find_debug_file(mod, userdata, modname, base, file_name, debuglink_file,
				 debuglink_crc, debuginfo_file_name);

	if (fd >= 0)
		sym_dwarf_unused_note(fd);
	return fd;
}
