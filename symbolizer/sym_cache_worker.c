/* The symbol cache's files read by the parser worker (sym.h, sym_worker):
 * the agent opens each file and the worker reads it; what it answers (a
 * file's build-id, segments and unwind table; an address's frames) is
 * kept here as a sym_elf with no tables of its own. Its build-id and
 * content id come first (a peek), so that a file the cache holds already,
 * the same build-id and the same bytes, is not read twice; and so that a
 * table the table cache on disk holds for those bytes is not built again
 * (table_cache.h). One request is outstanding at a time; one not answered
 * by the caller's deadline stays outstanding and is taken at the next call. A file the worker died or
 * hung on is set aside (quarantined). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "elf_file.h"
#include "perf_map.h"
#include "python_code.h"
#include "worker_python.h"
#include "remote_elf.h"
#include "resolve.h"
#include "sym_cache_internal.h"
#include "table_cache.h"
#include "unwind.h"
#include "worker_client.h"

/* How long a file the parser worker died or hung on is set aside: long
 * enough that a hostile file costs a restart every few minutes at most,
 * short enough that one unlucky kill is forgotten. */
#define QUARANTINE_NS (10ULL * 60ULL * 1000000000ULL)
/* What one call may wait for the worker when no deadline is set (the
 * unwind loader's, between intervals): a large library's table is built
 * in a fraction of it. */
#define CALL_BUDGET_NS (2ULL * 1000000000ULL)
/* Addresses in one request for names: a few hundred kilobytes of answer. */
#define FETCH_BATCH 1024
/* What arrivals from debuginfod may take of the worker at a trim. */
#define ARRIVALS_BUDGET_NS (500ULL * 1000000ULL)

static uint64_t handle_hash(uint64_t handle)
{
	return sym_hash_bytes(&handle, sizeof(handle), SYM_HASH_INIT);
}

static bool remote_eq(const struct sym_hnode *n, const void *key)
{
	return ((const struct remote_entry *)n)->handle == *(const uint64_t *)key;
}

static struct remote_entry *find_remote(const struct sym_cache *c, uint64_t handle)
{
	return (struct remote_entry *)sym_htab_find(&c->remotes, handle_hash(handle), remote_eq,
						    &handle);
}

static int add_remote(struct sym_cache *c, struct sym_elf *elf, const struct file_id *id,
		      const char *path)
{
	struct remote_entry *re = malloc(sizeof(*re) + strlen(path) + 1);

	if (!re)
		return -ENOMEM;
	*re = (struct remote_entry){
		.node.hash = handle_hash(elf->remote_handle),
		.handle = elf->remote_handle,
		.elf = elf,
		.id = *id,
	};
	strcpy(re->path, path);
	if (sym_htab_add(&c->remotes, &re->node)) {
		free(re);
		return -ENOMEM;
	}
	return 0;
}

bool sym_cache_drop_remote_of(struct sym_hnode *n, void *ctx)
{
	if (((struct remote_entry *)n)->elf != ctx)
		return false;
	free(n);
	return true;
}

static bool quarantine_eq(const struct sym_hnode *n, const void *key)
{
	return !memcmp(&((const struct quarantine_entry *)n)->id, key, sizeof(struct file_id));
}

bool sym_cache_free_quarantine_entry(struct sym_hnode *n, void *ctx)
{
	struct quarantine_entry *q = (struct quarantine_entry *)n;

	if (ctx && q->until_ns > *(const uint64_t *)ctx)
		return false;
	sym_elf_free(q->stub);
	free(q);
	return true;
}

/* The stub of a file set aside, or NULL when it is not (any more). */
static struct sym_elf *quarantined(const struct sym_cache *c, const struct file_id *id)
{
	struct quarantine_entry *q = (struct quarantine_entry *)sym_htab_find(
		&c->quarantine, sym_hash_bytes(id, sizeof(*id), SYM_HASH_INIT), quarantine_eq, id);

	return q && sym_cache_now_ns() < q->until_ns ? q->stub : NULL;
}

/* Sets the file aside: keyed by what fstat said of it, never by its
 * build-id, which a hostile file can copy from a good one. */
static struct sym_elf *quarantine(struct sym_cache *c, const struct file_id *id, const char *path,
				  const char *build_id)
{
	struct quarantine_entry *q = calloc(1, sizeof(*q));
	struct sym_elf *stub = calloc(1, sizeof(*stub));

	c->stats.quarantined++;
	snprintf(c->stats.last_quarantine, sizeof(c->stats.last_quarantine), "%s: worker %s",
		 path, sym_worker_last_death(c->worker));
	if (!q || !stub)
		goto fail;
	if (build_id)
		snprintf(stub->build_id, sizeof(stub->build_id), "%s", build_id);
	*q = (struct quarantine_entry){
		.node.hash = sym_hash_bytes(id, sizeof(*id), SYM_HASH_INIT),
		.id = *id,
		.until_ns = sym_cache_now_ns() + QUARANTINE_NS,
		.stub = stub,
	};
	if (sym_htab_add(&c->quarantine, &q->node))
		goto fail;
	return stub;
fail:
	free(q);
	free(stub);
	return NULL;
}

