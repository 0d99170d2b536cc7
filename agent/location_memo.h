/* The location each frame of an interval's profiles became, so that a frame
 * seen again (the same address of the same process image, in the same
 * profile) is not named, hashed and interned again: a busy host's interval
 * has thousands of stacks that share most of their frames.
 */
#ifndef SMOLDER_LOCATION_MEMO_H
#define SMOLDER_LOCATION_MEMO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A frame as a profile's location: whose, where, and whether it is the leaf
 * (a caller's frame is named at its address - 1). pid 0: a kernel frame. */
struct location_key {
	const void *profile; /* the pprof builder it went into */
	uint64_t start_ticks;
	uint64_t address;
	uint32_t pid;
	uint32_t exec_id;
	uint32_t exec_id_known; /* an image read from /proc alone has none */
	uint32_t leaf;
};

struct location_memo;

/* Holds at most max_entries; past them, frames are simply not memoized. */
struct location_memo *location_memo_new(size_t max_entries);
void location_memo_free(struct location_memo *m);
/* Forgets every entry: at an interval's end, when its builders go. */
void location_memo_clear(struct location_memo *m);
bool location_memo_find(const struct location_memo *m, const struct location_key *k,
			uint64_t *id);
void location_memo_add(struct location_memo *m, const struct location_key *k, uint64_t id);
size_t location_memo_count(const struct location_memo *m);

#endif
