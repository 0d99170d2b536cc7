/* discovery: knows every process the agent samples, and what it is.
 *
 * agent/ asks it, at each drain, about the (pid, start time) pairs BPF
 * counted samples for. A process is identified by both, so a reused pid is
 * never taken for the process it replaced. The table is filled by walking
 * /proc at start and on each scan; a process that has exited stays known
 * until the drain that used its samples is over (disc_table_expire).
 * It also holds the /proc parsers (maps, stat, status, cgroup, cmdline),
 * which read untrusted text, and tells from a cgroup path which container
 * a process runs in.
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
	/* The build-id (lowercase hex) the kernel announced for the file
	 * (disc_mmap_log); NULL when read from /proc/PID/maps. */
	const char *build_id;
};

/* A process's mappings, sorted by start. */
struct disc_mappings {
	struct disc_mapping *v;
	size_t n;
	size_t bytes; /* memory they hold: the table and its paths */
	/* The file went on past what DISC_MAPS_BYTES_MAX lets us keep: the
	 * mappings after v[n - 1] are not known (their frames stay unnamed). */
	bool cut;
};

/* What one process's mappings may hold. A real process needs far less: a
 * JVM with 200 threads has 614 mappings (about 50 KB here), Chrome a few
 * thousand; with a run of mappings of one file sharing its path, 4 MiB is
 * some 60000 mappings, vm.max_map_count's default. A process that maps
 * thousands of files with 4 KiB paths (56 MB of maps text) is cut there. */
#define DISC_MAPS_BYTES_MAX (4u << 20)

/* Parses the text of a /proc/PID/maps file, as far as DISC_MAPS_BYTES_MAX
 * lets (the rest is cut, see struct disc_mappings). Malformed lines are an
 * error (-EINVAL): the text is untrusted and we do not guess. Paths with
 * spaces, and the " (deleted)" suffix, are kept whole. */
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

/* ---- status: the pid in the process's own namespace (proc_status.c) ---- */

/* Parses the text of /proc/PID/status for the last pid of its NSpid line:
 * the pid the process has in its own pid namespace (the pid itself for a
 * process in the namespace of the /proc read). -ENODATA: no NSpid line
 * (kernels before 4.1); -EINVAL: a malformed one, or two. */
int disc_status_parse_nspid(const char *text, size_t len, int *nspid);
int disc_status_read_nspid(const char *proc_root, int pid, int *nspid);

/* ---- cmdline: the command line a process shows (discovery/cmdline.c) ---- */

/* The longest command line kept, in bytes, "..." included. */
#define DISC_CMDLINE_MAX 4096

/* Parses the text of /proc/PID/cmdline (the arguments, each ended by a NUL)
 * into one malloc'd line: the arguments joined by single spaces, the NULs
 * at the end dropped, control characters made '?', and at most
 * DISC_CMDLINE_MAX bytes, cut before a UTF-8 character and ended with "..."
 * when longer. A rewritten argument area (setproctitle) comes out as it is.
 * An empty text, or one of NULs only, gives *out NULL and returns 0. */
int disc_cmdline_parse(const char *text, size_t len, char **out);
int disc_cmdline_read(const char *proc_root, int pid, char **out);

/* ---- cgroup: which container a process runs in (discovery/cgroup.c) ---- */

/* The one path of /proc/PID/cgroup that places the process (see
 * disc_cgroup_parse for which line it comes from). */
struct disc_cgroup {
	char *path;    /* malloc'd, as the kernel wrote it; starts with '/' */
	int hierarchy; /* the line's hierarchy ID: 0 for the v2 line; -1 if none */
};

/* Parses the text of /proc/PID/cgroup ("hierarchy-ID:controllers:path" a
 * line) and takes the path of: the v2 line ("0::/...") unless it is "/";
 * else the v1 name=systemd line unless it is "/"; else the first v1 line
 * whose path is not "/"; else "/" (a process in no cgroup of its own).
 * Malformed text, or a second v2 or name=systemd line, is -EINVAL; a file
 * with no line at all is -ENODATA. */
