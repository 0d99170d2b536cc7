/* Taking the parser worker's answers (remote_elf.h). */
#include "remote_elf.h"
#include "worker_python.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "content_id.h"
#include "unwind.h"
#include "unwind_table.h"

/* More than any file's symbols and DWARF state cost, by far. */
#define REMOTE_BYTES_MAX ((uint64_t)1 << 30)
/* ELF files have a handful of PT_LOAD segments. */
#define REMOTE_LOADS_MAX 64

static bool is_hex(const char *s)
{
	return strspn(s, "0123456789abcdef") == strlen(s);
}

/* Taken only if it is what the walk expects: rows whole and sorted. */
static int take_unwind_rows(struct sym_elf *se, const ProtobufCBinaryData *rows,
			    bool *malformed)
{
	size_t n = rows->len / sizeof(*se->unwind.rows);

	if (!rows->len)
		return 0;
	if (rows->len % sizeof(*se->unwind.rows)) {
		*malformed = true;
		return 0;
	}
	se->unwind.rows = malloc(rows->len);
	if (!se->unwind.rows)
		return -ENOMEM;
	memcpy(se->unwind.rows, rows->data, rows->len);
	se->unwind.n = n;
	for (size_t i = 1; i < n; i++)
		if (se->unwind.rows[i].pc <= se->unwind.rows[i - 1].pc) {
			sym_unwind_table_release(&se->unwind);
			*malformed = true;
			return 0;
		}
	return 0;
}

static int take_loads(struct sym_elf *se, const Smolder__Worker__OpenReply *r, bool *malformed)
{
	size_t n = r->n_loads;

	if (n > REMOTE_LOADS_MAX) {
		*malformed = true;
		n = REMOTE_LOADS_MAX;
	}
	if (!n)
		return 0;
	se->loads = calloc(n, sizeof(*se->loads));
	if (!se->loads)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		se->loads[se->nloads++] = (struct sym_elf_load){
			.offset = r->loads[i]->offset,
			.filesz = r->loads[i]->filesz,
			.vaddr = r->loads[i]->vaddr,
		};
	return 0;
}

/* The interpreter the worker found, checked: all or nothing. */
static void take_python(struct sym_elf *se, const Smolder__Worker__PythonFile *py, bool *malformed)
{
	if (!py)
		return;
	if (!py->runtime || !py->code_type || !py->unicode_type || !py->bytes_type ||
	    py->n_eval_starts != py->n_eval_ends || py->n_eval_starts > 2) {
		*malformed = true;
		return;
	}
	for (size_t i = 0; i < py->n_eval_starts; i++) {
		if (py->eval_starts[i] >= py->eval_ends[i]) {
			*malformed = true;
			return;
		}
		se->python.eval[i][0] = py->eval_starts[i];
		se->python.eval[i][1] = py->eval_ends[i];
	}
	se->python.n_eval = (uint32_t)py->n_eval_starts;
	if (py->debug_offsets) {
		se->python.has_debug_offsets =
			worker_python_debug_take(py->debug_offsets, &se->python.debug_offsets);
		*malformed |= !se->python.has_debug_offsets;
	}
	se->python.runtime = py->runtime;
	se->python.code_type = py->code_type;
	se->python.unicode_type = py->unicode_type;
	se->python.bytes_type = py->bytes_type;
	se->python.version = py->version;
}

int sym_remote_elf_new(const Smolder__Worker__OpenReply *r, uint64_t handle,
		       uint64_t generation, struct sym_elf **out, bool *malformed)
{
	struct sym_elf *se = calloc(1, sizeof(*se));
	int err;

	*out = NULL;
	*malformed = false;
	if (!se)
		return -ENOMEM;
	se->remote_handle = handle;
	se->remote_generation = generation;
	se->remote_dwarf = r->has_dwarf;
	se->remote_source = (int)r->debug_source;
	if (r->build_id && strlen(r->build_id) < sizeof(se->build_id) && is_hex(r->build_id))
		strcpy(se->build_id, r->build_id);
	else if (r->build_id && r->build_id[0])
		*malformed = true;
	if (r->content_id && sym_content_id_valid(r->content_id))
		strcpy(se->content_id, r->content_id);
	else if (r->content_id && r->content_id[0])
		*malformed = true;
	err = take_loads(se, r, malformed);
	if (!err)
		err = take_unwind_rows(se, &r->unwind_rows, malformed);
	if (err) {
		sym_elf_free(se);
		return err;
	}
	take_python(se, r->python, malformed);
	se->unwind.unsupported_rows = r->unsupported_rows;
	se->unwind.skipped_fdes = r->skipped_fdes;
	se->bytes = sym_remote_bytes(r->bytes) + sizeof(*se) + se->nloads * sizeof(*se->loads) +
		    se->unwind.n * sizeof(*se->unwind.rows);
	*out = se;
	return 0;
}

size_t sym_remote_frames(const Smolder__Worker__Location *l, struct sym_frame *frames)
{
	size_t n = l->n_frames < SYM_REMOTE_FRAMES_MAX ? l->n_frames : SYM_REMOTE_FRAMES_MAX;

	for (size_t i = 0; i < n; i++)
		frames[i] = (struct sym_frame){
			.name = l->frames[i]->name,
			.system_name = l->frames[i]->system_name,
			.file = l->frames[i]->file,
			.line = l->frames[i]->line,
			.start_line = l->frames[i]->start_line,
		};
	return n;
}

uint64_t sym_remote_bytes(uint64_t claimed)
{
	return claimed < REMOTE_BYTES_MAX ? claimed : REMOTE_BYTES_MAX;
}
