#!/bin/bash
# The symbolizer against eu-addr2line, addr2line and llvm-symbolizer: speed
# and agreement, on the same addresses of one large binary.
#
#   bench/symbolize.sh [SYM_ADDR2LINE]   (default build/bench/sym_addr2line)
#
# FILE (BENCH_FILE, default /usr/bin/python3.11) is a stripped, LTO-built
# executable whose DWARF comes from python3.11-dbg, found by build-id under
# /usr/lib/debug/.build-id. BENCH_ADDRS (default 12000) addresses of its
# .text are drawn with a fixed seed (BENCH_SEED, default 4): half uniformly
# over .text, half in a function picked uniformly among the debug file's
# text symbols, at a uniform offset inside it (so small functions count as
# much as large ones).
#
# Each tool runs on the list (cold: start, read the file and its DWARF,
# answer), then on K copies of it (the copies after the first are warm:
# what the tool keeps between addresses in one process; K grows until they
# take at least 1 s and half the cold time). Rates are addresses per
# second of wall-clock time: N / T1 cold, (K - 1) N / (TK - T1) warm.
# sym_addr2line also reports its own timings of a cold and a warm pass over
# the list (--repeat 2), without process start and I/O.
#
# Agreement, per address, over the whole answer (function, file:line and
# the chain of inlined calls):
# - "identical to eu-addr2line": sym_addr2line's output block equals
#   eu-addr2line -a -i -f's once columns are removed (sym_frame has none);
# - "same frames as X": the list of (function, file, line), innermost first,
#   equals X's (columns and binutils' "(discriminator N)" removed; for
#   eu-addr2line, its first line "F inlined at ... in SYMBOL" counts as F).
# Differences are counted by kind and a sample of each is printed. Two
# kinds of difference from eu-addr2line are elfutils 0.188's own, and are
# counted apart, as "explained":
# - inlined code of an LTO build: libdw's dwarf_getscopes looks for the
#   abstract definition of an inlined subroutine in the subroutine's own
#   CU, but GCC's LTO units point into the source file's CU
#   (DW_FORM_ref_addr), so it finds no scope at all; eu-addr2line then
#   prints the ELF symbol and the innermost file:line, and no inline chain
#   (explained when ours has that innermost file:line and our frames are
#   llvm-symbolizer's);
# - alignment padding between two functions: eu-addr2line prints "??" and
#   the line table's row of the function before, whose last row runs on to
#   the next function (explained when we name nothing and no function
#   symbol of the debug file covers the address).
# Prints a Markdown table and the exact commands. Not a test: numbers only.
set -euo pipefail

TOOL=${1:-build/bench/sym_addr2line}
FILE=${BENCH_FILE:-/usr/bin/python3.11}
N=${BENCH_ADDRS:-12000}
SEED=${BENCH_SEED:-4}
[[ -x $TOOL ]] || { echo "symbolize: no sym_addr2line at $TOOL (build it, or pass its path)" >&2; exit 2; }
TOOL=$(realpath "$TOOL")
HERE=$(dirname "$(realpath "$0")")

# eu-addr2line (elfutils), addr2line (binutils), llvm-symbolizer (llvm) and
# python3.11's DWARF (python3.11-dbg) all come from deploy/install-deps.sh.
bash "$HERE/../deploy/install-deps.sh"
for t in eu-addr2line addr2line llvm-symbolizer nm readelf; do
	command -v "$t" >/dev/null || { echo "symbolize: $t missing" >&2; exit 2; }
done
BUILD_ID=$(readelf -n "$FILE" | awk '/Build ID:/ {print $3}')
DEBUG=/usr/lib/debug/.build-id/${BUILD_ID:0:2}/${BUILD_ID:2}.debug
[[ -n $BUILD_ID && -f $DEBUG ]] || { echo "symbolize: no debug file for $FILE ($DEBUG)" >&2; exit 2; }

