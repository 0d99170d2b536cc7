/* The hostile process of test_attack_files.py: whatever file it runs from
 * (a copy the test has made hostile) is what the agent must read safely.
 *
 *   smolder_it_attack_spin [MODULE]
 *
 * Prints {"event":"ready","pids":[P]} and spins in attack_spin until it is
 * killed. With MODULE, dlopen()s it first and spins in the module's
 * attack_mod_spin instead, so the module's file is the one sampled.
 */
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>

#include "workload.h"

volatile uint64_t sink;

NOINLINE uint64_t attack_spin(uint64_t n)
{
	KEEP_FRAME();
	return store_sink(&sink, xorshift_rounds(sink | 1, n));
}

int main(int argc, char **argv)
{
	uint64_t (*spin)(uint64_t) = attack_spin;

	if (argc > 1) {
		void *mod = dlopen(argv[1], RTLD_NOW);

		spin = mod ? (uint64_t (*)(uint64_t))dlsym(mod, "attack_mod_spin") : NULL;
		if (!spin) {
			fprintf(stderr, "%s: %s\n", argv[1], dlerror());
			return 1;
		}
	}
	printf("{\"event\":\"ready\",\"pids\":[%d]}\n", (int)getpid());
	fflush(stdout);
	for (;;)
		spin(1 << 20);
}
