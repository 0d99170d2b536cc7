/* tests/discovery: rules files read from disk (tests/discovery/configs, the
 * directory given as argv[1]): one a user would write, applied to a few
 * processes, and one for each kind of mistake, which must be refused with a
 * message naming its line and rule. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "disc.h"

static const char *dir;
static char err[512];

static struct disc_targets *load(const char *file, const char *const *tags, size_t n_tags)
{
	static char path[4096];
	struct disc_targets_opts o = {
		.sz = sizeof(o), .config_path = path, .tags = tags, .n_tags = n_tags,
		.err = err, .err_len = sizeof(err),
	};

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	return disc_targets_new(&o);
}

/* The labels as "a=1,b=2", or "DROP". */
static const char *run(const struct disc_targets *t, const char *exe, const char *comm,
		       const char *cgroup, const char *container_id, const char *svc)
{
	static char s[1024];
	struct disc_target_input in = { exe, comm, cgroup, container_id, svc, NULL, 0 };
	struct disc_labels l;
	size_t o = 0;
	int rc = disc_targets_apply(t, &in, &l);

	if (rc <= 0)
		return rc ? "ERR" : "DROP";
	s[0] = '\0';
	for (size_t i = 0; i < l.n && o < sizeof(s); i++)
		o += (size_t)snprintf(s + o, sizeof(s) - o, "%s%s=%s", i ? "," : "",
				      l.v[i].name, l.v[i].value);
	disc_labels_release(&l);
	return s;
}

static void test_good(void)
{
	static const char *const tags[] = { "host=web-1", "tmp_build=42" };
	struct disc_targets *t = load("good.yaml", tags, 2);

	CHECK(t != NULL, "good.yaml refused: %s", err);
	if (!t)
		return;
	CHECK_INT(disc_targets_size(t), 5);
	CHECK_STR(run(t, NULL, "kworker/0:1", NULL, NULL, "kernel"), "DROP");
	CHECK_STR(run(t, "/opt/shop/cart/bin/cart", "cart", "/system.slice/cart.service", NULL,
		      "cart"),
		  "host=web-1,service_name=shop-cart,unit=cart");
	CHECK_STR(run(t, "/app/server", "server", "/kubepods/besteffort/pod1/0123456789abcdef",
		      "0123456789abcdef0123456789abcdef", "server"),
		  "container=0123456789ab,host=web-1,service_name=server");
	CHECK_STR(run(t, "/usr/bin/bash", "bash", "/user.slice/session-1.scope", NULL, "bash"),
		  "host=web-1,service_name=bash");
	disc_targets_free(t);
}

static void test_bad(void)
{
	static const struct {
		const char *file, *err;
	} cases[] = {
		{ "bad_regex.yaml", "bad_regex.yaml:12: rule 3: bad regex \"([a-\": unmatched [" },
		{ "bad_action.yaml", "bad_action.yaml:8: rule 2: unknown action \"rewrite\"" },
		{ "bad_hashmod.yaml",
		  "bad_hashmod.yaml:4: rule 1: action hashmod is Prometheus' but smolder does not run it" },
		{ "bad_no_target.yaml",
		  "bad_no_target.yaml:5: rule 2: action replace needs a target_label" },
		{ "bad_key.yaml", "bad_key.yaml:5: rule 1: unknown key \"regexp\"" },
		{ "bad_target_label.yaml",
		  "bad_target_label.yaml:7: rule 2: target_label \"service.name\": a label name may "
		  "not hold '.'" },
		{ "bad_source_label.yaml",
		  "bad_source_label.yaml:5: rule 1: source label \"container-id\": a label name must be" },
		{ "bad_yaml.yaml", "bad_yaml.yaml:6: YAML: " },
		{ "bad_top_key.yaml", "bad_top_key.yaml:2: unknown key \"targets\"" },
		{ "bad_not_list.yaml", "bad_not_list.yaml:3: relabel_configs must be a list of rules" },
		{ "bad_twice.yaml", "bad_twice.yaml:6: rule 1: regex given twice" },
		{ "bad_labeldrop.yaml",
		  "bad_labeldrop.yaml:6: rule 2: action labeldrop takes a regex and nothing else" },
		{ "bad_lazy.yaml", "bad_lazy.yaml:4: rule 1: bad regex \"(.*?)/bin/.*\": lazy quantifiers" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct disc_targets *t;
		const char *msg;

		errno = 0;
		t = load(cases[i].file, NULL, 0);
		CHECK(t == NULL && errno == EINVAL, "%s taken", cases[i].file);
		disc_targets_free(t);
		/* The message names the file as given: find its base name. */
		msg = strstr(err, cases[i].file);
		CHECK(msg && strncmp(msg, cases[i].err, strlen(cases[i].err)) == 0,
		      "%s: got \"%s\", want \"%s...\"", cases[i].file, err, cases[i].err);
		CHECK(strncmp(err, dir, strlen(dir)) == 0, "the path as given: %s", err);
	}
}

static void test_unreadable(void)
{
	char path[] = "/tmp/smolder-test-config-XXXXXX";
	struct disc_targets *t;
	FILE *f;
	int fd;

	errno = 0;
	t = load("no-such-file.yaml", NULL, 0);
	CHECK(t == NULL && errno == ENOENT);
	CHECK(strstr(err, "/no-such-file.yaml: No such file or directory") != NULL, "%s", err);

	errno = 0;
	t = load(".", NULL, 0);
	CHECK(t == NULL && errno == EISDIR, "a directory: errno %d", errno);

	/* A file past 1 MiB is no rules file. */
	fd = mkstemp(path);
	f = fd >= 0 ? fdopen(fd, "w") : NULL;
	CHECK(f != NULL);
	if (!f)
		return;
	for (int i = 0; i < 20000; i++)
		fputs("# a comment, some sixty bytes long, repeated to pass 1 MiB\n", f);
	fclose(f);
	{
		struct disc_targets_opts o = { .sz = sizeof(o), .config_path = path,
					       .err = err, .err_len = sizeof(err) };

		errno = 0;
		t = disc_targets_new(&o);
		CHECK(t == NULL && errno == EFBIG, "errno %d", errno);
		CHECK(strstr(err, "larger than 1 MiB") != NULL, "%s", err);
	}
	unlink(path);

	/* No room for a message is no reason to crash. */
	{
		struct disc_targets_opts o = { .sz = sizeof(o), .config_path = "/nonexistent" };

		CHECK(disc_targets_new(&o) == NULL && errno == ENOENT);
	}
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s CONFIG_DIR\n", argv[0]);
		return 2;
	}
	dir = argv[1];
	test_good();
	test_bad();
	test_unreadable();
	return check_report("disc_target_config");
}
