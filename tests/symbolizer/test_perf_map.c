/* JIT perf maps: the parser on texts whose answers are written next to them
 * (overlaps, bad lines, both ends of a range, the bounds), the file read
 * inside a process's root, where a symlink a container planted must lead to
 * the container's file and never to the host's, and the per-process cache,
 * which reads a map again only once it changed and a second has passed. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "perf_map.h"
#include "root_open.h"
#include "test_util.h"

static struct sym_perf_map *parse(const char *text)
{
	struct sym_perf_map *m = NULL;
	int err = sym_perf_map_parse(text, strlen(text), &m);

	CHECK(err == 0 && m, "parse: %d", err);
	return m;
}

/* want NULL: no name (-ENOENT). */
static void check_at(const struct sym_perf_map *m, uint64_t addr, const char *want)
{
	const char *name = NULL;
	int err = sym_perf_map_lookup(m, addr, &name);

	if (want)
		CHECK(err == 0 && !strcmp(name, want), "%#" PRIx64 ": err %d, \"%s\", want \"%s\"",
		      addr, err, err ? "" : name, want);
	else
		CHECK(err == -ENOENT, "%#" PRIx64 ": err %d \"%s\", want none", addr, err,
		      err ? "" : name);
}

static void check_basic(void)
{
	struct sym_perf_map_info info;
	struct sym_perf_map *m = parse(
		"7f0000001000 100 LazyCompile:~main /app/index.js:1\n"
		"0x7f0000002000 0x20 Builtin:ArgumentsAdaptorTrampoline\n"
		"7F0000003000 8 upper case hex\n"
		"7f0000004000\t10\ttabs between fields\n"
		"7f0000005000   10   name after several spaces  \r\n"
		"\n"
		"0000000000000010 10 leading zeros\n"
		"ffffffffffffffe0 10 near the top\n"
		"7f0000006000 10 no newline at the end");

	if (!m)
		return;
	check_at(m, 0x7f0000000fff, NULL);
	check_at(m, 0x7f0000001000, "LazyCompile:~main /app/index.js:1");
	check_at(m, 0x7f00000010ff, "LazyCompile:~main /app/index.js:1");
	check_at(m, 0x7f0000001100, NULL);
	check_at(m, 0x7f0000002000, "Builtin:ArgumentsAdaptorTrampoline");
	check_at(m, 0x7f000000201f, "Builtin:ArgumentsAdaptorTrampoline");
	check_at(m, 0x7f0000002020, NULL);
	check_at(m, 0x7f0000003007, "upper case hex");
	check_at(m, 0x7f0000004000, "tabs between fields");
	check_at(m, 0x7f000000500f, "name after several spaces");
	check_at(m, 0xf, NULL);
	check_at(m, 0x10, "leading zeros");
	check_at(m, 0x1f, "leading zeros");
	check_at(m, 0x20, NULL);
	check_at(m, 0xffffffffffffffdf, NULL);
	check_at(m, 0xffffffffffffffe0, "near the top");
	check_at(m, 0xffffffffffffffef, "near the top");
	check_at(m, 0xfffffffffffffff0, NULL);
	check_at(m, UINT64_MAX, NULL);
	check_at(m, 0x7f000000600f, "no newline at the end");
	check_at(m, 0, NULL);
	sym_perf_map_get_info(m, &info);
	CHECK_INT(info.lines, 8);
	CHECK_INT(info.bad_lines, 0);
	CHECK_INT(info.ranges, 8);
	sym_perf_map_free(m);

	m = parse("");
	check_at(m, 0, NULL);
	check_at(m, 0x1000, NULL);
	sym_perf_map_free(m);
}

