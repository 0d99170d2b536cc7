/* Unit tests of series labels (agent/upload/series_labels.h): the last check of a
 * label set before it leaves the host. Pyroscope refuses a whole profile for
 * one bad label, so each rule it enforces is tried here: names sanitized as
 * Prometheus does, __name__=process_cpu and service_name always sent, the
 * order and uniqueness the server wants, and everything it would refuse
 * dropped with a reason instead (reserved names, empty, non-UTF-8 or
 * overlong values, sanitizing collisions, the 30-name limit). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "disc.h"
#include "series_labels.h"

/* 1 if report names name among its reported drops (with a reason). */
static int dropped(const struct series_report *r, const char *name)
{
	size_t n = r->n_dropped < SERIES_DROPPED_REPORTED ? r->n_dropped : SERIES_DROPPED_REPORTED;

	for (size_t i = 0; i < n; i++)
		if (strcmp(r->dropped[i].name, name) == 0)
			return r->dropped[i].reason && r->dropped[i].reason[0];
	return 0;
}

/* Sorted bytewise with no name twice, as Pyroscope wants a series. */
static void check_sorted_unique(const struct series_labels *l)
{
	for (size_t i = 1; i < l->n; i++)
		CHECK(strcmp(l->v[i - 1].name, l->v[i].name) < 0, "'%s' before '%s'",
		      l->v[i - 1].name, l->v[i].name);
}

static void test_sanitize(void)
{
	static const struct { const char *in, *out; } cases[] = {
		{ "app.kubernetes.io/name", "app_kubernetes_io_name" },
		{ "0zone", "_0zone" },
		{ "9", "_9" },
		{ "zone", "zone" },
		{ "Zone_9", "Zone_9" },
		{ "_x", "_x" },
		{ "a-b c", "a_b_c" },
		/* Each byte of a multi-byte character is one '_', as in Go's
		 * byte-wise loop in Prometheus. */
		{ "caf\xc3\xa9", "caf__" },
	};
	char buf[64];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int n = series_label_name_sanitize(cases[i].in, buf, sizeof(buf));

		CHECK_INT(n, (int)strlen(cases[i].out));
		CHECK_STR(buf, cases[i].out);
	}
	/* Exactly fits: 4 bytes and the NUL; one byte less does not. */
	CHECK_INT(series_label_name_sanitize("abcd", buf, 5), 4);
	CHECK_INT(series_label_name_sanitize("abcd", buf, 4), -ENAMETOOLONG);
	/* The added '_' counts too. */
	CHECK_INT(series_label_name_sanitize("1bc", buf, 5), 4);
	CHECK_INT(series_label_name_sanitize("1bcd", buf, 5), -ENAMETOOLONG);
}

static void test_build_basic(void)
{
	struct disc_labels in = { 0 };
	struct series_labels out;
	struct series_report rep;

	CHECK(disc_labels_set(&in, "service_name", "checkout") == 0);
	CHECK(disc_labels_set(&in, "zone", "eu-1") == 0);
	CHECK(disc_labels_set(&in, "Arch", "x86_64") == 0);
	CHECK(disc_labels_set(&in, "app.kubernetes.io/name", "shop") == 0);
	CHECK(disc_labels_set(&in, "0tier", "gold") == 0);

	CHECK_INT(series_labels_build(&in, "process_cpu", &out, &rep), 0);
	CHECK_INT(rep.n_dropped, 0);
	/* Bytewise, as Pyroscope compares: 'A' (0x41) < '_' (0x5f) < 'a' (0x61),
	 * and "_0tier" < "__name__" because '0' (0x30) < '_'. */
	static const char *const want[][2] = {
		{ "Arch", "x86_64" },
		{ "_0tier", "gold" },
		{ "__name__", "process_cpu" },
		{ "app_kubernetes_io_name", "shop" },
		{ "service_name", "checkout" },
		{ "zone", "eu-1" },
	};
	CHECK_INT(out.n, sizeof(want) / sizeof(want[0]));
	for (size_t i = 0; i < out.n && i < sizeof(want) / sizeof(want[0]); i++) {
		CHECK_STR(out.v[i].name, want[i][0]);
		CHECK_STR(out.v[i].value, want[i][1]);
	}
	check_sorted_unique(&out);
	CHECK_STR(series_labels_get(&out, "__name__"), "process_cpu");
	CHECK_STR(series_labels_get(&out, "service_name"), "checkout");
	CHECK_STR(series_labels_get(&out, "nope"), NULL);

	/* A copy is deep: releasing the original leaves it whole. */
	struct series_labels copy;
	CHECK_INT(series_labels_copy(&copy, &out), 0);
	series_labels_release(&out);
	CHECK_INT(out.n, 0);
	CHECK_INT(copy.n, sizeof(want) / sizeof(want[0]));
	CHECK_STR(series_labels_get(&copy, "zone"), "eu-1");
	series_labels_release(&copy);
	disc_labels_release(&in);
}

