/* Writing an interval's profiles to local files (see output.h). */
#include "output.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "file_util.h"

int output_escape_component(const char *name, char *out, size_t len)
{
	bool dots = strcmp(name, "") == 0 || strcmp(name, ".") == 0 ||
		    strcmp(name, "..") == 0;
	size_t n = 0;

	if (dots) {
		if (len < 2)
			return -ENAMETOOLONG;
		out[n++] = '_';
	}
	for (const char *p = name; *p; p++) {
		if (n + 1 >= len)
			return -ENAMETOOLONG;
		out[n++] = *p == '/' ? '_' : *p;
	}
	out[n] = '\0';
	return 0;
}

void output_interval_seconds(int64_t start_ns, int64_t end_ns, int64_t *start_s,
			     int64_t *end_s)
{
	*start_s = start_ns / 1000000000;
	*end_s = (end_ns + 999999999) / 1000000000;
}

/* Profiles are 0600 in 0700 directories: they hold what every process on
 * the host was running, its function names and command lines' labels. */
#define PROFILE_MODE 0600
#define DIR_MODE 0700

/* A service's directory, made DIR_MODE; one an older agent made 0755 is
 * tightened, which also hides the 0644 profiles it wrote there. Only the
 * service directories: the output directory itself is the user's to name
 * (it could be "/" or a shared directory), and is only made DIR_MODE when
 * the agent makes it. A symbolic link is left alone. */
static int make_service_dir(const char *path)
{
	struct stat st;
	int fd, err = file_mkdir_p(path, DIR_MODE);

	if (err)
		return err;
	fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ELOOP ? 0 : -errno;
	if (fstat(fd, &st))
		err = -errno;
	else if ((st.st_mode & 07777 & ~DIR_MODE) && fchmod(fd, st.st_mode & DIR_MODE))
		err = -errno;
	close(fd);
	return err;
}

static int write_file_atomically(const char *path, const uint8_t *data, size_t len)
{
	char tmp[4200];
	int fd, err;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	/* A fresh file, so that it has our mode: a .tmp an older agent left
	 * (0644) would keep its own through O_TRUNC and the rename. */
	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, PROFILE_MODE);
	if (fd < 0)
		return -errno;
	err = file_write_all(fd, data, len);
	if (close(fd) && !err)
		err = -errno;
	if (!err && rename(tmp, path))
		err = -errno;
	if (err)
		unlink(tmp);
	return err;
}

/* Several label sets of one service in one interval need the hash in the
 * file name to stay apart; the set is sorted by type and service, so look
 * around. */
static bool service_shared(const struct profile_set *set, size_t i, const struct profile_entry *e)
{
	struct profile_entry other;

	if (i > 0) {
		profile_set_entry(set, i - 1, &other);
		if (other.type == e->type && strcmp(other.service_name, e->service_name) == 0)
			return true;
	}
	if (i + 1 < profile_set_count(set)) {
		profile_set_entry(set, i + 1, &other);
		if (other.type == e->type && strcmp(other.service_name, e->service_name) == 0)
			return true;
	}
	return false;
}

/* CPU profiles keep the names they always had; the others say their type
 * before the extension (1700000000-1700000015.offcpu.pb.gz). */
static const char *type_suffix(enum profile_type t)
{
	switch (t) {
	case PROFILE_OFFCPU:
		return ".offcpu";
	case PROFILE_MUTEX:
		return ".mutex";
	case PROFILE_MEMORY:
		return ".memory";
	default:
		return "";
	}
}

static int write_entry(const char *dir, const struct profile_set *set, size_t i,
		       char *path, size_t path_len, uint64_t *bytes)
{
	struct profile_entry e;
	char service[256], subdir[4096], hash[16] = "";
	uint8_t *data = NULL;
	int64_t start_s, end_s;
	size_t len = 0;
	int err;

	profile_set_entry(set, i, &e);
	err = output_escape_component(e.service_name, service, sizeof(service));
	if (err)
		return err;
	if (service_shared(set, i, &e))
		snprintf(hash, sizeof(hash), "-%08" PRIx32, e.labels_hash);
	snprintf(subdir, sizeof(subdir), "%s/%s", dir, service);
	output_interval_seconds(profile_set_start_ns(set), profile_set_end_ns(set), &start_s,
				&end_s);
	snprintf(path, path_len, "%s/%" PRId64 "-%" PRId64 "%s%s.pb.gz", subdir, start_s, end_s,
		 hash, type_suffix(e.type));
	err = make_service_dir(subdir);
	if (err)
		return err;
	err = pprof_builder_encode(e.builder, &data, &len);
	if (err)
		return err;
	err = write_file_atomically(path, data, len);
	free(data);
	if (!err)
		*bytes += len;
	return err;
}

void output_write_set(const char *dir, const struct profile_set *set,
		      struct output_result *res)
{
	memset(res, 0, sizeof(*res));
	for (size_t i = 0; i < profile_set_count(set); i++) {
		char path[sizeof(res->failed_path)] = "";
		int err = write_entry(dir, set, i, path, sizeof(path), &res->bytes);

		if (!err) {
			res->written++;
			continue;
		}
		if (!res->failed++) {
			res->first_error = err;
			snprintf(res->failed_path, sizeof(res->failed_path), "%s", path);
		}
	}
}
