/* The CPython interpreter in an ELF file: where its _PyRuntime, its type
 * objects and its evaluation loop are, and its version, read from the
 * file's own symbols and data. The agent needs them to describe a Python
 * process to the sampling program (bpf/python.h), and to put Python
 * frames where the native stack passes through the evaluation loop.
 * Parses untrusted bytes: in the parser worker. */
#include <gelf.h>
#include <string.h>

#include "elf_file.h"

/* Dynamic symbols first: a stripped interpreter keeps them, and where
 * both tables have a name they agree. */
static void scan_table(Elf *e, Elf_Scn *scn, struct sym_py_file *py, uint64_t *version_at)
{
	Elf_Data *data = elf_getdata(scn, NULL);
	GElf_Shdr sh;
	size_t n;

	if (!data || !gelf_getshdr(scn, &sh) || !sh.sh_entsize)
		return;
	n = sh.sh_size / sh.sh_entsize;
	for (size_t i = 0; i < n; i++) {
		GElf_Sym s;
		const char *name;

		if (!gelf_getsym(data, (int)i, &s) || s.st_shndx == SHN_UNDEF || !s.st_value)
			continue;
		name = elf_strptr(e, sh.sh_link, s.st_name);
		if (!name || (name[0] != '_' && name[0] != 'P'))
			continue;
		if (!py->runtime && strcmp(name, "_PyRuntime") == 0)
			py->runtime = s.st_value;
		else if (!py->code_type && strcmp(name, "PyCode_Type") == 0)
			py->code_type = s.st_value;
		else if (!py->unicode_type && strcmp(name, "PyUnicode_Type") == 0)
			py->unicode_type = s.st_value;
		else if (!py->bytes_type && strcmp(name, "PyBytes_Type") == 0)
			py->bytes_type = s.st_value;
		else if (!*version_at && strcmp(name, "Py_Version") == 0 && s.st_size == 4)
			*version_at = s.st_value;
	}
}

/* The 4 bytes at vaddr in the file's data, or 0. */
static uint32_t read_u32_at(Elf *e, uint64_t vaddr)
{
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;

	while ((scn = elf_nextscn(e, scn))) {
		Elf_Data *d;
		uint32_t v;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_PROGBITS || vaddr < sh.sh_addr ||
		    vaddr - sh.sh_addr + 4 > sh.sh_size)
			continue;
		d = elf_getdata(scn, NULL);
		if (!d || !d->d_buf || vaddr - sh.sh_addr + 4 > d->d_size)
			return 0;
		memcpy(&v, (const char *)d->d_buf + (vaddr - sh.sh_addr), sizeof(v));
		return v;
	}
	return 0;
}

/* The evaluation loop's ranges, from the functions already read. */
static void find_eval(const struct sym_elf *se, struct sym_py_file *py)
{
	for (size_t i = 0; i < se->nfuncs && py->n_eval < 2; i++) {
		const char *name = se->funcs[i].name;

		if (strcmp(name, "_PyEval_EvalFrameDefault") == 0 ||
		    strcmp(name, "_PyEval_EvalFrameDefault.cold") == 0) {
			py->eval[py->n_eval][0] = se->funcs[i].addr;
			py->eval[py->n_eval][1] = se->funcs[i].end;
			py->n_eval++;
		}
	}
}

void sym_elf_read_python(Elf *e, struct sym_elf *se)
{
	static const Elf64_Word order[] = { SHT_DYNSYM, SHT_SYMTAB };
	struct sym_py_file py = { 0 };
	uint64_t version_at = 0;
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;

	for (size_t t = 0; t < 2; t++) {
		scn = NULL;
		while ((scn = elf_nextscn(e, scn)))
			if (gelf_getshdr(scn, &sh) && sh.sh_type == order[t])
				scan_table(e, scn, &py, &version_at);
	}
	if (!py.runtime || !py.code_type || !py.unicode_type || !py.bytes_type)
		return;
	if (version_at)
		py.version = read_u32_at(e, version_at);
	find_eval(se, &py);
	se->python = py;
}

const struct sym_py_file *sym_elf_python(const struct sym_elf *elf)
{
	return elf && elf->python.runtime ? &elf->python : NULL;
}
