/* The memory targets and their probes (see memory_targets.h). */
#include "memory_targets.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/libbpf.h>

#include "log.h"
#include "memory_probes.h"

#define NSEC 1000000000LL
#define BACKOFF_FIRST_NS (10 * NSEC)
#define BACKOFF_MAX_NS (300 * NSEC)
#define DESTROY_THREADS 16

enum target_state {
	TARGET_ON,     /* probes attached */
	TARGET_OFF,    /* taken off past the ceiling, until off_until */
	TARGET_FAILED, /* could not be probed: not tried again for this image */
};

struct target {
	int pid;
	uint64_t start_ticks;
	uint32_t exec_id;
	bool exec_id_known;
	char *exe_path;            /* to tell its children that have not exec'd */
	enum target_state state;
	struct bpf_link **links;
	size_t n_links;
	uint64_t hits_seen;        /* the hit count when last read */
	int64_t hits_at;
	int64_t backoff_ns, off_until, on_since;
	int64_t on_ns;             /* probes on in the interval under way */
	int64_t first_on;          /* when it became a target */
	double hidden;             /* of the interval last closed */
	bool seen;                 /* live at the tick under way */
};

/* A process judged no target, so that it is not judged at every tick. */
struct passed {
	int pid;
	uint64_t start_ticks;
	uint32_t exec_id;
	bool seen;
};

/* Links handed to the destroying thread, with the process whose live
 * allocations are forgotten once they are off. */
struct doomed {
	struct bpf_link **links;
	size_t n;
	int pid;
};

struct memory_targets {
	struct memory_targets_opts o;
	struct target *v;
	size_t n, cap;
	struct passed *passed;
	size_t n_passed, cap_passed;
	int64_t interval_start;
	uint64_t hits, attach_failed, detached, scaled;
	pthread_t thread;
	bool thread_started;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct doomed *queue;
	size_t nq, capq;
	bool stopping;
	uint64_t forgotten; /* under lock */
};

static int grow(void **v, size_t *cap, size_t n, size_t size)
{
	size_t ncap = *cap ? *cap * 2 : 16;
	void *p;

	if (n < *cap)
		return 0;
	p = realloc(*v, ncap * size);
	if (!p)
		return -ENOMEM;
	*v = p;
	*cap = ncap;
	return 0;
}

static void *destroy_link(void *link)
{
	bpf_link__destroy(link);
	return NULL;
}

/* Each link's close waits for a grace period (100 to 150 ms here): closed
 * one after another, a target's fifteen kept it probed for 1.7 s after it
 * passed the ceiling. Closed side by side, the waits overlap. */
static void destroy_links(struct bpf_link **links, size_t n)
{
	pthread_t threads[DESTROY_THREADS];
	bool started[DESTROY_THREADS];

	for (size_t from = 0; from < n; from += DESTROY_THREADS) {
		size_t k = n - from < DESTROY_THREADS ? n - from : DESTROY_THREADS;

		for (size_t i = 0; i < k; i++) {
			started[i] = pthread_create(&threads[i], NULL, destroy_link,
						    links[from + i]) == 0;
			if (!started[i])
				bpf_link__destroy(links[from + i]);
		}
		for (size_t i = 0; i < k; i++)
			if (started[i])
				pthread_join(threads[i], NULL);
	}
	free(links);
}

static void *destroyer(void *arg)
{
	struct memory_targets *mt = arg;

	pthread_mutex_lock(&mt->lock);
	for (;;) {
		struct doomed d;
		size_t forgotten;

		while (!mt->nq && !mt->stopping)
			pthread_cond_wait(&mt->cond, &mt->lock);
		if (!mt->nq)
			break;
		d = mt->queue[0];
		memmove(mt->queue, mt->queue + 1, --mt->nq * sizeof(*mt->queue));
		pthread_mutex_unlock(&mt->lock);
		destroy_links(d.links, d.n);
		/* Only now can no program add one of its allocations. */
		forgotten = sampler_memory_forget(mt->o.sampler, d.pid);
		pthread_mutex_lock(&mt->lock);
		mt->forgotten += forgotten;
	}
	pthread_mutex_unlock(&mt->lock);
	return NULL;
}

struct memory_targets *memory_targets_new(const struct memory_targets_opts *opts)
{
	struct memory_targets *mt = calloc(1, sizeof(*mt));

	if (!mt)
		return NULL;
	mt->o = *opts;
	pthread_mutex_init(&mt->lock, NULL);
	pthread_cond_init(&mt->cond, NULL);
	errno = pthread_create(&mt->thread, NULL, destroyer, mt);
	if (errno) {
		free(mt);
		return NULL;
	}
	mt->thread_started = true;
	return mt;
}

/* Hands t's links to the destroying thread; destroys them here if it
 * cannot take them. */
