/* libFuzzer target for what the agent takes from the parser worker: the
 * worker parses bytes any process controls and may be subverted, so its
 * messages are hostile input to the privileged side. Bytes are unpacked as
 * a WorkerMessage (what sym_worker.c does with a frame off the socket);
 * an open_reply goes through sym_remote_elf_new and is then used as the
 * agent uses a file (offsets to addresses, the unwind table's rows), a
 * resolve_reply's locations through sym_remote_frames and
 * sym_elf_keep_address, as sym_cache applies them, a perf_map_reply's
 * table through sym_perf_map_import and lookups. Nothing may crash, leak
 * or read out of bounds, and what was taken must keep the promises
 * remote_elf.h makes (hex build-id, a content id of 64 hex digits or
 * none, sorted rows, a bounded cost). Built
 * with -Dfuzz=true (CC=clang); seeds in corpus/worker_reply/, made by
 * corpus/make_worker_reply.py. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "perf_map.h"
#include "remote_elf.h"
#include "resolve.h"
#include "sym.h"
#include "unwind.h"
#include "worker.pb-c.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t sink;

/* A remote file's handle is never 0: 0 means a file read in-process. */
static uint64_t handle_of(const Smolder__Worker__WorkerMessage *m)
{
	return m->id | 1;
}

static void use_unwind(const struct sym_elf *se, uint64_t pc)
{
	const struct sym_unwind_table *t = sym_elf_unwind_table(se);
	const struct smolder_unwind_row *row;

	if (!t)
		return;
	row = sym_unwind_table_find(t, pc);
	if (row && (row < t->rows || row >= t->rows + t->n || row->pc > pc))
		abort();
	if (!row && t->rows[0].pc <= pc)
		abort();
}

static void use_address(const struct sym_elf *se, uint64_t off)
{
	uint64_t vaddr;

	if (!sym_elf_offset_to_vaddr(se, off, &vaddr)) {
		use_unwind(se, vaddr);
		use_unwind(se, vaddr - 1);
	}
	use_unwind(se, off);
}

static void open_reply(const Smolder__Worker__WorkerMessage *m)
{
	const Smolder__Worker__OpenReply *r = m->open_reply;
	const struct sym_unwind_table *t;
	struct sym_elf *se;
	const char *id;
	bool malformed;

	if (sym_remote_elf_new(r, handle_of(m), 1, &se, &malformed))
		return;
	id = sym_elf_build_id(se);
	if (id && strspn(id, "0123456789abcdef") != strlen(id))
		abort();
	id = sym_elf_content_id(se);
	if (id && (strlen(id) != 64 || strspn(id, "0123456789abcdef") != 64))
		abort();
	t = sym_elf_unwind_table(se);
	for (size_t i = 1; t && i < t->n; i++)
		if (t->rows[i].pc <= t->rows[i - 1].pc)
			abort();
	/* The cost a worker claims is capped at 1 GiB; what the agent adds
	 * for its own copy is bounded by the message's size. */
	if (se->bytes > ((uint64_t)1 << 30) + sizeof(*se) + 64 * sizeof(*se->loads) +
				r->unwind_rows.len)
		abort();
	sink += (size_t)sym_elf_has_dwarf(se);
	/* Each segment's edges, and a few offsets and rows' addresses the
	 * message names, which reach the ends of both tables. */
	for (size_t i = 0; i < r->n_loads && i < 8; i++) {
		use_address(se, r->loads[i]->offset);
		use_address(se, r->loads[i]->offset + r->loads[i]->filesz - 1);
		use_address(se, r->loads[i]->offset + r->loads[i]->filesz);
	}
	for (size_t i = 0; t && i < t->n && i < 8; i++) {
		use_unwind(se, t->rows[i].pc);
		use_unwind(se, t->rows[t->n - 1 - i].pc + 1);
	}
	use_address(se, 0);
	use_address(se, UINT64_MAX);
	sym_elf_free(se);
}

