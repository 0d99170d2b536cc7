"""Integration: a stripped binary is named from its debug file, found under a
build-id directory given with --debug-dir.

    test_debug_dir.py SMOLDER SMOLDER_IT_DBGDIR

The test makes, from the workload built with -g: a stripped copy (strip
--strip-all: no .symtab, no DWARF, the build-id note kept) and its debug file
(objcopy --only-keep-debug) at DBG/.build-id/xx/rest.debug, with the
build-id readelf reads. The stripped copy runs twice for ~6 s, profiled by
--pid. Decoded with `go tool pprof -raw -symbolize=none`. Checked:
  - both outputs keep the contract;
  - without --debug-dir (the control): no sample names stripped_hot or
    stripped_loop, >= 80% of the samples have an unnamed leaf in the
    stripped binary's Mapping, and that Mapping carries the build-id;
  - with --debug-dir EMPTY --debug-dir DBG (the flag is repeatable, the
    second directory must be searched too): >= 80% of the samples have
    stripped_hot in their leaf Location, in stripped_hot.c at a line between
    the STRIPPED_HOT_BEGIN and STRIPPED_HOT_END markers; for the heaviest
    leaf addresses the Location's Lines are those `eu-addr2line -i -f`
    gives on the unstripped binary; >= 90% of the stacks reach main
    through stripped_loop.
"""

import os
import shutil
import subprocess
import tempfile

import elf_tools as et
import smolder_harness as h

RATE = 97
SECONDS = 6
MIN_SAMPLES = 200
TOP_ADDRESSES = 5


def make_stripped(workload, tmp):
    """(stripped copy, DBG dir, build-id): the copy keeps the workload's
    base name, so its service is the same."""
    bid = et.build_id(workload)
    if not bid:
        h.fail("%s has no build-id note (readelf -n)" % workload)
    if ".debug_info" not in et.section_names(workload):
        h.fail("%s has no .debug_info: it must be built with -g" % workload)
    os.makedirs(os.path.join(tmp, "bin"))
    stripped = os.path.join(tmp, "bin", os.path.basename(workload))
    dbg = os.path.join(tmp, "dbg")
    debug_file = os.path.join(dbg, ".build-id", bid[:2], bid[2:] + ".debug")
    os.makedirs(os.path.dirname(debug_file))
    subprocess.run(["strip", "--strip-all", "-o", stripped, workload], check=True)
    subprocess.run(["objcopy", "--only-keep-debug", workload, debug_file], check=True)
    if et.build_id(stripped) != bid:
        h.fail("strip lost the build-id note: %s has %s, want %s"
               % (stripped, et.build_id(stripped), bid))
    left = et.section_names(stripped) & {".symtab", ".debug_info", ".debug_line",
                                         ".gnu_debuglink"}
    if left:
        h.fail("the stripped copy still has %s" % sorted(left))
    if ".debug_info" not in et.section_names(debug_file):
        h.fail("objcopy --only-keep-debug wrote no .debug_info to %s" % debug_file)
    h.log("build-id %s; stripped copy %s; debug file %s" % (bid, stripped, debug_file))
    return stripped, dbg, bid


def in_binary(loc, stripped):
    m = loc[0].mapping
    return m is not None and os.path.basename(m.file) == os.path.basename(stripped)


def check_control(r, stripped, bid):
    """Without --debug-dir: nothing names the hot function."""
    service = os.path.basename(stripped)
    samples = r.samples(service)
    total = h.count(samples)
    if total < MIN_SAMPLES:
        h.fail("control run: only %d samples of %s (services %s), want >= %d"
               % (total, service, h.services(r), MIN_SAMPLES))
    named = sum(s.count for s in samples
                if {"stripped_hot", "stripped_loop"} & set(s.names))
    unnamed, build_ids = 0, set()
    for s in samples:
        leaf = et.user_leaf(s)
        if leaf is not None and in_binary(leaf, stripped):
            build_ids.add(leaf[0].mapping.build_id)
            if leaf[0].name is None:
                unnamed += s.count
    h.log("control: %d samples, %d name stripped_hot/stripped_loop, %d have an unnamed leaf "
          "in %s; build-ids %s" % (total, named, unnamed, service, sorted(build_ids)))
    failures = []
    if named:
        failures.append("without --debug-dir, %d samples name stripped_hot or stripped_loop: "
                        "the name cannot come from the debug file; heaviest:\n    %s"
                        % (named, "\n    ".join(h.top_stacks(samples))))
    if unnamed < 0.8 * total:
        failures.append("without --debug-dir, only %d of %d samples have an unnamed leaf in %s; "
                        "heaviest:\n    %s" % (unnamed, total, service,
                                               "\n    ".join(h.top_stacks(samples))))
    if build_ids and build_ids != {bid}:
        failures.append("the stripped binary's Mapping has build-id(s) %s, readelf says %s"
                        % (sorted(build_ids), bid))
    if not build_ids:
        failures.append("no sample's leaf is in a Mapping of %s" % service)
    return failures


