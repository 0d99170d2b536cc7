/* The module test_attack_files.py turns into a decompression bomb: built
 * with -g, so it has the .debug_info the test replaces. */
#include <stdint.h>

#include "workload.h"

volatile uint64_t mod_sink;

NOINLINE uint64_t attack_mod_spin(uint64_t n)
{
	KEEP_FRAME();
	return store_sink(&mod_sink, xorshift_rounds(mod_sink | 1, n));
}

/* What it spins in once its file is cut short (test_attack_files.py's
 * truncate): addresses the agent has not named yet, whose DWARF is now
 * past the file's end. */
NOINLINE uint64_t attack_mod_spin_late(uint64_t n)
{
	KEEP_FRAME();
	return store_sink(&mod_sink, xorshift_rounds(mod_sink | 3, n) + 1);
}
