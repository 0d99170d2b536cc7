#!/bin/sh
# /init of the guest that test_kernel.py boots: busybox, the agent and the
# workloads (guest_work.c). It runs the agent over a steady burner and a
# short-lived process started once the agent samples, then writes what the
# host checks to the second serial port (/dev/ttyS1), a gzipped tar in
# base64 between marker lines, and powers off. Lines starting "kt:" on the
# console are its own. The host decodes and judges; this only runs things.
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1
mount -t cgroup2 cgroup2 /sys/fs/cgroup
mount -t tmpfs tmpfs /tmp
# libbpf finds tracepoints' ids in tracefs.
mount -t tracefs tracefs /sys/kernel/tracing
mount -t debugfs debugfs /sys/kernel/debug

say() { echo "kt: $*"; echo "$*" >>/tmp/guest.txt; }
now() { cut -d' ' -f1 /proc/uptime; }

say "uname=$(uname -r)"
say "btf=$(test -r /sys/kernel/btf/vmlinux && echo yes || echo no)"

# The guest is about ten times slower than the host: every wait is long.
smolder_kt_qsort 600 &
burner=$!
say "burner_pid=$burner"

say "agent_start=$(now)"
# The burner is a memory target (issue 17): libc's qsort mallocs its buffer.
memory_rule='  - source_labels: [__meta_process_exe]
    regex: .*/smolder_kt_qsort
    target_label: __profile_memory__
    replacement: "true"'
printf 'relabel_configs:\n%s\n' "$memory_rule" >/tmp/rules_memory.yaml
smolder --output-dir /tmp/out --upload-interval 10s --duration 10m \
  --profile-types cpu,offcpu,mutex,memory --off-cpu-sample 1 \
  --memory-sample-bytes 4096 --memory-max-hits 0 --config /tmp/rules_memory.yaml \
  --log-level info 2>/tmp/agent.log &
agent=$!

# wait_log PATTERN SECONDS: until the agent's log ($log) holds PATTERN, it
# exits, or SECONDS pass; false unless the pattern came.
log=/tmp/agent.log
wait_log() {
  i=0
  while ! grep -q "$1" $log; do
    kill -0 $agent 2>/dev/null && [ $i -lt $2 ] || return 1
    sleep 1
    i=$((i + 1))
  done
}

# stop_agent NAME: SIGINT, then up to 120 s to write its last interval.
stop_agent() {
  kill -INT $agent
  i=0
  while kill -0 $agent 2>/dev/null && [ $i -lt 120 ]; do
    sleep 1
    i=$((i + 1))
  done
  kill -0 $agent 2>/dev/null && { say "$1_hung_after_sigint=yes"; kill -KILL $agent; }
}

if wait_log "sampling started" 300; then
  say "agent_sampling=$(now)"
  # Once the agent's first interval is out (it read every process on the
  # machine first), the short-lived process.
  wait_log " counters " 120
  say "short_start=$(now)"
  smolder_kt_short 3
  say "short_status=$?"
  say "short_end=$(now)"
  # Past the next interval's end, so its exit is seen with a profile to come.
  sleep 12
  stop_agent agent
else
  say "agent_sampling=never"
fi
wait $agent
say "agent_status=$?"
say "agent_stop=$(now)"

# Every fallback at once (issue 13): the programs that older kernels get
# must pass this kernel's verifier too, and mean what they say.
log=/tmp/agent_fallback.log
KT_CONTAINER_ID=$(cat /kt_container_id)
printf 'relabel_configs:\n  - source_labels: [__meta_process_container_id]\n    target_label: container_id\n%s\n' "$memory_rule" >/tmp/rules.yaml
smolder --output-dir /tmp/out_fallback --upload-interval 10s --duration 10m \
  --log-level info --test-pretend-missing bpf_loop,task_pt_regs,tp_btf,fentry,attach_cookie \
  --profile-types cpu,offcpu,mutex,memory --off-cpu-sample 1 \
  --memory-sample-bytes 4096 --memory-max-hits 0 \
  --config /tmp/rules.yaml 2>$log &
agent=$!
if wait_log "sampling started" 300; then
  say "fallback_sampling=$(now)"
  # The short process runs in a cgroup named as containerd names a
  # container's, while the agent is stopped: it is gone before the agent
  # can read it, and its labels come from what BPF read (the cgroup's
  # kernfs nodes through 6.1's kernfs_node->parent).
  cg=/sys/fs/cgroup/kt/cri-containerd-$KT_CONTAINER_ID.scope
  mkdir -p $cg
  kill -STOP $agent
  sh -c 'echo $$ > "$1"/cgroup.procs && exec smolder_kt_short 2' sh $cg
  say "fallback_short_status=$?"
  kill -CONT $agent
  wait_log " counters " 120
  stop_agent fallback
else
  say "fallback_sampling=never"
fi
wait $agent
say "fallback_status=$?"
kill $burner
wait $burner 2>/dev/null

stty -F /dev/ttyS1 raw -echo 2>/dev/null
{
  echo "KT-RESULTS-BEGIN"
  tar -c -C /tmp out agent.log out_fallback agent_fallback.log guest.txt | gzip | base64
  echo "KT-RESULTS-END"
} >/dev/ttyS1
say "results written"
sync
poweroff -f
