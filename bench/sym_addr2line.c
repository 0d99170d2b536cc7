/* sym_addr2line: `eu-addr2line -i -f -e FILE`, answered by symbolizer/.
 *
 *   sym_addr2line -e FILE [-a] [--debug-dir DIR]... [--repeat N] < ADDRESSES
 *
 * Reads ELF virtual addresses of FILE (hexadecimal, one a line) and prints,
 * for each, what elfutils 0.188's eu-addr2line -i -f prints for it, so that
 * bench/symbolize.sh can compare the two answer by answer:
 *
 *   FUNCTION                    the innermost function
 *   FILE:LINE                   from the line table; ??:0 when unknown
 *   CALLER                      } once per function the code was inlined
 *   FILE:LINE                   } into, outwards: the call's location
 *
 * With -a each block starts with the address, "0x" and 16 hex digits, as
 * eu-addr2line -a prints it for a 64-bit file (what splits the output into
 * answers). Names are sym_frame.system_name, the DWARF linkage name (else DW_AT_name)
 * or the symbol, as eu-addr2line prints them by default (it demangles only
 * with -C). Two quirks of eu-addr2line are copied:
 * - in inlined code its first line reads "INLINED inlined at FILE:LINE in
 *   SYMBOL": libdw's dwarf_getscopes follows an inlined instance to the
 *   scopes around its abstract definition, not to its caller, so
 *   eu-addr2line's search for the enclosing function ends without one and
 *   it takes the ELF symbol (from FILE, else from its debug file);
 * - it appends ":COLUMN" to a FILE:LINE when DWARF has the column; sym_frame
 *   has none, so nothing is appended here and symbolize.sh removes columns
 *   from eu-addr2line's output before comparing.
 * Two are not, being wrong answers rather than ways of printing (the
 * agent's answers would lose frames, or gain a line that is no code's):
 * in inlined code of an LTO build it gives no inline chain at all (there
 * dwarf_getscopes finds no scope), and it gives the padding between two
 * functions a line; symbolize.sh counts those differences apart.
 *
 * The list is resolved --repeat times (default 1) and printed once; the
 * time of each pass goes to stderr. Pass 1 is cold: the cache is created
 * and the file, its debug file and their DWARF are read on the way. Later
 * passes are warm: the same cache, as the agent's from one interval to the
 * next. Each pass formats every answer, so that passes do the same work.
 * Exit status: 0 done, 1 FILE could not be read, 2 bad usage. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sym.h"

#define MAX_DEBUG_DIRS 16

struct buf {
	char *p;
	size_t len, cap;
};

static void buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
		if (n < 0)
			return;
		if ((size_t)n < b->cap - b->len)
			break;
		b->cap = (b->cap + n + 1) * 2;
		b->p = realloc(b->p, b->cap);
		if (!b->p) {
			perror("sym_addr2line");
			exit(1);
		}
	}
	b->len += n;
}

/* Where eu-addr2line finds the symbol it names inlined code after: FILE's
 * symbol tables, else those of the debug file found by build-id. */
struct symbols {
	struct sym_elf *elf;
	struct sym_elf *debug; /* opened on first need */
	const char *const *debug_dirs;
	bool debug_tried;
};

static struct sym_elf *open_debug_file(struct symbols *s)
{
	static const char *const system_dir[] = { "/usr/lib/debug", NULL };
	const char *id = sym_elf_build_id(s->elf);
	char path[4096];

	if (s->debug_tried)
		return s->debug;
	s->debug_tried = true;
	if (!id || strlen(id) < 3)
		return NULL;
	for (const char *const *dirs = s->debug_dirs; dirs;
	     dirs = dirs == system_dir ? NULL : system_dir) {
		for (size_t i = 0; dirs[i]; i++) {
			snprintf(path, sizeof(path), "%s/.build-id/%.2s/%s.debug",
				 dirs[i], id, id + 2);
			if (!sym_elf_open(path, &s->debug))
				return s->debug;
		}
	}
	return NULL;
}

static const char *symbol_of(struct symbols *s, uint64_t vaddr)
{
	struct sym_elf *debug;
	const char *name;

	if (!sym_elf_lookup(s->elf, vaddr, &name))
		return name;
	debug = open_debug_file(s);
	if (debug && !sym_elf_lookup(debug, vaddr, &name))
		return name;
	return "??";
}

static const char *name_of(const struct sym_frame *f)
{
	return f->system_name ? f->system_name : f->name ? f->name : "??";
}

static void print_file_line(struct buf *out, const struct sym_frame *f)
{
	if (f->file)
		buf_printf(out, "%s:%" PRId64 "\n", f->file, f->line);
	else
		buf_printf(out, "??:0\n");
}

/* One address's block, as eu-addr2line -i -f prints it (see the top). */
static void print_location(struct buf *out, struct symbols *s, uint64_t vaddr,
			   const struct sym_location *loc)
{
	const struct sym_frame *f = loc->frames;

	if (loc->n == 0) {
		buf_printf(out, "??\n??:0\n");
		return;
	}
	if (loc->n == 1) {
		buf_printf(out, "%s\n", name_of(&f[0]));
	} else {
		buf_printf(out, "%s inlined", name_of(&f[0]));
		if (f[1].file && f[1].line)
			buf_printf(out, " at %s:%" PRId64, f[1].file, f[1].line);
		else if (f[1].file)
			buf_printf(out, " from %s", f[1].file);
		buf_printf(out, " in %s\n", symbol_of(s, vaddr));
	}
	print_file_line(out, &f[0]);
	for (size_t i = 1; i < loc->n; i++) {
		buf_printf(out, "%s\n", name_of(&f[i]));
		print_file_line(out, &f[i]);
	}
}