def check_named(r, stripped, workload):
    """With --debug-dir: stripped_hot named, with file:line, as
    eu-addr2line names it from the unstripped binary."""
    source = os.path.join(et.source_dir(), "stripped_hot.c")
    lines = et.marker_range(source, "/* STRIPPED_HOT_BEGIN */", "/* STRIPPED_HOT_END */")
    service = os.path.basename(stripped)
    samples = r.samples(service)
    total = h.count(samples)
    if total < MIN_SAMPLES:
        h.fail("run with --debug-dir: only %d samples of %s (services %s), want >= %d"
               % (total, service, h.services(r), MIN_SAMPLES))
    good, by_addr, bad = 0, {}, {}
    for s in samples:
        leaf = et.user_leaf(s)
        if leaf is None:
            continue
        by_addr.setdefault(leaf[0].address, [leaf, 0])[1] += s.count
        if any(f.name == "stripped_hot" and os.path.basename(f.file or "") == "stripped_hot.c"
               and f.line is not None and lines[0] <= f.line <= lines[1] for f in leaf):
            good += s.count
        else:
            bad[et.chain(leaf)] = bad.get(et.chain(leaf), 0) + s.count
    through = sum(s.count for s in samples if "stripped_loop" in s.names and "main" in s.names)
    h.log("with --debug-dir: %d samples, %d name stripped_hot stripped_hot.c:%d..%d in their "
          "leaf, %d reach main through stripped_loop" % (total, good, lines[0], lines[1], through))
    failures = []
    if good < 0.8 * total:
        top = sorted(bad.items(), key=lambda kv: -kv[1])[:8]
        failures.append("with --debug-dir, only %d of %d samples have stripped_hot "
                        "stripped_hot.c:%d..%d in their leaf Location; other leaves:\n    %s"
                        % (good, total, lines[0], lines[1],
                           "\n    ".join("%d %s" % (c, t) for t, c in top)))
    for leaf, c in sorted(by_addr.values(), key=lambda v: -v[1])[:TOP_ADDRESSES]:
        if not in_binary(leaf, stripped):
            continue
        vaddr = et.file_vaddr(workload, leaf[0].mapping, leaf[0].address)
        want = [(fn, os.path.basename(f) if f else None, ln)
                for fn, f, ln in et.addr2line(workload, vaddr)] if vaddr is not None else None
        got = [(f.name, os.path.basename(f.file) if f.file else None, f.line) for f in leaf]
        h.log("  %#x (%d samples): profile %s; eu-addr2line %s" % (leaf[0].address, c, got, want))
        if got != want:
            failures.append("at %#x (%d samples) the Location's Lines are %s, eu-addr2line -i "
                            "on the unstripped binary says %s" % (leaf[0].address, c, got, want))
    if through < 0.9 * total:
        failures.append("only %d of %d stacks reach main through stripped_loop; heaviest:\n    %s"
                        % (through, total, "\n    ".join(h.top_stacks(samples))))
    return failures


def test(smolder, workload):
    et.no_debuginfod_env()
    tmp = tempfile.mkdtemp(prefix="smolder-it-dbgdir-")
    try:
        stripped, dbg, bid = make_stripped(workload, tmp)
        empty = os.path.join(tmp, "empty")
        os.makedirs(empty)

        h.log("\n-- control: no --debug-dir")
        r = h.run(smolder, [stripped, str(SECONDS)], sample_rate=RATE)
        h.check_output(r, RATE, "control run")
        failures = check_control(r, stripped, bid)

        h.log("\n-- with --debug-dir %s --debug-dir %s" % (empty, dbg))
        r = h.run(smolder, [stripped, str(SECONDS)], sample_rate=RATE,
                  agent_args=["--debug-dir", empty, "--debug-dir", dbg])
        h.check_output(r, RATE, "run with --debug-dir")
        failures += check_named(r, stripped, workload)
        if failures:
            h.fail("\n  ".join(failures))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    h.main(test)
