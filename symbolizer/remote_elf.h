/* What the agent takes from the parser worker's answers: a file's copy
 * (build-id, content id, segments, unwind table) and an address's frames. The worker
 * parses what any process controls and may itself be subverted, so its
 * answers are checked as untrusted bytes are: sizes bounded, strings
 * copied, an unwind table taken only whole and sorted. Internal to
 * symbolizer/. */
#ifndef SMOLDER_REMOTE_ELF_H
#define SMOLDER_REMOTE_ELF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "elf_file.h"
#include "worker.pb-c.h"

/* Frames of one address kept at most (deeper inlined chains are cut). */
#define SYM_REMOTE_FRAMES_MAX 32

/* A new sym_elf (remote_handle = handle) from an open's answer. A part
 * that is malformed (a build-id that is no hex, a content id
 * that is not 64 of them, an unwind table not whole
 * or not sorted) is left out and *malformed set; -ENOMEM only. */
int sym_remote_elf_new(const Smolder__Worker__OpenReply *r, uint64_t handle,
		       uint64_t generation, struct sym_elf **out, bool *malformed);

/* The frames of l into frames[SYM_REMOTE_FRAMES_MAX], pointing into l;
 * how many. */
size_t sym_remote_frames(const Smolder__Worker__Location *l, struct sym_frame *frames);

/* What the worker says an answer cost it, bounded: a claim of the whole
 * address space would otherwise evict every file. */
uint64_t sym_remote_bytes(uint64_t claimed);

#endif
