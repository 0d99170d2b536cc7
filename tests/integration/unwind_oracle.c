/* The oracle of test_unwind_oracle.py: samples a process with perf, each
 * sample carrying the user registers and a copy of the user stack, and
 * unwinds every one with libdwfl (elfutils), an unwinder that is not ours,
 * so the BPF walk's stacks can be checked against it.
 *
 *   unwind_oracle PID SECONDS OUT.jsonl
 *
 * One cpu-clock event per online CPU at 97 Hz, bound to PID with inherit
 * (PID's threads created from now on are sampled too; threads that already
 * exist are not). It runs for SECONDS at most, and stops earlier once PID
 * has exited. Each sample is unwound as soon as it is read, while the
 * process still runs: words beyond the captured stack copy are read from
 * /proc/PID/mem. One JSON line per sample:
 *
 *   {"tid":..,"cpu":..,"time":..,"ip":..,"in_kernel":bool,"pcs":[...]}
 *
 * ip is the sampled instruction pointer (a kernel address when in_kernel);
 * pcs are libdwfl's frames of the user stack, leaf first, as dwfl_frame_pc
 * returns them (return addresses, not adjusted), at most 127; "err" is
 * added when libdwfl stopped on an error rather than at the outermost
 * frame. On stderr at the end: samples read, unwound, failed, lost.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <asm/perf_regs.h>
#include <elfutils/libdwfl.h>
#include <linux/perf_event.h>

#define MAX_CPUS 256
#define MAX_PCS 127
#define STACK_BYTES 16384
/* Each sample holds a 16 KiB stack copy: 512 pages keep ~120 of them, a
 * second's worth at 97 Hz even if unwinding falls behind. */
#define RING_PAGES 512

/* The user registers asked for, in perf's order (the order of the bits of
 * the mask is the order of the values in a sample). */
static const int perf_regs[] = {
	PERF_REG_X86_AX, PERF_REG_X86_BX, PERF_REG_X86_CX, PERF_REG_X86_DX,
	PERF_REG_X86_SI, PERF_REG_X86_DI, PERF_REG_X86_BP, PERF_REG_X86_SP,
	PERF_REG_X86_IP, PERF_REG_X86_R8, PERF_REG_X86_R9, PERF_REG_X86_R10,
	PERF_REG_X86_R11, PERF_REG_X86_R12, PERF_REG_X86_R13, PERF_REG_X86_R14,
	PERF_REG_X86_R15,
};
#define NREGS (sizeof(perf_regs) / sizeof(perf_regs[0]))

/* DWARF's x86_64 register numbers 0..16 (rax, rdx, rcx, rbx, rsi, rdi,
 * rbp, rsp, r8..r15, return address = rip), each as its perf number. */
static const int dwarf_to_perf[17] = {
	PERF_REG_X86_AX, PERF_REG_X86_DX, PERF_REG_X86_CX, PERF_REG_X86_BX,
	PERF_REG_X86_SI, PERF_REG_X86_DI, PERF_REG_X86_BP, PERF_REG_X86_SP,
	PERF_REG_X86_R8, PERF_REG_X86_R9, PERF_REG_X86_R10, PERF_REG_X86_R11,
	PERF_REG_X86_R12, PERF_REG_X86_R13, PERF_REG_X86_R14, PERF_REG_X86_R15,
	PERF_REG_X86_IP,
};

struct ring {
	int fd;
	int cpu;
	struct perf_event_mmap_page *meta;
	uint8_t *data;
	uint64_t size;
};

/* The sample being unwound: libdwfl's callbacks read it (one Dwfl serves
 * every sample, so its modules and CFI are read once). */
static struct {
	pid_t tid;
	uint64_t regs[PERF_REG_X86_64_MAX]; /* by perf number */
	const uint8_t *stack;
	uint64_t sp, size;
} cur;

static pid_t target;
static int mem_fd = -1;
static unsigned long n_read, n_unwound, n_failed, n_noregs, n_lost;

static pid_t next_thread(Dwfl *dwfl, void *dwfl_arg, void **thread_argp)
{
	(void)dwfl;
	(void)dwfl_arg;
	/* The one thread of the sample, once. */
	if (*thread_argp != NULL)
		return 0;
	*thread_argp = (void *)1;
	return cur.tid;
}

