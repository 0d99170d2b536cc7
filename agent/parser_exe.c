/* The parser worker's executable: the agent runs as root, so what it runs
 * must be no more writable than the agent itself. */
#include "parser_exe.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PARSER_NAME "smolder-parser"

/* Only root or the agent's user owns it, and no one else may write it. */
static int trusted(const struct stat *st)
{
	return S_ISREG(st->st_mode) && (st->st_mode & S_IXUSR) &&
	       !(st->st_mode & (S_IWGRP | S_IWOTH)) &&
	       (st->st_uid == 0 || st->st_uid == geteuid());
}

char *parser_exe_find(void)
{
	char self[PATH_MAX], *slash, *path;
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	struct stat st, dir;

	if (n <= 0)
		return NULL;
	self[n] = '\0';
	slash = strrchr(self, '/');
	if (!slash)
		return NULL;
	*slash = '\0';
	/* The directory too: whoever may write it may put another file
	 * under the name. */
	if (stat(self[0] ? self : "/", &dir) || (dir.st_mode & (S_IWGRP | S_IWOTH)) ||
	    (dir.st_uid != 0 && dir.st_uid != geteuid()))
		return NULL;
	if (asprintf(&path, "%s/%s", self, PARSER_NAME) < 0)
		return NULL;
	if (stat(path, &st) || !trusted(&st)) {
		free(path);
		return NULL;
	}
	return path;
}
