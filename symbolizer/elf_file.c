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
#include "refusals.h"
#include "unwind_table.h"

#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
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

/* Sections read whole into memory here, by libelf on our behalf:
 * symbols and their strings, notes, Go's table, the CFI, the
 * MiniDebugInfo, the relocations and PLT stubs (elf_plt.c). */
static bool is_read_whole(Elf *e, size_t shstrndx, const GElf_Shdr *sh)
{
	static const char *const named[] = {
		".gopclntab", ".gnu_debugdata", ".eh_frame", ".debug_frame",
		".plt", ".plt.sec", ".plt.got",
	};
	const char *name;

	if (sh->sh_type == SHT_SYMTAB || sh->sh_type == SHT_DYNSYM ||
	    sh->sh_type == SHT_STRTAB || sh->sh_type == SHT_NOTE ||
	    sh->sh_type == SHT_RELA)
		return true;
	name = elf_strptr(e, shstrndx, sh->sh_name);
	for (size_t i = 0; name && i < sizeof(named) / sizeof(named[0]); i++)
		if (!strcmp(name, named[i]))
			return true;
	return false;
}

/* true when [off, off + len) of fd holds a hole: bytes a sparse file
 * claims without storing, which read as zeros that no real table is made
 * of. Filesystems that cannot tell say there is none. */
static bool has_hole(int fd, uint64_t off, uint64_t len)
{
	off_t hole;

	if (!len)
		return false;
	hole = lseek(fd, (off_t)off, SEEK_HOLE);
	return hole >= 0 && (uint64_t)hole < off + len;
}

/* Every section's bytes must lie inside the file (else the file is
 * corrupt: -ENOEXEC), and a section read whole must be stored in it and
 * within SYM_SECTION_MAX (else -EFBIG): a header may claim a gigabyte that
 * libelf would allocate and fill before we see a byte of it. The string
 * table of section names is checked first, as naming the others reads it. */
static int check_sections(Elf *e, int fd, uint64_t file_size)
{
	Elf_Scn *scn = NULL;
	size_t shstrndx;
	GElf_Shdr sh;

	if (elf_getshdrstrndx(e, &shstrndx))
		return -ENOEXEC;
	scn = elf_getscn(e, shstrndx);
	if (scn && gelf_getshdr(scn, &sh) && sh.sh_size > SYM_SECTION_MAX)
		return -EFBIG;
	scn = NULL;
	while ((scn = elf_nextscn(e, scn))) {
		if (!gelf_getshdr(scn, &sh))
			return -ENOEXEC;
		if (sh.sh_type == SHT_NOBITS)
			continue;
		if (!in_file(sh.sh_offset, sh.sh_size, file_size))
			return -ENOEXEC;
		if (is_read_whole(e, shstrndx, &sh) &&
		    (sh.sh_size > SYM_SECTION_MAX || has_hole(fd, sh.sh_offset, sh.sh_size)))
			return -EFBIG;
	}
	return 0;
}

/* The size a compressed section says it expands to: the Chdr's ch_size
 * (SHF_COMPRESSED), or the big-endian size after "ZLIB" (.zdebug_*, the
 * older GNU form). false when the section is not compressed. */
static bool expanded_size(Elf *e, const char *name, const GElf_Shdr *sh, uint64_t *size)
{
	Elf_Data *d;

	if (sh->sh_flags & SHF_COMPRESSED) {
		GElf_Chdr ch;

		if (gelf_getclass(e) == ELFCLASS32) {
			d = elf_getdata_rawchunk(e, (int64_t)sh->sh_offset, sizeof(Elf32_Chdr),
						 ELF_T_CHDR);
			*size = d ? ((const Elf32_Chdr *)d->d_buf)->ch_size : UINT64_MAX;
			return true;
		}
		d = elf_getdata_rawchunk(e, (int64_t)sh->sh_offset, sizeof(Elf64_Chdr), ELF_T_CHDR);
		if (d)
			memcpy(&ch, d->d_buf, sizeof(ch));
		*size = d ? ch.ch_size : UINT64_MAX;
		return true;
	}
	if (name && !strncmp(name, ".zdebug", 7)) {
		const unsigned char *b;

		d = elf_getdata_rawchunk(e, (int64_t)sh->sh_offset, 12, ELF_T_BYTE);
		b = d ? d->d_buf : NULL;
		*size = UINT64_MAX;
		if (b && !memcmp(b, "ZLIB", 4)) {
			*size = 0;
			for (int i = 4; i < 12; i++)
				*size = *size << 8 | b[i];
		}
		return true;
	}
	return false;
}

