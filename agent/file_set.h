/* A set of files by identity on the host (device and inode, as
 * /proc/PID/maps gives them): the files whose unwind tables a walk has
 * needed (agent/unwind_loader.c). Bounded: past FILE_SET_MAX files, add
 * says so and adds nothing.
 */
#ifndef SMOLDER_FILE_SET_H
#define SMOLDER_FILE_SET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FILE_SET_MAX 65536

struct file_id {
	uint32_t dev_major, dev_minor;
	uint64_t inode;
};

struct file_set {
	struct file_id *v; /* sorted */
	size_t n, cap;
};

/* Orders ids by device, then inode; 0: the same file. */
int file_id_cmp(struct file_id a, struct file_id b);
/* 1: added; 0: already there; -E2BIG: the set is full; -ENOMEM. */
int file_set_add(struct file_set *s, struct file_id id);
bool file_set_has(const struct file_set *s, struct file_id id);
void file_set_release(struct file_set *s);

#endif
