/* discovery: the target rules file (--config FILE), read with libyaml.
 *
 * The file holds one key, relabel_configs, named and shaped as Prometheus'
 * so that rules can be pasted from a Prometheus or Alloy configuration:
 *
 *   relabel_configs:
 *     # Only what runs from /opt/shop; named after its directory.
 *     - source_labels: [__meta_process_exe]
 *       regex: /opt/shop/([^/]+)/.*
 *       action: keep
 *     - source_labels: [__meta_process_exe]
 *       regex: /opt/shop/([^/]+)/.*
 *       target_label: service_name
 *       replacement: shop-$1
 *     # Containers get their id as a label.
 *     - source_labels: [__meta_process_container_id]
 *       regex: (.{12}).*
 *       target_label: container
 *
 * A rule's keys: source_labels (a list), separator (";"), regex ("(.*)"),
 * action ("replace"), target_label, replacement ("$1"); the meaning is in
 * targets.c. Anything else (an unknown key, a key twice, a list where a
 * string belongs, a bad regex or label name) is an error, reported as
 * "FILE:LINE: rule N: ..." with N counting rules from 1: a rule that does
 * nothing because of a typo is worse than an agent that will not start.
 * An empty file, or an empty relabel_configs, means no rules.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "targets.h"

#define RULES_KEY "relabel_configs"

struct loader {
	const char *name; /* the file, for messages */
	yaml_document_t *doc;
	size_t rule;      /* the rule being read, from 1; 0 outside rules */
	char *err;
	size_t err_len;
};

static int line_of(const yaml_node_t *n)
{
	return (int)n->start_mark.line + 1;
}

__attribute__((format(printf, 3, 4)))
static int fail(struct loader *ld, const yaml_node_t *at, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (!ld->err || !ld->err_len)
		return -EINVAL;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (ld->rule)
		snprintf(ld->err, ld->err_len, "%s:%d: rule %zu: %s", ld->name, line_of(at),
			 ld->rule, msg);
	else
		snprintf(ld->err, ld->err_len, "%s:%d: %s", ld->name, line_of(at), msg);
	return -EINVAL;
}

static const char *scalar(const yaml_node_t *n)
{
	return (const char *)n->data.scalar.value;
}

/* A plain null (nothing, ~, null): what yaml.v2 leaves a field's zero value
 * for, as Prometheus reads it. */
static bool is_null(const yaml_node_t *n)
{
	static const char *const nulls[] = { "", "~", "null", "Null", "NULL" };

	if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	for (size_t i = 0; i < sizeof(nulls) / sizeof(nulls[0]); i++)
		if (strcmp(scalar(n), nulls[i]) == 0)
			return true;
	return false;
}

/* A copy of the string at n, "" for a null. Mappings and lists are refused,
 * as are NUL bytes (a "\0" escape), which C strings cannot hold. */
static int string_at(struct loader *ld, const yaml_node_t *n, const char *key, char **out)
{
	if (n->type != YAML_SCALAR_NODE)
		return fail(ld, n, "%s must be a string", key);
	if (strlen(scalar(n)) != n->data.scalar.length)
		return fail(ld, n, "%s holds a NUL byte", key);
	*out = strdup(is_null(n) ? "" : scalar(n));
	return *out ? 0 : -ENOMEM;
}

static int read_source_labels(struct loader *ld, const yaml_node_t *n, struct disc_rule *r)
{
	yaml_node_item_t *it;
	size_t count;

	r->has_source_labels = true;
	if (is_null(n))
		return 0;
	if (n->type != YAML_SEQUENCE_NODE)
		return fail(ld, n, "source_labels must be a list of label names");
	count = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
	r->source_labels = calloc(count ? count : 1, sizeof(*r->source_labels));
	if (!r->source_labels)
		return -ENOMEM;
	for (it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++) {
		const yaml_node_t *item = yaml_document_get_node(ld->doc, *it);
		const char *problem;
		int rc = string_at(ld, item, "a source label", &r->source_labels[r->n_source_labels]);

		if (rc)
			return rc;
		r->n_source_labels++;
		problem = disc_label_name_problem(scalar(item));
		if (problem)
			return fail(ld, item, "source label \"%s\": %s", scalar(item), problem);
	}
	return 0;
}