/* Until when this call may wait for the worker. */
static uint64_t wait_until(const struct sym_cache *c)
{
	return c->deadline_ns ? c->deadline_ns : sym_cache_now_ns() + CALL_BUDGET_NS;
}

/* The agent's copy of a file the worker read, with the cache's counts. */
static int remote_elf_new(struct sym_cache *c, uint64_t handle,
			  const Smolder__Worker__OpenReply *r, struct sym_elf **out)
{
	bool malformed = false;
	int err = sym_remote_elf_new(r, handle, sym_worker_generation(c->worker), out, &malformed);

	if (err)
		return err;
	if (malformed || r->corrupt)
		c->stats.corrupt++;
	if (r->debug_source == SYM_DEBUG_FILE || r->debug_source == SYM_DEBUG_DEBUGINFOD)
		c->stats.debug_files++;
	return 0;
}

/* The worker's refusals since it started, into this process's count. */
static void take_refusals(struct sym_cache *c, const Smolder__Worker__OpenReply *r)
{
	uint64_t gen = sym_worker_generation(c->worker);

	if (c->refusals_generation != gen) {
		memset(c->refusals_seen, 0, sizeof(c->refusals_seen));
		c->refusals_generation = gen;
	}
	for (size_t i = 0; i < r->n_refusals && i < SYM_REFUSED__COUNT; i++)
		if (r->refusals[i] > c->refusals_seen[i]) {
			sym_refusal_add((enum sym_refusal)i, r->refusals[i] - c->refusals_seen[i]);
			c->refusals_seen[i] = r->refusals[i];
		}
}

/* The unwind table of a file the worker read: the one read from disk,
 * when the worker was asked not to build it (and the file it read is the
 * one the peek hashed); else the one it built, written to disk for the
 * next start. */
static void take_table(struct sym_cache *c, struct pending *p, struct sym_elf *se)
{
	if (p->table_held) {
		se->table_held = !se->unwind.n;
		return;
	}
	if (p->cached.n) {
		if (!se->unwind.n && !strcmp(se->content_id, p->content_id)) {
			se->unwind = p->cached;
			p->cached = (struct sym_unwind_table){ 0 };
			se->bytes += se->unwind.n * sizeof(*se->unwind.rows);
		}
		/* Otherwise the file changed between the peek and the open:
		 * no table for it now (frame pointers), built when it is
		 * read again. */
		return;
	}
	if (!c->table_cache || !se->unwind.n || !sym_content_id_valid(se->content_id))
		return;
	c->stats.unwind_cache_misses++;
	sym_table_cache_write(c->table_cache, se->content_id, &se->unwind);
}

/* An open answered: the file joins the cache (or, when a file with its
 * build-id and its content id is there already, that one stands for it:
 * the same build-id with other bytes is another file). */
static void apply_open(struct sym_cache *c, const Smolder__Worker__OpenReply *r)
{
	struct pending *p = &c->pending;
	struct sym_elf *se, *same;

	take_refusals(c, r);
	p->err = r->error;
	if (p->err) {
		if (p->err == -ENOEXEC)
			c->stats.corrupt++;
		return;
	}
	p->err = remote_elf_new(c, p->handle, r, &se);
	if (p->err)
		return;
	take_table(c, p, se);
	same = sym_cache_find_shared(c, se->build_id, se->content_id);
	if (same) {
		sym_elf_free(se);
		sym_worker_forget(c->worker, p->handle);
		p->elf = same;
	} else if ((p->err = sym_cache_add_elf(c, se)) || (p->err = add_remote(c, se, &p->id, p->path))) {
		sym_elf_free(se);
		sym_worker_forget(c->worker, p->handle);
		return;
	} else {
		p->elf = se;
		c->stats.files_opened++;
	}
	sym_cache_add_file(c, &p->id, p->elf);
}

static void keep_location(struct sym_cache *c, struct sym_elf *elf, uint64_t vaddr,
			  const Smolder__Worker__Location *l)
{
	struct sym_frame frames[SYM_REMOTE_FRAMES_MAX];
	size_t added = 0, n = sym_remote_frames(l, frames);
	struct sym_location loc;

	if (sym_elf_keep_address(elf, vaddr, frames, n, l->from_dwarf, &loc, &added) == 0) {
		elf->bytes += added;
		c->stats.bytes += added;
	}
}

static void apply_resolve(struct sym_cache *c, const Smolder__Worker__ResolveReply *r)
{
	struct remote_entry *re = find_remote(c, c->pending.handle);
	struct sym_location loc;

	if (!re || r->error || r->n_locations != c->pending.n_vaddrs)
		return;
	for (size_t i = 0; i < r->n_locations; i++)
		if (!sym_elf_kept_address(re->elf, c->pending.vaddrs[i], &loc))
			keep_location(c, re->elf, c->pending.vaddrs[i], r->locations[i]);
	re->elf->bytes += sym_remote_bytes(r->bytes);
	c->stats.bytes += sym_remote_bytes(r->bytes);
}

