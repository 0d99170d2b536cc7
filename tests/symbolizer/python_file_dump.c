/* python_file_dump: what sym_elf_python says of ELF files, for
 * test_python_file.py, which holds it against nm, gdb and the interpreters
 * themselves.
 *
 *   python_file_dump FILE...
 *
 * For each FILE, "file FILE", then either "error ERRNO" (sym_elf_open
 * failed), "python none" (sym_elf_python gave NULL), or lines "KEY VALUE"
 * (hex addresses, decimal offsets):
 *   runtime, code_type, unicode_type, bytes_type, version, n_eval,
 *   eval START END (n_eval of them), has_debug_offsets, and with it
 *   debug.FIELD for each field of struct sym_py_debug_offsets;
 * and "end". */
#include <inttypes.h>
#include <stdio.h>

#include "sym.h"

static void dump_debug(const struct sym_py_debug_offsets *o)
{
	const struct {
		const char *name;
		uint16_t v;
	} f[] = {
#define F(x) { #x, o->x }
		F(runtime_interp_head), F(interp_threads_head), F(tstate_next), F(tstate_interp),
		F(tstate_current_frame), F(tstate_thread_id), F(frame_previous),
		F(frame_executable), F(frame_instr_ptr), F(frame_owner), F(code_filename),
		F(code_name), F(code_qualname), F(code_linetable), F(code_firstlineno),
		F(code_adaptive), F(bytes_size), F(bytes_data), F(unicode_state),
		F(unicode_length), F(unicode_ascii_data),
#undef F
	};

	printf("debug.version 0x%" PRIx64 "\n", o->version);
	printf("debug.free_threaded %d\n", o->free_threaded ? 1 : 0);
	for (size_t i = 0; i < sizeof(f) / sizeof(*f); i++)
		printf("debug.%s %u\n", f[i].name, (unsigned int)f[i].v);
}

static void dump(const char *path)
{
	const struct sym_py_file *py;
	struct sym_elf *elf;
	int err;

	printf("file %s\n", path);
	err = sym_elf_open(path, &elf);
	if (err) {
		printf("error %d\nend\n", -err);
		return;
	}
	py = sym_elf_python(elf);
	if (!py) {
		printf("python none\nend\n");
		sym_elf_free(elf);
		return;
	}
	printf("runtime 0x%" PRIx64 "\n", py->runtime);
	printf("code_type 0x%" PRIx64 "\n", py->code_type);
	printf("unicode_type 0x%" PRIx64 "\n", py->unicode_type);
	printf("bytes_type 0x%" PRIx64 "\n", py->bytes_type);
	printf("version 0x%" PRIx32 "\n", py->version);
	printf("n_eval %" PRIu32 "\n", py->n_eval);
	for (uint32_t i = 0; i < py->n_eval && i < 2; i++)
		printf("eval 0x%" PRIx64 " 0x%" PRIx64 "\n", py->eval[i][0], py->eval[i][1]);
	printf("has_debug_offsets %d\n", py->has_debug_offsets ? 1 : 0);
	if (py->has_debug_offsets)
		dump_debug(&py->debug_offsets);
	printf("end\n");
	sym_elf_free(elf);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: python_file_dump FILE...\n");
		return 2;
	}
	for (int i = 1; i < argc; i++)
		dump(argv[i]);
	return 0;
}