static const char *const key_names[DISC_RULE_KEY_COUNT] = {
	[DISC_RULE_KEY_SOURCE_LABELS] = "source_labels",
	[DISC_RULE_KEY_SEPARATOR] = "separator",
	[DISC_RULE_KEY_REGEX] = "regex",
	[DISC_RULE_KEY_ACTION] = "action",
	[DISC_RULE_KEY_TARGET_LABEL] = "target_label",
	[DISC_RULE_KEY_REPLACEMENT] = "replacement",
};

static int read_rule(struct loader *ld, const yaml_node_t *n, struct disc_rule *r)
{
	/* Where each key's value is, for naming the line of a bad one. */
	const yaml_node_t *at[DISC_RULE_KEY_COUNT] = { [DISC_RULE_KEY_NONE] = n };
	enum disc_rule_key bad;
	char why[384];
	int rc;

	if (n->type != YAML_MAPPING_NODE)
		return fail(ld, n, "a rule must be a mapping (source_labels:, regex:, ...)");
	r->action = DISC_RULE_REPLACE;
	for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
		const yaml_node_t *k = yaml_document_get_node(ld->doc, p->key);
		const yaml_node_t *v = yaml_document_get_node(ld->doc, p->value);
		enum disc_rule_key key = DISC_RULE_KEY_NONE;
		char *s = NULL;

		if (k->type == YAML_SCALAR_NODE)
			for (int i = 1; i < DISC_RULE_KEY_COUNT; i++)
				if (strcmp(scalar(k), key_names[i]) == 0)
					key = i;
		if (key == DISC_RULE_KEY_NONE)
			return fail(ld, k, "unknown key \"%s\" (a rule has source_labels, "
					   "separator, regex, action, target_label, replacement)",
				    k->type == YAML_SCALAR_NODE ? scalar(k) : "?");
		if (at[key])
			return fail(ld, k, "%s given twice", key_names[key]);
		at[key] = v;
		if (key == DISC_RULE_KEY_SOURCE_LABELS) {
			rc = read_source_labels(ld, v, r);
			if (rc)
				return rc;
			continue;
		}
		rc = string_at(ld, v, key_names[key], &s);
		if (rc)
			return rc;
		switch (key) {
		case DISC_RULE_KEY_SEPARATOR: r->separator = s; break;
		case DISC_RULE_KEY_REGEX: r->regex = s; break;
		case DISC_RULE_KEY_TARGET_LABEL: r->target_label = s; break;
		case DISC_RULE_KEY_REPLACEMENT: r->replacement = s; break;
		default:
			rc = disc_rule_action_parse(s, &r->action);
			if (rc == -EOPNOTSUPP)
				rc = fail(ld, v, "action %s is Prometheus' but smolder does not "
						 "run it", s);
			else if (rc)
				rc = fail(ld, v, "unknown action \"%s\" (replace, keep, drop, "
						 "labelmap, labeldrop, labelkeep)", s);
			free(s);
			if (rc)
				return rc;
			break;
		}
	}
	rc = disc_rule_finish(r, &bad, why, sizeof(why));
	if (rc == -EINVAL)
		return fail(ld, at[bad] ? at[bad] : n, "%s", why);
	return rc;
}

static int read_rules(struct loader *ld, const yaml_node_t *n, struct disc_rule **rules,
		      size_t *count)
{
	size_t max;
	int rc = 0;

	if (is_null(n))
		return 0;
	if (n->type != YAML_SEQUENCE_NODE)
		return fail(ld, n, RULES_KEY " must be a list of rules");
	max = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
	*rules = calloc(max ? max : 1, sizeof(**rules));
	if (!*rules)
		return -ENOMEM;
	for (yaml_node_item_t *it = n->data.sequence.items.start;
	     it < n->data.sequence.items.top && !rc; it++) {
		ld->rule = *count + 1;
		/* Counted before it is read, so that a failure releases what
		 * it holds so far. */
		(*count)++;
		rc = read_rule(ld, yaml_document_get_node(ld->doc, *it), &(*rules)[*count - 1]);
	}
	ld->rule = 0;
	return rc;
}

