/* Mapping windows of the rows array (see rows_window.h). */
#include "rows_window.h"

#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>

int rows_window_map(int fd, uint32_t first, uint32_t n, bool writable, struct rows_window *w)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t from = (size_t)first * sizeof(union smolder_unwind_elem);
	size_t to = from + (size_t)n * sizeof(union smolder_unwind_elem);
	size_t off = from / page * page;
	void *p;

	w->addr = NULL;
	w->len = (to - off + page - 1) / page * page;
	p = mmap(NULL, w->len ? w->len : page, writable ? PROT_READ | PROT_WRITE : PROT_READ,
		 MAP_SHARED, fd, (off_t)off);
	if (p == MAP_FAILED)
		return -errno;
	w->addr = p;
	w->elems = (union smolder_unwind_elem *)((char *)p + (from - off));
	return 0;
}

void rows_window_unmap(struct rows_window *w)
{
	if (w->addr)
		munmap(w->addr, w->len ? w->len : (size_t)sysconf(_SC_PAGESIZE));
	w->addr = NULL;
}
