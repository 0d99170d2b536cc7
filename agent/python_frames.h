/* Python frames in a profile: each a pprof Location in a mapping named
 * "[python]", with one Line (the code object's qualified name, its .py
 * file, the line of the frame's instruction), put into the native stack
 * where it passes through the interpreter's evaluation loop. */
#ifndef SMOLDER_PYTHON_FRAMES_H
#define SMOLDER_PYTHON_FRAMES_H

#include <stddef.h>
#include <stdint.h>

#include "pprof.h"
#include "python.h"
#include "python_procs.h"

/* Frames that could not be named, by why. */
struct python_frames_unnamed {
	uint64_t gone;    /* the process's memory could not be read (it exited) */
	uint64_t stale;   /* the code object was freed and its memory reused */
	uint64_t late;    /* not named by the deadline, or no room to hold it */
};

/* Adds frames py[0..n) of process pr to b; ids[0..n) their locations.
 * Unnamed frames say so in their name, and are counted in *unnamed (per
 * frame, weighted by samples). */
int python_frames_add(struct python_proc *pr, struct pprof_builder *b,
		      const struct smolder_py_frame *py, size_t n, uint64_t samples,
		      struct python_frames_unnamed *unnamed, uint64_t *ids);

/* The stack, leaf first, into out: the native user frames native_ids[0..nu)
 * (at addresses ips[0..nu)) with the Python frames py_ids[0..np) put in
 * where the native walk passes through an evaluation loop, each loop's
 * frames (up to one marked SMOLDER_PY_TAG_ENTRY) before (as callees of)
 * its native frame. Loops the native walk did not reach (it ended
 * early) have their frames after the last native frame. Returns nu + np. */
size_t python_frames_interleave(const struct python_proc *pr, const uint64_t *ips,
				const uint64_t *native_ids, size_t nu,
				const struct smolder_py_frame *py, const uint64_t *py_ids, size_t np,
				uint64_t *out);

#endif
