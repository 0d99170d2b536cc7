/* The agent's counter table: one place that knows every counter, its name
 * and what it means. Later steps (discovery, upload, unwinding) add rows
 * here. Each interval's values are logged, then folded into the totals.
 */
#ifndef SMOLDER_COUNTERS_H
#define SMOLDER_COUNTERS_H

#include <stddef.h>
#include <stdint.h>

enum counter_id {
	CTR_SAMPLES_TAKEN,        /* counted in BPF: samples of profiled processes */
	CTR_SAMPLES_PROFILED,     /* made it into a profile */
	CTR_LOST_STACK_COLLISION, /* stack map bucket held another stack, or map full */
	CTR_LOST_COUNT_MAP_FULL,
	CTR_LOST_STACK_READ,
	CTR_LOST_UNKNOWN_PROCESS, /* exited before we learnt what it was */
	CTR_LOST_PROFILE_ERROR,   /* could not be added to its profile (no memory) */
	CTR_SAMPLES_DROPPED,      /* of processes a target rule drops */
	CTR_SAMPLES_FILTERED,     /* idle task, or not a --pid target */
	CTR_PROFILES_WRITTEN,
	CTR_OUTPUT_BYTES,         /* gauge: what --output-dir holds */
	CTR_OUTPUT_REMOVED,       /* oldest profiles removed for --output-max-bytes */
	CTR_PROFILE_ERRORS,       /* a profile could not be built or written */
	CTR_PROCESS_EVENTS,       /* exec, exit and first-sample events from BPF */
	CTR_PROCESS_EVENTS_DROPPED, /* lost to a full ring buffer */
	CTR_PROCESSES_TRACKED,    /* gauge: size of the process table */
	CTR_PROCESSES_FROM_KERNEL,  /* known from BPF and mmap records, not /proc */
	CTR_PROCESSES_FORKED,       /* known as a copy of their parent, not /proc */
	CTR_MMAP_LOG_BYTES,       /* the kernel's mmap records kept */
	CTR_MMAP_RECORDS_DROPPED, /* mmap records lost or not kept */
	CTR_PROCESS_MAPS_READS,   /* /proc/PID/maps files read */
	CTR_PROCESS_MAPS_DEFERRED, /* re-reads put off: read once an interval at most */
	CTR_PROCESS_MAPS_CUT,     /* maps cut at DISC_MAPS_BYTES_MAX: frames past it unnamed */
	CTR_PROCESS_MAPS_BYTES,   /* gauge: what the mappings known hold */
	CTR_SYMBOL_CACHE_HITS,    /* a mapped file found in the symbol cache */
	CTR_SYMBOL_CACHE_MISSES,  /* a file read (symbols, DWARF) into it */
	CTR_SYMBOL_CACHE_EVICTIONS,
	CTR_SYMBOL_CACHE_BYTES,   /* gauge */
	CTR_PERF_MAP_BYTES,       /* gauge: what the JITs' perf maps read hold */
	CTR_PERF_MAP_REFUSED,     /* perf maps not read: past SYM_PERF_MAPS_TOTAL_MAX */
	CTR_SYMBOL_DEBUG_FILES,   /* separate debug files found */
	CTR_SYMBOL_CORRUPT,       /* files or DWARF that could not be read */
	CTR_SYMBOL_REFUSED_SECTION,    /* files refused: a section over the cap, sparse or past the end */
	CTR_SYMBOL_REFUSED_COMPRESSED, /* files refused: compressed sections that expand past the caps */
	CTR_SYMBOL_REFUSED_DEBUGLINK,  /* debug-file candidates too big to read for their CRC */
	CTR_SYMBOL_LATE,          /* files and addresses the worker had not named by the deadline */
	CTR_SYMBOL_QUARANTINED,   /* files set aside: the parser worker died or hung on them */
	CTR_WORKER_STARTS,        /* parser worker processes started */
	CTR_WORKER_DEATHS,        /* ... that died on a request (signal, exit, memory cap) */
	CTR_WORKER_TIMEOUTS,      /* ... killed past a request's deadline */
	CTR_WORKER_REFUSED,       /* requests failed: the worker restarted too often */
	CTR_DEBUGINFOD_FETCHED,
	CTR_DEBUGINFOD_FAILED,    /* no server had it, or the fetch failed */
	CTR_UPLOADS_QUEUED,       /* profiles handed to the uploader */
	CTR_UPLOADS_DELIVERED,
	CTR_UPLOADS_REFUSED,      /* a 4xx: dropped, not retried */
	CTR_UPLOADS_RETRIED,      /* failed attempts that will be retried */
	CTR_UPLOADS_DROPPED,      /* no spool, and memory full */
	CTR_UPLOAD_QUEUE,         /* gauge: profiles waiting in memory */
	CTR_LABELS_DROPPED,       /* labels a server would refuse, left out */
	CTR_SPOOL_FILES,          /* gauge */
	CTR_SPOOL_BYTES,          /* gauge */
	CTR_SPOOL_DROPPED_FULL,   /* oldest dropped to stay within --spool-max-bytes */
	CTR_SPOOL_DROPPED_AGE,    /* older than --spool-max-age */
	CTR_SPOOL_CORRUPT,        /* spool files that could not be read back */
	CTR_SPOOL_WRITE_ERRORS,
	CTR_UNWIND_TRUNCATED,     /* samples whose user stack passed SMOLDER_MAX_STACK_DEPTH */
	CTR_UNWIND_ERROR_READ,    /* ... whose walk stopped: stack not readable */
	CTR_UNWIND_ERROR_UNSUPPORTED, /* ... CFI the walk cannot follow */
	CTR_UNWIND_ERROR_BAD_FRAME,   /* ... a frame not moving up the stack */
	CTR_UNWIND_ERROR_NO_ROOT,     /* ... frame pointers (or return addresses) ended before a root */
	CTR_UNWIND_TABLES,        /* gauge: executables with tables loaded */
	CTR_UNWIND_ROWS,          /* gauge: rows loaded */
	CTR_UNWIND_EVICTIONS,     /* tables evicted to make room */
	CTR_UNWIND_NO_ROOM,       /* tables not loaded: no room (frame pointers there) */
	CTR_UNWIND_RETRIES,       /* processes whose tables were loaded again: a file was late */
	CTR_UNWIND_FILES_WANTED,  /* files read for their tables once a stack passed through */
	CTR_UNWIND_CACHE_HITS,    /* tables read from --cache-dir, not built */
	CTR_UNWIND_CACHE_MISSES,  /* tables built by the worker (and written there) */
	CTR_UNWIND_CACHE_BAD,     /* files there refused and removed */
	CTR_UNWIND_CACHE_BYTES,   /* gauge: what --cache-dir's tables hold */
	CTR_STACK_COPIES_SENT,    /* samples whose stack BPF copied: no tables published yet */
	CTR_STACK_COPIES_DROPPED, /* ... that it could not (rate, ring full) or the agent did not keep */
	CTR_STACK_COPIES_USED,    /* samples moved to the stack walked from their copy */
	CTR_STACK_COPIES_UNUSED,  /* copies walked no further than BPF, or never walked */
	CTR_STACK_COPIES_LATE,    /* copies walked without all their tables, too late */
	CTR_STACK_COPIES_BYTES,   /* gauge: copies waiting for their process's tables */
	CTR_PYTHON_PROCESSES,     /* gauge: Python processes whose frames are walked */
	CTR_PYTHON_UNSUPPORTED,   /* Python processes of a version or build not read: native frames */
	CTR_PYTHON_SAMPLES,       /* samples with Python frames */
	CTR_PYTHON_UNDESCRIBED,   /* samples of a Python process not read yet: native frames */
	CTR_PYTHON_NO_FRAMES,     /* samples of a Python process's thread with none (not in Python) */
	CTR_PYTHON_DROPPED,       /* ... whose Python frames found no room in BPF: native frames */
	CTR_PYTHON_TRUNCATED,     /* ... whose Python stack passed SMOLDER_PY_MAX_FRAMES */
	CTR_PYTHON_ERROR_READ,    /* ... whose Python walk stopped at a frame it could not read */
	CTR_PYTHON_UNNAMED_GONE,  /* Python frames not named: the process was gone (per sample) */
	CTR_PYTHON_UNNAMED_STALE, /* ... its code object freed and reused */
	CTR_PYTHON_UNNAMED_LATE,  /* ... not named in time, or no room */
	CTR_PYTHON_CODES,         /* gauge: code objects' names held */
	CTR_BPF_COUNT_MAP_ENTRIES, /* gauge: distinct stacks counted in the last interval */
	/* Off the CPU (bpf/offcpu.h): switch-outs seen and drawn; the drawn
	 * are stored or lost (sampled == stored + the three losses). */
	CTR_OFFCPU_SWITCHES,
	CTR_OFFCPU_SAMPLED,
	CTR_OFFCPU_STORED,
	CTR_OFFCPU_LOST_PENDING_FULL,
	CTR_OFFCPU_LOST_STACK_COLLISION,
	CTR_OFFCPU_LOST_STACK_READ,
	CTR_OFFCPU_ENDED,          /* blocks that ended (the thread came back) */
	CTR_OFFCPU_SHORT,          /* ... shorter than --off-cpu-min-block: left out */
	CTR_OFFCPU_LOST_WAIT_MAP_FULL, /* pieces of time the wait map had no room for */
	CTR_OFFCPU_CUT,            /* blocks under way at an interval's end, cut there */
	CTR_OFFCPU_CUT_LOST,       /* ... whose thread came back and left during the cut */
	CTR_OFFCPU_STALE,          /* ... whose thread came back during the cut: uncounted later */
	CTR_OFFCPU_PENDING,        /* gauge: blocks under way at the last cut */
	/* The time drained (as drawn, before scaling) is profiled, dropped
	 * by a rule or lost: ns == profiled + dropped + lost. */
	CTR_OFFCPU_NS,
	CTR_OFFCPU_PROFILED_NS,
	CTR_OFFCPU_DROPPED_NS,
	CTR_OFFCPU_LOST_NS,
	/* Lock waits (futex lock acquisitions, and FUTEX_WAIT_BITSET waits
	 * that may be a lock's) seen and drawn; contentions drained:
	 * contentions == profiled + dropped + lost + not_lock. */
	CTR_MUTEX_WAITS,
	CTR_MUTEX_SAMPLED,
	CTR_MUTEX_CONTENTIONS,
	CTR_MUTEX_PROFILED,
	CTR_MUTEX_DROPPED,
	CTR_MUTEX_LOST,
	CTR_MUTEX_NOT_LOCK,        /* FUTEX_WAIT_BITSET waits no lock function made */
	/* Allocations of memory targets (bpf/memory.h): outermost calls,
	 * of them drawn; the drawn are stored or lost (sampled == stored +
	 * failed + the three losses). */
	CTR_MALLOC_CALLS,
	CTR_MALLOC_NESTED,
	CTR_MALLOC_NO_THREAD,
	CTR_MALLOC_SAMPLED,
	CTR_MALLOC_STORED,
	CTR_MALLOC_FAILED,
	CTR_MALLOC_LOST_STACK_COLLISION,
	CTR_MALLOC_LOST_STACK_READ,
	CTR_MALLOC_LOST_WAIT_MAP_FULL,
	CTR_MALLOC_LIVE_FULL,
	CTR_MALLOC_FREED,
	/* Drawn allocations drained: samples == profiled + dropped + lost. */
	CTR_MALLOC_SAMPLES,
	CTR_MALLOC_PROFILED,
	CTR_MALLOC_DROPPED,
	CTR_MALLOC_LOST,
	CTR_MALLOC_LIVE,           /* gauge: drawn allocations held at the last drain */
	CTR_MALLOC_FORGOTTEN,      /* ... forgotten: their target's probes were taken off */
	CTR_MALLOC_TARGETS,        /* gauge: processes with probes on */
	CTR_MALLOC_HITS,           /* probe hits of the targets */
	CTR_MALLOC_ATTACH_FAILED,  /* targets whose probes could not be attached */
	CTR_MALLOC_DETACHED,       /* targets whose probes were taken off past --memory-max-hits */
	CTR_MALLOC_SCALED,         /* profiles of targets whose probes were off part of the interval */
	CTR_KUBE_PODS,            /* gauge: this node's pods, from the API server */
	CTR_KUBE_EVENTS,          /* watch events applied */
	CTR_KUBE_RELISTS,         /* lists again after a 410 Gone */
	CTR_KUBE_ERRORS,          /* lists and watches that failed (logged) */
	CTR_HTTP_REFUSED,         /* connections past --http-listen's limits, closed at once */
	CTR_HTTP_CUT,             /* connections closed before a whole request (idle, slow) */
	CTR_MEMORY_RESIDENT,      /* gauge: the agent's anonymous resident bytes */
	CTR_WORKER_RESIDENT,      /* gauge: the parser worker's */
	CTR_MEMORY_LIMIT,         /* gauge: --memory-limit, which bounds the two together */
	CTR_MEMORY_OVER_LIMIT,    /* intervals that ended with the two over it */
	CTR_BPF_MAP_BYTES,        /* gauge: kernel memory of the BPF maps, beside the limit */
	CTR__COUNT,
};

struct counter_def {
	const char *name;
	const char *help;
	int is_gauge;
};

extern const struct counter_def counter_defs[CTR__COUNT];

struct counters {
	uint64_t interval[CTR__COUNT];
	uint64_t total[CTR__COUNT];
};

static inline void counters_add(struct counters *c, enum counter_id id, uint64_t n)
{
	c->interval[id] += n;
}

static inline void counters_set(struct counters *c, enum counter_id id, uint64_t v)
{
	c->interval[id] = v;
}

/* Formats this interval's counters as "name=value ..." into buf. */
void counters_format_interval(const struct counters *c, char *buf, size_t len);

/* Sum of the losses this interval: with CTR_SAMPLES_PROFILED and
 * CTR_SAMPLES_DROPPED it must equal CTR_SAMPLES_TAKEN. */
uint64_t counters_interval_lost(const struct counters *c);

/* Folds the interval into the totals and starts a new interval. */
void counters_end_interval(struct counters *c);

#endif
