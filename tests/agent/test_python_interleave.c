/* Unit tests of where Python frames go in a native stack
 * (agent/python_interleave.h): each evaluation loop's frames just above its
 * native frame, leaf first, in order; what the native walk did not reach
 * after it; nothing lost, nothing moved past another loop. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "check.h"
#include "python_interleave.h"

/* Native frames are ids 1.., at addresses 0x1000 * id; those at EVAL are in
 * the evaluation loop. Python frames are ids 100.. */
#define EVAL 0x7000ull

static bool in_eval(const void *ctx, uint64_t addr)
{
	(void)ctx;
	return addr >= EVAL && addr < EVAL + 0x1000;
}

/* Runs python_interleave on native frames whose addresses are given (0:
 * an ordinary frame), Python frames with the entry bit where entry[i],
 * and checks the result is want[0..n). */
static void check_order(int line, const uint64_t *ips, size_t nu, const bool *entry, size_t np,
			const uint64_t *want, size_t n)
{
	uint64_t native_ids[16], py_ids[16], out[32];
	struct smolder_py_frame py[16] = { 0 };
	size_t got;

	for (size_t i = 0; i < nu; i++)
		native_ids[i] = i + 1;
	for (size_t i = 0; i < np; i++) {
		py_ids[i] = 100 + i;
		py[i].code = 0x10 * (i + 1);
		py[i].tag = entry[i] ? SMOLDER_PY_TAG_ENTRY : 0;
	}
	got = python_interleave(ips, native_ids, nu, py, py_ids, np, in_eval, NULL, out);
	if (got != n) {
		check_fail(__FILE__, line, "count", ": %zu frames, want %zu", got, n);
		return;
	}
	for (size_t i = 0; i < n; i++)
		if (out[i] != want[i])
			check_fail(__FILE__, line, "order", ": frame %zu is %llu, want %llu", i,
				   (unsigned long long)out[i], (unsigned long long)want[i]);
}

#define ORDER(ips, entry, ...)                                                          \
	do {                                                                            \
		const uint64_t want_[] = { __VA_ARGS__ };                               \
		check_order(__LINE__, ips, sizeof(ips) / sizeof(ips[0]), entry,          \
			    sizeof(entry) / sizeof(entry[0]), want_,                     \
			    sizeof(want_) / sizeof(want_[0]));                           \
	} while (0)

int main(void)
{
	/* hashlib's C code (1, 2) called from Python (loop of 100, 101) called
	 * from C (4) called from another loop (102): leaf first. */
	const uint64_t ips[] = { 0x1000, 0x2000, EVAL + 0x10, 0x4000, EVAL + 0x20, 0x6000 };
	const bool two_loops[] = { false, true, true };
	ORDER(ips, two_loops, 1, 2, 100, 101, 3, 4, 102, 5, 6);

	/* Before 3.11 every frame is a loop of its own. */
	const bool each[] = { true, true };
	ORDER(ips, each, 1, 2, 100, 3, 4, 101, 5, 6);

	/* More loops than the native walk reached: the rest go after it. */
	const uint64_t short_ips[] = { 0x1000, EVAL + 0x10 };
	const bool three[] = { true, true, true };
	ORDER(short_ips, three, 1, 100, 2, 101, 102);

	/* More loop frames natively than Python loops (the Python walk was
	 * truncated): the rest of the native stack keeps its own frames. */
	const bool one[] = { true };
	ORDER(ips, one, 1, 2, 100, 3, 4, 5, 6);

	/* A last loop without its entry mark (a truncated walk's) still goes
	 * whole to one native frame. */
	const bool unmarked[] = { false, false };
	ORDER(ips, unmarked, 1, 2, 100, 101, 3, 4, 5, 6);

	/* A return address just past the loop's end belongs to it; the leaf's
	 * exact address there does not. */
	const uint64_t edge[] = { EVAL + 0x1000, 0x2000, EVAL + 0x1000 };
	const bool single[] = { true };
	ORDER(edge, single, 1, 2, 100, 3);

	/* No Python frames: the native stack as it was. */
	const bool none[] = { false };
	check_order(__LINE__, ips, 6, none, 0, (const uint64_t[]){ 1, 2, 3, 4, 5, 6 }, 6);
	return check_report("python_interleave");
}
