/* Opens one ELF file for the symbolizer: checks that what libelf will read
 * lies inside the file, keeps the PT_LOAD table that turns a file offset
 * into a virtual address, and has elf_symbols.c and elf_build_id.c take what
 * they need. The Elf handle and the descriptor are closed before returning:
 * a cached file costs its tables, never a descriptor.
 *
 * The bytes are untrusted (any process can map any file), so every failure
 * to make sense of them is -ENOEXEC, never a crash. */
#include "debuginfo.h"
#include "elf_file.h"
#include "unwind_table.h"

#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static bool in_file(uint64_t off, uint64_t len, uint64_t file_size)
{
	return off <= file_size && len <= file_size - off;
}

/* libelf reads header tables lazily; checking them up front makes a
 * truncated file fail here, as a whole, instead of looking like a file
 * without symbols. */
static int check_header_tables(Elf *e, uint64_t file_size)
{
	GElf_Ehdr eh;
	size_t phnum, shnum;

	if (!gelf_getehdr(e, &eh) || elf_getphdrnum(e, &phnum) ||
	    elf_getshdrnum(e, &shnum))
		return -ENOEXEC;
	/* libelf quietly counts fewer headers than the file claims when some
	 * lie past its end: check what the file claims. */
	if (eh.e_phnum > phnum)
		phnum = eh.e_phnum;
	if (eh.e_shoff && eh.e_shnum > shnum)
		shnum = eh.e_shnum;
	if (eh.e_shoff && !shnum)
		shnum = 1; /* extended numbering: section 0 holds the count */
	if (phnum && (eh.e_phentsize != gelf_fsize(e, ELF_T_PHDR, 1, EV_CURRENT) ||
		      !in_file(eh.e_phoff, (uint64_t)phnum * eh.e_phentsize, file_size)))
		return -ENOEXEC;
	if (shnum && (eh.e_shentsize != gelf_fsize(e, ELF_T_SHDR, 1, EV_CURRENT) ||
		      !in_file(eh.e_shoff, (uint64_t)shnum * eh.e_shentsize, file_size)))
		return -ENOEXEC;
	return 0;
}

static int read_loads(Elf *e, struct sym_elf *se)
{
	size_t phnum;

	if (elf_getphdrnum(e, &phnum))
		return -ENOEXEC;
	if (!phnum)
		return 0;
	se->loads = calloc(phnum, sizeof(*se->loads));
	if (!se->loads)
		return -ENOMEM;
	for (size_t i = 0; i < phnum; i++) {
		GElf_Phdr ph;

		if (!gelf_getphdr(e, (int)i, &ph))
			return -ENOEXEC;
		if (ph.p_type != PT_LOAD || !ph.p_filesz)
			continue;
		se->loads[se->nloads++] = (struct sym_elf_load){
			.offset = ph.p_offset,
			.filesz = ph.p_filesz,
			.vaddr = ph.p_vaddr,
		};
	}
	return 0;
}

static bool is_x86_64(Elf *e)
{
	GElf_Ehdr eh;

	return gelf_getehdr(e, &eh) && eh.e_machine == EM_X86_64;
}

int sym_elf_read_fd(int fd, struct sym_elf **elf)
{
	struct sym_elf *se;
	struct stat st;
	Elf *e;
	int err;

	*elf = NULL;
	if (fstat(fd, &st))
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -ENOEXEC;
	if (elf_version(EV_CURRENT) == EV_NONE)
		return -ENOEXEC;
	/* ELF_C_READ, not mmap: a file truncated under us must not SIGBUS. */
	e = elf_begin(fd, ELF_C_READ, NULL);
	if (!e)
		return -ENOEXEC;
	se = calloc(1, sizeof(*se));
	if (!se) {
		err = -ENOMEM;
		goto out;
	}
	if (elf_kind(e) != ELF_K_ELF) {
		err = -ENOEXEC;
		goto out;
	}
	err = check_header_tables(e, (uint64_t)st.st_size);
	if (!err)
		err = read_loads(e, se);
	if (!err)
		err = sym_elf_read_functions(e, se);
	/* Symbols win; without any, a Go binary still names its functions
	 * for its own tracebacks. */
	if (!err && !se->nfuncs)
		err = sym_elf_read_gopclntab(e, se);
	if (!err)
		sym_elf_read_build_id(e, se);
	/* The walk in BPF knows x86_64's registers only. A file whose CFI
	 * cannot be read is still named: it is walked by frame pointers. */
	if (!err && is_x86_64(e))
		sym_unwind_table_build(e, &se->unwind);
out:
	elf_end(e);
	if (err) {
		sym_elf_free(se);
		return err;
	}
	*elf = se;
	return 0;
}

int sym_elf_open(const char *path, struct sym_elf **elf)
{
	int fd, err;

	if (!path || !elf)
		return -EINVAL;
	*elf = NULL;
	/* O_NONBLOCK: a FIFO at that path must not hang us; it fails as
	 * not regular. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	err = sym_elf_read_fd(fd, elf);
	close(fd);
	return err;
}

void sym_elf_free(struct sym_elf *elf)
{
	if (!elf)
		return;
	for (size_t i = 0; elf->demangled && i < elf->nfuncs; i++)
		if (elf->demangled[i] != elf->funcs[i].name)
			free(elf->demangled[i]);
	free(elf->demangled);
	sym_elf_forget_addresses(elf);
	sym_htab_release(&elf->addrs);
	sym_dwarf_free(elf->dwarf);
	free(elf->funcs);
	free(elf->names);
	free(elf->loads);
	sym_unwind_table_release(&elf->unwind);
	free(elf);
}

bool sym_elf_has_dwarf(const struct sym_elf *elf)
{
	enum sym_debug_source s = elf ? sym_dwarf_source(elf->dwarf) : SYM_DEBUG_NONE;

	return s != SYM_DEBUG_NONE && s != SYM_DEBUG_PENDING;
}

const struct sym_unwind_table *sym_elf_unwind_table(const struct sym_elf *elf)
{
	return elf && elf->unwind.n ? &elf->unwind : NULL;
}

const char *sym_elf_build_id(const struct sym_elf *elf)
{
	return elf && elf->build_id[0] ? elf->build_id : NULL;
}

int sym_elf_offset_to_vaddr(const struct sym_elf *elf, uint64_t file_offset,
			    uint64_t *vaddr)
{
	if (!elf || !vaddr)
		return -EINVAL;
	for (size_t i = 0; i < elf->nloads; i++) {
		const struct sym_elf_load *l = &elf->loads[i];

		if (file_offset >= l->offset && file_offset - l->offset < l->filesz) {
			*vaddr = file_offset - l->offset + l->vaddr;
			return 0;
		}
	}
	return -ENOENT;
}
