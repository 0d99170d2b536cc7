/* Issue 14: a file that claims another file's build-id must never change
 * that other file's tables or names. Two fixtures are built from one
 * source with the same --build-id=0x... (SYM_FORGED_BUILD_ID) and their
 * hot function under two names (forged_a_hot, forged_b_hot): same note,
 * same layout, other bytes. Through the parser worker (WORKER_HOST) and
 * through the cache's local path, in both orders, each must come out as
 * its own sym_elf, with its own content id (checked against coreutils'
 * sha256sum, SYM_FORGED_X_SHA256), its own unwind table and its own
 * names; and a byte-for-byte copy of one (another inode: a container's
 * copy of a library) must still share that one's sym_elf. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "sym.h"
#include "test_util.h"
#include "unwind.h"

struct fixture {
	const char *path;
	const char *hot;  /* its hot function's name */
	uint64_t addr;    /* and address, from nm */
	char sha256[65];  /* from sha256sum */
};

static void load_fixture(struct fixture *f, const char *var, const char *hot)
{
	char name[64], sumfile[PATH_MAX];
	FILE *s;

	snprintf(name, sizeof(name), "%s_NM", var);
	f->path = test_env(var);
	f->hot = hot;
	f->addr = test_nm_addr(test_env(name), hot);
	CHECK(f->addr, "%s not in %s", hot, test_env(name));
	snprintf(sumfile, sizeof(sumfile), "%s", test_env(strcat(strcpy(name, var), "_SHA256")));
	s = fopen(sumfile, "r");
	f->sha256[0] = '\0';
	CHECK(s && fscanf(s, "%64s", f->sha256) == 1, "read %s", sumfile);
	if (s)
		fclose(s);
}

static struct sym_elf *get(struct sym_cache *c, const char *path)
{
	struct sym_elf *elf = NULL;
	int err = sym_cache_get_elf(c, &(struct sym_file_ref){ .path = path }, &elf);

	CHECK(err == 0 && elf, "sym_cache_get_elf(%s): %d", path, err);
	return err ? NULL : elf;
}

/* The name the cache gives vaddr of elf ("" when none). */
static const char *name_at(struct sym_cache *c, struct sym_elf *elf, uint64_t vaddr)
{
	struct sym_location loc;

	sym_cache_want(c, elf, vaddr, 1);
	sym_cache_fetch(c);
	if (sym_elf_resolve(c, elf, vaddr, &loc) || !loc.n || !loc.frames[0].name)
		return "";
	return loc.frames[0].name;
}

/* elf's unwind table is the one its own file makes, read alone. */
static void check_own_table(const struct sym_elf *elf, const char *path)
{
	const struct sym_unwind_table *got = sym_elf_unwind_table(elf), *want;
	struct sym_elf *alone = NULL;

	CHECK(sym_elf_open(path, &alone) == 0, "sym_elf_open(%s)", path);
	want = sym_elf_unwind_table(alone);
	CHECK(got && want && got->n == want->n &&
	      !memcmp(got->rows, want->rows, want->n * sizeof(struct smolder_unwind_row)),
	      "%s: the unwind table is not its own", path);
	if (alone)
		CHECK_STR(sym_elf_content_id(alone), sym_elf_content_id(elf));
	sym_elf_free(alone);
}

static void check_own(struct sym_cache *c, struct sym_elf *elf, const struct fixture *f,
		      const struct fixture *other, const char *build_id, const char *how)
{
	if (!elf)
		return;
	CHECK_STR(sym_elf_build_id(elf), build_id);
	CHECK_STR(sym_elf_content_id(elf), f->sha256);
	CHECK_STR(name_at(c, elf, f->addr), f->hot);
	/* Same layout: the other's function sits where this one's does, and
	 * is named with this file's name, never the other's. */
	if (other->addr == f->addr)
		CHECK(strcmp(name_at(c, elf, other->addr), other->hot), "%s: %s named %s", how,
		      f->path, other->hot);
	check_own_table(elf, f->path);
}

/* first is read before second; copy is first's bytes at another inode. */
static void check_pair(struct sym_worker *w, const struct fixture *first,
		       const struct fixture *second, const char *copy, const char *build_id)
{
	struct sym_cache *c = sym_cache_new(&(struct sym_cache_opts){
		.sz = sizeof(struct sym_cache_opts),
		.worker = w,
	});
	const char *how = w ? "worker" : "local";
	struct sym_cache_stats st;
	struct sym_elf *a, *b, *a2;

	CHECK(c, "sym_cache_new");
	if (!c)
		return;
	a = get(c, first->path);
	b = get(c, second->path);
	CHECK(a && b && a != b, "%s: %s and %s share a sym_elf", how, first->path,
	      second->path);
	check_own(c, a, first, second, build_id, how);
	check_own(c, b, second, first, build_id, how);
	/* The same bytes elsewhere are the same file: read once. */
	a2 = get(c, copy);
	CHECK(a2 == a, "%s: the copy of %s was read again", how, first->path);
	sym_cache_get_stats(c, &st);
	CHECK_U64(st.files_opened, 2);
	sym_cache_free(c);
}

int main(void)
{
	const char *build_id = test_env("SYM_FORGED_BUILD_ID");
	struct fixture fa, fb;
	char copy[PATH_MAX];

	load_fixture(&fa, "SYM_FORGED_A", "forged_a_hot");
	load_fixture(&fb, "SYM_FORGED_B", "forged_b_hot");
	CHECK(strcmp(fa.sha256, fb.sha256), "the fixtures are the same bytes");
	CHECK(fa.addr == fb.addr, "the fixtures' layouts differ: %" PRIx64 " %" PRIx64,
	      fa.addr, fb.addr);
	for (int i = 0; i < 2; i++) {
		const struct fixture *first = i ? &fb : &fa, *second = i ? &fa : &fb;
		struct sym_worker *w = sym_worker_new(&(struct sym_worker_opts){
			.sz = sizeof(struct sym_worker_opts),
			.exe = test_env("WORKER_HOST"),
		});
		struct stat st;

		snprintf(copy, sizeof(copy), "%s/copy_%d", test_tmpdir(), i);
		CHECK(stat(first->path, &st) == 0 &&
		      test_copy_prefix(first->path, copy, (size_t)st.st_size) == 0, "copy %s",
		      first->path);
		CHECK(w, "sym_worker_new");
		check_pair(w, first, second, copy, build_id);
		check_pair(NULL, first, second, copy, build_id);
		sym_worker_free(w);
	}
	return check_report("test_forged_build_id");
}