int disc_cgroup_parse(const char *text, size_t len, struct disc_cgroup *out);
int disc_cgroup_read(const char *proc_root, int pid, struct disc_cgroup *out);
void disc_cgroup_release(struct disc_cgroup *cg);

enum disc_container_runtime {
	DISC_CONTAINER_NONE = 0, /* a host process, or one we cannot place */
	DISC_CONTAINER_DOCKER,
	DISC_CONTAINER_CONTAINERD,
	DISC_CONTAINER_CRIO,
	DISC_CONTAINER_PODMAN,
};

#define DISC_CONTAINER_ID_LEN 64 /* lowercase hex */
#define DISC_POD_UID_LEN 36      /* 8-4-4-4-12, or 32 hex for a static pod */

struct disc_container {
	enum disc_container_runtime runtime;
	char id[DISC_CONTAINER_ID_LEN + 1];  /* "" when runtime is NONE */
	char pod_uid[DISC_POD_UID_LEN + 1];  /* Kubernetes pod UID, with '-'; "" if none */
};

/* The container a cgroup path names (the innermost one, when containers
 * nest), for docker, containerd (CRI), cri-o and podman, with the cgroupfs
 * and systemd cgroup drivers. A host path gives runtime NONE and returns 0
 * too; -EINVAL when path is not absolute. The forms are listed in cgroup.c. */
int disc_container_from_cgroup(const char *path, struct disc_container *out);
/* "docker", "containerd", "cri-o", "podman"; NULL for NONE (no label). */
const char *disc_container_runtime_name(enum disc_container_runtime r);

struct disc_process {
	int pid;
	/* The pid in the process's own pid namespace, which it names files
	 * after (a JIT's /tmp/perf-PID.map); pid when it is in ours, or when
	 * /proc/PID/status cannot tell. */
	int nspid;
	uint64_t start_ticks;
	/* Its parent (/proc/PID/stat, or the fork the kernel announced); 0:
	 * not known. */
	int ppid;
	char comm[16];
	char *exe_path;       /* /proc/PID/exe target; NULL when there is none */
	bool kernel_thread;
	bool exited;
	struct disc_mappings maps;
	char *service_name;   /* executable's base name; "kernel"; else comm */
	/* Known only from what the kernel said at its first sample and in
	 * its mmap records (disc_table_add_gone, disc_table_add_from_kernel):
	 * no command line; only executable mappings. */
	bool from_kernel;
	/* Which view of the file system the paths of its mappings are in (its
	 * mount namespace and root, as the kernel said; see
	 * sym_file_ref.fs_view); 0: not known. */
	uint64_t fs_view;
	/* Added while it exec'd (sampled in the exec): its executable and
	 * mappings are those the kernel had announced by then, until the
	 * exec's end completes them (disc_table_exec_done). */
	bool in_exec;
	/* From /proc/PID/cmdline (disc_cmdline_parse); NULL for a kernel
	 * thread, when it is empty (a zombie), or cannot be read. */
	char *cmdline;
	/* From /proc/PID/cgroup; NULL and empty for a kernel thread, or when
	 * the file cannot be read or parsed. */
	char *cgroup_path;
	enum disc_container_runtime container_runtime;
	char container_id[DISC_CONTAINER_ID_LEN + 1]; /* "" when none */
	char pod_uid[DISC_POD_UID_LEN + 1];           /* "" when none */
	/* The image (BPF's token for it, bpf/events.h) maps was read for, as
	 * the first-sample event that had it read said; 0: not known. */
	uint64_t image;
	/* Its exec count (smolder_count_key.exec_id) as a first-sample event
	 * said; exec_id_known false for a process read from /proc alone. */
	uint32_t exec_id;
	bool exec_id_known;
};

struct disc_table;

struct disc_table_opts {
	size_t sz;             /* sizeof(struct disc_table_opts) */
	const char *proc_root; /* NULL: /proc (tests point it elsewhere) */
};

