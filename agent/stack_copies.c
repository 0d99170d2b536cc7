/* Stack copies, from the ring buffer to the drain (see stack_copies.h).
 *
 * A thread of its own empties the ring as copies come, into a list the run
 * loop takes them from: the run loop is held up for a second or more at an
 * interval's close, and the ring would have to hold that second of copies
 * (16 MiB, mapped twice into the agent's RSS, where 4 MiB now do). The
 * thread touches only the ring, that list and the three counters of what
 * it took, under the lock; the rest is the run loop's. */
#include "stack_copies.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "log.h"
#include "stack_copy.h"
#include "unwind_walk.h"

/* Copies whose process is known are walked at most this often between
 * drains: a wake-up per copy need not look at every copy waiting. */
#define RESOLVE_PERIOD_NS (250ULL * 1000000ULL)

/* A copy, from rsp up (what lies below it is no frame's). */
struct pending {
	struct smolder_count_key key;
	uint32_t gen;
	uint64_t base;
	uint64_t image;
	size_t len;
	struct unwind_walk_regs regs;
	uint8_t bytes[];
};

struct walked {
	struct smolder_count_key key;
	uint32_t gen;
	struct smolder_user_stack st;
};

struct stack_copies {
	struct ring_buffer *ring;
	pthread_t reader;
	bool reader_started;
	atomic_bool stop;
	int wake_fd;          /* eventfd: copies were taken from the ring */
	/* Guards the ring's consumption, incoming, and st.received, .dropped
	 * and .pending_bytes. */
	pthread_mutex_t lock;
	struct pending **incoming; /* taken from the ring, not yet pending */
	size_t n_incoming, cap_incoming;
	struct sampler *sampler;
	struct unwind_loader *unwind;
	struct disc_table *disc;
	struct pending **pending;
	size_t n_pending, cap_pending;
	struct walked *walked;
	size_t n_walked, cap_walked;
	uint64_t last_resolve_ns;
	stack_copies_reread_fn reread;
	void *reread_ctx;
	struct stack_copies_stats st;
};

static uint64_t monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static int take_copy(void *ctx, void *data, size_t size)
{
	struct stack_copies *c = ctx;
	const struct smolder_stack_copy *r = data;
	struct pending *p;
	uint64_t rsp, off = 0;
	size_t len;

	if (size < SMOLDER_STACK_COPY_HEADER)
		return 0;
	c->st.received++;
	rsp = r->regs[SMOLDER_DWARF_RSP];
	len = r->len <= sizeof(r->stack) ? r->len : sizeof(r->stack);
	if (len > size - SMOLDER_STACK_COPY_HEADER)
		len = size - SMOLDER_STACK_COPY_HEADER;
	if (rsp >= r->base && rsp - r->base <= len)
		off = rsp - r->base;
	len -= off;
	if (c->st.pending_bytes + len > STACK_COPIES_PENDING_MAX_BYTES ||
	    (c->n_incoming == c->cap_incoming && c->cap_incoming >= 1u << 20)) {
		c->st.dropped++;
		return 0;
	}
	if (c->n_incoming == c->cap_incoming) {
		size_t ncap = c->cap_incoming ? c->cap_incoming * 2 : 64;
		struct pending **v = realloc(c->incoming, ncap * sizeof(*v));

		if (!v) {
			c->st.dropped++;
			return 0;
		}
		c->incoming = v;
		c->cap_incoming = ncap;
	}
	p = malloc(sizeof(*p) + len);
	if (!p) {
		c->st.dropped++;
		return 0;
	}
	p->key = r->key;
	p->gen = r->gen;
	p->base = r->base + off;
	p->image = r->image;
	p->len = len;
	p->regs.ip = r->ip;
	memcpy(p->regs.regs, r->regs, sizeof(p->regs.regs));
	memcpy(p->bytes, r->stack + off, len);
	c->incoming[c->n_incoming++] = p;
	c->st.pending_bytes += len;
	return 0;
}

