# Sourced by bench/run.sh and bench/unwind.sh: a scratch directory and the
# cleanup that restores kernel.bpf_stats_enabled; the agent under
# /usr/bin/time until it samples; its BPF program and map ids (from its
# fds); and the reading of its perf_event programs' run time while it runs.

# bench_setup PREFIX: $TMP (mktemp under /tmp), $PIDS (killed at exit),
# $PROC_WATCH (bench/proc_watch of the build $AGENT is in),
# and kernel.bpf_stats_enabled put back at exit as it was.
bench_setup() {
	PROC_WATCH=$(dirname "$(dirname "$AGENT")")/bench/proc_watch
	[[ -x $PROC_WATCH ]] || { echo "bench: no $PROC_WATCH (build the bench directory)" >&2; exit 2; }
	TMP=$(mktemp -d "/tmp/$1.XXXXXX")
	STATS_WAS=$(sysctl -n kernel.bpf_stats_enabled)
	PIDS=()
	trap bench_cleanup EXIT
}

bench_cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	sysctl -q -w kernel.bpf_stats_enabled="$STATS_WAS" || true
	rm -rf "$TMP"
}

# bench_agent_start AGENT ARGS...: bpf_stats on, the agent under
# /usr/bin/time (times in $TMP/agent.time, log in $TMP/agent.log); returns
# once it logs `sampling started`, with $TIME_PID and $AGENT_PID set; exits
# the script if it never does.
bench_agent_start() {
	sysctl -q -w kernel.bpf_stats_enabled=1
	/usr/bin/time -f '%U %S %M' -o "$TMP/agent.time" "$@" 2>"$TMP/agent.log" &
	TIME_PID=$!
	# The agent is /usr/bin/time's child; its BPF ids come from its fds.
	AGENT_PID=
	for _ in $(seq 200); do
		AGENT_PID=$(pgrep -P "$TIME_PID" | head -1 || true)
		[[ -n $AGENT_PID ]] && grep -q 'sampling started' "$TMP/agent.log" && return 0
		sleep 0.1
	done
	echo "bench: the agent did not start:" >&2
	cat "$TMP/agent.log" >&2
	exit 1
}

# bench_agent_ids KIND: the agent's BPF object ids of KIND (prog_id, map_id).
bench_agent_ids() {
	grep -h "^$1:" /proc/"$AGENT_PID"/fdinfo/* 2>/dev/null | awk '{print $2}' | sort -u
}

# bench_read_bpf_stats: until the agent exits, its perf_event programs'
# run_time_ns and run_cnt ("NS CNT") into $TMP/bpf.last: the last reading
# taken while it still had them. Read by one process (bench/proc_watch.c,
# built beside the agent), so that measuring starts no processes the agent
# would have to follow.
bench_read_bpf_stats() {
	"$PROC_WATCH" bpf "$AGENT_PID" "$TMP/bpf.last"
}

# bench_sample_rss PID OUT: every 0.2 s until PID exits, the resident
# memory (VmRSS) of PID and its children together (the agent and its
# parser worker), and their proportional set size (Pss of smaps_rollup: a
# page shared by both, or mapped twice, as the stack copies' ring is,
# counted once); the two peaks, in KiB, into OUT. /usr/bin/time's peak is
# one process's.
bench_sample_rss() {
	"$PROC_WATCH" memory "$1" "$2"
}
