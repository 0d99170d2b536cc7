/* An interval's profiles handed to the uploader: each one's labels made
 * into series labels, its pprof encoded and gzipped, and queued. The
 * counterpart of output.h, for when there is a server.
 */
#ifndef SMOLDER_UPLOAD_SET_H
#define SMOLDER_UPLOAD_SET_H

#include <stdbool.h>
#include <stddef.h>

#include "profile_set.h"
#include "uploader.h"

/* Label names already warned about, so that a label dropped from every
 * profile is told once, not every interval. */
#define UPLOAD_WARNED_MAX 64
struct upload_warned {
	char *names[UPLOAD_WARNED_MAX];
	size_t n;
};
void upload_warned_release(struct upload_warned *w);
/* true the first time a name is seen (up to UPLOAD_WARNED_MAX names;
 * after that, nothing more is told). */
bool upload_warned_first(struct upload_warned *w, const char *name);

struct upload_set_result {
	size_t queued;
	size_t failed;          /* could not be built (memory), or no service_name */
	int first_error;
	size_t labels_dropped;
};

void upload_set_submit(struct uploader *u, const struct profile_set *set,
		       struct upload_warned *warned, struct upload_set_result *res);

#endif
