/* The parser worker: the process that reads what other processes' files
 * say (ELF symbols, DWARF, .gopclntab, demangling, unwind tables), so that
 * the agent never does (see sym.h, sym_worker).
 *
 * Perf maps (a JIT's /tmp/perf-PID.map) are parsed here too, their tables
 * sent back whole.
 *
 * The agent starts it by executing its own executable again
 * (SYM_WORKER_ARGV1), with its end of a socket as descriptor 3. It
 * confines itself before it reads a byte (worker_confine.c), and from then
 * on can open nothing: every file comes as a descriptor the agent opened.
 * It answers one request at a time (proto/worker.proto) and keeps the
 * files it was asked to open until the agent says to forget them.
 *
 * Its memory is its own to bound: a thread reads /proc/self/statm (opened
 * before the confinement) every few milliseconds and ends the process when
 * its anonymous resident memory passes the cap it was given, so a
 * decompression bomb or a table that claims gigabytes ends here, with
 * status SYM_WORKER_EXIT_MEMORY, not in the memory cgroup's OOM killer,
 * which might pick the agent. The agent restarts it and sets the file
 * aside. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/capability.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <linux/types.h>

#include "content_id.h"
#include "debuginfo.h"
#include "elf_file.h"
#include "hashtab.h"
#include "perf_map.h"
#include "python_code.h"
#include "refusals.h"
#include "resolve.h"
#include "sym.h"
#include "unwind.h"
#include "worker_confine.h"
#include "worker_python.h"
#include "worker_wire.h"

#define WORKER_SOCK 3
#define WATCH_INTERVAL_NS (5 * 1000000L)
/* Frames of one address: a deeper inlined chain keeps its innermost. */
#define LOCATION_FRAMES_MAX 32
/* Addresses in one Resolve: the agent asks for fewer. */
#define RESOLVE_MAX 4096

struct worker_file {
	struct sym_hnode node;
	uint64_t handle;
	struct sym_elf *elf;
};

/* What fstat said of a file, for the content id hashed at a peek. */
struct stat_key {
	uint64_t dev, ino, size, mtime_sec, mtime_nsec, ctime_sec, ctime_nsec;
};

struct worker {
	int sock;
	uint64_t request_id; /* of the request being answered */
	struct sym_htab files;
	/* The content id of the last file peeked at, and what fstat said of
	 * it before it was hashed: the open that follows takes it instead of
	 * hashing the file again, unless the file has changed since (a write
	 * moves its mtime and ctime). */
	struct stat_key peeked;
	char peeked_id[SYM_CONTENT_ID_LEN + 1];
};

/* ---- memory ---- */

static int statm_fd = -1;
static size_t memory_cap;

#ifdef __SANITIZE_ADDRESS__
/* LeakSanitizer's check at exit stops the process's threads with ptrace,
 * which the confinement refuses: in the worker (only there) it is off. */
static bool in_worker;
int __lsan_is_turned_off(void);
int __lsan_is_turned_off(void)
{
	return in_worker;
}
#define MARK_WORKER() (in_worker = true)
#else
#define MARK_WORKER() ((void)0)
#endif

/* Anonymous resident bytes: resident minus file-backed (a mapped file's
 * pages are page cache, not ours). */
static size_t anon_resident(void)
{
	char buf[128];
	unsigned long size, resident, shared;
	ssize_t n = pread(statm_fd, buf, sizeof(buf) - 1, 0);

	if (n <= 0)
		return 0;
	buf[n] = '\0';
	if (sscanf(buf, "%lu %lu %lu", &size, &resident, &shared) != 3 || resident < shared)
		return 0;
	return (resident - shared) * (size_t)sysconf(_SC_PAGESIZE);
}

/* The worker's memory grows only while it serves a request: the watcher
 * looks every WATCH_INTERVAL_NS then, and waits for the next request in
 * between. Looking all the time, 200 times a second, was most of an idle
 * worker's CPU (and most of the agent's on a host whose processes' files
 * were all read). */
static pthread_mutex_t serving_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t serving_changed = PTHREAD_COND_INITIALIZER;
static bool serving;

