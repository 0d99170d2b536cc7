/* The unwind-table builder (see unwind_table.h and bpf/unwind.h).
 *
 * libdw interprets the CFI: for an address, dwarf_cfi_addrframe gives the
 * frame state, with the range of addresses it holds for, the CFA rule
 * (dwarf_frame_cfa) and each register's (dwarf_frame_register), as DWARF
 * expressions. Here those expressions are matched against the shapes the
 * BPF walk can follow (a register plus a constant, a read of one, the PLT's,
 * OpenSSL's indexed read); anything else becomes a row that says so.
 *
 * libdw has no call that lists the FDEs by address, and addresses no FDE
 * covers must become rows too (the walk falls back to frame pointers
 * there), so the FDEs are enumerated with dwarf_next_cfi and each one's
 * initial location is decoded from its CIE's pointer encoding (the 'R' of
 * a "z" augmentation, DWARF 4 and the LSB's .eh_frame format). Within an
 * FDE, dwarf_frame_info's [start, end) steps from row to row.
 */
#include "unwind_table.h"

#include <dwarf.h>
#include <errno.h>
#include <gelf.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <elfutils/libdw.h>

/* .eh_frame pointer encodings (DW_EH_PE_*). */
#define PE_OMIT 0xff
#define PE_FORMAT 0x0f
#define PE_APPLY 0x70
#define PE_ABSPTR 0x00
#define PE_UDATA2 0x02
#define PE_UDATA4 0x03
#define PE_UDATA8 0x04
#define PE_SDATA2 0x0a
#define PE_SDATA4 0x0b
#define PE_SDATA8 0x0c
#define PE_PCREL 0x10

struct fde_range {
	uint64_t lo, hi;
};

struct cie_enc {
	Dwarf_Off offset;
	uint8_t enc;
	bool usable;
};

struct builder {
	struct sym_unwind_table *t;
	size_t cap;
	struct fde_range *fdes;
	size_t n_fdes, cap_fdes;
	struct cie_enc *cies;
	size_t n_cies, cap_cies;
};

static int grow(void **v, size_t *cap, size_t n, size_t size)
{
	size_t c;
	void *nv;

	if (n < *cap)
		return 0;
	c = *cap ? 2 * *cap : 256;
	nv = realloc(*v, c * size);
	if (!nv)
		return -ENOMEM;
	*v = nv;
	*cap = c;
	return 0;
}

/* ---- enumerating the FDEs ---- */

static size_t pointer_size(uint8_t enc)
{
	switch (enc & PE_FORMAT) {
	case PE_ABSPTR:
	case PE_UDATA8:
	case PE_SDATA8:
		return 8;
	case PE_UDATA4:
	case PE_SDATA4:
		return 4;
	case PE_UDATA2:
	case PE_SDATA2:
		return 2;
	}
	return 0; /* LEB128 and the rest: not read here */
}

/* The value of an encoded pointer at p (whose own address is at, for
 * pc-relative ones); false for an encoding not read here. */
static bool read_pointer(const uint8_t *p, const uint8_t *end, uint8_t enc, uint64_t at,
			 bool apply, uint64_t *out)
{
	size_t n = pointer_size(enc);
	uint64_t v = 0;

	if (!n || (size_t)(end - p) < n)
		return false;
	for (size_t i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i); /* x86_64: little-endian */
	if ((enc & PE_FORMAT) == PE_SDATA4)
		v = (uint64_t)(int64_t)(int32_t)v;
	else if ((enc & PE_FORMAT) == PE_SDATA2)
		v = (uint64_t)(int64_t)(int16_t)v;
	if (!apply) {
		*out = v;
		return true;
	}
	switch (enc & PE_APPLY) {
	case 0:
		break;
	case PE_PCREL:
		v += at;
		break;
	default:
		return false; /* datarel, textrel, funcrel: not used in .eh_frame FDEs */
	}
	*out = v;
	return true;
}

