/* An interval's profiles handed to the uploader: each one's labels made
 * into series labels, its pprof encoded and gzipped, and queued. The
 * counterpart of output.h, for when there is a server. It sits above the
 * uploader (uploader.h), which knows nothing of profile sets.
 */
#ifndef SMOLDER_UPLOAD_SET_H
#define SMOLDER_UPLOAD_SET_H

#include <stddef.h>

#include "profile_set.h"
#include "upload_warned.h"
#include "uploader.h"

struct upload_set_result {
	size_t queued;
	size_t failed;          /* could not be built (memory), or no service_name */
	int first_error;
	size_t labels_dropped;
};

void upload_set_submit(struct uploader *u, const struct profile_set *set,
		       struct upload_warned *warned, struct upload_set_result *res);

#endif
