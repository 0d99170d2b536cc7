# Sourced by bench/run.sh and bench/unwind.sh: a scratch directory and the
# cleanup that restores kernel.bpf_stats_enabled; the agent under
# /usr/bin/time until it samples; its BPF program and map ids (from its
# fds); and the reading of its perf_event programs' run time while it runs.

# bench_setup PREFIX: $TMP (mktemp under /tmp), $PIDS (killed at exit),
# and kernel.bpf_stats_enabled put back at exit as it was.
bench_setup() {
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

# bench_read_bpf_stats: `bpftool prog show` of the agent's programs every
# second until it exits, into $TMP/bpf.last: the last reading that still
# had its perf_event program (run_time_ns, run_cnt) before they went away.
bench_read_bpf_stats() {
	local progs
	progs=$(bench_agent_ids prog_id)
	: >"$TMP/bpf.last"
	while kill -0 "$AGENT_PID" 2>/dev/null; do
		for id in $progs; do
			bpftool prog show id "$id" --json 2>/dev/null
			echo
		done >"$TMP/bpf.now"
		if grep -q '"perf_event"' "$TMP/bpf.now"; then cp "$TMP/bpf.now" "$TMP/bpf.last"; fi
		sleep 1
	done
}

# bench_sample_rss PID OUT: every 0.2 s until PID exits, the resident
# memory (VmRSS) of PID and its children together (the agent and its
# parser worker), and their proportional set size (Pss of smaps_rollup: a
# page shared by both, or mapped twice, as the stack copies' ring is,
# counted once); the two peaks, in KiB, into OUT. /usr/bin/time's peak is
# one process's.
bench_sample_rss() {
	local pid=$1 out=$2 peak=0 peak_pss=0 sum pss kids
	while kill -0 "$pid" 2>/dev/null; do
		sum=$({ ps -o rss= -p "$pid" --ppid "$pid" 2>/dev/null || true; } | awk '{s += $1} END {print s + 0}')
		kids=$(cat /proc/"$pid"/task/*/children 2>/dev/null || true)
		pss=$(for p in "$pid" $kids; do cat /proc/"$p"/smaps_rollup 2>/dev/null || true; done |
			awk '$1 == "Pss:" {s += $2} END {print s + 0}')
		((sum > peak)) && peak=$sum
		((pss > peak_pss)) && peak_pss=$pss
		sleep 0.2
	done
	echo "$peak $peak_pss" >"$out"
}