struct disc_table *disc_table_new(const struct disc_table_opts *opts);
void disc_table_free(struct disc_table *t);

/* Walks /proc: adds processes not yet known (stat, exe, maps, cgroup,
 * cmdline), marks known ones exited when their pid is gone or has another
 * start time. */
int disc_table_scan(struct disc_table *t);

/* The process (pid, start_ticks): known, or read from /proc now if a process
 * with that pid and start time is alive. NULL when neither. */
const struct disc_process *disc_table_get(struct disc_table *t, int pid,
					  uint64_t start_ticks);

/* As disc_table_get, for a sample taken in the image whose exec count is
 * exec_id: the record of that image when the process has exec'd since
 * (disc_table_exec keeps it until the drain after), NULL when the record
 * known is of another image. */
const struct disc_process *disc_table_get_image(struct disc_table *t, int pid,
						uint64_t start_ticks, uint32_t exec_id);

/* The live process known under pid (read, not exec'd since, not exited),
 * or NULL; never reads /proc. */
const struct disc_process *disc_table_find_live(struct disc_table *t, int pid);

/* Re-reads a live process's maps (after a dlopen, say). -ESRCH if it is
 * gone or its pid now belongs to another process; -EAGAIN if they were
 * read this interval already (see disc_table_next_interval). */
int disc_table_refresh_maps(struct disc_table *t, const struct disc_process *p);

/* Reads the process (pid, start_ticks) again (after an exec, once its
 * libraries are mapped, or when it runs code outside its maps), or adds it
 * if unknown. Returns it as now known, or NULL when it is neither known nor
 * alive. A process whose maps were read this interval is returned as it
 * is, unless it exec'd, or they were not cut and enough time has passed
 * for what they cost (DISC_MAPS_BYTES_MAX of mappings a second). */
const struct disc_process *disc_table_refresh(struct disc_table *t, int pid,
					      uint64_t start_ticks);

/* Notes that (pid, start_ticks) exec'd into the image whose exec count is
 * exec_id: what is known of it describes its old image, so until it is
 * read again (disc_table_refresh, or a get that can still read it) it is
 * not handed out, except for samples of the old image
 * (disc_table_get_image), until the drain after this interval's. */
void disc_table_exec(struct disc_table *t, int pid, uint64_t start_ticks, uint32_t exec_id);

/* What the kernel said of a process at its first sample
 * (bpf/identity.bpf.h). */
struct disc_kernel_identity {
	const char *comm;
	const char *exe_name;    /* the executable's base name; "" when none */
	const char *cgroup_path; /* NULL when it is the root or unknown */
	const char *exe_path;    /* from the mmap records; NULL: not known */
	int nspid;               /* 0: not known */
	uint64_t fs_view;        /* 0: not known */
	bool in_exec;            /* sampled in its exec: see disc_process */
	/* The executable mappings the kernel announced (disc_mmap_log), taken
	 * over by the process; NULL or empty: none. */
	struct disc_mappings *maps;
};

/* The executable mappings the kernel announces as they are made (perf's
 * MMAP2 records with build-ids), per process until it exits, within
 * max_bytes; for processes gone before /proc could be read. */
#define DISC_BUILD_ID_HEX_MAX 40
#define DISC_MMAP_PATH_MAX 4096
#define DISC_MMAP_PER_PROCESS_MAX 512
struct disc_mmap_log;
struct disc_mmap_log_stats {
	uint64_t added;
	uint64_t dropped; /* over max_bytes, or a process's DISC_MMAP_PER_PROCESS_MAX */
	uint64_t bytes;   /* held now */
};
struct disc_mmap_log *disc_mmap_log_new(size_t max_bytes);
void disc_mmap_log_free(struct disc_mmap_log *l);
/* A mapping made at time (the kernel's CLOCK_MONOTONIC ns); build_id:
 * lowercase hex. -ENOSPC: dropped (counted). */
