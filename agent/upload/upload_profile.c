/* Upload profiles (see upload_profile.h). */
#include "upload_profile.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

void upload_uuid_v4(char *out)
{
	uint8_t b[16];
	size_t got = 0;

	/* Blocks only before the kernel's pool is first seeded, at boot. */
	while (got < sizeof(b)) {
		ssize_t n = getrandom(b + got, sizeof(b) - got, 0);
		if (n > 0)
			got += (size_t)n;
		else if (errno != EINTR)
			break;
	}
	/* No getrandom (a seccomp filter): the IDs need only be unique, so
	 * the clock, the pid and a counter do. */
	if (got < sizeof(b)) {
		static _Atomic uint64_t counter;
		struct timespec ts;
		uint64_t t, c = counter++;

		clock_gettime(CLOCK_REALTIME, &ts);
		t = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
		memcpy(b, &t, 8);
		c = (c << 32) ^ (uint64_t)getpid();
		memcpy(b + 8, &c, 8);
	}
	b[6] = (uint8_t)((b[6] & 0x0f) | 0x40); /* version 4 */
	b[8] = (uint8_t)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
	snprintf(out, UPLOAD_ID_LEN + 1,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11],
		 b[12], b[13], b[14], b[15]);
}

struct upload_profile *upload_profile_new(int64_t start_ns, int64_t end_ns,
					  uint32_t sample_rate, struct series_labels *labels,
					  uint8_t *pprof_gz, size_t pprof_len)
{
	struct upload_profile *p = calloc(1, sizeof(*p));

	if (!p) {
		series_labels_release(labels);
		free(pprof_gz);
		return NULL;
	}
	upload_uuid_v4(p->id);
	p->start_ns = start_ns;
	p->end_ns = end_ns;
	p->sample_rate = sample_rate;
	p->labels = *labels;
	labels->n = 0;
	p->pprof_gz = pprof_gz;
	p->pprof_len = pprof_len;
	return p;
}

void upload_profile_free(struct upload_profile *p)
{
	if (!p)
		return;
	series_labels_release(&p->labels);
	free(p->pprof_gz);
	free(p);
}

size_t upload_profile_bytes(const struct upload_profile *p)
{
	size_t n = sizeof(*p) + p->pprof_len;

	for (size_t i = 0; i < p->labels.n; i++)
		n += strlen(p->labels.v[i].name) + strlen(p->labels.v[i].value) + 2;
	return n;
}
