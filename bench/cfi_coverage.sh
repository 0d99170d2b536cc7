#!/bin/bash
# What of a Debian host's libraries the BPF walk cannot follow (issue 14).
#
#   bench/cfi_coverage.sh [BUILDDIR] [FILE...]     (BUILDDIR defaults to build)
#
# For each file (default: libcrypto, libc, libstdc++, libm, libz, libgcc_s
# as ldconfig finds them, Debian's python3.11 and postgres), the unwind
# table the symbolizer builds (BUILDDIR/bench/cfi_coverage, the real
# builder) is split into rows followed in every frame, rows followed only
# in the leaf (a CFA from a register other than rsp/rbp), rows no CFI
# covers (frame pointers) and unsupported rows; a leaf row holding a call
# instruction (objdump -d) is one a frame above the leaf can stand in, so
# the walk stops there. Prints a Markdown table, then each row the walk
# cannot follow with the function around it (gdb's info symbol).
set -euo pipefail

BUILD=${1:-build}
shift || true
TOOL=$(realpath "$BUILD/bench/cfi_coverage")
[[ -x $TOOL ]] || { echo "cfi_coverage: $TOOL missing (meson compile -C $BUILD)" >&2; exit 2; }
command -v objdump >/dev/null || { echo "cfi_coverage: objdump missing (binutils)" >&2; exit 2; }

lib() { ldconfig -p | awk -v n="$1" '$1 == n && /x86-64/ { print $NF; exit }'; }
if (($# == 0)); then
	set -- "$(lib libcrypto.so.3)" "$(lib libc.so.6)" "$(lib libstdc++.so.6)" \
		"$(lib libm.so.6)" "$(lib libz.so.1)" "$(lib libgcc_s.so.1)" \
		/usr/bin/python3.11 "$(realpath /usr/local/bin/postgres)"
fi

calls() { # the addresses of FILE's call instructions, in hex
	objdump -d --no-show-raw-insn "$1" | awk '$2 ~ /^call/ { sub(":", "", $1); print $1 }'
}

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
echo "| file | rows | every frame | leaf only | leaf only, at a call | no CFI (frame pointers) | unsupported | cannot follow |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
for f in "$@"; do
	calls "$f" | "$TOOL" "$f" -v >"$TMP/out"
	read -r _ _ rows _ any _ leaf _ at_call _ none _ unsup < <(head -1 "$TMP/out")
	stop=$((at_call + unsup))
	printf "| %s | %d | %d | %d | %d | %d | %d | %d (%.3f%%) |\n" "$(basename "$f")" "$rows" \
		"$any" "$leaf" "$at_call" "$none" "$unsup" "$stop" \
		"$(echo "100 * $stop / $rows" | bc -l)"
	tail -n +2 "$TMP/out" | while read -r pc end kind; do
		sym=$(gdb -batch -ex "info symbol 0x$pc" "$f" 2>/dev/null | sed 's/ in section.*//')
		echo "$(basename "$f") $pc..$end $kind ${sym:-?}"
	done >>"$TMP/stops"
done
if [[ -s $TMP/stops ]]; then
	echo
	echo "Rows the walk cannot follow (file pc..end kind function):"
	echo
	sed 's/^/    /' "$TMP/stops"
fi
