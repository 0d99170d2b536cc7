/* The memory programs of the sampler (bpf/memory.h): which are loaded,
 * their attachment to each target, and what the sampled allocations hold
 * at each drain. */
#include "sampler_internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "memory.h"
#include "python.h"
#include "sample.skel.h"

void sampler_memory_choose(struct sampler *s, const struct sampler_opts *o)
{
	struct sample_bpf *skel = s->skel;
	struct bpf_program *each[SMOLDER_MEM_CALL_COUNT] = {
		[SMOLDER_MEM_MALLOC] = skel->progs.smolder_mi_malloc,
		[SMOLDER_MEM_CALLOC] = skel->progs.smolder_mi_calloc,
		[SMOLDER_MEM_REALLOC] = skel->progs.smolder_mi_realloc,
		[SMOLDER_MEM_MEMALIGN] = skel->progs.smolder_mi_memalign,
		[SMOLDER_MEM_POSIX_MEMALIGN] = skel->progs.smolder_mi_posix_ma,
		[SMOLDER_MEM_FREE] = skel->progs.smolder_mi_free,
	};

	s->memory_ret = !o->memory               ? NULL
			: o->walk_frame_pointers ? skel->progs.smolder_mem_rfp
						 : skel->progs.smolder_mem_ret;
	for (int c = SMOLDER_MEM_MALLOC; c < SMOLDER_MEM_CALL_COUNT; c++) {
		s->memory_in[c] = !o->memory ? NULL
				  : o->memory_no_cookie ? each[c] : skel->progs.smolder_mem_in;
		bpf_program__set_autoload(each[c], o->memory && o->memory_no_cookie);
	}
	bpf_program__set_autoload(skel->progs.smolder_mem_in, o->memory && !o->memory_no_cookie);
	bpf_program__set_autoload(skel->progs.smolder_mem_fork, o->memory);
	/* Without memory profiles the maps are there but never used: the
	 * least the kernel takes (an LRU map is allocated whole). */
	if (!o->memory) {
		bpf_map__set_max_entries(skel->maps.mem_threads, 1);
		bpf_map__set_max_entries(skel->maps.mem_live, 1);
		bpf_map__set_max_entries(skel->maps.mem_hits, 1);
		bpf_map__set_max_entries(skel->maps.mem_draws, 1);
		bpf_map__set_max_entries(skel->maps.mem_forks, 1);
	}
	bpf_program__set_autoload(skel->progs.smolder_mem_ret,
				  s->memory_ret == skel->progs.smolder_mem_ret);
	bpf_program__set_autoload(skel->progs.smolder_mem_rfp,
				  s->memory_ret == skel->progs.smolder_mem_rfp);
}

/* The quantiles of the exponential distribution of mean mean_bytes at
 * SMOLDER_MEM_DRAWS evenly spread points: drawing one at random draws
 * from the distribution, to within the spacing. */
int sampler_memory_fill_draws(struct sampler *s, uint64_t mean_bytes)
{
	int fd = bpf_map__fd(s->skel->maps.mem_draws);

	if (!s->memory_ret)
		return 0;
	for (__u32 i = 0; i < SMOLDER_MEM_DRAWS; i++) {
		double u = (i + 0.5) / SMOLDER_MEM_DRAWS;
		__u64 bytes = (__u64)(-log(u) * (double)mean_bytes) + 1;

		if (bpf_map_update_elem(fd, &i, &bytes, BPF_ANY))
			return -errno;
	}
	return 0;
}

