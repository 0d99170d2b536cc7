/* Starting, talking to, and ending the parser worker (sym.h; the worker
 * itself is worker.c).
 *
 * The worker is the agent's own executable run again (posix_spawn: no
 * fork of a threaded process), with its socket as descriptor 3 and every
 * other descriptor closed, and an environment holding only the
 * sanitizers' settings: no secret the agent was given reaches it. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "debuginfo.h"
#include "sym.h"
#include "worker_client.h"
#include "worker_wire.h"

#define DEFAULT_TIMEOUT_MS 10000u
#define DEFAULT_RESTARTS_PER_MINUTE 10u
#define MINUTE_NS (60ULL * 1000000000ULL)
#define FORGET_MAX 4096

extern char **environ;

struct sym_worker {
	char *exe;
	size_t memory_cap;
	uint64_t timeout_ns;
	unsigned int restarts_per_minute;
	uint64_t *start_times; /* the last restarts_per_minute starts, a ring */
	size_t start_next;

	pid_t pid; /* 0: none running */
	int sock;
	uint64_t generation;
	uint64_t next_id;

	/* The request outstanding, if any. */
	bool busy;
	uint64_t busy_id;
	uint64_t busy_deadline;
	struct sym_debug_search search;
	char *search_path;

	uint64_t forget[FORGET_MAX];
	size_t nforget;

	char last_death[64];
	struct sym_worker_stats stats;
};

#define OPT_HAS(o, field) \
	((o) && (o)->sz >= offsetof(struct sym_worker_opts, field) + sizeof((o)->field))

struct sym_worker *sym_worker_new(const struct sym_worker_opts *opts)
{
	struct sym_worker *w = calloc(1, sizeof(*w));
	const char *exe = OPT_HAS(opts, exe) && opts->exe ? opts->exe : "/proc/self/exe";
	unsigned int timeout_ms = OPT_HAS(opts, timeout_ms) ? opts->timeout_ms : 0;

	if (!w)
		return NULL;
	w->exe = strdup(exe);
	w->memory_cap = OPT_HAS(opts, memory_cap) && opts->memory_cap ? opts->memory_cap
								      : SYM_WORKER_DEFAULT_MEMORY_CAP;
	w->timeout_ns = (uint64_t)(timeout_ms ? timeout_ms : DEFAULT_TIMEOUT_MS) * 1000000ULL;
	w->restarts_per_minute = OPT_HAS(opts, restarts_per_minute) && opts->restarts_per_minute
					 ? opts->restarts_per_minute
					 : DEFAULT_RESTARTS_PER_MINUTE;
	w->start_times = calloc(w->restarts_per_minute, sizeof(*w->start_times));
	w->sock = -1;
	if (!w->exe || !w->start_times) {
		sym_worker_free(w);
		errno = ENOMEM;
		return NULL;
	}
	return w;
}

static void forget_search(struct sym_worker *w)
{
	free(w->search_path);
	w->search_path = NULL;
	w->search = (struct sym_debug_search){ 0 };
}

/* Ends the running worker at once and collects it; status into
 * last_death. */
static void end_worker(struct sym_worker *w, const char *why)
{
	int status = 0;

	if (!w->pid)
		return;
	if (w->sock >= 0)
		close(w->sock);
	w->sock = -1;
	kill(w->pid, SIGKILL);
	while (waitpid(w->pid, &status, 0) < 0 && errno == EINTR)
		;
	if (why)
		snprintf(w->last_death, sizeof(w->last_death), "%s", why);
	else if (WIFSIGNALED(status) && WTERMSIG(status) != SIGKILL)
		snprintf(w->last_death, sizeof(w->last_death), "killed by SIG%s",
			 sigabbrev_np(WTERMSIG(status)) ? sigabbrev_np(WTERMSIG(status)) : "?");
	else if (WIFEXITED(status) && WEXITSTATUS(status) == SYM_WORKER_EXIT_MEMORY)
		snprintf(w->last_death, sizeof(w->last_death), "over its memory cap");
	else if (WIFEXITED(status))
		snprintf(w->last_death, sizeof(w->last_death), "exited with status %d",
			 WEXITSTATUS(status));
	else
		snprintf(w->last_death, sizeof(w->last_death), "gone");
	w->pid = 0;
	w->stats.pid = 0;
	w->generation++; /* what it held is void from now on */
	w->busy = false;
	w->nforget = 0; /* its files died with it */
	forget_search(w);
}