static bool memory_read(Dwfl *dwfl, Dwarf_Addr addr, Dwarf_Word *result, void *dwfl_arg)
{
	uint64_t w;

	(void)dwfl;
	(void)dwfl_arg;
	/* The copy is the stack as it was at the sample; memory is what it is
	 * now, good for anything the process does not write to meanwhile. */
	if (addr >= cur.sp && addr - cur.sp <= cur.size && cur.size - (addr - cur.sp) >= 8) {
		memcpy(&w, cur.stack + (addr - cur.sp), 8);
		*result = w;
		return true;
	}
	if (mem_fd < 0 || pread(mem_fd, &w, 8, (off_t)addr) != 8)
		return false;
	*result = w;
	return true;
}

static bool set_initial_registers(Dwfl_Thread *thread, void *thread_arg)
{
	Dwarf_Word regs[17];

	(void)thread_arg;
	for (int i = 0; i < 17; i++)
		regs[i] = cur.regs[dwarf_to_perf[i]];
	return dwfl_thread_state_registers(thread, 0, 17, regs);
}

static const Dwfl_Thread_Callbacks thread_callbacks = {
	.next_thread = next_thread,
	.memory_read = memory_read,
	.set_initial_registers = set_initial_registers,
};

static const Dwfl_Callbacks dwfl_callbacks = {
	.find_elf = dwfl_linux_proc_find_elf,
	.find_debuginfo = dwfl_standard_find_debuginfo,
};

struct frames {
	uint64_t pc[MAX_PCS];
	int n;
};

static int frame_cb(Dwfl_Frame *state, void *arg)
{
	struct frames *f = arg;
	Dwarf_Addr pc;
	bool activation;

	if (!dwfl_frame_pc(state, &pc, &activation))
		return DWARF_CB_ABORT;
	f->pc[f->n++] = pc;
	return f->n < MAX_PCS ? DWARF_CB_OK : DWARF_CB_ABORT;
}

static int report(Dwfl *dwfl)
{
	dwfl_report_begin(dwfl);
	if (dwfl_linux_proc_report(dwfl, target) != 0)
		return -1;
	return dwfl_report_end(dwfl, NULL, NULL);
}

static void write_sample(FILE *out, Dwfl *dwfl, uint16_t misc, uint64_t ip, uint32_t tid,
			 uint64_t stamp, uint32_t cpu, bool have_regs)
{
	static time_t last_report;
	struct frames f = { .n = 0 };
	const char *err = NULL;
	bool in_kernel = (misc & PERF_RECORD_MISC_CPUMODE_MASK) == PERF_RECORD_MISC_KERNEL;

	if (!have_regs) {
		err = "no user registers";
		n_noregs++;
	} else {
		uint64_t uip = cur.regs[PERF_REG_X86_IP];
		int rc;

		/* A library mapped since the last report (dlopen): report the
		 * maps again, at most once a second. */
		if (dwfl_addrmodule(dwfl, uip) == NULL && time(NULL) != last_report) {
			last_report = time(NULL);
			report(dwfl);
		}
		rc = dwfl_getthread_frames(dwfl, (pid_t)tid, frame_cb, &f);
		/* 0: the walk reached a frame without a caller; the callback's
		 * abort: 127 frames; -1: libdwfl could not go on. */
		if (rc == -1 && f.n < MAX_PCS) {
			err = dwfl_errmsg(-1);
			n_failed++;
		} else {
			n_unwound++;
		}
	}
	fprintf(out, "{\"tid\":%" PRIu32 ",\"cpu\":%" PRIu32 ",\"time\":%" PRIu64
		",\"ip\":%" PRIu64 ",\"in_kernel\":%s,\"pcs\":[",
		tid, cpu, stamp, ip, in_kernel ? "true" : "false");
	for (int i = 0; i < f.n; i++)
		fprintf(out, "%s%" PRIu64, i ? "," : "", f.pc[i]);
	fputs("]", out);
	if (err) {
		fputs(",\"err\":\"", out);
		for (const char *c = err; *c; c++)
			if (*c != '"' && *c != '\\' && (unsigned char)*c >= 0x20)
				fputc(*c, out);
		fputs("\"", out);
	}
	fputs("}\n", out);
}

