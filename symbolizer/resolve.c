/* The addresses of one file, resolved once: DWARF first, then the symbol
 * tables, and the answer kept with the file, because the agent asks about
 * the same few thousand addresses every interval. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "debuginfo.h"
#include "elf_file.h"
#include "resolve.h"

/* Deeper inlining exists, and is cut here: the outermost frames go, the
 * innermost (where the time is) stay. */
#define FRAMES_MAX 32

struct addr_entry {
	struct sym_hnode node;
	uint64_t vaddr;
	bool from_dwarf;
	size_t n;
	size_t n_owned;
	/* frames[n], then the n_owned strings this entry allocated */
	struct sym_frame frames[];
};

static char **owned_of(struct addr_entry *e)
{
	return (char **)(e->frames + e->n);
}

static bool addr_eq(const struct sym_hnode *n, const void *key)
{
	return ((const struct addr_entry *)n)->vaddr == *(const uint64_t *)key;
}

static uint64_t addr_hash(uint64_t vaddr)
{
	return sym_hash_bytes(&vaddr, sizeof(vaddr), SYM_HASH_INIT);
}

static bool free_entry(struct sym_hnode *n, void *ctx)
{
	struct addr_entry *e = (struct addr_entry *)n;
	char **owned = owned_of(e);

	(void)ctx;
	for (size_t i = 0; i < e->n_owned; i++)
		free(owned[i]);
	free(e);
	return true;
}

void sym_elf_forget_addresses(struct sym_elf *elf)
{
	sym_htab_drop_if(&elf->addrs, free_entry, NULL);
}

static void fill(struct sym_location *loc, const struct addr_entry *e)
{
	*loc = (struct sym_location){
		.frames = e->frames,
		.n = e->n,
		.from_dwarf = e->from_dwarf,
	};
}

/* The one frame the symbol tables give, or none. */
static size_t symbol_frame(struct sym_elf *elf, uint64_t vaddr, struct sym_frame *f,
			   char **owned, size_t *n_owned)
{
	const char *name, *system_name;

	if (sym_elf_lookup_names(elf, vaddr, &name, &system_name) == 0) {
		*f = (struct sym_frame){ .name = name, .system_name = system_name };
		return 1;
	}
	if (sym_dwarf_symbol(elf->dwarf, vaddr, &system_name) == 0) {
		char *d = sym_demangle(system_name);

		*f = (struct sym_frame){ .name = system_name, .system_name = system_name };
		if (d) {
			owned[(*n_owned)++] = d;
			f->name = d;
		}
		return 1;
	}
	return 0;
}

/* A function the symbols name and DWARF has no DIE for (GCC emits none
 * for a function folded into a jump to its identical twin, or for some
 * thunks) still has its row in the line table. */
static void symbol_line(struct sym_elf *elf, uint64_t vaddr, struct sym_frame *f)
{
	const char *file;
	int64_t line;

	if (sym_dwarf_line(elf->dwarf, vaddr, &file, &line) == 0) {
		f->file = file;
		f->line = line;
	}
}

static struct addr_entry *find_kept(const struct sym_elf *elf, uint64_t vaddr)
{
	return (struct addr_entry *)sym_htab_find(&elf->addrs, addr_hash(vaddr), addr_eq, &vaddr);
}

/* Keeps frames[0..n) as vaddr's answer; the n_owned strings in owned are
 * taken (freed on failure). */
static int keep(struct sym_elf *elf, uint64_t vaddr, const struct sym_frame *frames,
		size_t n, char **owned, size_t n_owned, bool from_dwarf,
		struct sym_location *loc, size_t *added)
{
	size_t size = sizeof(struct addr_entry) + n * sizeof(frames[0]) +
		      n_owned * sizeof(owned[0]);
	size_t strings = 0;
	struct addr_entry *e = malloc(size);

	if (!e) {
		for (size_t i = 0; i < n_owned; i++)
			free(owned[i]);
		return -ENOMEM;
	}
	*e = (struct addr_entry){
		.node.hash = addr_hash(vaddr),
		.vaddr = vaddr,
		.from_dwarf = from_dwarf,
		.n = n,
		.n_owned = n_owned,
	};
	memcpy(e->frames, frames, n * sizeof(frames[0]));
	memcpy(owned_of(e), owned, n_owned * sizeof(owned[0]));
	for (size_t i = 0; i < n_owned; i++)
		strings += strlen(owned[i]) + 1;
	if (sym_htab_add(&elf->addrs, &e->node)) {
		free_entry(&e->node, NULL);
		return -ENOMEM;
	}
	fill(loc, e);
	*added = size + strings;
	return 0;
}

int sym_elf_resolve_address(struct sym_elf *elf, uint64_t vaddr,
			    struct sym_location *loc, size_t *added)
{
	struct sym_frame frames[FRAMES_MAX];
	char *owned[FRAMES_MAX];
	size_t n = 0, n_owned = 0;
	struct addr_entry *e;
	bool from_dwarf;

	*added = 0;
	e = find_kept(elf, vaddr);
	if (e) {
		fill(loc, e);
		return 0;
	}
	from_dwarf = sym_dwarf_frames(elf->dwarf, vaddr, frames, FRAMES_MAX, &n, owned,
				      &n_owned) == 0;
	if (!from_dwarf) {
		n = symbol_frame(elf, vaddr, frames, owned, &n_owned);
		if (n)
			symbol_line(elf, vaddr, frames);
	}
	return keep(elf, vaddr, frames, n, owned, n_owned, from_dwarf, loc, added);
}

bool sym_elf_kept_address(const struct sym_elf *elf, uint64_t vaddr, struct sym_location *loc)
{
	const struct addr_entry *e = find_kept(elf, vaddr);

	if (e)
		fill(loc, e);
	return e != NULL;
}

/* A copy of s kept in owned, or NULL for an empty or missing string. */
static const char *own(const char *s, char **owned, size_t *n_owned, bool *failed)
{
	char *copy;

	if (!s || !s[0])
		return NULL;
	copy = strdup(s);
	if (!copy) {
		*failed = true;
		return NULL;
	}
	owned[(*n_owned)++] = copy;
	return copy;
}

int sym_elf_keep_address(struct sym_elf *elf, uint64_t vaddr, const struct sym_frame *given,
			 size_t n, bool from_dwarf, struct sym_location *loc, size_t *added)
{
	struct sym_frame frames[FRAMES_MAX];
	char *owned[3 * FRAMES_MAX];
	size_t n_owned = 0;
	bool failed = false;

	*added = 0;
	if (n > FRAMES_MAX)
		n = FRAMES_MAX;
	for (size_t i = 0; i < n; i++)
		frames[i] = (struct sym_frame){
			.name = own(given[i].name, owned, &n_owned, &failed),
			.system_name = own(given[i].system_name, owned, &n_owned, &failed),
			.file = own(given[i].file, owned, &n_owned, &failed),
			.line = given[i].line,
			.start_line = given[i].start_line,
		};
	if (failed) {
		for (size_t i = 0; i < n_owned; i++)
			free(owned[i]);
		return -ENOMEM;
	}
	return keep(elf, vaddr, frames, n, owned, n_owned, from_dwarf, loc, added);
}