/* The FDE pointer encoding of a CIE: the 'R' of its augmentation. */
static struct cie_enc cie_encoding(const Dwarf_CIE *cie, Dwarf_Off offset, bool eh_frame)
{
	struct cie_enc ce = { .offset = offset, .enc = PE_ABSPTR, .usable = true };
	const uint8_t *d = cie->augmentation_data;
	const uint8_t *end = d ? d + cie->augmentation_data_size : NULL;

	if (!eh_frame || cie->augmentation[0] != 'z')
		return ce;
	for (const char *a = cie->augmentation + 1; *a && d && d < end; a++) {
		switch (*a) {
		case 'R':
			ce.enc = *d++;
			return ce;
		case 'L':
			d++;
			break;
		case 'P': {
			uint8_t penc = *d++;
			size_t n = pointer_size(penc);
			if (!n) {
				ce.usable = false;
				return ce;
			}
			d += n;
			break;
		}
		case 'S':
		case 'B':
		case 'G':
			break;
		default:
			return ce;
		}
	}
	return ce;
}

static const struct cie_enc *find_cie(const struct builder *b, Dwarf_Off offset)
{
	for (size_t i = b->n_cies; i-- > 0;)
		if (b->cies[i].offset == offset)
			return &b->cies[i];
	return NULL;
}

static int add_fde(struct builder *b, const Dwarf_FDE *fde, const Elf_Data *data,
		   uint64_t section_addr)
{
	const struct cie_enc *ce = find_cie(b, fde->CIE_pointer);
	const uint8_t *base = data->d_buf;
	uint64_t lo, len;
	size_t n;

	if (!ce || !ce->usable || !(n = pointer_size(ce->enc)) ||
	    !read_pointer(fde->start, fde->end, ce->enc,
			  section_addr + (uint64_t)(fde->start - base), true, &lo) ||
	    !read_pointer(fde->start + n, fde->end, ce->enc & PE_FORMAT, 0, false, &len)) {
		b->t->skipped_fdes++;
		return 0;
	}
	if (!len || lo + len < lo)
		return 0;
	if (grow((void **)&b->fdes, &b->cap_fdes, b->n_fdes, sizeof(*b->fdes)))
		return -ENOMEM;
	b->fdes[b->n_fdes++] = (struct fde_range){ lo, lo + len };
	return 0;
}