static void test_build_drops(void)
{
	struct disc_labels in = { 0 };
	struct series_labels out;
	struct series_report rep;
	char *long_value = malloc(DISC_LABEL_VALUE_MAX + 2);
	char *max_value = malloc(DISC_LABEL_VALUE_MAX + 1);

	CHECK(long_value && max_value);
	if (!long_value || !max_value)
		return;
	memset(long_value, 'v', DISC_LABEL_VALUE_MAX + 1);
	long_value[DISC_LABEL_VALUE_MAX + 1] = '\0';
	memset(max_value, 'v', DISC_LABEL_VALUE_MAX);
	max_value[DISC_LABEL_VALUE_MAX] = '\0';

	CHECK(disc_labels_set(&in, "service_name", "svc") == 0);
	CHECK(disc_labels_set(&in, "__meta_x", "reserved") == 0);
	CHECK(disc_labels_set(&in, "__name__", "cpu") == 0);
	CHECK(disc_labels_set(&in, "bad_utf8", "ab\xff") == 0);
	CHECK(disc_labels_set(&in, "surrogate", "\xed\xa0\x80") == 0);
	CHECK(disc_labels_set(&in, "too_long", long_value) == 0);
	CHECK(disc_labels_set(&in, "just_fits", max_value) == 0);
	CHECK(disc_labels_set(&in, "good_utf8", "caf\xc3\xa9") == 0);
	/* "a.b" and "a/b" both sanitize to a_b: the set's order ('.' < '/')
	 * decides that a.b wins. service.name would take service_name. */
	CHECK(disc_labels_set(&in, "a.b", "first") == 0);
	CHECK(disc_labels_set(&in, "a/b", "second") == 0);
	CHECK(disc_labels_set(&in, "service.name", "other") == 0);

	CHECK_INT(series_labels_build(&in, "process_cpu", &out, &rep), 0);
	check_sorted_unique(&out);
	CHECK_STR(series_labels_get(&out, "service_name"), "svc");
	CHECK_STR(series_labels_get(&out, "__name__"), "process_cpu");
	CHECK_STR(series_labels_get(&out, "__meta_x"), NULL);
	CHECK_STR(series_labels_get(&out, "bad_utf8"), NULL);
	CHECK_STR(series_labels_get(&out, "surrogate"), NULL);
	CHECK_STR(series_labels_get(&out, "too_long"), NULL);
	CHECK_STR(series_labels_get(&out, "just_fits"), max_value);
	CHECK_STR(series_labels_get(&out, "good_utf8"), "caf\xc3\xa9");
	CHECK_STR(series_labels_get(&out, "a_b"), "first");
	CHECK_INT(out.n, 5); /* __name__ a_b good_utf8 just_fits service_name */
	CHECK_INT(rep.n_dropped, 7);
	CHECK(dropped(&rep, "__meta_x"), "reserved name reported");
	CHECK(dropped(&rep, "__name__"), "__name__ from the set reported");
	CHECK(dropped(&rep, "bad_utf8"), "non-UTF-8 value reported");
	CHECK(dropped(&rep, "surrogate"), "surrogate reported");
	CHECK(dropped(&rep, "too_long"), "2049-byte value reported");
	CHECK(dropped(&rep, "a/b"), "sanitizing collision reported");
	CHECK(dropped(&rep, "service.name"), "collision with service_name reported");
	series_labels_release(&out);
	disc_labels_release(&in);
	free(long_value);
	free(max_value);
}

/* disc_labels_set takes an empty value as "remove", so an empty value (as a
 * set from elsewhere could hold) is built by hand. */
