/* The vDSO's unwind table and function names. Every (64-bit) process of
 * the host maps the same vDSO, the kernel's, so the agent reads its own
 * (getauxval(AT_SYSINFO_EHDR)): a copy of the image, since libelf may
 * write to what it reads, through the same builder as files. The kernel's
 * own image is no stranger's bytes: it is read here, not in the worker. */
#include <errno.h>
#include <gelf.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

#include "sym.h"
#include "elf_file.h"
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

/* The agent's own vDSO image, or NULL if it has no 64-bit one. */
static const unsigned char *own_image(void)
{
	const unsigned char *base = (const unsigned char *)getauxval(AT_SYSINFO_EHDR);

	if (!base || memcmp(base, ELFMAG, SELFMAG) != 0 || base[EI_CLASS] != ELFCLASS64)
		return NULL;
	return base;
}

/* The agent's vDSO image, copied for libelf; NULL if it has none. */
static Elf *vdso_copy(char **copy)
{
	const unsigned char *base = own_image();
	size_t size;
	Elf *elf;

	*copy = NULL;
	if (!base)
		return NULL;
	size = image_size(base);
	if (size == 0 || size > (1u << 20))
		return NULL;
	*copy = malloc(size);
	if (!*copy)
		return NULL;
	memcpy(*copy, base, size);
	elf_version(EV_CURRENT);
	elf = elf_memory(*copy, size);
	if (!elf) {
		free(*copy);
		*copy = NULL;
	}
	return elf;
}

int sym_vdso_unwind_table(struct sym_unwind_table *out, uint64_t *vaddr_at_start)
{
	char *copy;
	Elf *elf = vdso_copy(&copy);
	int rc;

	memset(out, 0, sizeof(*out));
	if (!elf)
		return -ENOENT;
	rc = sym_unwind_table_build(elf, out);
	*vaddr_at_start = first_load_vaddr((const unsigned char *)copy);
	elf_end(elf);
	free(copy);
	return rc;
}

uint64_t sym_vdso_size(void)
{
	const unsigned char *base = own_image();
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);

	if (!base)
		return 0;
	/* The kernel maps the whole image, which its build pads to pages. */
	return (image_size(base) + page - 1) / page * page;
}

bool sym_vdso_is_agents(uint64_t start, uint64_t size)
{
	return start >= (1ULL << 32) && size && size == sym_vdso_size();
}

/* Its functions as a file's are read (elf_symbols.c): the global name of
 * aliases first. */
struct sym_vdso_names {
	struct sym_elf *functions;
	uint64_t vaddr_at_start;
};

int sym_vdso_names_new(struct sym_vdso_names **out)
{
	struct sym_vdso_names *v = calloc(1, sizeof(*v));
	char *copy;
	Elf *elf;
	int rc;

	*out = NULL;
	if (!v || !(v->functions = calloc(1, sizeof(*v->functions)))) {
		free(v);
		return -ENOMEM;
	}
	elf = vdso_copy(&copy);
	rc = elf ? sym_elf_read_functions(elf, v->functions) : -ENOENT;
	if (elf) {
		v->vaddr_at_start = first_load_vaddr((const unsigned char *)copy);
		elf_end(elf);
	}
	free(copy);
	if (rc) {
		sym_vdso_names_free(v);
		return rc;
	}
	*out = v;
	return 0;
}

void sym_vdso_names_free(struct sym_vdso_names *v)
{
	if (!v)
		return;
	sym_elf_free(v->functions);
	free(v);
}

int sym_vdso_names_lookup(const struct sym_vdso_names *v, uint64_t offset, const char **name)
{
	return sym_elf_lookup(v->functions, v->vaddr_at_start + offset, name);
}
