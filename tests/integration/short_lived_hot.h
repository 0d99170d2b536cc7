/* The shared library of test_short_lived_lib.py: libsmolder_it_shorthot.so,
 * linked (DT_NEEDED) into short_lived_lib, so the hot function a profile
 * must name lives in a library the process mapped, not in its executable.
 */
#ifndef SMOLDER_TEST_SHORT_LIVED_HOT_H
#define SMOLDER_TEST_SHORT_LIVED_HOT_H

#include <stdint.h>

/* The leaf where the CPU goes: n rounds of a multiply-add chain. */
uint64_t shorthot_spin(uint64_t n);

/* Spins in shorthot_spin until the calling thread has used cpu_ns of CPU
 * time by its own clock; returns the CPU time it used. */
uint64_t shorthot_burn(uint64_t cpu_ns);

#endif
