/* Unit tests of the set of files by device and inode (agent/file_set.h):
 * what is added is found, and nothing else, in any order of adding; an id
 * added twice is one; the bound holds. */
#include <errno.h>
#include <stdint.h>

#include "check.h"
#include "file_set.h"

static struct file_id id(uint32_t major, uint32_t minor, uint64_t inode)
{
	return (struct file_id){ .dev_major = major, .dev_minor = minor, .inode = inode };
}

static void test_add_and_find(void)
{
	struct file_set s = { 0 };
	/* Ids that differ in one field only, added out of order. */
	const struct file_id ids[] = { id(8, 1, 100), id(0, 0, 5), id(8, 1, 99), id(8, 2, 100),
				       id(9, 1, 100), id(8, 1, 101), id(0, 30, 7) };
	const size_t n = sizeof(ids) / sizeof(ids[0]);

	for (size_t i = 0; i < n; i++) {
		CHECK(!file_set_has(&s, ids[i]));
		CHECK_INT(file_set_add(&s, ids[i]), 1);
		CHECK(file_set_has(&s, ids[i]));
	}
	for (size_t i = 0; i < n; i++) {
		CHECK(file_set_has(&s, ids[i]));
		CHECK_INT(file_set_add(&s, ids[i]), 0);
	}
	CHECK_INT(s.n, n);
	for (size_t i = 1; i < s.n; i++)
		CHECK(s.v[i - 1].dev_major < s.v[i].dev_major ||
		      (s.v[i - 1].dev_major == s.v[i].dev_major &&
		       (s.v[i - 1].dev_minor < s.v[i].dev_minor ||
			(s.v[i - 1].dev_minor == s.v[i].dev_minor && s.v[i - 1].inode < s.v[i].inode))));
	CHECK(!file_set_has(&s, id(8, 1, 102)));
	CHECK(!file_set_has(&s, id(8, 0, 100)));
	CHECK(!file_set_has(&s, id(7, 1, 100)));
	file_set_release(&s);
	CHECK(s.v == NULL && s.n == 0);
}

static void test_bound(void)
{
	struct file_set s = { 0 };

	/* Ascending: each add goes to the end (fast under the sanitizers). */
	for (uint64_t i = 1; i <= FILE_SET_MAX; i++)
		if (file_set_add(&s, id(1, 2, i)) != 1)
			break;
	CHECK_INT(s.n, FILE_SET_MAX);
	CHECK_INT(file_set_add(&s, id(1, 2, FILE_SET_MAX + 1)), -E2BIG);
	CHECK_INT(file_set_add(&s, id(1, 2, 77)), 0);
	CHECK(file_set_has(&s, id(1, 2, 1)) && file_set_has(&s, id(1, 2, FILE_SET_MAX)));
	CHECK(!file_set_has(&s, id(1, 2, FILE_SET_MAX + 1)));
	file_set_release(&s);
}

int main(void)
{
	test_add_and_find();
	test_bound();
	return check_report("file_set");
}
