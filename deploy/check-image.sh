#!/usr/bin/env bash
# Builds deploy/Dockerfile without Docker or any registry, and runs the image:
# podman/buildah from Debian, base images debian:12 and debian:12-slim made
# locally with debootstrap from the Debian mirror, the agent run once
# privileged and once with the DaemonSet's securityContext, profiles decoded
# with go tool pprof. As root, on a Debian 12 host with BTF, from anywhere:
#
#   bash deploy/check-image.sh [WORKDIR]     # WORKDIR: scratch, default /tmp/image-try
#
# Not part of tests/run.sh: the build stage installs deploy/install-deps.sh's
# packages (about 1 GB) into the image, minutes that CI does not need to
# spend at every run.
#
# Exits non-zero on the first failure.
set -euo pipefail

repo="${SMOLDER_REPO:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
work="${1:-/tmp/image-try}"
mkdir -p "$work"
cd "$work"
log() { printf '== %s\n' "$*" >&2; }

# --- tools ------------------------------------------------------------------
log "installing buildah podman debootstrap runc"
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
  buildah podman debootstrap runc uidmap golang-go curl >/dev/null

# Runtime settings this kind of host needs; harmless elsewhere. Only through
# $CONTAINERS_CONF: /etc/containers is left alone.
#  - nofile/nproc: podman asks for RLIMIT_NOFILE=1048576 and RLIMIT_NPROC
#    above the hard limit, which fails ("setrlimit RLIMIT_NOFILE: Operation
#    not permitted") where root lacks CAP_SYS_RESOURCE. Ask for the current
#    hard limits instead, and NPROC no more than 32768: conmon, which starts
#    the runtime, was seen running with RLIMIT_NPROC 32768:32768.
#  - runc: crun 1.8 refuses cgroup v1 with a cgroup2 mount holding a
#    controller ("cgroups in hybrid mode not supported").
nofile=$(ulimit -Hn); nproc=$(ulimit -Hu)
[ "$nofile" = unlimited ] && nofile=1048576
[ "$nproc" = unlimited ] || [ "$nproc" -gt 32768 ] && nproc=32768
cat > containers.conf <<EOF
[containers]
default_ulimits = ["nofile=$nofile:$nofile", "nproc=$nproc:$nproc"]
[engine]
runtime = "runc"
EOF
export CONTAINERS_CONF="$work/containers.conf"

# --- base images ------------------------------------------------------------
# The mirror this host uses (deb822 or one-line sources), else Debian's.
mirror=$(grep -hoE '^URIs: *http[^ ]*/debian/?$' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -1 | sed 's/^URIs: *//')
[ -n "$mirror" ] || mirror=$(grep -hoE '^deb +http[^ ]*/debian/? ' /etc/apt/sources.list 2>/dev/null | head -1 | awk '{print $2}')
[ -n "$mirror" ] || mirror=http://deb.debian.org/debian
security="${mirror%/debian*}/debian-security"

