/* libFuzzer target for the ELF reader: any bytes a process could map go
 * through sym_elf_open and every lookup, which must fail cleanly, never
 * crash, leak or read out of bounds. Built with -Dfuzz=true (CC=clang);
 * seeds in corpus/elf/: a few functions built with gcc -nostdlib (static
 * 64- and 32-bit, a shared library and its stripped copy) and the first
 * 4 KiB of fixture_pie. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "sym.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int fd = -1;
	struct sym_elf *elf;
	char path[64];
	const char *name;
	uint64_t vaddr;

	if (fd < 0)
		fd = memfd_create("fuzz_elf", MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, 0) ||
	    (size && pwrite(fd, data, size, 0) != (ssize_t)size))
		return 0;
	/* A path of its own, as sym_elf_open takes; it opens the memfd anew. */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	if (sym_elf_open(path, &elf))
		return 0;
	(void)sym_elf_build_id(elf);
	/* Offsets across the file and the addresses they map to, plus a few
	 * taken from the input, which reach the edges of the table. */
	for (uint64_t off = 0; off < size + 64; off += 61)
		if (!sym_elf_offset_to_vaddr(elf, off, &vaddr))
			(void)sym_elf_lookup(elf, vaddr, &name);
	for (size_t i = 0; i + 8 <= size && i < 512; i += 8) {
		uint64_t a = 0;

		for (int b = 0; b < 8; b++)
			a |= (uint64_t)data[i + b] << (8 * b);
		(void)sym_elf_lookup(elf, a, &name);
	}
	(void)sym_elf_lookup(elf, 0, &name);
	(void)sym_elf_lookup(elf, UINT64_MAX, &name);
	sym_elf_free(elf);
	return 0;
}