static void set_serving(bool on)
{
	pthread_mutex_lock(&serving_lock);
	serving = on;
	if (on)
		pthread_cond_signal(&serving_changed);
	pthread_mutex_unlock(&serving_lock);
}

static void wait_for_serving(void)
{
	pthread_mutex_lock(&serving_lock);
	while (!serving)
		pthread_cond_wait(&serving_changed, &serving_lock);
	pthread_mutex_unlock(&serving_lock);
}

static void *watch_memory(void *started)
{
	struct timespec tick = { .tv_nsec = WATCH_INTERVAL_NS };

	/* Running: what starting a thread does (a sanitizer's setup reads
	 * /proc/self/maps) is done before the filter comes. */
	pthread_barrier_wait(started);
	for (;;) {
		wait_for_serving();
		if (anon_resident() > memory_cap) {
			static const char msg[] = "smolder parser worker: over its memory cap\n";

			if (write(STDERR_FILENO, msg, sizeof(msg) - 1) < 0) {
				/* nothing more to say */
			}
			_exit(SYM_WORKER_EXIT_MEMORY);
		}
		clock_nanosleep(CLOCK_MONOTONIC, 0, &tick, NULL);
	}
	return NULL;
}

/* ---- files ---- */

static bool handle_eq(const struct sym_hnode *n, const void *key)
{
	return ((const struct worker_file *)n)->handle == *(const uint64_t *)key;
}

static uint64_t handle_hash(uint64_t handle)
{
	return sym_hash_bytes(&handle, sizeof(handle), SYM_HASH_INIT);
}

static struct worker_file *find_file(struct worker *w, uint64_t handle)
{
	return (struct worker_file *)sym_htab_find(&w->files, handle_hash(handle), handle_eq,
						   &handle);
}

static bool drop_handle(struct sym_hnode *n, void *ctx)
{
	struct worker_file *f = (struct worker_file *)n;

	if (ctx && f->handle != *(const uint64_t *)ctx)
		return false;
	sym_elf_free(f->elf);
	free(f);
	return true;
}

/* ---- content ids ---- */

static bool stat_key_of(int fd, struct stat_key *k)
{
	struct stat st;

	if (fstat(fd, &st))
		return false;
	*k = (struct stat_key){
		.dev = st.st_dev, .ino = st.st_ino, .size = (uint64_t)st.st_size,
		.mtime_sec = (uint64_t)st.st_mtim.tv_sec, .mtime_nsec = (uint64_t)st.st_mtim.tv_nsec,
		.ctime_sec = (uint64_t)st.st_ctim.tv_sec, .ctime_nsec = (uint64_t)st.st_ctim.tv_nsec,
	};
	return true;
}

/* The content id of the file at fd, hashed at the peek or now. */
static void content_id_of(struct worker *w, int fd, char *out)
{
	struct stat_key k;

	if (w->peeked_id[0] && stat_key_of(fd, &k) && !memcmp(&k, &w->peeked, sizeof(k)))
		strcpy(out, w->peeked_id);
	else
		sym_content_id_fd(fd, out); /* "" when it cannot be had */
	w->peeked_id[0] = '\0';
}

/* Hashes the file at fd for a peek, and keeps the id for the open. */
static void peek_content_id(struct worker *w, int fd, char *out)
{
	w->peeked_id[0] = '\0';
	if (!stat_key_of(fd, &w->peeked))
		return;
	sym_content_id_fd(fd, out);
	strcpy(w->peeked_id, out);
}

/* ---- replies ---- */

static int reply(struct worker *w, sym_wire_msg *m)
{
	m->id = w->request_id;
	return sym_wire_send(w->sock, m, NULL, 0, 0);
}

/* The agent's candidates for a debug file, asked for in the middle of an
 * open (sym_debug_search.candidates). */
static int ask_agent(void *ctx, const char *build_id, const char *debuglink,
		     struct sym_debug_candidates *out)
{
	struct worker *w = ctx;
	Smolder__Worker__DebugQuery q = SMOLDER__WORKER__DEBUG_QUERY__INIT;
	sym_wire_msg m = SMOLDER__WORKER__WORKER_MESSAGE__INIT, *answer = NULL;
	int fds[SYM_WIRE_MAX_FDS];
	size_t nfds = 0;
	int err;

