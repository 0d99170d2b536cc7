/* The one lookup of the symbolizer's sorted tables (ELF functions, kernel
 * symbols): which entry starts at or below an address. Internal to
 * symbolizer/. */
#ifndef SMOLDER_ADDR_SEARCH_H
#define SMOLDER_ADDR_SEARCH_H

#include <stddef.h>
#include <stdint.h>

/* Entries are stride bytes apart, sorted by a uint64_t address that is
 * their first member. Returns 1 + the index of the last entry whose
 * address is <= addr, or 0 when there is none. */
static inline size_t sym_addr_search(const void *base, size_t n, size_t stride,
				     uint64_t addr)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (*(const uint64_t *)((const char *)base + mid * stride) <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

#endif
