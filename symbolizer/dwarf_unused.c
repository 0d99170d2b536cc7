/* Location lists left compressed when libdw opens a file.
 *
 * libdw 0.188 inflates every compressed DWARF section of a file when it
 * opens it (dwarf_begin_elf), whole, whether or not anything reads it.
 * Naming reads units, lines, abbreviations, strings and ranges, never
 * variable locations; yet .debug_loclists is a quarter of python3.11's
 * DWARF (5.6 of 22 MB inflated) and 14% of libc's. libdw reaches libelf's
 * elf_compress through its PLT, so the executable's definition below is
 * the one it calls: it declines to inflate the sections noted for the
 * file being opened on this thread, and libdw, as documented in its
 * check_section, goes on without them, as it does for any section it
 * cannot inflate. Every other call goes to libelf.
 *
 * A section is known by its offset and size in its file, read from the
 * file's own headers before libdw opens it: a section not noted, or a
 * file not noted, is inflated as before.
 */
#include <dlfcn.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdbool.h>
#include <string.h>

#include "dwarf_unused.h"

/* A file and its debug file, each with .debug_loc and .debug_loclists
 * (and their split-DWARF .dwo forms), with room to spare. */
#define UNUSED_MAX 16

struct unused_section {
	GElf_Off offset;
	GElf_Xword size;
};

static _Thread_local struct unused_section unused[UNUSED_MAX];
static _Thread_local size_t n_unused;
static unsigned long left_compressed;

static bool is_location_list(const char *name)
{
	static const char *const names[] = { ".debug_loc", ".debug_loclists",
					     ".debug_loc.dwo", ".debug_loclists.dwo" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(name, names[i]) == 0)
			return true;
	return false;
}

void sym_dwarf_unused_note(int fd)
{
	Elf_Scn *scn = NULL;
	size_t shstrndx;
	Elf *elf;

	elf_version(EV_CURRENT);
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!elf)
		return;
	if (elf_kind(elf) != ELF_K_ELF || elf_getshdrstrndx(elf, &shstrndx) != 0) {
		elf_end(elf);
		return;
	}
	while ((scn = elf_nextscn(elf, scn)) && n_unused < UNUSED_MAX) {
		GElf_Shdr shdr;
		const char *name;

		if (!gelf_getshdr(scn, &shdr) || !(shdr.sh_flags & SHF_COMPRESSED))
			continue;
		name = elf_strptr(elf, shstrndx, shdr.sh_name);
		if (name && is_location_list(name))
			unused[n_unused++] = (struct unused_section){ shdr.sh_offset, shdr.sh_size };
	}
	elf_end(elf);
}

void sym_dwarf_unused_clear(void)
{
	n_unused = 0;
}

unsigned long sym_dwarf_unused_left(void)
{
	return __atomic_load_n(&left_compressed, __ATOMIC_RELAXED);
}

static bool noted(Elf_Scn *scn)
{
	GElf_Shdr shdr;

	if (!n_unused || !gelf_getshdr(scn, &shdr) || !(shdr.sh_flags & SHF_COMPRESSED))
		return false;
	for (size_t i = 0; i < n_unused; i++)
		if (unused[i].offset == shdr.sh_offset && unused[i].size == shdr.sh_size)
			return true;
	return false;
}

typedef int elf_compress_fn(Elf_Scn *, int, unsigned int);

int elf_compress(Elf_Scn *scn, int type, unsigned int flags)
{
	static elf_compress_fn *libelf_compress;

	/* type 0 is "decompress". */
	if (type == 0 && noted(scn)) {
		__atomic_add_fetch(&left_compressed, 1, __ATOMIC_RELAXED);
		return -1;
	}
	if (!__atomic_load_n(&libelf_compress, __ATOMIC_ACQUIRE)) {
		elf_compress_fn *f = (elf_compress_fn *)dlsym(RTLD_NEXT, "elf_compress");

		if (!f)
			return -1;
		__atomic_store_n(&libelf_compress, f, __ATOMIC_RELEASE);
	}
	return libelf_compress(scn, type, flags);
}
