/* tests/discovery: the target rules engine, with rules given as YAML text:
 * every action, $N references, anchoring, separators, the order of rules,
 * tags, the labels removed and restored at the end, and the regexes that
 * POSIX would read differently from Prometheus. */
#include <errno.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "disc.h"

/* A process to apply rules to. */
struct proc {
	const char *exe, *comm, *cgroup, *container_id, *svc;
	int pid;
};

static const struct proc python = {
	"/usr/bin/python3.11", "python3", "/system.slice/shop.service", NULL, "python3.11", 4242,
};
static const struct proc container = {
	"/app/server", "server", "/kubepods/pod1/abcdef0123456789",
	"abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789", "server", 4243,
};
static const struct proc kworker = { NULL, "kworker/0:1", NULL, NULL, "kernel", 0 };

static char err[512];

static struct disc_targets *load_tags(const char *yaml, const char *const *tags, size_t n)
{
	struct disc_targets_opts o = {
		.sz = sizeof(o), .config_path = yaml ? "test.yaml" : NULL, .config_yaml = yaml,
		.config_yaml_len = yaml ? strlen(yaml) : 0, .tags = tags, .n_tags = n,
		.err = err, .err_len = sizeof(err),
	};

	return disc_targets_new(&o);
}

static struct disc_targets *load(const char *yaml)
{
	struct disc_targets *t = load_tags(yaml, NULL, 0);

	CHECK(t != NULL, "rules refused: %s", err);
	return t;
}

/* The labels as "a=1,b=2"; "DROP" if dropped, "ERR <errno>" on error. */
static const char *run(const struct disc_targets *t, const struct proc *p)
{
	static char s[4096];
	struct disc_target_input in = { p->exe, p->comm, p->cgroup, p->container_id, p->svc, NULL,
					p->pid };
	struct disc_labels l = { .n = 99 }; /* overwritten whatever it holds */
	size_t o = 0;
	int rc;

	if (!t)
		return "NO RULES";
	rc = disc_targets_apply(t, &in, &l);
	if (rc < 0) {
		snprintf(s, sizeof(s), "ERR %d", -rc);
		CHECK_INT(l.n, 0);
		return s;
	}
	if (rc == 0) {
		CHECK_INT(l.n, 0);
		return "DROP";
	}
	s[0] = '\0';
	for (size_t i = 0; i < l.n && o < sizeof(s); i++) {
		if (i)
			CHECK(strcmp(l.v[i - 1].name, l.v[i].name) < 0, "sorted, unique");
		o += (size_t)snprintf(s + o, sizeof(s) - o, "%s%s=%s", i ? "," : "",
				      l.v[i].name, l.v[i].value);
	}
	disc_labels_release(&l);
	return s;
}

static void test_no_rules(void)
{
	struct disc_targets *t = disc_targets_new(NULL);
	struct disc_targets_opts o = { .sz = sizeof(o) };

	CHECK(t != NULL);
	CHECK_INT(disc_targets_size(t), 0);
	/* Every process kept, meta labels gone, service_name the default. */
	CHECK_STR(run(t, &python), "service_name=python3.11");
	CHECK_STR(run(t, &kworker), "service_name=kernel");
	disc_targets_free(t);

	t = disc_targets_new(&o);
	CHECK_STR(run(t, &container), "service_name=server");
	disc_targets_free(t);

	/* Empty files and empty lists are no rules too. */
	static const char *const empty[] = {
		"", "# nothing\n", "~\n", "relabel_configs:\n", "relabel_configs: []\n", "---\n",
	};
	for (size_t i = 0; i < sizeof(empty) / sizeof(empty[0]); i++) {
		t = load(empty[i]);
		CHECK_INT(disc_targets_size(t), 0);
		CHECK_STR(run(t, &python), "service_name=python3.11");
		disc_targets_free(t);
	}
}

static void test_default_service(void)
{
	struct disc_targets *t = disc_targets_new(NULL);
	struct proc p = { "/x", "comm1", NULL, NULL, NULL, 1 };

	CHECK_STR(run(t, &p), "service_name=comm1");
	p.svc = "";
	CHECK_STR(run(t, &p), "service_name=comm1");
	p.comm = NULL;
	CHECK_STR(run(t, &p), "service_name=unknown");
	disc_targets_free(t);
}

