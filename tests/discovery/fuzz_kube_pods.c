/* Fuzz target: the API server's answers (a PodList, or watch events one a
 * line) into the pod store, then a lookup of every container id the input
 * mentions, and the Status reader on each line: bytes from the network
 * must never crash the agent. The first byte picks list or events. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "disc.h"
#include "kube_pods.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct disc_kube_pods *s = disc_kube_pods_new();
	const char *text = (const char *)data + 1;
	size_t len = size ? size - 1 : 0;
	char rv[64];

	if (!s || !size) {
		disc_kube_pods_free(s);
		return 0;
	}
	if (data[0] & 1) {
		disc_kube_pods_load_list(s, text, len, rv, sizeof(rv));
	} else {
		size_t start = 0;
		for (size_t i = 0; i <= len; i++) {
			if (i < len && text[i] != '\n')
				continue;
			enum disc_kube_event k;
			char msg[128];
			disc_kube_pods_apply_event(s, text + start, i - start, &k, rv, sizeof(rv));
			disc_kube_status_message(text + start, i - start, msg, sizeof(msg));
			start = i + 1;
		}
	}
	/* Look up what could be ids: the 64 bytes after each "://". */
	for (size_t i = 0; i + 3 < len; i++) {
		if (memcmp(text + i, "://", 3) != 0)
			continue;
		char id[65] = "";
		size_t n = len - i - 3 < 64 ? len - i - 3 : 64;
		memcpy(id, text + i + 3, n);
		id[n] = '\0';
		struct disc_labels l;
		bool out;
		if (disc_kube_pods_lookup(s, id, &l, &out) == 0)
			disc_labels_release(&l);
	}
	disc_kube_pods_free(s);
	return 0;
}
