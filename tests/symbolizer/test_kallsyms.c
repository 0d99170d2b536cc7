/* Kernel symbols: a fake kallsyms (text, data, weak, module and aliased
 * symbols, out of order) gives exact answers; all-zero addresses (what
 * kptr_restrict shows) are -EPERM; the real /proc/kallsyms names the
 * address it lists for schedule; a namer set in kallsyms' place is asked
 * once an address. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "sym.h"
#include "test_util.h"

static const char fake[] =
	"ffffffff81000300 W fake_weak\n"
	"0000000000000000 A fixed_percpu_data\n"
	"ffffffff81000000 t _text_local_alias\n"
	"ffffffff81000000 T _stext\n"
	"ffffffff81000100 T fake_func\n"
	"ffffffff81000200 t fake_local\n"
	"ffffffff81000400 D fake_data\n"
	"ffffffff81000480 R fake_rodata\n"
	"ffffffff81000500 T fake_after_data\n"
	"not a line at all\n"
	"ffffffffc0001000 t fake_mod_func\t[fake_mod]\n"
	"ffffffffc0002000 d fake_mod_data\t[fake_mod]\n"
	"ffffffffc0003000 T fake_mod_last\t[other_mod]\n";

static struct sym_cache *cache_for(const char *name, const char *text)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", test_tmpdir(), name);
	CHECK(!test_write_file(path, text, strlen(text)), "write %s", path);
	return sym_cache_new(&(struct sym_cache_opts){ .sz = sizeof(struct sym_cache_opts),
						       .kallsyms_path = path });
}

static void check_fake(void)
{
	static const struct {
		uint64_t addr;
		const char *name; /* NULL: -ENOENT */
	} cases[] = {
		{ 0xffffffff81000000, "_stext" },
		{ 0xffffffff810000ff, "_stext" },
		{ 0xffffffff81000100, "fake_func" },
		{ 0xffffffff81000150, "fake_func" },
		{ 0xffffffff81000234, "fake_local" },
		{ 0xffffffff81000300, "fake_weak" },
		{ 0xffffffff810003ff, "fake_weak" },
		{ 0xffffffff81000400, NULL },
		{ 0xffffffff81000490, NULL },
		{ 0xffffffff81000500, "fake_after_data" },
		{ 0xffffffffc0000fff, "fake_after_data" },
		{ 0xffffffffc0001010, "fake_mod_func" },
		{ 0xffffffffc0002010, NULL },
		{ 0xffffffffc0003000, "fake_mod_last" },
		{ 0x10, NULL },
		{ 0xffffffff80000000, NULL },
	};
	struct sym_cache *c = cache_for("kallsyms", fake);
	struct sym_cache_stats st;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *name = NULL;
		int err = sym_cache_lookup_kernel(c, cases[i].addr, &name);

		if (cases[i].name)
			CHECK_NAME(err, name, cases[i].name);
		else
			CHECK(err == -ENOENT, "%#" PRIx64 ": %d %s", cases[i].addr, err,
			      err ? "" : name);
	}
	sym_cache_get_stats(c, &st);
	CHECK(st.lookups == sizeof(cases) / sizeof(cases[0]) && st.lookups_failed == 5,
	      "stats: lookups %" PRIu64 "/%" PRIu64, st.lookups, st.lookups_failed);
	sym_cache_free(c);
}

static void check_unavailable(void)
{
	struct sym_cache *c = cache_for("kallsyms-restricted",
					"0000000000000000 T _stext\n"
					"0000000000000000 T schedule\n"
					"0000000000000000 t fake_mod_func\t[fake_mod]\n");
	const char *name;
	int err;

	for (int i = 0; i < 2; i++) {
		err = sym_cache_lookup_kernel(c, 0xffffffff81000000, &name);
		CHECK(err == -EPERM, "restricted kallsyms: %d", err);
	}
	sym_cache_free(c);

	c = sym_cache_new(&(struct sym_cache_opts){ .sz = sizeof(struct sym_cache_opts),
						    .kallsyms_path = "/nonexistent/kallsyms" });
	err = sym_cache_lookup_kernel(c, 0xffffffff81000000, &name);
	CHECK(err == -ENOENT, "absent kallsyms: %d", err);
	sym_cache_free(c);

	c = cache_for("kallsyms-empty", "");
	err = sym_cache_lookup_kernel(c, 0xffffffff81000000, &name);
	CHECK(err == -ENOENT, "empty kallsyms: %d", err);
	sym_cache_free(c);
}

/* A file in address order (as the kernel lists its own symbols): only the
 * runs at one address are ordered, global before local there; a line too
 * long for the reader's chunk (no kernel name is) ends the symbol before
 * it, its own range unnamed, and the next line is kept; an address of 17
 * digits is no address; the last line needs no newline. */
