/* Unit tests of local output: service names stay one path component, and an
 * interval's profiles land at <dir>/<service>/<start>-<end>.pb.gz, whole. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "output.h"
#include "profile_set.h"

static void test_escape(void)
{
	static const struct { const char *in, *out; } cases[] = {
		{ "nginx", "nginx" }, { "a/b", "a_b" }, { "/usr/bin/x", "_usr_bin_x" },
		{ "", "_" }, { ".", "_." }, { "..", "_.." }, { "...", "..." },
		{ "kube-system/coredns", "kube-system_coredns" },
	};
	char buf[64];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		CHECK(output_escape_component(cases[i].in, buf, sizeof(buf)) == 0, "escape %s", cases[i].in);
		CHECK(strcmp(buf, cases[i].out) == 0, "escape '%s' = '%s', want '%s'", cases[i].in, buf,
		      cases[i].out);
	}
	CHECK(output_escape_component("0123456789", buf, 5) < 0, "overlong name accepted");
}

static void test_write(void)
{
	char dir[] = "/tmp/smolder-output-XXXXXX", path[512];
	struct profile_set *set;
	struct pprof_builder *b;
	struct output_result res;
	struct stat st;
	uint64_t loc;
	int64_t v = 10;

	CHECK(mkdtemp(dir) != NULL, "mkdtemp");
	set = profile_set_new(1700000000LL * 1000000000, 1700000015LL * 1000000000, 100);
	CHECK(set && profile_set_period(set) == 10000000, "period of 100 Hz");
	struct disc_labels one = { 0 }, two = { 0 }, one_b = { 0 };
	CHECK(disc_labels_set(&one, "service_name", "svc/one") == 0, "labels");
	CHECK(disc_labels_set(&two, "service_name", "two") == 0, "labels");
	CHECK(disc_labels_copy(&one_b, &one) == 0 && disc_labels_set(&one_b, "team", "b") == 0, "labels");
	CHECK(profile_set_builder(set, &one, &b) == 0, "builder");
	struct pprof_line_desc line = { .function_name = "main" };
	CHECK(pprof_builder_add_location(b, 0, 0x1000, &line, 1, &loc) == 0, "location");
	CHECK(pprof_builder_add_sample(b, &loc, 1, &v) == 0, "sample");
	struct pprof_builder *again;
	CHECK(profile_set_builder(set, &one, &again) == 0 && again == b, "same labels, same builder");
	CHECK(profile_set_builder(set, &two, &b) == 0 && b != again, "another service");
	CHECK(profile_set_count(set) == 2, "two profiles");

	snprintf(path, sizeof(path), "%s/out", dir);
	output_write_set(path, set, &res);
	CHECK(res.written == 2 && res.failed == 0, "written %zu failed %zu", res.written, res.failed);
	snprintf(path, sizeof(path), "%s/out/svc_one/1700000000-1700000015.pb.gz", dir);
	CHECK(stat(path, &st) == 0 && st.st_size > 20, "%s missing or empty", path);
	snprintf(path, sizeof(path), "%s/out/two/1700000000-1700000015.pb.gz", dir);
	CHECK(stat(path, &st) == 0, "%s missing", path);
	snprintf(path, sizeof(path), "%s/out/svc_one/1700000000-1700000015.pb.gz.tmp", dir);
	CHECK(stat(path, &st) != 0, "temporary file left behind");

	/* a second label set of svc/one: both its files carry their labels'
	 * hash, and svc/one's plain name is not written again */
	CHECK(profile_set_builder(set, &one_b, &b) == 0 && b != again, "another label set");
	snprintf(path, sizeof(path), "%s/out2", dir);
	output_write_set(path, set, &res);
	CHECK(res.written == 3 && res.failed == 0, "written %zu failed %zu", res.written, res.failed);
	snprintf(path, sizeof(path), "%s/out2/svc_one/1700000000-1700000015-%08x.pb.gz", dir,
		 disc_labels_hash(&one));
	CHECK(stat(path, &st) == 0, "%s missing", path);
	snprintf(path, sizeof(path), "%s/out2/svc_one/1700000000-1700000015-%08x.pb.gz", dir,
		 disc_labels_hash(&one_b));
	CHECK(stat(path, &st) == 0, "%s missing", path);
	CHECK(disc_labels_hash(&one) != disc_labels_hash(&one_b), "two sets, one hash");
	snprintf(path, sizeof(path), "%s/out2/two/1700000000-1700000015.pb.gz", dir);
	CHECK(stat(path, &st) == 0, "%s missing", path);

	/* an unwritable directory is reported, not fatal */
	output_write_set("/proc/self/no-such-dir", set, &res);
	CHECK(res.written == 0 && res.failed == 3 && res.first_error < 0, "failure not reported");
	disc_labels_release(&one);
	disc_labels_release(&one_b);
	disc_labels_release(&two);
	profile_set_free(set);

	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	CHECK(system(cmd) == 0, "cleanup");
}

int main(void)
{
	test_escape();
	test_write();
	return check_report("output");
}