	q.build_id = (char *)(build_id ? build_id : "");
	q.debuglink = (char *)(debuglink ? debuglink : "");
	m.body_case = SMOLDER__WORKER__WORKER_MESSAGE__BODY_DEBUG_QUERY;
	m.debug_query = &q;
	err = reply(w, &m);
	if (!err)
		err = sym_wire_recv(w->sock, 0, 0, &answer, fds, &nfds);
	if (err)
		return err;
	out->n = 0;
	if (answer->body_case != SMOLDER__WORKER__WORKER_MESSAGE__BODY_DEBUG_FDS ||
	    answer->debug_fds->n_kinds != nfds || nfds > SYM_DEBUG_CANDIDATES_MAX) {
		for (size_t i = 0; i < nfds; i++)
			close(fds[i]);
		sym_wire_free(answer);
		return -EPROTO;
	}
	for (size_t i = 0; i < nfds; i++) {
		out->fds[i] = fds[i];
		out->kinds[i] = (enum sym_debug_candidate_kind)answer->debug_fds->kinds[i];
	}
	out->n = nfds;
	out->pending = answer->debug_fds->pending;
	sym_wire_free(answer);
	return 0;
}

/* se's interpreter into py (its arrays point into se), r->python then. */
static void describe_python(const struct sym_elf *se, Smolder__Worker__OpenReply *r,
			    Smolder__Worker__PythonFile *py, uint64_t starts[2], uint64_t ends[2],
			    Smolder__Worker__PythonDebugOffsets *debug)
{
	const struct sym_py_file *f = sym_elf_python(se);

	if (!f)
		return;
	py->runtime = f->runtime;
	py->code_type = f->code_type;
	py->unicode_type = f->unicode_type;
	py->bytes_type = f->bytes_type;
	py->version = f->version;
	for (uint32_t i = 0; i < f->n_eval && i < 2; i++) {
		starts[i] = f->eval[i][0];
		ends[i] = f->eval[i][1];
	}
	py->n_eval_starts = py->n_eval_ends = f->n_eval < 2 ? f->n_eval : 2;
	py->eval_starts = starts;
	py->eval_ends = ends;
	if (f->has_debug_offsets) {
		worker_python_debug_fill(&f->debug_offsets, debug);
		py->debug_offsets = debug;
	}
	r->python = py;
}

static void describe(const struct sym_elf *se, Smolder__Worker__OpenReply *r,
		     Smolder__Worker__Load *loads, Smolder__Worker__Load **load_ptrs)
{
	r->build_id = (char *)se->build_id;
	r->content_id = (char *)se->content_id;
	for (size_t i = 0; i < se->nloads; i++) {
		smolder__worker__load__init(&loads[i]);
		loads[i].offset = se->loads[i].offset;
		loads[i].filesz = se->loads[i].filesz;
		loads[i].vaddr = se->loads[i].vaddr;
		load_ptrs[i] = &loads[i];
	}
	r->n_loads = se->nloads;
	r->loads = load_ptrs;
	r->has_dwarf = sym_elf_has_dwarf(se);
	r->debug_source = (uint32_t)sym_dwarf_source(se->dwarf);
	r->unwind_rows.data = (uint8_t *)se->unwind.rows;
	r->unwind_rows.len = se->unwind.n * sizeof(*se->unwind.rows);
	r->unsupported_rows = se->unwind.unsupported_rows;
	r->skipped_fdes = se->unwind.skipped_fdes;
}

