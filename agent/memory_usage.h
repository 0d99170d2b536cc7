/* What the agent's processes hold, as the kernel counts it: the anonymous
 * resident memory of a process (what --memory-limit bounds: its heap and
 * stacks, not the page cache of files it maps), and the kernel memory of a
 * BPF map (reported beside the limit). Read each interval by interval.c.
 */
#ifndef SMOLDER_MEMORY_USAGE_H
#define SMOLDER_MEMORY_USAGE_H

#include <stdint.h>

/* Resident minus file-backed and shared pages, from /proc/PID/statm
 * (pid 0: this process). -errno: no such process, or unreadable. */
int memory_anon_resident(int pid, uint64_t *bytes);

/* What the kernel charges for the BPF map behind fd: the memlock line of
 * /proc/self/fdinfo/FD (for every map type, bpf_map_info has no size). */
int memory_bpf_map_bytes(int fd, uint64_t *bytes);

#endif
