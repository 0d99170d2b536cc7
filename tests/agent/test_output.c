/* Unit tests of local output: service names stay one path component, an
 * interval's profiles land at <dir>/<service>/<start>-<end>.pb.gz, whole,
 * and they are 0600 in 0700 directories, also where an older agent left
 * 0755 ones. */
#include <dirent.h>
#include <fcntl.h>
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
	CHECK(profile_set_builder(set, PROFILE_CPU, &one, &b) == 0, "builder");
	struct pprof_line_desc line = { .function_name = "main" };
	CHECK(pprof_builder_add_location(b, 0, 0x1000, &line, 1, &loc) == 0, "location");
	CHECK(pprof_builder_add_sample(b, &loc, 1, &v) == 0, "sample");
	struct pprof_builder *again;
	CHECK(profile_set_builder(set, PROFILE_CPU, &one, &again) == 0 && again == b, "same labels, same builder");
	CHECK(profile_set_builder(set, PROFILE_CPU, &two, &b) == 0 && b != again, "another service");
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
	CHECK(profile_set_builder(set, PROFILE_CPU, &one_b, &b) == 0 && b != again, "another label set");
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

/* dir/rel's permission bits must be want. */
static void check_mode(const char *dir, const char *rel, unsigned int want)
{
	char path[512];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	CHECK(lstat(path, &st) == 0, "%s: missing", path);
	CHECK((st.st_mode & 07777) == want, "%s is %o, want %o", path,
	      (unsigned int)(st.st_mode & 07777), want);
}

/* Whatever the umask (022 here, which would leave 0644 files and 0755
 * directories), profiles are 0600 and the directories the agent makes or
 * owns are 0700. */
static void test_modes(void)
{
	char dir[] = "/tmp/smolder-modes-XXXXXX", path[512], cmd[600];
	struct disc_labels labels = { 0 };
	struct pprof_line_desc line = { .function_name = "main" };
	struct output_result res;
	struct pprof_builder *b = NULL;
	struct profile_set *set;
	mode_t old_umask = umask(022);
	uint64_t loc;
	int64_t v = 1;

	CHECK(mkdtemp(dir) != NULL, "mkdtemp");
	set = profile_set_new(1700000000LL * 1000000000, 1700000015LL * 1000000000, 100);
	CHECK(disc_labels_set(&labels, "service_name", "svc") == 0, "labels");
	CHECK(set && profile_set_builder(set, PROFILE_CPU, &labels, &b) == 0, "builder");
	CHECK(pprof_builder_add_location(b, 0, 0x1000, &line, 1, &loc) == 0 &&
	      pprof_builder_add_sample(b, &loc, 1, &v) == 0, "sample");

	/* Made by the agent, parents and all. */
	snprintf(path, sizeof(path), "%s/new/out", dir);
	output_write_set(path, set, &res);
	CHECK(res.written == 1, "written %zu", res.written);
	check_mode(dir, "new", 0700);
	check_mode(dir, "new/out", 0700);
	check_mode(dir, "new/out/svc", 0700);
	check_mode(dir, "new/out/svc/1700000000-1700000015.pb.gz", 0600);

	/* An older agent's: a 0755 service directory and a 0644 .tmp of the
	 * profile about to be written. */
	snprintf(path, sizeof(path), "%s/old", dir);
	CHECK(mkdir(path, 0755) == 0, "mkdir %s", path);
	snprintf(path, sizeof(path), "%s/old/svc", dir);
	CHECK(mkdir(path, 0755) == 0, "mkdir %s", path);
	snprintf(path, sizeof(path), "%s/old/svc/1700000000-1700000015.pb.gz.tmp", dir);
	CHECK(close(open(path, O_WRONLY | O_CREAT, 0644)) == 0, "create %s", path);
	snprintf(path, sizeof(path), "%s/old", dir);
	output_write_set(path, set, &res);
	CHECK(res.written == 1, "written %zu", res.written);
	check_mode(dir, "old/svc", 0700);
	check_mode(dir, "old/svc/1700000000-1700000015.pb.gz", 0600);

	umask(old_umask);
	disc_labels_release(&labels);
	profile_set_free(set);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	CHECK(system(cmd) == 0, "cleanup");
}

int main(void)
{
	test_escape();
	test_write();
	test_modes();
	return check_report("output");
}
