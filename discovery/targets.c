/* discovery: the target rules engine, which gives a process its labels or
 * drops it.
 *
 * agent/ asks it once for each process it sees (disc_targets_apply); the
 * rules come from the file target_config.c reads, and run as Prometheus'
 * relabel_configs do (prometheus/prometheus model/relabel/relabel.go), so
 * that rules written for Prometheus or Grafana Alloy's discovery.relabel
 * mean the same here:
 *
 * - The source labels' values, joined by the separator, are matched against
 *   the regex, anchored at both ends.
 * - replace: if it matches, target_label and replacement are expanded with
 *   the match ($1, ${1}; $0 is the whole match; $$ is '$'; a reference to a
 *   group that did not take part is ""; "$1x" refers to a group named "1x",
 *   which does not exist, as in Go); an empty result removes the label, and
 *   a target that expands to an invalid name does nothing.
 * - keep / drop: the process is dropped if it does not / does match.
 * - labelmap: every label whose name matches is copied to the name the
 *   replacement expands to (an invalid one is skipped).
 * - labeldrop / labelkeep: labels whose names match / do not match go.
 *
 * The regex is POSIX extended (regcomp) rather than Go's RE2: we wrap it as
 * ^(...)$, because POSIX has no (?:...), so its groups count from 2 inside
 * and references are shifted by one. Where the two dialects would read the
 * same text differently without a word (\d, an unmatched ')', a lazy
 * quantifier, a backslash inside [...]) it is translated or refused. It
 * runs in the C locale whatever the agent's is: on bytes, so '.' matches
 * any byte, even of a path that is not UTF-8 (in a UTF-8 locale even the
 * default (.*) would not match one), and \w and [[:alpha:]] are ASCII as in
 * Go; the one trap left, a repeat after a non-ASCII character, is refused.
 */
#include <errno.h>
#include <locale.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "targets.h"

#define META_EXE "__meta_process_exe"
#define META_COMM "__meta_process_comm"
#define META_CGROUP "__meta_process_cgroup"
#define META_CONTAINER_ID "__meta_process_container_id"
#define META_PID "__meta_process_pid"
#define SERVICE_NAME "service_name"

#define DEFAULT_SEPARATOR ";"
#define DEFAULT_REGEX "(.*)"
#define DEFAULT_REPLACEMENT "$1"

/* Go's RE2 refuses a repeat count over 1000, also as the product of nested
 * repeats ((a{10}){101}); Prometheus inherits it, and so do we. */
#define REPEAT_MAX 1000
/* What regcomp builds grows with every repeat spelled out: (a{1000}){1000}
 * took 200 MB. Beyond Go's rule, a regex whose repeats spelled out exceed
 * this many atoms is refused; no real rule comes near. */
#define REGEX_SPELLED_MAX 100000

struct disc_targets {
	struct disc_rule *rules;
	size_t n;
	struct disc_labels tags;
	locale_t c_locale; /* regcomp and regexec run in it (see the top) */
};

/* A growing string; an allocation failure is remembered and reported once,
 * at the end. */
struct buf {
	char *p;
	size_t n, cap;
	bool oom;
};

static void buf_add(struct buf *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->n + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 64;
		char *p;

		while (cap < b->n + n + 1)
			cap *= 2;
		p = realloc(b->p, cap);
		if (!p) {
			b->oom = true;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->n, s, n);
	b->n += n;
	b->p[b->n] = '\0';
}

