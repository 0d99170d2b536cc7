/* The run loop's progress, as /healthz judges it (see health.h). */
#include "health.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>

#define NS_PER_MS 1000000LL

void health_init(struct health *h, uint64_t interval_ms, uint64_t wake_ms, int64_t now_ns)
{
	atomic_init(&h->turned_ns, now_ns);
	atomic_init(&h->closed_ns, now_ns);
	h->close_limit_ns = (3 * (int64_t)interval_ms + HEALTH_MARGIN_MS) * NS_PER_MS;
	h->turn_limit_ns = ((int64_t)wake_ms + HEALTH_MARGIN_MS) * NS_PER_MS;
}

void health_loop_turned(struct health *h, int64_t now_ns)
{
	atomic_store_explicit(&h->turned_ns, now_ns, memory_order_relaxed);
}

void health_interval_closed(struct health *h, int64_t now_ns)
{
	atomic_store_explicit(&h->closed_ns, now_ns, memory_order_relaxed);
}

int health_check(struct health *h, int64_t now_ns, char *why, size_t why_len)
{
	int64_t closed = now_ns - atomic_load_explicit(&h->closed_ns, memory_order_relaxed);
	int64_t turned = now_ns - atomic_load_explicit(&h->turned_ns, memory_order_relaxed);

	if (closed > h->close_limit_ns) {
		snprintf(why, why_len, "no interval closed for %.1f s (limit %.0f s)",
			 (double)closed / 1e9, (double)h->close_limit_ns / 1e9);
		return -ETIMEDOUT;
	}
	if (turned > h->turn_limit_ns) {
		snprintf(why, why_len, "the run loop has not turned for %.1f s (limit %.0f s)",
			 (double)turned / 1e9, (double)h->turn_limit_ns / 1e9);
		return -ETIMEDOUT;
	}
	return 0;
}

double health_since_closed_s(struct health *h, int64_t now_ns)
{
	return (double)(now_ns - atomic_load_explicit(&h->closed_ns, memory_order_relaxed)) / 1e9;
}