static void check_bad_lines(void)
{
	static char text[16384];
	struct sym_perf_map_info info;
	struct sym_perf_map *m;
	size_t n;

	n = (size_t)snprintf(text, sizeof(text), "%s",
		"1000 10 good one\n"
		"zz 10 not hex\n"
		"2000 10\n"                      /* no name */
		"2000 10    \n"                  /* a blank name */
		"3000 0 empty range\n"
		"fffffffffffffff0 11 past the top\n"
		"fffffffffffffff0 10 reaching 2^64\n"
		"10000000000000000 1 seventeen digits\n"
		"4000 10000000000000000 size of seventeen digits\n"
		"0x 10 prefix without digits\n"
		"5000x 10 junk glued to start\n"
		"5000 10x junk glued to size\n"
		"-5000 10 negative\n"
		"   6000 10 leading blank\n"
		"6000-10 no blank\n"
		"7000 10 control\x01" "char\ttab\x7f" "del\n");
	/* A line one byte longer than the bound, then one that just fits. */
	n += (size_t)snprintf(text + n, sizeof(text) - n, "8000 10 ");
	memset(text + n, 'x', SYM_PERF_MAP_LINE_MAX - 8);
	n += SYM_PERF_MAP_LINE_MAX - 8;
	text[n++] = '\n';
	n += (size_t)snprintf(text + n, sizeof(text) - n, "9000 10 ");
	memset(text + n, 'y', SYM_PERF_MAP_LINE_MAX - 9);
	n += SYM_PERF_MAP_LINE_MAX - 9;
	text[n++] = '\n';
	n += (size_t)snprintf(text + n, sizeof(text) - n, "a000 10 after the long lines\n");

	m = NULL;
	CHECK_INT(sym_perf_map_parse(text, n, &m), 0);
	if (!m)
		return;
	sym_perf_map_get_info(m, &info);
	CHECK_INT(info.bad_lines, 15);
	CHECK_INT(info.lines, 4);
	check_at(m, 0x1000, "good one");
	check_at(m, 0x2000, NULL);
	check_at(m, 0x3000, NULL);
	check_at(m, 0x4000, NULL);
	check_at(m, 0x5000, NULL);
	check_at(m, 0x6000, NULL);
	check_at(m, 0x7000, "control?char?tab?del");
	check_at(m, 0x8000, NULL);
	check_at(m, 0xa000, "after the long lines");
	{
		const char *name = NULL;

		CHECK_INT(sym_perf_map_lookup(m, 0x900f, &name), 0);
		CHECK(name && strlen(name) == SYM_PERF_MAP_LINE_MAX - 9 && name[0] == 'y',
		      "the longest line that fits is taken whole");
	}
	sym_perf_map_free(m);

	/* A NUL inside a name neither cuts it nor the text. */
	m = NULL;
	CHECK_INT(sym_perf_map_parse("1000 10 a\0b\n2000 10 c\n", 22, &m), 0);
	check_at(m, 0x1000, "a?b");
	check_at(m, 0x2000, "c");
	sym_perf_map_free(m);
}

/* Later lines win where ranges overlap, on the addresses they cover. */
static void check_overlaps(void)
{
	struct sym_perf_map_info info;
	struct sym_perf_map *m;

	m = parse("1000 100 old\n"
		  "1080 10 new inside\n");
	check_at(m, 0x1000, "old");
	check_at(m, 0x107f, "old");
	check_at(m, 0x1080, "new inside");
	check_at(m, 0x108f, "new inside");
	check_at(m, 0x1090, "old");
	check_at(m, 0x10ff, "old");
	check_at(m, 0x1100, NULL);
	sym_perf_map_free(m);

	m = parse("1080 10 small, older\n"
		  "1000 100 big, newer\n");
	check_at(m, 0x1000, "big, newer");
	check_at(m, 0x1085, "big, newer");
	check_at(m, 0x10ff, "big, newer");
	sym_perf_map_get_info(m, &info);
	CHECK_INT(info.ranges, 1);
	sym_perf_map_free(m);

	/* Same start: the later line, whatever its size (perf's rule). */
	m = parse("2000 40 first\n"
		  "2000 10 second\n"
		  "3000 10 x\n"
		  "3000 40 y\n");
	check_at(m, 0x2000, "second");
	check_at(m, 0x200f, "second");
	check_at(m, 0x2010, "first");
	check_at(m, 0x203f, "first");
	check_at(m, 0x3000, "y");
	check_at(m, 0x303f, "y");
	sym_perf_map_free(m);

	/* A staircase: each line overlaps the end of the one before. */
	m = parse("4000 20 a\n"
		  "4010 20 b\n"
		  "4020 20 c\n"
		  "3ff0 18 d\n");
	check_at(m, 0x3fef, NULL);
	check_at(m, 0x3ff0, "d");
	check_at(m, 0x4007, "d");
	check_at(m, 0x4008, "a");
	check_at(m, 0x400f, "a");
	check_at(m, 0x4010, "b");
	check_at(m, 0x401f, "b");
	check_at(m, 0x4020, "c");
	check_at(m, 0x403f, "c");
	check_at(m, 0x4040, NULL);
	sym_perf_map_free(m);

	/* The same line twice, and a gap between neighbours. */
	m = parse("5000 10 twice\n"
		  "5000 10 twice\n"
		  "5020 10 after a gap\n");
	check_at(m, 0x500f, "twice");
	check_at(m, 0x5010, NULL);
	check_at(m, 0x501f, NULL);
	check_at(m, 0x5020, "after a gap");
	sym_perf_map_get_info(m, &info);
	CHECK_INT(info.ranges, 2);
	sym_perf_map_free(m);
}

