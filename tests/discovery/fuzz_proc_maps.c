/* tests/discovery: libFuzzer target for the /proc/PID/maps parser, which
 * reads text that processes control. Beyond not crashing, what it accepts
 * must hold the invariants lookups rely on. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "disc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct disc_mappings m;

	if (disc_maps_parse((const char *)data, size, &m))
		return 0;
	for (size_t i = 0; i < m.n; i++) {
		const struct disc_mapping *v = &m.v[i];

		if (v->start >= v->end || strlen(v->perms) != 4 ||
		    (i > 0 && m.v[i - 1].start > v->start) ||
		    (v->path && (!v->path[0] || strlen(v->path) > size)) ||
		    !disc_mappings_find(&m, v->start))
			abort();
	}
	disc_mappings_release(&m);
	return 0;
}
