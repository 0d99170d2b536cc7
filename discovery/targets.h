/* discovery internals: what the target rules engine (targets.c), the rules
 * file loader (target_config.c) and the label sets (labels.c) share.
 *
 * The loader reads a rule's keys into a struct disc_rule as the file spells
 * them, then hands it to disc_rule_finish, which applies Prometheus'
 * defaults, compiles the regex and checks what the action requires; the
 * loader alone knows lines, so finish says which key was wrong and the
 * loader names its line.
 */
#ifndef SMOLDER_DISC_TARGETS_H
#define SMOLDER_DISC_TARGETS_H

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>

#include "disc.h"

/* A rules file larger than this is refused (-EFBIG): real ones are a few
 * kilobytes, and a mistaken path (a log, a binary) should fail fast. */
#define DISC_TARGET_CONFIG_MAX (1u << 20)

enum disc_rule_action {
	DISC_RULE_REPLACE,
	DISC_RULE_KEEP,
	DISC_RULE_DROP,
	DISC_RULE_LABELMAP,
	DISC_RULE_LABELDROP,
	DISC_RULE_LABELKEEP,
};

/* The keys of a rule, for saying which one is wrong. */
enum disc_rule_key {
	DISC_RULE_KEY_NONE, /* the rule as a whole (a key is missing) */
	DISC_RULE_KEY_SOURCE_LABELS,
	DISC_RULE_KEY_SEPARATOR,
	DISC_RULE_KEY_REGEX,
	DISC_RULE_KEY_ACTION,
	DISC_RULE_KEY_TARGET_LABEL,
	DISC_RULE_KEY_REPLACEMENT,
	DISC_RULE_KEY_COUNT,
};

struct disc_rule {
	enum disc_rule_action action;
	char **source_labels;
	size_t n_source_labels;
	bool has_source_labels; /* given, even as an empty list */
	/* NULL when the file does not give them: the defaults are ";", "(.*)"
	 * and "$1", and Prometheus tells "not given" from "given as the
	 * default" only for target_label, which has no default. */
	char *separator;
	char *regex;
	char *target_label;
	char *replacement;
	/* Set by disc_rule_finish. */
	regex_t re;     /* "^(" regex ")$": its groups are the file's plus one */
	bool compiled;
};

/* Parses an action name, in any case as Prometheus does: -EINVAL if it is
 * no action at all, -EOPNOTSUPP if it is one of Prometheus' that smolder
 * does not run (hashmod, lowercase, ...). */
int disc_rule_action_parse(const char *name, enum disc_rule_action *out);

/* Compiles the rule's regex and checks its keys against its action. On
 * failure returns -EINVAL (-ENOMEM if out of memory), says which key in
 * *bad and why in why[]. */
int disc_rule_finish(struct disc_rule *r, enum disc_rule_key *bad, char *why,
		     size_t why_len);
void disc_rule_release(struct disc_rule *r);

/* Reads the rules from YAML text; name is what messages call the file.
 * On failure the message, "NAME:LINE: rule N: ...", is in err[]. */
int disc_target_config_parse(const char *name, const char *text, size_t len,
			     struct disc_rule **rules, size_t *n, char *err,
			     size_t err_len);
/* Reads a rules file whole (malloc'd and NUL-terminated). */
int disc_target_config_read(const char *path, char **text, size_t *len);

/* value made into one Pyroscope takes: each run of bytes that is not UTF-8
 * becomes U+FFFD, and it is cut, on a character boundary, to
 * DISC_LABEL_VALUE_MAX bytes. malloc'd; NULL if out of memory. */
char *disc_label_value_clean(const char *value);
/* Removes, in one pass, the labels for which drop(label, arg) is true. */
void disc_labels_remove_if(struct disc_labels *l,
			   bool (*drop)(const struct disc_label *, void *),
			   void *arg);

#endif
