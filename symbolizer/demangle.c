/* Names people read: C++ and Rust symbols demangled with libiberty (the
 * demangler binutils and gdb use), once per symbol and kept with its file
 * (see sym_elf_lookup_names); the mangled name stays as the system name. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libiberty/demangle.h>

#include "elf_file.h"
#include "sym.h"

#define PLT_SUFFIX "@plt"

/* A PLT stub's name (elf_plt.c) is its function's and "@plt", which the
 * demangler does not take: the function's part is demangled, and the
 * suffix put back, as perf does. */
static char *demangle_plt(const char *name, size_t len)
{
	size_t base = len - strlen(PLT_SUFFIX);
	char *mangled = strndup(name, base), *d, *out = NULL;

	if (!mangled)
		return NULL;
	d = sym_demangle(mangled);
	free(mangled);
	if (d && asprintf(&out, "%s" PLT_SUFFIX, d) < 0)
		out = NULL;
	free(d);
	return out;
}

char *sym_demangle(const char *name)
{
	size_t len;

	/* _Z: the Itanium C++ ABI, which legacy Rust symbols use too; _R:
	 * Rust's v0 scheme. Anything else is a C name, left alone. */
	if (!name || (strncmp(name, "_Z", 2) != 0 && strncmp(name, "_R", 2) != 0))
		return NULL;
	len = strlen(name);
	if (len > strlen(PLT_SUFFIX) && !strcmp(name + len - strlen(PLT_SUFFIX), PLT_SUFFIX))
		return demangle_plt(name, len);
	/* AUTO, not RUST: libiberty tries Rust first (legacy Rust symbols
	 * are valid C++ ones, with a hash) and then C++; RUST alone would stop
	 * at Rust. */
	return cplus_demangle(name, DMGL_PARAMS | DMGL_ANSI | DMGL_AUTO);
}

int sym_elf_lookup_names(struct sym_elf *elf, uint64_t vaddr, const char **name,
			 const char **system_name)
{
	const char *mangled;
	size_t i;
	int err;

	if (!name || !system_name)
		return -EINVAL;
	err = sym_elf_lookup_index(elf, vaddr, &i);
	if (err)
		return err;
	mangled = elf->funcs[i].name;
	*system_name = mangled;
	*name = mangled;
	if (!elf->demangled) {
		elf->demangled = calloc(elf->nfuncs, sizeof(*elf->demangled));
		if (!elf->demangled)
			return 0; /* no memory to spare: the mangled name will do */
	}
	if (!elf->demangled[i]) {
		char *d = sym_demangle(mangled);
		/* A name that is not mangled points at itself: tried once. */
		elf->demangled[i] = d ? d : (char *)mangled;
	}
	*name = elf->demangled[i];
	return 0;
}
