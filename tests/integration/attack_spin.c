/* The hostile process of test_attack_files.py: whatever file it runs from
 * (a copy the test has made hostile) is what the agent must read safely.
 *
 *   smolder_it_attack_spin [MODULE [SECONDS LENGTH]]
 *
 * Prints {"event":"ready","pids":[P]} and spins in attack_spin until it is
 * killed. With MODULE, dlopen()s it first and spins in the module's
 * attack_mod_spin instead, so the module's file is the one sampled. With
 * SECONDS and LENGTH, after SECONDS it cuts MODULE's file to LENGTH bytes
 * (its loaded segments stay, its DWARF goes) and spins in
 * attack_mod_spin_late, which the agent has not named yet.
 */
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "workload.h"

volatile uint64_t sink;

NOINLINE uint64_t attack_spin(uint64_t n)
{
	KEEP_FRAME();
	return store_sink(&sink, xorshift_rounds(sink | 1, n));
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	uint64_t (*spin)(uint64_t) = attack_spin, (*late)(uint64_t) = NULL;
	double cut_at = argc > 3 ? now_s() + atof(argv[2]) : 0;
	void *mod = NULL;

	if (argc > 1) {
		mod = dlopen(argv[1], RTLD_NOW);
		spin = mod ? (uint64_t (*)(uint64_t))dlsym(mod, "attack_mod_spin") : NULL;
		late = mod ? (uint64_t (*)(uint64_t))dlsym(mod, "attack_mod_spin_late") : NULL;
		if (!spin || !late) {
			fprintf(stderr, "%s: %s\n", argv[1], dlerror());
			return 1;
		}
	}
	printf("{\"event\":\"ready\",\"pids\":[%d]}\n", (int)getpid());
	fflush(stdout);
	for (;;) {
		spin(1 << 20);
		if (cut_at && now_s() >= cut_at) {
			if (truncate(argv[1], atol(argv[3]))) {
				perror("truncate");
				return 1;
			}
			fprintf(stderr, "attack_spin: %s cut to %s bytes\n", argv[1], argv[3]);
			cut_at = 0;
			spin = late;
		}
	}
}
