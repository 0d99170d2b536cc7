/* The user-space stack walk (agent/unwind_walk.h) on a real stack with
 * real tables: this program, built at -O2 without frame pointers, recurses
 * a few calls deep, takes its registers there (getcontext: the state just
 * after the call returns, exact as an interrupted frame's) and copies
 * 20 KiB of its stack from the page below rsp, as BPF will; the tables of
 * its executable and libraries are the symbolizer's, as the agent loads
 * them. The walk must name every recursive call, then main, and end at
 * _start's undefined return address (STOP). */
#include <link.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ucontext.h>

#include "check.h"
#include "sample.h"
#include "sym.h"
#include "slim_rows.h"
#include "unwind_walk.h"

#define DEPTH 6
#define COPY_BYTES (20 * 1024)
#define MAPS_MAX 32

static uint8_t copy[COPY_BYTES];
static struct unwind_walk_regs regs;
static struct unwind_walk_memory mem;
static uint64_t stack_end; /* the end of [stack] */

/* ASan's redzones in the stack would fail a plain copy: this one reads
 * the bytes as BPF does, without looking at what they are. */
__attribute__((noinline, no_sanitize_address)) static void copy_stack(uint64_t from, size_t len)
{
	const volatile uint8_t *p = (const volatile uint8_t *)(uintptr_t)from;

	for (size_t i = 0; i < len; i++)
		copy[i] = p[i];
}

__attribute__((noinline)) static void capture(void)
{
	static const int order[SMOLDER_DWARF_GPRS] = {
		REG_RAX, REG_RDX, REG_RCX, REG_RBX, REG_RSI, REG_RDI, REG_RBP, REG_RSP,
		REG_R8, REG_R9, REG_R10, REG_R11, REG_R12, REG_R13, REG_R14, REG_R15,
	};
	ucontext_t uc;
	uint64_t base;

	if (getcontext(&uc))
		return;
	regs.ip = (uint64_t)uc.uc_mcontext.gregs[REG_RIP];
	for (int i = 0; i < SMOLDER_DWARF_GPRS; i++)
		regs.regs[i] = (uint64_t)uc.uc_mcontext.gregs[order[i]];
	base = regs.regs[SMOLDER_DWARF_RSP] & ~(uint64_t)4095;
	mem.base = base;
	mem.bytes = copy;
	mem.len = stack_end - base < COPY_BYTES ? (size_t)(stack_end - base) : COPY_BYTES;
	copy_stack(base, mem.len);
}

volatile int sink;

/* A frame of its own at each depth: the call is not a tail call, and the
 * array keeps the frame from being empty. */
__attribute__((noinline)) static int recurse(int n)
{
	volatile int local[4] = { n, n, n, n };

	if (n == 0)
		capture();
	else
		local[1] += recurse(n - 1);
	return local[0] + local[1] + sink;
}

struct object {
	char path[512];
	uint64_t bias;
	struct sym_elf *elf;
};
static struct object objects[MAPS_MAX];
static size_t n_objects;
static struct unwind_walk_mapping maps[MAPS_MAX];
static size_t n_maps;

/* Each loaded object's executable segments, with its file's table (none
 * for the vDSO, which has no file to open: frame pointers there). */
static int add_object(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct object *o;
	const struct sym_unwind_table *t = NULL;

	(void)size;
	(void)arg;
	if (n_objects == MAPS_MAX)
		return 1;
	o = &objects[n_objects++];
	snprintf(o->path, sizeof(o->path), "%s",
		 info->dlpi_name[0] ? info->dlpi_name : "/proc/self/exe");
	o->bias = info->dlpi_addr;
	if (sym_elf_open(o->path, &o->elf) == 0)
		t = sym_elf_unwind_table(o->elf);
	for (int i = 0; i < info->dlpi_phnum && n_maps < MAPS_MAX; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];

		if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
			continue;
		maps[n_maps] = (struct unwind_walk_mapping){
			.start = o->bias + ph->p_vaddr,
			.end = o->bias + ph->p_vaddr + ph->p_memsz,
			.bias = o->bias,
			.rows = t ? t->rows : NULL,
			.n_rows = t ? t->n : 0,
		};
		n_maps++;
	}
	return 0;
}

