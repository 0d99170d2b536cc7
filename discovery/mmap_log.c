/* discovery: the executable mappings the kernel announces as they are
 * made (perf's PERF_RECORD_MMAP2 with build-ids, read by
 * agent/proc_events.c), kept per process until it exits. A process gone
 * before its /proc files were read gets these as its mappings
 * (disc_table_add_gone), so its frames are named from the files they name,
 * each checked by build-id.
 *
 * Bounded in bytes: a mapping that does not fit is dropped and counted,
 * and its frames stay unnamed if its process is gone before it is read.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "proc.h"

#define BUCKETS 4096 /* a power of two */

struct log_mapping {
	struct log_mapping *next;
	uint64_t time; /* the kernel's, CLOCK_MONOTONIC ns */
	uint64_t start, end, offset;
	char build_id[DISC_BUILD_ID_HEX_MAX + 1];
	char path[]; /* NUL-terminated */
};

struct log_proc {
	struct log_proc *next;
	int pid;
	size_t n;
	uint64_t exec_time;       /* of its last exec: older mappings are the old image's */
	struct log_mapping *maps; /* newest first */
};

struct disc_mmap_log {
	struct log_proc *buckets[BUCKETS];
	size_t bytes, max_bytes;
	struct disc_mmap_log_stats st;
};

struct disc_mmap_log *disc_mmap_log_new(size_t max_bytes)
{
	struct disc_mmap_log *l = calloc(1, sizeof(*l));

	if (l)
		l->max_bytes = max_bytes;
	return l;
}

static struct log_proc **slot(struct disc_mmap_log *l, int pid)
{
	struct log_proc **p = &l->buckets[(unsigned int)pid & (BUCKETS - 1)];

	while (*p && (*p)->pid != pid)
		p = &(*p)->next;
	return p;
}

static size_t mapping_bytes(const struct log_mapping *m)
{
	return sizeof(*m) + strlen(m->path) + 1;
}

void disc_mmap_log_forget(struct disc_mmap_log *l, int pid)
{
	struct log_proc **p = slot(l, pid), *proc = *p;

	if (!proc)
		return;
	*p = proc->next;
	for (struct log_mapping *m = proc->maps, *next; m; m = next) {
		next = m->next;
		l->bytes -= mapping_bytes(m);
		free(m);
	}
	l->bytes -= sizeof(*proc);
	free(proc);
}

void disc_mmap_log_free(struct disc_mmap_log *l)
{
	if (!l)
		return;
	for (size_t b = 0; b < BUCKETS; b++)
		while (l->buckets[b])
			disc_mmap_log_forget(l, l->buckets[b]->pid);
	free(l);
}

/* Records come per CPU: an exec read after its process's first mappings
 * (it ran on a CPU whose buffer is read later) must not drop them, nor a
 * mapping read after the exec that ended its image be kept. */
void disc_mmap_log_exec(struct disc_mmap_log *l, int pid, uint64_t time)
{
	struct log_proc *p = *slot(l, pid);

	if (!p) {
		p = calloc(1, sizeof(*p));
		if (!p)
			return;
		p->pid = pid;
		*slot(l, pid) = p;
		l->bytes += sizeof(*p);
	}
	if (time <= p->exec_time)
		return;
	p->exec_time = time;
	for (struct log_mapping **m = &p->maps; *m;) {
		if ((*m)->time < time) {
			struct log_mapping *old = *m;

			*m = old->next;
			l->bytes -= mapping_bytes(old);
			p->n--;
			free(old);
		} else {
			m = &(*m)->next;
		}
	}
}

int disc_mmap_log_add(struct disc_mmap_log *l, int pid, uint64_t time, uint64_t start,
		      uint64_t len, uint64_t offset, const char *build_id, const char *path)
{
	size_t path_len = strnlen(path, DISC_MMAP_PATH_MAX);
	struct log_proc **p = slot(l, pid);
	size_t need = sizeof(struct log_mapping) + path_len + 1 + (*p ? 0 : sizeof(**p));
	struct log_mapping *m;

	if (len == 0 || start + len < start || path_len == DISC_MMAP_PATH_MAX ||
	    strlen(build_id) > DISC_BUILD_ID_HEX_MAX)
		return -EINVAL;
	if (*p && time < (*p)->exec_time)
		return 0; /* of an image gone by already */
	if (l->bytes + need > l->max_bytes || (*p && (*p)->n >= DISC_MMAP_PER_PROCESS_MAX)) {
		l->st.dropped++;
		return -ENOSPC;
	}
	m = malloc(sizeof(*m) + path_len + 1);
	if (!m)
		return -ENOMEM;
	if (!*p) {
		*p = calloc(1, sizeof(**p));
		if (!*p) {
			free(m);
			return -ENOMEM;
		}
		(*p)->pid = pid;
	}
	m->time = time;
	m->start = start;
	m->end = start + len;
	m->offset = offset;
	strcpy(m->build_id, build_id);
	memcpy(m->path, path, path_len);
	m->path[path_len] = '\0';
	m->next = (*p)->maps;
	(*p)->maps = m;
	(*p)->n++;
	l->bytes += need;
	l->st.added++;
	return 0;
}