static int send_open_reply(struct worker *w, const struct sym_elf *se, int error,
			   bool corrupt, size_t bytes)
{
	Smolder__Worker__OpenReply r = SMOLDER__WORKER__OPEN_REPLY__INIT;
	sym_wire_msg m = SMOLDER__WORKER__WORKER_MESSAGE__INIT;
	Smolder__Worker__Load *loads = NULL, **load_ptrs = NULL;
	Smolder__Worker__PythonFile py = SMOLDER__WORKER__PYTHON_FILE__INIT;
	Smolder__Worker__PythonDebugOffsets debug = SMOLDER__WORKER__PYTHON_DEBUG_OFFSETS__INIT;
	uint64_t eval_starts[2], eval_ends[2];
	struct sym_refusal_stats refused;
	int err;

	sym_refusals_get_stats(&refused);
	r.refusals = refused.count;
	r.n_refusals = SYM_REFUSED__COUNT;
	r.error = error;
	r.corrupt = corrupt;
	r.bytes = bytes;
	if (se && se->nloads) {
		loads = calloc(se->nloads, sizeof(*loads));
		load_ptrs = calloc(se->nloads, sizeof(*load_ptrs));
		if (!loads || !load_ptrs)
			r.error = -ENOMEM;
	}
	if (se && !r.error) {
		describe(se, &r, loads, load_ptrs);
		describe_python(se, &r, &py, eval_starts, eval_ends, &debug);
	}
	m.body_case = SMOLDER__WORKER__WORKER_MESSAGE__BODY_OPEN_REPLY;
	m.open_reply = &r;
	err = reply(w, &m);
	free(loads);
	free(load_ptrs);
	return err;
}

/* ---- requests ---- */

static int open_file(struct worker *w, const Smolder__Worker__OpenFile *req, int fd)
{
	struct sym_debug_search search = {
		.pid = req->pid,
		.path = req->path && req->path[0] ? req->path : NULL,
		.candidates = ask_agent,
		.candidates_ctx = w,
	};
	size_t before = sym_heap_in_use(), now, bytes, rows;
	struct worker_file *f;
	struct sym_elf *se;
	bool corrupt;
	int err;

	if (fd < 0)
		return send_open_reply(w, NULL, -EBADF, false, 0);
	if (find_file(w, req->handle)) {
		uint64_t handle = req->handle;

		sym_htab_drop_if(&w->files, drop_handle, &handle);
	}
	err = req->skip_unwind ? sym_elf_read_fd_no_unwind(fd, &se) : sym_elf_read_fd(fd, &se);
	if (err)
		return send_open_reply(w, NULL, err, err == -ENOEXEC, 0);
	/* "" when it cannot be had: the file then shares with no other. */
	content_id_of(w, fd, se->content_id);
	/* Without DWARF state the symbol tables still name the file. */
	err = sym_dwarf_open(fd, se->build_id[0] ? se->build_id : NULL, &search, &se->dwarf);
	corrupt = err == -ENOEXEC;
	f = calloc(1, sizeof(*f));
	if (!f) {
		sym_elf_free(se);
		return send_open_reply(w, NULL, -ENOMEM, false, 0);
	}
	f->handle = req->handle;
	f->elf = se;
	f->node.hash = handle_hash(req->handle);
	if (sym_htab_add(&w->files, &f->node)) {
		free(f);
		sym_elf_free(se);
		return send_open_reply(w, NULL, -ENOMEM, false, 0);
	}
	/* What the file costs here once its unwind table, which the agent
	 * holds from now on, is let go: measured, libelf and libdw allocate
	 * behind our back (an open is rare and dear, the measure is not). The
	 * table's rows are let go whole: their allocation, which grew by
	 * doubling, and its chunk header. */
	now = sym_heap_in_use();
	bytes = now > before ? now - before : 0;
	rows = se->unwind.rows ? malloc_usable_size(se->unwind.rows) + sizeof(size_t) : 0;
	err = send_open_reply(w, se, 0, corrupt, bytes > rows ? bytes - rows : 0);
	sym_unwind_table_release(&se->unwind);
	return err;
}

static void fill_location(const struct sym_location *loc, Smolder__Worker__Location *out,
			  Smolder__Worker__Frame *frames, Smolder__Worker__Frame **ptrs)
{
	size_t n = loc->n < LOCATION_FRAMES_MAX ? loc->n : LOCATION_FRAMES_MAX;

	smolder__worker__location__init(out);
	for (size_t i = 0; i < n; i++) {
		const struct sym_frame *f = &loc->frames[i];

		smolder__worker__frame__init(&frames[i]);
		frames[i].name = (char *)(f->name ? f->name : "");
		frames[i].system_name = (char *)(f->system_name ? f->system_name : "");
		frames[i].file = (char *)(f->file ? f->file : "");
		frames[i].line = f->line;
		frames[i].start_line = f->start_line;
		ptrs[i] = &frames[i];
	}
	out->frames = ptrs;
	out->n_frames = n;
	out->from_dwarf = loc->from_dwarf;
}

