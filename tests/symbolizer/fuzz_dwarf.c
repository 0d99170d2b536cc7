/* libFuzzer target for the DWARF path: any bytes a process could map go
 * through the cache's real entry point (sym_cache_get_elf on a path, as for
 * a file on the host) and sym_elf_resolve at addresses spread over the
 * file, which must answer or fail cleanly, never crash, leak or read out of
 * bounds; every string of an answer is read, so that a dangling one shows.
 * Built with -Dfuzz=true (CC=clang). Seeds in corpus/dwarf/, from a 40-line
 * C file (an always_inline leaf() inlined twice into mid(), itself inlined
 * into outer(), and once into other(); -nostdlib, a _start of its own):
 *   gcc -g -O2 -nostdlib -fno-asynchronous-unwind-tables
 *       -fdebug-prefix-map=$PWD=/nonexistent -Wl,-z,noseparate-code
 *       -Wl,--build-id ...
 * as dwarf5-pie, dwarf4-nopie (-gdwarf-4 -no-pie), dwarf4-m32, dwarf5-O3,
 * dwarf5-zlib (-gz=zlib), dwarf5-split (-gsplit-dwarf, its .dwo left
 * behind: a skeleton unit whose split unit is missing), dwarf5-pie.debug
 * (objcopy --only-keep-debug: .text is NOBITS); and damaged copies of
 * dwarf5-pie: its first 4 KiB (no DWARF, no section headers), cut inside
 * .debug_line, the first unit's length past the end of .debug_info, and
 * the line table's length past its section with its program scrambled. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "sym.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t sink;

static void read_answer(const struct sym_location *loc)
{
	for (size_t i = 0; i < loc->n; i++) {
		const struct sym_frame *f = &loc->frames[i];

		sink += f->name ? strlen(f->name) : 0;
		sink += f->system_name ? strlen(f->system_name) : 0;
		sink += f->file ? strlen(f->file) : 0;
		sink += (size_t)(f->line + f->start_line);
	}
}

static void resolve(struct sym_cache *c, struct sym_elf *elf, uint64_t vaddr)
{
	struct sym_location loc;

	if (!sym_elf_resolve(c, elf, vaddr, &loc))
		read_answer(&loc);
}

/* Addresses that file offsets map to (at most 512, so a large input stays
 * quick), then some taken from the input, which reach odd places. */
static void resolve_spread(struct sym_cache *c, struct sym_elf *elf,
			   const uint8_t *data, size_t size)
{
	uint64_t step = size / 512 + 1, vaddr;

	for (uint64_t off = 0; off < size + 64; off += step)
		if (!sym_elf_offset_to_vaddr(elf, off, &vaddr)) {
			resolve(c, elf, vaddr);
			resolve(c, elf, vaddr + 1);
		}
	for (size_t i = 0; i + 8 <= size && i < 512; i += 8) {
		uint64_t a = 0;

		for (int b = 0; b < 8; b++)
			a |= (uint64_t)data[i + b] << (8 * b);
		resolve(c, elf, a);
	}
	resolve(c, elf, 0);
	resolve(c, elf, UINT64_MAX);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* No debug directory of ours: only the file's own DWARF, or what the
	 * system has under /usr/lib/debug for its build-id. */
	static const char *const no_dirs[] = { NULL };
	static int fd = -1;
	struct sym_cache_opts opts = {
		.sz = sizeof(opts),
		.debug_dirs = no_dirs,
		.max_bytes = 64 * 1024,
	};
	struct sym_file_ref ref = { 0 };
	struct sym_cache *c;
	struct sym_elf *elf;
	char path[64];

	if (fd < 0)
		fd = memfd_create("fuzz_dwarf", MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, 0) ||
	    (size && pwrite(fd, data, size, 0) != (ssize_t)size))
		return 0;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	ref.path = path;
	/* A cache per input: it knows a file by device, inode, size and
	 * mtime, which the next input, written to the same memfd, may
	 * share. */
	c = sym_cache_new(&opts);
	if (!c)
		return 0;
	if (!sym_cache_get_elf(c, &ref, &elf)) {
		resolve_spread(c, elf, data, size);
		/* Most inputs' DWARF state is over max_bytes: the file
		 * goes, and is read again. */
		sym_cache_trim(c);
		if (!sym_cache_get_elf(c, &ref, &elf))
			resolve_spread(c, elf, data, size < 256 ? size : 256);
	}
	sym_cache_free(c);
	return 0;
}
