/* sym_elf on Go binaries built with -ldflags='-s -w' (no .symtab, no
 * .dynsym), named from .gopclntab: every function nm lists in the same
 * program built without -s -w must be named alike in the stripped build, at
 * its first byte, its second and its last. Built twice, as an executable
 * and as a PIE (whose table Go names .data.rel.ro.gopclntab). readelf's
 * section list of each stripped file proves that it has no .symtab, so the
 * names can only come from the table; corrupt tables fail cleanly. */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "sym.h"
#include "test_util.h"

/* The fixture calls into fmt: the runtime and it hold well over this many
 * functions, ours among them. */
#define MIN_CHECKED 800

struct go_fixture {
	const char *stripped_env; /* the -s -w build */
	const char *nm_env;       /* nm -S of the same program built without */
	const char *sections_env; /* readelf -SW of the stripped build */
};

static const struct go_fixture fixtures[] = {
	{ "SYM_GO_STRIPPED", "SYM_GO_NM", "SYM_GO_SECTIONS" },
	{ "SYM_GO_PIE_STRIPPED", "SYM_GO_PIE_NM", "SYM_GO_PIE_SECTIONS" },
};

/* Functions that must be among those checked. */
static const char *const required[] = {
	"main.main", "main.yourFunc", "main.(*counter).bump",
	"main.closureMaker", "main.closureMaker.func1",
	"runtime.main", "runtime.mallocgc", "fmt.Fprintln",
};
#define NREQUIRED (sizeof(required) / sizeof(required[0]))

/* Where readelf -SW puts the section whose name ends in "gopclntab";
 * whether it lists a .symtab. */
struct sections {
	bool symtab;
	uint64_t pcln_addr, pcln_off, pcln_size;
};

static int read_sections(const char *path, struct sections *s)
{
	char line[512], name[128], type[64];
	uint64_t addr, off, size;
	FILE *f = fopen(path, "r");

	memset(s, 0, sizeof(*s));
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		const char *p = strchr(line, ']');
		size_t len;

		if (!p || sscanf(p + 1, "%127s %63s %" SCNx64 " %" SCNx64 " %" SCNx64,
				 name, type, &addr, &off, &size) != 5)
			continue;
		len = strlen(name);
		if (!strcmp(name, ".symtab"))
			s->symtab = true;
		if (len >= 9 && !strcmp(name + len - 9, "gopclntab")) {
			s->pcln_addr = addr;
			s->pcln_off = off;
			s->pcln_size = size;
		}
	}
	fclose(f);
	return s->pcln_size ? 0 : -ENOENT;
}

/* The name Go's own tools and tracebacks give the function nm calls sym;
 * false when the table holds no name nm's can be compared with. */
static bool go_name(const char *sym, char *out, size_t len)
{
	size_t n = strlen(sym);

	/* The table shortens what brackets hold to "[...]" (generic
	 * instances, type..eq.[2]T): cmd/link/internal/ld/pcln.go,
	 * nameParts. */
	if (strchr(sym, '[') || n >= len)
		return false;
	memcpy(out, sym, n + 1);
	/* The symbol table, not the pclntab, marks an assembly function that
	 * has an ABIInternal wrapper with ".abi0" (cmd/link/internal/ld/
	 * symtab.go, mangleABIName). */
	if (n > 5 && !strcmp(out + n - 5, ".abi0"))
		out[n - 5] = '\0';
	return true;
}

/* One line of nm -S: address, size, type, name (the rest of the line: a
 * Go name may hold spaces). False for a symbol without a size, whose line
 * has one field less. */
static bool parse_nm_line(char *line, uint64_t *addr, uint64_t *size, char *type,
			  const char **name)
{
	char size_hex[32], type_s[32], *end;
	int pos = 0;

	line[strcspn(line, "\n")] = '\0';
	if (sscanf(line, "%" SCNx64 " %31s %31s %n", addr, size_hex, type_s, &pos) != 3 ||
	    !pos || strlen(type_s) != 1 || !line[pos])
		return false;
	*size = strtoull(size_hex, &end, 16);
	if (*end)
		return false;
	*type = type_s[0];
	*name = line + pos;
	return true;
}

/* The address nm -S gives sym; 0 when it lists none. */
static uint64_t nm_sized_addr(const char *nm, const char *sym)
{
	uint64_t addr, size, found = 0;
	char line[1024], type;
	const char *name;
	FILE *f = fopen(nm, "r");

	while (f && fgets(line, sizeof(line), f))
		if (parse_nm_line(line, &addr, &size, &type, &name) && !strcmp(name, sym))
			found = addr;
	if (f)
		fclose(f);
	return found;
}

/* Each sized text symbol nm lists, named at its first, second and last
 * byte. */