int sampler_memory_attach(struct sampler *s, int pid, const char *path, uint64_t offset,
			  uint32_t call, bool ret, struct bpf_link **entry, struct bpf_link **exit)
{
	LIBBPF_OPTS(bpf_uprobe_opts, in, .bpf_cookie = call);
	LIBBPF_OPTS(bpf_uprobe_opts, out, .bpf_cookie = call, .retprobe = true);

	*entry = NULL;
	*exit = NULL;
	if (!s->memory_ret || call < SMOLDER_MEM_MALLOC || call >= SMOLDER_MEM_CALL_COUNT)
		return -EINVAL;
	/* A cookie the programs without it ignore. */
	*entry = bpf_program__attach_uprobe_opts(s->memory_in[call], pid, path, (size_t)offset,
						 s->memory_in[call] == s->skel->progs.smolder_mem_in
							 ? &in : NULL);
	if (!*entry)
		return -errno;
	if (!ret)
		return 0;
	*exit = bpf_program__attach_uprobe_opts(s->memory_ret, pid, path, (size_t)offset, &out);
	if (!*exit) {
		int err = -errno;

		bpf_link__destroy(*entry);
		*entry = NULL;
		return err;
	}
	return 0;
}

int sampler_memory_watch(struct sampler *s, int tgid, bool on)
{
	int fd = bpf_map__fd(s->skel->maps.mem_hits);
	__u32 key = (__u32)tgid;
	__u64 zero = 0;

	if (on)
		return bpf_map_update_elem(fd, &key, &zero, BPF_ANY) ? -errno : 0;
	return bpf_map_delete_elem(fd, &key) && errno != ENOENT ? -errno : 0;
}

int sampler_memory_hits(struct sampler *s, int tgid, uint64_t *hits)
{
	__u32 key = (__u32)tgid;
	__u64 v;

	if (bpf_map_lookup_elem(bpf_map__fd(s->skel->maps.mem_hits), &key, &v))
		return -errno;
	*hits = v;
	return 0;
}

/* Deletes the entries of a hash map for which drop(value) is true, keys
 * of key_size bytes (at most 16); returns how many. */
static size_t delete_where(int fd, size_t key_size, void *value,
			   bool (*drop)(const void *value, int tgid), int tgid)
{
	unsigned char key[16], next[16];
	void *prev = NULL;
	size_t n = 0;

	/* Deleting the current key would lose our place: delete behind. */
	while (bpf_map_get_next_key(fd, prev, next) == 0) {
		if (prev && bpf_map_lookup_elem(fd, key, value) == 0 && drop(value, tgid) &&
		    bpf_map_delete_elem(fd, key) == 0)
			n++;
		memcpy(key, next, key_size);
		prev = key;
	}
	if (prev && bpf_map_lookup_elem(fd, key, value) == 0 && drop(value, tgid) &&
	    bpf_map_delete_elem(fd, key) == 0)
		n++;
	return n;
}

static bool live_of(const void *value, int tgid)
{
	const struct smolder_mem_live *l = value;

	return l->key.tgid == (__u32)tgid;
}

static bool thread_of(const void *value, int tgid)
{
	const struct smolder_mem_thread *t = value;

	return t->tgid == (__u32)tgid;
}

size_t sampler_memory_forget(struct sampler *s, int tgid)
{
	struct smolder_mem_live live;
	struct smolder_mem_thread thread;

	if (!s->memory_ret)
		return 0;
	delete_where(bpf_map__fd(s->skel->maps.mem_threads), sizeof(__u32), &thread, thread_of,
		     tgid);
	return delete_where(bpf_map__fd(s->skel->maps.mem_live), sizeof(struct smolder_mem_live_key),
			    &live, live_of, tgid);
}

#define LIVE_BATCH 256

/* Every live allocation's value, in batches (Linux 5.6), else one at a
 * time. *n: how many; malloc'd. */
static int read_live_values(int fd, size_t max, struct smolder_mem_live **out, size_t *n)
{
	struct smolder_mem_live_key keys[LIVE_BATCH], key, next;
	struct smolder_mem_live *v = malloc((max + LIVE_BATCH) * sizeof(*v));
	__u64 batch = 0;
	void *in = NULL, *prev = NULL;
	int err = 0;

	*n = 0;
	if (!v)
		return -ENOMEM;
	for (;;) {
		__u32 got = LIVE_BATCH;

		err = bpf_map_lookup_batch(fd, in, &batch, keys, v + *n, &got, NULL);
		*n += got;
		if (err || *n >= max)
			break;
		in = &batch;
	}
	if (err && errno != ENOENT) {
		/* No batch operations: one at a time. */
		*n = 0;
		while (*n < max && bpf_map_get_next_key(fd, prev, &next) == 0) {
			if (bpf_map_lookup_elem(fd, &next, &v[*n]) == 0)
				(*n)++;
			key = next;
			prev = &key;
		}
	}
	*out = v;
	return 0;
}