/* Past SYM_PERF_MAP_LINES_MAX lines, or SYM_PERF_MAP_TEXT_MAX bytes, the
 * first lines go and the last stay. */
static void check_bounds(void)
{
	const size_t line_len = 18; /* "%08zx 1 n%05zx\n" */
	size_t nlines = SYM_PERF_MAP_LINES_MAX + 3, len = nlines * line_len;
	struct sym_perf_map_info info;
	struct sym_perf_map *m = NULL;
	char *text = malloc(SYM_PERF_MAP_TEXT_MAX + 8192);
	size_t n = 0;

	if (!text) {
		CHECK(0, "out of memory");
		return;
	}
	for (size_t i = 0; i < nlines; i++) {
		char line[32];

		snprintf(line, sizeof(line), "%08zx 1 n%05zx\n", i, i & 0xfffff);
		memcpy(text + i * line_len, line, line_len);
	}
	CHECK_INT(sym_perf_map_parse(text, len, &m), 0);
	sym_perf_map_get_info(m, &info);
	CHECK_INT(info.dropped, 3);
	CHECK_INT(info.lines, SYM_PERF_MAP_LINES_MAX);
	check_at(m, 0, NULL);
	check_at(m, 2, NULL);
	check_at(m, 3, "n00003");
	{
		char last[16];

		snprintf(last, sizeof(last), "n%05zx", (nlines - 1) & 0xfffff);
		check_at(m, nlines - 1, last);
	}
	sym_perf_map_free(m);

	/* Long lines past the byte bound; the cut falls inside a line. */
	while (n < SYM_PERF_MAP_TEXT_MAX + 4096) {
		size_t i = n / 4000;
		int k = snprintf(text + n, 64, "%zx 1 ", i);

		memset(text + n + k, 'a' + (char)(i % 26), 4000 - (size_t)k - 1);
		text[n + 3999] = '\n';
		n += 4000;
	}
	m = NULL;
	CHECK_INT(sym_perf_map_parse(text, n, &m), 0);
	sym_perf_map_get_info(m, &info);
	/* The last TEXT_MAX bytes hold a tail of a line, then whole ones. */
	CHECK_INT(info.lines, SYM_PERF_MAP_TEXT_MAX / 4000);
	CHECK_INT(info.dropped, n / 4000 - SYM_PERF_MAP_TEXT_MAX / 4000);
	CHECK_INT(info.bad_lines, 0);
	check_at(m, 0, NULL);
	check_at(m, n / 4000 - SYM_PERF_MAP_TEXT_MAX / 4000 - 1, NULL);
	{
		const char *name = NULL;

		CHECK_INT(sym_perf_map_lookup(m, n / 4000 - 1, &name), 0);
		CHECK(name && name[0] == 'a' + (char)((n / 4000 - 1) % 26));
	}
	sym_perf_map_free(m);
	free(text);
}

/* ---- files inside a process's root ---- */

static char proc_root[256];  /* stands for /proc */
static char host_map[256];   /* a file on the host, names B */
static char root_dir[256];   /* proc_root/123/root */

static void path_in_root(char *buf, const char *path)
{
	snprintf(buf, PATH_MAX, "%s%s", root_dir, path);
}