static int send_resolve_reply(struct worker *w, int error, Smolder__Worker__Location **locs,
			      size_t n, size_t bytes)
{
	Smolder__Worker__ResolveReply r = SMOLDER__WORKER__RESOLVE_REPLY__INIT;
	sym_wire_msg m = SMOLDER__WORKER__WORKER_MESSAGE__INIT;

	r.error = error;
	r.locations = locs;
	r.n_locations = n;
	r.bytes = bytes;
	m.body_case = SMOLDER__WORKER__WORKER_MESSAGE__BODY_RESOLVE_REPLY;
	m.resolve_reply = &r;
	return reply(w, &m);
}

/* The answers point into the file's cache of resolved addresses, which
 * is dropped once they are sent: the agent keeps them (and counts them).
 * What stays here is what libdw read to find them (dwarf.c). */
static int resolve(struct worker *w, const Smolder__Worker__Resolve *req)
{
	struct worker_file *f = find_file(w, req->handle);
	size_t n = req->n_vaddrs, grown, answers = 0;
	Smolder__Worker__Location *locs = NULL, **loc_ptrs = NULL;
	Smolder__Worker__Frame *frames = NULL, **frame_ptrs = NULL;
	int err = 0;

	if (!f)
		return send_resolve_reply(w, -ENOENT, NULL, 0, 0);
	if (n > RESOLVE_MAX)
		return send_resolve_reply(w, -E2BIG, NULL, 0, 0);
	locs = calloc(n ? n : 1, sizeof(*locs));
	loc_ptrs = calloc(n ? n : 1, sizeof(*loc_ptrs));
	frames = calloc(n * LOCATION_FRAMES_MAX + 1, sizeof(*frames));
	frame_ptrs = calloc(n * LOCATION_FRAMES_MAX + 1, sizeof(*frame_ptrs));
	if (!locs || !loc_ptrs || !frames || !frame_ptrs)
		err = -ENOMEM;
	/* What libdw reads and keeps for them is measured (dwarf.c); the
	 * answers are not kept here. */
	sym_dwarf_begin(f->elf->dwarf);
	for (size_t i = 0; !err && i < n; i++) {
		struct sym_location loc = { 0 };
		size_t added;

		if (sym_elf_resolve_address(f->elf, req->vaddrs[i], &loc, &added))
			loc.n = 0;
		if (sym_dwarf_growing(f->elf->dwarf))
			answers += added;
		fill_location(&loc, &locs[i], frames + i * LOCATION_FRAMES_MAX,
			      frame_ptrs + i * LOCATION_FRAMES_MAX);
		loc_ptrs[i] = &locs[i];
	}
	grown = sym_dwarf_end(f->elf->dwarf, answers);
	err = send_resolve_reply(w, err, err ? NULL : loc_ptrs, err ? 0 : n, grown);
	sym_elf_forget_addresses(f->elf);
	free(locs);
	free(loc_ptrs);
	free(frames);
	free(frame_ptrs);
	return err;
}

static void forget(struct worker *w, const Smolder__Worker__Forget *req)
{
	for (size_t i = 0; i < req->n_handles; i++)
		sym_htab_drop_if(&w->files, drop_handle, &req->handles[i]);
	malloc_trim(0);
}