static int by_key(const void *a, const void *b)
{
	const struct smolder_mem_live *x = a, *y = b;

	return memcmp(&x->key, &y->key, sizeof(x->key));
}

/* The allocations still held, summed by count key as INUSE entries. Their
 * stacks go to the new generation, to outlive the old one, and those of
 * allocations made since the flip to the old one, to be read with it. */
int sampler_memory_read_live(struct sampler *s, struct sampler_drain *d, size_t *cap)
{
	int fd = bpf_map__fd(s->skel->maps.mem_live);
	int old_fd = sampler_user_stacks_fd(s, d->gen), new_fd = sampler_user_stacks_fd(s, s->gen);
	struct smolder_mem_live *v;
	struct smolder_user_stack *buf = malloc(sizeof(*buf));
	size_t n, i = 0;
	int err = buf ? read_live_values(fd, bpf_map__max_entries(s->skel->maps.mem_live), &v, &n)
		      : -ENOMEM;

	if (err) {
		free(buf);
		return err;
	}
	for (size_t k = 0; k < n; k++)
		v[k].key.kind = SMOLDER_KIND_MEMORY_INUSE;
	qsort(v, n, sizeof(*v), by_key);
	while (i < n && !err) {
		struct sampler_entry e = { .key = v[i].key };

		for (; i < n && memcmp(&v[i].key, &e.key, sizeof(e.key)) == 0; i++) {
			e.count++;
			e.ns += v[i].size;
		}
		sampler_copy_stack(old_fd, new_fd, e.key.user_stack, buf);
		sampler_copy_stack(new_fd, old_fd, e.key.user_stack, buf);
		err = sampler_reserve_entries(d, cap, 1);
		if (!err)
			d->entries[d->n++] = e;
	}
	d->memory_live = n;
	free(v);
	free(buf);
	return err;
}

void sampler_memory_program_names(const struct sampler *s, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (int c = SMOLDER_MEM_MALLOC; c < SMOLDER_MEM_CALL_COUNT && s->memory_ret; c++) {
		const char *name = bpf_program__name(s->memory_in[c]);

		if (c > SMOLDER_MEM_MALLOC && s->memory_in[c] == s->memory_in[c - 1])
			continue;
		used += (size_t)snprintf(buf + used, used < len ? len - used : 0, "%s, ", name);
	}
	if (s->memory_ret)
		snprintf(buf + (used < len ? used : len - 1), used < len ? len - used : 1, "%s",
			 bpf_program__name(s->memory_ret));
}

int sampler_memory_start(struct sampler *s)
{
	if (!s->memory_ret)
		return 0;
	s->memory_fork_link = bpf_program__attach(s->skel->progs.smolder_mem_fork);
	return s->memory_fork_link ? 0 : -errno;
}

size_t sampler_memory_forks(struct sampler *s, int *children, uint64_t *start_ticks, size_t max)
{
	int fd = bpf_map__fd(s->skel->maps.mem_forks);
	struct smolder_mem_fork f;
	__u32 key, next;
	void *prev = NULL;
	size_t n = 0;

	if (!s->memory_ret)
		return 0;
	while (n < max && bpf_map_get_next_key(fd, prev, &next) == 0) {
		if (bpf_map_lookup_and_delete_elem(fd, &next, &f) == 0 ||
		    (bpf_map_lookup_elem(fd, &next, &f) == 0 && bpf_map_delete_elem(fd, &next) == 0)) {
			children[n] = (int)next;
			start_ticks[n++] = f.start_ticks;
			prev = NULL; /* deleted: start over */
			continue;
		}
		key = next;
		prev = &key;
	}
	return n;
}