static void write_in_root(const char *path, const char *text)
{
	char buf[PATH_MAX], dir[PATH_MAX];

	path_in_root(buf, path);
	snprintf(dir, sizeof(dir), "%s", buf);
	*strrchr(dir, '/') = '\0';
	CHECK(!test_mkdirs(dir), "mkdir %s", dir);
	CHECK(!test_write_file(buf, text, strlen(text)), "write %s", buf);
}

static void link_in_root(const char *path, const char *target)
{
	char buf[PATH_MAX];

	path_in_root(buf, path);
	unlink(buf);
	CHECK(!symlink(target, buf), "symlink %s -> %s", buf, target);
}

static const char names_a[] = "1000 100 A in the container\n";
static const char names_b[] = "1000 100 B on the host\n";

static void setup_roots(void)
{
	const char *tmp = test_tmpdir();
	char buf[PATH_MAX];

	snprintf(proc_root, sizeof(proc_root), "%s/proc", tmp);
	snprintf(root_dir, sizeof(root_dir), "%s/proc/123/root", tmp);
	CHECK(!test_mkdirs(root_dir), "mkdir %s", root_dir);
	/* The host file is where an absolute symlink's target points. */
	snprintf(host_map, sizeof(host_map), "%s/smolder-hostmap.map", tmp);
	CHECK(!test_write_file(host_map, names_b, strlen(names_b)));
	write_in_root(host_map, names_a);
	write_in_root("/decoy.map", names_a);
	link_in_root("/tmp/perf-123.map", host_map);
	/* "..": as many as the host path needs to reach "/", and more. */
	snprintf(buf, sizeof(buf), "../../../../../../../../../../../..%s", host_map);
	link_in_root("/tmp/perf-124.map", buf);
	link_in_root("/tmp/perf-125.map", "/decoy.map");
	path_in_root(buf, "/tmp/perf-126.map");
	CHECK(!mkfifo(buf, 0600), "mkfifo %s", buf);
	path_in_root(buf, "/tmp/perf-127.map");
	CHECK(!mkdir(buf, 0700), "mkdir %s", buf);
}

static void check_read_name(int pid, int nspid, int want_err, const char *want)
{
	struct sym_perf_map *m = NULL;
	const char *name = NULL;
	int err = sym_perf_map_read(proc_root, pid, nspid, &m);

	CHECK(err == want_err, "perf-%d.map of %d: err %d, want %d", nspid, pid, err,
	      want_err);
	if (err || !want)
		return;
	err = sym_perf_map_lookup(m, 0x1080, &name);
	CHECK(err == 0 && !strcmp(name, want), "perf-%d.map: \"%s\", want \"%s\"", nspid,
	      err ? "" : name, want);
	sym_perf_map_free(m);
}

/* Process 200 belongs to uid 12345: its map must too, or a user could
 * have us (root) read a file that only root may. */
static void check_owner(void)
{
	const uid_t user = 12345;
	char proc[512], dir[1024], path[PATH_MAX];

	if (geteuid() != 0) {
		printf("not root: map ownership not checked\n");
		return;
	}
	snprintf(proc, sizeof(proc), "%s/200", proc_root);
	snprintf(dir, sizeof(dir), "%s/root/tmp", proc);
	CHECK(!test_mkdirs(dir), "mkdir %s", dir);
	CHECK(!chown(proc, user, user), "chown %s", proc);
	snprintf(path, sizeof(path), "%s/perf-1.map", dir);
	CHECK(!test_write_file(path, names_a, strlen(names_a)) && !chown(path, user, user));
	snprintf(path, sizeof(path), "%s/root/secret.map", proc);
	CHECK(!test_write_file(path, names_b, strlen(names_b)));
	snprintf(path, sizeof(path), "%s/perf-2.map", dir);
	CHECK(!symlink("/secret.map", path), "symlink %s", path);
	check_read_name(200, 1, 0, "A in the container");
	check_read_name(200, 2, -EPERM, NULL);
}