static int attach_debug(struct worker *w, const Smolder__Worker__AttachDebug *req, int fd)
{
	Smolder__Worker__AttachReply r = SMOLDER__WORKER__ATTACH_REPLY__INIT;
	sym_wire_msg m = SMOLDER__WORKER__WORKER_MESSAGE__INIT;
	struct worker_file *f = find_file(w, req->handle);
	struct sym_dwarf *d;

	r.error = !f ? -ENOENT : fd < 0 ? -EBADF : sym_dwarf_open_debug_fd(fd, &d);
	if (!r.error) {
		sym_elf_forget_addresses(f->elf);
		sym_dwarf_free(f->elf->dwarf);
		f->elf->dwarf = d;
		r.has_dwarf = sym_elf_has_dwarf(f->elf);
	}
	m.body_case = SMOLDER__WORKER__WORKER_MESSAGE__BODY_ATTACH_REPLY;
	m.attach_reply = &r;
	return reply(w, &m);
}

static int peek_build_id(struct worker *w, int fd)
{
	Smolder__Worker__PeekReply r = SMOLDER__WORKER__PEEK_REPLY__INIT;
	sym_wire_msg m = SMOLDER__WORKER__WORKER_MESSAGE__INIT;
	char hex[2 * SYM_BUILD_ID_MAX + 1] = "", content[SYM_CONTENT_ID_LEN + 1] = "";

	w->peeked_id[0] = '\0';
	r.error = fd < 0 ? -EBADF : sym_elf_peek_build_id(fd, hex);
	/* Only for a file with a build-id: the agent shares no other. */
	if (!r.error && hex[0])
		peek_content_id(w, fd, content);
	r.build_id = hex;
	r.content_id = content;
	m.body_case = SMOLDER__WORKER__WORKER_MESSAGE__BODY_PEEK_REPLY;
	m.peek_reply = &r;
	return reply(w, &m);
}

/* A JIT's perf map: parsed here, its table sent. */
static int perf_map(struct worker *w, int fd)
{
	Smolder__Worker__PerfMapReply r = SMOLDER__WORKER__PERF_MAP_REPLY__INIT;
	sym_wire_msg m = SMOLDER__WORKER__WORKER_MESSAGE__INIT;
	struct sym_perf_map *map = NULL;
	struct sym_perf_map_table t;
	uint64_t *starts = NULL, *ends = NULL;
	uint32_t *offs = NULL;
	struct stat st;
	size_t n;
	int err;

	r.error = fd < 0 ? -EBADF : fstat(fd, &st) ? -errno : sym_perf_map_read_fd(fd, &st, &map);
	n = sym_perf_map_ranges(map);
	if (!r.error) {
		starts = malloc((n ? n : 1) * sizeof(*starts));
		ends = malloc((n ? n : 1) * sizeof(*ends));
		offs = malloc((n ? n : 1) * sizeof(*offs));
		if (!starts || !ends || !offs)
			r.error = -ENOMEM;
	}
	if (!r.error) {
		sym_perf_map_export(map, starts, ends, offs, &t);
		r.starts = starts;
		r.n_starts = n;
		r.ends = ends;
		r.n_ends = n;
		r.name_offsets = offs;
		r.n_name_offsets = n;
		r.names.data = (uint8_t *)t.names;
		r.names.len = t.names_len;
		r.lines = t.lines;
		r.bad_lines = t.bad_lines;
		r.dropped = t.dropped;
	}
	m.body_case = SMOLDER__WORKER__WORKER_MESSAGE__BODY_PERF_MAP_REPLY;
	m.perf_map_reply = &r;
	err = reply(w, &m);
	free(starts);
	free(ends);
	free(offs);
	sym_perf_map_free(map);
	return err;
}

/* A Python process's code objects, read from its memory. */
static int python_codes(struct worker *w, const Smolder__Worker__PythonCodes *req, int fd)
{
	sym_wire_msg m = SMOLDER__WORKER__WORKER_MESSAGE__INIT;
	Smolder__Worker__PythonCodesReply *r = NULL;
	int err = worker_python_reply(req, fd, &r);

	if (err && r) {
		worker_python_reply_free(r);
		r = NULL;
	}
	if (!r) {
		Smolder__Worker__PythonCodesReply none = SMOLDER__WORKER__PYTHON_CODES_REPLY__INIT;

		none.error = err ? err : -ENOMEM;
		m.body_case = SMOLDER__WORKER__WORKER_MESSAGE__BODY_PYTHON_CODES_REPLY;
		m.python_codes_reply = &none;
		return reply(w, &m);
	}
	m.body_case = SMOLDER__WORKER__WORKER_MESSAGE__BODY_PYTHON_CODES_REPLY;
	m.python_codes_reply = r;
	err = reply(w, &m);
	worker_python_reply_free(r);
	return err;
}