static void check_names(const struct go_fixture *fx, const struct sym_elf *elf)
{
	const char *nm = test_env(fx->nm_env);
	bool seen[NREQUIRED] = { false };
	size_t checked = 0, wrong = 0;
	char line[1024], want[512];
	FILE *f = fopen(nm, "r");

	CHECK(f, "cannot read %s", nm);
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		uint64_t addr, size;
		const char *sym;
		char type;

		if (!parse_nm_line(line, &addr, &size, &type, &sym) ||
		    (type != 'T' && type != 't') || !size ||
		    !go_name(sym, want, sizeof(want)))
			continue;
		const uint64_t at[] = { addr, addr + (size > 1), addr + size - 1 };
		for (size_t i = 0; i < 3; i++) {
			const char *name = NULL;
			int err = sym_elf_lookup(elf, at[i], &name);

			if (!err && !strcmp(name, want))
				continue;
			if (++wrong <= 10)
				fprintf(stderr, "%s: 0x%" PRIx64 " (%s+%" PRIu64 "): err %d name %s\n",
					test_env(fx->stripped_env), at[i], want, at[i] - addr,
					err, err ? "-" : name);
			break;
		}
		checked++;
		for (size_t i = 0; i < NREQUIRED; i++)
			seen[i] |= !strcmp(want, required[i]);
	}
	fclose(f);
	CHECK(!wrong, "%zu of %zu functions misnamed", wrong, checked);
	CHECK(checked >= MIN_CHECKED, "only %zu functions in %s", checked, nm);
	for (size_t i = 0; i < NREQUIRED; i++)
		CHECK(seen[i], "%s not among nm's functions in %s", required[i], nm);
}

static void check_fixture(const struct go_fixture *fx)
{
	const char *path = test_env(fx->stripped_env);
	struct sections s;
	struct sym_elf *elf;
	const char *name;
	int err;

	CHECK(!read_sections(test_env(fx->sections_env), &s),
	      "readelf shows no gopclntab in %s", path);
	CHECK(!s.symtab, "%s has a .symtab: it was not stripped", path);
	err = sym_elf_open(path, &elf);
	CHECK(!err, "sym_elf_open(%s) = %d", path, err);
	if (err)
		return;
	check_names(fx, elf);
	/* Not code: the table's own bytes. */
	CHECK(sym_elf_lookup(elf, s.pcln_addr, &name) == -ENOENT,
	      "%s: .gopclntab's address named", path);
	CHECK(sym_elf_lookup(elf, 0, &name) == -ENOENT, "address 0 named in %s", path);
	sym_elf_free(elf);
}

/* Symbols win where there are some: the unstripped build names an
 * assembly function as its .symtab does, ".abi0" and all. */
static void check_symbols_win(void)
{
	const char *path = test_env("SYM_GO"), *nm = test_env("SYM_GO_NM");
	uint64_t addr = nm_sized_addr(nm, "runtime.asyncPreempt.abi0");
	struct sym_elf *elf;
	const char *name;

	CHECK(addr, "nm lists no runtime.asyncPreempt.abi0 in %s", nm);
	if (sym_elf_open(path, &elf)) {
		CHECK(0, "sym_elf_open(%s)", path);
		return;
	}
	CHECK_NAME(sym_elf_lookup(elf, addr, &name), name, "runtime.asyncPreempt.abi0");
	sym_elf_free(elf);
}

static uint8_t *read_whole(const char *path, size_t *size)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	long n;

	if (f && !fseek(f, 0, SEEK_END) && (n = ftell(f)) > 0 && !fseek(f, 0, SEEK_SET)) {
		buf = malloc((size_t)n);
		if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
			free(buf);
			buf = NULL;
		}
		*size = (size_t)n;
	}
	if (f)
		fclose(f);
	return buf;
}

