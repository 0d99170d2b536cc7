/* Label names already warned about, so that a label dropped from every
 * profile is told once, not every interval. Used on both sides of the
 * hand-over: by upload_set.c for the labels series_labels_build drops, and
 * by the upload thread (uploader.c) for those the legacy /ingest API
 * cannot carry. Its own module so that the uploader need not include
 * upload_set.h, which sits above it.
 */
#ifndef SMOLDER_UPLOAD_WARNED_H
#define SMOLDER_UPLOAD_WARNED_H

#include <stdbool.h>
#include <stddef.h>

#include "series_labels.h"

#define UPLOAD_WARNED_MAX 64
struct upload_warned {
	char *names[UPLOAD_WARNED_MAX];
	size_t n;
};
void upload_warned_release(struct upload_warned *w);
/* true the first time a name is seen (up to UPLOAD_WARNED_MAX names;
 * after that, nothing more is told). */
bool upload_warned_first(struct upload_warned *w, const char *name);

/* Logs a warning for each label in r that w has not told yet. */
void upload_warned_log(struct upload_warned *w, const char *service,
		       const struct series_report *r);

#endif
