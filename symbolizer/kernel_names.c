/* symbolizer: kernel function names asked of a namer, kept by address (see
 * kernel_names.h). A kernel stack passes through a few thousand functions
 * at most, so the answers stay few; the bound is for a kernel that differs. */
#include "kernel_names.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hashtab.h"

struct name_entry {
	struct sym_hnode node;
	uint64_t addr;
	char name[]; /* "": no function holds addr */
};

struct sym_kernel_names {
	sym_kernel_namer namer;
	void *ctx;
	size_t max_entries;
	struct sym_htab names;
	size_t bytes;
	char scratch[SYM_KERNEL_NAME_MAX]; /* the answer not kept */
};

struct sym_kernel_names *sym_kernel_names_new(sym_kernel_namer namer, void *ctx,
					      size_t max_entries)
{
	struct sym_kernel_names *k = calloc(1, sizeof(*k));

	if (!k)
		return NULL;
	k->namer = namer;
	k->ctx = ctx;
	k->max_entries = max_entries;
	return k;
}

static bool free_entry(struct sym_hnode *n, void *ctx)
{
	(void)ctx;
	free(n);
	return true;
}

void sym_kernel_names_free(struct sym_kernel_names *k)
{
	if (!k)
		return;
	sym_htab_drop_if(&k->names, free_entry, NULL);
	sym_htab_release(&k->names);
	free(k);
}

static bool addr_eq(const struct sym_hnode *n, const void *key)
{
	return ((const struct name_entry *)n)->addr == *(const uint64_t *)key;
}

static uint64_t addr_hash(uint64_t addr)
{
	return sym_hash_bytes(&addr, sizeof(addr), SYM_HASH_INIT);
}

/* Keeps the answer for addr (name "" for none); NULL when it cannot be. */
static const struct name_entry *keep(struct sym_kernel_names *k, uint64_t addr, const char *name)
{
	size_t len = strlen(name);
	struct name_entry *e;

	if (k->names.count >= k->max_entries)
		return NULL;
	e = malloc(sizeof(*e) + len + 1);
	if (!e)
		return NULL;
	e->node.hash = addr_hash(addr);
	e->addr = addr;
	memcpy(e->name, name, len + 1);
	if (sym_htab_add(&k->names, &e->node)) {
		free(e);
		return NULL;
	}
	k->bytes += sizeof(*e) + len + 1;
	return e;
}

int sym_kernel_names_lookup(struct sym_kernel_names *k, uint64_t addr, const char **name)
{
	const struct name_entry *e =
		(const struct name_entry *)sym_htab_find(&k->names, addr_hash(addr), addr_eq, &addr);
	int err;

	if (!e) {
		err = k->namer(k->ctx, addr, k->scratch, sizeof(k->scratch));
		if (err && err != -ENOENT)
			return err;
		if (err)
			k->scratch[0] = '\0';
		e = keep(k, addr, k->scratch);
		if (!e) {
			*name = k->scratch;
			return err;
		}
	}
	if (!e->name[0])
		return -ENOENT;
	*name = e->name;
	return 0;
}

size_t sym_kernel_names_bytes(const struct sym_kernel_names *k)
{
	return k ? k->bytes : 0;
}
