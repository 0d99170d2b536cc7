/* sym_elf on files: each fixture (PIE, non-PIE, shared library, stripped
 * copies) names its functions at the addresses nm gives; the build-id is
 * the one readelf prints, and survives stripping; corrupt and odd files
 * fail with -ENOEXEC and nothing worse. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "sym.h"
#include "test_util.h"

struct fixture {
	const char *file_env;
	const char *nm_env;    /* nm of the file, or of its unstripped original */
	const char *notes_env; /* readelf -n of the unstripped original */
	const char *named[6];  /* functions it must name */
	const char *unnamed[4]; /* functions it must not (stripped away) */
};

static const struct fixture fixtures[] = {
	{ .file_env = "SYM_PIE", .nm_env = "SYM_PIE_NM", .notes_env = "SYM_PIE_NOTES",
	  .named = { "fixture_alpha", "fixture_beta", "fixture_gamma_local",
		     "fixture_delta", "fixture_nosize", "main" } },
	{ .file_env = "SYM_NOPIE", .nm_env = "SYM_NOPIE_NM", .notes_env = "SYM_NOPIE_NOTES",
	  .named = { "fixture_alpha", "fixture_beta", "fixture_gamma_local",
		     "fixture_delta", "fixture_nosize", "main" } },
	{ .file_env = "SYM_LIB", .nm_env = "SYM_LIB_NM", .notes_env = "SYM_LIB_NOTES",
	  .named = { "fixture_lib_alpha", "fixture_lib_beta", "fixture_lib_local",
		     "fixture_lib_local_addr" } },
	/* Stripped: the PIE exports none of its functions, the library its
	 * global ones through .dynsym. nm of the original gives addresses. */
	{ .file_env = "SYM_PIE_STRIPPED", .nm_env = "SYM_PIE_NM", .notes_env = "SYM_PIE_NOTES",
	  .unnamed = { "fixture_alpha", "fixture_gamma_local", "fixture_delta",
		       "fixture_nosize" } },
	{ .file_env = "SYM_LIB_STRIPPED", .nm_env = "SYM_LIB_NM", .notes_env = "SYM_LIB_NOTES",
	  .named = { "fixture_lib_alpha", "fixture_lib_beta", "fixture_lib_local_addr" },
	  .unnamed = { "fixture_lib_local" } },
};

/* A function's address to its file offset (what a uprobe takes) and
 * back, inside the file; an address in no segment has none. */
static void check_file_offset(const struct sym_elf *elf, const char *path, uint64_t vaddr)
{
	uint64_t off = 0, back = 0;
	struct stat st;

	CHECK(!sym_elf_vaddr_to_offset(elf, vaddr, &off), "%s: no offset for %#" PRIx64, path,
	      vaddr);
	CHECK(!sym_elf_offset_to_vaddr(elf, off, &back) && back == vaddr,
	      "%s: %#" PRIx64 " -> offset %#" PRIx64 " -> %#" PRIx64, path, vaddr, off, back);
	CHECK(!stat(path, &st) && off < (uint64_t)st.st_size, "%s: offset %#" PRIx64 " past its end",
	      path, off);
	CHECK(sym_elf_vaddr_to_offset(elf, UINT64_MAX - 1, &off) == -ENOENT,
	      "%s: an address in no segment has an offset", path);
}

static void check_fixture(const struct fixture *f)
{
	const char *path = test_env(f->file_env), *nm = test_env(f->nm_env);
	char want_id[129];
	struct sym_elf *elf;
	const char *name;
	int err;

	err = sym_elf_open(path, &elf);
	CHECK(!err, "sym_elf_open(%s) = %d", path, err);
	if (err)
		return;
	for (size_t i = 0; i < sizeof(f->named) / sizeof(f->named[0]) && f->named[i]; i++) {
		uint64_t addr = test_nm_addr(nm, f->named[i]);

		CHECK(addr, "nm has no %s in %s", f->named[i], nm);
		/* The first byte, one inside, and (for the size-0 one) past
		 * the bytes its assembly spelled out. */
		CHECK_NAME(sym_elf_lookup(elf, addr, &name), name, f->named[i]);
		CHECK_NAME(sym_elf_lookup(elf, addr + 1, &name), name, f->named[i]);
		if (!strcmp(f->named[i], "fixture_nosize"))
			CHECK_NAME(sym_elf_lookup(elf, addr + 4, &name), name, f->named[i]);
		check_file_offset(elf, path, addr);
	}
	for (size_t i = 0; i < sizeof(f->unnamed) / sizeof(f->unnamed[0]) && f->unnamed[i]; i++) {
		uint64_t addr = test_nm_addr(nm, f->unnamed[i]);

		err = sym_elf_lookup(elf, addr, &name);
		CHECK(err == -ENOENT, "%s in %s: %d %s", f->unnamed[i], path, err,
		      err ? "" : name);
	}
	CHECK(sym_elf_lookup(elf, 0, &name) == -ENOENT, "address 0 named in %s", path);
	CHECK(!test_readelf_build_id(test_env(f->notes_env), want_id, sizeof(want_id)),
	      "readelf shows no build-id for %s", path);
	CHECK(sym_elf_build_id(elf) && !strcmp(sym_elf_build_id(elf), want_id),
	      "%s: build-id %s, readelf says %s", path,
	      sym_elf_build_id(elf) ? sym_elf_build_id(elf) : "(none)", want_id);
	sym_elf_free(elf);
}