/* What the ring holds now, into incoming (take_copy); how many. */
static int consume_ring(struct stack_copies *c)
{
	int n;

	pthread_mutex_lock(&c->lock);
	n = ring_buffer__consume(c->ring);
	pthread_mutex_unlock(&c->lock);
	return n;
}

/* The reader thread: waits for copies in the ring, takes them, and wakes
 * the run loop. */
static void *read_ring(void *arg)
{
	struct stack_copies *c = arg;
	int epfd = ring_buffer__epoll_fd(c->ring);

	while (!atomic_load(&c->stop)) {
		struct epoll_event ev;
		uint64_t one = 1;

		if (epoll_wait(epfd, &ev, 1, 100) <= 0)
			continue;
		if (consume_ring(c) > 0 && write(c->wake_fd, &one, sizeof(one)) < 0 &&
		    errno != EAGAIN)
			log_debug("stack copies: waking the run loop: %s", strerror(errno));
	}
	return NULL;
}

/* The copies the reader took, appended to pending. */
static void take_incoming(struct stack_copies *c)
{
	pthread_mutex_lock(&c->lock);
	if (c->n_incoming && c->n_pending + c->n_incoming > c->cap_pending) {
		size_t ncap = c->cap_pending ? c->cap_pending : 64;
		struct pending **v;

		while (ncap < c->n_pending + c->n_incoming)
			ncap *= 2;
		v = realloc(c->pending, ncap * sizeof(*v));
		if (v) {
			c->pending = v;
			c->cap_pending = ncap;
		}
	}
	if (c->n_pending + c->n_incoming <= c->cap_pending) {
		memcpy(c->pending + c->n_pending, c->incoming, c->n_incoming * sizeof(*c->incoming));
		c->n_pending += c->n_incoming;
		c->n_incoming = 0;
	}
	pthread_mutex_unlock(&c->lock);
}

struct stack_copies *stack_copies_new(struct sampler *s, struct unwind_loader *unwind,
				      struct disc_table *disc)
{
	int fd = sampler_stack_copies_fd(s);
	struct stack_copies *c;