static void take_off(struct memory_targets *mt, struct target *t)
{
	struct doomed d = { t->links, t->n_links, t->pid };

	t->links = NULL;
	t->n_links = 0;
	sampler_memory_watch(mt->o.sampler, t->pid, false);
	pthread_mutex_lock(&mt->lock);
	if (grow((void **)&mt->queue, &mt->capq, mt->nq, sizeof(*mt->queue)) == 0) {
		mt->queue[mt->nq++] = d;
		d.links = NULL;
		pthread_cond_signal(&mt->cond);
	}
	pthread_mutex_unlock(&mt->lock);
	if (d.links) {
		destroy_links(d.links, d.n);
		sampler_memory_forget(mt->o.sampler, d.pid);
	}
}

/* Whether the process t was made of still has its pid. */
static bool still_there(const struct target *t)
{
	struct disc_stat st;

	return disc_stat_read(NULL, t->pid, &st) == 0 && st.start_ticks == t->start_ticks;
}

/* Attaches the probes of p's allocator to p alone. */
static int put_on(struct memory_targets *mt, struct target *t, const struct disc_process *p,
		  int64_t now)
{
	struct memory_probe_set set = { 0 };
	int err;

	/* Stale records of calls in flight when its probes last came off. */
	sampler_memory_forget(mt->o.sampler, t->pid);
	err = memory_probes_find(mt->o.sym, p, &set);
	for (size_t i = 0; i < set.n && !err; i++) {
		const struct memory_probe *pr = &set.v[i];
		struct bpf_link *in, *out, **links;

		log_debug("memory target %d: %s at %s+0x%llx%s", t->pid, pr->name, pr->path,
			  (unsigned long long)pr->offset, pr->ret ? " and its return" : "");
		err = sampler_memory_attach(mt->o.sampler, t->pid, pr->path, pr->offset, pr->call,
					    pr->ret, &in, &out);
		if (err) {
			log_warn("memory target %d: attaching to %s at %s+0x%llx: %s", t->pid,
				 pr->name, pr->path, (unsigned long long)pr->offset,
				 strerror(-err));
			break;
		}
		links = realloc(t->links, (t->n_links + 2) * sizeof(*t->links));
		if (!links) {
			/* Those attached so far stay in t->links, taken off below. */
			bpf_link__destroy(in);
			bpf_link__destroy(out);
			err = -ENOMEM;
			break;
		}
		t->links = links;
		t->links[t->n_links++] = in;
		if (out)
			t->links[t->n_links++] = out;
	}
	if (!err)
		err = sampler_memory_watch(mt->o.sampler, t->pid, true);
	/* The probes went to whatever had the pid as they were attached: had
	 * the target exited and its pid been taken meanwhile, they are on a
	 * stranger. */
	if (!err && !still_there(t))
		err = -ESRCH;
	if (err) {
		if (err != -ENOENT)
			mt->attach_failed++;
		log_warn("memory target %d (%s): no memory profile: %s", t->pid, p->comm,
			 err == -ENOENT ? "it maps no allocator known"
			 : err == -ESRCH ? "it exited as its probes were attached"
					 : strerror(-err));
		take_off(mt, t);
		t->state = TARGET_FAILED;
	} else {
		log_info("memory target %d (%s): %zu probes on %s", t->pid, p->comm, t->n_links,
			 set.allocator);
		t->state = TARGET_ON;
		t->on_since = now;
		t->hits_seen = 0;
		t->hits_at = now;
	}
	memory_probe_set_release(&set);
	return err;
}

static struct target *find_target(const struct memory_targets *mt, int pid, uint64_t start_ticks)
{
	for (size_t i = 0; i < mt->n; i++)
		if (mt->v[i].pid == pid && mt->v[i].start_ticks == start_ticks)
			return &mt->v[i];
	return NULL;
}

static struct passed *find_passed(struct memory_targets *mt, const struct disc_process *p)
{
	for (size_t i = 0; i < mt->n_passed; i++) {
		struct passed *q = &mt->passed[i];

		if (q->pid == p->pid && q->start_ticks == p->start_ticks && q->exec_id == p->exec_id)
			return q;
	}
	return NULL;
}

/* Forked by a target and not exec'd since: the same executable as its
 * parent's (a child that exec'd the same file again is taken for one
 * that did not). */
static bool child_of_target(const struct memory_targets *mt, const struct disc_process *p)
{
	for (size_t i = 0; i < mt->n && p->ppid > 0; i++) {
		const struct target *t = &mt->v[i];

		if (t->pid == p->ppid && t->start_ticks <= p->start_ticks && t->exe_path &&
		    p->exe_path && strcmp(t->exe_path, p->exe_path) == 0)
			return true;
	}
	return false;
}