int disc_mmap_log_add(struct disc_mmap_log *l, int pid, uint64_t time, uint64_t start,
		      uint64_t len, uint64_t offset, const char *build_id, const char *path);
/* pid exec'd at time: its mappings made before are its old image's. */
void disc_mmap_log_exec(struct disc_mmap_log *l, int pid, uint64_t time);
/* pid exited, or was read from /proc: what is logged of it is of no use. */
void disc_mmap_log_forget(struct disc_mmap_log *l, int pid);
/* pid's logged mappings as a process's (sorted, the newest where two
 * overlap), owned by the caller (disc_mappings_release). */
int disc_mmap_log_mappings(const struct disc_mmap_log *l, int pid, struct disc_mappings *out);
void disc_mmap_log_get_stats(const struct disc_mmap_log *l, struct disc_mmap_log_stats *st);
/* The time of pid's last exec logged (0: none): a pid whose exec time
 * changed has a new image, or is another process under a reused pid. */
uint64_t disc_mmap_log_exec_time(const struct disc_mmap_log *l, int pid);
/* Whether mappings of pid are logged. */
bool disc_mmap_log_has(const struct disc_mmap_log *l, int pid);
/* have's mappings and those of more that overlap none of them, sorted, in
 * one new allocation. Returns how many came from more, or -ENOMEM. */
int disc_mappings_merge(const struct disc_mappings *have, const struct disc_mappings *more,
			struct disc_mappings *out);

/* Adds (pid, start_ticks), gone before /proc could be read, from what the
 * kernel said of it: labelled as its /proc files would have had it
 * (service_name, container and pod), exited, with no mappings. A process
 * known and read already is returned as it is. NULL: out of memory. */
const struct disc_process *disc_table_add_gone(struct disc_table *t, int pid,
					       uint64_t start_ticks,
					       const struct disc_kernel_identity *id);

/* Adds (pid, start_ticks), alive, from what the kernel said of it: its
 * first sample's identity, and the mmap records of its image since its
 * exec (id->maps, which must hold them all, id->exe_path among them); no
 * /proc file is read, and none later (it has no command line). A process
 * known already keeps its labels and gets the mappings it lacked
 * (disc_table_complete_maps). NULL: out of memory. */
const struct disc_process *disc_table_add_from_kernel(struct disc_table *t, int pid,
						      uint64_t start_ticks,
						      const struct disc_kernel_identity *id);

/* The exec (pid, start_ticks) was sampled in (in_exec) is done: its comm
 * and executable are those given, and its mappings those the kernel
 * announced (maps, taken over). false: it is not such a process; the
 * caller marks it exec'd (disc_table_exec). */
bool disc_table_exec_done(struct disc_table *t, int pid, uint64_t start_ticks,
			  const char *comm, const char *exe_path, struct disc_mappings *maps);

/* A process forked by another, as its first sample's event says. */
struct disc_fork {
	int pid, nspid;
	uint64_t start_ticks;
	const char *comm;
	int parent_pid;
	uint64_t parent_start_ticks;
	uint64_t code_addr; /* where its executable's code is (mm->start_code) */
};

/* Adds f->pid, forked by a process known and not exec'd since its fork
 * (its executable's code is where its parent's is): the parent's image,
 * so its labels and mappings, with no /proc read. NULL: not so (the parent
 * is not known, or is gone; or the child is known already, and asks
 * again for code its mappings lack), or out of memory. */
const struct disc_process *disc_table_add_forked(struct disc_table *t, const struct disc_fork *f);

/* Adds to (pid, start_ticks)'s mappings those the kernel announced
 * (disc_mmap_log) that its /proc maps lacked: it was read before they were
 * made (ld.so still loading its libraries), or not at all (a scan found
 * it), and it is gone now. Returns how many were added. */
int disc_table_complete_maps(struct disc_table *t, int pid, uint64_t start_ticks,
			     const struct disc_mappings *logged);

/* The image of p the kernel's event named when p's maps were read. */
void disc_table_set_image(struct disc_table *t, const struct disc_process *p, uint64_t image);