int sym_elf_check_compressed(Elf *e, uint64_t cap)
{
	Elf_Scn *scn = NULL;
	size_t shstrndx;
	GElf_Shdr sh;

	if (elf_getshdrstrndx(e, &shstrndx))
		return -ENOEXEC;
	scn = elf_getscn(e, shstrndx);
	if (scn && gelf_getshdr(scn, &sh) && sh.sh_size > SYM_SECTION_MAX)
		return -EFBIG;
	scn = NULL;
	while ((scn = elf_nextscn(e, scn))) {
		uint64_t size;

		if (!gelf_getshdr(scn, &sh))
			return -ENOEXEC;
		if (sh.sh_type == SHT_NOBITS ||
		    !expanded_size(e, elf_strptr(e, shstrndx, sh.sh_name), &sh, &size))
			continue;
		if (size > cap ||
		    (size > SYM_DECOMPRESS_RATIO_FLOOR &&
		     size / SYM_DECOMPRESS_RATIO_MAX > sh.sh_size))
			return -EFBIG;
	}
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

static int read_fd(int fd, bool with_unwind, struct sym_elf **elf)
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
		err = check_sections(e, fd, (uint64_t)st.st_size);
	if (err == -EFBIG)
		sym_refusal_count(SYM_REFUSED_SECTION);
	/* libdw expands compressed DWARF whole: a bomb is refused before
	 * the file reaches it (sym_dwarf_open, after us). */
	if (!err) {
		err = sym_elf_check_compressed(e, SYM_DECOMPRESSED_MAX);
		if (err == -EFBIG)
			sym_refusal_count(SYM_REFUSED_COMPRESSED);
	}
	if (!err)
		err = read_loads(e, se);
	if (!err)
		err = sym_elf_read_functions(e, se);
	/* Symbols win; without any, a Go binary still names its functions
	 * for its own tracebacks. */
	if (!err && !se->nfuncs)
		err = sym_elf_read_gopclntab(e, se);
	/* After gopclntab: stubs are no symbols of the file's own, and a
	 * stripped cgo binary still has its Go functions named. */
	if (!err)
		err = sym_elf_read_plt(e, se);
	if (!err)
		sym_elf_read_build_id(e, se);
	if (!err)
		sym_elf_read_python(e, se);
	/* The walk in BPF knows x86_64's registers only. A file whose CFI
	 * cannot be read is still named: it is walked by frame pointers. */
	if (!err && with_unwind && is_x86_64(e))
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

int sym_elf_read_fd(int fd, struct sym_elf **elf)
{
	return read_fd(fd, true, elf);
}

int sym_elf_read_fd_no_unwind(int fd, struct sym_elf **elf)
{
	return read_fd(fd, false, elf);
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
	if (!err)
		sym_content_id_fd(fd, (*elf)->content_id); /* "" when it fails */
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

	if (elf && elf->remote_handle)
		return elf->remote_dwarf;

	return s != SYM_DEBUG_NONE && s != SYM_DEBUG_PENDING;
}

const struct sym_unwind_table *sym_elf_unwind_table(const struct sym_elf *elf)
{
	return elf && elf->unwind.n ? &elf->unwind : NULL;
}

bool sym_elf_table_held(const struct sym_elf *elf)
{
	return elf && elf->table_held;
}

const char *sym_elf_build_id(const struct sym_elf *elf)
{
	return elf && elf->build_id[0] ? elf->build_id : NULL;
}

const char *sym_elf_content_id(const struct sym_elf *elf)
{
	return elf && elf->content_id[0] ? elf->content_id : NULL;
}

/* x through the PT_LOAD segment whose file bytes hold it: a file offset
 * to its virtual address, or (from_vaddr) back. */
static int translate(const struct sym_elf *elf, uint64_t x, bool from_vaddr, uint64_t *out)
{
	if (!elf || !out)
		return -EINVAL;
	for (size_t i = 0; i < elf->nloads; i++) {
		const struct sym_elf_load *l = &elf->loads[i];
		uint64_t from = from_vaddr ? l->vaddr : l->offset;
		uint64_t to = from_vaddr ? l->offset : l->vaddr;

		if (x >= from && x - from < l->filesz) {
			*out = x - from + to;
			return 0;
		}
	}
	return -ENOENT;
}

int sym_elf_offset_to_vaddr(const struct sym_elf *elf, uint64_t file_offset,
			    uint64_t *vaddr)
{
	return translate(elf, file_offset, false, vaddr);
}

int sym_elf_vaddr_to_offset(const struct sym_elf *elf, uint64_t vaddr, uint64_t *file_offset)
{
	return translate(elf, vaddr, true, file_offset);
}