static void test_replace(void)
{
	struct disc_targets *t;

	/* Groups, ${N}, $0, $$; the meta labels as sources. */
	t = load("relabel_configs:\n"
		 "- source_labels: [__meta_process_exe]\n"
		 "  regex: /usr/bin/(python)([0-9.]*)\n"
		 "  target_label: service_name\n"
		 "  replacement: $1-${2}\n"
		 "- source_labels: [__meta_process_exe]\n"
		 "  regex: /usr/(bin)/.*\n"
		 "  target_label: whole\n"
		 "  replacement: $0 costs $$1 in ${1}\n"
		 "- source_labels: [__meta_process_comm]\n"
		 "  target_label: comm\n");
	CHECK_INT(disc_targets_size(t), 3);
	CHECK_STR(run(t, &python), "comm=python3,service_name=python-3.11,"
				   "whole=/usr/bin/python3.11 costs $1 in bin");
	/* No match: nothing written (service_name stays the default). */
	CHECK_STR(run(t, &container), "comm=server,service_name=server");
	disc_targets_free(t);

	/* $1x names a group "1x", which does not exist: "" removes the label,
	 * as in Prometheus; ${1}x is what was meant. A group that took no
	 * part, or is past the last, is "". A '$' starting no reference is
	 * itself. */
	t = load("relabel_configs:\n"
		 "- {source_labels: [__meta_process_comm], target_label: a, replacement: '${1}x'}\n"
		 "- {source_labels: [__meta_process_comm], target_label: b, replacement: $1x}\n"
		 "- {source_labels: [__meta_process_comm], target_label: c, regex: '(py)thon3|(x)',\n"
		 "   replacement: '[$2]'}\n"
		 "- {source_labels: [__meta_process_comm], target_label: d, regex: '(python)(3)',\n"
		 "   replacement: '<$2$3$9>'}\n"
		 "- {source_labels: [__meta_process_comm], target_label: e, replacement: '$ ${ $-'}\n"
		 "- {source_labels: [__meta_process_comm], target_label: f, replacement: '$01'}\n");
	CHECK_STR(run(t, &python), "a=python3x,c=[],d=<3>,e=$ ${ $-,service_name=python3.11");
	disc_targets_free(t);

	/* A label can be removed by writing "" to it; the target label may
	 * itself hold references, and one that expands to no valid name
	 * does nothing. */
	t = load("relabel_configs:\n"
		 "- {source_labels: [__meta_process_comm], regex: 'python(.*)', target_label: 'v_$1'}\n"
		 "- {source_labels: [__meta_process_exe], regex: '/usr/(.*)/.*', target_label: '$1',\n"
		 "   replacement: '$0'}\n"
		 "- {source_labels: [__meta_process_exe], regex: '/(.*)/.*', target_label: '$1'}\n"
		 "- {target_label: gone, replacement: here}\n"
		 "- {source_labels: [nothing], target_label: gone, replacement: ''}\n");
	CHECK_STR(run(t, &python), "bin=/usr/bin/python3.11,service_name=python3.11,v_3=3");
	disc_targets_free(t);
}

static void test_anchoring(void)
{
	struct disc_targets *t;

	/* "python" is in the exe, but the regex must match all of it. */
	t = load("relabel_configs:\n"
		 "- {source_labels: [__meta_process_exe], regex: python, action: keep}\n");
	CHECK_STR(run(t, &python), "DROP");
	disc_targets_free(t);

	t = load("relabel_configs:\n"
		 "- {source_labels: [__meta_process_exe], regex: '.*python.*', action: keep}\n");
	CHECK_STR(run(t, &python), "service_name=python3.11");
	CHECK_STR(run(t, &container), "DROP");
	disc_targets_free(t);

	/* An alternation is anchored as a whole, not at its ends alone. */
	t = load("relabel_configs:\n"
		 "- {source_labels: [__meta_process_comm], regex: 'xx|python', action: drop}\n"
		 "- {source_labels: [__meta_process_comm], regex: 'serv|zz', action: drop}\n");
	CHECK_STR(run(t, &python), "service_name=python3.11");
	CHECK_STR(run(t, &container), "service_name=server");
	disc_targets_free(t);

	/* Anchors of its own are harmless. */
	t = load("relabel_configs:\n"
		 "- {source_labels: [__meta_process_comm], regex: '^python3$', action: drop}\n");
	CHECK_STR(run(t, &python), "DROP");
	disc_targets_free(t);
}