static void put_le(uint8_t *p, uint64_t v, size_t width)
{
	for (size_t i = 0; i < width; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *p, size_t width)
{
	uint64_t v = 0;

	for (size_t i = width; i--;)
		v = v << 8 | p[i];
	return v;
}

/* The table's layout (runtime/symtab.go: pcHeader; amd64: 8-byte words)
 * tells where to break it. */
enum { W_NFUNC = 8, W_TEXT_START = 24, W_FUNCNAMES = 32, W_FUNCTAB = 64 };

/* The stripped executable with its table broken one way at a time: each
 * either fails as a whole (-ENOEXEC) or opens without Go names, never
 * anything else; textStart missing from the file falls back to .text,
 * where Go's linker puts runtime.text. */
static void check_corrupt(void)
{
	const char *path = test_env("SYM_GO_STRIPPED"), *nm = test_env("SYM_GO_NM");
	uint64_t main_addr = nm_sized_addr(nm, "main.main");
	char tmp[256];
	struct sections s;
	uint8_t *orig, *buf;
	size_t size = 0;

	snprintf(tmp, sizeof(tmp), "%s/go-corrupt", test_tmpdir());
	orig = read_whole(path, &size);
	buf = orig ? malloc(size) : NULL;
	CHECK(buf && !read_sections(test_env("SYM_GO_SECTIONS"), &s) &&
	      s.pcln_off + s.pcln_size <= size && s.pcln_size > 72,
	      "cannot read %s", path);
	if (!buf || s.pcln_off + s.pcln_size > size || s.pcln_size <= 72) {
		free(orig);
		free(buf);
		return;
	}
	const uint8_t *t = orig + s.pcln_off;
	const uint64_t functab = get_le(t + W_FUNCTAB, 8);
	const uint64_t func0 = functab + get_le(t + functab + 4, 4);
	const struct {
		const char *what;
		uint64_t off, value;
		size_t width;
		int err; /* of sym_elf_open; 0: opens, and names main.main iff named */
		bool named;
	} cases[] = {
		{ "unchanged", 0, 0xfffffff0, 4, 0, true },
		{ "Go 1.20 magic", 0, 0xfffffff1, 4, 0, true },
		{ "Go 1.16 magic", 0, 0xfffffffa, 4, 0, false },
		{ "unknown magic", 0, 0x12345678, 4, 0, false },
		{ "pointer size 3", 7, 3, 1, 0, false },
		{ "padding set", 4, 1, 1, -ENOEXEC, false },
		{ "no functions", W_NFUNC, 0, 8, 0, false },
		{ "nfunc past the end", W_NFUNC, s.pcln_size / 8, 8, -ENOEXEC, false },
		{ "nfunc huge", W_NFUNC, UINT64_MAX / 2, 8, -ENOEXEC, false },
		{ "textStart unrelocated", W_TEXT_START, 0, 8, 0, true },
		{ "textStart wraps", W_TEXT_START, UINT64_MAX - 8, 8, -ENOEXEC, false },
		{ "funcnametab past the end", W_FUNCNAMES, s.pcln_size, 8, -ENOEXEC, false },
		{ "funcnametab at the end", W_FUNCNAMES, s.pcln_size - 1, 8, -ENOEXEC, false },
		{ "functab past the end", W_FUNCTAB, s.pcln_size, 8, -ENOEXEC, false },
		{ "functab at the end", W_FUNCTAB, s.pcln_size - 4, 8, -ENOEXEC, false },
		{ "first _func past the end", functab + 4, 0xfffffff0, 4, -ENOEXEC, false },
		{ "first _func elsewhere", functab + 4, 8, 4, -ENOEXEC, false },
		{ "third entry before the second", functab + 16,
		  get_le(t + functab + 8, 4) - 1, 4, -ENOEXEC, false },
		{ "negative name offset", func0 + 4, 0x80000000, 4, -ENOEXEC, false },
		{ "name offset past the end", func0 + 4, s.pcln_size, 4, -ENOEXEC, false },
		{ "end before the last entry", functab + 8 * get_le(t + W_NFUNC, 8), 0, 4,
		  -ENOEXEC, false },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sym_elf *elf = NULL;
		const char *name;
		int err;

		if (cases[i].off + cases[i].width > s.pcln_size) {
			CHECK(0, "%s: offset 0x%" PRIx64 " outside the table", cases[i].what,
			      cases[i].off);
			continue;
		}
		memcpy(buf, orig, size);
		put_le(buf + s.pcln_off + cases[i].off, cases[i].value, cases[i].width);
		if (test_write_file(tmp, buf, size)) {
			CHECK(0, "cannot write %s", tmp);
			continue;
		}
		err = sym_elf_open(tmp, &elf);
		CHECK(err == cases[i].err, "%s: sym_elf_open = %d, want %d", cases[i].what,
		      err, cases[i].err);
		if (err)
			continue;
		err = sym_elf_lookup(elf, main_addr, &name);
		if (cases[i].named)
			CHECK(!err && !strcmp(name, "main.main"), "%s: main.main is %s",
			      cases[i].what, err ? "unnamed" : name);
		else
			CHECK(err == -ENOENT, "%s: main.main named %s", cases[i].what,
			      err ? "-" : name);
		sym_elf_free(elf);
	}
	free(orig);
	free(buf);
}

int main(void)
{
	for (size_t i = 0; i < sizeof(fixtures) / sizeof(fixtures[0]); i++)
		check_fixture(&fixtures[i]);
	check_symbols_win();
	check_corrupt();
	return check_report("test_gopclntab");
}