/* At one address, a global name over a weak or a local one that would
 * sort first. */
static void check_aliases(void)
{
	static const char *const pairs[][2] = {
		{ "fixture_c_weak_alias", "fixture_delta" },
		{ "fixture_a_local_alias", "fixture_nosize" },
	};
	static const char *const files[][2] = { { "SYM_PIE", "SYM_PIE_NM" },
						{ "SYM_NOPIE", "SYM_NOPIE_NM" } };

	for (size_t i = 0; i < 2; i++) {
		const char *nm = test_env(files[i][1]);
		struct sym_elf *elf;
		const char *name;

		if (sym_elf_open(test_env(files[i][0]), &elf))
			continue;
		for (size_t j = 0; j < 2; j++) {
			uint64_t alias = test_nm_addr(nm, pairs[j][0]);

			CHECK(alias && alias == test_nm_addr(nm, pairs[j][1]),
			      "%s is not at %s's address", pairs[j][0], pairs[j][1]);
			CHECK_NAME(sym_elf_lookup(elf, alias, &name), name, pairs[j][1]);
		}
		sym_elf_free(elf);
	}
}

static void expect_enoexec(const char *path, const char *what)
{
	struct sym_elf *elf = (struct sym_elf *)&elf;
	int err = sym_elf_open(path, &elf);

	CHECK(err == -ENOEXEC && !elf, "%s: sym_elf_open = %d", what, err);
	if (!err)
		sym_elf_free(elf);
}

static void check_corrupt(void)
{
	const char *pie = test_env("SYM_PIE"), *dir = test_tmpdir();
	static const size_t cuts[] = { 0, 4, 16, 63, 64, 200, 1000, 4096 };
	unsigned char junk[8192];
	uint32_t seed = 12345;
	char path[256];
	struct stat st;
	size_t size;

	if (stat(pie, &st))
		return;
	size = (size_t)st.st_size;
	snprintf(path, sizeof(path), "%s/truncated", dir);
	/* Section headers sit at the end of a linked file: any cut loses
	 * some of them, and a file missing part of itself is refused whole. */
	for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
		CHECK(!test_copy_prefix(pie, path, cuts[i]), "copy");
		expect_enoexec(path, "truncated");
	}
	CHECK(!test_copy_prefix(pie, path, size / 2), "copy");
	expect_enoexec(path, "truncated to half");
	CHECK(!test_copy_prefix(pie, path, size - 1), "copy");
	expect_enoexec(path, "one byte short");

	for (size_t i = 0; i < sizeof(junk); i++) {
		seed = seed * 1103515245u + 12345u;
		junk[i] = (unsigned char)(seed >> 16);
	}
	snprintf(path, sizeof(path), "%s/random", dir);
	CHECK(!test_write_file(path, junk, sizeof(junk)), "write");
	expect_enoexec(path, "random bytes");
	/* An ELF identification followed by noise. */
	memcpy(junk, "\177ELF\2\1\1", 7);
	CHECK(!test_write_file(path, junk, sizeof(junk)), "write");
	expect_enoexec(path, "ELF magic then random bytes");

	expect_enoexec(dir, "a directory");
	snprintf(path, sizeof(path), "%s/fifo", dir);
	CHECK(!mkfifo(path, 0600), "mkfifo");
	expect_enoexec(path, "a FIFO");
	snprintf(path, sizeof(path), "%s/absent", dir);
	CHECK(sym_elf_open(path, &(struct sym_elf *){ NULL }) == -ENOENT, "absent file");
}

int main(void)
{
	for (size_t i = 0; i < sizeof(fixtures) / sizeof(fixtures[0]); i++)
		check_fixture(&fixtures[i]);
	check_aliases();
	check_corrupt();
	return check_report("test_elf");
}
