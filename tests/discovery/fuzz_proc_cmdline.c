/* tests/discovery: libFuzzer target for /proc/PID/cmdline, whose bytes a
 * process writes as it likes. Beyond not crashing, the line must be the
 * text byte for byte (a NUL a space, a control byte '?') up to the cut, and
 * the cut must be where disc.h says: none up to DISC_CMDLINE_MAX bytes,
 * else before a UTF-8 character, with "..." after, in DISC_CMDLINE_MAX. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "disc.h"

static bool continuation(uint8_t c)
{
	return (c & 0xc0) == 0x80;
}

/* Whether data[from..to] are all continuation bytes. */
static bool continuations(const uint8_t *data, size_t from, size_t to)
{
	for (size_t i = from; i <= to; i++)
		if (!continuation(data[i]))
			return false;
	return true;
}

static char shown(uint8_t c)
{
	if (c == '\0')
		return ' ';
	return c < 0x20 || c == 0x7f ? '?' : (char)c;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t len = size, keep, n;
	char *out;

	if (disc_cmdline_parse((const char *)data, size, &out)) {
		if (out)
			abort();
		return 0;
	}
	while (len > 0 && data[len - 1] == '\0')
		len--;
	if (len == 0) {
		if (out)
			abort();
		return 0;
	}
	if (!out)
		abort();
	n = strlen(out);
	if (len <= DISC_CMDLINE_MAX) {
		keep = len;
		if (n != len)
			abort();
	} else {
		const size_t most = DISC_CMDLINE_MAX - 3;

		/* A character is at most 4 bytes: the cut backs off at most 3,
		 * over continuation bytes to the character's first byte. If
		 * the 4 bytes there are all continuation, the text is not
		 * UTF-8 and is cut at the most. */
		keep = n - 3;
		if (n > DISC_CMDLINE_MAX || keep + 3 < most || strcmp(out + keep, "..."))
			abort();
		if (keep < most && (continuation(data[keep]) ||
				    !continuations(data, keep + 1, most)))
			abort();
		if (keep == most && continuation(data[most]) &&
		    !continuations(data, most - 3, most))
			abort();
	}
	for (size_t i = 0; i < keep; i++)
		if (out[i] != shown(data[i]))
			abort();
	free(out);
	return 0;
}