	if (fd < 0 || !unwind) {
		errno = ENOTSUP;
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->sampler = s;
	c->unwind = unwind;
	c->disc = disc;
	c->wake_fd = -1;
	pthread_mutex_init(&c->lock, NULL);
	atomic_init(&c->stop, false);
	c->ring = ring_buffer__new(fd, take_copy, c, NULL);
	if (c->ring)
		c->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (c->wake_fd >= 0) {
		int err = pthread_create(&c->reader, NULL, read_ring, c);

		c->reader_started = err == 0;
		errno = err;
	}
	if (!c->reader_started) {
		stack_copies_free(c);
		return NULL;
	}
	return c;
}

void stack_copies_set_reread(struct stack_copies *c, stack_copies_reread_fn fn, void *ctx)
{
	c->reread = fn;
	c->reread_ctx = ctx;
}

void stack_copies_free(struct stack_copies *c)
{
	int saved = errno;

	if (!c)
		return;
	if (c->reader_started) {
		atomic_store(&c->stop, true);
		pthread_join(c->reader, NULL);
	}
	ring_buffer__free(c->ring);
	if (c->wake_fd >= 0)
		close(c->wake_fd);
	pthread_mutex_destroy(&c->lock);
	for (size_t i = 0; i < c->n_incoming; i++)
		free(c->incoming[i]);
	free(c->incoming);
	for (size_t i = 0; i < c->n_pending; i++)
		free(c->pending[i]);
	free(c->pending);
	free(c->walked);
	free(c);
	errno = saved; /* stack_copies_new's failure is told by errno */
}

int stack_copies_fd(const struct stack_copies *c)
{
	return c->wake_fd;
}

void stack_copies_get_stats(const struct stack_copies *c, struct stack_copies_stats *st)
{
	pthread_mutex_lock((pthread_mutex_t *)&c->lock);
	*st = c->st;
	pthread_mutex_unlock((pthread_mutex_t *)&c->lock);
}

/* ---- walking ---- */

/* The mappings of one process, as the walk of its copies reads them. */
struct view {
	uint32_t tgid;
	uint64_t start_ticks;
	bool valid;
	int rc; /* unwind_loader_view's */
	struct smolder_unwind_proc proc;
	struct unwind_walk_mapping maps[SMOLDER_UNWIND_MAPPINGS_MAX];
	/* Each table's rows, as the symbol cache holds them: the same rows
	 * BPF reads, without mapping the BPF array (a mapping of a large
	 * table costs a page-table entry a page, made and unmade each time:
	 * a third of the agent's CPU on a build host). */
	const struct smolder_unwind_row *rows[SMOLDER_UNWIND_MAPPINGS_MAX];
	/* Tables held only in the BPF array (their files read again without
	 * them), mapped while the view lasts. */
	struct rows_window windows[SMOLDER_UNWIND_MAPPINGS_MAX];
	size_t n_windows;
	size_t n;
};

static void view_release(struct view *v)
{
	for (size_t i = 0; i < v->n_windows; i++)
		rows_window_unmap(&v->windows[i]);
	v->n_windows = 0;
	v->n = 0;
	v->valid = false;
}

/* m as the walk reads it, with its rows: in the agent's memory, else
 * mapped from the BPF array; none (frame pointers) when it has no table. */
static struct unwind_walk_mapping view_mapping(struct stack_copies *c, struct view *v,
					       const struct smolder_unwind_mapping *m,
					       const struct smolder_unwind_row *in_memory)
{
	struct unwind_walk_mapping wm = { .start = m->start, .end = m->end, .bias = m->bias };
	struct rows_window *w = &v->windows[v->n_windows];
	size_t n_elems;

	if (m->first_row == SMOLDER_UNWIND_PY_TRAMPOLINE) {
		wm.py_trampoline = m->n_rows;
		return wm;
	}
	if (!m->n_rows)
		return wm;
	if (in_memory) {
		wm.rows = in_memory;
		wm.n_rows = m->n_rows;
	} else if (unwind_loader_map_rows(c->unwind, m, w, &n_elems) == 0) {
		v->n_windows++;
		wm.elems = w->elems;
		wm.n_rows = m->n_rows;
		wm.n_elems = n_elems;
	}
	return wm;
}

static void view_of(struct stack_copies *c, const struct disc_process *p, struct view *v)
{
	if (v->valid && v->tgid == (uint32_t)p->pid && v->start_ticks == p->start_ticks)
		return;
	view_release(v);
	v->valid = true;
	v->tgid = (uint32_t)p->pid;
	v->start_ticks = p->start_ticks;
	v->rc = unwind_loader_view(c->unwind, p, &v->proc, v->rows);
	v->n = 0;
	for (uint32_t i = 0; i < v->proc.n && i < SMOLDER_UNWIND_MAPPINGS_MAX; i++) {
		v->maps[v->n++] = view_mapping(c, v, &v->proc.m[i], v->rows[i]);
	}
}

static void walk_copy(const struct pending *p, const struct view *v, struct walked *w)
{
	struct unwind_walk_memory mem = { .base = p->base, .bytes = p->bytes, .len = p->len };
	unsigned int end = SMOLDER_UNWIND_END_TRUNCATED;
	uint64_t pcs[SMOLDER_MAX_STACK_DEPTH];
	size_t n;

	n = unwind_walk(v->maps, v->n, &p->regs, &mem, pcs, SMOLDER_MAX_STACK_DEPTH, &end);
	memcpy(w->st.pcs, pcs, n * sizeof(pcs[0]));
	if (n <= 1 && end != SMOLDER_UNWIND_END_STOP)
		log_debug("stack copy of pid %u stops at its first frame (end %u): ip %#llx, rsp "
			  "%#llx, rbp %#llx, %zu bytes copied from %#llx", p->key.tgid, end,
			  (unsigned long long)p->regs.ip,
			  (unsigned long long)p->regs.regs[SMOLDER_DWARF_RSP],
			  (unsigned long long)p->regs.regs[SMOLDER_DWARF_RBP], p->len,
			  (unsigned long long)p->base);
	w->key = p->key;
	w->gen = p->gen;
	w->st.len = (uint32_t)n;
	w->st.end = end;
}

/* Whether w stopped short at code outside every mapping of v: mappings
 * read before the process mapped that code (ld.so still loading its
 * libraries at its first sample), whose walk would end there. */
static bool stopped_outside(const struct view *v, const struct walked *w)
{
	uint64_t pc;

	if (w->st.end == SMOLDER_UNWIND_END_STOP || !w->st.len)
		return false;
	pc = w->st.pcs[w->st.len - 1];
	for (size_t i = 0; i < v->n; i++)
		if (pc >= v->maps[i].start && pc < v->maps[i].end)
			return false;
	return true;
}

static bool keep_walked(struct stack_copies *c, const struct walked *w)
{
	if (c->n_walked == c->cap_walked) {
		size_t ncap = c->cap_walked ? c->cap_walked * 2 : 64;
		struct walked *nv = realloc(c->walked, ncap * sizeof(*nv));

		if (!nv)
			return false;
		c->walked = nv;
		c->cap_walked = ncap;
	}
	c->walked[c->n_walked++] = *w;
	return true;
}

static int by_process(const void *a, const void *b)
{
	const struct pending *x = *(struct pending *const *)a, *y = *(struct pending *const *)b;

	if (x->key.tgid != y->key.tgid)
		return x->key.tgid < y->key.tgid ? -1 : 1;
	return (x->key.start_ticks > y->key.start_ticks) - (x->key.start_ticks < y->key.start_ticks);
}

/* The mapping of v whose file is not read that w's walk reached first
 * (its index in v), -1 if none: the walk is right up to that frame, whose
 * address is a real return address (or the sampled ip), and goes on by
 * frame pointers from there. */
static int first_pending_frame(const struct walked *w, const struct view *v)
{
	for (uint32_t i = 0; i < w->st.len; i++) {
		int k = unwind_loader_pending_at(&v->proc, w->st.pcs[i]);

		if (k >= 0)
			return k;
	}
	return -1;
}

/* The process whose mappings a pass read again last: once a pass each. */
struct reread_mark {
	uint32_t tgid;
	uint64_t start_ticks;
};

/* Walks p through its process's mappings (*proc) into w. A walk that stops
 * at code outside them has them read again, once a pass, and walks again.
 * false: p waits, for tables still being read (until the final call), or
 * for mappings of the code it stopped at (until its drain: that code may
 * be no file's, a JIT's). */
static bool walk_pending(struct stack_copies *c, const struct pending *p, struct view *v,
			 const struct disc_process **proc, bool due, bool final,
			 struct reread_mark *mark, struct walked *w)
{
	const struct disc_process *np;

