/* The counter table's names, and the interval bookkeeping. */
#include "counters.h"

#include <stdio.h>
#include <string.h>

const struct counter_def counter_defs[CTR__COUNT] = {
	[CTR_SAMPLES_TAKEN] = { "samples_taken", "samples of profiled processes, counted in BPF", 0 },
	[CTR_SAMPLES_PROFILED] = { "samples_profiled", "samples that made it into a profile", 0 },
	[CTR_LOST_STACK_COLLISION] = { "lost_stack_collision", "samples lost: the stack map had no room for the stack", 0 },
	[CTR_LOST_COUNT_MAP_FULL] = { "lost_count_map_full", "samples lost: the count map was full", 0 },
	[CTR_LOST_STACK_READ] = { "lost_stack_read", "samples lost: no stack could be read", 0 },
	[CTR_LOST_UNKNOWN_PROCESS] = { "lost_unknown_process", "samples lost: the process exited before it was known", 0 },
	[CTR_LOST_PROFILE_ERROR] = { "lost_profile_error", "samples lost: could not be added to their profile", 0 },
	[CTR_SAMPLES_DROPPED] = { "samples_dropped", "samples of processes a target rule drops", 0 },
	[CTR_SAMPLES_FILTERED] = { "samples_filtered", "samples of the idle task, of processes not targeted, or of the agent itself (without --profile-self)", 0 },
	[CTR_PROFILES_WRITTEN] = { "profiles_written", "profiles written", 0 },
	[CTR_OUTPUT_BYTES] = { "output_bytes", "bytes of the files under --output-dir", 1 },
	[CTR_OUTPUT_REMOVED] = { "output_removed", "oldest profiles removed from --output-dir to stay within --output-max-bytes", 0 },
	[CTR_PROFILE_ERRORS] = { "profile_errors", "profiles that could not be built or written", 0 },
	[CTR_PROCESS_EVENTS] = { "process_events", "exec, exit and first-sample events from BPF", 0 },
	[CTR_PROCESS_EVENTS_DROPPED] = { "process_events_dropped", "process events lost to a full ring buffer", 0 },
	[CTR_PROCESSES_TRACKED] = { "processes_tracked", "processes in the process table", 1 },
	[CTR_PROCESSES_FROM_KERNEL] = { "processes_from_kernel", "processes known from what the kernel said (their first sample's event, their mmap records), their /proc files not read: started while the agent ran, or gone before they could be read", 0 },
	[CTR_PROCESSES_FORKED] = { "processes_forked", "processes sampled before they exec'd, known as a copy of the parent that forked them, their /proc files not read", 0 },
	[CTR_MMAP_LOG_BYTES] = { "mmap_log_bytes", "memory the kernel's mmap records of live processes hold (at most 8 MiB)", 1 },
	[CTR_MMAP_RECORDS_DROPPED] = { "mmap_records_dropped", "the kernel's mmap records lost (its buffer full) or not kept (8 MiB held, or no build-id given): a process gone before it was read has those frames unnamed", 0 },
	[CTR_PROCESS_MAPS_READS] = { "process_maps_reads", "/proc/PID/maps files read (a process's when it is sampled, at most once an interval, or after an exec)", 0 },
	[CTR_PROCESS_MAPS_DEFERRED] = { "process_maps_deferred", "re-reads of a process's /proc/PID/maps put off to the next interval: read once an interval at most", 0 },
	[CTR_PROCESS_MAPS_CUT] = { "process_maps_cut", "/proc/PID/maps read only as far as 4 MiB of mappings kept: frames in the rest stay unnamed", 0 },
	[CTR_PROCESS_MAPS_BYTES] = { "process_maps_bytes", "memory the mappings of the processes known hold", 1 },
	[CTR_SYMBOL_CACHE_HITS] = { "symbol_cache_hits", "mapped files found in the symbol cache", 0 },
	[CTR_SYMBOL_CACHE_MISSES] = { "symbol_cache_misses", "files read into the symbol cache", 0 },
	[CTR_SYMBOL_CACHE_EVICTIONS] = { "symbol_cache_evictions", "files dropped from the symbol cache to stay within --symbol-cache-size", 0 },
	[CTR_SYMBOL_CACHE_BYTES] = { "symbol_cache_bytes", "memory the symbol cache holds (estimate)", 1 },
	[CTR_PERF_MAP_BYTES] = { "perf_map_bytes", "memory the JITs' perf maps (/tmp/perf-PID.map) read hold", 1 },
	[CTR_PERF_MAP_REFUSED] = { "perf_map_refused", "perf maps not read, their frames left unnamed: the maps held would pass 64 MiB", 0 },
	[CTR_SYMBOL_DEBUG_FILES] = { "symbol_debug_files", "separate debug files found and read", 0 },
	[CTR_SYMBOL_CORRUPT] = { "symbol_corrupt", "files whose ELF or DWARF could not be read", 0 },
	[CTR_SYMBOL_REFUSED_SECTION] = { "symbol_refused_section", "files not read: a section to read is over 256 MiB, not stored in the file (sparse) or past its end", 0 },
	[CTR_SYMBOL_REFUSED_COMPRESSED] = { "symbol_refused_compressed", "files not read: a compressed section would expand past 512 MiB or 64 times its size", 0 },
	[CTR_SYMBOL_REFUSED_DEBUGLINK] = { "symbol_refused_debuglink", "debug-file candidates over 2 GiB, not read for their .gnu_debuglink CRC", 0 },
	[CTR_SYMBOL_LATE] = { "symbol_late", "files and addresses not named by the interval's deadline (sent unnamed, named later)", 0 },
	[CTR_SYMBOL_QUARANTINED] = { "symbol_quarantined", "files set aside for 10 minutes: the parser worker died or hung reading them", 0 },
	[CTR_WORKER_STARTS] = { "worker_starts", "parser worker processes started", 0 },
	[CTR_WORKER_DEATHS] = { "worker_deaths", "parser workers that died on a request (signal, exit, memory cap)", 0 },
	[CTR_WORKER_TIMEOUTS] = { "worker_timeouts", "parser workers killed past a request's deadline", 0 },
	[CTR_WORKER_REFUSED] = { "worker_refused", "symbolizer requests failed: the parser worker restarted too often this minute", 0 },
	[CTR_DEBUGINFOD_FETCHED] = { "debuginfod_fetched", "debug files fetched from debuginfod", 0 },
	[CTR_DEBUGINFOD_FAILED] = { "debuginfod_failed", "debuginfod requests no server could answer", 0 },
	[CTR_UPLOADS_QUEUED] = { "uploads_queued", "profiles handed to the uploader", 0 },
	[CTR_UPLOADS_DELIVERED] = { "uploads_delivered", "profiles the server took", 0 },
	[CTR_UPLOADS_REFUSED] = { "uploads_refused", "profiles the server refused (4xx): dropped, not retried", 0 },
	[CTR_UPLOADS_RETRIED] = { "uploads_retried", "upload attempts that failed and will be retried", 0 },
	[CTR_UPLOADS_DROPPED] = { "uploads_dropped", "profiles dropped with no spool to wait in and memory full", 0 },
	[CTR_UPLOAD_QUEUE] = { "upload_queue", "profiles waiting in memory", 1 },
	[CTR_LABELS_DROPPED] = { "labels_dropped", "labels left out of a series: the server would refuse them", 0 },
	[CTR_SPOOL_FILES] = { "spool_files", "profiles in the spool", 1 },
	[CTR_SPOOL_BYTES] = { "spool_bytes", "bytes in the spool", 1 },
	[CTR_SPOOL_DROPPED_FULL] = { "spool_dropped_full", "spooled profiles dropped, oldest first, to stay within --spool-max-bytes", 0 },
	[CTR_SPOOL_DROPPED_AGE] = { "spool_dropped_age", "spooled profiles dropped for being older than --spool-max-age", 0 },
	[CTR_SPOOL_CORRUPT] = { "spool_corrupt", "spool files that could not be read back: removed", 0 },
	[CTR_SPOOL_WRITE_ERRORS] = { "spool_write_errors", "profiles that could not be written to the spool", 0 },
	[CTR_UNWIND_TRUNCATED] = { "unwind_truncated", "samples whose user stack was deeper than 127 frames", 0 },
	[CTR_UNWIND_ERROR_READ] = { "unwind_error_read", "samples whose user stack walk stopped: the stack could not be read", 0 },
	[CTR_UNWIND_ERROR_UNSUPPORTED] = { "unwind_error_unsupported", "samples whose user stack walk stopped: CFI it cannot follow", 0 },
	[CTR_UNWIND_ERROR_BAD_FRAME] = { "unwind_error_bad_frame", "samples whose user stack walk stopped: a frame that does not move up the stack", 0 },
	[CTR_UNWIND_ERROR_NO_ROOT] = { "unwind_error_no_root", "samples whose user stack walk stopped: the frame-pointer chain ended (rbp or a return address 0) in a frame that is no thread's root", 0 },
	[CTR_UNWIND_TABLES] = { "unwind_tables", "executables whose unwind tables are loaded into BPF", 1 },
	[CTR_UNWIND_ROWS] = { "unwind_rows", "unwind rows and their rules loaded into BPF (8 bytes each)", 1 },
	[CTR_UNWIND_EVICTIONS] = { "unwind_evictions", "unwind tables dropped to make room (least recently used first)", 0 },
	[CTR_BPF_COUNT_MAP_ENTRIES] = { "bpf_count_map_entries", "entries of the BPF count map at the last drain (of --test-count-map-entries, 16384 by default): past it, samples are lost_count_map_full", 1 },
	[CTR_UNWIND_NO_ROOM] = { "unwind_no_room", "unwind tables not loaded for want of room: frame pointers there", 0 },
	[CTR_UNWIND_RETRIES] = { "unwind_retries", "processes whose unwind tables were loaded again, a file of theirs not read by the parser worker's deadline the time before, or wanted since", 0 },
	[CTR_UNWIND_FILES_WANTED] = { "unwind_files_wanted", "files read for their unwind tables once a sampled stack passed through them (whole-system mode reads no other)", 0 },
	[CTR_UNWIND_CACHE_HITS] = { "unwind_cache_hits", "unwind tables read from --cache-dir: the parser worker did not build them", 0 },
	[CTR_UNWIND_CACHE_MISSES] = { "unwind_cache_misses", "unwind tables the parser worker built that --cache-dir did not hold (written there)", 0 },
	[CTR_UNWIND_CACHE_BAD] = { "unwind_cache_bad", "files in --cache-dir refused (corrupt, truncated, another file's, too big) and removed: their tables were built again", 0 },
	[CTR_UNWIND_CACHE_BYTES] = { "unwind_cache_bytes", "bytes of the unwind tables in --cache-dir", 1 },
	[CTR_PYTHON_PROCESSES] = { "python_processes", "Python processes whose frames are walked (CPython 3.8 to 3.13)", 1 },
	[CTR_PYTHON_UNSUPPORTED] = { "python_unsupported", "Python processes of a version or build whose frames smolder cannot read (3.14+, free-threaded): native frames only", 0 },
	[CTR_PYTHON_SAMPLES] = { "python_samples", "samples with Python frames", 0 },
	[CTR_PYTHON_UNDESCRIBED] = { "python_undescribed", "samples of a process that maps a Python interpreter the agent had not read yet (its first moments): native frames only", 0 },
	[CTR_PYTHON_NO_FRAMES] = { "python_no_frames", "samples of a Python process's thread that had no Python frames (not running Python, or not in the interpreter's thread list)", 0 },
	[CTR_PYTHON_DROPPED] = { "python_dropped", "samples whose Python frames found no room in BPF's map: native frames only", 0 },
	[CTR_PYTHON_TRUNCATED] = { "python_truncated", "samples whose Python stack was deeper than 127 frames: the outermost are left out", 0 },
	[CTR_PYTHON_ERROR_READ] = { "python_error_read", "samples whose Python walk stopped at a frame it could not read", 0 },
	[CTR_PYTHON_UNNAMED_GONE] = { "python_unnamed_gone", "samples with Python frames left unnamed: the process exited before they were named", 0 },
	[CTR_PYTHON_UNNAMED_STALE] = { "python_unnamed_stale", "samples with Python frames left unnamed: the code object was freed (and its memory reused) before it was named", 0 },
	[CTR_PYTHON_UNNAMED_LATE] = { "python_unnamed_late", "samples with Python frames left unnamed: not named by the interval's deadline, or over the names held per process", 0 },
	[CTR_PYTHON_CODES] = { "python_codes", "code objects whose names are held", 1 },
	[CTR_STACK_COPIES_SENT] = { "stack_copies_sent", "samples whose registers and top of stack BPF copied for the agent to walk, their process's unwind tables not yet published", 0 },
	[CTR_STACK_COPIES_DROPPED] = { "stack_copies_dropped", "stack copies not made (rate limit, full ring buffer) or not kept (pending bytes over the cap): those samples keep the frame-pointer walk BPF made", 0 },
	[CTR_STACK_COPIES_USED] = { "stack_copies_used", "samples moved from the stack BPF walked to the longer or whole one walked from their copy", 0 },
	[CTR_STACK_COPIES_UNUSED] = { "stack_copies_unused", "stack copies walked no further than BPF did, or whose process or tables were never known", 0 },
	[CTR_STACK_COPIES_LATE] = { "stack_copies_late", "stack copies walked without all their process's unwind tables: a file still being read when the interval was finished, after waiting for it up to 2 s", 0 },
	[CTR_STACK_COPIES_BYTES] = { "stack_copies_bytes", "bytes of stack copies waiting for their process's mappings", 1 },
	[CTR_OFFCPU_SWITCHES] = { "offcpu_switches", "switches off the CPU of profiled threads (offcpu, mutex profiles)", 0 },
	[CTR_OFFCPU_SAMPLED] = { "offcpu_sampled", "of those, drawn (--off-cpu-sample): stored, or lost for a reason below", 0 },
	[CTR_OFFCPU_STORED] = { "offcpu_stored", "drawn switches whose stacks were kept until the thread came back", 0 },
	[CTR_OFFCPU_LOST_PENDING_FULL] = { "offcpu_lost_pending_full", "drawn switches lost: the map of threads off the CPU was full", 0 },
	[CTR_OFFCPU_LOST_STACK_COLLISION] = { "offcpu_lost_stack_collision", "drawn switches lost: a stack map had no room for the stack", 0 },
	[CTR_OFFCPU_LOST_STACK_READ] = { "offcpu_lost_stack_read", "drawn switches lost: no stack could be read", 0 },
	[CTR_OFFCPU_ENDED] = { "offcpu_ended", "blocks off the CPU that ended (the thread ran again)", 0 },
	[CTR_OFFCPU_SHORT] = { "offcpu_short", "blocks shorter than --off-cpu-min-block, left out", 0 },
	[CTR_OFFCPU_LOST_WAIT_MAP_FULL] = { "offcpu_lost_wait_map_full", "pieces of off-CPU time lost: the wait map was full", 0 },
	[CTR_OFFCPU_CUT] = { "offcpu_cut", "blocks still off the CPU at an interval's end, counted up to it and carried on", 0 },
	[CTR_OFFCPU_CUT_LOST] = { "offcpu_cut_lost", "blocks cut whose thread ran and left again during the cut: their time since the cut is lost", 0 },
	[CTR_OFFCPU_STALE] = { "offcpu_stale", "blocks cut whose thread ran during the cut: put back, then found out by the thread's run time when it next came back, and left uncounted (their time up to the cut is in the profile)", 0 },
	[CTR_OFFCPU_PENDING] = { "offcpu_pending", "blocks off the CPU under way at the last interval's end", 1 },
	[CTR_OFFCPU_NS] = { "offcpu_ns", "off-CPU nanoseconds drained from BPF, as drawn (before scaling by 1/--off-cpu-sample)", 0 },
	[CTR_OFFCPU_PROFILED_NS] = { "offcpu_profiled_ns", "of those, in profiles", 0 },
	[CTR_OFFCPU_DROPPED_NS] = { "offcpu_dropped_ns", "of those, of processes a target rule drops", 0 },
	[CTR_OFFCPU_LOST_NS] = { "offcpu_lost_ns", "of those, lost: unknown process, stack not readable, or could not be added", 0 },
	[CTR_MUTEX_WAITS] = { "mutex_waits", "switches off the CPU in a futex wait that may be a lock's (FUTEX_WAIT, FUTEX_LOCK_PI, FUTEX_WAIT_BITSET)", 0 },
	[CTR_MUTEX_SAMPLED] = { "mutex_sampled", "of those, drawn (--off-cpu-sample)", 0 },
	[CTR_MUTEX_CONTENTIONS] = { "mutex_contentions", "contentions drained from BPF, as drawn (before scaling)", 0 },
	[CTR_MUTEX_PROFILED] = { "mutex_profiled", "of those, in profiles", 0 },
	[CTR_MUTEX_DROPPED] = { "mutex_dropped", "of those, of processes a target rule drops", 0 },
	[CTR_MUTEX_LOST] = { "mutex_lost", "of those, lost: unknown process, stack not readable, or could not be added", 0 },
	[CTR_MUTEX_NOT_LOCK] = { "mutex_not_lock", "of those, waits not made by a lock (a condition variable's, a semaphore's): left out", 0 },
	[CTR_MALLOC_CALLS] = { "malloc_calls", "allocations of memory targets (outermost calls of their allocator)", 0 },
	[CTR_MALLOC_NESTED] = { "malloc_nested", "allocator calls inside one in flight (realloc's malloc): not counted again", 0 },
	[CTR_MALLOC_NO_THREAD] = { "malloc_no_thread", "allocations not drawn: no room for their thread's record", 0 },
	[CTR_MALLOC_SAMPLED] = { "malloc_sampled", "allocations drawn (--memory-sample-bytes)", 0 },
	[CTR_MALLOC_STORED] = { "malloc_stored", "of those, counted with their stack", 0 },
	[CTR_MALLOC_FAILED] = { "malloc_failed", "of those, calls that returned no memory", 0 },
	[CTR_MALLOC_LOST_STACK_COLLISION] = { "malloc_lost_stack_collision", "of those, lost: no room in the stack map", 0 },
	[CTR_MALLOC_LOST_STACK_READ] = { "malloc_lost_stack_read", "of those, lost: the stack could not be read", 0 },
	[CTR_MALLOC_LOST_WAIT_MAP_FULL] = { "malloc_lost_wait_map_full", "of those, lost: no room in the count map", 0 },
	[CTR_MALLOC_LIVE_FULL] = { "malloc_live_full", "stored allocations not tracked until freed (no room): inuse_* misses them", 0 },
	[CTR_MALLOC_FREED] = { "malloc_freed", "drawn allocations freed", 0 },
	[CTR_MALLOC_SAMPLES] = { "malloc_samples", "drawn allocations drained from BPF", 0 },
	[CTR_MALLOC_PROFILED] = { "malloc_profiled", "of those, in profiles", 0 },
	[CTR_MALLOC_DROPPED] = { "malloc_dropped", "of those, of processes a target rule drops", 0 },
	[CTR_MALLOC_LOST] = { "malloc_lost", "of those, lost: unknown process, stack not readable, or could not be added", 0 },
	[CTR_MALLOC_LIVE] = { "malloc_live", "drawn allocations held at the last interval's end (inuse_*)", 1 },
	[CTR_MALLOC_FORGOTTEN] = { "malloc_forgotten", "drawn allocations forgotten: their target exited or its probes were taken off", 0 },
	[CTR_MALLOC_TARGETS] = { "malloc_targets", "memory targets with their probes on", 1 },
	[CTR_MALLOC_HITS] = { "malloc_hits", "probe hits of memory targets (every allocator call, nested and free too)", 0 },
	[CTR_MALLOC_ATTACH_FAILED] = { "malloc_attach_failed", "memory targets whose probes could not be attached (logged)", 0 },
	[CTR_MALLOC_DETACHED] = { "malloc_detached", "times a memory target's probes were taken off past --memory-max-hits", 0 },
	[CTR_MALLOC_SCALED] = { "malloc_scaled", "memory profiles whose alloc_* were scaled up for time their probes were off", 0 },
	[CTR_KUBE_PODS] = { "kube_pods", "pods of this node known from the Kubernetes API server", 1 },
	[CTR_KUBE_EVENTS] = { "kube_watch_events", "pod watch events applied", 0 },
	[CTR_KUBE_RELISTS] = { "kube_relists", "pod lists made again after a watch was answered 410 Gone", 0 },
	[CTR_KUBE_ERRORS] = { "kube_errors", "pod lists and watches that failed (the log says why)", 0 },
	[CTR_HTTP_REFUSED] = { "http_connections_refused", "connections to --http-listen closed as they came: past 4 from one address, or 64 in all", 0 },
	[CTR_HTTP_CUT] = { "http_connections_cut", "connections to --http-listen closed before a whole request came: idle for 5 s, or given up by the client", 0 },
	[CTR_MEMORY_RESIDENT] = { "memory_resident_bytes", "anonymous resident memory of the agent (its heap and stacks, not page cache), at the interval's end", 1 },
	[CTR_WORKER_RESIDENT] = { "worker_resident_bytes", "anonymous resident memory of the parser worker, at the interval's end (0: none running)", 1 },
	[CTR_MEMORY_LIMIT] = { "memory_limit_bytes", "--memory-limit: what memory_resident_bytes and worker_resident_bytes may take together", 1 },
	[CTR_MEMORY_OVER_LIMIT] = { "memory_over_limit", "intervals that ended with the agent and its worker over --memory-limit together (logged; the symbol cache is halved, the heap trimmed)", 0 },
	[CTR_BPF_MAP_BYTES] = { "bpf_map_bytes", "kernel memory of the agent's BPF maps (their memlock), beside --memory-limit", 1 },
};

static const enum counter_id loss_ids[] = {
	CTR_LOST_STACK_COLLISION,
	CTR_LOST_COUNT_MAP_FULL,
	CTR_LOST_STACK_READ,
	CTR_LOST_UNKNOWN_PROCESS,
	CTR_LOST_PROFILE_ERROR,
};

void counters_format_interval(const struct counters *c, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (int i = 0; i < CTR__COUNT && used < len; i++) {
		int n = snprintf(buf + used, len - used, "%s%s=%llu",
				 i ? " " : "", counter_defs[i].name,
				 (unsigned long long)c->interval[i]);
		if (n < 0)
			break;
		used += (size_t)n;
	}
}

uint64_t counters_interval_lost(const struct counters *c)
{
	uint64_t lost = 0;

	for (size_t i = 0; i < sizeof(loss_ids) / sizeof(loss_ids[0]); i++)
		lost += c->interval[loss_ids[i]];
	return lost;
}

void counters_end_interval(struct counters *c)
{
	for (int i = 0; i < CTR__COUNT; i++) {
		if (counter_defs[i].is_gauge)
			c->total[i] = c->interval[i];
		else
			c->total[i] += c->interval[i];
	}
	memset(c->interval, 0, sizeof(c->interval));
}
