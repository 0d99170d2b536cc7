/* The functions of one ELF file, as a table sorted by address that a binary
 * search answers from. .symtab when the file has one (it holds the static
 * functions too), else .dynsym, which even a stripped library keeps for its
 * exported functions.
 *
 * Where several symbols share an address (aliases, weak and strong
 * versions), one name is kept: global before weak before local, then the
 * one with a size, then the smaller name, so two runs name a frame alike. */
#include "elf_file.h"

#include <errno.h>
#include <gelf.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "addr_search.h"

struct cand {
	uint64_t addr;
	uint64_t size;
	uint64_t limit; /* end of the symbol's section: a size-0 symbol stops there */
	const char *name; /* into libelf's copy of the string table */
	unsigned int rank;
};

static unsigned int bind_rank(unsigned char bind)
{
	switch (bind) {
	case STB_GLOBAL: return 0;
	case STB_WEAK: return 1;
	case STB_LOCAL: return 2;
	default: return 3;
	}
}

static int cand_cmp(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;

	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	if (x->rank != y->rank)
		return x->rank < y->rank ? -1 : 1;
	if (!x->size != !y->size)
		return x->size ? -1 : 1;
	return strcmp(x->name, y->name);
}

static Elf_Scn *find_table(Elf *e, Elf64_Word type)
{
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;

	while ((scn = elf_nextscn(e, scn)))
		if (gelf_getshdr(scn, &sh) && sh.sh_type == type)
			return scn;
	return NULL;
}

static uint64_t section_limit(Elf *e, const GElf_Sym *s)
{
	GElf_Shdr sh;
	Elf_Scn *scn;

	if (s->st_shndx >= SHN_LORESERVE)
		return UINT64_MAX;
	scn = elf_getscn(e, s->st_shndx);
	if (!scn || !gelf_getshdr(scn, &sh) || !(sh.sh_flags & SHF_ALLOC) ||
	    sh.sh_addr > s->st_value || sh.sh_size > UINT64_MAX - sh.sh_addr)
		return UINT64_MAX;
	return sh.sh_addr + sh.sh_size;
}

/* Collects the defined functions of one symbol table into *out. */
static int collect(Elf *e, Elf_Scn *scn, struct cand **out, size_t *n)
{
	Elf_Data *data;
	struct cand *c;
	GElf_Shdr sh;
	size_t count, entsize;

	*out = NULL;
	*n = 0;
	if (!gelf_getshdr(scn, &sh))
		return -ENOEXEC;
	data = elf_getdata(scn, NULL);
	entsize = gelf_fsize(e, ELF_T_SYM, 1, EV_CURRENT);
	if (!data || !entsize || (sh.sh_size && !data->d_buf))
		return -ENOEXEC;
	count = data->d_size / entsize;
	if (!count)
		return 0;
	c = malloc(count * sizeof(*c));
	if (!c)
		return -ENOMEM;
	for (size_t i = 0; i < count; i++) {
		unsigned char type;
		const char *name;
		GElf_Sym s;

		if (!gelf_getsym(data, (int)i, &s))
			break;
		type = GELF_ST_TYPE(s.st_info);
		if ((type != STT_FUNC && type != STT_GNU_IFUNC) || !s.st_value ||
		    s.st_shndx == SHN_UNDEF)
			continue;
		name = elf_strptr(e, sh.sh_link, s.st_name);
		if (!name || !name[0])
			continue;
		c[(*n)++] = (struct cand){
			.addr = s.st_value,
			.size = s.st_size,
			.limit = section_limit(e, &s),
			.name = name,
			.rank = bind_rank(GELF_ST_BIND(s.st_info)),
		};
	}
	*out = c;
	return 0;
}

/* Keeps the first (best) candidate of each address, taking a size from a
 * dropped alias when the kept one has none. Returns the new count. */
static size_t dedup(struct cand *c, size_t n)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		if (k && c[k - 1].addr == c[i].addr) {
			if (!c[k - 1].size)
				c[k - 1].size = c[i].size;
			continue;
		}
		c[k++] = c[i];
	}
	return k;
}

