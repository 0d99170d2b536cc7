/* A window onto rows of the BPF unwind rows array (bpf/unwind.h), mapped
 * only while it is used: the array is kernel memory already (counted in
 * bpf_map_bytes), and a mapping kept open would count all of it again in
 * the agent's resident memory.
 */
#ifndef SMOLDER_ROWS_WINDOW_H
#define SMOLDER_ROWS_WINDOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "unwind.h"

struct rows_window {
	void *addr;
	size_t len;
	union smolder_unwind_elem *elems; /* the first element asked for */
};

/* Maps elements [first, first + n) of the rows map fd. -errno when the map
 * cannot be mapped (created without BPF_F_MMAPABLE, or no memory). */
int rows_window_map(int fd, uint32_t first, uint32_t n, bool writable, struct rows_window *w);
void rows_window_unmap(struct rows_window *w);

#endif