static void test_separator(void)
{
	struct disc_targets *t;

	/* The default ";", an unknown (empty) label between. */
	t = load("relabel_configs:\n"
		 "- source_labels: [__meta_process_comm, __meta_process_container_id, "
		 "__meta_process_cgroup]\n"
		 "  target_label: joined\n");
	CHECK_STR(run(t, &python), "joined=python3;;/system.slice/shop.service,"
				   "service_name=python3.11");
	disc_targets_free(t);

	t = load("relabel_configs:\n"
		 "- source_labels: [__meta_process_comm, __meta_process_cgroup]\n"
		 "  separator: ' @ '\n"
		 "  regex: '([^ ]*) @ /system\\.slice/(.*)\\.service'\n"
		 "  target_label: unit\n"
		 "  replacement: $2/$1\n"
		 "- source_labels: [__meta_process_comm, __meta_process_comm]\n"
		 "  separator: ''\n"
		 "  target_label: twice\n");
	CHECK_STR(run(t, &python), "service_name=python3.11,twice=python3python3,"
				   "unit=shop/python3");
	disc_targets_free(t);
}

/* __meta_process_pid, copied into a label, makes one label set (one
 * profile) per process; a process whose pid is unknown has none. */
static void test_pid(void)
{
	struct disc_targets *t;

	t = load("relabel_configs:\n"
		 "- {source_labels: [__meta_process_pid], target_label: pid}\n");
	CHECK_STR(run(t, &python), "pid=4242,service_name=python3.11");
	CHECK_STR(run(t, &kworker), "service_name=kernel");
	disc_targets_free(t);

	t = load("relabel_configs:\n"
		 "- {source_labels: [__meta_process_pid], regex: '42.*', action: keep}\n");
	CHECK_STR(run(t, &python), "service_name=python3.11");
	CHECK_STR(run(t, &kworker), "DROP");
	disc_targets_free(t);

	/* The README's: the pid of one executable's processes only. */
	t = load("relabel_configs:\n"
		 "- source_labels: [__meta_process_exe, __meta_process_pid]\n"
		 "  regex: .*/python3\\.11;(.*)\n"
		 "  target_label: pid\n");
	CHECK_STR(run(t, &python), "pid=4242,service_name=python3.11");
	CHECK_STR(run(t, &container), "service_name=server");
	disc_targets_free(t);
}

static void test_keep_drop_order(void)
{
	struct disc_targets *t;

	/* Rules run in order and the first drop ends it: the kworker is
	 * dropped by the first rule although the second would keep it. */
	t = load("relabel_configs:\n"
		 "- {source_labels: [__meta_process_comm], regex: 'kworker/.*', action: drop}\n"
		 "- {source_labels: [service_name], regex: 'kernel|python.*', action: keep}\n");
	CHECK_STR(run(t, &kworker), "DROP");
	CHECK_STR(run(t, &python), "service_name=python3.11");
	CHECK_STR(run(t, &container), "DROP");
	disc_targets_free(t);

	/* A later rule sees what an earlier one wrote. */
	t = load("relabel_configs:\n"
		 "- {source_labels: [__meta_process_comm], regex: 'py.*', target_label: lang,\n"
		 "   replacement: python}\n"
		 "- {source_labels: [lang], regex: python, action: drop}\n");
	CHECK_STR(run(t, &python), "DROP");
	CHECK_STR(run(t, &container), "service_name=server");
	disc_targets_free(t);

	/* The other way round, the drop sees no lang yet. */
	t = load("relabel_configs:\n"
		 "- {source_labels: [lang], regex: python, action: drop}\n"
		 "- {source_labels: [__meta_process_comm], regex: 'py.*', target_label: lang,\n"
		 "   replacement: python}\n");
	CHECK_STR(run(t, &python), "lang=python,service_name=python3.11");
	disc_targets_free(t);

	/* keep with no source labels matches "" against the regex; the
	 * action is read in any case, as Prometheus does. */
	t = load("relabel_configs:\n- {action: Keep, regex: ''}\n");
	CHECK_STR(run(t, &python), "service_name=python3.11");
	disc_targets_free(t);
	t = load("relabel_configs:\n- {action: KEEP, regex: '.+'}\n");
	CHECK_STR(run(t, &python), "DROP");
	disc_targets_free(t);
	/* A null regex is the empty one (Prometheus' reading of "regex:"). */
	t = load("relabel_configs:\n- action: drop\n  regex:\n");
	CHECK_STR(run(t, &python), "DROP");
	disc_targets_free(t);
}

