/* libFuzzer target for the user-space stack walk (agent/unwind_walk.h):
 * whatever the rows, mappings, registers and stack copy, the walk reads
 * only inside them (each is malloc'd to its exact size for ASan to see),
 * stops, and says what BPF's walk would of its frames: at most
 * min(max, SMOLDER_MAX_STACK_DEPTH), the sampled ip first, no later frame 0
 * or in the kernel half, TRUNCATED only when out of room, and with less
 * room the same frames cut short; and with the rows as the BPF array holds
 * them (slim rows and their rules, agent/slim_rows.h), the same walk. Seeds in corpus/unwind_walk/ (written
 * by corpus/make_unwind_walk.py, which documents the input layout):
 *
 *   u8 n_maps (& 7), u8 max, u64 ip, u64 regs[16], u64 mem_base,
 *   n_maps x { u64 start, u64 end, u64 bias, u16 n_rows },
 *   the rows of each mapping in turn (16 bytes each, struct
 *   smolder_unwind_row as it is in memory), then the stack copy: the rest.
 * Little-endian throughout; an input that ends early is cut to what it has.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "sample.h"
#include "slim_rows.h"
#include "unwind_walk.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAPS_MAX 7

struct cursor {
	const uint8_t *p;
	size_t left;
};

static uint64_t take(struct cursor *c, size_t n)
{
	uint64_t v = 0;

	if (n > c->left)
		n = c->left;
	memcpy(&v, c->p, n);
	c->p += n;
	c->left -= n;
	return v;
}

/* A copy of n bytes at p, in a block of exactly that size; NULL for 0. */
static void *dup_exact(const void *p, size_t n)
{
	void *d;

	if (!n)
		return NULL;
	d = malloc(n);
	if (!d)
		abort();
	memcpy(d, p, n);
	return d;
}

static size_t walk(const struct unwind_walk_mapping *maps, size_t n_maps,
		   const struct unwind_walk_regs *regs, const struct unwind_walk_memory *mem,
		   size_t max, uint64_t *out, unsigned int *end)
{
	uint64_t *pcs = max ? malloc(max * sizeof(*pcs)) : NULL;
	size_t n;

	if (max && !pcs)
		abort();
	n = unwind_walk(maps, n_maps, regs, mem, pcs, max, end);
	if (n > max || n > SMOLDER_MAX_STACK_DEPTH || *end >= SMOLDER_UNWIND_END_COUNT)
		abort();
	if (n)
		memcpy(out, pcs, n * sizeof(*pcs));
	free(pcs);
	return n;
}

/* The walk on slim rows (pcs that fit in 32 bits, as the loader takes
 * them) gives the frames and end of the walk on the rows they came from. */
static void check_slim(const struct unwind_walk_mapping *maps, size_t n_maps,
		       const struct unwind_walk_regs *regs, const struct unwind_walk_memory *mem,
		       const uint64_t *full, size_t n, unsigned int end)
{
	struct unwind_walk_mapping slim[MAPS_MAX];
	uint64_t pcs[SMOLDER_MAX_STACK_DEPTH];
	unsigned int slim_end;
	size_t slim_n;
	bool ok = true;

	for (size_t i = 0; i < n_maps; i++) {
		union smolder_unwind_elem *e = NULL;
		size_t n_elems = 0;

		slim[i] = maps[i];
		slim[i].rows = NULL;
		for (size_t r = 0; r < maps[i].n_rows; r++)
			ok = ok && maps[i].rows[r].pc <= UINT32_MAX;
		if (ok && maps[i].n_rows && slim_rows_make(maps[i].rows, maps[i].n_rows, &e, &n_elems))
			abort();
		slim[i].elems = e;
		slim[i].n_elems = n_elems;
	}
	if (ok) {
		slim_n = walk(slim, n_maps, regs, mem, SMOLDER_MAX_STACK_DEPTH, pcs, &slim_end);
		if (slim_n != n || slim_end != end || memcmp(pcs, full, n * sizeof(*pcs)))
			abort();
	}
	for (size_t i = 0; i < n_maps; i++)
		free((void *)slim[i].elems);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cursor c = { data, size };
	struct unwind_walk_mapping maps[MAPS_MAX] = { 0 };
	struct smolder_unwind_row *rows[MAPS_MAX] = { 0 };
	struct unwind_walk_regs regs;
	struct unwind_walk_memory mem;
	uint64_t full[SMOLDER_MAX_STACK_DEPTH], cut[SMOLDER_MAX_STACK_DEPTH];
	size_t n_maps, max, n, n_cut, limit;
	unsigned int end, end_cut;

	n_maps = take(&c, 1) & MAPS_MAX;
	max = take(&c, 1);
	regs.ip = take(&c, 8);
	for (int i = 0; i < SMOLDER_DWARF_GPRS; i++)
		regs.regs[i] = take(&c, 8);
	mem.base = take(&c, 8);
	for (size_t i = 0; i < n_maps; i++) {
		maps[i].start = take(&c, 8);
		maps[i].end = take(&c, 8);
		maps[i].bias = take(&c, 8);
		maps[i].n_rows = take(&c, 2);
	}
	for (size_t i = 0; i < n_maps; i++) {
		size_t n_rows = maps[i].n_rows;

		if (n_rows > c.left / sizeof(struct smolder_unwind_row))
			n_rows = c.left / sizeof(struct smolder_unwind_row);
		rows[i] = dup_exact(c.p, n_rows * sizeof(struct smolder_unwind_row));
		c.p += n_rows * sizeof(struct smolder_unwind_row);
		c.left -= n_rows * sizeof(struct smolder_unwind_row);
		maps[i].rows = rows[i];
		maps[i].n_rows = n_rows;
	}
	mem.len = c.left;
	mem.bytes = dup_exact(c.p, c.left);

	/* As much room as BPF's stack, then max: the same frames cut short. */
	n = walk(maps, n_maps, &regs, &mem, SMOLDER_MAX_STACK_DEPTH, full, &end);
	if (n == 0 || full[0] != regs.ip)
		abort();
	for (size_t i = 1; i < n; i++)
		if (full[i] == 0 || full[i] >= SMOLDER_KERNEL_START)
			abort();
	if (end == SMOLDER_UNWIND_END_TRUNCATED && n != SMOLDER_MAX_STACK_DEPTH)
		abort();
	n_cut = walk(maps, n_maps, &regs, &mem, max, cut, &end_cut);
	limit = max < SMOLDER_MAX_STACK_DEPTH ? max : SMOLDER_MAX_STACK_DEPTH;
	if (n > limit ? n_cut != limit || end_cut != SMOLDER_UNWIND_END_TRUNCATED
		      : n_cut != n || end_cut != end)
		abort();
	if (memcmp(cut, full, n_cut * sizeof(*cut)))
		abort();
	check_slim(maps, n_maps, &regs, &mem, full, n, end);

	free((void *)mem.bytes);
	for (size_t i = 0; i < n_maps; i++)
		free(rows[i]);
	return 0;
}