/* A Python process's thread list, checked against its memory. */
static int python_check(struct worker *w, const Smolder__Worker__PythonCheck *req, int fd)
{
	Smolder__Worker__PythonCheckReply r = SMOLDER__WORKER__PYTHON_CHECK_REPLY__INIT;
	sym_wire_msg m = SMOLDER__WORKER__WORKER_MESSAGE__INIT;
	struct sym_py_check o = {
		.runtime_interp_head = (uint16_t)req->runtime_interp_head,
		.interp_tstate_head = (uint16_t)req->interp_tstate_head,
		.tstate_next = (uint16_t)req->tstate_next,
		.tstate_interp = (uint16_t)req->tstate_interp,
		.code_type = req->code_type,
		.code_name = (uint16_t)req->code_name,
		.code_filename = (uint16_t)req->code_filename,
		.code_qualname = (uint16_t)req->code_qualname,
		.code_firstlineno = (uint16_t)req->code_firstlineno,
		.code_linetable = (uint16_t)req->code_linetable,
		.minor = req->minor,
	};

	r.error = fd < 0 ? -EBADF : sym_py_check_layout(fd, req->runtime, &o, &r.threads);
	m.body_case = SMOLDER__WORKER__WORKER_MESSAGE__BODY_PYTHON_CHECK_REPLY;
	m.python_check_reply = &r;
	return reply(w, &m);
}

/* Where a file's function table puts the names asked for: its table
 * stays here, the agent gets one address a name. */
static int find_functions(struct worker *w, const Smolder__Worker__FindFunctions *req)
{
	Smolder__Worker__FunctionsReply r = SMOLDER__WORKER__FUNCTIONS_REPLY__INIT;
	sym_wire_msg m = SMOLDER__WORKER__WORKER_MESSAGE__INIT;
	struct worker_file *f = find_file(w, req->handle);
	size_t n = req->n_names;
	uint64_t *vaddrs = calloc(n ? n : 1, sizeof(*vaddrs));
	int err;

	r.error = !f ? -ENOENT : !vaddrs ? -ENOMEM
		  : sym_elf_find_functions(f->elf, (const char *const *)req->names, n, vaddrs);
	if (!r.error) {
		r.vaddrs = vaddrs;
		r.n_vaddrs = n;
	}
	m.body_case = SMOLDER__WORKER__WORKER_MESSAGE__BODY_FUNCTIONS_REPLY;
	m.functions_reply = &r;
	err = reply(w, &m);
	free(vaddrs);
	return err;
}

/* One request; descriptors not taken are closed by the caller. */
static int serve(struct worker *w, const sym_wire_msg *m, int *fds, size_t nfds)
{
	int fd = nfds ? fds[0] : -1;

	w->request_id = m->id;
	switch (m->body_case) {
	case SMOLDER__WORKER__WORKER_MESSAGE__BODY_OPEN:
		return open_file(w, m->open, fd);
	case SMOLDER__WORKER__WORKER_MESSAGE__BODY_RESOLVE:
		return resolve(w, m->resolve);
	case SMOLDER__WORKER__WORKER_MESSAGE__BODY_PERF_MAP:
		return perf_map(w, fd);
	case SMOLDER__WORKER__WORKER_MESSAGE__BODY_PEEK:
		return peek_build_id(w, fd);
	case SMOLDER__WORKER__WORKER_MESSAGE__BODY_PYTHON_CODES:
		return python_codes(w, m->python_codes, fd);
	case SMOLDER__WORKER__WORKER_MESSAGE__BODY_PYTHON_CHECK:
		return python_check(w, m->python_check, fd);
	case SMOLDER__WORKER__WORKER_MESSAGE__BODY_FIND_FUNCTIONS:
		return find_functions(w, m->find_functions);
	case SMOLDER__WORKER__WORKER_MESSAGE__BODY_FORGET:
		forget(w, m->forget);
		return 0;
	case SMOLDER__WORKER__WORKER_MESSAGE__BODY_ATTACH_DEBUG: {
		int err = attach_debug(w, m->attach_debug, fd);

		/* libdwfl took the descriptor, or it was closed. */
		fds[0] = -1;
		return err;
	}
	default:
		return -EPROTO;
	}
}

