/* A small intrusive hash table (chained, grows by doubling) for the
 * symbolizer's caches. Internal to symbolizer/. */
#ifndef SMOLDER_SYM_HASHTAB_H
#define SMOLDER_SYM_HASHTAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Embedded in each entry; the table never allocates or frees entries. */
struct sym_hnode {
	struct sym_hnode *next;
	uint64_t hash;
};

struct sym_htab {
	struct sym_hnode **buckets;
	size_t nbuckets; /* 0 or a power of two */
	size_t count;
};

typedef bool (*sym_hnode_eq)(const struct sym_hnode *n, const void *key);
typedef bool (*sym_hnode_visit)(struct sym_hnode *n, void *ctx);

uint64_t sym_hash_bytes(const void *p, size_t len, uint64_t h);
#define SYM_HASH_INIT 0xcbf29ce484222325ULL

struct sym_hnode *sym_htab_find(const struct sym_htab *t, uint64_t hash,
				sym_hnode_eq eq, const void *key);
/* -ENOMEM only when the table must grow and cannot; n is not added then. */
int sym_htab_add(struct sym_htab *t, struct sym_hnode *n);
/* Unlinks every node for which drop returns true (drop may free it). */
void sym_htab_drop_if(struct sym_htab *t, sym_hnode_visit drop, void *ctx);
/* Frees the buckets, after drop_if(every node) if the nodes need freeing. */
void sym_htab_release(struct sym_htab *t);

#endif