/* Pyroscope takes names of up to 1024 bytes, counted after sanitizing. */
static void test_build_name_length(void)
{
	struct disc_labels in = { 0 };
	struct series_labels out;
	struct series_report rep;
	char *fits = malloc(DISC_LABEL_NAME_MAX + 1), *over = malloc(DISC_LABEL_NAME_MAX + 2);
	char *digit = malloc(DISC_LABEL_NAME_MAX + 1);

	CHECK(fits && over && digit);
	if (!fits || !over || !digit)
		goto out;
	memset(fits, 'f', DISC_LABEL_NAME_MAX);
	fits[DISC_LABEL_NAME_MAX] = '\0';
	memset(over, 'o', DISC_LABEL_NAME_MAX + 1);
	over[DISC_LABEL_NAME_MAX + 1] = '\0';
	/* 1024 bytes, 1025 once its leading digit gets a '_'. */
	memset(digit, 'd', DISC_LABEL_NAME_MAX);
	digit[0] = '7';
	digit[DISC_LABEL_NAME_MAX] = '\0';
	CHECK(disc_labels_set(&in, "service_name", "svc") == 0);
	CHECK(disc_labels_set(&in, fits, "a") == 0);
	CHECK(disc_labels_set(&in, over, "b") == 0);
	CHECK(disc_labels_set(&in, digit, "c") == 0);
	CHECK_INT(series_labels_build(&in, "process_cpu", &out, &rep), 0);
	CHECK_STR(series_labels_get(&out, fits), "a");
	CHECK_INT(out.n, 3);
	CHECK_INT(rep.n_dropped, 2);
	CHECK(dropped(&rep, over), "1025-byte name reported");
	CHECK(dropped(&rep, digit), "name grown to 1025 bytes reported");
	series_labels_release(&out);
out:
	disc_labels_release(&in);
	free(fits);
	free(over);
	free(digit);
}

static void test_build_empty_value(void)
{
	struct disc_label v[] = {
		{ "empty", "" },
		{ "service_name", "svc" },
	};
	struct disc_labels in = { v, 2 };
	struct series_labels out;
	struct series_report rep;

	CHECK_INT(series_labels_build(&in, "process_cpu", &out, &rep), 0);
	CHECK_INT(out.n, 2);
	CHECK_STR(series_labels_get(&out, "empty"), NULL);
	CHECK_INT(rep.n_dropped, 1);
	CHECK(dropped(&rep, "empty"), "empty value reported");
	series_labels_release(&out);
}

/* A name that only starts with "__" once sanitized is as reserved as one
 * that did before: the server sees the sanitized name, and some "__" names
 * mean something to Pyroscope (__delta__ changes how a profile is
 * ingested), so a Kubernetes label must not become one. */
static void test_build_reserved_after_sanitize(void)
{
	struct disc_labels in = { 0 };
	struct series_labels out;
	struct series_report rep;

	CHECK(disc_labels_set(&in, "service_name", "svc") == 0);
	CHECK(disc_labels_set(&in, "..meta", "x") == 0);
	CHECK(disc_labels_set(&in, "..delta__", "false") == 0);
	CHECK_INT(series_labels_build(&in, "process_cpu", &out, &rep), 0);
	CHECK(series_labels_get(&out, "__delta__") == NULL,
	      "'..delta__' sent as Pyroscope's __delta__");
	CHECK(series_labels_get(&out, "__meta") == NULL,
	      "'..meta' sent as the reserved name __meta");
	CHECK(dropped(&rep, "..meta"), "'..meta' not reported as dropped");
	series_labels_release(&out);
	disc_labels_release(&in);
}

/* An empty name is no label name at all (Pyroscope refuses the series),
 * and disc_labels_set takes one as it takes any string. */
static void test_build_empty_name(void)
{
	struct disc_labels in = { 0 };
	struct series_labels out;
	struct series_report rep;

	CHECK(disc_labels_set(&in, "service_name", "svc") == 0);
	CHECK(disc_labels_set(&in, "", "v") == 0);
	CHECK_INT(in.n, 2);
	CHECK_INT(series_labels_build(&in, "process_cpu", &out, &rep), 0);
	CHECK(series_labels_get(&out, "") == NULL, "a label with an empty name is sent");
	CHECK(dropped(&rep, ""), "the empty name is not reported as dropped");
	CHECK_INT(out.n, 2);
	series_labels_release(&out);
	disc_labels_release(&in);
}

