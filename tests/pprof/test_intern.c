/* Unit test of pprof/intern.c, the hash index every builder table stands on:
 * finding and appending through growth, keys that collide on purpose, keys
 * that differ from records, room reserved ahead, and the hash helpers'
 * sensitivity to order and length. A broken index would show in the profile
 * tests only as a wrong count; here it shows as the exact record that went
 * missing.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "intern.h"

struct pair {
	uint64_t a, b;
};

static int eq_calls;

static bool pair_eq(const void *key, const void *record, const void *ctx)
{
	const struct pair *k = key, *r = record;

	CHECK(ctx == &eq_calls, "eq got ctx %p, not the one given to init", ctx);
	eq_calls++;
	return k->a == r->a && k->b == r->b;
}

static uint64_t pair_hash(const struct pair *p)
{
	return intern_hash_u64(intern_hash_u64(INTERN_HASH_SEED, p->a), p->b);
}

static void test_empty(void)
{
	struct intern t;
	struct pair p = { 1, 2 };
	size_t index = 77;

	intern_init(&t, sizeof(p), pair_eq, &eq_calls);
	CHECK(!intern_find(&t, pair_hash(&p), &p, &index), "found in an empty table");
	CHECK(index == 77, "a miss wrote the index");
	CHECK(intern_count(&t) == 0, "empty count %zu", intern_count(&t));
	intern_free(&t);
	intern_free(&t); /* twice is harmless */
}

/* Enough records to grow the index many times; every one must stay
 * findable at the index it was given. */
static void test_growth(uint64_t (*hash)(const struct pair *), size_t n,
			const char *what)
{
	struct intern t;
	size_t index;

	intern_init(&t, sizeof(struct pair), pair_eq, &eq_calls);
	for (size_t i = 0; i < n; i++) {
		struct pair p = { i, i * 7 };

		CHECK(intern_add(&t, hash(&p), &p, &index) == 0, "%s: add %zu", what, i);
		CHECK(index == i, "%s: record %zu got index %zu", what, i, index);
	}
	CHECK(intern_count(&t) == n, "%s: count %zu, want %zu", what,
	      intern_count(&t), n);
	for (size_t i = 0; i < n; i++) {
		struct pair p = { i, i * 7 };
		const struct pair *r;

		index = SIZE_MAX;
		CHECK(intern_find(&t, hash(&p), &p, &index) && index == i,
		      "%s: record %zu found at %zu", what, i, index);
		/* adding again finds, does not append */
		CHECK(intern_add(&t, hash(&p), &p, &index) == 0 && index == i,
		      "%s: re-add of %zu gave %zu", what, i, index);
		r = intern_at(&t, i);
		CHECK(r->a == i && r->b == i * 7, "%s: record %zu holds (%llu, %llu)",
		      what, i, (unsigned long long)r->a, (unsigned long long)r->b);
	}
	for (size_t i = n; i < n + 100; i++) {
		struct pair p = { i, i * 7 };

		CHECK(!intern_find(&t, hash(&p), &p, &index), "%s: absent %zu found", what, i);
	}
	/* Same a, other b: equal hashes must not be enough. */
	struct pair other = { 3, 4 };
	CHECK(!intern_find(&t, hash(&other), &other, &index),
	      "%s: (3, 4) found as %zu", what, index);
	CHECK(intern_count(&t) == n, "%s: finds changed the count to %zu", what,
	      intern_count(&t));
	CHECK(t.mask + 1 >= 2 * n, "%s: %zu slots for %zu records: over half full",
	      what, t.mask + 1, n);
	intern_free(&t);
}

static uint64_t good_hash(const struct pair *p)
{
	return pair_hash(p);
}

/* Every key in one probe run: only the equality callback tells them apart. */
static uint64_t constant_hash(const struct pair *p)
{
	(void)p;
	return 42;
}

/* Keys need not look like records: here a string key against a stored
 * char *, as the builder's string table does. */
static bool str_eq(const void *key, const void *record, const void *ctx)
{
	(void)ctx;
	return strcmp(key, *(char *const *)record) == 0;
}