static void check_sorted_and_edges(void)
{
	static const char head[] =
		"ffffffff81000000 t _text_local_alias\n"
		"ffffffff81000000 w weak_alias\n"
		"ffffffff81000000 T _stext\n"
		"ffffffff81000100 t local_first\n"
		"ffffffff81000100 T global_second\n"
		"1ffffffff81000180 T seventeen_digits\n"
		"ffffffff81000200 T ";
	static const char tail[] = " \n"
		"ffffffff81000300 T after_long\n"
		"ffffffff81000400 D data\n"
		"ffffffff81000500 T last_no_newline";
	size_t long_name = 100000;
	char *text = malloc(sizeof(head) + long_name + sizeof(tail));
	struct sym_cache *c;
	const char *name;

	CHECK(text != NULL, "malloc");
	memcpy(text, head, sizeof(head) - 1);
	memset(text + sizeof(head) - 1, 'x', long_name);
	memcpy(text + sizeof(head) - 1 + long_name, tail, sizeof(tail));
	c = cache_for("kallsyms-sorted", text);
	CHECK_NAME(sym_cache_lookup_kernel(c, 0xffffffff81000010, &name), name, "_stext");
	CHECK_NAME(sym_cache_lookup_kernel(c, 0xffffffff81000110, &name), name, "global_second");
	/* The 17-digit line is skipped: global_second's up to the long line. */
	CHECK_NAME(sym_cache_lookup_kernel(c, 0xffffffff810001f0, &name), name, "global_second");
	CHECK(sym_cache_lookup_kernel(c, 0xffffffff81000250, &name) == -ENOENT,
	      "the long line's range named");
	CHECK_NAME(sym_cache_lookup_kernel(c, 0xffffffff81000310, &name), name, "after_long");
	CHECK(sym_cache_lookup_kernel(c, 0xffffffff81000410, &name) == -ENOENT, "data named");
	CHECK_NAME(sym_cache_lookup_kernel(c, 0xffffffff81000510, &name), name, "last_no_newline");
	sym_cache_free(c);
	free(text);
}

/* The real file: the address it gives schedule names schedule. */
static void check_real(void)
{
	char line[512], name[256], type;
	uint64_t addr, sched = 0;
	struct sym_cache *c;
	const char *got;
	FILE *f = fopen("/proc/kallsyms", "r");

	if (!f) {
		printf("no /proc/kallsyms: real kallsyms not checked\n");
		return;
	}
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%" SCNx64 " %c %255s", &addr, &type, name) == 3 &&
		    type == 'T' && !strcmp(name, "schedule")) {
			sched = addr;
			break;
		}
	fclose(f);
	if (!sched) {
		printf("kallsyms shows no address for schedule (kptr_restrict?): "
		       "real kallsyms not checked\n");
		return;
	}
	c = sym_cache_new(NULL);
	CHECK_NAME(sym_cache_lookup_kernel(c, sched, &got), got, "schedule");
	CHECK_NAME(sym_cache_lookup_kernel(c, sched + 4, &got), got, "schedule");
	sym_cache_free(c);
}

/* A namer in kallsyms' place: names 0x1000-0x1fff "low_func", says no
 * function holds 0x2000, and fails (-EIO) at 0x3000 the first time only. */
struct fake_namer {
	int calls;
	int io_errors;
};

static int fake_name(void *ctx, uint64_t addr, char *buf, size_t len)
{
	struct fake_namer *f = ctx;

	f->calls++;
	if (addr >= 0x1000 && addr < 0x2000) {
		snprintf(buf, len, "low_func");
		return 0;
	}
	if (addr == 0x3000 && !f->io_errors++)
		return -EIO;
	if (addr == 0x3000) {
		snprintf(buf, len, "late_func");
		return 0;
	}
	return -ENOENT;
}

/* The namer answers each address once (its -ENOENT kept too, a failure
 * not), and kallsyms is never read: the path given does not exist. */
static void check_namer(void)
{
	struct sym_cache *c = sym_cache_new(&(struct sym_cache_opts){
		.sz = sizeof(struct sym_cache_opts), .kallsyms_path = "/nonexistent/kallsyms" });
	struct fake_namer f = { 0 };
	const char *name;

	CHECK(sym_cache_set_kernel_namer(c, fake_name, &f) == 0, "set namer");
	CHECK(sym_cache_load_kernel(c) == 0, "load with a namer reads nothing");
	for (int i = 0; i < 3; i++) {
		CHECK_NAME(sym_cache_lookup_kernel(c, 0x1010, &name), name, "low_func");
		CHECK(sym_cache_lookup_kernel(c, 0x2000, &name) == -ENOENT, "no function at 0x2000");
	}
	CHECK(f.calls == 2, "each address asked once: %d calls", f.calls);
	CHECK(sym_cache_lookup_kernel(c, 0x3000, &name) == -EIO, "the namer's failure");
	CHECK_NAME(sym_cache_lookup_kernel(c, 0x3000, &name), name, "late_func");
	CHECK_NAME(sym_cache_lookup_kernel(c, 0x3000, &name), name, "late_func");
	CHECK(f.calls == 4, "a failure asked again, then kept: %d calls", f.calls);
	sym_cache_free(c);
}

int main(void)
{
	check_fake();
	check_sorted_and_edges();
	check_unavailable();
	check_real();
	check_namer();
	return check_report("test_kallsyms");
}
