"""Integration: an always_inline hot loop is an inlined frame, with its own
file and line, inside its caller's Location.

    test_inline.py SMOLDER SMOLDER_IT_INLINE

smolder_it_inline (-O2 -g, frame pointers) spends its time in inline_hot, an
always_inline loop in inline_hot.h, inlined into inline_caller
(inline_main.c, noinline), called from main. The agent profiles it by --pid
for ~8 s. Decoded with `go tool pprof -raw -symbolize=none` (pprof names
nothing itself). Checked:
  - the output keeps the contract (format, per-interval accounting);
  - >= 80% of the samples have a leaf Location with >= 2 Lines, innermost
    first: inline_hot in inline_hot.h at a line of its loop (the lines
    between the INLINE_LOOP_BEGIN and INLINE_LOOP_END markers), then
    inline_caller in inline_main.c at the line of the call (INLINE_CALL);
  - for the heaviest leaf addresses in the workload, the Lines are exactly those
    `eu-addr2line -i -f` gives for that address (function, file base name,
    line, innermost first);
  - the executable's Mapping says has_functions, has_filenames,
    has_line_numbers and has_inline_frames;
  - >= 90% of the stacks reach main.
"""

import os

import elf_tools as et
import smolder_harness as h

RATE = 97
SECONDS = 8
MIN_SAMPLES = 300
TOP_ADDRESSES = 5


def expected_chain(workload, loc):
    """[(function, file base name, line)] for the Location's address by
    eu-addr2line, or None if the address is not in a segment of workload."""
    vaddr = et.file_vaddr(workload, loc[0].mapping, loc[0].address)
    if vaddr is None:
        return None
    return [(fn, os.path.basename(f) if f else None, ln)
            for fn, f, ln in et.addr2line(workload, vaddr)]


def got_chain(loc):
    return [(f.name, os.path.basename(f.file) if f.file else None, f.line) for f in loc]


def test(smolder, workload):
    et.no_debuginfod_env()
    hot_h = os.path.join(et.source_dir(), "inline_hot.h")
    main_c = os.path.join(et.source_dir(), "inline_main.c")
    loop = et.marker_range(hot_h, "/* INLINE_LOOP_BEGIN */", "/* INLINE_LOOP_END */")
    call_line = et.marker_lines(main_c, "/* INLINE_CALL */")[0]
    h.log("expected: inline_hot inline_hot.h:%d..%d <- inline_caller inline_main.c:%d"
          % (loop[0], loop[1], call_line))

    r = h.run(smolder, [workload, str(SECONDS)], sample_rate=RATE)
    h.check_output(r, RATE)

    service = os.path.basename(workload)
    samples = r.samples(service)
    total = h.count(samples)
    if total < MIN_SAMPLES:
        h.fail("only %d samples of %s (services %s), want >= %d"
               % (total, service, h.services(r), MIN_SAMPLES))

    good, leaf_count, by_addr, bad = 0, 0, {}, {}
    for s in samples:
        leaf = et.user_leaf(s)
        if leaf is None:
            continue
        leaf_count += s.count
        key = leaf[0].address
        by_addr.setdefault(key, [leaf, 0])[1] += s.count
        ok = (len(leaf) >= 2
              and leaf[0].name == "inline_hot"
              and os.path.basename(leaf[0].file or "") == "inline_hot.h"
              and leaf[0].line is not None and loop[0] <= leaf[0].line <= loop[1]
              and leaf[1].name == "inline_caller"
              and os.path.basename(leaf[1].file or "") == "inline_main.c"
              and leaf[1].line == call_line)
        if ok:
            good += s.count
        else:
            text = et.chain(leaf)
            bad[text] = bad.get(text, 0) + s.count
    to_main = h.naming(samples, "main")
    h.log("%d samples, %d with a user leaf; %d with the expected inline chain; %d reach main"
          % (total, leaf_count, good, to_main))

    failures = []
    if good < 0.8 * total:
        top = sorted(bad.items(), key=lambda kv: -kv[1])[:8]
        failures.append("only %d of %d samples have a leaf Location 'inline_hot inline_hot.h:"
                        "%d..%d <- inline_caller inline_main.c:%d'; other leaves:\n    %s"
                        % (good, total, loop[0], loop[1], call_line,
                           "\n    ".join("%d %s" % (c, t) for t, c in top)))

    # The workload's own addresses: a libc leaf of one sample (a call to
    # clock_gettime) is not this test's to check against the workload.
    own = [v for v in by_addr.values()
           if v[0][0].mapping is None or os.path.basename(v[0][0].mapping.file or "") == service]
    heaviest = sorted(own, key=lambda v: -v[1])[:TOP_ADDRESSES]
    for leaf, c in heaviest:
        if leaf[0].mapping is None:
            failures.append("leaf %#x (%d samples) has no Mapping" % (leaf[0].address, c))
            continue
        want = expected_chain(workload, leaf)
        got = got_chain(leaf)
        h.log("  %#x (%d samples): profile %s; eu-addr2line %s" % (leaf[0].address, c, got, want))
        if want != got:
            failures.append("at %#x (%d samples) the Location's Lines are %s, eu-addr2line -i "
                            "says %s" % (leaf[0].address, c, got, want))

    maps = {loc[0].mapping.id: loc[0].mapping for loc, _ in heaviest if loc[0].mapping}
    for m in maps.values():
        h.log("  mapping %s %s" % (m.file, m.bits or "(no flags)"))
        missing = [flag for flag, ok in (("has_functions", m.has_functions),
                                         ("has_filenames", m.has_filenames),
                                         ("has_line_numbers", m.has_line_numbers),
                                         ("has_inline_frames", m.has_inline_frames)) if not ok]
        if missing:
            failures.append("mapping %s: %s not set (bits %r)" % (m.file, ", ".join(missing),
                                                                  m.bits))
    if to_main < 0.9 * total:
        failures.append("only %d of %d stacks reach main; heaviest:\n    %s"
                        % (to_main, total, "\n    ".join(h.top_stacks(samples))))
    if failures:
        h.fail("\n  ".join(failures))


if __name__ == "__main__":
    h.main(test)
