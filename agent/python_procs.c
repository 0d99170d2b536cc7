/* Python processes (python_procs.h): described to BPF, and their code
 * objects named. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "frames.h"
#include "log.h"
#include "python_layout.h"
#include "python_procs.h"
#include "unwind.h"

/* Code objects held per process; beyond, frames stay unnamed (counted). */
#define CODES_MAX 16384

struct code_entry {
	uint64_t code; /* 0: a free slot */
	uint32_t tag;  /* without SMOLDER_PY_TAG_ENTRY */
	int err;       /* 0: named */
	struct sym_py_code names;
};

struct python_proc {
	int pid;
	uint64_t start_ticks;
	struct sym_py_types types; /* the process's addresses */
	uint64_t eval[2][2];
	uint32_t n_eval;
	struct code_entry *codes; /* open addressing, cap a power of 2 */
	size_t cap, n;
	uint64_t *want_codes;
	uint32_t *want_tags;
	size_t n_want, cap_want;
	/* Intervals ended since the process exited (or exec'd): its record
	 * stays for the samples drained after, until GONE_KEPT have ended. */
	unsigned int gone;
	bool unreadable; /* a version or build we cannot read: not walked */
};

/* The interval an exit falls in ends once, and its samples are named
 * then; the record goes at the end of the one after. */
#define GONE_KEPT 2

struct python_procs {
	int procs_fd;
	struct sym_cache *sym;
	char *proc_root;
	struct python_proc **v; /* sorted by pid */
	size_t n;
	/* Versions warned about, by minor (3.minor; 3.minor t at 64+). */
	uint64_t warned[2];
	struct python_procs_stats st;
};

struct python_procs *python_procs_new(const struct python_procs_opts *o)
{
	struct python_procs *pp = calloc(1, sizeof(*pp));

	if (!pp)
		return NULL;
	pp->procs_fd = o->procs_fd;
	pp->sym = o->sym;
	pp->proc_root = strdup(o->proc_root ? o->proc_root : "/proc");
	if (!pp->proc_root) {
		free(pp);
		return NULL;
	}
	return pp;
}

static void proc_free(struct python_proc *pr)
{
	for (size_t i = 0; i < pr->cap; i++)
		if (pr->codes[i].code)
			sym_py_code_release(&pr->codes[i].names);
	free(pr->codes);
	free(pr->want_codes);
	free(pr->want_tags);
	free(pr);
}

void python_procs_free(struct python_procs *pp)
{
	if (!pp)
		return;
	for (size_t i = 0; i < pp->n; i++)
		proc_free(pp->v[i]);
	free(pp->v);
	free(pp->proc_root);
	free(pp);
}