static void drop_target(struct memory_targets *mt, size_t i)
{
	struct target *t = &mt->v[i];

	if (t->n_links || t->state == TARGET_ON)
		take_off(mt, t);
	free(t->exe_path);
	mt->v[i] = mt->v[--mt->n];
}

struct visit {
	struct memory_targets *mt;
	int64_t now;
};

/* The tables of every file p runs code from, loaded and published. An
 * agent that reads files on demand (a stack passed through them: a CPU
 * sample's copy asks) would leave an allocation's stack, which sends no
 * copy, walked by frame pointers through the files no CPU sample asked
 * for. */
static void want_every_table(struct memory_targets *mt, const struct disc_process *p)
{
	for (size_t i = 0; i < p->maps.n; i++) {
		const struct disc_mapping *m = &p->maps.v[i];

		if (m->perms[2] == 'x' && m->path && m->path[0] == '/')
			unwind_loader_want(mt->o.unwind, mt->o.disc, p, m->start);
	}
	unwind_loader_publish(mt->o.unwind, p);
}

static void add_target(struct memory_targets *mt, const struct disc_process *p, int64_t now)
{
	struct target *t;

	if (grow((void **)&mt->v, &mt->cap, mt->n, sizeof(*mt->v)))
		return;
	t = &mt->v[mt->n++];
	*t = (struct target){
		.pid = p->pid, .start_ticks = p->start_ticks, .exec_id = p->exec_id,
		.exec_id_known = p->exec_id_known, .exe_path = p->exe_path ? strdup(p->exe_path) : NULL,
		.first_on = now, .hidden = 1.0, .seen = true,
	};
	/* Its maps as they are now, and its tables before its first sample:
	 * else its allocations' stacks are walked by frame pointers. */
	disc_table_refresh_maps(mt->o.disc, p);
	if (mt->o.unwind)
		want_every_table(mt, p);
	put_on(mt, t, p, now);
}

/* p exec'd since t was made of it: another executable, or another exec
 * count (known once the kernel has said it). */
static bool exec_since(const struct target *t, const struct disc_process *p)
{
	if ((t->exe_path == NULL) != (p->exe_path == NULL) ||
	    (t->exe_path && strcmp(t->exe_path, p->exe_path) != 0))
		return true;
	return t->exec_id_known && p->exec_id_known && t->exec_id != p->exec_id;
}

static void judge(const struct disc_process *p, void *arg)
{
	struct visit *vi = arg;
	struct memory_targets *mt = vi->mt;
	struct target *t;
	struct passed *q;
	int wanted;

	if (p->kernel_thread || p->exited)
		return;
	t = find_target(mt, p->pid, p->start_ticks);
	if (t && !exec_since(t, p)) {
		t->seen = true;
		if (!t->exec_id_known && p->exec_id_known) {
			t->exec_id = p->exec_id;
			t->exec_id_known = true;
		}
		return;
	}
	if (t) /* it exec'd: judged again, probed again */
		drop_target(mt, (size_t)(t - mt->v));
	q = find_passed(mt, p);
	if (q) {
		q->seen = true;
		return;
	}
	wanted = mt->o.wants(mt->o.wants_arg, p);
	if (wanted > 0 || child_of_target(mt, p)) {
		add_target(mt, p, vi->now);
		return;
	}
	if (wanted < 0)
		return;
	if (grow((void **)&mt->passed, &mt->cap_passed, mt->n_passed, sizeof(*mt->passed)))
		return;
	mt->passed[mt->n_passed++] = (struct passed){ p->pid, p->start_ticks, p->exec_id, true };
}

/* Past the ceiling: probes off for a while, doubling while it stays. */
static void back_off(struct memory_targets *mt, struct target *t, uint64_t rate, int64_t now)
{
	t->backoff_ns = t->backoff_ns ? t->backoff_ns * 2 : BACKOFF_FIRST_NS;
	if (t->backoff_ns > BACKOFF_MAX_NS)
		t->backoff_ns = BACKOFF_MAX_NS;
	t->off_until = now + t->backoff_ns;
	t->on_ns += now - t->on_since;
	t->state = TARGET_OFF;
	mt->detached++;
	log_info("memory target %d: %llu allocator calls a second, over --memory-max-hits %u: "
		 "probes off for %llds",
		 t->pid, (unsigned long long)rate, mt->o.max_hits,
		 (long long)(t->backoff_ns / NSEC));
	take_off(mt, t);
}