/* eu-addr2line's reading of an address: hexadecimal, "0x" optional. */
static int read_addresses(FILE *in, uint64_t **addrs, size_t *n)
{
	size_t cap = 0, len = 0;
	char *line = NULL;
	ssize_t got;

	*addrs = NULL;
	*n = 0;
	while ((got = getline(&line, &len, in)) >= 0) {
		char *end;
		uint64_t a;

		if (got && line[got - 1] == '\n')
			line[got - 1] = '\0';
		errno = 0;
		a = strtoull(line, &end, 16);
		if (end == line || *end || errno) {
			fprintf(stderr, "sym_addr2line: not an address: '%s'\n", line);
			continue;
		}
		if (*n == cap) {
			cap = cap ? cap * 2 : 4096;
			*addrs = realloc(*addrs, cap * sizeof(**addrs));
			if (!*addrs)
				return -ENOMEM;
		}
		(*addrs)[(*n)++] = a;
	}
	free(line);
	return 0;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: sym_addr2line -e FILE [-a] [--debug-dir DIR]... [--repeat N] < ADDRESSES\n"
		   "Prints for each address (hex ELF virtual address of FILE, one a line)\n"
		   "what eu-addr2line -i -f -e FILE prints, without columns; the time of\n"
		   "each pass over the list (the first cold, the others warm) on stderr.\n"
		   "  -a  print each address before its answer, as eu-addr2line -a\n");
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "exe", required_argument, NULL, 'e' },
		{ "addresses", no_argument, NULL, 'a' },
		{ "debug-dir", required_argument, NULL, 'd' },
		{ "repeat", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *debug_dirs[MAX_DEBUG_DIRS + 1] = { NULL };
	struct buf out = { 0 }, scratch = { 0 };
	struct sym_cache *cache = NULL;
	struct symbols syms = { .debug_dirs = debug_dirs };
	struct sym_file_ref ref = { 0 };
	struct sym_location loc;
	size_t n_dirs = 0, n_addrs;
	uint64_t *addrs;
	bool print_addresses = false;
	char *exe = NULL;
	long repeat = 1;
	int opt, err;

	while ((opt = getopt_long(argc, argv, "ae:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'e':
			/* The cache opens absolute paths only (names in a
			 * process's mount namespace). */
			free(exe);
			exe = realpath(optarg, NULL);
			if (!exe) {
				fprintf(stderr, "sym_addr2line: %s: %s\n", optarg,
					strerror(errno));
				return 1;
			}
			break;
		case 'a':
			print_addresses = true;
			break;
		case 'd':
			if (n_dirs == MAX_DEBUG_DIRS) {
				fprintf(stderr, "sym_addr2line: at most %d --debug-dir\n",
					MAX_DEBUG_DIRS);
				return 2;
			}
			debug_dirs[n_dirs++] = optarg;
			break;
		case 'r':
			repeat = strtol(optarg, NULL, 10);
			if (repeat < 1) {
				fprintf(stderr, "sym_addr2line: --repeat: a count of 1 or more\n");
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	ref.path = exe;
	if (!ref.path || optind != argc) {
		usage(stderr);
		return 2;
	}
	if (read_addresses(stdin, &addrs, &n_addrs)) {
		perror("sym_addr2line");
		return 1;
	}
	for (long pass = 0; pass < repeat; pass++) {
		struct buf *b = pass ? &scratch : &out;
		double t0 = now_s(), dt;

		if (!cache) {
			struct sym_cache_opts opts = {
				.sz = sizeof(opts),
				.debug_dirs = debug_dirs,
			};

			cache = sym_cache_new(&opts);
			if (!cache) {
				perror("sym_addr2line: sym_cache_new");
				return 1;
			}
			err = sym_cache_get_elf(cache, &ref, &syms.elf);
			if (err) {
				fprintf(stderr, "sym_addr2line: %s: %s\n", ref.path,
					strerror(-err));
				return 1;
			}
		}
		for (size_t i = 0; i < n_addrs; i++) {
			err = sym_elf_resolve(cache, syms.elf, addrs[i], &loc);
			if (err) /* eu-addr2line's answer when nothing is known */
				loc.n = 0;
			if (pass)
				scratch.len = 0;
			if (print_addresses)
				buf_printf(b, "0x%016" PRIx64 "\n", addrs[i]);
			print_location(b, &syms, addrs[i], &loc);
		}
		dt = now_s() - t0;
		fprintf(stderr, "sym_addr2line: %s: %zu addresses, %.6f s, %.0f addresses/s\n",
			pass ? "warm" : "cold", n_addrs, dt, dt > 0 ? n_addrs / dt : 0.0);
	}
	fwrite(out.p ? out.p : "", 1, out.len, stdout);
	if (syms.debug)
		sym_elf_free(syms.debug);
	sym_cache_free(cache);
	free(out.p);
	free(scratch.p);
	free(addrs);
	free(exe);
	return fflush(stdout) ? 1 : 0;
}
