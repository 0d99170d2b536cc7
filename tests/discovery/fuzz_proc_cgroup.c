/* tests/discovery: libFuzzer target for /proc/PID/cgroup, whose paths the
 * owner of a delegated cgroup subtree names freely, and for the container
 * matcher, run both on the path the parser picks and on the input itself.
 * Beyond not crashing, a container found must be one the path spells out. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "disc.h"

static bool all_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

static void check_container(const char *path)
{
	struct disc_container c;
	size_t uid_len;

	if (disc_container_from_cgroup(path, &c)) {
		if (path[0] == '/')
			abort();
		return;
	}
	uid_len = strnlen(c.pod_uid, sizeof(c.pod_uid));
	if (uid_len == sizeof(c.pod_uid))
		abort();
	if (c.runtime == DISC_CONTAINER_NONE) {
		if (c.id[0] || c.pod_uid[0] || disc_container_runtime_name(c.runtime))
			abort();
		return;
	}
	if (!disc_container_runtime_name(c.runtime) ||
	    strnlen(c.id, sizeof(c.id)) != DISC_CONTAINER_ID_LEN ||
	    !all_hex(c.id, DISC_CONTAINER_ID_LEN) || !strstr(path, c.id) ||
	    (uid_len != 0 && uid_len != 32 && uid_len != DISC_POD_UID_LEN))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct disc_cgroup cg;
	char *copy;

	if (disc_cgroup_parse((const char *)data, size, &cg) == 0) {
		if (!cg.path || cg.path[0] != '/' || strchr(cg.path, '\n') ||
		    strlen(cg.path) >= size || cg.hierarchy < 0)
			abort();
		check_container(cg.path);
		disc_cgroup_release(&cg);
	} else if (cg.path) {
		abort();
	}
	/* The input as one path, to reach the matcher without the parser's
	 * checks in the way. */
	copy = malloc(size + 1);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	copy[size] = '\0';
	check_container(copy);
	free(copy);
	return 0;
}
