/* The vDSO's unwind table. Every process of the host maps the same vDSO,
 * the kernel's, so the agent reads its own (getauxval(AT_SYSINFO_EHDR)):
 * a copy of the image, since libelf may write to what it reads, through
 * the same builder as files. */
#include <errno.h>
#include <gelf.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>

#include "sym.h"
#include "unwind_table.h"

/* The image's extent: up to the end of its last section header table or
 * segment, whichever is further. */
static size_t image_size(const unsigned char *base)
{
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)base;
	const Elf64_Phdr *ph = (const Elf64_Phdr *)(base + eh->e_phoff);
	size_t end = eh->e_shoff + (size_t)eh->e_shnum * eh->e_shentsize;

	for (int i = 0; i < eh->e_phnum; i++)
		if (ph[i].p_type == PT_LOAD && ph[i].p_offset + ph[i].p_filesz > end)
			end = ph[i].p_offset + ph[i].p_filesz;
	return end;
}

static uint64_t first_load_vaddr(const unsigned char *base)
{
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)base;
	const Elf64_Phdr *ph = (const Elf64_Phdr *)(base + eh->e_phoff);

	for (int i = 0; i < eh->e_phnum; i++)
		if (ph[i].p_type == PT_LOAD)
			return ph[i].p_vaddr - ph[i].p_offset;
	return 0;
}

int sym_vdso_unwind_table(struct sym_unwind_table *out, uint64_t *vaddr_at_start)
{
	const unsigned char *base = (const unsigned char *)getauxval(AT_SYSINFO_EHDR);
	char *copy;
	size_t size;
	Elf *elf;
	int rc;

	memset(out, 0, sizeof(*out));
	if (!base || memcmp(base, ELFMAG, SELFMAG) != 0 || base[EI_CLASS] != ELFCLASS64)
		return -ENOENT;
	size = image_size(base);
	if (size == 0 || size > (1u << 20))
		return -ENOEXEC;
	copy = malloc(size);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, base, size);
	elf_version(EV_CURRENT);
	elf = elf_memory(copy, size);
	rc = elf ? sym_unwind_table_build(elf, out) : -ENOEXEC;
	*vaddr_at_start = first_load_vaddr(base);
	if (elf)
		elf_end(elf);
	free(copy);
	return rc;
}
