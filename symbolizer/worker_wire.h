/* The parser worker's wire: one WorkerMessage (proto/worker.proto) at a
 * time over an AF_UNIX stream socket, with its length in front and file
 * descriptors beside it. Both sides use it: the agent with deadlines, so
 * a worker that stops answering costs bounded time; the worker without.
 * Internal to symbolizer/. */
#ifndef SMOLDER_WORKER_WIRE_H
#define SMOLDER_WORKER_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "worker.pb-c.h"

typedef Smolder__Worker__WorkerMessage sym_wire_msg;

/* Larger messages are refused on both sides: an unwind table of the
 * largest library seen (libLLVM, about 1.5 M rows) fits with room. */
#define SYM_WIRE_MAX_BYTES (64u << 20)
/* Descriptors that may come with one message. */
#define SYM_WIRE_MAX_FDS 16

/* deadline_ns: CLOCK_MONOTONIC; 0 waits as long as it takes.
 * -ETIMEDOUT past the deadline, -EPIPE when the peer is gone, -EMSGSIZE
 * for a message too large; the socket is unusable after any error but
 * sym_wire_recv's timeout before a message begins. */
int sym_wire_send(int sock, const sym_wire_msg *m, const int *fds, size_t nfds,
		  uint64_t deadline_ns);

/* Receives one message into *out (sym_wire_free it) and its descriptors
 * into fds (at most SYM_WIRE_MAX_FDS; *nfds of them, owned by the caller).
 * -ETIMEDOUT when none has begun by start_deadline_ns (the socket is still
 * usable then), or one begun has not ended by deadline_ns. -EPROTO for
 * bytes that are no message. */
int sym_wire_recv(int sock, uint64_t start_deadline_ns, uint64_t deadline_ns,
		  sym_wire_msg **out, int fds[SYM_WIRE_MAX_FDS], size_t *nfds);

void sym_wire_free(sym_wire_msg *m);

uint64_t sym_wire_now_ns(void);

#endif
