/* Unit tests of /healthz's judgement (agent/health.c): healthy while the
 * loop turns and intervals close; unhealthy, saying which and how long,
 * once either stops past its limit (3 intervals + the margin to close,
 * the loop's longest wait + the margin to turn); healthy again after. */
#include <errno.h>
#include <string.h>

#include "check.h"
#include "health.h"

#define S 1000000000LL

static void test_limits(void)
{
	struct health h;
	char why[160] = "";
	int64_t t0 = 1000 * S, margin = HEALTH_MARGIN_MS / 1000;

	/* 1 s intervals, a loop that waits at most 1 s: close limit 3 + margin,
	 * turn limit 1 + margin. */
	health_init(&h, 1000, 1000, t0);
	CHECK_INT(health_check(&h, t0, why, sizeof(why)), 0);
	CHECK(health_since_closed_s(&h, t0 + 2 * S) == 2.0, "since start before the first close");

	/* The loop turns but closes nothing: the close limit trips. */
	for (int64_t t = t0; t <= t0 + (3 + margin) * S; t += S)
		health_loop_turned(&h, t);
	CHECK_INT(health_check(&h, t0 + (3 + margin) * S, why, sizeof(why)), 0);
	CHECK_INT(health_check(&h, t0 + (4 + margin) * S, why, sizeof(why)), -ETIMEDOUT);
	CHECK(strstr(why, "no interval closed") && !strchr(why, '\n'), "why: %s", why);

	/* A close brings it back; then a loop stuck in one pass trips the
	 * turn limit before the close limit. */
	health_interval_closed(&h, t0 + (4 + margin) * S);
	health_loop_turned(&h, t0 + (4 + margin) * S);
	CHECK_INT(health_check(&h, t0 + (4 + margin) * S, why, sizeof(why)), 0);
	CHECK_INT(health_check(&h, t0 + (5 + 2 * margin) * S, why, sizeof(why)), 0);
	CHECK_INT(health_check(&h, t0 + (6 + 2 * margin) * S, why, sizeof(why)), -ETIMEDOUT);
	CHECK(strstr(why, "has not turned") != NULL, "why: %s", why);
	CHECK(health_since_closed_s(&h, t0 + (6 + 2 * margin) * S) == (double)(2 + margin),
	      "since the close");
}

/* 15 s intervals (the default), woken by the 10 s /proc scan: a pass may
 * take the margin, three intervals and the margin pass before a stall. */
static void test_default_interval(void)
{
	struct health h;
	char why[160] = "";
	int64_t t0 = 5 * S, margin = HEALTH_MARGIN_MS / 1000;

	health_init(&h, 15000, 10000, t0);
	for (int64_t t = t0; t <= t0 + (45 + margin) * S; t += 10 * S)
		health_loop_turned(&h, t);
	CHECK_INT(health_check(&h, t0 + (45 + margin) * S, why, sizeof(why)), 0);
	CHECK_INT(health_check(&h, t0 + (46 + margin) * S, why, sizeof(why)), -ETIMEDOUT);
	CHECK(strstr(why, "limit 75 s") != NULL, "why: %s", why);
}

int main(void)
{
	test_limits();
	test_default_interval();
	return check_report("health");
}