/* The index of pid in pp->v, or where it would go. */
static size_t proc_index(const struct python_procs *pp, int pid)
{
	size_t lo = 0, hi = pp->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (pp->v[mid]->pid < pid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

struct python_proc *python_procs_find(struct python_procs *pp, int pid, uint64_t start_ticks)
{
	size_t i = proc_index(pp, pid);

	if (i < pp->n && pp->v[i]->pid == pid && pp->v[i]->start_ticks == start_ticks &&
	    !pp->v[i]->unreadable)
		return pp->v[i];
	return NULL;
}

static void proc_remove(struct python_procs *pp, size_t i)
{
	pp->st.codes -= pp->v[i]->n;
	proc_free(pp->v[i]);
	memmove(&pp->v[i], &pp->v[i + 1], (pp->n - i - 1) * sizeof(*pp->v));
	pp->n--;
}

static void count_processes(struct python_procs *pp)
{
	pp->st.processes = 0;
	for (size_t i = 0; i < pp->n; i++)
		pp->st.processes += !pp->v[i]->gone && !pp->v[i]->unreadable;
}

/* The walk stops at once (the pid may be reused); the names stay for the
 * samples not yet drained. */
void python_procs_forget(struct python_procs *pp, int pid)
{
	size_t i = proc_index(pp, pid);
	__u32 tgid = (__u32)pid;

	if (i >= pp->n || pp->v[i]->pid != pid)
		return;
	if (pp->procs_fd >= 0)
		bpf_map_delete_elem(pp->procs_fd, &tgid);
	if (!pp->v[i]->gone)
		pp->v[i]->gone = 1;
	count_processes(pp);
}

void python_procs_end_interval(struct python_procs *pp)
{
	for (size_t i = pp->n; i-- > 0;) {
		if (pp->v[i]->gone && ++pp->v[i]->gone > GONE_KEPT)
			proc_remove(pp, i);
	}
	count_processes(pp);
}

/* 3.minor from a file name such as libpython3.11.so.1.0 or python3.13t;
 * *free_threaded when it says so (the t). 0 when it names no version. */
static unsigned int minor_from_path(const char *path, bool *free_threaded)
{
	const char *base = strrchr(path, '/'), *p;
	char *end;
	unsigned long minor;

	*free_threaded = false;
	p = strstr(base ? base + 1 : path, "python3.");
	if (!p)
		return 0;
	minor = strtoul(p + strlen("python3."), &end, 10);
	if (end == p + strlen("python3.") || minor > 99)
		return 0;
	*free_threaded = *end == 't';
	return (unsigned int)minor;
}

static bool python_file_name(const struct disc_mapping *m)
{
	const char *base;

	if (m->perms[2] != 'x' || !m->path || m->path[0] != '/')
		return false;
	base = strrchr(m->path, '/');
	return strstr(base ? base + 1 : m->path, "python") != NULL;
}

/* Says once per version that its processes keep native frames only. */
static void warn_unsupported(struct python_procs *pp, unsigned int minor, bool free_threaded,
			     const char *path)
{
	unsigned int bit = (minor & 63) + (free_threaded ? 64 : 0);

	pp->st.unsupported++;
	if (pp->warned[bit / 64] & (1ULL << (bit % 64)))
		return;
	pp->warned[bit / 64] |= 1ULL << (bit % 64);
	if (minor)
		log_warn("Python 3.%u%s (%s): not a version whose frames smolder can read; its "
			 "processes keep their native frames only",
			 minor, free_threaded ? "t (free-threaded)" : "", path);
	else
		log_warn("Python of an unknown version (%s): its processes keep their native frames "
			 "only",
			 path);
}

static uint16_t span_end(uint16_t field, uint16_t size, uint16_t end)
{
	return field != SMOLDER_PY_FIELD_NONE && field + size > end ? field + size : end;
}

/* What the walk reads of a frame and of a code object at once (see
 * smolder_py_offsets); false when the fields lie too far apart. */
static bool read_spans(struct smolder_py_offsets *w)
{
	uint16_t lasti = w->lasti <= SMOLDER_PY_LASTI_UNITS ? 4 : 8;
	uint16_t frame = 0, from = w->code_firstlineno, end;

	frame = span_end(w->frame_back, 8, frame);
	frame = span_end(w->frame_code, 8, frame);
	frame = span_end(w->frame_lasti, lasti, frame);
	frame = span_end(w->frame_owner, 1, frame);
	frame = span_end(w->frame_is_entry, 1, frame);
	from = w->code_name < from ? w->code_name : from;
	from = w->code_filename < from ? w->code_filename : from;
	end = span_end(w->code_firstlineno, 4, 0);
	end = span_end(w->code_name, 8, end);
	end = span_end(w->code_filename, 8, end);
	if (frame > SMOLDER_PY_READ_MAX || end - from > SMOLDER_PY_READ_MAX - 8)
		return false;
	w->frame_read = frame;
	w->code_read_from = from;
	w->code_read = end - from;
	return true;
}

/* The walk's offsets from 3.13's own account of its layout (into *walk),
 * and the naming table checked against it: false when the two disagree
 * (a build we do not know), or for a free-threaded build. */
static bool offsets_from_debug(const struct sym_py_debug_offsets *d,
			       const struct sym_py_layout *layout, struct smolder_py_offsets *walk)
{
	if (d->free_threaded || d->code_qualname != layout->code_qualname ||
	    d->code_linetable != layout->code_linetable ||
	    d->code_firstlineno != layout->walk.code_firstlineno ||
	    d->code_name != layout->walk.code_name ||
	    d->code_filename != layout->walk.code_filename ||
	    d->unicode_state != layout->unicode_state ||
	    d->unicode_length != layout->unicode_length ||
	    d->unicode_ascii_data != layout->unicode_ascii_data ||
	    d->bytes_size != layout->bytes_size || d->bytes_data != layout->bytes_data)
		return false;
	*walk = layout->walk;
	walk->runtime_interp_head = d->runtime_interp_head;
	walk->interp_tstate_head = d->interp_threads_head;
	walk->tstate_next = d->tstate_next;
	walk->tstate_thread_id = d->tstate_thread_id;
	walk->tstate_frame = d->tstate_current_frame;
	walk->cframe_current_frame = SMOLDER_PY_FIELD_NONE;
	walk->frame_back = d->frame_previous;
	walk->frame_code = d->frame_executable;
	walk->frame_lasti = d->frame_instr_ptr;
	walk->frame_owner = d->frame_owner;
	walk->frame_is_entry = SMOLDER_PY_FIELD_NONE;
	walk->code_adaptive = d->code_adaptive;
	walk->lasti = SMOLDER_PY_LASTI_INSTR_PTR;
	return true;
}

/* Whether the process reads as the layout says (through the worker, from
 * /proc/PID/mem: PyCode_Type's name and members, the thread list): false
 * only when it certainly does not. */
static bool layout_holds(struct python_procs *pp, const struct disc_process *p,
			 const struct python_proc *pr, const struct smolder_py_proc *bpf,
			 const struct sym_py_layout *layout)
{
	struct sym_py_check o = { .runtime_interp_head = bpf->off.runtime_interp_head,
				  .interp_tstate_head = bpf->off.interp_tstate_head,
				  .tstate_next = bpf->off.tstate_next,
				  .tstate_interp = layout->tstate_interp,
				  .code_type = pr->types.code_type,
				  .code_name = layout->walk.code_name,
				  .code_filename = layout->walk.code_filename,
				  .code_qualname = layout->code_qualname,
				  .code_firstlineno = layout->walk.code_firstlineno,
				  .code_linetable = layout->code_linetable,
				  .minor = layout->minor };
	char path[64];
	int fd, err;

	snprintf(path, sizeof(path), "%s/%d/mem", pp->proc_root, p->pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return true; /* gone: nothing will be walked anyway */
	err = sym_cache_python_check(pp->sym, fd, bpf->runtime, &o);
	close(fd);
	if (err && err != -EINVAL)
		log_debug("python: pid %d's thread list not checked: %s", p->pid, strerror(-err));
	return err != -EINVAL;
}

/* The process's description, into pr and *bpf, from the interpreter in
 * file elf mapped by m. false when it is not one we can read. */
static bool describe(struct python_procs *pp, const struct disc_process *p,
		     const struct disc_mapping *m, struct sym_elf *elf, struct python_proc *pr,
		     struct smolder_py_proc *bpf)
{
	const struct sym_py_file *py = sym_elf_python(elf);
	const struct sym_py_layout *layout;
	struct smolder_py_offsets walk;
	unsigned int major = 3, minor;
	bool free_threaded;
	uint64_t vaddr, bias;

	if (!py || sym_elf_offset_to_vaddr(elf, m->offset, &vaddr))
		return false;
	bias = m->start - vaddr;
	minor = minor_from_path(m->path, &free_threaded);
	if (py->version) {
		major = py->version >> 24;
		minor = (py->version >> 16) & 0xff;
	}
	free_threaded |= py->has_debug_offsets && py->debug_offsets.free_threaded;
	layout = major == 3 && !free_threaded ? sym_py_layout_find(major, minor) : NULL;
	walk = layout ? layout->walk : (struct smolder_py_offsets){ 0 };
	if (layout && py->has_debug_offsets && !offsets_from_debug(&py->debug_offsets, layout, &walk))
		layout = NULL;
	if (layout && !read_spans(&walk))
		layout = NULL;
	if (!layout) {
		warn_unsupported(pp, major == 3 ? minor : 0, free_threaded, m->path);
		/* Kept, unreadable, so that it is neither asked about nor
		 * counted again. */
		*pr = (struct python_proc){ .pid = p->pid, .start_ticks = p->start_ticks,
					    .unreadable = true };
		return false;
	}
	*pr = (struct python_proc){
		.pid = p->pid,
		.start_ticks = p->start_ticks,
		.types = { .minor = minor, .code_type = py->code_type + bias,
			   .unicode_type = py->unicode_type + bias, .bytes_type = py->bytes_type + bias },
		.n_eval = py->n_eval,
	};
	for (uint32_t i = 0; i < py->n_eval && i < 2; i++) {
		pr->eval[i][0] = py->eval[i][0] + bias;
		pr->eval[i][1] = py->eval[i][1] + bias;
	}
	log_debug("python: pid %d runs CPython %u.%u (%s); offsets from %s", p->pid, major, minor,
		  m->path, py->has_debug_offsets ? "its _Py_DebugOffsets" : "smolder's table");
	*bpf = (struct smolder_py_proc){ .start_ticks = p->start_ticks, .runtime = py->runtime + bias,
					 .version = major << 8 | minor, .off = walk };
	if (!layout_holds(pp, p, pr, bpf, layout)) {
		log_warn("Python 3.%u (%s): its code objects or thread list do not read as "
			 "smolder's layout of 3.%u says (a build of its own?); its processes keep "
			 "their native frames only",
			 minor, m->path, minor);
		pp->st.unsupported++;
		*pr = (struct python_proc){ .pid = p->pid, .start_ticks = p->start_ticks,
					    .unreadable = true };
		return false;
	}
	return true;
}

static void add_proc(struct python_procs *pp, const struct python_proc *desc,
		     const struct smolder_py_proc *bpf)
{
	struct python_proc *pr = malloc(sizeof(*pr)), **v;
	size_t i = proc_index(pp, desc->pid);
	__u32 tgid = (__u32)desc->pid;

	if (!pr)
		return;
	v = realloc(pp->v, (pp->n + 1) * sizeof(*v));
	if (!v) {
		free(pr);
		return;
	}
	*pr = *desc;
	pp->v = v;
	memmove(&v[i + 1], &v[i], (pp->n - i) * sizeof(*v));
	v[i] = pr;
	pp->n++;
	count_processes(pp);
	if (bpf && pp->procs_fd >= 0 && bpf_map_update_elem(pp->procs_fd, &tgid, bpf, BPF_ANY))
		log_debug("python: pid %d not described to BPF: %s", desc->pid, strerror(errno));
}

void python_procs_publish(struct python_procs *pp, const struct disc_process *p)
{
	struct python_proc *old;
	size_t at;

	if (!pp || p->kernel_thread)
		return;
	at = proc_index(pp, p->pid);
	old = at < pp->n && pp->v[at]->pid == p->pid ? pp->v[at] : NULL;
	if (old && old->start_ticks == p->start_ticks && !old->gone)
		return;
	/* Another process under a reused pid, or another image after an
	 * exec: the old one's frames drained later go unnamed. */
	if (old) {
		python_procs_forget(pp, p->pid);
		proc_remove(pp, at);
	}
	for (size_t i = 0; i < p->maps.n; i++) {
		const struct disc_mapping *m = &p->maps.v[i];
		struct smolder_py_proc bpf;
		struct python_proc desc = { 0 };
		struct sym_file_ref ref;
		struct sym_elf *elf;

		if (!python_file_name(m))
			continue;
		frames_file_ref(p, m, &ref);
		if (sym_cache_get_elf(pp->sym, &ref, &elf) || !sym_elf_python(elf))
			continue;
		if (describe(pp, p, m, elf, &desc, &bpf) || desc.unreadable)
			add_proc(pp, &desc, desc.unreadable ? NULL : &bpf);
		return; /* one interpreter per process */
	}
}

/* Whether the perf map has a trampoline "py::..." starting at addr, and
 * its size. */
static bool trampoline_at(struct python_procs *pp, const struct disc_process *p, uint64_t addr,
			  uint64_t *size)
{
	uint64_t start, end;
	const char *name;

	if (sym_cache_lookup_perf_map_range(pp->sym, p->pid, p->nspid, addr, &start, &end, &name) ||
	    start != addr || strncmp(name, "py::", 4) != 0)
		return false;
	*size = end - start;
	return true;
}

bool python_procs_undescribed(struct python_procs *pp, const struct disc_process *p)
{
	size_t at = proc_index(pp, p->pid);

	if (at < pp->n && pp->v[at]->pid == p->pid && pp->v[at]->start_ticks == p->start_ticks)
		return false;
	for (size_t i = 0; i < p->maps.n; i++)
		if (python_file_name(&p->maps.v[i]))
			return true;
	return false;
}

uint32_t python_procs_trampoline_size(struct python_procs *pp, const struct disc_process *p,
				      const struct disc_mapping *m)
{
	struct python_proc *pr = python_procs_find(pp, p->pid, p->start_ticks);
	uint64_t size, next;

	/* CPython writes "py::QUALNAME:FILE" for each trampoline it makes,
	 * from the arena's start, one every stride bytes: the second one
	 * says which stride (one trampoline alone is not walked through). */
	if (!pr || pr->gone || pr->types.minor < 12 || !trampoline_at(pp, p, m->start, &size) ||
	    size < SMOLDER_PY_TRAMPOLINE_MIN || size > SMOLDER_PY_TRAMPOLINE_MAX)
		return 0;
	for (uint64_t stride = size; stride <= SMOLDER_PY_TRAMPOLINE_MAX; stride++)
		if ((stride == size || stride % 8 == 0) &&
		    trampoline_at(pp, p, m->start + stride, &next) && next == size)
			return (uint32_t)(stride << 8 | size);
	return 0;
}

bool python_proc_in_eval(const struct python_proc *pr, uint64_t addr)
{
	for (uint32_t i = 0; i < pr->n_eval && i < 2; i++)
		if (addr >= pr->eval[i][0] && addr < pr->eval[i][1])
			return true;
	return false;
}

static size_t code_slot(const struct python_proc *pr, uint64_t code, uint32_t tag)
{
	uint64_t h = (code ^ ((uint64_t)tag << 17)) * 0x9e3779b97f4a7c15ULL;
	size_t i = (size_t)(h >> 20) & (pr->cap - 1);

	while (pr->codes[i].code && (pr->codes[i].code != code || pr->codes[i].tag != tag))
		i = (i + 1) & (pr->cap - 1);
	return i;
}

static struct code_entry *code_find(struct python_proc *pr, uint64_t code, uint32_t tag)
{
	size_t i;

	if (!pr->cap)
		return NULL;
	i = code_slot(pr, code, tag);
	return pr->codes[i].code ? &pr->codes[i] : NULL;
}

static int codes_grow(struct python_proc *pr)
{
	size_t cap = pr->cap ? pr->cap * 2 : 64;
	struct code_entry *old = pr->codes, *v = calloc(cap, sizeof(*v));
	size_t old_cap = pr->cap;

	if (!v)
		return -ENOMEM;
	pr->codes = v;
	pr->cap = cap;
	for (size_t i = 0; i < old_cap; i++)
		if (old[i].code)
			pr->codes[code_slot(pr, old[i].code, old[i].tag)] = old[i];
	free(old);
	return 0;
}

/* A new entry for (code, tag), not named yet; NULL when there is no room. */
static struct code_entry *code_add(struct python_procs *pp, struct python_proc *pr,
				   uint64_t code, uint32_t tag)
{
	struct code_entry *e;

	if (pr->n >= CODES_MAX)
		return NULL;
	if ((pr->n + 1) * 2 > pr->cap && codes_grow(pr))
		return NULL;
	e = &pr->codes[code_slot(pr, code, tag)];
	*e = (struct code_entry){ .code = code, .tag = tag, .err = -ENOENT };
	pr->n++;
	pp->st.codes++;
	return e;
}

static int want_push(struct python_proc *pr, uint64_t code, uint32_t tag)
{
	if (pr->n_want == pr->cap_want) {
		size_t cap = pr->cap_want ? pr->cap_want * 2 : 32;
		uint64_t *c = realloc(pr->want_codes, cap * sizeof(*c));
		uint32_t *t;

		if (!c)
			return -ENOMEM;
		pr->want_codes = c;
		t = realloc(pr->want_tags, cap * sizeof(*t));
		if (!t)
			return -ENOMEM;
		pr->want_tags = t;
		pr->cap_want = cap;
	}
	pr->want_codes[pr->n_want] = code;
	pr->want_tags[pr->n_want++] = tag;
	return 0;
}

void python_procs_want(struct python_procs *pp, struct python_proc *pr,
		       const struct smolder_py_frame *frames, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint32_t tag = frames[i].tag & ~(uint32_t)SMOLDER_PY_TAG_ENTRY;

		if (!frames[i].code || code_find(pr, frames[i].code, tag))
			continue;
		if (code_add(pp, pr, frames[i].code, tag) && want_push(pr, frames[i].code, tag))
			break;
	}
}

/* The wanted code objects of pr, named in batches through the worker. */
static void fetch_proc(struct python_procs *pp, struct python_proc *pr)
{
	char path[64];
	size_t at = 0;
	int fd;

	snprintf(path, sizeof(path), "%s/%d/mem", pp->proc_root, pr->pid);
	/* A process gone may have left its pid to another. */
	fd = pr->gone ? -1 : open(path, O_RDONLY | O_CLOEXEC);
	while (fd >= 0 && at < pr->n_want) {
		size_t n = pr->n_want - at < SYM_PY_CODES_BATCH ? pr->n_want - at : SYM_PY_CODES_BATCH;
		struct sym_py_code names[SYM_PY_CODES_BATCH];
		int errs[SYM_PY_CODES_BATCH];

		if (sym_cache_python_codes(pp->sym, fd, &pr->types, pr->want_codes + at,
					   pr->want_tags + at, n, names, errs))
			break; /* late, or no worker: asked again at the next drain */
		for (size_t i = 0; i < n; i++) {
			struct code_entry *e = code_find(pr, pr->want_codes[at + i], pr->want_tags[at + i]);

			pp->st.code_reads++;
			pp->st.code_errors += errs[i] != 0;
			if (e) {
				e->err = errs[i];
				e->names = names[i];
			} else {
				sym_py_code_release(&names[i]);
			}
		}
		at += n;
	}
	if (fd < 0)
		for (size_t i = 0; i < pr->n_want; i++) {
			struct code_entry *e = code_find(pr, pr->want_codes[i], pr->want_tags[i]);

			if (e)
				e->err = -EIO; /* the process is gone */
		}
	if (fd >= 0)
		close(fd);
	/* What was not answered in time is asked for at the next drain. */
	if (fd >= 0 && at < pr->n_want) {
		memmove(pr->want_codes, pr->want_codes + at, (pr->n_want - at) * sizeof(*pr->want_codes));
		memmove(pr->want_tags, pr->want_tags + at, (pr->n_want - at) * sizeof(*pr->want_tags));
		pr->n_want -= at;
		return;
	}
	pr->n_want = 0;
}

void python_procs_fetch(struct python_procs *pp)
{
	for (size_t i = 0; i < pp->n; i++)
		if (pp->v[i]->n_want)
			fetch_proc(pp, pp->v[i]);
}

const struct sym_py_code *python_proc_code(struct python_proc *pr,
					   const struct smolder_py_frame *f, int *err)
{
	struct code_entry *e = code_find(pr, f->code, f->tag & ~(uint32_t)SMOLDER_PY_TAG_ENTRY);

	*err = e ? e->err : -ENOENT;
	return e && !e->err ? &e->names : NULL;
}

void python_procs_get_stats(const struct python_procs *pp, struct python_procs_stats *st)
{
	*st = pp->st;
}