/* Parses one PERF_RECORD_SAMPLE laid out as sample_type asks: ip, pid/tid,
 * time, cpu/res, regs_user (abi, then the registers), stack_user (size,
 * data, dyn_size). */
static void handle_sample(FILE *out, Dwfl *dwfl, const uint8_t *rec, size_t len)
{
	const struct perf_event_header *hdr = (const void *)rec;
	const uint8_t *p = rec + sizeof(*hdr), *end = rec + len;
	uint64_t ip, stamp, abi, size, dyn_size = 0;
	uint32_t tid, cpu;
	const uint8_t *stack = NULL;

#define TAKE(dst, n)                          \
	do {                                  \
		if ((size_t)(end - p) < (n))  \
			return;               \
		memcpy((dst), p, (n));        \
		p += (n);                     \
	} while (0)
	uint32_t pid_tid[2], cpu_res[2];

	TAKE(&ip, 8);
	TAKE(pid_tid, 8);
	TAKE(&stamp, 8);
	TAKE(cpu_res, 8);
	TAKE(&abi, 8);
	tid = pid_tid[1];
	cpu = cpu_res[0];
	memset(cur.regs, 0, sizeof(cur.regs));
	if (abi != PERF_SAMPLE_REGS_ABI_NONE)
		for (size_t i = 0; i < NREGS; i++)
			TAKE(&cur.regs[perf_regs[i]], 8);
	TAKE(&size, 8);
	if (size) {
		if ((size_t)(end - p) < size + 8)
			return;
		stack = p;
		p += size;
		TAKE(&dyn_size, 8);
	}
#undef TAKE
	n_read++;
	cur.tid = (pid_t)tid;
	cur.stack = stack;
	cur.sp = cur.regs[PERF_REG_X86_SP];
	cur.size = dyn_size < size ? dyn_size : size;
	write_sample(out, dwfl, hdr->misc, ip, tid, stamp, cpu,
		     abi == PERF_SAMPLE_REGS_ABI_64);
}

/* Reads every whole record of one ring; a record that wraps around the end
 * of the buffer is copied out first. */
static void drain(struct ring *r, FILE *out, Dwfl *dwfl)
{
	static uint8_t rec[65536];
	uint64_t head = __atomic_load_n(&r->meta->data_head, __ATOMIC_ACQUIRE);
	uint64_t tail = r->meta->data_tail;

	while (tail + sizeof(struct perf_event_header) <= head) {
		struct perf_event_header hdr;
		uint64_t off = tail % r->size;

		for (size_t i = 0; i < sizeof(hdr); i++)
			((uint8_t *)&hdr)[i] = r->data[(off + i) % r->size];
		if (hdr.size < sizeof(hdr) || tail + hdr.size > head)
			break;
		for (size_t i = 0; i < hdr.size; i++)
			rec[i] = r->data[(off + i) % r->size];
		if (hdr.type == PERF_RECORD_SAMPLE)
			handle_sample(out, dwfl, rec, hdr.size);
		else if (hdr.type == PERF_RECORD_LOST && hdr.size >= sizeof(hdr) + 16) {
			uint64_t lost;

			memcpy(&lost, rec + sizeof(hdr) + 8, 8);
			n_lost += lost;
		}
		tail += hdr.size;
	}
	__atomic_store_n(&r->meta->data_tail, tail, __ATOMIC_RELEASE);
}

