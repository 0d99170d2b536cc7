/* Python frames into the native stack (python_interleave.h). */
#include "python_interleave.h"

/* The end (exclusive) of the evaluation loop's frames that start at i. */
static size_t group_end(const struct smolder_py_frame *py, size_t np, size_t i)
{
	while (i < np && !(py[i].tag & SMOLDER_PY_TAG_ENTRY))
		i++;
	return i < np ? i + 1 : np;
}

size_t python_interleave(const uint64_t *ips, const uint64_t *native_ids, size_t nu,
			 const struct smolder_py_frame *py, const uint64_t *py_ids, size_t np,
			 bool (*in_eval)(const void *ctx, uint64_t addr), const void *ctx,
			 uint64_t *out)
{
	size_t n = 0, j = 0;

	for (size_t i = 0; i < nu; i++) {
		/* A return address is after its call, maybe past the end. */
		if (j < np && in_eval(ctx, i ? ips[i] - 1 : ips[i])) {
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
