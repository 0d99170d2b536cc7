/* tests/discovery: libFuzzer target for the NSpid parser of
 * /proc/PID/status, a file whose Name line a process names freely. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "disc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char digits[16];
	int nspid = 0;

	if (disc_status_parse_nspid((const char *)data, size, &nspid))
		return 0;
	/* The pid is one the text holds, as written (no leading zeros
	 * needed: any zeros before it are there too). */
	snprintf(digits, sizeof(digits), "%d", nspid);
	if (nspid <= 0 || !memmem(data, size, digits, strlen(digits)))
		abort();
	return 0;
}