static void buf_str(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

/* The string, "" if nothing was added; NULL if out of memory. */
static char *buf_take(struct buf *b)
{
	if (b->oom) {
		free(b->p);
		return NULL;
	}
	return b->p ? b->p : strdup("");
}

__attribute__((format(printf, 3, 4)))
static int why(char *out, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (out && len) {
		va_start(ap, fmt);
		vsnprintf(out, len, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static bool word_char(unsigned char c)
{
	/* Go's \w is ASCII; its template names also take any Unicode letter
	 * or digit, of which any non-ASCII byte is taken as part. */
	return c == '_' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	       (c >= 'A' && c <= 'Z') || c >= 0x80;
}

/* Parses "{n}", "{n,}" or "{n,m}" at s, as Go does: false if it is not one
 * (then '{' is a literal). *end is past the '}'; *max is m, or n when there
 * is no m, the count Go's limit applies to. */
static bool parse_interval(const char *s, const char **end, long *max, bool *bad)
{
	const char *p = s + 1;
	long n = 0, m;

	*bad = false;
	if (*p < '0' || *p > '9')
		return false;
	for (; *p >= '0' && *p <= '9'; p++)
		n = n > REPEAT_MAX ? n : n * 10 + (*p - '0');
	m = n;
	if (*p == ',') {
		p++;
		if (*p >= '0' && *p <= '9') {
			for (m = 0; *p >= '0' && *p <= '9'; p++)
				m = m > REPEAT_MAX ? m : m * 10 + (*p - '0');
			*bad = m < n;
		}
	}
	if (*p != '}')
		return false;
	*bad = *bad || n > REPEAT_MAX || m > REPEAT_MAX;
	*end = p + 1;
	*max = m;
	return true;
}

/* Copies a bracket expression starting at s ('[') into b; returns past its
 * ']' or NULL (with the reason) if it is not one we take. */
static const char *copy_bracket(const char *s, struct buf *b, char *w, size_t wl)
{
	const char *p = s + 1;

	if (*p == '^')
		p++;
	if (*p == ']')
		p++; /* a ']' first is a member */
	while (*p && *p != ']') {
		if (*p == '\\') {
			/* POSIX takes a backslash in brackets literally, Go as
			 * an escape: [\d] would mean '\' or 'd' here. */
			why(w, wl, "a backslash inside [...] is literal in POSIX regular "
				   "expressions: write [0-9], [[:alnum:]_], [[:space:]], or put "
				   "']' first and '-' last");
			return NULL;
		}
		if ((unsigned char)*p >= 0x80) {
			why(w, wl, "a non-ASCII character inside [...] would stand for each of "
				   "its bytes: write (a|b) instead");
			return NULL;
		}
		if (*p == '[' && (p[1] == ':' || p[1] == '=' || p[1] == '.')) {
			char close[3] = { p[1], ']', '\0' };
			const char *q = strstr(p + 2, close);

			if (!q)
				break;
			p = q + 2;
			continue;
		}
		p++;
	}
	if (*p != ']') {
		why(w, wl, "unmatched [");
		return NULL;
	}
	buf_add(b, s, (size_t)(p + 1 - s));
	return p + 1;
}

/* RE2's escapes that POSIX lacks (it reads "\d" as 'd'), spelled as POSIX
 * does; NULL for the others. */
static const char *re2_escape(char c)
{
	static const char *const spelled[][2] = {
		{ "d", "[0-9]" }, { "D", "[^0-9]" }, { "n", "\n" }, { "t", "\t" },
		{ "r", "\r" },   { "f", "\f" },    { "v", "\v" },
	};

	for (size_t i = 0; i < sizeof(spelled) / sizeof(spelled[0]); i++)
		if (spelled[i][0][0] == c)
			return spelled[i][1];
	return NULL;
}

/* A group of the regex being translated, for the repeat limits. */
struct level {
	size_t spelled;   /* atoms so far in it, repeats spelled out */
	long product;     /* largest product of nested repeat counts inside */
};

/* Where translate_regex is: what the last thing written can take. */
struct translation {
	struct level *lv; /* lv[0] is the whole regex */
	size_t depth;
	bool atom;        /* the last thing is something a repeat applies to */
	bool repeated;    /* the last thing is a repeat (another is an error) */
	bool byte;        /* the atom is one byte of a non-ASCII character */
	size_t last_spelled;
	long last_product;
};

/* One character (or class) written. */
static void one_atom(struct translation *t, bool byte)
{
	t->atom = true;
	t->repeated = false;
	t->byte = byte;
	t->last_spelled = 1;
	t->last_product = 1;
	t->lv[t->depth].spelled++;
}

/* Checks a repeat (*, +, ?, {m,n}) may follow what was written. */
static int may_repeat(const struct translation *t, const char *op, char *w, size_t wl)
{
	if (t->repeated)
		return why(w, wl, op[0] == '?' ? "lazy quantifiers (*?, +?, ?\?) are not POSIX "
						 "extended regular expressions"
					       : "nested repetition (**, a{2}{3}, ...)");
	if (!t->atom)
		return why(w, wl, "missing argument to repetition operator %c", op[0]);
	if (t->byte)
		/* The regex works on bytes (see the top): é+ would repeat
		 * the last byte of é. */
		return why(w, wl, "a repeat after a non-ASCII character repeats its last "
				  "byte: put the character in a group, (é)+, and count it in $N");
	return 0;
}

/* Writes src, a regex as Prometheus users write it, into b as the anchored
 * POSIX ERE "^(...)$". -EINVAL with the reason in w. */
static int translate_regex(const char *src, struct buf *b, char *w, size_t wl)
{
	struct translation t = { .lv = calloc(strlen(src) + 2, sizeof(*t.lv)) };
	int rc = 0;

	if (!t.lv)
		return -ENOMEM;
	t.lv[0].product = 1;
	buf_str(b, "^(");
	for (const char *p = src; *p && !rc;) {
		const char *end;
		long max;
		bool bad;

		switch (*p) {
		case '\\':
			if (!p[1])
				rc = why(w, wl, "trailing backslash");
			else if (re2_escape(p[1]))
				buf_str(b, re2_escape(p[1]));
			else if (strchr("wWsSbB", p[1]) || !word_char((unsigned char)p[1]))
				buf_add(b, p, 2); /* glibc reads these as Go does */
			else
				rc = why(w, wl, "\\%c is not a POSIX extended regular expression",
					 p[1]);
			if (rc)
				break;
			p += 2;
			one_atom(&t, false);
			break;
		case '[':
			end = copy_bracket(p, b, w, wl);
			if (!end) {
				rc = -EINVAL;
				break;
			}
			p = end;
			one_atom(&t, false);
			break;
		case '(':
			if (p[1] == '?') {
				rc = why(w, wl, "(?...) is not a POSIX extended regular expression: "
					       "groups are (...) only, and each counts in $N");
				break;
			}
			buf_str(b, "(");
			p++;
			t.lv[++t.depth] = (struct level){ .spelled = 0, .product = 1 };
			t.atom = t.repeated = false;
			break;
		case ')':
			if (t.depth == 0) {
				/* POSIX would take it as a literal, and end our
				 * ^( ... )$ wrapping early. */
				rc = why(w, wl, "unmatched )");
				break;
			}
			buf_str(b, ")");
			p++;
			t.last_spelled = t.lv[t.depth].spelled;
			t.last_product = t.lv[t.depth].product;
			t.depth--;
			t.lv[t.depth].spelled += t.last_spelled;
			if (t.lv[t.depth].product < t.last_product)
				t.lv[t.depth].product = t.last_product;
			t.atom = true;
			t.repeated = t.byte = false;
			break;
		case '*':
		case '+':
		case '?':
			rc = may_repeat(&t, p, w, wl);
			if (rc)
				break;
			buf_add(b, p, 1);
			p++;
			t.repeated = true;
			t.atom = false;
			break;
		case '{':
			if (!parse_interval(p, &end, &max, &bad)) {
				/* Go reads a '{' that starts no repeat as a
				 * literal; POSIX would refuse it. */
				buf_str(b, "\\{");
				p++;
				one_atom(&t, false);
				break;
			}
			rc = may_repeat(&t, p, w, wl);
			if (!rc && (bad || (max > 0 && t.last_product * max > REPEAT_MAX)))
				rc = why(w, wl, "bad repeat count {%.*s}: at most %d, also "
						"multiplied through nested groups, and min <= max",
					 (int)(end - p - 2), p + 1, REPEAT_MAX);
			if (rc)
				break;
			if (max > 0) {
				t.last_product *= max;
				if (t.lv[t.depth].product < t.last_product)
					t.lv[t.depth].product = t.last_product;
				t.lv[t.depth].spelled += t.last_spelled * (size_t)(max - 1);
			}
			buf_add(b, p, (size_t)(end - p));
			p = end;
			t.repeated = true;
			t.atom = false;
			break;
		case '|':
		case '^':
		case '$':
			/* Not atoms: nothing to repeat after them. */
			buf_add(b, p, 1);
			p++;
			t.atom = t.repeated = false;
			break;
		default:
			buf_add(b, p, 1);
			one_atom(&t, (unsigned char)*p >= 0x80);
			p++;
			break;
		}
		if (!rc && t.lv[t.depth].spelled > REGEX_SPELLED_MAX)
			rc = why(w, wl, "too large once its repeats are spelled out");
	}
	if (!rc && t.depth)
		rc = why(w, wl, "unmatched (");
	free(t.lv);
	buf_str(b, ")$");
	if (!rc && b->oom)
		rc = -ENOMEM;
	return rc;
}

int disc_rule_action_parse(const char *name, enum disc_rule_action *out)
{
	static const struct {
		const char *name;
		enum disc_rule_action action;
	} actions[] = {
		{ "replace", DISC_RULE_REPLACE },     { "keep", DISC_RULE_KEEP },
		{ "drop", DISC_RULE_DROP },           { "labelmap", DISC_RULE_LABELMAP },
		{ "labeldrop", DISC_RULE_LABELDROP }, { "labelkeep", DISC_RULE_LABELKEEP },
	};
	static const char *const prometheus_only[] = {
		"hashmod", "lowercase", "uppercase", "keepequal", "dropequal",
	};

	for (size_t i = 0; i < sizeof(actions) / sizeof(actions[0]); i++) {
		if (strcasecmp(name, actions[i].name) == 0) {
			*out = actions[i].action;
			return 0;
		}
	}
	for (size_t i = 0; i < sizeof(prometheus_only) / sizeof(prometheus_only[0]); i++)
		if (strcasecmp(name, prometheus_only[i]) == 0)
			return -EOPNOTSUPP;
	return -EINVAL;
}

static const char *action_name(enum disc_rule_action a)
{
	switch (a) {
	case DISC_RULE_REPLACE: return "replace";
	case DISC_RULE_KEEP: return "keep";
	case DISC_RULE_DROP: return "drop";
	case DISC_RULE_LABELMAP: return "labelmap";
	case DISC_RULE_LABELDROP: return "labeldrop";
	case DISC_RULE_LABELKEEP: return "labelkeep";
	}
	return "?";
}

/* Prometheus' test for a target_label or labelmap replacement with
 * references: ^(?:(?:[a-zA-Z_]|\$(?:\{\w+\}|\w+))+\w*)+$, that is a name
 * whose parts may be $N or ${N}. */
static bool name_template_valid(const char *s)
{
	bool first = true;

	if (!*s)
		return false;
	while (*s) {
		if (*s == '$') {
			const char *q = s + 1 + (s[1] == '{');

			while ((*q >= '0' && *q <= '9') || (*q >= 'a' && *q <= 'z') ||
			       (*q >= 'A' && *q <= 'Z') || *q == '_')
				q++;
			if (q == s + 1 + (s[1] == '{'))
				return false;
			if (s[1] == '{' && *q++ != '}')
				return false;
			s = q;
		} else if (*s == '_' || (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
			   (!first && *s >= '0' && *s <= '9')) {
			s++;
		} else {
			return false;
		}
		first = false;
	}
	return true;
}

int disc_rule_finish(struct disc_rule *r, enum disc_rule_key *bad, char *w, size_t wl)
{
	const char *act = action_name(r->action);
	struct buf re = { 0 };
	bool replace = r->action == DISC_RULE_REPLACE;
	int rc, flags = REG_EXTENDED;

	*bad = DISC_RULE_KEY_NONE;
	if (replace && !r->target_label)
		return why(w, wl, "action replace needs a target_label");
	if (replace && !strchr(r->target_label, '$') && !disc_label_name_valid(r->target_label)) {
		*bad = DISC_RULE_KEY_TARGET_LABEL;
		return why(w, wl, "target_label \"%s\": %s", r->target_label,
			   disc_label_name_problem(r->target_label));
	}
	if (replace && strchr(r->target_label, '$') && !name_template_valid(r->target_label)) {
		*bad = DISC_RULE_KEY_TARGET_LABEL;
		return why(w, wl, "target_label \"%s\" is no label name, even with its $N "
				  "references filled in", r->target_label);
	}
	if (r->action == DISC_RULE_LABELMAP && r->replacement &&
	    !name_template_valid(r->replacement)) {
		*bad = DISC_RULE_KEY_REPLACEMENT;
		return why(w, wl, "labelmap replacement \"%s\" is no label name, even with "
				  "its $N references filled in", r->replacement);
	}
	if (r->action == DISC_RULE_LABELDROP || r->action == DISC_RULE_LABELKEEP) {
		/* As Prometheus: these act on names alone, and a source label
		 * or target given with them is a mistake worth saying. */
		if (r->has_source_labels)
			*bad = DISC_RULE_KEY_SOURCE_LABELS;
		else if (r->target_label)
			*bad = DISC_RULE_KEY_TARGET_LABEL;
		else if (r->separator && strcmp(r->separator, DEFAULT_SEPARATOR))
			*bad = DISC_RULE_KEY_SEPARATOR;
		else if (r->replacement && strcmp(r->replacement, DEFAULT_REPLACEMENT))
			*bad = DISC_RULE_KEY_REPLACEMENT;
		if (*bad)
			return why(w, wl, "action %s takes a regex and nothing else", act);
	}

	rc = translate_regex(r->regex ? r->regex : DEFAULT_REGEX, &re, w, wl);
	if (rc == 0) {
		/* keep, drop, labeldrop and labelkeep only ask whether it
		 * matches: regexec is quicker told so. */
		if (r->action != DISC_RULE_REPLACE && r->action != DISC_RULE_LABELMAP)
			flags |= REG_NOSUB;
		rc = regcomp(&r->re, re.p, flags);
		if (rc) {
			char msg[128];

			regerror(rc, &r->re, msg, sizeof(msg));
			rc = rc == REG_ESPACE ? -ENOMEM : why(w, wl, "%s", msg);
		} else {
			r->compiled = true;
		}
	}
	free(re.p);
	if (rc) {
		*bad = DISC_RULE_KEY_REGEX;
		if (rc == -EINVAL && w && wl) {
			/* Put the regex in front of the reason. */
			char reason[256];

			const char *src = r->regex ? r->regex : DEFAULT_REGEX;
			/* A long regex is cut, so that the reason still fits. */
			int shown = strlen(src) > 64 ? 60 : 64;

			snprintf(reason, sizeof(reason), "%s", w);
			why(w, wl, "bad regex \"%.*s%s\": %s", shown, src,
			    strlen(src) > 64 ? "..." : "", reason);
		}
	}
	return rc;
}

void disc_rule_release(struct disc_rule *r)
{
	for (size_t i = 0; i < r->n_source_labels; i++)
		free(r->source_labels[i]);
	free(r->source_labels);
	free(r->separator);
	free(r->regex);
	free(r->target_label);
	free(r->replacement);
	if (r->compiled)
		regfree(&r->re);
	memset(r, 0, sizeof(*r));
}

/* Matches s against the rule's regex; m (re_nsub + 1 entries) may be NULL.
 * 1 match, 0 none, -ENOMEM. */
static int match(const struct disc_rule *r, const char *s, regmatch_t *m)
{
	int rc = regexec(&r->re, s, m ? r->re.re_nsub + 1 : 0, m, 0);

	if (rc == 0)
		return 1;
	return rc == REG_NOMATCH ? 0 : -ENOMEM;
}

/* Expands the $ references of tpl with the match m of subject, as Go's
 * Regexp.ExpandString: the file's group N is our N + 1 (we wrapped it). */
static char *expand(const struct disc_rule *r, const char *tpl, const char *subject,
		    const regmatch_t *m)
{
	struct buf b = { 0 };

	while (*tpl) {
		const char *dollar = strchr(tpl, '$'), *name, *rest;
		size_t len;
		long group = 0;

		if (!dollar) {
			buf_str(&b, tpl);
			break;
		}
		buf_add(&b, tpl, (size_t)(dollar - tpl));
		tpl = dollar + 1;
		if (*tpl == '$') { /* $$ is a '$' */
			buf_str(&b, "$");
			tpl++;
			continue;
		}
		name = tpl + (*tpl == '{');
		for (len = 0; word_char((unsigned char)name[len]); len++)
			;
		rest = name + len;
		if (len && *tpl == '{' && *rest++ != '}')
			len = 0;
		if (len == 0) { /* not a reference: the '$' is itself */
			buf_str(&b, "$");
			continue;
		}
		tpl = rest;
		/* A number with no leading zero names a group; anything else
		 * would name a named group, which POSIX has none of. */
		for (size_t i = 0; i < len && group >= 0; i++)
			group = name[i] >= '0' && name[i] <= '9' && group < 100000000
					? group * 10 + (name[i] - '0')
					: -1;
		if (group < 0 || (name[0] == '0' && len > 1))
			continue;
		if (group > 0)
			group++;
		if ((size_t)group <= r->re.re_nsub && m[group].rm_so >= 0)
			buf_add(&b, subject + m[group].rm_so,
				(size_t)(m[group].rm_eo - m[group].rm_so));
	}
	return buf_take(&b);
}

struct labelmatch {
	const struct disc_rule *r;
	bool keep_matching; /* labelkeep: drop those that do not match */
	int err;
};

static bool drop_by_name(const struct disc_label *l, void *arg)
{
	struct labelmatch *lm = arg;
	int rc = match(lm->r, l->name, NULL);

	if (rc < 0) {
		lm->err = rc;
		return false;
	}
	return lm->keep_matching ? rc == 0 : rc == 1;
}

static int run_replace(const struct disc_rule *r, struct disc_labels *l, const char *val,
		       regmatch_t *m)
{
	char *target, *value;
	int rc = match(r, val, m);

	if (rc <= 0)
		return rc;
	target = expand(r, r->target_label, val, m);
	value = expand(r, r->replacement ? r->replacement : DEFAULT_REPLACEMENT, val, m);
	if (!target || !value)
		rc = -ENOMEM;
	else if (disc_label_name_valid(target))
		rc = disc_labels_set(l, target, value);
	else
		rc = 0;
	free(target);
	free(value);
	return rc;
}

static int run_labelmap(const struct disc_rule *r, struct disc_labels *l, regmatch_t *m)
{
	struct disc_labels before;
	int rc = disc_labels_copy(&before, l);

	/* Matched against the labels as they were before this rule, so a
	 * name it creates is not mapped again. */
	for (size_t i = 0; rc >= 0 && i < before.n; i++) {
		char *name;

		rc = match(r, before.v[i].name, m);
		if (rc <= 0)
			continue;
		name = expand(r, r->replacement ? r->replacement : DEFAULT_REPLACEMENT,
			      before.v[i].name, m);
		if (!name)
			rc = -ENOMEM;
		else if (disc_label_name_valid(name))
			rc = disc_labels_set(l, name, before.v[i].value);
		free(name);
	}
	disc_labels_release(&before);
	return rc < 0 ? rc : 0;
}

/* Runs one rule: 1 keep going, 0 drop the process, negative errno. */
static int run_rule(const struct disc_rule *r, struct disc_labels *l)
{
	struct buf joined = { 0 };
	struct labelmatch lm = { .r = r, .keep_matching = r->action == DISC_RULE_LABELKEEP };
	const char *sep = r->separator ? r->separator : DEFAULT_SEPARATOR;
	regmatch_t *m = NULL;
	char *val;
	int rc = 0;

	if (r->action == DISC_RULE_LABELDROP || r->action == DISC_RULE_LABELKEEP) {
		disc_labels_remove_if(l, drop_by_name, &lm);
		return lm.err ? lm.err : 1;
	}
	if (r->action == DISC_RULE_REPLACE || r->action == DISC_RULE_LABELMAP) {
		m = calloc(r->re.re_nsub + 1, sizeof(*m));
		if (!m)
			return -ENOMEM;
	}
	if (r->action == DISC_RULE_LABELMAP) {
		rc = run_labelmap(r, l, m);
		free(m);
		return rc < 0 ? rc : 1;
	}
	for (size_t i = 0; i < r->n_source_labels; i++) {
		const char *v = disc_labels_get(l, r->source_labels[i]);

		if (i)
			buf_str(&joined, sep);
		buf_str(&joined, v ? v : "");
	}
	val = buf_take(&joined);
	if (!val) {
		free(m);
		return -ENOMEM;
	}
	switch (r->action) {
	case DISC_RULE_KEEP:
		rc = match(r, val, NULL);
		break;
	case DISC_RULE_DROP:
		rc = match(r, val, NULL);
		if (rc >= 0)
			rc = !rc;
		break;
	default:
		rc = run_replace(r, l, val, m);
		if (rc == 0)
			rc = 1;
		break;
	}
	free(val);
	free(m);
	return rc;
}

static bool reserved(const struct disc_label *l, void *arg)
{
	(void)arg;
	return strncmp(l->name, "__", 2) == 0;
}

static const char *default_service(const struct disc_target_input *in)
{
	if (in->default_service_name && in->default_service_name[0])
		return in->default_service_name;
	if (in->comm && in->comm[0])
		return in->comm;
	return "unknown";
}

static int apply(const struct disc_targets *t, const struct disc_target_input *in,
		 struct disc_labels *out, bool *memory)
{
	struct disc_labels l = { 0 };
	const char *svc = default_service(in);
	char pid[16] = ""; /* "" (no label) when unknown */
	int rc;

	if (in->pid > 0)
		snprintf(pid, sizeof(pid), "%d", in->pid);
	if ((rc = disc_labels_set(&l, META_EXE, in->exe)) ||
	    (rc = disc_labels_set(&l, META_COMM, in->comm)) ||
	    (rc = disc_labels_set(&l, META_CGROUP, in->cgroup)) ||
	    (rc = disc_labels_set(&l, META_CONTAINER_ID, in->container_id)) ||
	    (rc = disc_labels_set(&l, META_PID, pid)) ||
	    (rc = disc_labels_set(&l, SERVICE_NAME, svc)))
		goto out;
	for (size_t i = 0; in->kube && i < in->kube->n; i++)
		if ((rc = disc_labels_set(&l, in->kube->v[i].name, in->kube->v[i].value)))
			goto out;
	for (size_t i = 0; i < t->tags.n; i++)
		if ((rc = disc_labels_set(&l, t->tags.v[i].name, t->tags.v[i].value)))
			goto out;
	rc = 1;
	for (size_t i = 0; i < t->n && rc == 1; i++)
		rc = run_rule(&t->rules[i], &l);
	if (rc != 1)
		goto out;

	if (memory) {
		const char *v = disc_labels_get(&l, DISC_LABEL_PROFILE_MEMORY);

		*memory = v && strcmp(v, "true") == 0;
	}
	disc_labels_remove_if(&l, reserved, NULL);
	if (in->kube && disc_labels_get(in->kube, SERVICE_NAME))
		svc = disc_labels_get(in->kube, SERVICE_NAME);
	if (!disc_labels_get(&l, SERVICE_NAME) && (rc = disc_labels_set(&l, SERVICE_NAME, svc)))
		goto out;
	for (size_t i = 0; i < l.n; i++) {
		char *clean;

		if (!disc_label_value_problem(l.v[i].value))
			continue;
		clean = disc_label_value_clean(l.v[i].value);
		if (!clean) {
			rc = -ENOMEM;
			goto out;
		}
		/* Never empty: a bad first byte becomes U+FFFD. */
		free(l.v[i].value);
		l.v[i].value = clean;
	}
	if (l.n > DISC_LABELS_MAX) {
		rc = -E2BIG;
		goto out;
	}
	*out = l;
	return 1;
out:
	disc_labels_release(&l);
	return rc;
}

static int apply_in_c_locale(const struct disc_targets *t, const struct disc_target_input *in,
			     struct disc_labels *out, bool *memory)
{
	locale_t old;
	int rc;

	*out = (struct disc_labels){ 0 };
	if (memory)
		*memory = false;
	if (!t || !in)
		return -EINVAL;
	/* Per thread: other threads keep their own locale. */
	old = uselocale(t->c_locale);
	rc = apply(t, in, out, memory);
	uselocale(old);
	return rc;
}

int disc_targets_apply(const struct disc_targets *t, const struct disc_target_input *in,
		       struct disc_labels *out)
{
	return apply_in_c_locale(t, in, out, NULL);
}

int disc_targets_memory(const struct disc_targets *t, const struct disc_target_input *in)
{
	struct disc_labels l;
	bool memory;
	int rc = apply_in_c_locale(t, in, &l, &memory);

	disc_labels_release(&l);
	return rc < 0 ? rc : rc == 1 && memory;
}

/* Parses the --tag values into t->tags. */
static int add_tags(struct disc_targets *t, const char *const *tags, size_t n, char *err,
		    size_t err_len)
{
	for (size_t i = 0; i < n; i++) {
		const char *eq = strchr(tags[i], '=');
		const char *problem;
		char *name;
		int rc;

		if (!eq)
			return why(err, err_len, "tag \"%s\": not KEY=VALUE", tags[i]);
		name = strndup(tags[i], (size_t)(eq - tags[i]));
		if (!name)
			return -ENOMEM;
		problem = disc_label_name_problem(name);
		if (!problem)
			problem = disc_label_value_problem(eq + 1);
		if (!problem && disc_labels_get(&t->tags, name))
			problem = "given twice";
		rc = problem ? why(err, err_len, "tag \"%s\": %s", tags[i], problem)
			     : disc_labels_set(&t->tags, name, eq + 1);
		free(name);
		if (rc)
			return rc;
	}
	/* service_name is always there: a tag may set it, not add to it. */
	if (t->tags.n + !disc_labels_get(&t->tags, SERVICE_NAME) > DISC_LABELS_MAX)
		return why(err, err_len, "%zu tags: with service_name and __name__, more than "
					 "the 30 labels Pyroscope takes",
			   t->tags.n);
	return 0;
}

struct disc_targets *disc_targets_new(const struct disc_targets_opts *opts)
{
#define OPT(field) (opts && opts->sz >= offsetof(struct disc_targets_opts, field) + \
				 sizeof(opts->field) ? opts->field : 0)
	const char *path = OPT(config_path), *yaml = OPT(config_yaml);
	char *err = OPT(err), *text = NULL;
	size_t err_len = OPT(err_len), yaml_len = OPT(config_yaml_len), len = 0;
	const char *const *tags = OPT(tags);
	size_t n_tags = tags ? OPT(n_tags) : 0;
	struct disc_targets *t = calloc(1, sizeof(*t));
	locale_t old;
	int rc;
#undef OPT

	if (err && err_len)
		err[0] = '\0';
	if (!t) {
		errno = ENOMEM;
		return NULL;
	}
	t->c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
	if (!t->c_locale) {
		free(t);
		return NULL;
	}
	old = uselocale(t->c_locale);
	rc = add_tags(t, tags, n_tags, err, err_len);
	if (!rc && yaml) {
		rc = disc_target_config_parse(path ? path : "config", yaml, yaml_len, &t->rules,
					      &t->n, err, err_len);
	} else if (!rc && path) {
		rc = disc_target_config_read(path, &text, &len);
		if (rc)
			why(err, err_len, "%s: %s", path,
			    rc == -EFBIG ? "larger than 1 MiB: not a rules file" : strerror(-rc));
		else
			rc = disc_target_config_parse(path, text, len, &t->rules, &t->n, err,
						      err_len);
		free(text);
	}
	uselocale(old);
	if (rc) {
		disc_targets_free(t);
		errno = -rc;
		return NULL;
	}
	return t;
}

void disc_targets_free(struct disc_targets *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n; i++)
		disc_rule_release(&t->rules[i]);
	free(t->rules);
	disc_labels_release(&t->tags);
	if (t->c_locale)
		freelocale(t->c_locale);
	free(t);
}

size_t disc_targets_size(const struct disc_targets *t)
{
	return t ? t->n : 0;
}