static int by_start(const void *a, const void *b)
{
	const struct unwind_walk_mapping *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

static uint64_t find_stack_end(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	unsigned long long lo, hi;
	uint64_t end = 0;

	while (f && fgets(line, sizeof(line), f))
		if (strstr(line, "[stack]") && sscanf(line, "%llx-%llx", &lo, &hi) == 2)
			end = hi;
	if (f)
		fclose(f);
	return end;
}

/* The name of the function at address a (a return address names its
 * call: a - 1), or "?". */
static const char *name_of(uint64_t a, bool exact)
{
	const char *name;

	for (size_t i = 0; i < n_objects; i++) {
		for (size_t m = 0; m < n_maps; m++) {
			if (maps[m].bias != objects[i].bias || a < maps[m].start || a >= maps[m].end)
				continue;
			if (objects[i].elf &&
			    sym_elf_lookup(objects[i].elf, a - (exact ? 0 : 1) - objects[i].bias,
					   &name) == 0)
				return name;
		}
	}
	return "?";
}

int main(void)
{
	uint64_t pcs[SMOLDER_MAX_STACK_DEPTH];
	unsigned int end = SMOLDER_UNWIND_END_COUNT;
	size_t n, recursions = 0;
	bool reached_main = false;

	stack_end = find_stack_end();
	CHECK(stack_end != 0, "no [stack] in /proc/self/maps");
	if (!stack_end)
		return check_report("unwind_walk_self");
	dl_iterate_phdr(add_object, NULL);
	qsort(maps, n_maps, sizeof(maps[0]), by_start);
	CHECK(n_maps >= 2, "%zu executable mappings", n_maps);
	CHECK(sym_elf_unwind_table(objects[0].elf) != NULL, "no table for %s", objects[0].path);

	sink += recurse(DEPTH);
	n = unwind_walk(maps, n_maps, &regs, &mem, pcs, SMOLDER_MAX_STACK_DEPTH, &end);
	for (size_t i = 0; i < n; i++) {
		const char *name = name_of(pcs[i], i == 0);

		printf("#%zu 0x%llx %s\n", i, (unsigned long long)pcs[i], name);
		if (!strncmp(name, "recurse", 7))
			recursions++;
		if (!strcmp(name, "main"))
			reached_main = true;
	}
	printf("%zu frames, end %u\n", n, end);
	CHECK(!strncmp(name_of(pcs[0], true), "capture", 7), "the leaf is %s", name_of(pcs[0], true));
	CHECK_INT(recursions, DEPTH + 1);
	CHECK(reached_main, "main not in the walk");
	CHECK_INT(end, SMOLDER_UNWIND_END_STOP);

	/* The same walk with the tables as the BPF rows array holds them
	 * (libc's, ld.so's and this program's, slim): the same frames. */
	{
		struct unwind_walk_mapping slim[MAPS_MAX];
		uint64_t again[SMOLDER_MAX_STACK_DEPTH];
		unsigned int end_again = SMOLDER_UNWIND_END_COUNT;
		size_t n_again, n_slim = 0;

		for (size_t m = 0; m < n_maps; m++) {
			union smolder_unwind_elem *e = NULL;
			size_t n_elems = 0;

			slim[m] = maps[m];
			if (maps[m].rows) {
				CHECK(slim_rows_make(maps[m].rows, maps[m].n_rows, &e, &n_elems) == 0);
				slim[m].rows = NULL;
				slim[m].elems = e;
				slim[m].n_elems = n_elems;
				n_slim += e != NULL;
			}
		}
		CHECK(n_slim >= 2, "%zu slim tables", n_slim);
		n_again = unwind_walk(slim, n_maps, &regs, &mem, again, SMOLDER_MAX_STACK_DEPTH,
				      &end_again);
		CHECK_INT(n_again, n);
		CHECK_INT(end_again, end);
		CHECK(n_again == n && !memcmp(again, pcs, n * sizeof(pcs[0])),
		      "the slim walk's frames differ");
		for (size_t m = 0; m < n_maps; m++)
			free((void *)slim[m].elems);
	}

	for (size_t i = 0; i < n_objects; i++)
		sym_elf_free(objects[i].elf);
	return check_report("unwind_walk_self");
}
