/* Python frames in a profile (python_frames.h). */
#include <errno.h>

#include "python_frames.h"

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

/* The end (exclusive) of the evaluation loop's frames that start at i. */
static size_t group_end(const struct smolder_py_frame *py, size_t np, size_t i)
{
	while (i < np && !(py[i].tag & SMOLDER_PY_TAG_ENTRY))
		i++;
	return i < np ? i + 1 : np;
}

size_t python_frames_interleave(const struct python_proc *pr, const uint64_t *ips,
				const uint64_t *native_ids, size_t nu,
				const struct smolder_py_frame *py, const uint64_t *py_ids, size_t np,
				uint64_t *out)
{
	size_t n = 0, j = 0;

	for (size_t i = 0; i < nu; i++) {
		/* A return address is after its call, maybe past the end. */
		if (j < np && python_proc_in_eval(pr, i ? ips[i] - 1 : ips[i])) {
			size_t end = group_end(py, np, j);

			while (j < end)
				out[n++] = py_ids[j++];
		}
		out[n++] = native_ids[i];
	}
	while (j < np)
		out[n++] = py_ids[j++];
	return n;
}
