/* The kernel's own word on mappings (see mmap_events.h): one software
 * dummy perf event per CPU, which counts nothing and only reports
 * PERF_RECORD_MMAP2 (executable mappings, with the file's build-id, Linux
 * 5.12) and PERF_RECORD_COMM (an exec), read through libbpf's perf buffer. */
#include "mmap_events.h"

#include <errno.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#define PAGES_PER_CPU 64 /* 256 KiB: a burst of a few thousand mmaps */

struct mmap_events {
	struct perf_buffer *pb;
	int map_fd; /* the PERF_EVENT_ARRAY the perf buffer keeps its fds in */
	struct disc_mmap_log *log;
	struct mmap_events_stats st;
};

/* PERF_RECORD_MMAP2 as the kernel writes it without sample_id_all: the
 * union holds the build-id when PERF_RECORD_MISC_MMAP_BUILD_ID is set in
 * the header's misc, else the file's device and inode. */
struct mmap2_record {
	struct perf_event_header header;
	__u32 pid, tid;
	__u64 addr, len, pgoff;
	union {
		struct {
			__u32 maj, min;
			__u64 ino, ino_generation;
		};
		struct {
			__u8 build_id_size;
			__u8 reserved_1;
			__u16 reserved_2;
			__u8 build_id[20];
		};
	};
	__u32 prot, flags;
	char filename[];
};

struct comm_record {
	struct perf_event_header header;
	__u32 pid, tid;
	char comm[];
};

struct lost_record {
	struct perf_event_header header;
	__u64 id, lost;
};

/* With sample_id_all and PERF_SAMPLE_TIME alone, every record ends in the
 * time it was written at (CLOCK_MONOTONIC, use_clockid). */
static uint64_t record_time(const struct perf_event_header *h)
{
	uint64_t t;

	memcpy(&t, (const char *)h + h->size - sizeof(t), sizeof(t));
	return t;
}

static void on_mmap2(struct mmap_events *m, const struct mmap2_record *r)
{
	size_t name_max = r->header.size - sizeof(*r) - sizeof(uint64_t);
	char build_id[2 * sizeof(r->build_id) + 1] = "";

	/* Only files: not the vDSO, not anonymous code (a JIT's). */
	if (r->header.size <= sizeof(*r) + sizeof(uint64_t) || r->filename[0] != '/' ||
	    strnlen(r->filename, name_max) == name_max)
		return;
	if (r->header.misc & PERF_RECORD_MISC_MMAP_BUILD_ID) {
		size_t n = r->build_id_size < sizeof(r->build_id) ? r->build_id_size
								  : sizeof(r->build_id);

		for (size_t i = 0; i < n; i++)
			snprintf(build_id + 2 * i, 3, "%02x", r->build_id[i]);
	}
	/* Without a build-id the file cannot be told from another of its
	 * name, and a frame is right or unknown: not logged. */
	if (!build_id[0]) {
		m->st.no_build_id++;
		return;
	}
	disc_mmap_log_add(m->log, (int)r->pid, record_time(&r->header), r->addr, r->len, r->pgoff,
			  build_id, r->filename);
}

static enum bpf_perf_event_ret on_record(void *ctx, int cpu, struct perf_event_header *h)
{
	struct mmap_events *m = ctx;

	(void)cpu;
	switch (h->type) {
	case PERF_RECORD_MMAP2:
		on_mmap2(m, (const struct mmap2_record *)h);
		break;
	case PERF_RECORD_COMM:
		/* An exec: the old image's mappings are of no use any more. */
		if ((h->misc & PERF_RECORD_MISC_COMM_EXEC) &&
		    h->size >= sizeof(struct comm_record) + sizeof(uint64_t))
			disc_mmap_log_exec(m->log, (int)((const struct comm_record *)h)->pid,
					   record_time(h));
		break;
	case PERF_RECORD_LOST:
		if (h->size >= sizeof(struct lost_record))
			m->st.lost += ((const struct lost_record *)h)->lost;
		break;
	}
	return LIBBPF_PERF_EVENT_CONT;
}

int mmap_events_new(struct disc_mmap_log *log, struct mmap_events **out, const char **what)
{
	struct perf_event_attr attr = {
		.size = sizeof(attr),
		.type = PERF_TYPE_SOFTWARE,
		.config = PERF_COUNT_SW_DUMMY,
		.mmap = 1,
		.mmap2 = 1,
		.build_id = 1,
		.comm = 1,
		.comm_exec = 1,
		.sample_id_all = 1,
		.sample_type = PERF_SAMPLE_TIME,
		/* One clock for every CPU's records: the default (the
		 * scheduler's) may differ between CPUs, and an exec's record
		 * is ordered against mappings read from another CPU's buffer. */
		.use_clockid = 1,
		.clockid = CLOCK_MONOTONIC,
		.watermark = 1,
		.wakeup_watermark = PAGES_PER_CPU * 4096 / 2,
	};
	struct mmap_events *m = calloc(1, sizeof(*m));
	int ncpu = libbpf_num_possible_cpus(), err;

	*what = "allocating";
	if (!m)
		return -ENOMEM;
	m->log = log;
	m->map_fd = -1;
	if (ncpu <= 0) {
		err = ncpu ? ncpu : -EINVAL;
		*what = "counting possible CPUs";
		goto fail;
	}
	m->map_fd = bpf_map_create(BPF_MAP_TYPE_PERF_EVENT_ARRAY, "smolder_mmaps", sizeof(int),
				   sizeof(int), (__u32)ncpu, NULL);
	if (m->map_fd < 0) {
		err = -errno;
		*what = "creating the perf event array";
		goto fail;
	}
	m->pb = perf_buffer__new_raw(m->map_fd, PAGES_PER_CPU, &attr, on_record, m, NULL);
	if (!m->pb) {
		err = -errno;
		*what = "opening a dummy perf event per CPU for mmap records";
		goto fail;
	}
	*out = m;
	return 0;
fail:
	mmap_events_free(m);
	return err;
}

void mmap_events_free(struct mmap_events *m)
{
	if (!m)
		return;
	perf_buffer__free(m->pb);
	if (m->map_fd >= 0)
		close(m->map_fd);
	free(m);
}

int mmap_events_fd(const struct mmap_events *m)
{
	return perf_buffer__epoll_fd(m->pb);
}

int mmap_events_consume(struct mmap_events *m)
{
	return perf_buffer__consume(m->pb);
}

void mmap_events_get_stats(const struct mmap_events *m, struct mmap_events_stats *st)
{
	*st = m->st;
}
