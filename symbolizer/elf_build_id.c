/* The GNU build-id of an ELF file: the name a binary keeps across hosts,
 * containers and stripping, by which a debuginfo server finds its symbols
 * later. Read from the PT_NOTE segments first (a stripped file keeps them,
 * and they need no section headers), else from SHT_NOTE sections. */
#include "elf_file.h"

#include <elf.h>
#include <gelf.h>
#include <stdbool.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

static bool from_notes(Elf_Data *d, struct sym_elf *se)
{
	static const char hex[] = "0123456789abcdef";
	size_t off = 0, next, name_off, desc_off;
	GElf_Nhdr nh;

	if (!d || !d->d_buf)
		return false;
	while ((next = gelf_getnote(d, off, &nh, &name_off, &desc_off)) > 0) {
		const unsigned char *b = (const unsigned char *)d->d_buf;

		if (nh.n_type == NT_GNU_BUILD_ID && nh.n_namesz == sizeof(ELF_NOTE_GNU) &&
		    !memcmp(b + name_off, ELF_NOTE_GNU, sizeof(ELF_NOTE_GNU)) &&
		    nh.n_descsz && nh.n_descsz <= SYM_BUILD_ID_MAX) {
			for (size_t i = 0; i < nh.n_descsz; i++) {
				se->build_id[2 * i] = hex[b[desc_off + i] >> 4];
				se->build_id[2 * i + 1] = hex[b[desc_off + i] & 15];
			}
			se->build_id[2 * nh.n_descsz] = '\0';
			return true;
		}
		off = next;
	}
	return false;
}

void sym_elf_read_build_id(Elf *e, struct sym_elf *se)
{
	Elf_Scn *scn = NULL;
	size_t phnum;

	if (!elf_getphdrnum(e, &phnum)) {
		for (size_t i = 0; i < phnum; i++) {
			GElf_Phdr ph;

			if (!gelf_getphdr(e, (int)i, &ph) || ph.p_type != PT_NOTE)
				continue;
			if (from_notes(elf_getdata_rawchunk(e, (int64_t)ph.p_offset,
							    ph.p_filesz,
							    ph.p_align == 8 ? ELF_T_NHDR8 : ELF_T_NHDR),
				       se))
				return;
		}
	}
	while ((scn = elf_nextscn(e, scn))) {
		GElf_Shdr sh;

		if (gelf_getshdr(scn, &sh) && sh.sh_type == SHT_NOTE &&
		    from_notes(elf_getdata(scn, NULL), se))
			return;
	}
}

int sym_elf_peek_build_id(int fd, char *hex)
{
	struct sym_elf *se;
	Elf *e;

	hex[0] = '\0';
	if (elf_version(EV_CURRENT) == EV_NONE)
		return -ENOEXEC;
	e = elf_begin(fd, ELF_C_READ, NULL);
	if (!e)
		return -ENOEXEC;
	se = calloc(1, sizeof(*se));
	if (se && elf_kind(e) == ELF_K_ELF) {
		sym_elf_read_build_id(e, se);
		strcpy(hex, se->build_id);
	}
	free(se);
	elf_end(e);
	return 0;
}