static int serve_forever(struct worker *w)
{
	for (;;) {
		int fds[SYM_WIRE_MAX_FDS];
		sym_wire_msg *m;
		size_t nfds;
		int err = sym_wire_recv(w->sock, 0, 0, &m, fds, &nfds);

		if (err)
			return err == -EPIPE ? 0 : 1; /* the agent is gone, or talks nonsense */
		set_serving(true);
		err = serve(w, m, fds, nfds);
		for (size_t i = 0; i < nfds; i++)
			if (fds[i] >= 0)
				close(fds[i]);
		sym_wire_free(m);
		set_serving(false);
		if (err)
			return 1;
	}
}

/* --self-test: what the confinement refuses, one "call errno" line each,
 * for tests to read: the worker's own calls, made after it is confined. */
static int self_test(void)
{
	long r;

#define TRY(name, call)                                                          \
	do {                                                                     \
		errno = 0;                                                       \
		r = (long)(call);                                                \
		printf("%s %s\n", name, r < 0 ? strerrorname_np(errno) : "allowed"); \
	} while (0)
	TRY("open", open("/etc/hostname", O_RDONLY));
	TRY("openat", openat(AT_FDCWD, "/etc/hostname", O_RDONLY));
	TRY("socket", socket(AF_INET, SOCK_STREAM, 0));
	TRY("ptrace", ptrace(PTRACE_ATTACH, getppid(), NULL, NULL));
	TRY("kill", kill(getppid(), 0));
	TRY("capset", syscall(SYS_capset, NULL, NULL));
	TRY("execve", execve("/bin/true", (char *[]){ "true", NULL }, (char *[]){ NULL }));
#undef TRY
	fflush(stdout);
	return 0;
}

int sym_worker_main(int argc, char **argv)
{
	struct worker w = { .sock = WORKER_SOCK };
	bool test = argc > 3 && !strcmp(argv[3], "--self-test");
	pthread_barrier_t started;
	bool bounding_kept;
	pthread_t watcher;
	int err;

	MARK_WORKER();
	memory_cap = argc > 2 ? strtoull(argv[2], NULL, 10) : 0;
	if (!memory_cap)
		memory_cap = SYM_WORKER_DEFAULT_MEMORY_CAP;
	err = sym_worker_drop_privileges(&bounding_kept);
	if (err) {
		fprintf(stderr, "smolder parser worker: cannot drop its privileges: %s\n",
			strerror(-err));
		return 1;
	}
	if (bounding_kept)
		fprintf(stderr, "smolder parser worker: its capability bounding set stays (no "
			"CAP_SETPCAP, no user namespace); every other set is empty\n");
	statm_fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
	if (statm_fd < 0 || pthread_barrier_init(&started, NULL, 2) ||
	    pthread_create(&watcher, NULL, watch_memory, &started)) {
		fprintf(stderr, "smolder parser worker: cannot watch its memory: %s\n",
			strerror(errno));
		return 1;
	}
	pthread_barrier_wait(&started);
	/* libelf's version check and OpenSSL's digest (its configuration
	 * is a file), before anything could refuse them. */
	elf_version(EV_CURRENT);
	err = sym_content_id_init();
	if (err) {
		fprintf(stderr, "smolder parser worker: no SHA-256 from libcrypto\n");
		return 1;
	}
	err = sym_worker_restrict_calls();
	if (err) {
		fprintf(stderr, "smolder parser worker: cannot confine itself: %s\n",
			strerror(-err));
		return 1;
	}
	if (test)
		return self_test();
	err = serve_forever(&w);
	sym_htab_drop_if(&w.files, drop_handle, NULL);
	sym_htab_release(&w.files);
	return err;
}
