/* DWARF through the cache: function, file:line and inlined calls of every
 * address of two functions, as binutils' addr2line -i -f tells them; the
 * same through a debug file found by build-id in a --debug-dir, and by
 * .gnu_debuglink (and not when its CRC is wrong); the same of an LTO build
 * (inlined code whose abstract origins are in another CU), itself and
 * stripped with a compressed debug file, as llvm-symbolizer tells them;
 * one read for two copies of one build-id; eviction; a truncated debug
 * file survived. */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dwarf_unused.h"
#include "sym.h"
#include "test_util.h"

#define MAX_ADDRS 512
#define MAX_CHAIN 8

struct chain {
	int n;
	char name[MAX_CHAIN][256];
	char file[MAX_CHAIN][512];
	long line[MAX_CHAIN];
};

struct addrs {
	size_t n;
	uint64_t a[MAX_ADDRS];
	struct chain want[MAX_ADDRS];
};

/* Address and size of sym from `nm -S` output. */
static int nm_range(const char *nm_file, const char *sym, uint64_t *addr, uint64_t *size)
{
	FILE *f = fopen(nm_file, "r");
	char line[512], name[256], type;
	int found = -ENOENT;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%" SCNx64 " %" SCNx64 " %c %255s", addr, size, &type, name) == 4 &&
		    !strcmp(name, sym)) {
			found = 0;
			break;
		}
	fclose(f);
	return found;
}

static void add_range(struct addrs *as, const char *nm_file, const char *sym)
{
	uint64_t addr, size;

	CHECK(nm_range(nm_file, sym, &addr, &size) == 0, "%s not in %s", sym, nm_file);
	for (uint64_t a = addr; a < addr + size && as->n < MAX_ADDRS; a++)
		as->a[as->n++] = a;
}

/* Which program tells the test what an address holds. */
enum oracle {
	ADDR2LINE,
	/* For LTO builds: binutils 2.40 names the innermost file of a
	 * DWARF 5 "<artificial>" unit after entry 0 of its file table
	 * ("<artificial>") where the row's file is entry 1. */
	LLVM_SYMBOLIZER,
};

/* "name" lines and "file:line" lines (llvm-symbolizer: "file:line:column"),
 * in pairs, innermost first; a new address starts where the previous chain
 * ended with its subprogram, which addr2line does not mark: so it is run
 * once per address. */
static void oracle_chain(enum oracle o, const char *file, uint64_t addr, struct chain *c)
{
	char cmd[1024], name[256], where[512];
	FILE *p;

	if (o == LLVM_SYMBOLIZER)
		snprintf(cmd, sizeof(cmd), "llvm-symbolizer --obj='%s' --inlining 0x%" PRIx64,
			 file, addr);
	else
		snprintf(cmd, sizeof(cmd), "addr2line -i -f -e '%s' 0x%" PRIx64, file, addr);
	p = popen(cmd, "r");
	CHECK(p != NULL);
	if (!p)
		return;
	c->n = 0;
	while (c->n < MAX_CHAIN && fgets(name, sizeof(name), p) && fgets(where, sizeof(where), p)) {
		char *colon, *disc;

		name[strcspn(name, "\n")] = '\0';
		where[strcspn(where, "\n")] = '\0';
		disc = strstr(where, " (discriminator");
		if (disc)
			*disc = '\0';
		colon = strrchr(where, ':');
		if (colon && o == LLVM_SYMBOLIZER) {
			*colon = '\0';
			colon = strrchr(where, ':');
		}
		if (!colon)
			break;
		*colon = '\0';
		snprintf(c->name[c->n], sizeof(c->name[0]), "%s", name);
		snprintf(c->file[c->n], sizeof(c->file[0]), "%s", where);
		c->line[c->n] = strtol(colon + 1, NULL, 10);
		c->n++;
	}
	pclose(p);
}

static bool same_chain(const struct sym_location *loc, const struct chain *c)
{
	if ((int)loc->n != c->n)
		return false;
	for (int i = 0; i < c->n; i++) {
		const struct sym_frame *f = &loc->frames[i];

		if (strcmp(f->name, c->name[i]) || !f->file || strcmp(f->file, c->file[i]) ||
		    f->line != c->line[i])
			return false;
	}
	return true;
}