static int build_table(struct sym_elf *se, const struct cand *c, size_t n)
{
	size_t arena = 0;
	char *p;

	for (size_t i = 0; i < n; i++)
		arena += strlen(c[i].name) + 1;
	se->funcs = malloc(n * sizeof(*se->funcs));
	se->names = malloc(arena);
	if (!se->funcs || !se->names)
		return -ENOMEM;
	p = se->names;
	for (size_t i = 0; i < n; i++) {
		struct sym_elf_func *f = &se->funcs[i];
		size_t len = strlen(c[i].name) + 1;

		f->addr = c[i].addr;
		if (c[i].size)
			f->end = c[i].size > UINT64_MAX - f->addr ?
				 UINT64_MAX : f->addr + c[i].size;
		else
			f->end = i + 1 < n ? c[i + 1].addr : UINT64_MAX;
		if (!c[i].size && c[i].limit < f->end && c[i].limit > f->addr)
			f->end = c[i].limit;
		f->name = memcpy(p, c[i].name, len);
		p += len;
	}
	se->nfuncs = n;
	return 0;
}

int sym_elf_read_functions(Elf *e, struct sym_elf *se)
{
	static const Elf64_Word order[] = { SHT_SYMTAB, SHT_DYNSYM };
	struct cand *c = NULL;
	size_t n = 0;
	int err = 0;

	/* A .symtab without functions (some odd link) is no better than
	 * none: fall back to .dynsym then too. */
	for (size_t t = 0; t < 2 && !n; t++) {
		Elf_Scn *scn = find_table(e, order[t]);

		if (!scn)
			continue;
		free(c);
		err = collect(e, scn, &c, &n);
		if (err)
			break;
	}
	if (!err && n) {
		qsort(c, n, sizeof(*c), cand_cmp);
		n = dedup(c, n);
		err = build_table(se, c, n);
	}
	free(c);
	return err;
}

int sym_elf_lookup_index(const struct sym_elf *elf, uint64_t vaddr, size_t *index)
{
	size_t i;

	if (!elf)
		return -EINVAL;
	i = sym_addr_search(elf->funcs, elf->nfuncs, sizeof(*elf->funcs), vaddr);
	if (!i || vaddr >= elf->funcs[i - 1].end)
		return -ENOENT;
	*index = i - 1;
	return 0;
}

int sym_elf_lookup(const struct sym_elf *elf, uint64_t vaddr,
		   const char **name)
{
	size_t i;
	int err;

	if (!name)
		return -EINVAL;
	err = sym_elf_lookup_index(elf, vaddr, &i);
	if (!err)
		*name = elf->funcs[i].name;
	return err;
}

/* A name asked for by sym_elf_find_functions, and where it was asked. */
struct wanted_name {
	const char *name;
	size_t index;
};

static int wanted_cmp(const void *a, const void *b)
{
	return strcmp(((const struct wanted_name *)a)->name, ((const struct wanted_name *)b)->name);
}

/* The names sorted, for one binary search per function of the table: a
 * large executable holds a million functions, a caller some dozens of
 * names. */
static int sort_wanted(const char *const *names, size_t n, struct wanted_name *w)
{
	if (n > SYM_FIND_FUNCTIONS_MAX)
		return -E2BIG;
	for (size_t i = 0; i < n; i++) {
		if (!names[i] ||
		    strnlen(names[i], SYM_FUNCTION_NAME_MAX + 1) > SYM_FUNCTION_NAME_MAX)
			return -EINVAL;
		w[i] = (struct wanted_name){ names[i], i };
	}
	qsort(w, n, sizeof(*w), wanted_cmp);
	return 0;
}

int sym_elf_find_functions(const struct sym_elf *elf, const char *const *names, size_t n,
			   uint64_t *vaddrs)
{
	struct wanted_name w[SYM_FIND_FUNCTIONS_MAX];
	int err;

	if (!elf || (n && (!names || !vaddrs)))
		return -EINVAL;
	err = sort_wanted(names, n, w);
	if (err)
		return err;
	for (size_t i = 0; i < n; i++)
		vaddrs[i] = 0;
	/* funcs is sorted by address: a name's first hit is its lowest. */
	for (size_t i = 0; n && i < elf->nfuncs; i++) {
		struct wanted_name key = { elf->funcs[i].name, 0 };
		const struct wanted_name *hit = bsearch(&key, w, n, sizeof(*w), wanted_cmp);

		if (hit && !vaddrs[hit->index])
			vaddrs[hit->index] = elf->funcs[i].addr;
	}
	return 0;
}
