/* Labels warned about once (see upload_warned.h). */
#include "upload_warned.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"

void upload_warned_release(struct upload_warned *w)
{
	for (size_t i = 0; i < w->n; i++)
		free(w->names[i]);
	w->n = 0;
}

bool upload_warned_first(struct upload_warned *w, const char *name)
{
	for (size_t i = 0; i < w->n; i++)
		if (strcmp(w->names[i], name) == 0)
			return false;
	if (w->n == UPLOAD_WARNED_MAX)
		return false;
	w->names[w->n] = strdup(name);
	if (w->names[w->n])
		w->n++;
	return true;
}

void upload_warned_log(struct upload_warned *w, const char *service,
		       const struct series_report *r)
{
	for (size_t i = 0; i < r->n_dropped && i < SERIES_DROPPED_REPORTED; i++)
		if (upload_warned_first(w, r->dropped[i].name))
			log_warn("upload: label %s (service %s) is left out of every profile: %s",
				 r->dropped[i].name, service, r->dropped[i].reason);
}
