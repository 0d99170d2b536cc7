/* Whether the run loop is making progress, for /healthz: a process that is
 * there but whose loop is stuck (a drain that never returns, a parse that
 * spins) must fail its liveness probe, so that it is restarted.
 *
 * The loop's thread records a monotonic timestamp on each pass of its loop
 * and on each interval it closes; the HTTP server's thread reads them. No
 * lock: each is one atomic word, and the loop never waits for a scrape.
 *
 * The limits, and why (I = --upload-interval):
 *   - no interval closed for 3 I + 30 s. An interval closes I after the
 *     last (its end is rounded up to a whole second), at most I/2 later
 *     when its pods are awaited, and its profiles take a while to build
 *     (naming a host's files at start, on a node whose CPU limit throttles
 *     the agent); three closes missed in a row, and 30 s besides, is a
 *     stall, not a busy interval.
 *   - the loop not turned for W + 30 s, W how long it waits at most
 *     between passes (run.c: the interval's end or its /proc scan, so
 *     min(I, 10 s)): one pass's work (a drain and its profiles, a scan)
 *     gets the same 30 s.
 * A liveness probe adds its own period times its failure threshold before
 * a restart (the DaemonSet's: 30 s times 3).
 */
#ifndef SMOLDER_HEALTH_H
#define SMOLDER_HEALTH_H

#include <stddef.h>
#include <stdint.h>

/* The slack given to one pass's work, above the longest legitimate wait. */
#define HEALTH_MARGIN_MS 30000

struct health {
	_Atomic int64_t turned_ns; /* CLOCK_MONOTONIC */
	_Atomic int64_t closed_ns; /* before the first interval: the start */
	int64_t close_limit_ns;
	int64_t turn_limit_ns;
};

/* The loop closes an interval every interval_ms and wakes at least every
 * wake_ms; now_ns is CLOCK_MONOTONIC, the start of both clocks. */
void health_init(struct health *h, uint64_t interval_ms, uint64_t wake_ms, int64_t now_ns);

void health_loop_turned(struct health *h, int64_t now_ns);
void health_interval_closed(struct health *h, int64_t now_ns);

/* 0 while the loop makes progress, else -ETIMEDOUT with a one-line reason
 * (no line end) in why. */
int health_check(struct health *h, int64_t now_ns, char *why, size_t why_len);

/* Seconds since the last interval closed (since health_init before the
 * first). */
double health_since_closed_s(struct health *h, int64_t now_ns);

#endif