static void print_mismatch(uint64_t a, const struct sym_location *loc, const struct chain *c)
{
	fprintf(stderr, "  0x%" PRIx64 ": expected:", a);
	for (int i = 0; i < c->n; i++)
		fprintf(stderr, " %s@%s:%ld", c->name[i], c->file[i], c->line[i]);
	fprintf(stderr, "\n  0x%" PRIx64 ": ours:    ", a);
	for (size_t i = 0; i < loc->n; i++)
		fprintf(stderr, " %s@%s:%" PRId64, loc->frames[i].name,
			loc->frames[i].file ? loc->frames[i].file : "??", loc->frames[i].line);
	fputc('\n', stderr);
}

static struct sym_elf *open_host(struct sym_cache *c, const char *path)
{
	struct sym_file_ref ref = { .path = path };
	struct sym_elf *elf = NULL;

	CHECK_INT(sym_cache_get_elf(c, &ref, &elf), 0);
	return elf;
}

/* Every address of as resolves in file as its oracle says; returns how many
 * held inlined calls. */
static size_t check_all(struct sym_cache *c, const char *path, const struct addrs *as)
{
	struct sym_elf *elf = open_host(c, path);
	size_t inlined = 0, wrong = 0;

	if (!elf)
		return 0;
	for (size_t i = 0; i < as->n; i++) {
		struct sym_location loc;

		CHECK_INT(sym_elf_resolve(c, elf, as->a[i], &loc), 0);
		CHECK(loc.from_dwarf, "0x%" PRIx64 " not from DWARF", as->a[i]);
		if (!same_chain(&loc, &as->want[i]) && wrong++ < 5)
			print_mismatch(as->a[i], &loc, &as->want[i]);
		inlined += loc.n > 1;
	}
	CHECK(wrong == 0, "%s: %zu of %zu addresses differ from the oracle", path, wrong, as->n);
	return inlined;
}

static struct sym_cache *cache_with_dirs(const char *const *dirs, size_t max_bytes)
{
	struct sym_cache_opts o = { .sz = sizeof(o), .debug_dirs = dirs, .max_bytes = max_bytes };
	struct sym_cache *c = sym_cache_new(&o);

	CHECK(c != NULL);
	return c;
}

static void test_inline_chains(const struct addrs *as)
{
	struct sym_cache *c = cache_with_dirs(NULL, 0);
	size_t inlined = check_all(c, test_env("SYM_INLINE"), as);

	/* Otherwise the fixture proves nothing about inlining. */
	CHECK(inlined > as->n / 4, "only %zu of %zu addresses in inlined code", inlined, as->n);
	sym_cache_free(c);
}

static void copy_whole(const char *src, const char *dst)
{
	struct stat st;

	CHECK_INT(stat(src, &st), 0);
	CHECK_INT(test_copy_prefix(src, dst, (size_t)st.st_size), 0);
}

/* DIR/.build-id/xx/yyyy.debug for the build-id readelf -n gave in
 * notes_file, its directory made. */
static const char *build_id_path(const char *notes_file, const char *dir, char *buf,
				 size_t len)
{
	char id[160];

	CHECK_INT(test_readelf_build_id(notes_file, id, sizeof(id)), 0);
	snprintf(buf, len, "%s/.build-id/%.2s", dir, id);
	CHECK_INT(test_mkdirs(buf), 0);
	snprintf(buf, len, "%s/.build-id/%.2s/%s.debug", dir, id, id + 2);
	return buf;
}

static void test_debug_dir(const struct addrs *as)
{
	char dir[PATH_MAX], path[PATH_MAX];
	const char *dirs[] = { dir, NULL };
	struct sym_cache_stats st;
	struct sym_location loc;
	struct sym_cache *c;
	struct sym_elf *elf;

	snprintf(dir, sizeof(dir), "%s/dbg", test_tmpdir());
	copy_whole(test_env("SYM_INLINE_DEBUG"),
		   build_id_path(test_env("SYM_INLINE_NOTES"), dir, path, sizeof(path)));

	/* Without the directory the stripped file names nothing. */
	c = cache_with_dirs(NULL, 0);
	elf = open_host(c, test_env("SYM_INLINE_STRIPPED"));
	if (elf) {
		CHECK_INT(sym_elf_resolve(c, elf, as->a[0], &loc), 0);
		CHECK_INT(loc.n, 0);
	}
	sym_cache_free(c);

	c = cache_with_dirs(dirs, 0);
	check_all(c, test_env("SYM_INLINE_STRIPPED"), as);
	sym_cache_get_stats(c, &st);
	CHECK_U64(st.debug_files, 1);
	sym_cache_free(c);
}