static void apply_attach(struct sym_cache *c, const Smolder__Worker__AttachReply *r)
{
	struct remote_entry *re = find_remote(c, c->pending.handle);

	if (!re)
		return;
	if (r->error) {
		c->stats.corrupt++;
		re->elf->remote_source = SYM_DEBUG_NONE;
		return;
	}
	sym_elf_forget_addresses(re->elf);
	re->elf->remote_dwarf = r->has_dwarf;
	re->elf->remote_source = SYM_DEBUG_DEBUGINFOD;
	c->stats.debug_files++;
}

static void apply_peek(struct sym_cache *c, const Smolder__Worker__PeekReply *r)
{
	const char *id = r->build_id ? r->build_id : "";

	c->pending.err = r->error;
	if (!r->error && strlen(id) < sizeof(c->pending.build_id) &&
	    strspn(id, "0123456789abcdef") == strlen(id))
		strcpy(c->pending.build_id, id);
	if (!r->error && sym_content_id_valid(r->content_id))
		strcpy(c->pending.content_id, r->content_id);
}

/* A perf map's table, checked (the worker is not trusted). */
static void apply_perf_map(struct sym_cache *c, const Smolder__Worker__PerfMapReply *r)
{
	struct sym_perf_map_table t = {
		.starts = r->starts,
		.ends = r->ends,
		.name_offsets = r->name_offsets,
		.n = r->n_starts,
		.names = (const char *)r->names.data,
		.names_len = r->names.len,
		.lines = r->lines,
		.bad_lines = r->bad_lines,
		.dropped = r->dropped,
	};

	c->pending.err = r->error;
	if (r->error)
		return;
	if (r->n_ends != r->n_starts || r->n_name_offsets != r->n_starts)
		c->pending.err = -EPROTO;
	else
		c->pending.err = sym_perf_map_import(&t, &c->pending.perf_map);
	if (c->pending.err == -EPROTO)
		c->stats.corrupt++;
}

/* A PythonCodes answer into the caller's arrays, checked. */
static void apply_python(struct sym_cache *c, const Smolder__Worker__PythonCodesReply *r)
{
	c->pending.err = r->error;
	if (r->error || !c->pending.py_out) /* late: its caller is gone */
		return;
	if (r->n_codes != c->pending.py_n) {
		c->pending.err = -EPROTO;
		c->stats.corrupt++;
		return;
	}
	for (size_t i = 0; i < r->n_codes; i++) {
		const Smolder__Worker__PythonCode *pc = r->codes[i];

		c->pending.py_errs[i] = pc->error ? (pc->error < 0 ? pc->error : -EPROTO)
						  : worker_python_take(pc, &c->pending.py_out[i]);
		if (c->pending.py_errs[i] == -EPROTO)
			c->stats.corrupt++;
	}
}

/* A FindFunctions answer into the caller's array: one address a name. */
static void apply_functions(struct sym_cache *c, const Smolder__Worker__FunctionsReply *r)
{
	c->pending.err = r->error < 0 ? r->error : r->error ? -EPROTO : 0;
	if (c->pending.err || !c->pending.fn_vaddrs) /* late: its caller is gone */
		return;
	if (r->n_vaddrs != c->pending.fn_n) {
		c->pending.err = -EPROTO;
		c->stats.corrupt++;
		return;
	}
	memcpy(c->pending.fn_vaddrs, r->vaddrs, r->n_vaddrs * sizeof(*r->vaddrs));
}

static void apply_reply(struct sym_cache *c, const sym_wire_msg *m)
{
	switch (c->pending.kind) {
	case PENDING_OPEN:
		if (m->body_case == SMOLDER__WORKER__WORKER_MESSAGE__BODY_OPEN_REPLY)
			apply_open(c, m->open_reply);
		break;
	case PENDING_RESOLVE:
		if (m->body_case == SMOLDER__WORKER__WORKER_MESSAGE__BODY_RESOLVE_REPLY)
			apply_resolve(c, m->resolve_reply);
		break;
	case PENDING_ATTACH:
		if (m->body_case == SMOLDER__WORKER__WORKER_MESSAGE__BODY_ATTACH_REPLY)
			apply_attach(c, m->attach_reply);
		break;
	case PENDING_PERF_MAP:
		if (m->body_case == SMOLDER__WORKER__WORKER_MESSAGE__BODY_PERF_MAP_REPLY)
			apply_perf_map(c, m->perf_map_reply);
		break;
	case PENDING_PEEK:
		if (m->body_case == SMOLDER__WORKER__WORKER_MESSAGE__BODY_PEEK_REPLY)
			apply_peek(c, m->peek_reply);
		break;
	case PENDING_PYTHON:
		if (m->body_case == SMOLDER__WORKER__WORKER_MESSAGE__BODY_PYTHON_CODES_REPLY)
			apply_python(c, m->python_codes_reply);
		break;
	case PENDING_PYTHON_CHECK:
		if (m->body_case == SMOLDER__WORKER__WORKER_MESSAGE__BODY_PYTHON_CHECK_REPLY)
			c->pending.err = m->python_check_reply->error;
		break;
	case PENDING_FUNCTIONS:
		if (m->body_case == SMOLDER__WORKER__WORKER_MESSAGE__BODY_FUNCTIONS_REPLY)
			apply_functions(c, m->functions_reply);
		break;
	case PENDING_NONE:
		break;
	}
}

