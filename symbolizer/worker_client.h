/* The agent's side of the parser worker's protocol, for sym_cache.c: one
 * request outstanding at a time, sent, then waited for as long as the
 * caller can afford; a request that outlives its own deadline gets the
 * worker killed. Internal to symbolizer/. */
#ifndef SMOLDER_WORKER_CLIENT_H
#define SMOLDER_WORKER_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "debuginfo.h"
#include "sym.h"
#include "worker_wire.h"

/* Sends req (its id is set here) with fds (not taken). search: where the
 * debug file of an open may be (copied; NULL for other requests), for the
 * worker's questions while it answers. Starts the worker if none runs.
 * -EBUSY: a request is outstanding; -ECHILD: no worker (it could not be
 * started, or restarted too often this minute). */
int sym_worker_send(struct sym_worker *w, sym_wire_msg *req, const int *fds, size_t nfds,
		    const struct sym_debug_search *search);

/* Waits for the outstanding request's reply until wait_until_ns (0: the
 * request's own deadline). 0: *reply (sym_wire_free it) and its *id.
 * -EINPROGRESS: not yet; it stays outstanding. -ETIMEDOUT: its deadline
 * passed and the worker was killed. -ECHILD: the worker died on it. */
int sym_worker_wait(struct sym_worker *w, uint64_t wait_until_ns, sym_wire_msg **reply,
		    uint64_t *id);

bool sym_worker_busy(const struct sym_worker *w);

/* Says to drop a file; sent before the next request. */
void sym_worker_forget(struct sym_worker *w, uint64_t handle);

/* Changes each time a worker ends: the handles it gave are void. */
uint64_t sym_worker_generation(const struct sym_worker *w);

/* How the last worker ended, for a message: "killed by SIGBUS",
 * "over its memory cap", "timed out". */
const char *sym_worker_last_death(const struct sym_worker *w);

#endif