static int read_root(struct loader *ld, const yaml_node_t *root, struct disc_rule **rules,
		     size_t *count)
{
	const yaml_node_t *seen = NULL;

	if (is_null(root))
		return 0;
	if (root->type != YAML_MAPPING_NODE)
		return fail(ld, root, "the file must be a mapping holding " RULES_KEY);
	for (yaml_node_pair_t *p = root->data.mapping.pairs.start;
	     p < root->data.mapping.pairs.top; p++) {
		const yaml_node_t *k = yaml_document_get_node(ld->doc, p->key);

		if (k->type != YAML_SCALAR_NODE || strcmp(scalar(k), RULES_KEY) != 0)
			return fail(ld, k, "unknown key \"%s\" (the file holds " RULES_KEY ")",
				    k->type == YAML_SCALAR_NODE ? scalar(k) : "?");
		if (seen)
			return fail(ld, k, RULES_KEY " given twice");
		seen = k;
	}
	if (!seen)
		return 0;
	return read_rules(ld, yaml_document_get_node(ld->doc, root->data.mapping.pairs.start->value),
			  rules, count);
}

/* libyaml's own error, with its line. */
static int yaml_fail(struct loader *ld, const yaml_parser_t *p)
{
	if (p->error == YAML_MEMORY_ERROR)
		return -ENOMEM;
	if (ld->err && ld->err_len)
		snprintf(ld->err, ld->err_len, "%s:%zu: YAML: %s%s%s", ld->name,
			 p->problem_mark.line + 1, p->problem ? p->problem : "bad YAML",
			 p->context ? " " : "", p->context ? p->context : "");
	return -EINVAL;
}

int disc_target_config_parse(const char *name, const char *text, size_t len,
			     struct disc_rule **rules, size_t *n, char *err, size_t err_len)
{
	struct loader ld = { .name = name, .err = err, .err_len = err_len };
	yaml_parser_t parser;
	yaml_document_t doc, next;
	yaml_node_t *root;
	int rc;

	*rules = NULL;
	*n = 0;
	if (!yaml_parser_initialize(&parser))
		return -ENOMEM;
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, &doc)) {
		rc = yaml_fail(&ld, &parser);
		yaml_parser_delete(&parser);
		return rc;
	}
	ld.doc = &doc;
	root = yaml_document_get_root_node(&doc);
	rc = root ? read_root(&ld, root, rules, n) : 0;
	/* A second document would be ignored by a reader that takes the
	 * first: say so instead. */
	if (!rc && root) {
		if (!yaml_parser_load(&parser, &next)) {
			rc = yaml_fail(&ld, &parser);
		} else {
			if (yaml_document_get_root_node(&next))
				rc = fail(&ld, yaml_document_get_root_node(&next),
					  "a second YAML document: the rules go in one");
			yaml_document_delete(&next);
		}
	}
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	if (rc) {
		for (size_t i = 0; i < *n; i++)
			disc_rule_release(&(*rules)[i]);
		free(*rules);
		*rules = NULL;
		*n = 0;
	}
	return rc;
}

int disc_target_config_read(const char *path, char **text, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t n = 0, cap = 4096;
	char *buf;
	ssize_t got = 0;

	if (fd < 0)
		return -errno;
	buf = malloc(cap);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	/* Read to the end rather than trust st_size: /dev/stdin and pipes
	 * have none. */
	for (;;) {
		if (n > DISC_TARGET_CONFIG_MAX) {
			free(buf);
			close(fd);
			return -EFBIG;
		}
		if (n + 1 == cap) {
			char *b = realloc(buf, cap * 2);

			if (!b) {
				free(buf);
				close(fd);
				return -ENOMEM;
			}
			buf = b;
			cap *= 2;
		}
		got = read(fd, buf + n, cap - 1 - n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			break;
		n += (size_t)got;
	}
	if (got < 0) {
		int e = -errno;

		free(buf);
		close(fd);
		return e;
	}
	close(fd);
	buf[n] = '\0';
	*text = buf;
	*len = n;
	return 0;
}
