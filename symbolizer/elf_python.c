/* The CPython interpreter in an ELF file: where its _PyRuntime, its type
 * objects and its evaluation loop are, and its version, read from the
 * file's own symbols and data. The agent needs them to describe a Python
 * process to the sampling program (bpf/python.h), and to put Python
 * frames where the native stack passes through the evaluation loop.
 * Parses untrusted bytes: in the parser worker. */
#include <gelf.h>
#include <stddef.h>
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
		/* const unsigned long: 8 bytes here, the low 4 hold it */
		else if (!*version_at && strcmp(name, "Py_Version") == 0 && s.st_size >= 4)
			*version_at = s.st_value;
	}
}

/* The len bytes at vaddr in the file's initialised data into buf; false
 * when the file does not hold them. */
static bool read_at(Elf *e, uint64_t vaddr, void *buf, size_t len)
{
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;

	while ((scn = elf_nextscn(e, scn))) {
		Elf_Data *d;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_PROGBITS || vaddr < sh.sh_addr ||
		    vaddr - sh.sh_addr > sh.sh_size || len > sh.sh_size - (vaddr - sh.sh_addr))
			continue;
		d = elf_getdata(scn, NULL);
		if (!d || !d->d_buf || vaddr - sh.sh_addr > d->d_size ||
		    len > d->d_size - (vaddr - sh.sh_addr))
			return false;
		memcpy(buf, (const char *)d->d_buf + (vaddr - sh.sh_addr), len);
		return true;
	}
	return false;
}

/* _Py_DebugOffsets of 3.13 (Include/internal/pycore_runtime.h): where
 * each offset the agent uses sits in it (gdb's ptype /o of 3.13.0). */
#define DEBUG_OFFSETS_313_SIZE 584
#define DEBUG_COOKIE "xdebugpy"

static bool debug_field(const uint8_t *d, size_t at, uint16_t *out)
{
	uint64_t v;

	memcpy(&v, d + at, sizeof(v));
	if (v > UINT16_MAX - 8)
		return false;
	*out = (uint16_t)v;
	return true;
}

/* 3.13's own account of its layout, read from the file (where _PyRuntime
 * is initialised, in .PyRuntime): cookie, version and every offset
 * checked, or nothing. */
static void read_debug_offsets(Elf *e, struct sym_py_file *py)
{
	static const struct {
		size_t at;
		size_t field;
	} fields[] = {
#define F(at, name) { at, offsetof(struct sym_py_debug_offsets, name) }
		F(40, runtime_interp_head), F(72, interp_threads_head),
		F(168, tstate_next), F(176, tstate_interp), F(184, tstate_current_frame),
		F(192, tstate_thread_id), F(232, frame_previous), F(240, frame_executable),
		F(248, frame_instr_ptr), F(264, frame_owner), F(280, code_filename),
		F(288, code_name), F(296, code_qualname), F(304, code_linetable),
		F(312, code_firstlineno), F(344, code_adaptive), F(520, bytes_size),
		F(528, bytes_data), F(544, unicode_state), F(552, unicode_length),
		F(560, unicode_ascii_data),
#undef F
	};
	struct sym_py_debug_offsets o = { 0 };
	uint8_t d[DEBUG_OFFSETS_313_SIZE];
	uint64_t free_threaded;

	if ((py->version >> 16) != 0x030d || !read_at(e, py->runtime, d, sizeof(d)) ||
	    memcmp(d, DEBUG_COOKIE, 8) != 0)
		return;
	memcpy(&o.version, d + 8, sizeof(o.version));
	memcpy(&free_threaded, d + 16, sizeof(free_threaded));
	if ((o.version >> 16) != (py->version >> 16))
		return;
	o.free_threaded = free_threaded != 0;
	for (size_t i = 0; i < sizeof(fields) / sizeof(*fields); i++)
		if (!debug_field(d, fields[i].at, (uint16_t *)((char *)&o + fields[i].field)))
			return;
	py->debug_offsets = o;
	py->has_debug_offsets = true;
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
	if (version_at && !read_at(e, version_at, &py.version, sizeof(py.version)))
		py.version = 0;
	find_eval(se, &py);
	read_debug_offsets(e, &py);
	se->python = py;
}

const struct sym_py_file *sym_elf_python(const struct sym_elf *elf)
{
	return elf && elf->python.runtime ? &elf->python : NULL;
}