void sym_cache_clear_pending(struct sym_cache *c)
{
	free(c->pending.path);
	free(c->pending.vaddrs);
	sym_perf_map_free(c->pending.perf_map);
	sym_unwind_table_release(&c->pending.cached);
	c->pending = (struct pending){ .kind = PENDING_NONE };
}

/* vaddrs[0..n) are copied. */
static int set_pending(struct sym_cache *c, enum pending_kind kind, const struct file_id *id,
		       const char *path, uint64_t handle, const uint64_t *vaddrs, size_t n)
{
	sym_cache_clear_pending(c);
	c->pending = (struct pending){
		.kind = kind,
		.id = *id,
		.path = strdup(path ? path : ""),
		.handle = handle,
		.vaddrs = n ? malloc(n * sizeof(*vaddrs)) : NULL,
		.n_vaddrs = n,
		.err = -EIO,
	};
	if (n && c->pending.vaddrs)
		memcpy(c->pending.vaddrs, vaddrs, n * sizeof(*vaddrs));
	return c->pending.path && (!n || c->pending.vaddrs) ? 0 : -ENOMEM;
}

/* Waits for the outstanding request until the deadline. 0: answered and
 * applied (an open's result in pending.elf/err, kept until the next
 * request); -EAGAIN: still outstanding; -EIO: the worker died or hung on
 * it, and its file is set aside. */
int sym_cache_wait_pending(struct sym_cache *c, uint64_t until_ns)
{
	struct remote_entry *re;
	sym_wire_msg *reply;
	uint64_t id;
	int err = sym_worker_wait(c->worker, until_ns, &reply, &id);

	if (err == -EINPROGRESS)
		return -EAGAIN;
	if (err) {
		re = c->pending.kind == PENDING_RESOLVE || c->pending.kind == PENDING_ATTACH ||
			     c->pending.kind == PENDING_FUNCTIONS
			     ? find_remote(c, c->pending.handle)
			     : NULL;
		quarantine(c, &c->pending.id, c->pending.path,
			   c->pending.build_id[0] ? c->pending.build_id
			   : re && re->elf->build_id[0] ? re->elf->build_id
			   : NULL);
		c->pending.elf = NULL;
		c->pending.err = -EIO;
		return -EIO;
	}
	apply_reply(c, reply);
	sym_wire_free(reply);
	return 0;
}

/* The worker free for a new request by the deadline, or -EAGAIN. */
static int worker_free(struct sym_cache *c, uint64_t until)
{
	if (sym_worker_busy(c->worker) && sym_cache_wait_pending(c, until) == -EAGAIN)
		return -EAGAIN;
	if (sym_cache_now_ns() >= until)
		return -EAGAIN;
	return 0;
}

/* Has the worker read the file at fd (identified as id): the cache's
 * read_new, in the worker. -EAGAIN: not by the deadline (asked again
 * later). */
/* The file's build-id and content id alone, first: if reading the whole
 * file kills the worker, the file set aside still has its build-id, so a
 * server can name its frames. 0, build_id ("" when it has none) and
 * content_id ("" when not had); -EAGAIN: not by the deadline; -EIO: the
 * worker died on it (set aside) or none runs. */
static int ask_build_id(struct sym_cache *c, int fd, const struct file_id *id, const char *path,
			uint64_t until, char *build_id, char *content_id)
{
	Smolder__Worker__PeekBuildId p = SMOLDER__WORKER__PEEK_BUILD_ID__INIT;
	sym_wire_msg m = SMOLDER__WORKER__WORKER_MESSAGE__INIT;
	int err;

	build_id[0] = '\0';
	content_id[0] = '\0';
	if (worker_free(c, until))
		return -EAGAIN;
	m.body_case = SMOLDER__WORKER__WORKER_MESSAGE__BODY_PEEK;
	m.peek = &p;
	err = set_pending(c, PENDING_PEEK, id, path, 0, NULL, 0);
	if (!err)
		err = sym_worker_send(c->worker, &m, &fd, 1, NULL);
	if (err) {
		sym_cache_clear_pending(c);
		return -EIO;
	}
	err = sym_cache_wait_pending(c, until);
	if (err == -EAGAIN)
		return -EAGAIN; /* its answer is dropped when it comes */
	if (!err) {
		strcpy(build_id, c->pending.build_id);
		strcpy(content_id, c->pending.content_id);
	}
	sym_cache_clear_pending(c);
	return err ? -EIO : 0;
}

