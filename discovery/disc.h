/* discovery: knows every process the agent samples, and what it is.
 *
 * agent/ asks it, at each drain, about the (pid, start time) pairs BPF
 * counted samples for. A process is identified by both, so a reused pid is
 * never taken for the process it replaced. The table is filled by walking
 * /proc at start and on each scan; a process that has exited stays known
 * until the drain that used its samples is over (disc_table_expire).
 * It also holds the /proc parsers (maps, stat), which read untrusted text.
 *
 * Errors are negative errno values; nothing here prints.
 */
#ifndef SMOLDER_DISC_H
#define SMOLDER_DISC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One line of /proc/PID/maps. */
struct disc_mapping {
	uint64_t start;
	uint64_t end;
	uint64_t offset;
	uint32_t dev_major;
	uint32_t dev_minor;
	uint64_t inode;
	char perms[5]; /* "r-xp" */
	char *path;    /* NULL for an anonymous mapping; "[vdso]" etc. kept as is */
};

/* A process's mappings, sorted by start. */
struct disc_mappings {
	struct disc_mapping *v;
	size_t n;
};

/* Parses the text of a /proc/PID/maps file. Malformed lines are an error
 * (-EINVAL): the text is untrusted and we do not guess. Paths with spaces,
 * and the " (deleted)" suffix, are kept whole. */
int disc_maps_parse(const char *text, size_t len, struct disc_mappings *out);
int disc_maps_read(const char *proc_root, int pid, struct disc_mappings *out);
void disc_mappings_release(struct disc_mappings *m);
/* The mapping holding addr, or NULL. */
const struct disc_mapping *disc_mappings_find(const struct disc_mappings *m,
					      uint64_t addr);

/* The fields of /proc/PID/stat we use. */
struct disc_stat {
	int pid;
	char comm[16];
	char state;
	int ppid;
	unsigned int flags;   /* PF_* flags; PF_KTHREAD = 0x00200000 */
	uint64_t start_ticks; /* field 22: start time in clock ticks since boot */
};

/* Parses the text of /proc/PID/stat (comm may hold spaces and parentheses). */
int disc_stat_parse(const char *text, size_t len, struct disc_stat *out);
int disc_stat_read(const char *proc_root, int pid, struct disc_stat *out);

struct disc_process {
	int pid;
	uint64_t start_ticks;
	char comm[16];
	char *exe_path;       /* /proc/PID/exe target; NULL when there is none */
	bool kernel_thread;
	bool exited;
	struct disc_mappings maps;
	char *service_name;   /* executable's base name; "kernel"; else comm */
};

struct disc_table;

struct disc_table_opts {
	size_t sz;             /* sizeof(struct disc_table_opts) */
	const char *proc_root; /* NULL: /proc (tests point it elsewhere) */
};

struct disc_table *disc_table_new(const struct disc_table_opts *opts);
void disc_table_free(struct disc_table *t);

/* Walks /proc: adds processes not yet known (stat, exe, maps), marks known
 * ones exited when their pid is gone or has another start time. */
int disc_table_scan(struct disc_table *t);

/* The process (pid, start_ticks): known, or read from /proc now if a process
 * with that pid and start time is alive. NULL when neither. */
const struct disc_process *disc_table_get(struct disc_table *t, int pid,
					  uint64_t start_ticks);

/* Re-reads a live process's maps (after a dlopen, say). -ESRCH if it is
 * gone or its pid now belongs to another process. */
int disc_table_refresh_maps(struct disc_table *t, const struct disc_process *p);

/* Forgets processes marked exited: call after the drain that used them. */
void disc_table_expire(struct disc_table *t);

size_t disc_table_size(const struct disc_table *t);

#endif
