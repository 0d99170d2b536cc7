/* PythonCodes requests, on both sides of the wire (worker_python.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "python_code.h"
#include "python_lines.h"
#include "worker_python.h"

static void code_reply_free(Smolder__Worker__PythonCode *pc)
{
	if (!pc)
		return;
	/* Unset strings are protobuf-c's static "". */
	if (pc->qualname != protobuf_c_empty_string)
		free(pc->qualname);
	if (pc->file != protobuf_c_empty_string)
		free(pc->file);
	free(pc->line_starts);
	free(pc->line_ends);
	free(pc->lines);
	free(pc);
}

/* c's names into pc, which takes its strings. */
static int code_reply_fill(Smolder__Worker__PythonCode *pc, struct sym_py_code *c)
{
	size_t n = c->n_lines;

	pc->line_starts = malloc((n ? n : 1) * sizeof(*pc->line_starts));
	pc->line_ends = malloc((n ? n : 1) * sizeof(*pc->line_ends));
	pc->lines = malloc((n ? n : 1) * sizeof(*pc->lines));
	if (!pc->line_starts || !pc->line_ends || !pc->lines)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		pc->line_starts[i] = c->lines[i].start;
		pc->line_ends[i] = c->lines[i].end;
		pc->lines[i] = c->lines[i].line;
	}
	pc->n_line_starts = pc->n_line_ends = pc->n_lines = n;
	pc->qualname = c->qualname;
	pc->file = c->file;
	c->qualname = c->file = NULL;
	pc->first_line = c->first_line;
	return 0;
}

int worker_python_reply(const Smolder__Worker__PythonCodes *req, int mem_fd,
			Smolder__Worker__PythonCodesReply **out)
{
	Smolder__Worker__PythonCodesReply *r = calloc(1, sizeof(*r));
	struct sym_py_types types;
	size_t n = req->n_codes;

	*out = NULL;
	if (!r)
		return -ENOMEM;
	smolder__worker__python_codes_reply__init(r);
	*out = r;
	if (mem_fd < 0 || req->n_tags != n || n > SYM_PY_CODES_PER_REQUEST) {
		r->error = mem_fd < 0 ? -EBADF : -EPROTO;
		return 0;
	}
	types = (struct sym_py_types){ .minor = req->minor, .code_type = req->code_type,
				       .unicode_type = req->unicode_type,
				       .bytes_type = req->bytes_type };
	r->codes = calloc(n ? n : 1, sizeof(*r->codes));
	if (!r->codes)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		Smolder__Worker__PythonCode *pc = calloc(1, sizeof(*pc));
		struct sym_py_code c;

		if (!pc)
			return -ENOMEM;
		smolder__worker__python_code__init(pc);
		r->codes[r->n_codes++] = pc;
		pc->error = sym_py_code_read(mem_fd, &types, req->codes[i], req->tags[i], &c);
		if (!pc->error) {
			int err = code_reply_fill(pc, &c);

			sym_py_code_release(&c);
			if (err)
				return err;
		}
	}
	return 0;
}

void worker_python_reply_free(Smolder__Worker__PythonCodesReply *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n_codes; i++)
		code_reply_free(r->codes[i]);
	free(r->codes);
	free(r);
}

static bool ranges_valid(const Smolder__Worker__PythonCode *pc)
{
	if (pc->n_line_starts != pc->n_line_ends || pc->n_line_starts != pc->n_lines ||
	    pc->n_lines > SYM_PY_RANGES_MAX)
		return false;
	for (size_t i = 0; i < pc->n_lines; i++) {
		if (pc->line_starts[i] >= pc->line_ends[i] || pc->lines[i] < -1)
			return false;
		if (i && pc->line_starts[i] < pc->line_ends[i - 1])
			return false;
	}
	return true;
}

int worker_python_take(const Smolder__Worker__PythonCode *pc, struct sym_py_code *out)
{
	size_t n = pc->n_lines;

	memset(out, 0, sizeof(*out));
	if (!pc->qualname || !pc->file || strlen(pc->qualname) > 4 * SYM_PY_NAME_MAX ||
	    strlen(pc->file) > 4 * SYM_PY_FILE_MAX || !ranges_valid(pc))
		return -EPROTO;
	out->qualname = strdup(pc->qualname);
	out->file = strdup(pc->file);
	out->lines = n ? malloc(n * sizeof(*out->lines)) : NULL;
	if (!out->qualname || !out->file || (n && !out->lines)) {
		sym_py_code_release(out);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++)
		out->lines[i] = (struct sym_py_line_range){ .start = pc->line_starts[i],
							    .end = pc->line_ends[i],
							    .line = pc->lines[i] };
	out->n_lines = n;
	out->first_line = pc->first_line;
	return 0;
}

/* Every offset of struct sym_py_debug_offsets, for the two directions. */
#define DEBUG_OFFSETS(X)                                                           \
	X(runtime_interp_head) X(interp_threads_head) X(tstate_next) X(tstate_interp) \
	X(tstate_current_frame) X(tstate_thread_id) X(frame_previous)                \
	X(frame_executable) X(frame_instr_ptr) X(frame_owner) X(code_filename)        \
	X(code_name) X(code_qualname) X(code_linetable) X(code_firstlineno)           \
	X(code_adaptive) X(bytes_size) X(bytes_data) X(unicode_state)                 \
	X(unicode_length) X(unicode_ascii_data)

void worker_python_debug_fill(const struct sym_py_debug_offsets *o,
			      Smolder__Worker__PythonDebugOffsets *m)
{
	m->version = o->version;
	m->free_threaded = o->free_threaded;
#define FILL(f) m->f = o->f;
	DEBUG_OFFSETS(FILL)
#undef FILL
}

bool worker_python_debug_take(const Smolder__Worker__PythonDebugOffsets *m,
			      struct sym_py_debug_offsets *o)
{
#define TAKE(f)                              \
	if (m->f > UINT16_MAX - 8)           \
		return false;                \
	o->f = (uint16_t)m->f;
	DEBUG_OFFSETS(TAKE)
#undef TAKE
	o->version = m->version;
	o->free_threaded = m->free_threaded;
	return true;
}
