/* The functions of a Go binary stripped of its symbol tables (go build
 * -ldflags='-s -w'), from the table the Go runtime keeps for its own
 * tracebacks: .gopclntab (.data.rel.ro.gopclntab in an internally linked
 * PIE). elf_file.c asks for it only when .symtab and .dynsym named nothing,
 * and it fills the same table elf_symbols.c would.
 *
 * The layout is the one of Go 1.18 and later (runtime/symtab.go: pcHeader,
 * functab, _func; debug/gosym/pclntab.go reads it too):
 *
 *   pcHeader: magic u32, pad u8 u8, minLC u8, ptrSize u8, then ptrSize words:
 *             nfunc, nfiles, textStart, funcnameOffset, cuOffset,
 *             filetabOffset, pctabOffset, pclnOffset (offsets from the header)
 *   functab (at pclnOffset): nfunc pairs of u32 {entry - textStart, offset
 *             of the function's _func from functab}, then u32 end - textStart
 *   _func:    entryoff u32 (the same as its functab entry), nameoff i32 into
 *             funcnametab, where names end with a NUL
 *
 * Magic 0xfffffff0 is Go 1.18 and 1.19, 0xfffffff1 Go 1.20 and later; the
 * fields read here are the same in both. Older layouts (Go 1.2 to 1.17) and
 * unknown magics leave the file without functions (0, not an error): the
 * file is still good for its build-id. A table in a layout we know that does
 * not hold together is -ENOEXEC, as a corrupt symbol table is.
 *
 * Not read: tables split over several text sections (Go splits text only
 * for very large binaries on arm and ppc64), and externally linked PIEs,
 * where the table has no section of its own. */
#include "elf_file.h"

#include <errno.h>
#include <gelf.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define GO118_MAGIC 0xfffffff0u
#define GO120_MAGIC 0xfffffff1u

/* Words of pcHeader after its first 8 bytes. */
enum { HDR_NFUNC, HDR_NFILES, HDR_TEXT_START, HDR_FUNCNAME_OFF, HDR_CU_OFF,
       HDR_FILETAB_OFF, HDR_PCTAB_OFF, HDR_PCLN_OFF, HDR_WORDS };

struct pcln {
	const unsigned char *data;
	size_t size;
	bool big_endian;
	unsigned int ptr_size;
	uint64_t text_start;
	size_t funcnames; /* offset of funcnametab in data */
	size_t functab;   /* offset of functab in data */
	size_t nfunc;
};

/* The width-byte unsigned integer at off; false when it does not lie
 * inside the table. */
static bool get_uint(const struct pcln *t, uint64_t off, unsigned int width,
		     uint64_t *v)
{
	if (off > t->size || width > t->size - off)
		return false;
	*v = 0;
	for (unsigned int i = 0; i < width; i++) {
		unsigned int b = t->big_endian ? i : width - 1 - i;

		*v = *v << 8 | t->data[off + b];
	}
	return true;
}

static Elf_Scn *find_pclntab(Elf *e, uint64_t *text_addr)
{
	Elf_Scn *scn = NULL, *found = NULL;
	size_t shstrndx;
	GElf_Shdr sh;

	*text_addr = 0;
	if (elf_getshdrstrndx(e, &shstrndx))
		return NULL;
	while ((scn = elf_nextscn(e, scn))) {
		const char *name;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_PROGBITS)
			continue;
		name = elf_strptr(e, shstrndx, sh.sh_name);
		if (!name)
			continue;
		if (!strcmp(name, ".text"))
			*text_addr = sh.sh_addr;
		else if (!found && (!strcmp(name, ".gopclntab") ||
				    !strcmp(name, ".data.rel.ro.gopclntab")))
			found = scn;
	}
	return found;
}

/* -ENOENT: a table we do not read (another layout or pointer size) or
 * cannot place (no textStart, no .text). */
static int read_header(struct pcln *t, uint64_t text_addr)
{
	uint64_t magic, w[HDR_WORDS];

	if (t->size < 8)
		return -ENOEXEC;
	t->big_endian = false;
	get_uint(t, 0, 4, &magic);
	if (magic != GO118_MAGIC && magic != GO120_MAGIC) {
		t->big_endian = true;
		get_uint(t, 0, 4, &magic);
		if (magic != GO118_MAGIC && magic != GO120_MAGIC)
			return -ENOENT;
	}
	if (t->data[4] || t->data[5])
		return -ENOEXEC;
	t->ptr_size = t->data[7];
	if (t->ptr_size != 4 && t->ptr_size != 8)
		return -ENOENT;
	for (unsigned int i = 0; i < HDR_WORDS; i++)
		if (!get_uint(t, 8 + (uint64_t)i * t->ptr_size, t->ptr_size, &w[i]))
			return -ENOEXEC;
	/* The word holds runtime.text through a relocation; a linker that
	 * leaves it to the dynamic loader leaves 0 in the file. Go's own
	 * tools take .text's address, which is where runtime.text sits when
	 * Go links the binary itself. */
	t->text_start = w[HDR_TEXT_START] ? w[HDR_TEXT_START] : text_addr;
	if (!t->text_start)
		return -ENOENT;
	if (w[HDR_FUNCNAME_OFF] >= t->size || w[HDR_PCLN_OFF] >= t->size)
		return -ENOEXEC;
	t->funcnames = (size_t)w[HDR_FUNCNAME_OFF];
	t->functab = (size_t)w[HDR_PCLN_OFF];
	/* nfunc pairs of u32 and the end entry. */
	if (w[HDR_NFUNC] > (t->size - t->functab) / 8 ||
	    (t->size - t->functab) - w[HDR_NFUNC] * 8 < 4)
		return -ENOEXEC;
	t->nfunc = (size_t)w[HDR_NFUNC];
	return 0;
}