static int by_start(const void *a, const void *b)
{
	const struct disc_mapping *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

/* One allocation for the mappings and their strings, as disc_maps_parse
 * makes them (disc_mappings_release frees both). A later mapping over an
 * earlier one's range (a library mapped again after a munmap) is the one
 * the process has: the older is left out. */
int disc_mmap_log_mappings(const struct disc_mmap_log *l, int pid, struct disc_mappings *out)
{
	struct log_proc *const *p = slot((struct disc_mmap_log *)l, pid);
	size_t n = 0, strings = 0, at;
	struct disc_mapping *v;
	char *s;

	*out = (struct disc_mappings){ 0 };
	if (!*p)
		return 0;
	for (const struct log_mapping *m = (*p)->maps; m; m = m->next)
		strings += strlen(m->path) + 1 + strlen(m->build_id) + 1;
	v = malloc((*p)->n * sizeof(*v) + strings);
	if (!v)
		return -ENOMEM;
	s = (char *)(v + (*p)->n);
	for (const struct log_mapping *m = (*p)->maps; m; m = m->next) {
		bool covered = false;

		for (size_t i = 0; i < n && !covered; i++)
			covered = m->start < v[i].end && v[i].start < m->end;
		if (covered)
			continue;
		v[n] = (struct disc_mapping){
			.start = m->start, .end = m->end, .offset = m->offset, .perms = "r-xp",
		};
		at = strlen(m->path) + 1;
		v[n].path = memcpy(s, m->path, at);
		s += at;
		if (m->build_id[0]) {
			at = strlen(m->build_id) + 1;
			v[n].build_id = memcpy(s, m->build_id, at);
			s += at;
		}
		n++;
	}
	qsort(v, n, sizeof(*v), by_start);
	out->v = v;
	out->n = n;
	out->bytes = (*p)->n * sizeof(*v) + strings;
	return 0;
}

static size_t strings_of(const struct disc_mapping *m)
{
	return (m->path ? strlen(m->path) + 1 : 0) + (m->build_id ? strlen(m->build_id) + 1 : 0);
}

static char *copy_string(char **s, const char *from)
{
	size_t n;
	char *to = *s;

	if (!from)
		return NULL;
	n = strlen(from) + 1;
	memcpy(to, from, n);
	*s += n;
	return to;
}

int disc_mappings_merge(const struct disc_mappings *have, const struct disc_mappings *more,
			struct disc_mappings *out)
{
	size_t n = have->n, strings = 0, added = 0;
	bool *take = calloc(more->n + 1, sizeof(*take));
	struct disc_mapping *v;
	char *s;

	*out = (struct disc_mappings){ 0 };
	if (!take)
		return -ENOMEM;
	for (size_t i = 0; i < have->n; i++)
		strings += strings_of(&have->v[i]);
	for (size_t j = 0; j < more->n; j++) {
		bool covered = false;

		for (size_t i = 0; i < have->n && !covered; i++)
			covered = more->v[j].start < have->v[i].end && have->v[i].start < more->v[j].end;
		if (!covered) {
			take[j] = true;
			strings += strings_of(&more->v[j]);
			added++;
		}
	}
	v = malloc((n + added) * sizeof(*v) + strings + 1);
	if (!v) {
		free(take);
		return -ENOMEM;
	}
	s = (char *)(v + n + added);
	for (size_t i = 0; i < have->n; i++) {
		v[i] = have->v[i];
		v[i].path = copy_string(&s, have->v[i].path);
		v[i].build_id = copy_string(&s, have->v[i].build_id);
	}
	for (size_t j = 0; j < more->n; j++) {
		if (!take[j])
			continue;
		v[n] = more->v[j];
		v[n].path = copy_string(&s, more->v[j].path);
		v[n].build_id = copy_string(&s, more->v[j].build_id);
		n++;
	}
	free(take);
	qsort(v, n, sizeof(*v), by_start);
	out->v = v;
	out->n = n;
	out->bytes = n * sizeof(*v) + strings;
	out->cut = have->cut;
	return (int)added;
}

uint64_t disc_mmap_log_exec_time(const struct disc_mmap_log *l, int pid)
{
	struct log_proc *const *p = slot((struct disc_mmap_log *)l, pid);

	return *p ? (*p)->exec_time : 0;
}

bool disc_mmap_log_has(const struct disc_mmap_log *l, int pid)
{
	struct log_proc *const *p = slot((struct disc_mmap_log *)l, pid);

	return *p && (*p)->n;
}

void disc_mmap_log_get_stats(const struct disc_mmap_log *l, struct disc_mmap_log_stats *st)
{
	*st = l->st;
	st->bytes = l->bytes;
}
