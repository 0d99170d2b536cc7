/* Where Python frames go in a native stack: each evaluation loop's frames
 * just above (as callees of) the native frame of that loop. Apart from
 * python_frames.c, which names the frames, so that it can be tested on its
 * own. */
#ifndef SMOLDER_PYTHON_INTERLEAVE_H
#define SMOLDER_PYTHON_INTERLEAVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "python.h" /* bpf/ */

/* The stack, leaf first, into out (room for nu + np): the native user
 * frames native_ids[0..nu) (at addresses ips[0..nu), the leaf's exact, the
 * others return addresses) with the Python frames py_ids[0..np) (py[i]'s
 * tags saying where each loop's frames end: SMOLDER_PY_TAG_ENTRY) put in
 * before each native frame in_eval(ctx, address) says is in an
 * evaluation loop, one loop's frames each, leaf first. Loops the native
 * walk did not reach (it ended early) have their frames after the last
 * native frame; a loop's native frame beyond the Python frames keeps none.
 * Returns nu + np. */
size_t python_interleave(const uint64_t *ips, const uint64_t *native_ids, size_t nu,
			 const struct smolder_py_frame *py, const uint64_t *py_ids, size_t np,
			 bool (*in_eval)(const void *ctx, uint64_t addr), const void *ctx,
			 uint64_t *out);

#endif