/* The address (offset from textStart) of entry i; i == nfunc is the end
 * of the last function. */
static int entry_off(const struct pcln *t, size_t i, uint64_t *off)
{
	return get_uint(t, t->functab + (uint64_t)i * 8, 4, off) ? 0 : -ENOEXEC;
}

/* Where the name of entry i (at off) lies in funcnametab: [*name, *end),
 * its NUL included. */
static int entry_name(const struct pcln *t, size_t i, uint64_t off,
		      size_t *name, size_t *end)
{
	uint64_t func, func_entry, nameoff;
	const unsigned char *p, *nul;

	if (!get_uint(t, t->functab + (uint64_t)i * 8 + 4, 4, &func) ||
	    !get_uint(t, t->functab + func, 4, &func_entry) ||
	    !get_uint(t, t->functab + func + 4, 4, &nameoff))
		return -ENOEXEC;
	/* nameoff is an int32: a negative one has the top bit set and lands
	 * past the end here. */
	if (func_entry != off || nameoff >= t->size - t->funcnames)
		return -ENOEXEC;
	p = t->data + t->funcnames + nameoff;
	nul = memchr(p, '\0', t->size - t->funcnames - nameoff);
	if (!nul || nul == p)
		return -ENOEXEC;
	*name = (size_t)nameoff;
	*end = (size_t)(nul - t->data) - t->funcnames + 1;
	return 0;
}

/* One pass over functab: with se NULL it checks the table and sizes it
 * (*nfuncs, and *names_end: how much of funcnametab the names span); else
 * it fills se->funcs, pointing into se->names, a copy of that span made
 * after the first pass. Copying the span rather than each name keeps the
 * copy no larger than the section, however many entries share a name.
 * Functions sharing an address keep the first name. */
static int walk(const struct pcln *t, struct sym_elf *se, size_t *nfuncs,
		size_t *names_end)
{
	uint64_t prev = 0, off;
	size_t k = 0;
	int err;

	if (!se)
		*names_end = 0;
	for (size_t i = 0; i < t->nfunc; i++) {
		size_t name, end;

		err = entry_off(t, i, &off);
		if (err)
			return err;
		if (k && off < prev)
			return -ENOEXEC;
		if (k && off == prev)
			continue;
		err = entry_name(t, i, off, &name, &end);
		if (err)
			return err;
		if (se) {
			if (k)
				se->funcs[k - 1].end = t->text_start + off;
			se->funcs[k] = (struct sym_elf_func){
				.addr = t->text_start + off,
				.name = se->names + name,
			};
		} else if (end > *names_end) {
			*names_end = end;
		}
		prev = off;
		k++;
	}
	err = entry_off(t, t->nfunc, &off);
	if (err)
		return err;
	if (k && off < prev)
		return -ENOEXEC;
	/* An address past UINT64_MAX would wrap below its neighbours. */
	if (off > UINT64_MAX - t->text_start)
		return -ENOEXEC;
	if (se && k)
		se->funcs[k - 1].end = t->text_start + off;
	*nfuncs = k;
	return 0;
}

int sym_elf_read_gopclntab(Elf *e, struct sym_elf *se)
{
	struct pcln t = { 0 };
	uint64_t text_addr;
	size_t n, names_end;
	Elf_Data *data;
	Elf_Scn *scn;
	int err;

	if (se->nfuncs)
		return 0;
	scn = find_pclntab(e, &text_addr);
	if (!scn)
		return 0;
	data = elf_getdata(scn, NULL);
	if (!data || !data->d_buf || !data->d_size)
		return -ENOEXEC;
	t.data = data->d_buf;
	t.size = data->d_size;
	err = read_header(&t, text_addr);
	if (err == -ENOENT || (!err && !t.nfunc))
		return 0;
	if (!err)
		err = walk(&t, NULL, &n, &names_end);
	if (err || !n)
		return err;
	se->funcs = malloc(n * sizeof(*se->funcs));
	se->names = malloc(names_end);
	if (!se->funcs || !se->names) {
		free(se->funcs);
		free(se->names);
		se->funcs = NULL;
		se->names = NULL;
		return -ENOMEM;
	}
	memcpy(se->names, t.data + t.funcnames, names_end);
	err = walk(&t, se, &n, &names_end);
	if (!err)
		se->nfuncs = n;
	return err;
}