/* The exec count of p's image, as the kernel's first-sample event said. */
void disc_table_set_exec_id(struct disc_table *t, const struct disc_process *p, uint32_t exec_id);

/* Marks (pid, start_ticks) exited, as the kernel says it did. */
void disc_table_exit(struct disc_table *t, int pid, uint64_t start_ticks);

/* Forgets processes marked exited before the last disc_table_next_interval:
 * call once the drain that used them is finished. Those gone since stay
 * for the next: their samples are in it. */
void disc_table_expire(struct disc_table *t);

size_t disc_table_size(const struct disc_table *t);

/* Starts an interval: a process's maps are read at most once in each (a
 * scan reads none; a process's are first read when it is sampled: by
 * disc_table_get or disc_table_refresh). Call before the drain names the
 * last interval's frames, so a library mapped during it is read then. */
void disc_table_next_interval(struct disc_table *t);

struct disc_table_stats {
	uint64_t maps_reads;    /* /proc/PID/maps files read */
	uint64_t maps_cut;      /* ... that went on past DISC_MAPS_BYTES_MAX */
	uint64_t maps_deferred; /* reads asked for, put off: read this interval already */
	uint64_t maps_bytes;    /* what the mappings known now hold */
	uint64_t gone_added;    /* processes added by disc_table_add_gone */
	uint64_t kernel_added;  /* ... by disc_table_add_from_kernel */
	uint64_t forked_added;  /* ... by disc_table_add_forked */
};
void disc_table_get_stats(const struct disc_table *t, struct disc_table_stats *st);

/* Calls fn for every live process known (none exec'd since it was read).
 * fn must not change the table, but may read the maps of the process it
 * is given (disc_table_refresh_maps). */
void disc_table_for_each(struct disc_table *t,
			 void (*fn)(const struct disc_process *p, void *arg), void *arg);

/* Labels and target rules: what a process's profiles are labelled with.
 *
 * Every profile series carries a label set: service_name and whatever the
 * rules and --tag give. The rules, read from a YAML file at start (its
 * format: target_config.c), are Prometheus' relabel_configs, applied in
 * order to a process's labels before relabeling:
 *
 *   __meta_process_exe           executable path
 *   __meta_process_comm          comm
 *   __meta_process_cgroup        cgroup v2 path
 *   __meta_process_container_id  container id
 *   __meta_process_pid           process id (the host's), in decimal
 *   service_name                 the default service name
 *   the --tag labels             (so a tag may set service_name)
 *
 * An unknown value is no label, which rules see as "" as Prometheus does.
 * Rules keep or drop the process and set or remove labels; then labels
 * whose names start with "__" are removed. With no rules every process is
 * kept with service_name and the tags.
 *
 * Names and values are held to what Pyroscope's distributor accepts
 * (grafana/pyroscope pkg/validation: ValidateLabels and its defaults). */

/* The longest label name and value Pyroscope takes, in bytes. */
#define DISC_LABEL_NAME_MAX 1024
#define DISC_LABEL_VALUE_MAX 2048
/* Pyroscope takes 30 label names a series; the upload adds __name__ (the
 * profile type), which leaves 29 for the set. */
#define DISC_LABELS_MAX 29

struct disc_label {
	char *name;
	char *value; /* never empty: an empty value is no label */
};

/* A label set: sorted by name (bytewise), names unique. A zeroed struct is
 * the empty set. */
struct disc_labels {
	struct disc_label *v;
	size_t n;
};

/* 1 if name is a label name Pyroscope keeps as it is: [a-zA-Z_][a-zA-Z0-9_]*
 * and at most DISC_LABEL_NAME_MAX bytes. A '.', which Pyroscope would
 * rewrite to '_', is refused. Else 0. */
int disc_label_name_valid(const char *name);

