/* discovery: /proc/PID/cmdline, the command line a process shows.
 *
 * process_table.c reads it once when it adds a process and keeps it as one
 * line of text for people to read (what ps shows), not for machines to
 * split again: an argument with a space in it is not quoted.
 *
 * The kernel gives the process's argument area as it is now: the arguments
 * each ended by a NUL. A process may rewrite that area (setproctitle: nginx,
 * postgres, sshd), either as one string with spaces, with no NUL at all, or
 * a title followed by NULs to the end of the old area. So:
 *   - the NULs at the end, one or many, are dropped;
 *   - every other NUL, between two arguments, becomes one space: an empty
 *     argument ("a\0\0b") shows as two spaces, "a  b";
 *   - the text is the process's to choose, so the control characters (0x01
 *     to 0x1f, 0x7f: a newline, a terminal escape) become '?'; other bytes,
 *     UTF-8 or not, are kept as they are;
 *   - at most DISC_CMDLINE_MAX bytes are kept (a Java class path runs to
 *     hundreds of kilobytes): a longer line is cut before a UTF-8 character,
 *     never inside one, and ends with "...".
 * Every byte of the text gives at most one byte of the line, so the cut is
 * decided on the text itself. An empty file (a kernel thread, a zombie, a
 * process that cleared its arguments) gives no line: NULL.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proc.h"

static const char ellipsis[] = "...";
#define ELLIPSIS_LEN (sizeof(ellipsis) - 1)

/* The longest UTF-8 character is a lead byte and three continuation bytes. */
#define UTF8_CONTINUATION_MAX 3

static bool utf8_continuation(unsigned char c)
{
	return (c & 0xc0) == 0x80;
}

/* Where to cut text, of len bytes, to keep at most keep_max of them: before
 * the character the cut would split. Past UTF8_CONTINUATION_MAX bytes of
 * continuation the text is not UTF-8 there, and is cut at keep_max. */
static size_t cut_at(const unsigned char *text, size_t len, size_t keep_max)
{
	size_t keep = keep_max;

	if (len <= keep_max)
		return len;
	for (int i = 0; i < UTF8_CONTINUATION_MAX && keep > 0; i++, keep--)
		if (!utf8_continuation(text[keep]))
			return keep;
	return utf8_continuation(text[keep]) ? keep_max : keep;
}

int disc_cmdline_parse(const char *text, size_t len, char **out)
{
	const unsigned char *t = (const unsigned char *)text;
	size_t keep, n;
	bool cut;
	char *s;

	*out = NULL;
	if (!text && len)
		return -EINVAL;
	while (len > 0 && t[len - 1] == '\0')
		len--;
	if (len == 0)
		return 0;
	cut = len > DISC_CMDLINE_MAX;
	keep = cut ? cut_at(t, len, DISC_CMDLINE_MAX - ELLIPSIS_LEN) : len;
	n = keep + (cut ? ELLIPSIS_LEN : 0);
	s = malloc(n + 1);
	if (!s)
		return -ENOMEM;
	for (size_t i = 0; i < keep; i++) {
		unsigned char c = t[i];

		if (c == '\0')
			c = ' ';
		else if (c < 0x20 || c == 0x7f)
			c = '?';
		s[i] = (char)c;
	}
	if (cut)
		memcpy(s + keep, ellipsis, ELLIPSIS_LEN);
	s[n] = '\0';
	*out = s;
	return 0;
}

int disc_cmdline_read_at(int dirfd, char **out)
{
	char *text;
	size_t len;
	int err;

	*out = NULL;
	err = disc_proc_file_read(dirfd, "cmdline", &text, &len);
	if (err)
		return err;
	err = disc_cmdline_parse(text, len, out);
	free(text);
	return err;
}

int disc_cmdline_read(const char *proc_root, int pid, char **out)
{
	int dirfd, err;

	*out = NULL;
	dirfd = disc_proc_dir_open(proc_root, pid);
	if (dirfd < 0)
		return dirfd;
	err = disc_cmdline_read_at(dirfd, out);
	close(dirfd);
	return err;
}
