/* Unit tests of the memo of an interval's locations (agent/location_memo.h):
 * a frame is found only under its whole key (profile, process image,
 * address, leaf or not), through growth, up to the bound and not past it,
 * and nothing is found after a clear. */
#include <stdint.h>

#include "check.h"
#include "location_memo.h"

static struct location_key key(uintptr_t profile, uint32_t pid, uint64_t address, uint32_t leaf)
{
	return (struct location_key){
		.profile = (const void *)profile, .pid = pid, .start_ticks = 1000 + pid,
		.exec_id = 3, .exec_id_known = 1, .address = address, .leaf = leaf,
	};
}

static void test_whole_key(void)
{
	struct location_memo *m = location_memo_new(100);
	struct location_key k = key(0x1000, 7, 0x401000, 0), other;
	uint64_t id = 0;

	CHECK(!location_memo_find(m, &k, &id));
	location_memo_add(m, &k, 42);
	CHECK(location_memo_find(m, &k, &id));
	CHECK_U64(id, 42);
	/* Each field on its own makes another frame. */
	other = k; other.profile = (const void *)0x2000;
	CHECK(!location_memo_find(m, &other, &id));
	other = k; other.pid = 8;
	CHECK(!location_memo_find(m, &other, &id));
	other = k; other.start_ticks++;
	CHECK(!location_memo_find(m, &other, &id));
	other = k; other.exec_id++;
	CHECK(!location_memo_find(m, &other, &id));
	other = k; other.exec_id_known = 0;
	CHECK(!location_memo_find(m, &other, &id));
	other = k; other.address++;
	CHECK(!location_memo_find(m, &other, &id));
	other = k; other.leaf = 1;
	CHECK(!location_memo_find(m, &other, &id));
	CHECK_INT(location_memo_count(m), 1);
	location_memo_free(m);
}

static void test_growth_and_bound(void)
{
	struct location_memo *m = location_memo_new(5000);
	uint64_t id = 0;
	int missing = 0;

	for (uint64_t i = 0; i < 6000; i++) {
		struct location_key k = key(0x1000, (uint32_t)(i % 7), 0x400000 + i * 16, 0);

		location_memo_add(m, &k, i + 1);
	}
	CHECK_INT(location_memo_count(m), 5000);
	for (uint64_t i = 0; i < 6000; i++) {
		struct location_key k = key(0x1000, (uint32_t)(i % 7), 0x400000 + i * 16, 0);
		bool found = location_memo_find(m, &k, &id);

		if (i < 5000 && (!found || id != i + 1))
			missing++;
		if (i >= 5000)
			CHECK(!found, "entry %d past the bound was kept", (int)i);
	}
	CHECK_INT(missing, 0);
	location_memo_clear(m);
	CHECK_INT(location_memo_count(m), 0);
	{
		struct location_key k = key(0x1000, 0, 0x400000, 0);

		CHECK(!location_memo_find(m, &k, &id));
		location_memo_add(m, &k, 9);
		CHECK(location_memo_find(m, &k, &id));
		CHECK_U64(id, 9);
	}
	location_memo_free(m);
}

int main(void)
{
	test_whole_key();
	test_growth_and_bound();
	CHECK(!location_memo_find(NULL, &(struct location_key){ 0 }, &(uint64_t){ 0 }));
	return check_report("location_memo");
}