/* The stripped copy with a .gnu_debuglink, beside its debug file. */
static void test_debuglink(const struct addrs *as)
{
	char dir[PATH_MAX - 64], bin[PATH_MAX], dbg[PATH_MAX];
	struct sym_location loc;
	struct sym_cache *c;
	struct sym_elf *elf;
	FILE *f;

	snprintf(dir, sizeof(dir), "%s/link", test_tmpdir());
	CHECK_INT(test_mkdirs(dir), 0);
	snprintf(bin, sizeof(bin), "%s/prog", dir);
	snprintf(dbg, sizeof(dbg), "%s/fixture_inline.debug", dir);
	copy_whole(test_env("SYM_INLINE_LINKED"), bin);
	copy_whole(test_env("SYM_INLINE_DEBUG"), dbg);
	c = cache_with_dirs(NULL, 0);
	check_all(c, bin, as);
	sym_cache_free(c);

	/* A debug file whose CRC is not the one the link gives is another
	 * build's: not used. */
	f = fopen(dbg, "r+");
	CHECK(f != NULL);
	if (f) {
		fseek(f, -1, SEEK_END);
		fputc(fgetc(f) ^ 1, f);
		fclose(f);
	}
	c = cache_with_dirs(NULL, 0);
	elf = open_host(c, bin);
	if (elf) {
		CHECK_INT(sym_elf_resolve(c, elf, as->a[0], &loc), 0);
		CHECK_INT(loc.n, 0);
	}
	sym_cache_free(c);
}

/* Whether `readelf -SW` output lists section name with the C flag
 * (SHF_COMPRESSED). */
static bool section_compressed(const char *sections_file, const char *name)
{
	char line[512], sec[128], flags[32];
	FILE *f = fopen(sections_file, "r");
	bool compressed = false;

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		char *p = strchr(line, ']');

		if (p && sscanf(p + 1, "%127s %*s %*s %*s %*s %*s %31s", sec, flags) == 2 &&
		    !strcmp(sec, name))
			compressed = strchr(flags, 'C') != NULL;
	}
	fclose(f);
	return compressed;
}

/* GCC's LTO puts the concrete code in "<artificial>" units and the
 * abstract definitions of what was inlined in the source file's own CU:
 * what Debian's python3.11 is, whose debug file (python3.11-dbg) also has
 * compressed sections. */
static void test_lto(const struct addrs *as)
{
	char dir[PATH_MAX], path[PATH_MAX];
	const char *dirs[] = { dir, NULL };
	struct sym_cache_stats st;
	struct sym_cache *c;
	unsigned long left;
	size_t inlined;

	c = cache_with_dirs(NULL, 0);
	inlined = check_all(c, test_env("SYM_INLINE_LTO"), as);
	CHECK(inlined > as->n / 4, "LTO: only %zu of %zu addresses in inlined code", inlined,
	      as->n);
	sym_cache_free(c);

	CHECK(section_compressed(test_env("SYM_INLINE_LTO_SECTIONS"), ".debug_info"),
	      "the LTO fixture's debug file must have a compressed .debug_info");
	snprintf(dir, sizeof(dir), "%s/dbg_lto", test_tmpdir());
	copy_whole(test_env("SYM_INLINE_LTO_DEBUG"),
		   build_id_path(test_env("SYM_INLINE_LTO_NOTES"), dir, path, sizeof(path)));
	/* Its location lists are left compressed (dwarf_unused.c), and the
	 * names, lines and inlined chains are the oracle's all the same. */
	CHECK(section_compressed(test_env("SYM_INLINE_LTO_SECTIONS"), ".debug_loclists"),
	      "the LTO fixture's debug file must have a compressed .debug_loclists");
	left = sym_dwarf_unused_left();
	c = cache_with_dirs(dirs, 0);
	check_all(c, test_env("SYM_INLINE_LTO_STRIPPED"), as);
	sym_cache_get_stats(c, &st);
	CHECK_U64(st.debug_files, 1);
	CHECK_U64(sym_dwarf_unused_left() - left, 1);
	sym_cache_free(c);
}

