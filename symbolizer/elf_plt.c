/* PLT stubs, named as perf and objdump name them: SYMBOL@plt.
 *
 * A stub has no symbol of its own, so a sample in one was named after no
 * function, or the one before it. Each stub jumps through one GOT slot,
 * and the dynamic relocation that fills that slot names the function it
 * leads to. As binutils does on x86_64 (its synthetic symbols), each
 * stub's `jmp *disp(%rip)` is decoded for its slot, rather than stubs
 * counted off in .rela.plt's order, which ld breaks for IFUNCs.
 *
 * The stubs are in .plt (lazy ones, after a header that jumps through no
 * slot of its own), .plt.sec (with IBT the stubs called are there, and
 * .plt keeps the lazy halves, which jump through no slot either) and
 * .plt.got (functions whose address is also taken: an R_X86_64_GLOB_DAT
 * slot). A slot filled by R_X86_64_IRELATIVE has no symbol: its stub is
 * named after the IFUNC at the resolver's address (the addend), as perf
 * names it, and else by its file offset, again as perf does.
 *
 * Nothing here fails a file: a table that cannot be read leaves its stubs
 * unnamed, as they were. */
#include "elf_file.h"

#include <errno.h>
#include <gelf.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A GOT slot and what fills it. */
struct plt_slot {
	uint64_t got;
	const char *symbol; /* into libelf's strings; NULL: IRELATIVE */
	uint64_t resolver;  /* IRELATIVE: the IFUNC resolver's address */
};

struct plt_stub {
	uint64_t addr; /* first: see addr_search.h */
	uint64_t size;
	uint64_t file_offset;
	const struct plt_slot *slot;
};

struct slot_list {
	struct plt_slot *v;
	size_t n, cap;
};

struct stub_list {
	struct plt_stub *v;
	size_t n, cap;
};

static int slot_cmp(const void *a, const void *b)
{
	const struct plt_slot *x = a, *y = b;

	return (x->got > y->got) - (x->got < y->got);
}

static int stub_cmp(const void *a, const void *b)
{
	const struct plt_stub *x = a, *y = b;

	return (x->addr > y->addr) - (x->addr < y->addr);
}

/* Grows a list of elem-sized entries to hold one more. */
static int grow(void **v, size_t n, size_t *cap, size_t elem)
{
	size_t ncap;
	void *p;

	if (n < *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 64;
	p = realloc(*v, ncap * elem);
	if (!p)
		return -ENOMEM;
	*v = p;
	*cap = ncap;
	return 0;
}

/* The slot a relocation fills, if it is one a stub jumps through. */
static bool slot_of(Elf *e, Elf_Data *syms, size_t strtab, const GElf_Rela *r,
		    struct plt_slot *slot)
{
	unsigned int type = (unsigned int)GELF_R_TYPE(r->r_info);
	size_t symidx = GELF_R_SYM(r->r_info);
	GElf_Sym sym;

	*slot = (struct plt_slot){ .got = r->r_offset };
	if (type == R_X86_64_IRELATIVE) {
		slot->resolver = (uint64_t)r->r_addend;
		return true;
	}
	if ((type != R_X86_64_JUMP_SLOT && type != R_X86_64_GLOB_DAT) || !symidx ||
	    !gelf_getsym(syms, (int)symidx, &sym))
		return false;
	slot->symbol = elf_strptr(e, strtab, sym.st_name);
	return slot->symbol && slot->symbol[0];
}

/* The slots of one SHT_RELA section whose symbols are a dynamic symbol
 * table, appended to list. */
static int add_slots(Elf *e, Elf_Scn *scn, const GElf_Shdr *sh, struct slot_list *list)
{
	Elf_Scn *symscn = elf_getscn(e, sh->sh_link);
	Elf_Data *rels = elf_getdata(scn, NULL), *syms;
	GElf_Shdr symsh;
	size_t entsize = gelf_fsize(e, ELF_T_RELA, 1, EV_CURRENT);

	if (!symscn || !gelf_getshdr(symscn, &symsh) || symsh.sh_type != SHT_DYNSYM ||
	    !rels || !entsize)
		return 0;
	syms = elf_getdata(symscn, NULL);
	if (!syms)
		return 0;
	for (size_t i = 0; i < rels->d_size / entsize; i++) {
		GElf_Rela r;
		int err;

		if (!gelf_getrela(rels, (int)i, &r))
			break;
		err = grow((void **)&list->v, list->n, &list->cap, sizeof(*list->v));
		if (err)
			return err;
		if (slot_of(e, syms, symsh.sh_link, &r, &list->v[list->n]))
			list->n++;
	}
	return 0;
}

/* The GOT slot stub (size bytes at addr) jumps through: its first
 * instruction, after an endbr64 (IBT) and a bnd prefix (MPX) if there are,
 * must be `jmp *disp32(%rip)`. */
static bool stub_slot(const unsigned char *p, size_t size, uint64_t addr, uint64_t *got)
{
	static const unsigned char endbr64[] = { 0xf3, 0x0f, 0x1e, 0xfa };
	size_t i = 0;
	int32_t disp;

	if (size >= sizeof(endbr64) && !memcmp(p, endbr64, sizeof(endbr64)))
		i = sizeof(endbr64);
	if (i < size && p[i] == 0xf2)
		i++;
	if (i + 6 > size || p[i] != 0xff || p[i + 1] != 0x25)
		return false;
	memcpy(&disp, p + i + 2, sizeof(disp)); /* x86_64: little-endian, as the file */
	*got = addr + i + 6 + (uint64_t)(int64_t)disp;
	return true;
}

static size_t entry_size(const char *name, const GElf_Shdr *sh)
{
	if (sh->sh_entsize == 8 || sh->sh_entsize == 16)
		return sh->sh_entsize;
	return strcmp(name, ".plt.got") ? 16 : 8;
}

static bool is_plt(const char *name)
{
	return name && (!strcmp(name, ".plt") || !strcmp(name, ".plt.sec") ||
			!strcmp(name, ".plt.got"));
}

/* The stubs of one PLT section whose slot a relocation fills. */
static int add_stubs(Elf_Scn *scn, const GElf_Shdr *sh, size_t size,
		     const struct slot_list *slots, struct stub_list *list)
{
	Elf_Data *d = elf_getdata(scn, NULL);

	if (!d || !d->d_buf)
		return 0;
	for (size_t off = 0; off + size <= d->d_size; off += size) {
		struct plt_slot key;
		const struct plt_slot *slot;
		int err;

		if (!stub_slot((const unsigned char *)d->d_buf + off, size, sh->sh_addr + off,
			       &key.got))
			continue;
		slot = bsearch(&key, slots->v, slots->n, sizeof(*slots->v), slot_cmp);
		if (!slot)
			continue;
		err = grow((void **)&list->v, list->n, &list->cap, sizeof(*list->v));
		if (err)
			return err;
		list->v[list->n++] = (struct plt_stub){
			.addr = sh->sh_addr + off,
			.size = size,
			.file_offset = sh->sh_offset + off,
			.slot = slot,
		};
	}
	return 0;
}

/* Every stub of e with its slot, sorted by address. slots holds what they
 * point to. */
static int read_stubs(Elf *e, struct slot_list *slots, struct stub_list *stubs)
{
	Elf_Scn *scn = NULL;
	size_t shstrndx;
	GElf_Shdr sh;
	int err = 0;

	if (elf_getshdrstrndx(e, &shstrndx))
		return 0;
	while (!err && (scn = elf_nextscn(e, scn)))
		if (gelf_getshdr(scn, &sh) && sh.sh_type == SHT_RELA)
			err = add_slots(e, scn, &sh, slots);
	if (err || !slots->n)
		return err;
	qsort(slots->v, slots->n, sizeof(*slots->v), slot_cmp);
	while (!err && (scn = elf_nextscn(e, scn))) {
		const char *name;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_PROGBITS ||
		    !(sh.sh_flags & SHF_EXECINSTR))
			continue;
		name = elf_strptr(e, shstrndx, sh.sh_name);
		if (is_plt(name))
			err = add_stubs(scn, &sh, entry_size(name, &sh), slots, stubs);
	}
	qsort(stubs->v, stubs->n, sizeof(*stubs->v), stub_cmp);
	return err;
}

