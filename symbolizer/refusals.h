/* The caps on what one file may make the symbolizer read or hold, and the
 * count of what they refused. Every file parsed here is untrusted (any
 * process can map, or name as its debug file, any bytes it likes), so each
 * read into memory is bounded by what the file really holds and by an
 * absolute cap; what is refused is counted here, process-wide, for the
 * agent's counter table.
 *
 * Counted from any thread (debuginfod's included): the counts are atomic. */
#ifndef SMOLDER_REFUSALS_H
#define SMOLDER_REFUSALS_H

#include <stdint.h>

/* The most of one section read into memory for names: .symtab and its
 * strings, .dynsym, .gopclntab, notes. The biggest real .symtab seen
 * (a browser's, unstripped) is well under it. */
#define SYM_SECTION_MAX ((uint64_t)256 << 20)
/* The most a compressed section (SHF_COMPRESSED, .zdebug_*) may expand
 * to, and the most it may expand by: DWARF compresses 3-10 times, zlib's
 * own limit is about 1000 times, which only a bomb reaches. */
#define SYM_DECOMPRESSED_MAX ((uint64_t)512 << 20)
#define SYM_DECOMPRESS_RATIO_MAX 64
/* Below this, a section may expand by any ratio (a run of zeros). */
#define SYM_DECOMPRESS_RATIO_FLOOR ((uint64_t)1 << 20)
/* The largest debug-file candidate read whole for its .gnu_debuglink CRC. */
#define SYM_DEBUGLINK_CRC_MAX ((uint64_t)2 << 30)
/* The largest file read whole for its content id (content_id.h): a larger
 * one has none, and so shares its tables with no other file. */
#define SYM_CONTENT_HASH_MAX ((uint64_t)2 << 30)

enum sym_refusal {
	SYM_REFUSED_SECTION,    /* a file: a section to read lies past its end, has holes or is over SYM_SECTION_MAX */
	SYM_REFUSED_COMPRESSED, /* a file: a compressed section would expand past the caps */
	SYM_REFUSED_DEBUGLINK,  /* a debug-file candidate over SYM_DEBUGLINK_CRC_MAX, not read */
	SYM_REFUSED__COUNT,
};

void sym_refusal_count(enum sym_refusal r);
/* n refusals counted elsewhere: the parser worker's, told to the agent. */
void sym_refusal_add(enum sym_refusal r, uint64_t n);

struct sym_refusal_stats {
	uint64_t count[SYM_REFUSED__COUNT]; /* since start, by enum sym_refusal */
};
void sym_refusals_get_stats(struct sym_refusal_stats *st);

#endif