static void watch_hits(struct memory_targets *mt, struct target *t, int64_t now)
{
	uint64_t hits, rate;

	if (sampler_memory_hits(mt->o.sampler, t->pid, &hits) || hits < t->hits_seen)
		return;
	mt->hits += hits - t->hits_seen;
	rate = now > t->hits_at ? (hits - t->hits_seen) * (uint64_t)NSEC /
					  (uint64_t)(now - t->hits_at)
				: 0;
	t->hits_seen = hits;
	t->hits_at = now;
	if (mt->o.max_hits && rate > mt->o.max_hits) {
		back_off(mt, t, rate, now);
		return;
	}
	/* On and within bounds for twice its last time off: forgiven. */
	if (t->backoff_ns && now - t->on_since > 2 * t->backoff_ns)
		t->backoff_ns = 0;
}

/* Its time off over: probes on again, inuse_* from nothing. */
static void put_on_again(struct memory_targets *mt, struct target *t, int64_t now)
{
	const struct disc_process *p = disc_table_get(mt->o.disc, t->pid, t->start_ticks);

	if (p)
		put_on(mt, t, p, now);
}

/* The children targets forked since the last tick, known now: the scan
 * of /proc that would find them comes every 10 s. */
static void learn_forks(struct memory_targets *mt)
{
	int children[64];
	uint64_t starts[64];
	size_t n;

	do {
		n = sampler_memory_forks(mt->o.sampler, children, starts, 64);
		for (size_t i = 0; i < n; i++)
			disc_table_get(mt->o.disc, children[i], starts[i]);
	} while (n == 64);
}

void memory_targets_tick(struct memory_targets *mt, int64_t now)
{
	struct visit vi = { mt, now };

	learn_forks(mt);
	for (size_t i = 0; i < mt->n; i++)
		mt->v[i].seen = false;
	for (size_t i = 0; i < mt->n_passed; i++)
		mt->passed[i].seen = false;
	disc_table_for_each(mt->o.disc, judge, &vi);
	for (size_t i = mt->n; i-- > 0;)
		if (!mt->v[i].seen)
			drop_target(mt, i);
	for (size_t i = mt->n_passed; i-- > 0;)
		if (!mt->passed[i].seen)
			mt->passed[i] = mt->passed[--mt->n_passed];
	for (size_t i = 0; i < mt->n; i++) {
		struct target *t = &mt->v[i];

		if (t->state == TARGET_ON)
			watch_hits(mt, t, now);
		else if (t->state == TARGET_OFF && now >= t->off_until)
			put_on_again(mt, t, now);
	}
}

void memory_targets_interval_closed(struct memory_targets *mt, int64_t now)
{
	for (size_t i = 0; i < mt->n; i++) {
		struct target *t = &mt->v[i];
		int64_t from = t->first_on > mt->interval_start ? t->first_on : mt->interval_start;

		if (t->state == TARGET_ON) {
			t->on_ns += now - (t->on_since > from ? t->on_since : from);
			t->on_since = now;
		}
		t->hidden = t->on_ns > 0 && now > from ? (double)(now - from) / (double)t->on_ns : 1.0;
		if (t->hidden < 1.0)
			t->hidden = 1.0;
		if (t->hidden > 1.001 && t->on_ns > 0)
			mt->scaled++;
		t->on_ns = 0;
	}
	mt->interval_start = now;
}

double memory_targets_hidden(const struct memory_targets *mt, int pid, uint64_t start_ticks)
{
	const struct target *t = mt ? find_target(mt, pid, start_ticks) : NULL;

	return t ? t->hidden : 1.0;
}

void memory_targets_count(struct memory_targets *mt, struct counters *c)
{
	size_t on = 0;

	for (size_t i = 0; i < mt->n; i++)
		on += mt->v[i].state == TARGET_ON;
	counters_set(c, CTR_MALLOC_TARGETS, on);
	counters_add(c, CTR_MALLOC_HITS, mt->hits);
	counters_add(c, CTR_MALLOC_ATTACH_FAILED, mt->attach_failed);
	counters_add(c, CTR_MALLOC_DETACHED, mt->detached);
	counters_add(c, CTR_MALLOC_SCALED, mt->scaled);
	mt->hits = mt->attach_failed = mt->detached = mt->scaled = 0;
	pthread_mutex_lock(&mt->lock);
	counters_add(c, CTR_MALLOC_FORGOTTEN, mt->forgotten);
	mt->forgotten = 0;
	pthread_mutex_unlock(&mt->lock);
}

void memory_targets_free(struct memory_targets *mt)
{
	if (!mt)
		return;
	while (mt->n)
		drop_target(mt, mt->n - 1);
	if (mt->thread_started) {
		pthread_mutex_lock(&mt->lock);
		mt->stopping = true;
		pthread_cond_signal(&mt->cond);
		pthread_mutex_unlock(&mt->lock);
		pthread_join(mt->thread, NULL);
	}
	free(mt->queue);
	free(mt->v);
	free(mt->passed);
	pthread_mutex_destroy(&mt->lock);
	pthread_cond_destroy(&mt->cond);
	free(mt);
}
