/* The labels a profile series is sent with: a profile's label set (from
 * discovery: service_name, the tags, what the target rules set) made into
 * what Pyroscope takes, with __name__ added.
 *
 * Names are sanitized as Prometheus does (each byte outside [A-Za-z0-9_]
 * becomes '_', a leading digit gets a '_' before it), so a label such as
 * app.kubernetes.io/name arrives as app_kubernetes_io_name. What cannot be
 * sent is dropped and reported, never sent to be refused: values that are
 * empty, not UTF-8 or too long, reserved names (a leading "__"), a second
 * label that sanitizes to a name already taken, and labels past
 * Pyroscope's limit of SERIES_LABELS_MAX names a series.
 */
#ifndef SMOLDER_SERIES_LABELS_H
#define SMOLDER_SERIES_LABELS_H

#include <stddef.h>

#include "config.h"
#include "disc.h"

/* Pyroscope's max_label_names_per_series default. */
#define SERIES_LABELS_MAX 30

struct series_label {
	char *name;
	char *value;
};

/* Sorted by name, bytewise; names unique. */
struct series_labels {
	struct series_label v[SERIES_LABELS_MAX];
	size_t n;
};

struct series_dropped {
	const char *name;   /* as the set had it (points into the input) */
	const char *reason;
};

/* Up to this many drops are reported; more are only counted. */
#define SERIES_DROPPED_REPORTED 8

struct series_report {
	struct series_dropped dropped[SERIES_DROPPED_REPORTED];
	size_t n_dropped; /* may exceed SERIES_DROPPED_REPORTED */
};

/* The __name__ of a profile type's series, as Pyroscope names them:
 * process_cpu, offcpu (as Grafana Alloy's pyroscope.ebpf sends off-CPU
 * profiles), mutex. */
const char *series_profile_name(enum profile_type t);

/* Builds the series labels of in, with __name__ = name, into *out
 * (overwritten; release it with series_labels_release). service_name
 * always survives: -EINVAL if in has none that can be sent, -ENOMEM. */
int series_labels_build(const struct disc_labels *in, const char *name,
			struct series_labels *out, struct series_report *report);
void series_labels_release(struct series_labels *l);
int series_labels_copy(struct series_labels *dst, const struct series_labels *src);

const char *series_labels_get(const struct series_labels *l, const char *name);

/* Makes name a Prometheus label name in out (len bytes, NUL included).
 * Returns the length, or -ENAMETOOLONG. */
int series_label_name_sanitize(const char *name, char *out, size_t len);

/* 1 if the value can be said in the legacy /ingest name syntax
 * (app{k=v,...}): no ',', '}' or '='. */
int series_label_value_legacy_ok(const char *value);

#endif