static void check_in_root(void)
{
	char naive[PATH_MAX], buf[64];
	struct stat st;
	int fd;

	setup_roots();
	/* What the test guards against: through /proc/PID/root, the kernel
	 * follows the absolute symlink to the host's file. */
	snprintf(naive, sizeof(naive), "%s/tmp/perf-123.map", root_dir);
	fd = open(naive, O_RDONLY | O_CLOEXEC);
	CHECK(fd >= 0 && read(fd, buf, 10) == 10 && !memcmp(buf, names_b, 10),
	      "plain open of %s reads the host's file", naive);
	if (fd >= 0)
		close(fd);

	check_read_name(123, 123, 0, "A in the container");
	check_read_name(123, 124, 0, "A in the container");
	check_read_name(123, 125, 0, "A in the container");
	check_read_name(123, 126, -ENOEXEC, NULL);
	check_read_name(123, 127, -ENOEXEC, NULL);
	check_read_name(123, 128, -ENOENT, NULL);
	check_read_name(999, 123, -ENOENT, NULL);

	check_owner();

	/* The root's own open, by the same rules. */
	fd = sym_root_open_file(proc_root, 123, "/tmp/perf-123.map", &st);
	CHECK(fd >= 0 && read(fd, buf, 10) == 10 && !memcmp(buf, names_a, 10),
	      "sym_root_open_file: %d", fd);
	if (fd >= 0)
		close(fd);
	CHECK_INT(sym_root_open(proc_root, 123, "tmp/perf-123.map", 0), -EINVAL);
	fd = sym_root_open(proc_root, 123, "/tmp", O_DIRECTORY);
	CHECK(fd >= 0, "a directory may be opened when asked for: %d", fd);
	if (fd >= 0)
		close(fd);
}

/* The real /proc: this process's root is the host's "/", so its map is the
 * host file; and a /proc magic link on the way is refused. */