static void test_label_actions(void)
{
	static const char *const tags[] = { "host=h1", "tmp_a=1", "tmp_b=2" };
	struct disc_targets *t;

	/* labelmap: meta labels copied under names of our choosing (before
	 * the "__" ones are removed), then copied again; a name that is no
	 * label name ("", from an empty group) is skipped. */
	t = load("relabel_configs:\n"
		 "- action: labelmap\n"
		 "  regex: __meta_process_(.*)\n"
		 "  replacement: proc_$1\n"
		 "- action: labelmap\n"
		 "  regex: (proc_.*)\n"
		 "  replacement: x$1\n"
		 "- action: labelmap\n"
		 "  regex: (z*)service_name\n");
	CHECK_STR(run(t, &python), "proc_cgroup=/system.slice/shop.service,proc_comm=python3,"
				   "proc_exe=/usr/bin/python3.11,proc_pid=4242,"
				   "service_name=python3.11,"
				   "xproc_cgroup=/system.slice/shop.service,xproc_comm=python3,"
				   "xproc_exe=/usr/bin/python3.11,xproc_pid=4242");
	disc_targets_free(t);

	t = load_tags("relabel_configs:\n- {action: labeldrop, regex: 'tmp_.*|host'}\n", tags, 3);
	CHECK(t != NULL, "%s", err);
	CHECK_STR(run(t, &python), "service_name=python3.11");
	disc_targets_free(t);

	t = load_tags("relabel_configs:\n- {action: labeldrop, regex: 'tmp'}\n", tags, 3);
	CHECK_STR(run(t, &python), "host=h1,service_name=python3.11,tmp_a=1,tmp_b=2");
	disc_targets_free(t);

	/* labelkeep drops the meta labels too: a later rule cannot use them. */
	t = load_tags("relabel_configs:\n"
		      "- {action: labelkeep, regex: 'service_name|tmp_a'}\n"
		      "- {source_labels: [__meta_process_comm], regex: '.+', action: keep}\n",
		      tags, 3);
	CHECK_STR(run(t, &python), "DROP");
	disc_targets_free(t);
	t = load_tags("relabel_configs:\n- {action: labelkeep, regex: 'service_name|tmp_a'}\n",
		      tags, 3);
	CHECK_STR(run(t, &python), "service_name=python3.11,tmp_a=1");
	disc_targets_free(t);

	/* service_name removed by a rule comes back as the default:
	 * Pyroscope refuses a series without one. */
	t = load("relabel_configs:\n- {action: labeldrop, regex: 'service_name'}\n");
	CHECK_STR(run(t, &python), "service_name=python3.11");
	disc_targets_free(t);
}

static void test_reserved_removed(void)
{
	struct disc_targets *t;

	/* A "__tmp" label carries a value between rules, then goes. */
	t = load("relabel_configs:\n"
		 "- {source_labels: [__meta_process_exe], regex: '.*/([^/]*)', target_label: __tmp}\n"
		 "- {source_labels: [__tmp, __meta_process_comm], separator: '/',\n"
		 "   target_label: service_name}\n"
		 "- {source_labels: [__meta_process_container_id], regex: '(.{12}).*',\n"
		 "   target_label: __also_gone}\n");
	CHECK_STR(run(t, &python), "service_name=python3.11/python3");
	CHECK_STR(run(t, &container), "service_name=server/server");
	disc_targets_free(t);
}