/* The IFUNC at address resolver, from the functions already read. */
static const char *ifunc_name(const struct sym_elf *se, uint64_t resolver)
{
	size_t i;

	if (sym_elf_lookup_index(se, resolver, &i) || se->funcs[i].addr != resolver)
		return NULL;
	return se->funcs[i].name;
}

/* The stub's name into buf (or its length, as snprintf). */
static int stub_name(const struct sym_elf *se, const struct plt_stub *s, char *buf, size_t len)
{
	const char *target = s->slot->symbol ? s->slot->symbol : ifunc_name(se, s->slot->resolver);

	if (target)
		return snprintf(buf, len, "%s@plt", target);
	return snprintf(buf, len, "offset_%#" PRIx64 "@plt", s->file_offset);
}

/* se's functions and the stubs, into one table and one arena of names. A
 * stub at the address of a function keeps the function's name. */
static int merge(struct sym_elf *se, const struct stub_list *stubs)
{
	size_t arena = 0, n = 0, i = 0, j = 0;
	struct sym_elf_func *funcs;
	char *names, *p;

	for (size_t k = 0; k < se->nfuncs; k++)
		arena += strlen(se->funcs[k].name) + 1;
	for (size_t k = 0; k < stubs->n; k++)
		arena += (size_t)stub_name(se, &stubs->v[k], NULL, 0) + 1;
	funcs = malloc((se->nfuncs + stubs->n) * sizeof(*funcs));
	names = malloc(arena ? arena : 1);
	if (!funcs || !names) {
		free(funcs);
		free(names);
		return -ENOMEM;
	}
	p = names;
	while (i < se->nfuncs || j < stubs->n) {
		const struct plt_stub *s = j < stubs->n ? &stubs->v[j] : NULL;
		size_t len;

		if (s && i < se->nfuncs && se->funcs[i].addr == s->addr) {
			j++;
			continue;
		}
		if (!s || (i < se->nfuncs && se->funcs[i].addr < s->addr)) {
			len = strlen(se->funcs[i].name) + 1;
			funcs[n] = se->funcs[i++];
			funcs[n].name = memcpy(p, funcs[n].name, len);
			n++;
		} else {
			len = (size_t)stub_name(se, s, p, (size_t)(names + arena - p)) + 1;
			funcs[n++] = (struct sym_elf_func){
				.addr = s->addr, .end = s->addr + s->size, .name = p,
			};
			j++;
		}
		p += len;
	}
	free(se->funcs);
	free(se->names);
	se->funcs = funcs;
	se->names = names;
	se->nfuncs = n;
	return 0;
}

int sym_elf_read_plt(Elf *e, struct sym_elf *se)
{
	struct slot_list slots = { 0 };
	struct stub_list stubs = { 0 };
	GElf_Ehdr eh;
	int err;

	if (!gelf_getehdr(e, &eh) || eh.e_machine != EM_X86_64)
		return 0;
	err = read_stubs(e, &slots, &stubs);
	if (!err && stubs.n)
		err = merge(se, &stubs);
	free(slots.v);
	free(stubs.v);
	return err;
}