LOAD_AT_START=$(cut -d' ' -f1-3 /proc/loadavg)
TMP=$(mktemp -d /tmp/smolder-symbolize.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

# The addresses.
read -r TEXT_ADDR TEXT_SIZE < <(readelf -SW "$FILE" |
	awk '$2 == ".text" {print $4, $6} $3 == ".text" {print $5, $7}' | head -1)
nm -S --defined-only "$DEBUG" | awk '$3 ~ /^[tTwW]$/ && NF == 4 {print $1, $2}' >"$TMP/funcs"
/usr/bin/python3 - "$TMP/funcs" "$TEXT_ADDR" "$TEXT_SIZE" "$N" "$SEED" >"$TMP/addrs" <<'EOF'
import random, sys
funcs_file, text_addr, text_size, n, seed = sys.argv[1:]
lo, size, n = int(text_addr, 16), int(text_size, 16), int(n)
funcs = []
for line in open(funcs_file):
    a, s = (int(x, 16) for x in line.split())
    if s:
        funcs.append((a, s))
funcs.sort()
r = random.Random(int(seed))
for i in range(n):
    if i % 2:
        a, s = r.choice(funcs)
        print("0x%x" % (a + r.randrange(s)))
    else:
        print("0x%x" % (lo + r.randrange(size)))
EOF

# name, then the command; stdin is the address list.
TOOLS=(
	"sym_addr2line|$TOOL -a -e $FILE"
	"eu-addr2line|eu-addr2line -a -i -f -e $FILE"
	"addr2line|addr2line -a -i -f -e $FILE"
	"llvm-symbolizer|llvm-symbolizer --obj=$FILE --inlining --functions=linkage"
)
wall() { # wall-clock seconds of: CMD < IN > OUT
	local in=$1 out=$2; shift 2
	local t0 t1
	t0=$(date +%s.%N)
	"$@" <"$in" >"$out" 2>>"$TMP/stderr"
	t1=$(date +%s.%N)
	awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.6f", b - a}'
}
copies() { # the list K times, made once
	[[ -f $TMP/addrs.$1 ]] || for ((i = 0; i < $1; i++)); do cat "$TMP/addrs"; done >"$TMP/addrs.$1"
	echo "$TMP/addrs.$1"
}
# Warm: the list K times, K raised until the extra copies take at least 1 s
# and half the cold run (else start-up noise swamps them), at most 256.
: >"$TMP/times"
for entry in "${TOOLS[@]}"; do
	name=${entry%%|*}
	read -r -a cmd <<<"${entry#*|}"
	t1=$(wall "$TMP/addrs" "$TMP/$name.out" "${cmd[@]}")
	k=2
	while :; do
		tk=$(wall "$(copies $k)" /dev/null "${cmd[@]}")
		awk -v a="$t1" -v b="$tk" 'BEGIN {exit !(b - a >= 1 && b - a >= a / 2)}' && break
		((k < 256)) || break
		k=$((k * 4))
	done
	echo "$name $t1 $k $tk" >>"$TMP/times"
done
"$TOOL" -e "$FILE" --repeat 2 <"$TMP/addrs" >/dev/null 2>"$TMP/internal"

/usr/bin/python3 - "$TMP" "$N" <<'EOF'
import bisect, collections, itertools, re, sys
tmp, n = sys.argv[1], int(sys.argv[2])

ADDR = re.compile(r"^0x[0-9a-f]{16}$")
COLUMN = re.compile(r":(\d+|\?):\d+(?= in |$)")
DISCRIMINATOR = re.compile(r" \(discriminator \d+\)$")

def blocks_by_address(path):
    """eu-addr2line -a style: each answer starts with its address line."""
    blocks, cur = [], None
    for line in open(path, errors="replace"):
        line = line.rstrip("\n")
        if ADDR.match(line):
            cur = []
            blocks.append(cur)
        elif cur is not None:
            cur.append(line)
    return blocks

def blocks_by_blank(path):
    """llvm-symbolizer: answers separated by an empty line."""
    blocks, cur = [], []
    for line in open(path, errors="replace"):
        line = line.rstrip("\n")
        if line:
            cur.append(line)
        else:
            blocks.append(cur)
            cur = []
    if cur:
        blocks.append(cur)
    return blocks

def strip(line):
    return DISCRIMINATOR.sub("", COLUMN.sub(r":\1", line))

def where(line):
    f, _, l = line.rpartition(":")
    if not f or l == "?":
        return ("??", "0") if not f or f == "??" else (f, "0")
    return (f, l)

def frames(block):
    """[(function, file, line)], innermost first."""
    b = [strip(x) for x in block]
    if b and " inlined" in b[0]:
        b[0] = b[0].split(" inlined", 1)[0]
    return [(b[i],) + where(b[i + 1]) for i in range(0, len(b) - 1, 2)]

out = {
    "sym_addr2line": blocks_by_address(f"{tmp}/sym_addr2line.out"),
    "eu-addr2line": blocks_by_address(f"{tmp}/eu-addr2line.out"),
    "addr2line": blocks_by_address(f"{tmp}/addr2line.out"),
    "llvm-symbolizer": blocks_by_blank(f"{tmp}/llvm-symbolizer.out"),
}
for k, v in out.items():
    if len(v) != n:
        sys.exit(f"symbolize: {k} gave {len(v)} answers for {n} addresses")
addrs = [l.strip() for l in open(f"{tmp}/addrs")]
ours = out["sym_addr2line"]
eu = [[strip(x) for x in b] for b in out["eu-addr2line"]]

def kind(o, ref):
    """What differs between two frame lists."""
    if not o or o[0][0] == "??":
        return "we have no function"
    if not ref or ref[0][0] == "??":
        return "reference has no function"
    if len(o) != len(ref):
        return f"inline depth differs (ours {'>' if len(o) > len(ref) else '<'} reference)"
    for (fo, so, lo), (fr, sr, lr) in zip(o, ref):
        if fo != fr:
            return "function name differs"
        if so != sr:
            return "file differs"
        if lo != lr:
            return "line differs"
    return "?"

EU_NO_CHAIN = "eu-addr2line's quirk: no inline chain in LTO code"
EU_PADDING = "eu-addr2line's quirk: a line for padding between functions"

# The debug file's function symbols: [start, end), sorted, and the largest
# end of any symbol up to each, to tell padding from code.
spans = sorted(tuple(int(x, 16) for x in line.split()) for line in open(f"{tmp}/funcs"))
starts = [a for a, _ in spans]
ends_max = list(itertools.accumulate((a + s for a, s in spans), max))

def in_no_symbol(addr):
    j = bisect.bisect_right(starts, addr) - 1
    return j < 0 or ends_max[j] <= addr

def eu_quirk(i, o, ref, llvm):
    """Which of eu-addr2line's quirks (see the top) the difference at
    address i is, if one is; else None."""
    if len(ref) == 1 and len(o) > 1 and ref[0][1:] == o[0][1:] and o == llvm:
        return EU_NO_CHAIN
    if (o == [("??", "??", "0")] and len(ref) == 1 and ref[0][0] == "??"
            and in_no_symbol(int(addrs[i], 16))):
        return EU_PADDING
    return None

def compare(ref_name, ref_frames, whole=None, llvm=None):
    same, kinds, samples = 0, collections.Counter(), collections.defaultdict(list)
    for i in range(n):
        o = frames(ours[i])
        ok = ours[i] == whole[i] if whole is not None else o == ref_frames[i]
        if ok:
            same += 1
            continue
        k = eu_quirk(i, o, ref_frames[i], llvm[i]) if llvm is not None else None
        if k is None:
            k = kind(o, ref_frames[i]) if o != ref_frames[i] else "first line differs"
        kinds[k] += 1
        if len(samples[k]) < 3:
            samples[k].append(i)
    return same, kinds, samples

def explained(kinds):
    return kinds[EU_NO_CHAIN] + kinds[EU_PADDING]

def show(ref_name, ref_blocks, same, kinds, samples):
    share = 100.0 * (same + explained(kinds)) / n
    print(f"### {ref_name}: {same}/{n} identical ({100.0 * same / n:.2f}%)\n")
    if share >= 99.0 and not kinds:
        return
    for k, c in kinds.most_common():
        print(f"- {k}: {c}")
    print()
    if share >= 99.0 and all(k in (EU_NO_CHAIN, EU_PADDING) for k in kinds):
        return
    print("```")
    for k, _ in kinds.most_common():
        for i in samples[k]:
            print(f"== {addrs[i]} ({k})")
            print("-- sym_addr2line:")
            print("\n".join("   " + x for x in ours[i]))
            print(f"-- {ref_name}:")
            print("\n".join("   " + x for x in ref_blocks[i]))
    print("```\n")

results = {}
llvm_frames = [frames(b) for b in out["llvm-symbolizer"]]
for name in ("eu-addr2line", "llvm-symbolizer", "addr2line"):
    ref_frames = [frames(b) for b in out[name]]
    if name == "eu-addr2line":
        results[name] = compare(name, ref_frames, eu, llvm_frames)
    else:
        results[name] = compare(name, ref_frames)

times = {}
for line in open(f"{tmp}/times"):
    name, t1, k, tk = line.split()
    times[name] = (float(t1), int(k), float(tk))
internal = dict(re.findall(r"sym_addr2line: (cold|warm): \d+ addresses, ([\d.]+) s",
                           open(f"{tmp}/internal").read()))

def rate(t, count=n):
    return f"{count / t:,.0f}" if t > 0 else "n/a"

inl = sum(1 for b in out["llvm-symbolizer"] if len(b) > 2)
print(f"Addresses: {n}; {inl} of them in inlined code according to llvm-symbolizer.\n")
print("| tool | cold (addresses/s) | warm (addresses/s) | identical to eu-addr2line | same frames as llvm-symbolizer | same frames as addr2line |")
print("|---|---|---|---|---|---|")
pct = lambda r: f"{100.0 * r[0] / n:.2f}%"
fr = {name: [frames(b) for b in out[name]] for name in out}
def agree(a, b):
    return sum(1 for i in range(n) if fr[a][i] == fr[b][i])
for name in out:
    t1, k, tk = times[name]
    if name == "sym_addr2line":
        cells = [pct(results["eu-addr2line"]), pct(results["llvm-symbolizer"]), pct(results["addr2line"])]
    else:
        cells = ["(itself)" if name == "eu-addr2line" else f"{100.0 * agree(name, 'eu-addr2line') / n:.2f}% (frames)",
                 "(itself)" if name == "llvm-symbolizer" else f"{100.0 * agree(name, 'llvm-symbolizer') / n:.2f}%",
                 "(itself)" if name == "addr2line" else f"{100.0 * agree(name, 'addr2line') / n:.2f}%"]
    print(f"| {name} | {rate(t1)} | {rate(tk - t1, (k - 1) * n)} (list x{k}) | " + " | ".join(cells) + " |")
if internal:
    print(f"| sym_addr2line, own timing of a pass | {rate(float(internal['cold']))} | {rate(float(internal['warm']))} | | | |")
print()
same, kinds, _ = results["eu-addr2line"]
print(f"sym_addr2line next to eu-addr2line: {same} identical, and {explained(kinds)} more "
      f"where the difference is eu-addr2line's own (no inline chain in LTO code: "
      f"{kinds[EU_NO_CHAIN]}; a line for padding: {kinds[EU_PADDING]}): "
      f"{100.0 * (same + explained(kinds)) / n:.2f}% in all.\n")
for name in ("eu-addr2line", "llvm-symbolizer", "addr2line"):
    show(name, out[name], *results[name])
EOF

cat <<EOF
- Date: $(date -u '+%Y-%m-%d %H:%M UTC'); kernel $(uname -r); $(nproc) CPUs; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'); load average at start ${LOAD_AT_START}, at end $(cut -d' ' -f1-3 /proc/loadavg)
- File: \`$FILE\` (build-id $BUILD_ID), DWARF from \`$DEBUG\` ($(dpkg-query -W -f='${Package} ${Version}' python3.11-dbg 2>/dev/null || echo '?'))
- Tools: elfutils $(eu-addr2line --version | head -1 | awk '{print $NF}'), binutils $(addr2line --version | head -1 | awk '{print $NF}'), $(llvm-symbolizer --version | grep -m1 -o 'LLVM version [0-9.]*')
- Addresses: $N, seed $SEED; commands (stdin: the list, then K copies of it):
$(for entry in "${TOOLS[@]}"; do echo "  - \`${entry#*|}\`"; done)
- Script: \`bench/symbolize.sh ${1:-}\`
EOF