static void check_real_proc(void)
{
	char path[PATH_MAX], magic[PATH_MAX];
	struct sym_perf_maps *c = sym_perf_maps_new(NULL);
	const char *name = NULL;
	struct stat st;
	int fd;

	snprintf(path, sizeof(path), "/tmp/perf-%d.map", (int)getpid());
	CHECK(!test_write_file(path, names_b, strlen(names_b)), "write %s", path);
	CHECK_NAME(sym_perf_maps_lookup(c, getpid(), getpid(), 0x1000, &name), name,
		   "B on the host");
	CHECK_INT(sym_perf_maps_lookup(c, getpid(), getpid(), 0x1100, &name), -ENOENT);
	unlink(path);
	sym_perf_maps_free(c);

	snprintf(magic, sizeof(magic), "/proc/self/root%s", host_map);
	fd = sym_root_open_file(NULL, getpid(), magic, &st);
	CHECK(fd == -ELOOP, "through a magic link: %d, want -ELOOP", fd);
	if (fd >= 0)
		close(fd);
	fd = sym_root_open_file(NULL, getpid(), host_map, &st);
	CHECK(fd >= 0, "%s in our own root: %d", host_map, fd);
	if (fd >= 0)
		close(fd);
	/* pid 0: the host, as it is. */
	fd = sym_root_open_file(NULL, 0, host_map, &st);
	CHECK(fd >= 0 && st.st_size == (off_t)strlen(names_b), "host: %d", fd);
	if (fd >= 0)
		close(fd);
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* The cache: a JIT appends; the map is read again once it changed and a
 * second has passed, and names handed out live until the trim. */
static void check_cache(void)
{
	struct sym_perf_maps *c = sym_perf_maps_new(proc_root);
	struct sym_perf_maps_stats st;
	const char *first = NULL, *name = NULL;
	char buf[PATH_MAX];
	int fd;

	CHECK_NAME(sym_perf_maps_lookup(c, 123, 123, 0x1000, &first), first,
		   "A in the container");
	/* nspid 0 stands for the pid itself. */
	CHECK_NAME(sym_perf_maps_lookup(c, 123, 0, 0x10ff, &name), name, "A in the container");
	CHECK_INT(sym_perf_maps_lookup(c, 123, 123, 0x2000, &name), -ENOENT);
	CHECK_INT(sym_perf_maps_lookup(c, 0, 0, 0x1000, &name), -EINVAL);

	/* The JIT appends a line, inside the root. */
	path_in_root(buf, host_map);
	fd = open(buf, O_WRONLY | O_APPEND | O_CLOEXEC);
	CHECK(fd >= 0 && write(fd, "2000 10 appended\n", 17) == 17, "append to %s", buf);
	if (fd >= 0)
		close(fd);
	CHECK_INT(sym_perf_maps_lookup(c, 123, 123, 0x2000, &name), -ENOENT);
	sleep_ms(1100);
	CHECK_NAME(sym_perf_maps_lookup(c, 123, 123, 0x2000, &name), name, "appended");
	/* The first map's names stay until the trim. */
	CHECK_STR(first, "A in the container");
	sym_perf_maps_get_stats(c, &st);
	CHECK_U64(st.reads, 2);
	CHECK_U64(st.processes, 1);

	/* Unchanged after another second: looked at, not read. */
	sleep_ms(1100);
	CHECK_NAME(sym_perf_maps_lookup(c, 123, 123, 0x1000, &name), name, "A in the container");
	sym_perf_maps_get_stats(c, &st);
	CHECK_U64(st.reads, 2);

	/* Another process under pid 123 (another namespace): its own map. */
	CHECK_INT(sym_perf_maps_lookup(c, 123, 126, 0x1000, &name), -ENOEXEC);
	CHECK_INT(sym_perf_maps_lookup(c, 123, 128, 0x1000, &name), -ENOENT);

	sym_perf_maps_get_stats(c, &st);
	CHECK(st.bytes > 0, "bytes %" PRIu64, st.bytes);
	sym_perf_maps_trim(c);
	sym_perf_maps_get_stats(c, &st);
	/* Only the entry for pid 123 is left: a map-less one. */
	CHECK(st.bytes > 0 && st.bytes < 256, "after trim: bytes %" PRIu64, st.bytes);
	sym_perf_maps_free(c);
}

/* Five JITs with 15 MiB maps each (about 16 MB held each): past
 * SYM_PERF_MAPS_TOTAL_MAX the maps are refused, their frames unnamed, and
 * not read again while the file stays as it was. */
static void check_total(void)
{
	struct sym_perf_maps *c = sym_perf_maps_new(proc_root);
	const size_t size = 15u << 20;
	struct sym_perf_maps_stats st;
	char *text = malloc(size + 256), path[PATH_MAX], name[128];
	size_t len = 0;
	int refused_pid = 0;

	if (!text) {
		CHECK(0, "out of memory");
		return;
	}
	memset(name, 'j', 100);
	name[100] = '\0';
	for (size_t i = 0; len < size; i++)
		len += (size_t)snprintf(text + len, 256, "%zx 10 f%08zx_%s\n", 0x1000 + i * 16, i, name);
	for (int pid = 300; pid < 305; pid++) {
		const char *got = NULL;
		int err;

		snprintf(path, sizeof(path), "%s/%d/root/tmp", proc_root, pid);
		CHECK(!test_mkdirs(path), "mkdir %s", path);
		snprintf(path, sizeof(path), "%s/%d/root/tmp/perf-%d.map", proc_root, pid, pid);
		CHECK(!test_write_file(path, text, len), "write %s", path);
		err = sym_perf_maps_lookup(c, pid, pid, 0x1000, &got);
		if (err == -ENOSPC)
			refused_pid = refused_pid ? refused_pid : pid;
		else
			CHECK(err == 0 && got && !strncmp(got, "f00000000_", 10), "pid %d: %d", pid, err);
	}
	sym_perf_maps_get_stats(c, &st);
	CHECK(refused_pid >= 302, "refused from pid %d", refused_pid);
	CHECK(st.refused >= 1 && st.bytes <= SYM_PERF_MAPS_TOTAL_MAX,
	      "refused %" PRIu64 ", bytes %" PRIu64, st.refused, st.bytes);
	sleep_ms(1100);
	if (refused_pid) {
		const char *got = NULL;
		uint64_t reads = st.reads;

		CHECK_INT(sym_perf_maps_lookup(c, refused_pid, refused_pid, 0x1000, &got), -ENOSPC);
		sym_perf_maps_get_stats(c, &st);
		CHECK_U64(st.reads, reads);
	}
	sym_perf_maps_free(c);
	free(text);
}

int main(void)
{
	check_basic();
	check_bad_lines();
	check_overlaps();
	check_bounds();
	check_in_root();
	check_real_proc();
	check_cache();
	check_total();
	return check_report("test_perf_map");
}
