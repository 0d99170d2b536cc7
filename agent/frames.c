/* Naming the frames of one stack and turning them into pprof locations.
 *
 * Every frame but the leaf is a return address: the call that made it is
 * the instruction before, so it is looked up at address - 1 (otherwise a
 * call at the very end of a function names the next function).
 */
#include "frames.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/sysmacros.h>

#include <linux/types.h>
#include "sample.h"

static uint64_t lookup_address(uint64_t addr, size_t frame)
{
	return frame > 0 && addr > 0 ? addr - 1 : addr;
}

/* Adds the location of addr in mapping m (NULL: in none we know), named or
 * not. The mapping is added for each location, saying whether this one was
 * named: the builder keeps has_functions only if all of them were. */
static int add_location(struct pprof_builder *b, struct pprof_mapping_desc *m,
			uint64_t addr, const char *name, const char *system_name, uint64_t *id)
{
	struct pprof_line_desc line = { .function_name = name, .system_name = system_name };
	uint64_t mapping_id = 0;

	if (m) {
		int err;

		m->has_functions = name != NULL;
		err = pprof_builder_add_mapping(b, m, &mapping_id);
		if (err)
			return err;
	}
	return pprof_builder_add_location(b, mapping_id, addr, name ? &line : NULL,
					  name ? 1 : 0, id);
}

int frames_add_kernel(struct sym_cache *sym, struct pprof_builder *b,
		      const uint64_t *ips, size_t n, uint64_t *ids)
{
	struct pprof_mapping_desc kernel = {
		.start = SMOLDER_KERNEL_START,
		.limit = UINT64_MAX,
		.filename = "[kernel.kallsyms]",
	};
	int err = 0;

	for (size_t i = 0; i < n && !err; i++) {
		const char *name = NULL;

		if (sym_cache_lookup_kernel(sym, lookup_address(ips[i], i), &name))
			name = NULL;
		err = add_location(b, &kernel, ips[i], name, NULL, &ids[i]);
	}
	return err;
}

static bool is_file_path(const char *path)
{
	return path && path[0] == '/';
}

/* Adds the location of addr, which lies in mapping m of process p. */
static int add_mapped_frame(struct sym_cache *sym, const struct disc_process *p,
			    const struct disc_mapping *m, struct pprof_builder *b,
			    uint64_t addr, size_t frame, uint64_t *id)
{
	struct pprof_mapping_desc desc = {
		.start = m->start,
		.limit = m->end,
		.offset = m->offset,
		.filename = m->path,
	};
	struct sym_elf *elf = NULL;
	const char *name = NULL, *system_name = NULL;
	uint64_t vaddr;

	if (is_file_path(m->path)) {
		struct sym_file_ref ref = {
			.pid = p->pid,
			.path = m->path,
			.map_start = m->start,
			.map_end = m->end,
			.dev = makedev(m->dev_major, m->dev_minor),
			.inode = m->inode,
		};

		if (sym_cache_get_elf(sym, &ref, &elf) == 0) {
			uint64_t off = lookup_address(addr, frame) - m->start + m->offset;

			desc.build_id = sym_elf_build_id(elf);
			if (sym_elf_offset_to_vaddr(elf, off, &vaddr) == 0 &&
			    sym_elf_lookup_names(elf, vaddr, &name, &system_name))
				name = system_name = NULL;
		}
	}
	return add_location(b, &desc, addr, name, system_name, id);
}

int frames_add_user(struct sym_cache *sym, struct disc_table *disc,
		    const struct disc_process *p, struct pprof_builder *b,
		    const uint64_t *ips, size_t n, uint64_t *ids)
{
	bool refreshed = false;
	int err = 0;

	for (size_t i = 0; i < n && !err; i++) {
		const struct disc_mapping *m = disc_mappings_find(&p->maps, ips[i]);

		if (!m && !refreshed && !p->exited) {
			refreshed = true;
			if (disc_table_refresh_maps(disc, p) == 0)
				m = disc_mappings_find(&p->maps, ips[i]);
		}
		if (m)
			err = add_mapped_frame(sym, p, m, b, ips[i], i, &ids[i]);
		else
			err = add_location(b, NULL, ips[i], NULL, NULL, &ids[i]);
	}
	return err;
}