static void read_location(const struct sym_location *loc)
{
	if (loc->n > SYM_REMOTE_FRAMES_MAX)
		abort();
	for (size_t i = 0; i < loc->n; i++) {
		const struct sym_frame *f = &loc->frames[i];

		sink += f->name ? strlen(f->name) : 0;
		sink += f->system_name ? strlen(f->system_name) : 0;
		sink += f->file ? strlen(f->file) : 0;
		sink += (size_t)(f->line + f->start_line);
	}
}

/* The addresses the agent asked for, in the reply's order: a few, some
 * twice, as a batch of one interval's samples may hold. */
static uint64_t asked(size_t i)
{
	return 0x1000 + (i % 5) * 0x10;
}

/* The file the answers are kept with, or NULL. */
static struct sym_elf *resolve_reply(const Smolder__Worker__WorkerMessage *m)
{
	Smolder__Worker__OpenReply empty = SMOLDER__WORKER__OPEN_REPLY__INIT;
	const Smolder__Worker__ResolveReply *r = m->resolve_reply;
	struct sym_frame frames[SYM_REMOTE_FRAMES_MAX];
	struct sym_location loc;
	struct sym_elf *se;
	bool malformed;
	size_t n, added;

	if (sym_remote_elf_new(&empty, handle_of(m), 1, &se, &malformed))
		return NULL;
	for (size_t i = 0; i < r->n_locations; i++) {
		if (sym_elf_kept_address(se, asked(i), &loc)) {
			read_location(&loc);
			continue;
		}
		n = sym_remote_frames(r->locations[i], frames);
		if (n > SYM_REMOTE_FRAMES_MAX)
			abort();
		if (!sym_elf_keep_address(se, asked(i), frames, n, r->locations[i]->from_dwarf,
					  &loc, &added))
			read_location(&loc);
	}
	sink += (size_t)sym_remote_bytes(r->bytes);
	return se;
}

/* A perf map's table, taken as the cache takes it (sym_perf_map_import)
 * and looked up around its ranges. */
static void perf_map_reply(const Smolder__Worker__WorkerMessage *m)
{
	const Smolder__Worker__PerfMapReply *r = m->perf_map_reply;
	struct sym_perf_map_table t = {
		.starts = r->starts,
		.ends = r->ends,
		.name_offsets = r->name_offsets,
		.n = r->n_starts,
		.names = (const char *)r->names.data,
		.names_len = r->names.len,
	};
	struct sym_perf_map *map;
	const char *name;

	if (r->n_ends != r->n_starts || r->n_name_offsets != r->n_starts ||
	    sym_perf_map_import(&t, &map))
		return;
	for (size_t i = 0; i < r->n_starts && i < 8; i++)
		for (int d = -1; d <= 1; d++)
			if (sym_perf_map_lookup(map, r->starts[i] + (uint64_t)d, &name) == 0)
				sink += strlen(name);
	sym_perf_map_free(map);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	Smolder__Worker__WorkerMessage *m;
	struct sym_elf *se = NULL;
	struct sym_location loc;

	m = smolder__worker__worker_message__unpack(NULL, size, data);
	if (!m)
		return 0;
	switch (m->body_case) {
	case SMOLDER__WORKER__WORKER_MESSAGE__BODY_OPEN_REPLY:
		open_reply(m);
		break;
	case SMOLDER__WORKER__WORKER_MESSAGE__BODY_RESOLVE_REPLY:
		se = resolve_reply(m);
		break;
	case SMOLDER__WORKER__WORKER_MESSAGE__BODY_PERF_MAP_REPLY:
		perf_map_reply(m);
		break;
	default:
		break;
	}
	smolder__worker__worker_message__free_unpacked(m, NULL);
	/* What was kept must outlive the message it was copied from. */
	for (size_t i = 0; se && i < 5; i++)
		if (sym_elf_kept_address(se, asked(i), &loc))
			read_location(&loc);
	sym_elf_free(se);
	return 0;
}