static void test_tags(void)
{
	static const char *const tags[] = { "host=web-1", "env=prod", "region=eu=west" };
	static const char *const svc[] = { "service_name=fixed", "host=h" };
	struct disc_targets *t;

	t = load_tags(NULL, tags, 3);
	CHECK(t != NULL, "%s", err);
	CHECK_STR(run(t, &python), "env=prod,host=web-1,region=eu=west,service_name=python3.11");
	disc_targets_free(t);

	/* A tag may set service_name; rules see the tags. */
	t = load_tags("relabel_configs:\n"
		      "- {source_labels: [host, service_name], target_label: where}\n",
		      svc, 2);
	CHECK(t != NULL, "%s", err);
	CHECK_STR(run(t, &python), "host=h,service_name=fixed,where=h;fixed");
	disc_targets_free(t);

	static const struct {
		const char *tag, *err;
	} bad[] = {
		{ "hostname", "tag \"hostname\": not KEY=VALUE" },
		{ "host-name=x", "tag \"host-name=x\": a label name must be" },
		{ "host.name=x", "tag \"host.name=x\": a label name may not hold '.'" },
		{ "=x", "tag \"=x\": a label name may not be empty" },
		{ "env=", "tag \"env=\": a label value may not be empty" },
		{ "env=\xff", "tag \"env=\xff\": a label value must be UTF-8" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *one[] = { "ok=1", bad[i].tag };

		errno = 0;
		t = load_tags(NULL, one, 2);
		CHECK(t == NULL && errno == EINVAL, "tag \"%s\" taken", bad[i].tag);
		CHECK(strncmp(err, bad[i].err, strlen(bad[i].err)) == 0, "tag \"%s\": \"%s\"",
		      bad[i].tag, err);
		disc_targets_free(t);
	}

	const char *twice[] = { "env=a", "env=b" };
	t = load_tags(NULL, twice, 2);
	CHECK(t == NULL);
	CHECK_STR(err, "tag \"env=b\": given twice");

	/* 28 tags and service_name fill the 29 labels a set may have. */
	char names[29][16];
	const char *many[29];
	for (int i = 0; i < 29; i++) {
		snprintf(names[i], sizeof(names[i]), "t%02d=v", i);
		many[i] = names[i];
	}
	t = load_tags(NULL, many, 29);
	CHECK(t == NULL, "29 tags and service_name are too many");
	CHECK(strstr(err, "29 tags") != NULL, "%s", err);
	t = load_tags("relabel_configs:\n- {target_label: one_more, replacement: x}\n", many, 28);
	CHECK(t != NULL, "28 tags: %s", err);
	CHECK_STR(run(t, &python), "ERR 7"); /* E2BIG */
	disc_targets_free(t);
	t = load_tags(NULL, many, 28);
	CHECK(strstr(run(t, &python), "t27=v") != NULL);
	disc_targets_free(t);
}

static void test_values_cleaned(void)
{
	struct disc_targets *t = load("relabel_configs:\n"
				      "- {source_labels: [__meta_process_exe], target_label: exe}\n");
	char long_exe[3000];
	struct proc p = { "/opt/caf\xe9/a\xff\xfe" "b", "x", NULL, NULL, "x", 1 };

	/* A path need not be UTF-8: each bad run becomes one U+FFFD. */
	CHECK_STR(run(t, &p), "exe=/opt/caf\xef\xbf\xbd/a\xef\xbf\xbd" "b,service_name=x");

	/* Nor short: cut to 2048 bytes, never inside a character. */
	memset(long_exe, 'a', sizeof(long_exe));
	long_exe[sizeof(long_exe) - 1] = '\0';
	p.exe = long_exe;
	CHECK_INT(strlen(run(t, &p)), strlen("exe=") + 2048 + strlen(",service_name=x"));
	memcpy(long_exe + 2046, "\xc3\xa9", 2); /* 2046-2047: 'é' still fits */
	CHECK(strstr(run(t, &p), "a\xc3\xa9,") != NULL);
	long_exe[2046] = 'a';
	memcpy(long_exe + 2047, "\xc3\xa9", 2); /* 2047-2048: it would not */
	CHECK_INT(strlen(run(t, &p)), strlen("exe=") + 2047 + strlen(",service_name=x"));
	disc_targets_free(t);
}

/* A regex that must be refused, and part of the reason. */
static void check_bad_regex(const char *regex, const char *reason)
{
	char yaml[2048];
	struct disc_targets *t;

	snprintf(yaml, sizeof(yaml),
		 "relabel_configs:\n- source_labels: [__meta_process_comm]\n  action: keep\n"
		 "  regex: '%s'\n", regex);
	errno = 0;
	t = load_tags(yaml, NULL, 0);
	CHECK(t == NULL && errno == EINVAL, "regex '%s' taken", regex);
	CHECK(strstr(err, "test.yaml:4: rule 1: bad regex") && strstr(err, reason),
	      "regex '%s': \"%s\"", regex, err);
	disc_targets_free(t);
}

/* keep with regex on comm: whether it matches. */
static int matches(const char *regex, const char *comm)
{
	char yaml[512];
	struct disc_targets *t;
	struct proc p = { NULL, comm, NULL, NULL, "x", 1 };
	int kept;

	snprintf(yaml, sizeof(yaml),
		 "relabel_configs:\n- source_labels: [__meta_process_comm]\n  action: keep\n"
		 "  regex: '%s'\n", regex);
	t = load(yaml);
	kept = strcmp(run(t, &p), "DROP") != 0;
	disc_targets_free(t);
	return kept;
}

static void test_regex_dialect(void)
{
	/* \d is RE2's digit, not POSIX's 'd'. */
	CHECK(matches("\\d+", "123"));
	CHECK(!matches("\\d+", "ddd"));
	CHECK(matches("a\\Db", "a-b"));
	CHECK(!matches("a\\Db", "a1b"));
	/* \w, \s and escaped punctuation mean the same in both. */
	CHECK(matches("\\w+\\s\\.\\*", "ab_1 .*"));
	/* A '{' starting no repeat is a literal, as in RE2. */
	CHECK(matches("a{", "a{"));
	CHECK(matches("a{x}", "a{x}"));
	CHECK(matches("a{,2}", "a{,2}"));
	CHECK(matches("a{2}", "aa"));
	CHECK(matches("a{1,3}b", "aaab"));
	CHECK(matches("[]a]+", "]a"));
	CHECK(matches("[[:digit:]]+x", "12x"));
	/* Go's limit on nested repeats, at its edge. */
	char thousand[1001];
	memset(thousand, 'a', 1000);
	thousand[1000] = '\0';
	CHECK(matches("(a{10}){100}", thousand));
	thousand[999] = '\0';
	CHECK(!matches("(a{10}){100}", thousand));

	/* The regex works on bytes: '.' matches one of a path that is not
	 * UTF-8, as the default (.*) must; a non-ASCII character in a group
	 * repeats whole. \w stays ASCII, as in Go. */
	CHECK(matches("a.b", "a\xff" "b"));
	CHECK(matches("caf(\xc3\xa9)+", "caf\xc3\xa9\xc3\xa9"));
	CHECK(!matches("\\w+", "caf\xc3\xa9"));

	/* Refused, where POSIX would silently read them otherwise. */
	check_bad_regex("([a-", "unmatched [");
	check_bad_regex("a)|(b", "unmatched )");
	check_bad_regex("(ab", "unmatched (");
	check_bad_regex("(?i)python", "(?...) is not");
	check_bad_regex("(?:a|b)c", "(?...) is not");
	check_bad_regex("a.*?b", "lazy quantifiers");
	check_bad_regex("a+?", "lazy quantifiers");
	check_bad_regex("a**", "nested repetition");
	check_bad_regex("a{2}{3}", "nested repetition");
	check_bad_regex("[\\d]+", "backslash inside [...]");
	check_bad_regex("(a)\\1", "\\1 is not");
	check_bad_regex("a\\", "trailing backslash");
	check_bad_regex("caf\xc3\xa9+", "a repeat after a non-ASCII character");
	check_bad_regex("[\xc3\xa9" "e]", "a non-ASCII character inside [...]");
	check_bad_regex("*a", "missing argument");
	check_bad_regex("a|+", "missing argument");
	check_bad_regex("a{1001}", "bad repeat count {1001}");
	check_bad_regex("a{3,2}", "bad repeat count {3,2}");
	check_bad_regex("(a{10}){101}", "bad repeat count {101}");
	check_bad_regex("(.{1000}|.{1000}|.{1000}|.{1000}|.{1000}|.{1000}|.{1000}|.{1000}"
			"|.{1000}|.{1000}|.{1000}|.{1000}|.{1000}|.{1000}|.{1000}|.{1000}"
			"|.{1000}|.{1000}|.{1000}|.{1000}|.{1000}|.{1000}|.{1000}|.{1000}"
			"|.{1000}|.{1000}|.{1000}|.{1000}|.{1000}|.{1000}|.{1000}|.{1000}"
			"|.{1000}|.{1000}|.{1000}|.{1000}|.{1000}|.{1000}|.{1000}|.{1000}"
			"|.{1000}|.{1000}|.{1000}|.{1000}|.{1000}|.{1000}|.{1000}|.{1000}"
			"|.{1000}|.{1000}|.{1000}|.{1000}|.{1000}|.{1000}|.{1000}|.{1000}"
			"|.{1000}|.{1000}|.{1000}|.{1000}|.{1000}|.{1000}|.{1000}|.{1000}"
			"|.{1000}|.{1000}|.{1000}|.{1000}|.{1000}|.{1000}|.{1000}|.{1000}"
			"|.{1000}|.{1000}|.{1000}|.{1000}|.{1000}|.{1000}|.{1000}|.{1000}"
			"|.{1000}|.{1000}|.{1000}|.{1000}|.{1000}|.{1000}|.{1000}|.{1000}"
			"|.{1000}|.{1000}|.{1000}|.{1000}|.{1000}|.{1000}|.{1000}|.{1000}"
			"|.{1000}|.{1000}|.{1000}|.{1000}|.{1000})",
			"too large");
}

static void test_rule_errors(void)
{
	static const struct {
		const char *yaml, *err;
	} bad[] = {
		{ "relabel_configs:\n- {action: replace}\n",
		  "test.yaml:2: rule 1: action replace needs a target_label" },
		{ "relabel_configs:\n- {target_label: 'a-b'}\n",
		  "test.yaml:2: rule 1: target_label \"a-b\": a label name must be" },
		{ "relabel_configs:\n- {target_label: '1$1'}\n",
		  "test.yaml:2: rule 1: target_label \"1$1\" is no label name" },
		{ "relabel_configs:\n- {target_label: 'a$'}\n",
		  "test.yaml:2: rule 1: target_label \"a$\" is no label name" },
		{ "relabel_configs:\n- {action: labelmap, replacement: 'x-$1'}\n",
		  "test.yaml:2: rule 1: labelmap replacement \"x-$1\" is no label name" },
		{ "relabel_configs:\n- {action: labelkeep, regex: a, replacement: b}\n",
		  "test.yaml:2: rule 1: action labelkeep takes a regex and nothing else" },
		{ "relabel_configs:\n- {action: labeldrop, separator: ','}\n",
		  "test.yaml:2: rule 1: action labeldrop takes a regex and nothing else" },
		{ "relabel_configs:\n- {action: lowercase, target_label: a}\n",
		  "test.yaml:2: rule 1: action lowercase is Prometheus' but smolder does not run it" },
		{ "relabel_configs:\n- {target_label: a}\n- {modulus: 3}\n",
		  "test.yaml:3: rule 2: unknown key \"modulus\"" },
		{ "relabel_configs:\n- {target_label: a, regex: [a, b]}\n",
		  "test.yaml:2: rule 1: regex must be a string" },
		{ "relabel_configs:\n- {target_label: a, source_labels: a}\n",
		  "test.yaml:2: rule 1: source_labels must be a list of label names" },
		{ "relabel_configs:\n- {target_label: a, source_labels: [[a]]}\n",
		  "test.yaml:2: rule 1: a source label must be a string" },
		{ "relabel_configs:\n- {target_label: a, replacement: \"a\\0b\"}\n",
		  "test.yaml:2: rule 1: replacement holds a NUL byte" },
		{ "relabel_configs:\n- just a string\n",
		  "test.yaml:2: rule 1: a rule must be a mapping" },
		{ "- {target_label: a}\n",
		  "test.yaml:1: the file must be a mapping holding relabel_configs" },
		{ "relabel_configs: []\nrelabel_configs: []\n",
		  "test.yaml:2: relabel_configs given twice" },
		{ "relabel_configs: []\n---\nrelabel_configs: []\n",
		  "test.yaml:3: a second YAML document" },
		{ "relabel_configs: [\n", "test.yaml:2: YAML: " },
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct disc_targets *t;

		errno = 0;
		t = load_tags(bad[i].yaml, NULL, 0);
		CHECK(t == NULL && errno == EINVAL, "taken: %s", bad[i].yaml);
		CHECK(strncmp(err, bad[i].err, strlen(bad[i].err)) == 0,
		      "rules %zu: got \"%s\", want \"%s...\"", i, err, bad[i].err);
		disc_targets_free(t);
	}
}

int main(void)
{
	/* As an agent might: the rules must read the same in any locale
	 * (in C.UTF-8, regcomp would not let '.' match a byte of bad UTF-8). */
	CHECK(setlocale(LC_ALL, "C.UTF-8") != NULL);
	test_no_rules();
	test_default_service();
	test_replace();
	test_anchoring();
	test_separator();
	test_pid();
	test_keep_drop_order();
	test_label_actions();
	test_reserved_removed();
	test_tags();
	test_values_cleaned();
	test_regex_dialect();
	test_rule_errors();
	return check_report("disc_targets");
}
