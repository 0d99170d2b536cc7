#!/usr/bin/env bash
# Installs, from Debian's packages, whatever smolder needs to build, run and
# be tested that this machine lacks. The one list of packages: the README's
# two commands and CI both come through here.
set -euo pipefail

packages=(
  # build
  meson ninja-build pkg-config gcc clang llvm binutils
  bpftool libbpf-dev libelf-dev libdw-dev libdebuginfod-dev libcurl4-openssl-dev
  libprotobuf-c-dev protobuf-c-compiler libzstd-dev zlib1g-dev libyaml-dev libiberty-dev libjson-c-dev libmicrohttpd-dev libseccomp-dev
  libssl-dev
  # tests: decoders that are not ours (go tool pprof, protoc, python3-protobuf
  # for the fake Pyroscope), Debian's python3, a debuginfod server
  golang-go protobuf-compiler python3 python3-protobuf elfutils debuginfod
  # tests/integration/test_forged_build_id.py: libc's internal names
  # (__libc_start_call_main, msort_with_tmp) from its debug file
  libc6-dbg
  # tests/agent/test_memory_probes.c: a program whose allocator is jemalloc
  libjemalloc-dev
  # tests/deploy: the manifests' YAML, read by Debian's python3
  python3-yaml
  # tests/kernels: Debian 12's kernel booted under qemu from an initramfs
  # of busybox and the agent
  qemu-system-x86 busybox-static cpio
  # benchmarks: the peers we measure against, and the DWARF of python3.11
  # that bench/symbolize.sh resolves
  linux-perf python3.11-dbg
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages: ${missing[*]}; run as root to install them" >&2
  exit 1
fi
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
