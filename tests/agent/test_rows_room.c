/* Unit tests of the choice of a run for an unwind table in the rows array
 * (agent/rows_room.h): a free run before any eviction, then the window of
 * unmapped tables whose newest is the oldest, never one with a table a
 * process maps, and a run whole or not at all. */
#include <stdbool.h>
#include <stdint.h>

#include "check.h"
#include "rows_room.h"

#define SPAN(f, n_, used, map) { .first = (f), .n = (n_), .last_used = (used), .mapped = (map) }

struct choice {
	bool found;
	uint32_t first;
	size_t from, to;
};

static struct choice choose(const struct rows_span *s, size_t n, uint32_t max, uint32_t need)
{
	struct choice c = { .first = 0xdead, .from = 99, .to = 99 };

	c.found = rows_room_choose(s, n, max, need, &c.first, &c.from, &c.to);
	return c;
}

#define EXPECT(c, first_, from_, to_)                                          \
	do {                                                                   \
		CHECK((c).found);                                              \
		CHECK_INT((c).first, first_);                                  \
		CHECK_INT((c).from, from_);                                    \
		CHECK_INT((c).to, to_);                                        \
	} while (0)

static void test_empty(void)
{
	EXPECT(choose(NULL, 0, 100, 100), 0, 0, 0);
	CHECK(!choose(NULL, 0, 100, 101).found);
}

/* A free run anywhere, even after a table used long ago, evicts nothing. */
static void test_free_run_first(void)
{
	const struct rows_span s[] = {
		SPAN(0, 10, 1, false),   /* old: evicting it would make room too */
		SPAN(10, 50, 9, true),
		SPAN(70, 20, 5, false),  /* a gap of 10 before it, of 10 after */
	};

	/* The first run long enough, in order: [60, 70), an empty window. */
	EXPECT(choose(s, 3, 100, 10), 60, 2, 2);
	/* Only at the end, after a window that would do as well. */
	{
		const struct rows_span t[] = {
			SPAN(0, 10, 9, true),
			SPAN(10, 80, 1, false),
		};

		EXPECT(choose(t, 2, 100, 10), 90, 2, 2);
		EXPECT(choose(t, 2, 100, 11), 10, 1, 2);
	}
}

/* No free run: the window of unmapped tables whose newest is oldest. */
static void test_oldest_window(void)
{
	const struct rows_span s[] = {
		SPAN(0, 30, 8, false),
		SPAN(30, 30, 2, false),
		SPAN(60, 10, 9, true),
		SPAN(70, 30, 3, false),
	};

	/* 30: the table used at 2 alone. */
	EXPECT(choose(s, 4, 100, 30), 30, 1, 2);
	/* 60: only the first two together, around nothing mapped. */
	EXPECT(choose(s, 4, 100, 60), 0, 0, 2);
	/* 61: every run of 61 holds the mapped table. */
	CHECK(!choose(s, 4, 100, 61).found);
}

/* The build host's case: old small tables spread between mapped ones
 * free no run long enough; a newer but contiguous pair does. */
static void test_contiguous(void)
{
	const struct rows_span s[] = {
		SPAN(0, 10, 1, false),
		SPAN(10, 20, 6, true),
		SPAN(30, 10, 2, false),
		SPAN(40, 20, 7, true),
		SPAN(60, 25, 4, false),
		SPAN(85, 15, 5, false),
	};

	EXPECT(choose(s, 6, 100, 40), 60, 4, 6);
	/* A gap before a window counts: 5 free at 55 make a run of 45. */
	{
		const struct rows_span t[] = {
			SPAN(0, 55, 9, true),
			SPAN(60, 40, 3, false),
		};

		EXPECT(choose(t, 2, 100, 45), 55, 1, 2);
		CHECK(!choose(t, 2, 100, 46).found);
	}
}

int main(void)
{
	test_empty();
	test_free_run_first();
	test_oldest_window();
	test_contiguous();
	return check_report("rows_room");
}