void sym_worker_free(struct sym_worker *w)
{
	if (!w)
		return;
	if (w->pid) {
		/* EOF tells it to leave; it holds nothing worth waiting for. */
		end_worker(w, "stopped");
	}
	free(w->exe);
	free(w->start_times);
	free(w);
}

void sym_worker_get_stats(const struct sym_worker *w, struct sym_worker_stats *st)
{
	if (st)
		*st = w ? w->stats : (struct sym_worker_stats){ 0 };
}

uint64_t sym_worker_generation(const struct sym_worker *w)
{
	return w->generation;
}

bool sym_worker_busy(const struct sym_worker *w)
{
	return w->busy;
}

const char *sym_worker_last_death(const struct sym_worker *w)
{
	return w->last_death;
}

/* Only the sanitizers' settings: the worker needs nothing else, and must
 * not hold what the agent was given (server passwords, tokens). */
static char **worker_environment(void)
{
	static const char *const keep[] = { "ASAN_OPTIONS=", "UBSAN_OPTIONS=", "LSAN_OPTIONS=" };
	size_t n = 0;
	char **env = calloc(sizeof(keep) / sizeof(keep[0]) + 1, sizeof(*env));

	for (char **e = environ; env && e && *e; e++)
		for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++)
			if (!strncmp(*e, keep[i], strlen(keep[i])) && n < 3)
				env[n++] = *e;
	return env;
}

/* May another worker start now? At most restarts_per_minute a minute. */
static bool may_start(struct sym_worker *w, uint64_t now)
{
	uint64_t oldest = w->start_times[w->start_next];

	return !oldest || now - oldest >= MINUTE_NS;
}

static int start_worker(struct sym_worker *w)
{
	char cap[32];
	char *argv[] = { w->exe, (char *)SYM_WORKER_ARGV1, cap, NULL };
	posix_spawn_file_actions_t fa;
	uint64_t now = sym_wire_now_ns();
	int sv[2], child, err;
	char **env;
	pid_t pid;

	if (!may_start(w, now)) {
		w->stats.refused++;
		return -ECHILD;
	}
	snprintf(cap, sizeof(cap), "%zu", w->memory_cap);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		return -errno;
	/* dup2 onto itself would keep close-on-exec. */
	child = sv[1] == 3 ? fcntl(sv[1], F_DUPFD_CLOEXEC, 4) : sv[1];
	env = worker_environment();
	err = env ? posix_spawn_file_actions_init(&fa) : ENOMEM;
	if (!err) {
		posix_spawn_file_actions_adddup2(&fa, child, 3);
		posix_spawn_file_actions_addclosefrom_np(&fa, 4);
		err = posix_spawn(&pid, w->exe, &fa, NULL, argv, env);
		posix_spawn_file_actions_destroy(&fa);
	}
	free(env);
	if (child != sv[1])
		close(child);
	close(sv[1]);
	if (err) {
		close(sv[0]);
		w->start_times[w->start_next] = now;
		w->start_next = (w->start_next + 1) % w->restarts_per_minute;
		return -err;
	}
	w->pid = pid;
	w->sock = sv[0];
	w->stats.starts++;
	w->stats.pid = pid;
	w->start_times[w->start_next] = now;
	w->start_next = (w->start_next + 1) % w->restarts_per_minute;
	return 0;
}

static int send_forgets(struct sym_worker *w)
{
	Smolder__Worker__Forget f = SMOLDER__WORKER__FORGET__INIT;
	sym_wire_msg m = SMOLDER__WORKER__WORKER_MESSAGE__INIT;
	int err;

	if (!w->nforget)
		return 0;
	f.handles = w->forget;
	f.n_handles = w->nforget;
	m.id = w->next_id++;
	m.body_case = SMOLDER__WORKER__WORKER_MESSAGE__BODY_FORGET;
	m.forget = &f;
	err = sym_wire_send(w->sock, &m, NULL, 0, sym_wire_now_ns() + w->timeout_ns);
	w->nforget = 0;
	return err;
}

void sym_worker_forget(struct sym_worker *w, uint64_t handle)
{
	if (!w->pid)
		return;
	if (w->nforget == FORGET_MAX && (w->busy || send_forgets(w)))
		return; /* the worker keeps it: memory, not a wrong answer */
	w->forget[w->nforget++] = handle;
}