make_rootfs() { # DIR: debootstrap minbase + what debuerreotype adds for the Docker Hub image
  local r=$1
  debootstrap --variant=minbase bookworm "$r" "$mirror" >debootstrap.log 2>&1 || { tail debootstrap.log; return 1; }
  rm -f "$r/etc/apt/sources.list"
  cat > "$r/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $mirror
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  cat > "$r/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
  echo 'Acquire::Languages "none";' > "$r/etc/apt/apt.conf.d/docker-no-languages"
  echo 'Apt::AutoRemove::SuggestsImportant "false";' > "$r/etc/apt/apt.conf.d/docker-autoremove-suggests"
  rm -rf "$r"/var/cache/apt/archives/*.deb "$r"/var/cache/apt/*.bin "$r"/var/lib/apt/lists/* "$r"/var/log/*.log
}

make_slim() { # DIR: what debian:*-slim drops (docs, man pages, locales), now and at later installs
  local r=$1
  cat > "$r/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/lintian/overrides/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/man/*
EOF
  find "$r/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
  find "$r/usr/share/doc" -mindepth 1 -type d -empty -delete
  rm -rf "$r"/usr/share/{groff,info,linda,locale,man}/* "$r"/usr/share/lintian/overrides/*
}

if ! podman image exists docker.io/library/debian:12 || ! podman image exists docker.io/library/debian:12-slim; then
  log "base images from debootstrap ($mirror)"
  rm -rf rootfs rootfs-slim
  make_rootfs rootfs
  cp -a rootfs rootfs-slim
  make_slim rootfs-slim
  tar -C rootfs -c . | podman import --change 'CMD ["bash"]' - docker.io/library/debian:12 >/dev/null
  tar -C rootfs-slim -c . | podman import --change 'CMD ["bash"]' - docker.io/library/debian:12-slim >/dev/null
  rm -rf rootfs rootfs-slim
fi

# --- build ------------------------------------------------------------------
# Debian 12's buildah (1.28) does not read deploy/Dockerfile.dockerignore by
# itself (BuildKit and buildah >= 1.29 do): name it, or the build stage gets
# the checkout's build directories too.
log "building smolder:test"
start=$(date +%s)
(cd "$repo" && buildah bud --pull-never --ignorefile deploy/Dockerfile.dockerignore \
  -f deploy/Dockerfile -t localhost/smolder:test .) >build.log 2>&1 || { tail -30 build.log; exit 1; }
log "build took $(( $(date +%s) - start ))s"
podman images --filter reference=localhost/smolder:test --format '{{.Repository}}:{{.Tag}} {{.Size}}' >&2

# Every library the agent links is in the runtime image.
if podman run --rm --entrypoint /bin/sh localhost/smolder:test -c 'ldd /usr/local/bin/smolder' | grep 'not found'; then
  echo "runtime image misses libraries" >&2; exit 1
fi

# --- run --------------------------------------------------------------------
check_profiles() { # DIR: profiles written, and one decodes with named frames
  local d=$1 n f
  n=$(find "$d" -name '*.pb.gz' | wc -l)
  [ "$n" -gt 0 ] || { echo "no profiles in $d" >&2; return 1; }
  f=$(ls "$d"/busy/*.pb.gz 2>/dev/null | head -1)
  [ -n "$f" ] || { echo "no profile of the busy loop in $d" >&2; return 1; }
  go tool pprof -raw -symbolize=none "$f" > "$f.raw"
  # Samples, and bash's own functions named (from its .dynsym).
  grep -q '^Samples:' "$f.raw" && grep -qE '^ +[0-9]+: 0x[0-9a-f]+ M=[0-9]+ execute_command' "$f.raw" \
    || { echo "$f: no samples or bash frames unnamed" >&2; head -40 "$f.raw" >&2; return 1; }
  log "$n profiles in $d; $f:"
  awk '/^Locations/ { p = 1 } p && n++ < 6' "$f.raw" >&2
}

# A CPU-bound process with a name of its own (service "busy"), a fresh copy
# of bash each run, alive until busy_stop, after the agent has named frames.
busy_n=0 busy_pid=
busy() {
  busy_n=$((busy_n + 1))
  mkdir -p "$work/busy.$busy_n" && cp /bin/bash "$work/busy.$busy_n/busy"
  "$work/busy.$busy_n/busy" -c 'while :; do :; done' &
  busy_pid=$!
}
busy_stop() { kill "$busy_pid" 2>/dev/null || true; wait "$busy_pid" 2>/dev/null || true; }

log "run: --privileged"
rm -rf out && mkdir out
busy
podman run --rm --privileged --pid=host \
  -v /sys/kernel/btf:/sys/kernel/btf:ro -v "$work/out:/out" \
  localhost/smolder:test --duration 20s --output-dir /out >run-privileged.log 2>&1 \
  || { cat run-privileged.log; exit 1; }
busy_stop
grep -v ' counters ' run-privileged.log >&2
check_profiles out

# deploy/kubernetes/daemonset.yaml's pod: host pids, its securityContext,
# its three volumes, its args (without --kubernetes: no API server here).
# seccomp=unconfined: what Kubernetes gives a pod without a seccompProfile.
# The podman 4.3 default profile allows bpf and perf_event_open only with
# CAP_SYS_ADMIN; see the second run for a RuntimeDefault that allows them
# with CAP_BPF / CAP_PERFMON.
k8s_run() { # NAME SECCOMP
  local name=$1 seccomp=$2
  rm -rf "state-$name" && mkdir "state-$name"
  busy
  podman run --rm --pid=host --network host \
    --cap-drop=all --cap-add=BPF,PERFMON,SYS_PTRACE,DAC_READ_SEARCH,SYSLOG,CHECKPOINT_RESTORE \
    --read-only --security-opt no-new-privileges --security-opt seccomp="$seccomp" \
    -v /sys/kernel/btf:/sys/kernel/btf:ro -v "$work/state-$name:/var/lib/smolder" --tmpfs /tmp:size=64m \
    localhost/smolder:test --duration 20s --http-listen 127.0.0.1:41978 \
    --spool-dir=/var/lib/smolder/spool --debuginfod-cache-dir=/var/lib/smolder/debuginfod \
    --output-dir=/var/lib/smolder/profiles >"run-$name.log" 2>&1 &
  local pid=$!
  sleep 18   # after the first 15 s interval: /ready turns 200
  local healthz ready
  healthz=$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:41978/healthz || true)
  ready=$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:41978/ready || true)
  wait "$pid" || { cat "run-$name.log"; return 1; }
  busy_stop
  grep -v ' counters ' "run-$name.log" >&2
  log "/healthz $healthz, /ready $ready"
  [ "$healthz" = 200 ] && [ "$ready" = 200 ] || return 1
  check_profiles "state-$name/profiles"
}

log "run: the DaemonSet's securityContext, seccomp unconfined"
k8s_run daemonset unconfined

log "run: the DaemonSet's securityContext, podman's seccomp profile with bpf/perf_event_open allowed by CAP_BPF/CAP_PERFMON"
python3 - /usr/share/containers/seccomp.json seccomp-capbpf.json <<'EOF'
import json, sys
p = json.load(open(sys.argv[1]))
calls = []
for s in p["syscalls"]:
    names = [n for n in s["names"] if n not in ("bpf", "perf_event_open")]
    if names:
        calls.append(dict(s, names=names))
calls.append({"names": ["bpf"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_BPF"]}})
calls.append({"names": ["perf_event_open"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_PERFMON"]}})
p["syscalls"] = calls
json.dump(p, open(sys.argv[2], "w"))
EOF
k8s_run seccomp "$work/seccomp-capbpf.json"

# Under podman's own default profile the agent must not start, and must say
# why in one line: the filter, not the kernel.
log "run: the DaemonSet's securityContext, podman's default seccomp profile"
if podman run --rm --pid=host --network host \
    --cap-drop=all --cap-add=BPF,PERFMON,SYS_PTRACE,DAC_READ_SEARCH,SYSLOG,CHECKPOINT_RESTORE \
    --read-only --security-opt no-new-privileges \
    -v /sys/kernel/btf:/sys/kernel/btf:ro --tmpfs /tmp:size=64m \
    localhost/smolder:test --duration 5s --http-listen off --output-dir /tmp/p >run-default-seccomp.log 2>&1; then
  echo "the agent ran under a seccomp profile that refuses bpf()" >&2; exit 1
fi
cat run-default-seccomp.log >&2
grep -q 'bpf() is refused.*seccomp filter' run-default-seccomp.log \
  || { echo "no line saying that a seccomp filter refused bpf()" >&2; exit 1; }

log "ok"
