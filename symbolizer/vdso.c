/* The vDSO's unwind table and function names. Every (64-bit) process of
 * the host maps the same vDSO, the kernel's, so the agent reads its own
 * (getauxval(AT_SYSINFO_EHDR)): a copy of the image, since libelf may
 * write to what it reads, through the same builder as files. The kernel's
 * own image is no stranger's bytes: it is read here, not in the worker. */
#include <errno.h>
#include <gelf.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

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

/* The agent's vDSO image, copied for libelf; NULL if it has none. */
static Elf *vdso_copy(char **copy)
{
	const unsigned char *base = (const unsigned char *)getauxval(AT_SYSINFO_EHDR);
	size_t size;
	Elf *elf;

	*copy = NULL;
	if (!base || memcmp(base, ELFMAG, SELFMAG) != 0 || base[EI_CLASS] != ELFCLASS64)
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
	const unsigned char *base = (const unsigned char *)getauxval(AT_SYSINFO_EHDR);
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);

	if (!base || memcmp(base, ELFMAG, SELFMAG) != 0 || base[EI_CLASS] != ELFCLASS64)
		return 0;
	/* The kernel maps the whole image, which its build pads to pages. */
	return (image_size(base) + page - 1) / page * page;
}

bool sym_vdso_is_agents(uint64_t start, uint64_t size)
{
	return start >= (1ULL << 32) && size && size == sym_vdso_size();
}

struct vdso_function {
	uint64_t start, end; /* file addresses */
	bool global;
	char name[40];
};

struct sym_vdso_names {
	struct vdso_function *v;
	size_t n;
	uint64_t vaddr_at_start;
};

static int by_start(const void *a, const void *b)
{
	const struct vdso_function *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return (int)y->global - (int)x->global; /* the global name first */
}

/* Its functions from the dynamic symbol table, the one it has. */
static int read_functions(Elf *elf, struct sym_vdso_names *v)
{
	Elf_Scn *scn = NULL;

	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		Elf_Data *data;
		size_t count;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_DYNSYM || !sh.sh_entsize)
			continue;
		data = elf_getdata(scn, NULL);
		count = sh.sh_size / sh.sh_entsize;
		if (!data || count > 4096)
			return -ENOEXEC;
		v->v = calloc(count ? count : 1, sizeof(*v->v));
		if (!v->v)
			return -ENOMEM;
		for (size_t i = 0; i < count; i++) {
			GElf_Sym sym;
			const char *name;

			if (!gelf_getsym(data, (int)i, &sym) || GELF_ST_TYPE(sym.st_info) != STT_FUNC ||
			    !sym.st_size || !(name = elf_strptr(elf, sh.sh_link, sym.st_name)))
				continue;
			v->v[v->n] = (struct vdso_function){
				.start = sym.st_value, .end = sym.st_value + sym.st_size,
				.global = GELF_ST_BIND(sym.st_info) == STB_GLOBAL,
			};
			snprintf(v->v[v->n].name, sizeof(v->v[v->n].name), "%s", name);
			v->n++;
		}
		qsort(v->v, v->n, sizeof(*v->v), by_start);
		return 0;
	}
	return -ENOENT;
}

int sym_vdso_names_new(struct sym_vdso_names **out)
{
	struct sym_vdso_names *v = calloc(1, sizeof(*v));
	char *copy;
	Elf *elf;
	int rc;

	*out = NULL;
	if (!v)
		return -ENOMEM;
	elf = vdso_copy(&copy);
	rc = elf ? read_functions(elf, v) : -ENOENT;
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
	free(v->v);
	free(v);
}

int sym_vdso_names_lookup(const struct sym_vdso_names *v, uint64_t offset, const char **name)
{
	uint64_t vaddr = v->vaddr_at_start + offset;
	size_t lo = 0, hi = v->n;

	/* The last function starting at or before vaddr; of aliases, the
	 * global one (sorted first among equal starts). */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (v->v[mid].start <= vaddr)
			lo = mid + 1;
		else
			hi = mid;
	}
	while (lo > 1 && v->v[lo - 2].start == v->v[lo - 1].start)
		lo--;
	if (lo == 0 || vaddr >= v->v[lo - 1].end)
		return -ENOENT;
	*name = v->v[lo - 1].name;
	return 0;
}