int sym_cache_read_remote(struct sym_cache *c, int fd, const struct sym_file_ref *ref,
		       const struct file_id *id, struct sym_elf **elf)
{
	struct sym_debug_search search = sym_cache_debug_search(c, ref);
	Smolder__Worker__OpenFile o = SMOLDER__WORKER__OPEN_FILE__INIT;
	sym_wire_msg m = SMOLDER__WORKER__WORKER_MESSAGE__INIT;
	const char *path = ref->path ? ref->path : "";
	char build_id[2 * SYM_BUILD_ID_MAX + 1], content_id[SYM_CONTENT_ID_LEN + 1];
	uint64_t until = wait_until(c);
	int err;

	*elf = quarantined(c, id);
	if (*elf)
		return 0;
	err = ask_build_id(c, fd, id, path, until, build_id, content_id);
	if (err == -EAGAIN) {
		c->stats.late++;
		return -EAGAIN;
	}
	if (err) {
		*elf = quarantined(c, id);
		return *elf ? 0 : -EIO;
	}
	/* Another file with the same build-id and the same bytes (another
	 * container's copy) is the same program: read once. With other
	 * bytes it is another file, whatever its note says. */
	*elf = sym_cache_find_shared(c, build_id, content_id);
	if (*elf) {
		sym_cache_add_file(c, id, *elf);
		return 0;
	}
	if (worker_free(c, until)) {
		c->stats.late++;
		return -EAGAIN;
	}
	o.handle = ++c->next_handle;
	o.path = (char *)path;
	o.pid = ref->pid;
	m.body_case = SMOLDER__WORKER__WORKER_MESSAGE__BODY_OPEN;
	m.open = &o;
	err = set_pending(c, PENDING_OPEN, id, path, o.handle, NULL, 0);
	strcpy(c->pending.build_id, build_id);
	strcpy(c->pending.content_id, content_id);
	/* A table loaded already, or kept on disk by an earlier start, is
	 * not built again. */
	if (!err && content_id[0] && c->table_holds &&
	    c->table_holds(c->table_holds_ctx, content_id))
		o.skip_unwind = c->pending.table_held = true;
	else if (!err && c->table_cache &&
		 sym_table_cache_read(c->table_cache, content_id, &c->pending.cached) == 0)
		o.skip_unwind = true;
	if (!err)
		err = sym_worker_send(c->worker, &m, &fd, 1, &search);
	if (err == -ECHILD) {
		sym_cache_clear_pending(c);
		return -EIO; /* no worker: nothing can be read now */
	}
	if (err) {
		sym_cache_clear_pending(c);
		return err;
	}
	err = sym_cache_wait_pending(c, until);
	if (err == -EAGAIN) {
		c->stats.late++;
		return -EAGAIN;
	}
	if (err == -EIO) {
		*elf = quarantined(c, id);
		sym_cache_clear_pending(c);
		return *elf ? 0 : -EIO;
	}
	*elf = c->pending.elf;
	err = c->pending.err;
	sym_cache_clear_pending(c);
	return err;
}

/* Asks the worker to name vaddrs[0..n) of the file it holds as re, and
 * waits until the time given. -EAGAIN: not answered by then (taken later,
 * when it comes). */
static int ask_resolve(struct sym_cache *c, struct remote_entry *re, const uint64_t *vaddrs,
		       size_t n, uint64_t until)
{
	Smolder__Worker__Resolve r = SMOLDER__WORKER__RESOLVE__INIT;
	sym_wire_msg m = SMOLDER__WORKER__WORKER_MESSAGE__INIT;
	int err;

	if (worker_free(c, until) ||
	    re->elf->remote_generation != sym_worker_generation(c->worker))
		return -EAGAIN;
	r.handle = re->handle;
	r.vaddrs = (uint64_t *)vaddrs;
	r.n_vaddrs = n;
	m.body_case = SMOLDER__WORKER__WORKER_MESSAGE__BODY_RESOLVE;
	m.resolve = &r;
	err = set_pending(c, PENDING_RESOLVE, &re->id, re->path, re->handle, vaddrs, n);
	if (!err)
		err = sym_worker_send(c->worker, &m, NULL, 0, NULL);
	if (!err)
		err = sym_cache_wait_pending(c, until);
	if (err != -EAGAIN)
		sym_cache_clear_pending(c);
	return err;
}

int sym_cache_resolve_remote(struct sym_cache *c, struct sym_elf *elf, uint64_t vaddr,
			  struct sym_location *loc)
{
	struct remote_entry *re = find_remote(c, elf->remote_handle);

	*loc = (struct sym_location){ 0 };
	if (sym_elf_kept_address(elf, vaddr, loc) || !re)
		return 0;
	/* Its worker is gone: what it named stays named; for what it did
	 * not, the file is read again after the next trim. */
	if (elf->remote_generation != sym_worker_generation(c->worker)) {
		elf->remote_orphan_missed = true;
		c->stats.late++;
		return 0;
	}
	if (ask_resolve(c, re, &vaddr, 1, wait_until(c)) == -EAGAIN)
		c->stats.late++;
	/* The worker may have died of this very request. */
	if (!sym_elf_kept_address(elf, vaddr, loc) &&
	    elf->remote_generation != sym_worker_generation(c->worker))
		elf->remote_orphan_missed = true;
	return 0;
}

