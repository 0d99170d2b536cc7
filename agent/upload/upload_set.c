/* From profile set to upload queue (see upload_set.h). */
#include "upload_set.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "series_labels.h"

static int submit_entry(struct uploader *u, const struct profile_set *set, size_t i,
			struct upload_warned *warned, size_t *labels_dropped)
{
	struct series_labels labels;
	struct series_report report;
	struct upload_profile *p;
	struct profile_entry e;
	uint8_t *data = NULL;
	size_t len = 0;
	int rc;

	profile_set_entry(set, i, &e);
	rc = series_labels_build(e.labels, series_profile_name(e.type), &labels, &report);
	if (rc)
		return rc;
	*labels_dropped += report.n_dropped;
	upload_warned_log(warned, e.service_name, &report);
	rc = pprof_builder_encode(e.builder, &data, &len);
	if (rc) {
		series_labels_release(&labels);
		return rc;
	}
	p = upload_profile_new(profile_set_start_ns(set), profile_set_end_ns(set),
			       profile_set_sample_rate(set), &labels, data, len);
	if (!p)
		return -ENOMEM;
	uploader_submit(u, p);
	return 0;
}

void upload_set_submit(struct uploader *u, const struct profile_set *set,
		       struct upload_warned *warned, struct upload_set_result *res)
{
	memset(res, 0, sizeof(*res));
	for (size_t i = 0; i < profile_set_count(set); i++) {
		int rc = submit_entry(u, set, i, warned, &res->labels_dropped);

		if (!rc) {
			res->queued++;
		} else if (!res->failed++) {
			res->first_error = rc;
		}
	}
}
