/* tests/discovery: libFuzzer target for the /proc/PID/stat parser, whose
 * comm field a process names freely. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "disc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct disc_stat st;

	if (disc_stat_parse((const char *)data, size, &st))
		return 0;
	if (st.pid <= 0 || st.ppid < 0 || memchr(st.comm, '\0', sizeof(st.comm)) == NULL)
		abort();
	return 0;
}