static void test_build_id_shared(void)
{
	char a[PATH_MAX], b[PATH_MAX];
	struct sym_cache *c = cache_with_dirs(NULL, 0);
	struct sym_cache_stats st;
	struct sym_elf *ea, *eb;

	snprintf(a, sizeof(a), "%s/copy_a", test_tmpdir());
	snprintf(b, sizeof(b), "%s/copy_b", test_tmpdir());
	copy_whole(test_env("SYM_INLINE"), a);
	copy_whole(test_env("SYM_INLINE"), b);
	ea = open_host(c, a);
	eb = open_host(c, b);
	CHECK(ea && ea == eb, "two copies of one build-id must share one entry");
	sym_cache_get_stats(c, &st);
	CHECK_U64(st.files_opened, 1);
	CHECK_U64(st.hits, 1);
	sym_cache_free(c);
}

static void test_eviction(const struct addrs *as)
{
	struct sym_cache *c = cache_with_dirs(NULL, 1);
	struct sym_cache_stats st;

	check_all(c, test_env("SYM_INLINE"), as);
	sym_cache_trim(c);
	sym_cache_get_stats(c, &st);
	CHECK_U64(st.evictions, 1);
	CHECK_U64(st.bytes, 0);
	/* Read again, and still right. */
	check_all(c, test_env("SYM_INLINE"), as);
	sym_cache_get_stats(c, &st);
	CHECK_U64(st.files_opened, 2);
	sym_cache_free(c);
}

/* A debug file cut short: whatever it gives, nothing breaks. */
static void test_truncated_debug(const struct addrs *as)
{
	char dir[PATH_MAX], path[PATH_MAX];
	const char *dirs[] = { dir, NULL };
	struct sym_location loc;
	struct sym_cache *c;
	struct sym_elf *elf;
	struct stat st;

	CHECK_INT(stat(test_env("SYM_INLINE_DEBUG"), &st), 0);
	for (size_t cut = 64; cut < (size_t)st.st_size; cut = cut * 3 / 2) {
		snprintf(dir, sizeof(dir), "%s/trunc%zu", test_tmpdir(), cut);
		build_id_path(test_env("SYM_INLINE_NOTES"), dir, path, sizeof(path));
		CHECK_INT(test_copy_prefix(test_env("SYM_INLINE_DEBUG"), path, cut), 0);
		c = cache_with_dirs(dirs, 0);
		elf = open_host(c, test_env("SYM_INLINE_STRIPPED"));
		for (size_t i = 0; elf && i < as->n; i += 7)
			CHECK_INT(sym_elf_resolve(c, elf, as->a[i], &loc), 0);
		sym_cache_free(c);
	}
}

/* Every address of the functions syms[] of fixture env (its nm listing in
 * env_NM), with what the oracle says of each. */
static void addresses_of(struct addrs *as, const char *env, const char *const *syms,
			 enum oracle o)
{
	char nm_env[64];

	snprintf(nm_env, sizeof(nm_env), "%s_NM", env);
	for (size_t i = 0; syms[i]; i++)
		add_range(as, test_env(nm_env), syms[i]);
	for (size_t i = 0; i < as->n; i++)
		oracle_chain(o, test_env(env), as->a[i], &as->want[i]);
	CHECK(as->n > 20, "%s: only %zu addresses", env, as->n);
}

int main(void)
{
	/* LTO clones inline_plain (inline_plain.constprop.0): main instead. */
	static const char *const syms[] = { "inline_outer", "inline_plain", NULL };
	static const char *const lto_syms[] = { "inline_outer", "main", NULL };
	static struct addrs as, lto;

	addresses_of(&as, "SYM_INLINE", syms, ADDR2LINE);
	addresses_of(&lto, "SYM_INLINE_LTO", lto_syms, LLVM_SYMBOLIZER);

	test_inline_chains(&as);
	test_debug_dir(&as);
	test_debuglink(&as);
	test_lto(&lto);
	test_build_id_shared();
	test_eviction(&as);
	test_truncated_debug(&as);
	return check_report("sym_dwarf");
}