void sym_cache_want(struct sym_cache *c, struct sym_elf *elf, uint64_t vaddr, uint64_t weight)
{
	struct sym_location loc;

	if (!c || !c->worker || !elf || !elf->remote_handle ||
	    sym_elf_kept_address(elf, vaddr, &loc))
		return;
	if (elf->remote_generation != sym_worker_generation(c->worker)) {
		elf->remote_orphan_missed = true;
		return;
	}
	if (c->n_wanted == c->wanted_cap) {
		size_t cap = c->wanted_cap ? 2 * c->wanted_cap : 1024;
		struct wanted *w = realloc(c->wanted, cap * sizeof(*w));

		if (!w)
			return; /* asked for one by one instead */
		c->wanted = w;
		c->wanted_cap = cap;
	}
	c->wanted[c->n_wanted++] = (struct wanted){ elf->remote_handle, vaddr, weight };
}

static int by_handle_then_vaddr(const void *a, const void *b)
{
	const struct wanted *x = a, *y = b;

	if (x->handle != y->handle)
		return x->handle < y->handle ? -1 : 1;
	return (x->vaddr > y->vaddr) - (x->vaddr < y->vaddr);
}

/* Asks for the wanted addresses of one file, in batches. */
static int fetch_file(struct sym_cache *c, const struct wanted *w, size_t n, uint64_t until)
{
	struct remote_entry *re = find_remote(c, w[0].handle);
	uint64_t batch[FETCH_BATCH];
	size_t i = 0;
	int err = 0;

	while (re && i < n && !err) {
		size_t k = 0;

		for (; i < n && k < FETCH_BATCH; i++)
			if (k == 0 || batch[k - 1] != w[i].vaddr)
				batch[k++] = w[i].vaddr;
		err = ask_resolve(c, re, batch, k, until);
		re = find_remote(c, w[0].handle); /* a death may have taken it */
	}
	return err;
}

/* The wanted addresses of one file: wanted[start, start + n). */
struct wanted_file {
	size_t start, n;
	uint64_t weight;
};

static int by_weight(const void *a, const void *b)
{
	const struct wanted_file *x = a, *y = b;

	return (x->weight < y->weight) - (x->weight > y->weight);
}

/* The files of the wanted addresses (sorted by file), heaviest first:
 * if the deadline comes before all are named, what is left unnamed is
 * what the fewest samples show. NULL when memory runs out. */
static struct wanted_file *files_by_weight(const struct sym_cache *c, size_t *n)
{
	struct wanted_file *f = malloc(c->n_wanted * sizeof(*f));

	*n = 0;
	for (size_t i = 0; f && i < c->n_wanted; i++) {
		if (i == 0 || c->wanted[i].handle != c->wanted[i - 1].handle)
			f[(*n)++] = (struct wanted_file){ .start = i };
		f[*n - 1].n++;
		f[*n - 1].weight += c->wanted[i].weight;
	}
	if (f)
		qsort(f, *n, sizeof(*f), by_weight);
	return f;
}

void sym_cache_fetch(struct sym_cache *c)
{
	struct wanted_file *files;
	uint64_t until;
	size_t n;

	if (!c || !c->worker || !c->n_wanted)
		return;
	until = wait_until(c);
	qsort(c->wanted, c->n_wanted, sizeof(*c->wanted), by_handle_then_vaddr);
	files = files_by_weight(c, &n);
	for (size_t i = 0; files && i < n; i++)
		if (fetch_file(c, c->wanted + files[i].start, files[i].n, until) == -EAGAIN)
			break; /* the rest, one by one, as far as the deadline allows */
	free(files);
	c->n_wanted = 0;
}

/* A request of one descriptor fd, with no answer kept but what apply_reply
 * puts in pending: sent once the worker is free by until, as the
 * outstanding request of kind. 0: sent; -EAGAIN: the worker was not free
 * in time (counted late); -EIO: it could not be sent. */
static int send_request(struct sym_cache *c, enum pending_kind kind, const struct file_id *id,
			const char *what, sym_wire_msg *m, int fd, uint64_t until)
{
	int err;

	if (worker_free(c, until)) {
		c->stats.late++;
		return -EAGAIN;
	}
	err = set_pending(c, kind, id, what, 0, NULL, 0);
	if (!err)
		err = sym_worker_send(c->worker, m, &fd, 1, NULL);
	if (err) {
		sym_cache_clear_pending(c);
		return -EIO;
	}
	return 0;
}

/* The answer to the request send_request sent, waited for until: 0 with
 * it applied (pending.err the worker's), -EAGAIN late (counted; the
 * request stays outstanding, its answer dropped when it comes), -EIO. */
