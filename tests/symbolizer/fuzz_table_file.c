/* libFuzzer target for the unwind table cache's reader: any bytes a file
 * under --cache-dir/unwind/ may hold must be refused or taken without
 * crashing, leaking or reading out of bounds, and a table taken must be
 * what the walk expects: rows sorted, within the cap; written again, it
 * reads back the same. Seeds in corpus/table_file/ (make_table_file.py). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "table_cache.h"
#include "unwind.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The seeds' content id. */
#define SEED_ID "18a3506428fe238a6c14c9a39251a11c7203245d632df40ddb8e9d3bf2d387d8"
/* Small, so that the fuzzer reaches the cap. */
#define FUZZ_ROWS_MAX 4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sym_unwind_table t, again;
	size_t len;
	void *buf;

	if (sym_table_file_decode(data, size, SEED_ID, FUZZ_ROWS_MAX, &t))
		return 0;
	if (!t.n || t.n > FUZZ_ROWS_MAX)
		abort();
	for (size_t i = 1; i < t.n; i++)
		if (t.rows[i].pc <= t.rows[i - 1].pc)
			abort();
	if (sym_table_file_encode(SEED_ID, &t, &buf, &len) ||
	    sym_table_file_decode(buf, len, SEED_ID, FUZZ_ROWS_MAX, &again) || again.n != t.n ||
	    memcmp(again.rows, t.rows, t.n * sizeof(*t.rows)) ||
	    again.unsupported_rows != t.unsupported_rows || again.skipped_fdes != t.skipped_fdes)
		abort();
	free(buf);
	sym_unwind_table_release(&again);
	sym_unwind_table_release(&t);
	return 0;
}