static int copy_search(struct sym_worker *w, const struct sym_debug_search *s)
{
	forget_search(w);
	if (!s)
		return 0;
	w->search = *s;
	if (s->path) {
		w->search_path = strdup(s->path);
		if (!w->search_path)
			return -ENOMEM;
		w->search.path = w->search_path;
	}
	return 0;
}

int sym_worker_send(struct sym_worker *w, sym_wire_msg *req, const int *fds, size_t nfds,
		    const struct sym_debug_search *search)
{
	uint64_t deadline;
	int err;

	if (w->busy)
		return -EBUSY;
	if (!w->pid && (err = start_worker(w)))
		return err == -ECHILD ? err : -ECHILD;
	err = copy_search(w, search);
	if (err)
		return err;
	deadline = sym_wire_now_ns() + w->timeout_ns;
	req->id = w->next_id++;
	err = send_forgets(w);
	if (!err)
		err = sym_wire_send(w->sock, req, fds, nfds, deadline);
	if (err) {
		end_worker(w, err == -ETIMEDOUT ? "timed out" : NULL);
		w->stats.deaths++;
		return -ECHILD;
	}
	w->busy = true;
	w->busy_id = req->id;
	w->busy_deadline = deadline;
	return 0;
}

/* The worker's question in the middle of an open: the debug file
 * candidates, opened here. */
static int answer_debug_query(struct sym_worker *w, const sym_wire_msg *q)
{
	Smolder__Worker__DebugFds d = SMOLDER__WORKER__DEBUG_FDS__INIT;
	sym_wire_msg m = SMOLDER__WORKER__WORKER_MESSAGE__INIT;
	struct sym_debug_candidates c = { 0 };
	uint32_t kinds[SYM_DEBUG_CANDIDATES_MAX];
	int err;

	sym_debug_open_candidates(&w->search, q->debug_query->build_id,
				  q->debug_query->debuglink, &c);
	for (size_t i = 0; i < c.n; i++)
		kinds[i] = (uint32_t)c.kinds[i];
	d.kinds = kinds;
	d.n_kinds = c.n;
	d.pending = c.pending;
	m.id = q->id;
	m.body_case = SMOLDER__WORKER__WORKER_MESSAGE__BODY_DEBUG_FDS;
	m.debug_fds = &d;
	err = sym_wire_send(w->sock, &m, c.fds, c.n, w->busy_deadline);
	sym_debug_candidates_close(&c);
	return err;
}

int sym_worker_wait(struct sym_worker *w, uint64_t wait_until_ns, sym_wire_msg **reply,
		    uint64_t *id)
{
	uint64_t until;

	*reply = NULL;
	if (!w->busy)
		return -EINVAL;
	until = wait_until_ns && wait_until_ns < w->busy_deadline ? wait_until_ns
								  : w->busy_deadline;
	for (;;) {
		int fds[SYM_WIRE_MAX_FDS];
		sym_wire_msg *m;
		size_t nfds;
		int err = sym_wire_recv(w->sock, until, w->busy_deadline, &m, fds, &nfds);

		for (size_t i = 0; i < nfds; i++)
			close(fds[i]); /* the worker sends none */
		/* Nothing begun by the caller's time: still the worker's. */
		if (err == -ETIMEDOUT && sym_wire_now_ns() < w->busy_deadline)
			return -EINPROGRESS;
		if (err) {
			bool timed_out = err == -ETIMEDOUT;

			end_worker(w, timed_out ? "timed out" : NULL);
			if (timed_out)
				w->stats.timeouts++;
			else
				w->stats.deaths++;
			return timed_out ? -ETIMEDOUT : -ECHILD;
		}
		if (m->id != w->busy_id) {
			sym_wire_free(m);
			end_worker(w, "broke the protocol");
			w->stats.deaths++;
			return -ECHILD;
		}
		if (m->body_case == SMOLDER__WORKER__WORKER_MESSAGE__BODY_DEBUG_QUERY) {
			err = answer_debug_query(w, m);
			sym_wire_free(m);
			if (err) {
				end_worker(w, NULL);
				w->stats.deaths++;
				return -ECHILD;
			}
			continue;
		}
		w->busy = false;
		forget_search(w);
		*reply = m;
		*id = m->id;
		return 0;
	}
}