static int wait_answer(struct sym_cache *c, uint64_t until)
{
	int err = sym_cache_wait_pending(c, until);

	if (err == -EAGAIN)
		c->stats.late++;
	return err;
}

int sym_cache_read_perf_map_remote(void *cache, int fd, const struct stat *st,
				   struct sym_perf_map **out)
{
	Smolder__Worker__PerfMap pm = SMOLDER__WORKER__PERF_MAP__INIT;
	sym_wire_msg m = SMOLDER__WORKER__WORKER_MESSAGE__INIT;
	struct sym_cache *c = cache;
	struct file_id id = sym_cache_file_id(st);
	uint64_t until = wait_until(c);
	int err;

	*out = NULL;
	m.body_case = SMOLDER__WORKER__WORKER_MESSAGE__BODY_PERF_MAP;
	m.perf_map = &pm;
	err = send_request(c, PENDING_PERF_MAP, &id, "a JIT's perf map", &m, fd, until);
	if (err)
		return err;
	/* Late, the map is read again at the next look. */
	err = wait_answer(c, until);
	if (err == -EAGAIN)
		return err;
	if (!err) {
		err = c->pending.err;
		*out = c->pending.perf_map;
		c->pending.perf_map = NULL;
	}
	sym_cache_clear_pending(c);
	return err;
}

/* Without a worker (tests, --no-parser-process), read here. */
static void python_codes_here(int mem_fd, const struct sym_py_types *types,
			      const uint64_t *codes, const uint32_t *tags, size_t n,
			      struct sym_py_code *out, int *errs)
{
	for (size_t i = 0; i < n; i++)
		errs[i] = sym_py_code_read(mem_fd, types, codes[i], tags[i], &out[i]);
}

int sym_cache_python_codes(struct sym_cache *c, int mem_fd, const struct sym_py_types *types,
			   const uint64_t *codes, const uint32_t *tags, size_t n,
			   struct sym_py_code *out, int *errs)
{
	Smolder__Worker__PythonCodes req = SMOLDER__WORKER__PYTHON_CODES__INIT;
	sym_wire_msg m = SMOLDER__WORKER__WORKER_MESSAGE__INIT;
	struct file_id none = { 0 };
	uint64_t until = wait_until(c);
	int err;

	for (size_t i = 0; i < n; i++) {
		memset(&out[i], 0, sizeof(out[i]));
		errs[i] = -EIO;
	}
	if (!c->worker) {
		python_codes_here(mem_fd, types, codes, tags, n, out, errs);
		return 0;
	}
	if (n > SYM_PY_CODES_PER_REQUEST)
		return -E2BIG;
	req.minor = types->minor;
	req.code_type = types->code_type;
	req.unicode_type = types->unicode_type;
	req.bytes_type = types->bytes_type;
	req.codes = (uint64_t *)codes;
	req.n_codes = n;
	req.tags = (uint32_t *)tags;
	req.n_tags = n;
	m.body_case = SMOLDER__WORKER__WORKER_MESSAGE__BODY_PYTHON_CODES;
	m.python_codes = &req;
	err = send_request(c, PENDING_PYTHON, &none, "a Python process's code objects", &m, mem_fd,
			   until);
	if (err)
		return err;
	/* Where apply_python puts the answer: it is applied while waiting. */
	c->pending.py_out = out;
	c->pending.py_errs = errs;
	c->pending.py_n = n;
	err = wait_answer(c, until);
	if (err == -EAGAIN) {
		/* Its answer, when it comes, is dropped: the arrays it
		 * would fill are the caller's, gone by then. */
		c->pending.py_out = NULL;
		c->pending.py_n = 0;
		return err;
	}
	if (!err)
		err = c->pending.err;
	sym_cache_clear_pending(c);
	return err;
}

int sym_cache_python_check(struct sym_cache *c, int mem_fd, uint64_t runtime,
			   const struct sym_py_check *o)
{
	Smolder__Worker__PythonCheck req = SMOLDER__WORKER__PYTHON_CHECK__INIT;
	sym_wire_msg m = SMOLDER__WORKER__WORKER_MESSAGE__INIT;
	struct file_id none = { 0 };
	uint64_t until = wait_until(c);
	uint32_t threads;
	int err;

	if (!c->worker)
		return sym_py_check_layout(mem_fd, runtime, o, &threads);
	req.runtime = runtime;
	req.runtime_interp_head = o->runtime_interp_head;
	req.interp_tstate_head = o->interp_tstate_head;
	req.tstate_next = o->tstate_next;
	req.tstate_interp = o->tstate_interp;
	req.code_type = o->code_type;
	req.code_name = o->code_name;
	req.code_filename = o->code_filename;
	req.code_qualname = o->code_qualname;
	req.code_firstlineno = o->code_firstlineno;
	req.code_linetable = o->code_linetable;
	req.minor = o->minor;
	m.body_case = SMOLDER__WORKER__WORKER_MESSAGE__BODY_PYTHON_CHECK;
	m.python_check = &req;
	err = send_request(c, PENDING_PYTHON_CHECK, &none, "a Python process's thread list", &m,
			   mem_fd, until);
	if (err)
		return err;
	err = wait_answer(c, until);
	if (err == -EAGAIN)
		return err;
	if (!err)
		err = c->pending.err;
	sym_cache_clear_pending(c);
	/* Only the worker's -EINVAL says the layout is wrong; its other
	 * errors say nothing of it. */
	return err == -EINVAL || err == -EIO ? err : err ? -EAGAIN : 0;
}

