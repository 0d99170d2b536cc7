/* tests/discovery: label sets (order, uniqueness, compare, hash) and the
 * label names Pyroscope accepts. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "disc.h"

static void test_names(void)
{
	static const struct {
		const char *name;
		int valid;
	} cases[] = {
		{ "service_name", 1 }, { "a", 1 }, { "_", 1 }, { "A9_z", 1 },
		{ "__meta_process_exe", 1 }, { "_0", 1 },
		{ "", 0 },              /* empty */
		{ "9lives", 0 },        /* a digit first */
		{ "service.name", 0 },  /* Pyroscope would rewrite it to service_name */
		{ ".a", 0 }, { "a-b", 0 }, { "a b", 0 }, { "a=b", 0 }, { "a:b", 0 },
		{ "caf\xc3\xa9", 0 },   /* not ASCII */
	};
	char longest[DISC_LABEL_NAME_MAX + 2];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		CHECK(disc_label_name_valid(cases[i].name) == cases[i].valid, "name \"%s\"",
		      cases[i].name);
	CHECK(!disc_label_name_valid(NULL));

	memset(longest, 'a', sizeof(longest));
	longest[DISC_LABEL_NAME_MAX] = '\0';
	CHECK(disc_label_name_valid(longest), "a name of exactly 1024 bytes");
	longest[DISC_LABEL_NAME_MAX] = 'a';
	longest[DISC_LABEL_NAME_MAX + 1] = '\0';
	CHECK(!disc_label_name_valid(longest), "a name of 1025 bytes");
}

/* "a=1,b=2": the set as one string, to compare whole sets in one check. */
static const char *flat(const struct disc_labels *l)
{
	static char s[1024];
	size_t o = 0;

	s[0] = '\0';
	for (size_t i = 0; i < l->n && o < sizeof(s); i++)
		o += (size_t)snprintf(s + o, sizeof(s) - o, "%s%s=%s", i ? "," : "",
				      l->v[i].name, l->v[i].value);
	return s;
}

static void test_set_get(void)
{
	struct disc_labels l = { 0 };

	CHECK_STR(flat(&l), "");
	CHECK(disc_labels_get(&l, "x") == NULL);
	CHECK_INT(disc_labels_set(&l, "zone", "b"), 0);
	CHECK_INT(disc_labels_set(&l, "app", "shop"), 0);
	CHECK_INT(disc_labels_set(&l, "host", "h1"), 0);
	CHECK_INT(disc_labels_set(&l, "Host", "h2"), 0); /* bytewise: 'H' < 'a' */
	CHECK_STR(flat(&l), "Host=h2,app=shop,host=h1,zone=b");
	CHECK_STR(disc_labels_get(&l, "host"), "h1");
	CHECK(disc_labels_get(&l, "hos") == NULL);

	CHECK_INT(disc_labels_set(&l, "host", "h3"), 0);
	CHECK_STR(flat(&l), "Host=h2,app=shop,host=h3,zone=b");
	CHECK_INT(l.n, 4);

	/* An empty value is no label. */
	CHECK_INT(disc_labels_set(&l, "app", ""), 0);
	CHECK_INT(disc_labels_set(&l, "zone", NULL), 0);
	CHECK_INT(disc_labels_set(&l, "absent", ""), 0);
	CHECK_STR(flat(&l), "Host=h2,host=h3");

	disc_labels_release(&l);
	CHECK_INT(l.n, 0);
	CHECK(l.v == NULL);
	disc_labels_release(&l); /* twice is harmless */
}

static uint32_t fnv1a(const char *bytes, size_t n)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < n; i++)
		h = (h ^ (uint8_t)bytes[i]) * 16777619u;
	return h;
}

static void test_compare_hash_copy(void)
{
	struct disc_labels a = { 0 }, b = { 0 }, c = { 0 };

	/* Built in different orders, the sets are the same. */
	disc_labels_set(&a, "service_name", "shop");
	disc_labels_set(&a, "env", "prod");
	disc_labels_set(&b, "env", "prod");
	disc_labels_set(&b, "service_name", "shop");
	CHECK_INT(disc_labels_compare(&a, &b), 0);
	CHECK_U64(disc_labels_hash(&a), disc_labels_hash(&b));
	CHECK_U64(disc_labels_hash(&a), fnv1a("env=prod\0service_name=shop", 26));

	/* The hash agent/ names files by today, when service_name was all. */
	disc_labels_set(&c, "service_name", "shop");
	CHECK_U64(disc_labels_hash(&c), fnv1a("service_name=shop", 17));
	CHECK(disc_labels_compare(&c, &a) > 0, "env < service_name, so a comes first");
	CHECK(disc_labels_compare(&a, &c) < 0);

	/* A value differs; then a set is a prefix of the other. */
	disc_labels_set(&b, "env", "dev");
	CHECK(disc_labels_compare(&b, &a) < 0);
	CHECK(disc_labels_hash(&a) != disc_labels_hash(&b));
	disc_labels_set(&b, "env", "prod");
	disc_labels_set(&b, "zone", "z");
	CHECK(disc_labels_compare(&a, &b) < 0);
	CHECK(disc_labels_compare(&b, &a) > 0);

	/* Joining pairs must not make {a="b=c"} and {a="b", ...} alike. */
	disc_labels_release(&b);
	disc_labels_release(&c);
	disc_labels_set(&b, "a", "x");
	disc_labels_set(&b, "b", "y");
	disc_labels_set(&c, "a", "xb=y");
	CHECK(disc_labels_hash(&b) != disc_labels_hash(&c));

	disc_labels_release(&c);
	CHECK_INT(disc_labels_copy(&c, &a), 0);
	CHECK_INT(disc_labels_compare(&a, &c), 0);
	CHECK(c.v != a.v && c.v[0].name != a.v[0].name, "a deep copy");
	disc_labels_release(&a);
	CHECK_STR(flat(&c), "env=prod,service_name=shop");
	CHECK_INT(disc_labels_copy(&a, &(struct disc_labels){ 0 }), 0);
	CHECK_INT(a.n, 0);

	disc_labels_release(&a);
	disc_labels_release(&b);
	disc_labels_release(&c);
}

int main(void)
{
	test_names();
	test_set_get();
	test_compare_hash_copy();
	return check_report("disc_labels");
}
