/* Writes one known profile to the file named by argv[1], for
 * test_pprof_decode.py to read back with decoders that are not ours (go tool
 * pprof, protoc --decode). What is written here is what that script expects:
 * change one, change the other.
 *
 * Stacks, leaf first, values (samples, cpu ns), labels of their own:
 *   leaf_x a main          (3, 30000000), added as 2 + 1 to test merging
 *   leaf_y a main          (1, 10000000)
 *   b_inner b main         (2, 20000000), b_inner inlined into b: one location
 *   leaf_x a main          (4, 40000000) state=sleep, added as 3 + 1
 *   leaf_x a main          (5, 50000000) state=io
 *   leaf_y a main          (6, 60000000) state=io cgroup=/a
 *   leaf_x a main          (7, 70000000) cgroup=/a: strings all known, yet
 *                          labels of no sample of this stack
 * a's system name is "_Z1av"; the others have none, so it is their name.
 * Every sample has the profile's label service_name=example first.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pprof.h"

static int add_profile(struct pprof_builder *b)
{
	const struct pprof_mapping_desc exe = {
		.start = 0x400000, .limit = 0x500000, .offset = 0,
		.filename = "/usr/bin/example", .build_id = "deadbeef",
		.has_functions = true, .has_filenames = true,
		.has_line_numbers = true, .has_inline_frames = true,
	};
	const struct pprof_line_desc main_l = { "main", NULL, "example.c", 38, 40 };
	const struct pprof_line_desc a_l = { "a", "_Z1av", "example.c", 28, 30 };
	const struct pprof_line_desc x_l = { "leaf_x", NULL, "example.c", 10, 12 };
	const struct pprof_line_desc y_l = { "leaf_y", NULL, "example.c", 20, 22 };
	const struct pprof_line_desc b_l[] = {
		{ "b_inner", NULL, "inl.h", 5, 7 },
		{ "b", NULL, "example.c", 48, 50 },
	};
	uint64_t m, main_id, a_id, x_id, y_id, b_id;
	int err;

	err = pprof_builder_add_mapping(b, &exe, &m);
	if (!err)
		err = pprof_builder_add_location(b, m, 0x401000, &main_l, 1, &main_id);
	if (!err)
		err = pprof_builder_add_location(b, m, 0x402000, &a_l, 1, &a_id);
	if (!err)
		err = pprof_builder_add_location(b, m, 0x403000, &x_l, 1, &x_id);
	if (!err)
		err = pprof_builder_add_location(b, m, 0x404000, &y_l, 1, &y_id);
	if (!err)
		err = pprof_builder_add_location(b, m, 0x405000, b_l, 2, &b_id);
	if (err)
		return err;

	const uint64_t x_stack[] = { x_id, a_id, main_id };
	const uint64_t y_stack[] = { y_id, a_id, main_id };
	const uint64_t b_stack[] = { b_id, main_id };
	const struct pprof_label sleep = { "state", "sleep" }, io = { "state", "io" };
	const struct pprof_label io_a[] = { io, { "cgroup", "/a" } };
	const struct pprof_label a = { "cgroup", "/a" };
	err = pprof_builder_add_sample(b, x_stack, 3, (const int64_t[]){ 2, 20000000 });
	if (!err)
		err = pprof_builder_add_sample_labeled(b, x_stack, 3,
						       (const int64_t[]){ 3, 30000000 }, &sleep, 1);
	if (!err)
		err = pprof_builder_add_sample(b, y_stack, 3, (const int64_t[]){ 1, 10000000 });
	if (!err)
		err = pprof_builder_add_sample(b, x_stack, 3, (const int64_t[]){ 1, 10000000 });
	if (!err)
		err = pprof_builder_add_sample_labeled(b, x_stack, 3,
						       (const int64_t[]){ 5, 50000000 }, &io, 1);
	if (!err)
		err = pprof_builder_add_sample(b, b_stack, 2, (const int64_t[]){ 2, 20000000 });
	if (!err)
		err = pprof_builder_add_sample_labeled(b, x_stack, 3,
						       (const int64_t[]){ 1, 10000000 }, &sleep, 1);
	if (!err)
		err = pprof_builder_add_sample_labeled(b, y_stack, 3,
						       (const int64_t[]){ 6, 60000000 }, io_a, 2);
	if (!err)
		err = pprof_builder_add_sample_labeled(b, x_stack, 3,
						       (const int64_t[]){ 7, 70000000 }, &a, 1);
	return err;
}

static int write_file(const char *path, const uint8_t *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	int err = 0;

	if (!f)
		return -errno;
	if (fwrite(data, 1, len, f) != len)
		err = -EIO;
	if (fclose(f) != 0 && !err)
		err = -errno;
	return err;
}

int main(int argc, char **argv)
{
	static const struct pprof_value_type types[] = {
		{ "samples", "count" },
		{ "cpu", "nanoseconds" },
	};
	static const struct pprof_label service = { "service_name", "example" };
	const struct pprof_builder_opts opts = {
		.sz = sizeof(opts),
		.sample_types = types,
		.n_sample_types = 2,
		.period_type = { "cpu", "nanoseconds" },
		.period = 10000000,
		.time_nanos = 1700000000000000000LL,
		.duration_nanos = 10000000000LL,
		.labels = &service,
		.n_labels = 1,
	};
	struct pprof_builder *b;
	uint8_t *data = NULL;
	size_t len = 0;
	int err;

	if (argc != 2) {
		fprintf(stderr, "usage: %s OUTPUT.pb.gz\n", argv[0]);
		return 2;
	}
	b = pprof_builder_new(&opts);
	if (!b) {
		fprintf(stderr, "pprof_builder_new: %s\n", strerror(errno));
		return 1;
	}
	err = add_profile(b);
	if (!err)
		err = pprof_builder_encode(b, &data, &len);
	if (!err)
		err = write_file(argv[1], data, len);
	if (err)
		fprintf(stderr, "writing %s: %s\n", argv[1], strerror(-err));
	free(data);
	pprof_builder_free(b);
	return err ? 1 : 0;
}
