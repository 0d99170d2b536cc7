/* Frames to pprof locations: names each address of a stack (through
 * discovery's mappings and the symbolizer) and adds it to a profile.
 * Unnamed frames keep their address, file and build-id, so a server can
 * name them later.
 */
#ifndef SMOLDER_FRAMES_H
#define SMOLDER_FRAMES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "disc.h"
#include "location_memo.h"
#include "pprof.h"
#include "sym.h"

/* The symbol cache's reference to the file of mapping m of process p. */
void frames_file_ref(const struct disc_process *p, const struct disc_mapping *m,
		     struct sym_file_ref *ref);

/* A frame that is no address but says something about the stack (how its
 * walk ended: "[truncated]"), into *id. */
int frames_add_marker(struct pprof_builder *b, const char *name, uint64_t *id);

/* Adds the kernel frames ips[0..n) (leaf first) to b, named; ids receives
 * their location ids. Their addresses only when addresses is true
 * (--kernel-addresses). A frame memo holds (NULL: none) is not named
 * again, and those named are added to it. */
int frames_add_kernel(struct sym_cache *sym, struct location_memo *memo,
		      struct pprof_builder *b, const uint64_t *ips, size_t n, bool addresses,
		      uint64_t *ids);

/* Says which addresses of p's user frames ips[0..n), a stack of samples
 * samples, are about to be named, so that the symbolizer asks for them
 * together (sym_cache_want; sym_cache_fetch then asks). */
void frames_want_user(struct sym_cache *sym, const struct disc_process *p,
		      const uint64_t *ips, size_t n, uint64_t samples);

/* Adds the mapping of p's executable's code to b, as its next mapping:
 * for its first, which names the profile in pprof. Nothing when p has no
 * executable mapped (a kernel thread). */
int frames_add_main_mapping(struct sym_cache *sym, const struct disc_process *p,
			    struct pprof_builder *b);

/* Adds the user frames of process p (through memo, as frames_add_kernel).
 * May re-read p's maps once, when an address lies outside every mapping we
 * know (a library loaded since). */
int frames_add_user(struct sym_cache *sym, struct location_memo *memo, struct disc_table *disc,
		    const struct disc_process *p, struct pprof_builder *b,
		    const uint64_t *ips, size_t n, uint64_t *ids);

/* True when the outermost of p's user frames ips[0..n) is a function a
 * thread starts in (_start, clone, clone3, start_thread), as named: a walk
 * whose frame-pointer chain ended there has the whole stack. */
bool frames_user_root(struct sym_cache *sym, const struct disc_process *p,
		      const uint64_t *ips, size_t n);

/* How many of the kernel frames ips[0..n) (leaf first) are the tracing's
 * own, atop a stack taken in a tracepoint's program (the program,
 * bpf_trace_run, the tracepoint's iterator): how many go at a time varies
 * with the probes attached to the tracepoint. */
size_t frames_kernel_tracing(struct sym_cache *sym, const uint64_t *ips, size_t n);

/* True when one of the depth innermost of p's user frames ips[0..n), or a
 * call inlined into it, is named as match says. */
bool frames_user_calls(struct sym_cache *sym, const struct disc_process *p,
		       const uint64_t *ips, size_t n, size_t depth,
		       bool (*match)(const char *name));

#endif