/* NULL if name is a label name Pyroscope keeps as it is, else why not. */
const char *disc_label_name_problem(const char *name);
/* NULL if value is a label value Pyroscope takes, else why not. */
const char *disc_label_value_problem(const char *value);
/* The value of the label name, or NULL if there is none. */
const char *disc_labels_get(const struct disc_labels *l, const char *name);
/* Sets name to value, keeping the order; a NULL or empty value removes the
 * label. The strings are copied. -ENOMEM leaves the set as it was. */
int disc_labels_set(struct disc_labels *l, const char *name, const char *value);
/* A deep copy of src into *dst (which is overwritten, not released). */
int disc_labels_copy(struct disc_labels *dst, const struct disc_labels *src);
/* Orders label sets (negative, 0, positive), pair by pair, for sorting and
 * grouping profiles: 0 exactly when the sets are equal. */
int disc_labels_compare(const struct disc_labels *a, const struct disc_labels *b);
/* FNV-1a (32 bits) over "name=value" pairs joined by NUL bytes: the same on
 * every run and machine, for file names. For {service_name="x"} it is the
 * hash of "service_name=x". */
uint32_t disc_labels_hash(const struct disc_labels *l);
void disc_labels_release(struct disc_labels *l);

/* What the rules are applied to: one process. NULL or "" when unknown. */
struct disc_target_input {
	const char *exe;
	const char *comm;
	const char *cgroup;
	const char *container_id;
	/* The executable's base name, "kernel", the comm, or a container's
	 * name: see struct disc_process. When it is unknown the comm stands
	 * in, and "unknown" when that is too. */
	const char *default_service_name;
	/* Labels of the process's pod (kube_pods.h): service_name, namespace,
	 * pod, container, node and the __meta_kubernetes_* labels, set before
	 * the rules run (so they may use or change them); NULL: none. */
	const struct disc_labels *kube;
	/* The process id in the host's pid namespace; 0: unknown. A rule
	 * that copies it into a label makes one profile per process. */
	int pid;
};

struct disc_targets;

struct disc_targets_opts {
	size_t sz;               /* sizeof(struct disc_targets_opts) */
	/* The rules file. NULL (and no config_yaml): no rules, keep all. */
	const char *config_path;
	/* The rules as text, read instead of config_path, which (if not
	 * NULL) then only names them in messages. */
	const char *config_yaml;
	size_t config_yaml_len;
	const char *const *tags; /* "KEY=VALUE" each, as --tag gives them */
	size_t n_tags;
	/* Where the reason for a failure goes, as one line naming the file,
	 * line and rule, or the tag: "targets.yaml:12: rule 3: bad regex
	 * ...". May be NULL. */
	char *err;
	size_t err_len;
};

/* Reads the rules and the tags. NULL with errno set on failure: EINVAL for
 * a bad rule or tag, or the error of reading the file. */
struct disc_targets *disc_targets_new(const struct disc_targets_opts *opts);
void disc_targets_free(struct disc_targets *t);
/* The number of rules. */
size_t disc_targets_size(const struct disc_targets *t);

/* Applies the rules to a process. Returns 1 and its labels in *out (which
 * is overwritten: release it with disc_labels_release) if it is kept, 0
 * and an empty *out if a rule dropped it, or a negative errno: -E2BIG when
 * it ends with more than DISC_LABELS_MAX labels. service_name is always
 * there (the default one if the rules removed it: Pyroscope refuses a
 * series without); values are made valid UTF-8 and cut to
 * DISC_LABEL_VALUE_MAX bytes, as a path may be neither. */
int disc_targets_apply(const struct disc_targets *t,
		       const struct disc_target_input *in, struct disc_labels *out);

/* The label a target rule sets to "true" to make the process a memory
 * target (memory profiles; the pod annotation smolder.io/profile-memory:
 * "true" sets it before the rules run). Reserved: never in a profile. */
#define DISC_LABEL_PROFILE_MEMORY "__profile_memory__"

/* 1 when the rules keep the process and leave DISC_LABEL_PROFILE_MEMORY
 * "true" on it, 0 when not, or a negative errno. */
int disc_targets_memory(const struct disc_targets *t, const struct disc_target_input *in);

#endif
