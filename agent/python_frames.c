/* Python frames in a profile (python_frames.h). */
#include <errno.h>

#include "python_frames.h"
#include "python_interleave.h"

static const char *unnamed_name(int err, struct python_frames_unnamed *u, uint64_t samples)
{
	if (err == -EIO) {
		u->gone += samples;
		return "[python: process gone before its frames were named]";
	}
	if (err == -ESTALE || err == -EINVAL) {
		u->stale += samples;
		return "[python: code object gone before it was named]";
	}
	u->late += samples;
	return "[python: frame not named]";
}

static int add_frame(struct python_proc *pr, struct pprof_builder *b,
		     const struct smolder_py_frame *f, uint64_t samples,
		     struct python_frames_unnamed *unnamed, uint64_t *id)
{
	struct pprof_mapping_desc m = { .filename = "[python]" };
	struct pprof_line_desc line = { 0 };
	const struct sym_py_code *code;
	uint64_t mapping_id;
	int err;

	code = python_proc_code(pr, f, &err);
	if (code) {
		line.function_name = code->qualname;
		line.filename = code->file;
		line.start_line = code->first_line;
		line.line = sym_py_code_line(code, f->instr);
		if (!line.line)
			line.line = code->first_line;
	} else {
		line.function_name = unnamed_name(err, unnamed, samples);
	}
	m.has_functions = code != NULL;
	m.has_filenames = code != NULL;
	m.has_line_numbers = code != NULL;
	err = pprof_builder_add_mapping(b, &m, &mapping_id);
	if (!err)
		err = pprof_builder_add_location(b, mapping_id, 0, &line, 1, id);
	return err;
}

int python_frames_add(struct python_proc *pr, struct pprof_builder *b,
		      const struct smolder_py_frame *py, size_t n, uint64_t samples,
		      struct python_frames_unnamed *unnamed, uint64_t *ids)
{
	int err = 0;

	for (size_t i = 0; i < n && !err; i++)
		err = add_frame(pr, b, &py[i], samples, unnamed, &ids[i]);
	return err;
}

static bool in_eval(const void *pr, uint64_t addr)
{
	return python_proc_in_eval(pr, addr);
}

size_t python_frames_interleave(const struct python_proc *pr, const uint64_t *ips,
				const uint64_t *native_ids, size_t nu,
				const struct smolder_py_frame *py, const uint64_t *py_ids, size_t np,
				uint64_t *out)
{
	return python_interleave(ips, native_ids, nu, py, py_ids, np, in_eval, pr, out);
}
