/* How the C heap takes and gives memory back, at start-up and after.
 *
 * Loading the BPF objects parses the kernel's 5 MB BTF three times (the
 * feature probes, then libbpf for each object), each time into buffers
 * malloc takes fresh from the kernel and frees again. Every fresh page is a
 * page fault, and on a virtual machine a page fault is tens of
 * microseconds: most of the CPU those parses cost. While the objects load,
 * the heap grows in one step, in huge pages, and freed memory stays in it
 * for the next parse to reuse; once they are loaded it is given back, and
 * from then on the heap keeps no more than a few MiB of free memory
 * (glibc's own dynamic thresholds would let it keep up to 64 MiB) and takes
 * small pages.
 */
#ifndef SMOLDER_HEAP_TUNING_H
#define SMOLDER_HEAP_TUNING_H

/* Freed memory stays in the heap, for start-up's repeated large buffers. */
void heap_tune_for_start(void);

/* Gives back what start-up freed; the heap then keeps little. */
void heap_tune_for_run(void);

#endif