/* Asks the worker that holds re's file where its table puts names[0..n),
 * into vaddrs; an answer later than until is dropped when it comes. */
static int ask_functions(struct sym_cache *c, struct remote_entry *re, const char *const *names,
			 size_t n, uint64_t *vaddrs, uint64_t until)
{
	Smolder__Worker__FindFunctions req = SMOLDER__WORKER__FIND_FUNCTIONS__INIT;
	sym_wire_msg m = SMOLDER__WORKER__WORKER_MESSAGE__INIT;
	int err;

	req.handle = re->handle;
	req.names = (char **)names;
	req.n_names = n;
	m.body_case = SMOLDER__WORKER__WORKER_MESSAGE__BODY_FIND_FUNCTIONS;
	m.find_functions = &req;
	err = set_pending(c, PENDING_FUNCTIONS, &re->id, re->path, re->handle, NULL, 0);
	if (!err)
		err = sym_worker_send(c->worker, &m, NULL, 0, NULL);
	if (err) {
		sym_cache_clear_pending(c);
		return err == -ENOMEM ? err : -EIO;
	}
	c->pending.fn_vaddrs = vaddrs;
	c->pending.fn_n = n;
	err = wait_answer(c, until);
	if (err == -EAGAIN) {
		c->pending.fn_vaddrs = NULL;
		return err;
	}
	if (!err)
		err = c->pending.err;
	sym_cache_clear_pending(c);
	return err;
}

/* The worker that read elf's file is gone: what it held is, too. */
static bool orphaned(const struct sym_cache *c, struct sym_elf *elf)
{
	if (elf->remote_generation == sym_worker_generation(c->worker))
		return false;
	elf->remote_orphan_missed = true;
	return true;
}

int sym_cache_find_functions(struct sym_cache *c, struct sym_elf *elf, const char *const *names,
			     size_t n, uint64_t *vaddrs)
{
	struct remote_entry *re;
	uint64_t until;
	int err;

	if (!c || !elf || (n && (!names || !vaddrs)))
		return -EINVAL;
	/* Checks the names, zeroes vaddrs, and answers for a file read here. */
	err = sym_elf_find_functions(elf, names, n, vaddrs);
	if (err || !elf->remote_handle)
		return err;
	re = find_remote(c, elf->remote_handle);
	if (!re || orphaned(c, elf))
		return -EAGAIN;
	until = wait_until(c);
	if (worker_free(c, until)) {
		c->stats.late++;
		return -EAGAIN;
	}
	/* Waiting for the worker may have seen it die. */
	if (orphaned(c, elf))
		return -EAGAIN;
	return ask_functions(c, re, names, n, vaddrs, until);
}

/* Debug files debuginfod brought for files the worker holds: sent to it,
 * within a budget of the worker's time. */
void sym_cache_take_remote_arrivals(struct sym_cache *c)
{
	uint64_t until = sym_cache_now_ns() + ARRIVALS_BUDGET_NS;

	for (size_t i = 0; c->debuginfod && i < c->nelfs && sym_cache_now_ns() < until; i++) {
		Smolder__Worker__AttachDebug a = SMOLDER__WORKER__ATTACH_DEBUG__INIT;
		sym_wire_msg m = SMOLDER__WORKER__WORKER_MESSAGE__INIT;
		struct sym_elf *elf = c->elfs[i];
		struct remote_entry *re;
		char *path = NULL;
		int fd;

		if (!elf->remote_handle || elf->remote_source != SYM_DEBUG_PENDING ||
		    elf->remote_generation != sym_worker_generation(c->worker) ||
		    !(re = find_remote(c, elf->remote_handle)) ||
		    sym_debuginfod_find(c->debuginfod, elf->build_id, &path))
			continue;
		fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
		free(path);
		if (fd < 0)
			continue;
		a.handle = elf->remote_handle;
		m.body_case = SMOLDER__WORKER__WORKER_MESSAGE__BODY_ATTACH_DEBUG;
		m.attach_debug = &a;
		if (set_pending(c, PENDING_ATTACH, &re->id, re->path, a.handle, NULL, 0) == 0 &&
		    sym_worker_send(c->worker, &m, &fd, 1, NULL) == 0 &&
		    sym_cache_wait_pending(c, until) == -EAGAIN) {
			close(fd);
			return; /* answered at the next request */
		}
		sym_cache_clear_pending(c);
		close(fd);
	}
}

void sym_cache_set_deadline(struct sym_cache *c, uint64_t deadline_ns)
{
	if (c)
		c->deadline_ns = deadline_ns;
}