static int compare_fdes(const void *a, const void *b)
{
	const struct fde_range *x = a, *y = b;

	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

static Elf_Scn *section_named(Elf *elf, const char *name, GElf_Shdr *shdr)
{
	size_t shstrndx;
	Elf_Scn *scn = NULL;

	if (elf_getshdrstrndx(elf, &shstrndx))
		return NULL;
	while ((scn = elf_nextscn(elf, scn))) {
		const char *n;

		if (!gelf_getshdr(scn, shdr) || shdr->sh_type == SHT_NOBITS)
			continue;
		n = elf_strptr(elf, shstrndx, shdr->sh_name);
		if (n && strcmp(n, name) == 0)
			return scn;
	}
	return NULL;
}

static int list_fdes(struct builder *b, Elf *elf, bool eh_frame)
{
	const unsigned char *ident = (const unsigned char *)elf_getident(elf, NULL);
	GElf_Shdr shdr;
	Elf_Scn *scn = section_named(elf, eh_frame ? ".eh_frame" : ".debug_frame", &shdr);
	Elf_Data *data = scn ? elf_getdata(scn, NULL) : NULL;
	Dwarf_Off off = 0, next;
	int rc;

	if (!data || !ident)
		return -ENOENT;
	for (;;) {
		Dwarf_CFI_Entry e;

		rc = dwarf_next_cfi(ident, data, eh_frame, off, &next, &e);
		if (rc == 1)
			break;
		if (rc == 0 && dwarf_cfi_cie_p(&e)) {
			if (grow((void **)&b->cies, &b->cap_cies, b->n_cies, sizeof(*b->cies)))
				return -ENOMEM;
			b->cies[b->n_cies++] = cie_encoding(&e.cie, off, eh_frame);
		} else if (rc == 0 && add_fde(b, &e.fde, data, shdr.sh_addr)) {
			return -ENOMEM;
		} else if (rc != 0) {
			b->t->skipped_fdes++;
			if (next == (Dwarf_Off)-1 || next <= off)
				break; /* cannot skip past it */
		}
		off = next;
	}
	if (b->n_fdes) /* qsort's array must not be NULL, even empty */
		qsort(b->fdes, b->n_fdes, sizeof(*b->fdes), compare_fdes);
	return 0;
}

/* ---- translating one frame state ---- */

/* An expression CFA + k, as libdw writes a register's offset(N) rule. */
static bool cfa_plus(const Dwarf_Op *ops, size_t n, int64_t *k)
{
	if (n < 1 || ops[0].atom != DW_OP_call_frame_cfa)
		return false;
	if (n == 1)
		*k = 0;
	else if (n == 2 && ops[1].atom == DW_OP_plus_uconst)
		*k = (int64_t)ops[1].number;
	else if (n == 3 && (ops[1].atom == DW_OP_consts || ops[1].atom == DW_OP_constu) &&
		 ops[2].atom == DW_OP_plus)
		*k = (int64_t)ops[1].number;
	else
		return false;
	return true;
}

/* An expression reg + k: DW_OP_bregN k, or DW_OP_bregx N k. */
static bool reg_plus(const Dwarf_Op *op, unsigned *reg, int64_t *k)
{
	if (op->atom >= DW_OP_breg0 && op->atom <= DW_OP_breg31) {
		*reg = op->atom - DW_OP_breg0;
		*k = (int64_t)op->number;
		return true;
	}
	if (op->atom == DW_OP_bregx) {
		*reg = (unsigned)op->number;
		*k = (int64_t)op->number2;
		return true;
	}
	return false;
}

/* The lazy-binding PLT's CFA: rsp + 8 + ((rip & 15) >= T) << 3. */
static bool plt_expression(const Dwarf_Op *ops, size_t n, int64_t *off, uint8_t *threshold)
{
	static const uint8_t shape[] = { DW_OP_breg7, DW_OP_breg16, DW_OP_lit15, DW_OP_and,
					 0 /* lit T */, DW_OP_ge, DW_OP_lit3, DW_OP_shl,
					 DW_OP_plus };

	if (n != sizeof(shape))
		return false;
	for (size_t i = 0; i < n; i++) {
		if (i == 4) {
			if (ops[i].atom < DW_OP_lit0 || ops[i].atom > DW_OP_lit31)
				return false;
			*threshold = (uint8_t)(ops[i].atom - DW_OP_lit0);
		} else if (ops[i].atom != shape[i]) {
			return false;
		}
	}
	if (ops[1].number != 0)
		return false;
	*off = (int64_t)ops[0].number;
	return true;
}

static bool fits_s32(int64_t v)
{
	return v >= INT32_MIN && v <= INT32_MAX;
}

static bool fits_s16(int64_t v)
{
	return v >= INT16_MIN && v <= INT16_MAX;
}

/* A general register the walk can keep: rax..r15 (DWARF 0..15). */
static bool walk_reg(unsigned reg)
{
	return reg < SMOLDER_DWARF_GPRS;
}

/* The constant added by ops[0..n): none, DW_OP_plus_uconst k, or
 * DW_OP_consts/constu k; DW_OP_plus. False for anything else. */
static bool plus_const(const Dwarf_Op *ops, size_t n, int64_t *k)
{
	*k = 0;
	if (n == 0)
		return true;
	if (n == 1 && ops[0].atom == DW_OP_plus_uconst)
		*k = (int64_t)ops[0].number;
	else if (n == 2 && (ops[0].atom == DW_OP_consts || ops[0].atom == DW_OP_constu) &&
		 ops[1].atom == DW_OP_plus)
		*k = (int64_t)ops[0].number;
	else
		return false;
	return true;
}

/* CFA = *(reg + k) + add: `bregN k; deref` and an optional constant, the
 * add a multiple of 8 the row holds (cfa_arg, in 8s). */
static bool deref_expression(const Dwarf_Op *ops, size_t n, struct smolder_unwind_row *r)
{
	unsigned reg = 0;
	int64_t k = 0, add = 0;

	if (n < 2 || !reg_plus(&ops[0], &reg, &k) || !walk_reg(reg) || !fits_s32(k) ||
	    ops[1].atom != DW_OP_deref || !plus_const(ops + 2, n - 2, &add) || add < 0 ||
	    add % 8 || add / 8 >= 64)
		return false;
	r->cfa_rule = SMOLDER_CFA_DEREF;
	r->cfa_reg = reg & 15;
	r->cfa_offset = (int32_t)k;
	r->cfa_arg = (uint8_t)(add / 8);
	return true;
}

/* CFA = *(reg + k + index * 8) + 8, OpenSSL's bn_mul_mont:
 * `bregN k; bregM 0; lit8; mul; plus; deref; plus_uconst 8`. */
static bool deref_indexed_expression(const Dwarf_Op *ops, size_t n, struct smolder_unwind_row *r)
{
	unsigned reg = 0, index = 0;
	int64_t k = 0, k2 = 0;

	if (n != 7 || !reg_plus(&ops[0], &reg, &k) || !reg_plus(&ops[1], &index, &k2) ||
	    !walk_reg(reg) || !walk_reg(index) || k2 != 0 || !fits_s32(k) ||
	    ops[2].atom != DW_OP_lit8 || ops[3].atom != DW_OP_mul || ops[4].atom != DW_OP_plus ||
	    ops[5].atom != DW_OP_deref || ops[6].atom != DW_OP_plus_uconst || ops[6].number != 8)
		return false;
	r->cfa_rule = SMOLDER_CFA_DEREF_INDEXED;
	r->cfa_reg = reg & 15;
	r->cfa_offset = (int32_t)k;
	r->cfa_arg = index & 15;
	return true;
}

static void cfa_rule(Dwarf_Frame *frame, struct smolder_unwind_row *r)
{
	Dwarf_Op *ops;
	size_t n;
	unsigned reg = 0;
	int64_t k = 0;
	uint8_t t = 0;

	r->cfa_rule = SMOLDER_CFA_UNSUPPORTED;
	if (dwarf_frame_cfa(frame, &ops, &n) || n == 0)
		return;
	if (n == 1 && reg_plus(&ops[0], &reg, &k) && walk_reg(reg) && fits_s32(k)) {
		r->cfa_rule = SMOLDER_CFA_REG;
		r->cfa_reg = reg & 15;
		r->cfa_offset = (int32_t)k;
	} else if (deref_expression(ops, n, r) || deref_indexed_expression(ops, n, r)) {
		return;
	} else if (plt_expression(ops, n, &k, &t) && fits_s32(k) && t < 64) {
		r->cfa_rule = SMOLDER_CFA_PLT;
		r->cfa_reg = SMOLDER_DWARF_RSP;
		r->cfa_offset = (int32_t)k;
		r->cfa_arg = t;
	}
}

static void rbp_rule(Dwarf_Frame *frame, struct smolder_unwind_row *r)
{
	Dwarf_Op mem[3], *ops;
	size_t n;
	unsigned reg = 0;
	int64_t k = 0;

	r->rbp_rule = SMOLDER_RBP_UNDEFINED;
	if (dwarf_frame_register(frame, SMOLDER_DWARF_RBP, mem, &ops, &n))
		return;
	if (n == 0) {
		r->rbp_rule = ops == NULL ? SMOLDER_RBP_SAME : SMOLDER_RBP_UNDEFINED;
	} else if (cfa_plus(ops, n, &k) && fits_s16(k)) {
		r->rbp_rule = SMOLDER_RBP_AT_CFA;
		r->rbp_offset = (int16_t)k;
	} else if (n == 1 && reg_plus(&ops[0], &reg, &k) && reg == SMOLDER_DWARF_RBP &&
		   fits_s16(k)) {
		r->rbp_rule = SMOLDER_RBP_AT_RBP;
		r->rbp_offset = (int16_t)k;
	}
}

/* The return address must be at CFA - 8, or undefined (the outermost
 * frame). */
static int ra_rule(Dwarf_Frame *frame)
{
	Dwarf_Op mem[3], *ops;
	size_t n;
	int64_t k = 0;

	if (dwarf_frame_register(frame, SMOLDER_DWARF_RA, mem, &ops, &n))
		return SMOLDER_CFA_UNSUPPORTED;
	if (n == 0)
		return ops == mem ? SMOLDER_CFA_STOP : SMOLDER_CFA_UNSUPPORTED;
	if (cfa_plus(ops, n, &k) && k == -8)
		return 0;
	return SMOLDER_CFA_UNSUPPORTED;
}

static struct smolder_unwind_row translate(Dwarf_Frame *frame, bool signal, uint64_t pc)
{
	struct smolder_unwind_row r;
	int ra;

	memset(&r, 0, sizeof(r)); /* gcc 12 doubts a designated initializer here */
	r.pc = pc;
	if (signal) {
		r.cfa_rule = SMOLDER_CFA_SIGNAL;
		return r;
	}
	ra = ra_rule(frame);
	if (ra) {
		r.cfa_rule = (uint8_t)ra;
		return r;
	}
	cfa_rule(frame, &r);
	if (r.cfa_rule == SMOLDER_CFA_UNSUPPORTED) {
		r.rbp_rule = SMOLDER_RBP_UNDEFINED;
		return r;
	}
	rbp_rule(frame, &r);
	return r;
}

/* ---- the table ---- */

static bool same_rule(const struct smolder_unwind_row *a, const struct smolder_unwind_row *b)
{
	return a->cfa_rule == b->cfa_rule && a->cfa_reg == b->cfa_reg &&
	       a->cfa_arg == b->cfa_arg && a->rbp_rule == b->rbp_rule &&
	       a->cfa_offset == b->cfa_offset && a->rbp_offset == b->rbp_offset;
}

static int append(struct builder *b, const struct smolder_unwind_row *r)
{
	struct sym_unwind_table *t = b->t;

	if (t->n && t->rows[t->n - 1].pc >= r->pc) {
		/* An FDE overlapping the one before it: the earlier one wins
		 * where both speak, unless this row starts where it ended. */
		if (t->rows[t->n - 1].pc > r->pc)
			return 0;
		t->rows[t->n - 1] = *r;
		if (t->n > 1 && same_rule(&t->rows[t->n - 2], r))
			t->n--;
		return 0;
	}
	if (t->n && same_rule(&t->rows[t->n - 1], r))
		return 0;
	if (grow((void **)&t->rows, &b->cap, t->n, sizeof(*t->rows)))
		return -ENOMEM;
	t->rows[t->n++] = *r;
	if (r->cfa_rule == SMOLDER_CFA_UNSUPPORTED)
		t->unsupported_rows++;
	return 0;
}

static int add_rows(struct builder *b, Dwarf_CFI *cfi, const struct fde_range *f)
{
	uint64_t pc = f->lo;

	while (pc < f->hi) {
		Dwarf_Frame *frame;
		Dwarf_Addr start, end;
		bool signal = false;
		struct smolder_unwind_row r;
		int rc;

		if (dwarf_cfi_addrframe(cfi, pc, &frame)) {
			b->t->skipped_fdes++;
			return 0;
		}
		rc = dwarf_frame_info(frame, &start, &end, &signal);
		r = translate(frame, signal, pc);
		free(frame);
		if (rc < 0 || end <= pc) {
			b->t->skipped_fdes++;
			return 0;
		}
		if ((rc = append(b, &r)))
			return rc;
		pc = end < f->hi ? end : f->hi;
	}
	return 0;
}

static int build_from(struct builder *b, Dwarf_CFI *cfi)
{
	for (size_t i = 0; i < b->n_fdes; i++) {
		const struct fde_range *f = &b->fdes[i];
		struct smolder_unwind_row gap = { .pc = f->hi, .cfa_rule = SMOLDER_CFA_NONE };
		int rc = add_rows(b, cfi, f);

		/* Where no FDE speaks, frame pointers: unless the next FDE
		 * starts right here. */
		if (!rc && (i + 1 == b->n_fdes || b->fdes[i + 1].lo > f->hi))
			rc = append(b, &gap);
		if (rc)
			return rc;
	}
	return 0;
}

/* Code at the ELF entry point is where the kernel starts the process:
 * whatever calls it makes, it is the outermost frame. Most entry points
 * say so in CFI (glibc's _start marks rip undefined); ld.so's has no CFI
 * at all, and frame pointers there end the walk with rbp 0 in a frame that
 * is no named root. Where no FDE covers the entry, its first
 * ENTRY_ROOT_BYTES (ld.so's _start and _dl_start_user, with the calls to
 * _dl_start and _dl_init) are marked as the root, up to the next row. */
#define ENTRY_ROOT_BYTES 96

static int insert_row(struct builder *b, size_t at, const struct smolder_unwind_row *r)
{
	struct sym_unwind_table *t = b->t;

	if (grow((void **)&t->rows, &b->cap, t->n, sizeof(*t->rows)))
		return -ENOMEM;
	memmove(&t->rows[at + 1], &t->rows[at], (t->n - at) * sizeof(*t->rows));
	t->rows[at] = *r;
	t->n++;
	return 0;
}

static int mark_entry_root(struct builder *b, Elf *elf)
{
	struct sym_unwind_table *t = b->t;
	struct smolder_unwind_row stop = { .cfa_rule = SMOLDER_CFA_STOP };
	struct smolder_unwind_row after = { .cfa_rule = SMOLDER_CFA_NONE };
	const struct smolder_unwind_row *r;
	GElf_Ehdr eh;
	size_t at;
	int rc;

	if (!gelf_getehdr(elf, &eh) || !eh.e_entry || eh.e_entry > UINT64_MAX - ENTRY_ROOT_BYTES)
		return 0;
	r = sym_unwind_table_find(t, eh.e_entry);
	if (r && r->cfa_rule != SMOLDER_CFA_NONE)
		return 0; /* CFI speaks there */
	at = r ? (size_t)(r - t->rows) + 1 : 0;
	stop.pc = eh.e_entry;
	after.pc = eh.e_entry + ENTRY_ROOT_BYTES;
	if (r && r->pc == eh.e_entry) {
		t->rows[at - 1] = stop; /* the gap starts at the entry */
	} else if ((rc = insert_row(b, at++, &stop))) {
		return rc;
	}
	if (at < t->n && t->rows[at].pc <= after.pc)
		return 0; /* the next row starts within the root's bytes */
	return insert_row(b, at, &after);
}

int sym_unwind_table_build(Elf *elf, struct sym_unwind_table *out)
{
	struct builder b = { .t = out };
	Dwarf_CFI *cfi = NULL;
	Dwarf *dw = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = list_fdes(&b, elf, true);
	if (rc == 0 && b.n_fdes)
		cfi = dwarf_getcfi_elf(elf);
	if (!cfi && rc != -ENOMEM) {
		/* No .eh_frame: a .debug_frame (in the file itself). */
		b.n_fdes = b.n_cies = 0;
		rc = list_fdes(&b, elf, false);
		dw = rc == 0 && b.n_fdes ? dwarf_begin_elf(elf, DWARF_C_READ, NULL) : NULL;
		cfi = dw ? dwarf_getcfi(dw) : NULL;
		if (!cfi && rc == 0)
			rc = b.n_fdes ? -EBADMSG : -ENOENT;
	}
	if (cfi)
		rc = build_from(&b, cfi);
	if (cfi && !rc)
		rc = mark_entry_root(&b, elf);
	if (cfi && !dw)
		dwarf_cfi_end(cfi);
	if (dw)
		dwarf_end(dw);
	free(b.fdes);
	free(b.cies);
	if (rc)
		sym_unwind_table_release(out);
	return rc;
}

void sym_unwind_table_release(struct sym_unwind_table *t)
{
	free(t->rows);
	memset(t, 0, sizeof(*t));
}

const struct smolder_unwind_row *sym_unwind_table_find(const struct sym_unwind_table *t,
						       uint64_t pc)
{
	size_t lo = 0, hi = t->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (t->rows[mid].pc <= pc)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo ? &t->rows[lo - 1] : NULL;
}