/* The online CPUs, from /sys/devices/system/cpu/online ("0-3,5"). */
static int online_cpus(int *cpus)
{
	FILE *f = fopen("/sys/devices/system/cpu/online", "r");
	int n = 0, a, b;
	char sep;

	if (!f)
		return -1;
	while (n < MAX_CPUS && fscanf(f, "%d", &a) == 1) {
		b = a;
		if (fscanf(f, "%c", &sep) == 1 && sep == '-') {
			if (fscanf(f, "%d", &b) != 1)
				break;
			if (fscanf(f, "%c", &sep) != 1)
				sep = '\n';
		}
		for (int c = a; c <= b && n < MAX_CPUS; c++)
			cpus[n++] = c;
		if (sep != ',')
			break;
	}
	fclose(f);
	return n;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	struct ring rings[MAX_CPUS];
	struct pollfd pfd[MAX_CPUS];
	int cpus[MAX_CPUS], ncpu, nring = 0;
	struct perf_event_attr attr;
	char path[64];
	double seconds, deadline;
	long page = sysconf(_SC_PAGESIZE);
	Dwfl *dwfl;
	FILE *out;

	if (argc != 4) {
		fprintf(stderr, "usage: unwind_oracle PID SECONDS OUT.jsonl\n");
		return 2;
	}
	target = (pid_t)atoi(argv[1]);
	seconds = atof(argv[2]);
	out = fopen(argv[3], "w");
	if (target <= 0 || seconds <= 0 || !out) {
		fprintf(stderr, "unwind_oracle: bad arguments or cannot write %s\n", argv[3]);
		return 2;
	}
	snprintf(path, sizeof(path), "/proc/%d/mem", (int)target);
	mem_fd = open(path, O_RDONLY | O_CLOEXEC);
	if (mem_fd < 0)
		fprintf(stderr, "unwind_oracle: %s: %s (only the stack copies are read)\n", path,
			strerror(errno));

	dwfl = dwfl_begin(&dwfl_callbacks);
	if (!dwfl || report(dwfl) != 0) {
		fprintf(stderr, "unwind_oracle: reporting pid %d: %s\n", (int)target, dwfl_errmsg(-1));
		return 1;
	}
	if (!dwfl_attach_state(dwfl, NULL, target, &thread_callbacks, NULL)) {
		fprintf(stderr, "unwind_oracle: dwfl_attach_state: %s\n", dwfl_errmsg(-1));
		return 1;
	}

	memset(&attr, 0, sizeof(attr));
	attr.size = sizeof(attr);
	attr.type = PERF_TYPE_SOFTWARE;
	attr.config = PERF_COUNT_SW_CPU_CLOCK;
	attr.freq = 1;
	attr.sample_freq = 97;
	attr.inherit = 1;
	attr.sample_type = PERF_SAMPLE_IP | PERF_SAMPLE_TID | PERF_SAMPLE_TIME | PERF_SAMPLE_CPU |
			   PERF_SAMPLE_REGS_USER | PERF_SAMPLE_STACK_USER;
	for (size_t i = 0; i < NREGS; i++)
		attr.sample_regs_user |= 1ULL << perf_regs[i];
	attr.sample_stack_user = STACK_BYTES;
	attr.wakeup_events = 1;

	ncpu = online_cpus(cpus);
	if (ncpu <= 0) {
		fprintf(stderr, "unwind_oracle: no online CPUs read\n");
		return 1;
	}
	for (int i = 0; i < ncpu; i++) {
		struct ring *r = &rings[nring];
		void *m;

		r->fd = (int)syscall(SYS_perf_event_open, &attr, target, cpus[i], -1,
				     PERF_FLAG_FD_CLOEXEC);
		if (r->fd < 0) {
			fprintf(stderr, "unwind_oracle: perf_event_open cpu %d: %s\n", cpus[i],
				strerror(errno));
			return 1;
		}
		m = mmap(NULL, (size_t)page * (RING_PAGES + 1), PROT_READ | PROT_WRITE, MAP_SHARED,
			 r->fd, 0);
		if (m == MAP_FAILED) {
			fprintf(stderr, "unwind_oracle: mmap cpu %d: %s\n", cpus[i], strerror(errno));
			return 1;
		}
		r->cpu = cpus[i];
		r->meta = m;
		r->data = (uint8_t *)m + page;
		r->size = (uint64_t)page * RING_PAGES;
		pfd[nring] = (struct pollfd){ .fd = r->fd, .events = POLLIN };
		nring++;
	}
	fprintf(stderr, "unwind_oracle: sampling pid %d on %d CPUs for at most %g s\n",
		(int)target, nring, seconds);

	deadline = now_s() + seconds;
	for (;;) {
		bool gone = kill(target, 0) != 0 && errno == ESRCH;

		poll(pfd, (nfds_t)nring, 100);
		for (int i = 0; i < nring; i++)
			drain(&rings[i], out, dwfl);
		/* What was sampled before the exit has been read above. */
		if (gone || now_s() >= deadline)
			break;
	}
	fclose(out);
	fprintf(stderr, "unwind_oracle: %lu samples read, %lu unwound, %lu failed, "
		"%lu without user registers, %lu lost\n",
		n_read, n_unwound, n_failed, n_noregs, n_lost);
	dwfl_end(dwfl);
	return 0;
}