static void test_build_limit(void)
{
	struct disc_labels in = { 0 };
	struct series_labels out;
	struct series_report rep;
	char name[16];

	CHECK(disc_labels_set(&in, "service_name", "svc") == 0);
	/* 39 more: 40 labels, of which 28 fit beside __name__ and service_name. */
	for (int i = 0; i < 39; i++) {
		snprintf(name, sizeof(name), "l%02d", i);
		CHECK(disc_labels_set(&in, name, "v") == 0);
	}
	CHECK_INT(in.n, 40);
	CHECK_INT(series_labels_build(&in, "process_cpu", &out, &rep), 0);
	CHECK_INT(out.n, SERIES_LABELS_MAX);
	CHECK_STR(series_labels_get(&out, "__name__"), "process_cpu");
	CHECK_STR(series_labels_get(&out, "service_name"), "svc");
	check_sorted_unique(&out);
	/* In the set's order: l00..l27 won, l28..l38 lost. */
	CHECK_STR(series_labels_get(&out, "l27"), "v");
	CHECK_STR(series_labels_get(&out, "l28"), NULL);
	/* 11 dropped: more than are reported, all counted. */
	CHECK_INT(rep.n_dropped, 11);
	CHECK(rep.n_dropped > SERIES_DROPPED_REPORTED);
	CHECK(dropped(&rep, "l28"), "first label past the limit reported");
	series_labels_release(&out);

	/* service_name sorts after many names, yet it is never the one dropped. */
	CHECK(disc_labels_set(&in, "aaa", "first") == 0);
	CHECK_INT(series_labels_build(&in, "process_cpu", &out, &rep), 0);
	CHECK_INT(out.n, SERIES_LABELS_MAX);
	CHECK_STR(series_labels_get(&out, "service_name"), "svc");
	CHECK_STR(series_labels_get(&out, "__name__"), "process_cpu");
	CHECK_STR(series_labels_get(&out, "aaa"), "first");
	CHECK_STR(series_labels_get(&out, "l27"), NULL);
	CHECK_INT(rep.n_dropped, 12);
	series_labels_release(&out);
	disc_labels_release(&in);
}

static void test_build_no_service(void)
{
	struct disc_labels in = { 0 };
	struct series_labels out;
	struct series_report rep;

	CHECK(disc_labels_set(&in, "zone", "a") == 0);
	CHECK_INT(series_labels_build(&in, "process_cpu", &out, &rep), -EINVAL);
	CHECK_INT(out.n, 0);
	/* A service_name that cannot be sent is as good as none. */
	CHECK(disc_labels_set(&in, "service_name", "\xc0\xaf") == 0);
	CHECK_INT(series_labels_build(&in, "process_cpu", &out, &rep), -EINVAL);
	CHECK_INT(out.n, 0);
	disc_labels_release(&in);

	struct disc_labels empty = { 0 };
	CHECK_INT(series_labels_build(&empty, "process_cpu", &out, &rep), -EINVAL);
}

static void test_legacy_ok(void)
{
	CHECK_INT(series_label_value_legacy_ok("eu-1"), 1);
	CHECK_INT(series_label_value_legacy_ok(""), 1);
	CHECK_INT(series_label_value_legacy_ok("a{b"), 1);
	CHECK_INT(series_label_value_legacy_ok("a,b"), 0);
	CHECK_INT(series_label_value_legacy_ok("a}b"), 0);
	CHECK_INT(series_label_value_legacy_ok("a=b"), 0);
	CHECK_INT(series_label_value_legacy_ok("="), 0);
}

/* Each profile type is its own series, named as Pyroscope names it. */
static void test_profile_names(void)
{
	struct disc_labels in = { 0 };
	struct series_labels out;
	struct series_report rep;

	CHECK_STR(series_profile_name(PROFILE_CPU), "process_cpu");
	CHECK_STR(series_profile_name(PROFILE_OFFCPU), "offcpu");
	CHECK_STR(series_profile_name(PROFILE_MUTEX), "mutex");
	CHECK_STR(series_profile_name(PROFILE_MEMORY), "memory");
	CHECK_INT(disc_labels_set(&in, "service_name", "svc"), 0);
	CHECK_INT(series_labels_build(&in, "offcpu", &out, &rep), 0);
	CHECK_STR(series_labels_get(&out, "__name__"), "offcpu");
	CHECK_STR(series_labels_get(&out, "service_name"), "svc");
	series_labels_release(&out);
	disc_labels_release(&in);
}

int main(void)
{
	test_profile_names();
	test_sanitize();
	test_build_basic();
	test_build_drops();
	test_build_name_length();
	test_build_empty_value();
	test_build_reserved_after_sanitize();
	test_build_empty_name();
	test_build_limit();
	test_build_no_service();
	test_legacy_ok();
	return check_report("series_labels");
}
