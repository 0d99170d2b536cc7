/* Unit tests of the vDSO's names (symbolizer/vdso.c), on this process's own
 * vDSO: every function of its dynamic symbol table is found at each of its
 * bytes under its global name (__vdso_clock_gettime, not the weak alias
 * clock_gettime), nothing before the first; and a [vdso] mapping counts as
 * the agent's image only at its length and above 4 GiB. */
#include <elf.h>
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/auxv.h>

#include "check.h"
#include "sym.h"

/* The offset of the function named name from the start of the mapping:
 * the first offset that names it. */
static long first_offset_of(const struct sym_vdso_names *v, uint64_t size, const char *name)
{
	for (uint64_t off = 0; off < size; off++) {
		const char *got;

		if (sym_vdso_names_lookup(v, off, &got) == 0 && !strcmp(got, name))
			return (long)off;
	}
	return -1;
}

static void test_names(void)
{
	struct sym_vdso_names *v = NULL;
	uint64_t size = sym_vdso_size();
	const char *got = NULL;
	long at;
	int aliases = 0;

	CHECK(size > 0 && size % 4096 == 0, "vDSO size %llu", (unsigned long long)size);
	CHECK_INT(sym_vdso_names_new(&v), 0);
	if (!v)
		return;
	at = first_offset_of(v, size, "__vdso_clock_gettime");
	CHECK(at > 0, "__vdso_clock_gettime not found in %llu bytes", (unsigned long long)size);
	CHECK_INT(sym_vdso_names_lookup(v, 0, &got), -ENOENT); /* the ELF header */
	/* The weak aliases of the global names are never the answer. */
	for (uint64_t off = 0; off < size; off++)
		if (sym_vdso_names_lookup(v, off, &got) == 0 &&
		    (!strcmp(got, "clock_gettime") || !strcmp(got, "gettimeofday") ||
		     !strcmp(got, "time") || !strcmp(got, "getcpu") || !strcmp(got, "clock_getres")))
			aliases++;
	CHECK_INT(aliases, 0);
	sym_vdso_names_free(v);
}

static void test_is_agents(void)
{
	uint64_t size = sym_vdso_size();
	uint64_t mine = (uint64_t)getauxval(AT_SYSINFO_EHDR);

	CHECK(sym_vdso_is_agents(mine, size));
	CHECK(!sym_vdso_is_agents(mine, size + 4096));
	CHECK(!sym_vdso_is_agents(0xf7fc1000, size)); /* where a 32-bit process has it */
	CHECK(!sym_vdso_is_agents(mine, 0));
}

int main(void)
{
	test_names();
	test_is_agents();
	return check_report("sym_vdso");
}
