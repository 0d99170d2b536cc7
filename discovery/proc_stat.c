/* discovery: /proc/PID/stat, for a process's name, flags and start time.
 *
 * The start time is half of a process's identity (with the pid), the one
 * BPF reads from the task when it counts a sample; the flags tell kernel
 * threads apart. The comm field is whatever the process named itself
 * (prctl(PR_SET_NAME) takes anything, spaces and ')' included), so it is
 * taken to the LAST ')' in the text, and every field after it is read
 * within the text's bounds.
 */
#include <errno.h>
#include <stdbool.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proc.h"

/* Fields are numbered as in proc(5): 1 pid, 2 comm, 3 state, 4 ppid,
 * 9 flags, 22 starttime. */
#define STAT_FIELD_PPID 4
#define STAT_FIELD_FLAGS 9
#define STAT_FIELD_STARTTIME 22

int disc_stat_parse(const char *text, size_t len, struct disc_stat *out)
{
	const char *p = text, *end = text + len, *lparen, *rparen;
	uint64_t v;
	size_t comm_len;

	if (!text || len == 0)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	if (disc_text_number(&p, end, 10, INT_MAX, &v) || v == 0 ||
	    disc_text_char(&p, end, ' '))
		return -EINVAL;
	out->pid = (int)v;
	lparen = p;
	rparen = memrchr(p, ')', (size_t)(end - p));
	if (disc_text_char(&p, end, '(') || !rparen)
		return -EINVAL;
	comm_len = (size_t)(rparen - (lparen + 1));
	if (comm_len > sizeof(out->comm) - 1)
		comm_len = sizeof(out->comm) - 1;
	memcpy(out->comm, lparen + 1, comm_len);
	out->comm[comm_len] = '\0';

	p = rparen + 1;
	if (disc_text_char(&p, end, ' ') || p >= end || *p == ' ' || *p == '\n')
		return -EINVAL;
	out->state = *p++;
	/* Every field from 4 to 22 is a decimal integer; some of those we
	 * skip can be negative (tpgid, priority, nice). */
	for (int field = STAT_FIELD_PPID; field <= STAT_FIELD_STARTTIME; field++) {
		bool negative;

		if (disc_text_char(&p, end, ' '))
			return -EINVAL;
		negative = p < end && *p == '-';
		if (negative)
			p++;
		if (disc_text_number(&p, end, 10, UINT64_MAX, &v))
			return -EINVAL;
		switch (field) {
		case STAT_FIELD_PPID:
			if (negative || v > INT_MAX)
				return -EINVAL;
			out->ppid = (int)v;
			break;
		case STAT_FIELD_FLAGS:
			if (negative || v > UINT_MAX)
				return -EINVAL;
			out->flags = (unsigned int)v;
			break;
		case STAT_FIELD_STARTTIME:
			if (negative)
				return -EINVAL;
			out->start_ticks = v;
			break;
		}
	}
	/* Later fields are not ours to check, but starttime must have ended
	 * where its field does. */
	if (p < end && *p != ' ' && *p != '\n')
		return -EINVAL;
	return 0;
}

int disc_stat_read_at(int dirfd, struct disc_stat *out)
{
	char *text;
	size_t len;
	int err;

	err = disc_proc_file_read(dirfd, "stat", &text, &len);
	if (err)
		return err;
	err = disc_stat_parse(text, len, out);
	free(text);
	return err;
}

int disc_stat_read(const char *proc_root, int pid, struct disc_stat *out)
{
	int dirfd, err;

	dirfd = disc_proc_dir_open(proc_root, pid);
	if (dirfd < 0)
		return dirfd;
	err = disc_stat_read_at(dirfd, out);
	close(dirfd);
	return err;
}
