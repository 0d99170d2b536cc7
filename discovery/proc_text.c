/* discovery: reading numbers out of /proc text without trusting it.
 *
 * Both parsers (maps, stat) read numbers that are bounded by the line they
 * sit in, never by a terminating NUL, and that must fit the field they go
 * to: strtoull would run past the line and saturate silently instead.
 */
#include <errno.h>

#include "proc.h"

static int digit_value(char c, unsigned int base)
{
	unsigned int d;

	if (c >= '0' && c <= '9')
		d = (unsigned int)(c - '0');
	else if (c >= 'a' && c <= 'f')
		d = (unsigned int)(c - 'a') + 10;
	else if (c >= 'A' && c <= 'F')
		d = (unsigned int)(c - 'A') + 10;
	else
		return -1;
	return d < base ? (int)d : -1;
}

int disc_text_number(const char **pos, const char *end, unsigned int base,
		     uint64_t max, uint64_t *out)
{
	const char *p = *pos;
	uint64_t v = 0;
	int d;

	if (p >= end || digit_value(*p, base) < 0)
		return -EINVAL;
	while (p < end && (d = digit_value(*p, base)) >= 0) {
		if (v > (max - (uint64_t)d) / base)
			return -EINVAL;
		v = v * base + (uint64_t)d;
		p++;
	}
	*pos = p;
	*out = v;
	return 0;
}

int disc_text_char(const char **pos, const char *end, char c)
{
	if (*pos >= end || **pos != c)
		return -EINVAL;
	(*pos)++;
	return 0;
}