static void test_string_keys(void)
{
	static const char *words[] = { "", "main", "a", "leaf_x", "ma", "in" };
	struct intern t;
	size_t index;

	intern_init(&t, sizeof(char *), str_eq, NULL);
	for (size_t i = 0; i < sizeof(words) / sizeof(*words); i++) {
		const char *w = words[i];
		uint64_t h = intern_hash_bytes(INTERN_HASH_SEED, w, strlen(w));

		CHECK(!intern_find(&t, h, w, &index), "'%s' found before added", w);
		CHECK(intern_append(&t, h, &w, &index) == 0 && index == i,
		      "'%s' appended at %zu", w, index);
	}
	char main_copy[] = "main"; /* another pointer, same string */
	CHECK(intern_find(&t, intern_hash_bytes(INTERN_HASH_SEED, main_copy, 4),
			  main_copy, &index) && index == 1,
	      "'main' by value found at %zu", index);
	CHECK(*(const char **)intern_at(&t, 3) == words[3], "record 3 moved");
	intern_free(&t);
}

/* After intern_reserve(n), n appends neither move the records nor grow the
 * index, so none of them can fail: what the builder counts on to add several
 * strings or none. */
static void test_reserve(void)
{
	struct intern t;
	struct pair p = { 0, 0 };
	size_t index, slots;
	const void *items;

	intern_init(&t, sizeof(struct pair), pair_eq, &eq_calls);
	CHECK(intern_add(&t, pair_hash(&p), &p, &index) == 0, "first add");
	CHECK(intern_reserve(&t, 1000) == 0, "reserve 1000");
	CHECK(intern_count(&t) == 1, "reserve changed the count to %zu", intern_count(&t));
	items = t.records.items;
	slots = t.mask + 1;
	CHECK(slots >= 2 * 1001, "%zu slots for 1001 records: over half full", slots);
	for (uint64_t i = 1; i <= 1000; i++) {
		p = (struct pair){ i, i };
		CHECK(intern_append(&t, pair_hash(&p), &p, &index) == 0 && index == i,
		      "append %llu after reserve", (unsigned long long)i);
	}
	CHECK(t.records.items == items && t.mask + 1 == slots,
	      "appends within a reservation reallocated");
	CHECK(intern_reserve(&t, 0) == 0 && t.mask + 1 == slots, "reserve 0");
	CHECK(intern_reserve(&t, SIZE_MAX) == -ENOMEM && intern_count(&t) == 1001,
	      "an impossible reservation");
	for (uint64_t i = 0; i <= 1000; i++) {
		p = (struct pair){ i, i };
		CHECK(intern_find(&t, pair_hash(&p), &p, &index) && index == i,
		      "record %llu lost", (unsigned long long)i);
	}
	intern_free(&t);
}

static void test_hash_helpers(void)
{
	uint64_t s = INTERN_HASH_SEED;

	CHECK(intern_hash_u64(intern_hash_u64(s, 1), 2) !=
	      intern_hash_u64(intern_hash_u64(s, 2), 1), "field order ignored");
	CHECK(intern_hash_u64(s, 0) != s, "hashing 0 is the identity");
	CHECK(intern_hash_bytes(intern_hash_bytes(s, "ab", 2), "c", 1) !=
	      intern_hash_bytes(intern_hash_bytes(s, "a", 1), "bc", 2),
	      "('ab','c') and ('a','bc') hash the same");
	CHECK(intern_hash_bytes(s, "", 0) != intern_hash_bytes(s, "\0", 1),
	      "'' and '\\0' hash the same");
	CHECK(intern_hash_bytes(s, "main", 4) == intern_hash_bytes(s, "main", 4),
	      "hash not deterministic");

	/* Consecutive integers must spread over the low bits that pick slots. */
	unsigned seen[64] = { 0 };
	size_t used = 0;
	for (uint64_t i = 0; i < 64; i++)
		seen[intern_hash_u64(s, i) & 63]++;
	for (size_t i = 0; i < 64; i++)
		used += seen[i] > 0;
	CHECK(used >= 32, "64 consecutive keys fill only %zu of 64 buckets", used);
}

int main(void)
{
	test_empty();
	test_growth(good_hash, 100000, "spread hash");
	test_growth(constant_hash, 2000, "constant hash");
	test_string_keys();
	test_reserve();
	test_hash_helpers();
	CHECK(eq_calls > 0, "eq never called");
	return check_report("test_intern");
}