	view_of(c, *proc, v);
	if (v->rc && !(due && final))
		return false;
	walk_copy(p, v, w);
	/* A file whose table the walk needs is read, its processes published
	 * again, and the copy walked again, until the walk needs none: each
	 * round reads one more file the stack passes through (a few at most,
	 * bounded by the mappings). */
	for (int k, round = 0;
	     (k = first_pending_frame(w, v)) >= 0 && round < SMOLDER_UNWIND_MAPPINGS_MAX; round++) {
		if (unwind_loader_want(c->unwind, c->disc, *proc, v->proc.m[k].start) < 0)
			break; /* no memory for the set: frame pointers there */
		unwind_loader_retry(c->unwind, c->disc);
		view_release(v);
		view_of(c, *proc, v);
		if (v->rc && !(due && final))
			return false;
		walk_copy(p, v, w);
	}
	if (!stopped_outside(v, w))
		return true;
	if (!c->reread || (mark->tgid == p->key.tgid && mark->start_ticks == p->key.start_ticks))
		return due;
	*mark = (struct reread_mark){ .tgid = p->key.tgid, .start_ticks = p->key.start_ticks };
	np = c->reread(c->reread_ctx, (int)p->key.tgid, p->key.start_ticks, p->image);
	if (!np || !np->maps.n || np->image != p->image)
		return due;
	*proc = np;
	view_release(v);
	view_of(c, np, v);
	if (v->rc && !(due && final))
		return false;
	walk_copy(p, v, w);
	return due || !stopped_outside(v, w);
}

/* Walks the copies whose process's mappings are known and whose tables
 * were read in time. The copies of the drained generation (drained_gen >=
 * 0) whose process is unknown, or whose mappings are another image's, are
 * given up; those whose tables are still being read wait for them until
 * the final call (final), which walks them with what tables there are.
 * Returns how many copies of drained_gen still wait. */
static size_t resolve(struct stack_copies *c, int drained_gen, bool final)
{
	struct view *v = calloc(1, sizeof(*v));
	struct walked *w = malloc(sizeof(*w));
	struct reread_mark mark = { 0 };
	size_t kept = 0, waiting = 0;
	uint64_t freed = 0;

	take_incoming(c);
	/* A process's copies together: its view is made once a pass. */
	qsort(c->pending, c->n_pending, sizeof(*c->pending), by_process);

	for (size_t i = 0; i < c->n_pending; i++) {
		struct pending *p = c->pending[i];
		bool due = drained_gen >= 0 && p->gen == (uint32_t)drained_gen;
		const struct disc_process *proc =
			v && w ? disc_table_get_image(c->disc, (int)p->key.tgid, p->key.start_ticks,
						   p->key.exec_id) : NULL;
		bool done = false, walkable = proc && proc->maps.n && proc->image == p->image;

		/* Mappings of another image (read before an exec, or after
		 * one) would name a plausible wrong stack. */
		if (walkable && walk_pending(c, p, v, &proc, due, final, &mark, w) &&
		    keep_walked(c, w)) {
			done = true;
			if (v->rc) {
				log_debug("stack copy of pid %u (%s) walked without all its "
					  "tables: %s", p->key.tgid, proc->comm, strerror(-v->rc));
				c->st.late++;
			}
		}
		if (!done && due && (!walkable || final)) {
			log_debug("stack copy of pid %u not walked: %s", p->key.tgid,
				  !proc			      ? "process unknown"
				  : !proc->maps.n	      ? "no mappings"
				  : proc->image != p->image ? "its mappings are another image's"
							      : "no memory");
			c->st.unused++;
			done = true;
		}
		if (done) {
			freed += p->len;
			free(p);
		} else {
			waiting += due;
			c->pending[kept++] = p;
		}
	}
	c->n_pending = kept;
	pthread_mutex_lock(&c->lock);
	c->st.pending_bytes -= freed;
	pthread_mutex_unlock(&c->lock);
	if (v)
		view_release(v);
	free(v);
	free(w);
	return waiting;
}

void stack_copies_consume(struct stack_copies *c)
{
	uint64_t now, woken;

	if (read(c->wake_fd, &woken, sizeof(woken)) < 0 && errno != EAGAIN)
		log_debug("stack copies: %s", strerror(errno));
	take_incoming(c);
	now = monotonic_ns();
	if (c->n_pending && now - c->last_resolve_ns >= RESOLVE_PERIOD_NS) {
		c->last_resolve_ns = now;
		resolve(c, -1, false);
	}
}

void stack_copies_walk_waiting(struct stack_copies *c)
{
	resolve(c, -1, false);
	c->last_resolve_ns = monotonic_ns();
}

/* ---- moving samples ---- */

static int key_cmp(const struct smolder_count_key *a, const struct smolder_count_key *b)
{
	return memcmp(a, b, sizeof(*a));
}

static int entry_cmp(const void *a, const void *b)
{
	return key_cmp(&((const struct sampler_entry *)a)->key,
		       &((const struct sampler_entry *)b)->key);
}

/* True when w's stack is whole, or goes further than the one BPF counted. */
static bool walked_better(struct stack_copies *c, const struct sampler_drain *d,
			  const struct walked *w)
{
	uint64_t ips[SMOLDER_MAX_STACK_DEPTH];
	unsigned int end;
	int n = sampler_read_user_stack(c->sampler, d, w->key.user_stack, ips,
					SMOLDER_MAX_STACK_DEPTH, &end);

	if (n < 0)
		return false;
	if (end == SMOLDER_UNWIND_END_STOP)
		return false;
	return w->st.end == SMOLDER_UNWIND_END_STOP || w->st.len > (uint32_t)n;
}

/* Moves one sample of w's key to the stack walked: d's first n_orig
 * entries are sorted by key; the new one goes after d->n (room for it is
 * there), and the caller merges. */
static bool move_sample(struct stack_copies *c, struct sampler_drain *d, size_t n_orig,
			const struct walked *w)
{
	struct sampler_entry probe = { .key = w->key }, *e;
	uint64_t key;

	e = bsearch(&probe, d->entries, n_orig, sizeof(*d->entries), entry_cmp);
	if (!e || !e->count)
		return false;
	if (sampler_add_user_stack(c->sampler, d, &w->st, &key))
		return false;
	e->count--;
	d->entries[d->n].key = w->key;
	d->entries[d->n].key.user_stack = key;
	d->entries[d->n].count = 1;
	d->entries[d->n].ns = 0;
	d->n++;
	return true;
}

/* One entry per key, none empty (an off-CPU piece cut at the drain has
 * time and no count). */
static void merge_entries(struct sampler_drain *d)
{
	size_t n = 0;

	qsort(d->entries, d->n, sizeof(*d->entries), entry_cmp);
	for (size_t i = 0; i < d->n; i++) {
		if (!d->entries[i].count && !d->entries[i].ns)
			continue;
		if (n && key_cmp(&d->entries[n - 1].key, &d->entries[i].key) == 0) {
			d->entries[n - 1].count += d->entries[i].count;
			d->entries[n - 1].ns += d->entries[i].ns;
		} else {
			d->entries[n++] = d->entries[i];
		}
	}
	d->n = n;
}

size_t stack_copies_apply(struct stack_copies *c, struct sampler_drain *d, bool final)
{
	size_t n_orig = d->n, want = 0, kept = 0, waiting;
	struct sampler_entry *room;

	/* Up to now: the copies of the samples just drained. */
	consume_ring(c);
	waiting = resolve(c, (int)d->gen, final);
	c->last_resolve_ns = monotonic_ns();
	for (size_t i = 0; i < c->n_walked; i++)
		want += c->walked[i].gen == d->gen;
	/* Room for every move first: a sample is moved whole or not at all. */
	room = want ? realloc(d->entries, (n_orig + want) * sizeof(*room)) : NULL;
	if (room)
		d->entries = room;
	qsort(d->entries, n_orig, sizeof(*d->entries), entry_cmp);
	for (size_t i = 0; i < c->n_walked; i++) {
		const struct walked *w = &c->walked[i];

		if (w->gen != d->gen) {
			c->walked[kept++] = *w; /* the next drain's */
			continue;
		}
		/* An off-CPU block is one value under its stack: it stays as
		 * BPF walked it; its copy only had the files it needs read. */
		if (room && w->key.kind == SMOLDER_KIND_CPU && walked_better(c, d, w) &&
		    move_sample(c, d, n_orig, w)) {
			c->st.used++;
		} else {
			log_debug("stack copy of pid %u unused: walked %u frames, end %u", w->key.tgid,
				  w->st.len, w->st.end);
			c->st.unused++;
		}
	}
	c->n_walked = kept;
	if (d->n != n_orig)
		merge_entries(d);
	return waiting;
}

size_t stack_copies_waiting(const struct stack_copies *c, uint32_t gen)
{
	size_t n = 0;

	for (size_t i = 0; i < c->n_pending; i++)
		n += c->pending[i]->gen == gen;
	return n;
}
