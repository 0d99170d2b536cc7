/* tests/discovery: libFuzzer target for the target rules loader (YAML the
 * user writes, regexes inside it) and, for the rules it accepts, the engine
 * applied to one process: the labels must come out as Pyroscope takes them. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "disc.h"

static void check_labels(const struct disc_labels *l)
{
	if (l->n > DISC_LABELS_MAX || !disc_labels_get(l, "service_name"))
		abort();
	for (size_t i = 0; i < l->n; i++) {
		if (!disc_label_name_valid(l->v[i].name) || strncmp(l->v[i].name, "__", 2) == 0)
			abort();
		if (!l->v[i].value[0] || strlen(l->v[i].value) > DISC_LABEL_VALUE_MAX)
			abort();
		if (i && strcmp(l->v[i - 1].name, l->v[i].name) >= 0)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const tags[] = { "host=fuzz" };
	static const struct disc_target_input in = {
		.exe = "/usr/bin/python3.11",
		.comm = "python3",
		.cgroup = "/kubepods/pod1/0123456789abcdef",
		.container_id = "0123456789abcdef0123456789abcdef",
		.default_service_name = "python3.11",
	};
	char err[256];
	struct disc_targets_opts o = {
		.sz = sizeof(o), .config_yaml = (const char *)data, .config_yaml_len = size,
		.tags = tags, .n_tags = 1, .err = err, .err_len = sizeof(err),
	};
	struct disc_targets *t = disc_targets_new(&o);
	struct disc_labels l;
	int rc;

	if (!t) {
		/* Refused: with a message naming the file. */
		if (strncmp(err, "config:", 7) != 0)
			abort();
		return 0;
	}
	rc = disc_targets_apply(t, &in, &l);
	if (rc == 1)
		check_labels(&l);
	else if (l.n != 0)
		abort();
	disc_labels_release(&l);
	disc_targets_free(t);
	return 0;
}
