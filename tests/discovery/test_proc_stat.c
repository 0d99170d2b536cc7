/* tests/discovery: the /proc/PID/stat parser, on lines shaped like the
 * kernel's (odd comms included) and on lines that must be refused. */
#include <errno.h>
#include <stdint.h>

#include "check.h"
#include "disc.h"

struct stat_case {
	const char *name;
	const char *text;
	int err;
	int pid;
	const char *comm;
	char state;
	int ppid;
	unsigned int flags;
	uint64_t start_ticks;
};

/* Fields 10 to 21 of a sleeping user process, and what follows field 22. */
#define MID " 99 0 0 0 0 0 0 0 20 0 1 0 "
#define TAIL " 3133440 383 18446744073709551615 94798089814016 0 0 0 0 0 0 0 17 0 0\n"

static const struct stat_case cases[] = {
	{ "a real user process",
	  "5402 (cat) R 5400 5400 2711 0 -1 4194304" MID "104212" TAIL,
	  0, 5402, "cat", 'R', 5400, 0x400000, 104212 },
	{ "a kernel thread (PF_KTHREAD set)",
	  "2 (kthreadd) S 0 0 0 0 -1 2129984 0 0 0 0 0 2 0 0 20 0 1 0 31 0 0 18446744073709551615 0 0 0\n",
	  0, 2, "kthreadd", 'S', 0, 0x00208040, 31 },
	{ "comm with spaces and parentheses",
	  "777 (my (weird)) app) S 1 777 777 0 -1 4194560" MID "5555" TAIL,
	  0, 777, "my (weird)) app", 'S', 1, 0x400100, 5555 },
	{ "comm that looks like the fields after it",
	  "9 (x) S 1 2 3) R 8 9 9 0 -1 64" MID "42" TAIL,
	  0, 9, "x) S 1 2 3", 'R', 8, 64, 42 },
	{ "comm longer than 15 is cut to 15",
	  "123 (kworker/u4:2-events_unbound) I 2 0 0 0 -1 69238880" MID "870" TAIL,
	  0, 123, "kworker/u4:2-ev", 'I', 2, 69238880, 870 },
	{ "empty comm", "5 () Z 1 0 0 0 -1 4194564" MID "7" TAIL, 0, 5, "", 'Z', 1, 4194564, 7 },
	{ "negative priority and nice (real time)",
	  "15 (migration/0) S 2 0 0 0 -1 69238848 0 0 0 0 0 0 0 0 -100 -20 1 0 3 0 0\n",
	  0, 15, "migration/0", 'S', 2, 69238848, 3 },
	{ "no newline, nothing after starttime",
	  "44 (sh) S 1 44 44 0 -1 4194304" MID "18446744073709551615",
	  0, 44, "sh", 'S', 1, 0x400000, UINT64_MAX },

	{ "empty", "", -EINVAL, 0, "", 0, 0, 0, 0 },
	{ "pid only", "123", -EINVAL, 0, "", 0, 0, 0, 0 },
	{ "comm never closed", "123 (bash", -EINVAL, 0, "", 0, 0, 0, 0 },
	{ "comm never opened", "123 bash) S 1 2 3", -EINVAL, 0, "", 0, 0, 0, 0 },
	{ "cut after comm", "123 (bash)", -EINVAL, 0, "", 0, 0, 0, 0 },
	{ "cut after state", "123 (bash) S", -EINVAL, 0, "", 0, 0, 0, 0 },
	{ "cut before flags", "123 (bash) S 1 123 123 0 -1", -EINVAL, 0, "", 0, 0, 0, 0 },
	{ "cut after field 21", "123 (bash) S 1 123 123 0 -1 4194304" MID, -EINVAL, 0, "", 0, 0, 0, 0 },
	{ "ends at field 21", "123 (bash) S 1 123 123 0 -1 4194304 99 0 0 0 0 0 0 0 20 0 1 0", -EINVAL,
	  0, "", 0, 0, 0, 0 },
	{ "pid not a number", "abc (bash) S 1 1 1 0 -1 4194304" MID "1" TAIL, -EINVAL, 0, "", 0, 0, 0, 0 },
	{ "pid zero", "0 (bash) S 1 1 1 0 -1 4194304" MID "1" TAIL, -EINVAL, 0, "", 0, 0, 0, 0 },
	{ "pid past INT_MAX", "2147483648 (bash) S 1 1 1 0 -1 4194304" MID "1" TAIL, -EINVAL, 0, "", 0, 0, 0, 0 },
	{ "no state", "123 (bash)  1 1 1 0 -1 4194304" MID "1" TAIL, -EINVAL, 0, "", 0, 0, 0, 0 },
	{ "negative ppid", "123 (bash) S -1 1 1 0 -1 4194304" MID "1" TAIL, -EINVAL, 0, "", 0, 0, 0, 0 },
	{ "flags past 32 bits", "123 (bash) S 1 1 1 0 -1 4294967296" MID "1" TAIL, -EINVAL, 0, "", 0, 0, 0, 0 },
	{ "starttime past 2^64-1", "123 (bash) S 1 1 1 0 -1 4194304" MID "18446744073709551616" TAIL,
	  -EINVAL, 0, "", 0, 0, 0, 0 },
	{ "junk glued to starttime", "123 (bash) S 1 1 1 0 -1 4194304" MID "104212x" TAIL,
	  -EINVAL, 0, "", 0, 0, 0, 0 },
	{ "a field that is not a number", "123 (bash) S 1 1 1 0 -1 4194304 99 0 x 0 0 0 0 0 20 0 1 0 1" TAIL,
	  -EINVAL, 0, "", 0, 0, 0, 0 },
	{ "a lone minus sign", "123 (bash) S 1 1 1 0 - 4194304" MID "1" TAIL, -EINVAL, 0, "", 0, 0, 0, 0 },
};

int main(void)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct stat_case *c = &cases[i];
		int failed_before = check_failures;
		struct disc_stat st;
		int err = disc_stat_parse(c->text, strlen(c->text), &st);

		CHECK_INT(err, c->err);
		if (!err) {
			CHECK_INT(st.pid, c->pid);
			CHECK_STR(st.comm, c->comm);
			CHECK_INT(st.state, c->state);
			CHECK_INT(st.ppid, c->ppid);
			CHECK_U64(st.flags, c->flags);
			CHECK_U64(st.start_ticks, c->start_ticks);
		}
		if (check_failures != failed_before)
			fprintf(stderr, "  in case: %s\n", c->name);
	}
	return check_report("test_proc_stat");
}
