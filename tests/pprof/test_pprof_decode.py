#!/usr/bin/python3
"""Reads what pprof/ writes with decoders that are not ours.

Runs pprof_write_example (tests/pprof/pprof_write_example.c) to write a known
profile, then decodes it twice, with `go tool pprof -raw` (the reference
reader) and with `protoc --decode` against pprof/profile.proto (the schema
alone), and checks both see the same function names, stacks (leaf first,
inlined frames innermost first), values, labels (the profile's, then each
sample's own, which keep apart samples of one stack), sample types and
period. Our own
protobuf-c round trip (test_pprof.c) cannot catch a field number that is
wrong in our .proto, since encoder and decoder would share the mistake; these
can.

Usage: test_pprof_decode.py PPROF_WRITE_EXAMPLE PROTO_DIR
"""

import codecs
import os
import re
import shutil
import subprocess
import sys
import tempfile

# What pprof_write_example.c writes, in the order it adds the samples:
# stack, values, labels in the order written (go tool pprof keeps no order).
SERVICE = ("service_name", "example")
EXPECTED_SAMPLES = [
    (("leaf_x", "a", "main"), (3, 30000000), (SERVICE,)),
    (("leaf_x", "a", "main"), (4, 40000000), (SERVICE, ("state", "sleep"))),
    (("leaf_y", "a", "main"), (1, 10000000), (SERVICE,)),
    (("leaf_x", "a", "main"), (5, 50000000), (SERVICE, ("state", "io"))),
    (("b_inner", "b", "main"), (2, 20000000), (SERVICE,)),
    (("leaf_y", "a", "main"), (6, 60000000),
     (SERVICE, ("state", "io"), ("cgroup", "/a"))),
    (("leaf_x", "a", "main"), (7, 70000000), (SERVICE, ("cgroup", "/a"))),
]
EXPECTED_SAMPLE_TYPES = [("samples", "count"), ("cpu", "nanoseconds")]
EXPECTED_PERIOD_TYPE = ("cpu", "nanoseconds")
EXPECTED_PERIOD = 10000000
EXPECTED_TIME_NANOS = 1700000000000000000
EXPECTED_DURATION_NANOS = 10000000000
# function name -> (file, line in the location, start line)
EXPECTED_LINES = {
    "main": ("example.c", 40, 38),
    "a": ("example.c", 30, 28),
    "leaf_x": ("example.c", 12, 10),
    "leaf_y": ("example.c", 22, 20),
    "b_inner": ("inl.h", 7, 5),
    "b": ("example.c", 50, 48),
}
# Only a has a system name of its own; the others' is their name.
EXPECTED_SYSTEM_NAMES = {"a": "_Z1av"}

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what, file=sys.stderr)


def need(tool):
    path = shutil.which(tool)
    if not path:
        sys.exit(f"test_pprof_decode: '{tool}' not found on PATH; it is needed "
                 "to decode the profile (Debian: golang-go, protobuf-compiler, gzip)")
    return path


def run(cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, **kw)
    if r.returncode != 0:
        sys.exit(f"test_pprof_decode: {' '.join(cmd)} exited {r.returncode}:\n"
                 f"{r.stderr.decode(errors='replace')}")
    return r.stdout


# --- go tool pprof -raw --------------------------------------------------

def parse_go_raw(text):
    """Parses go tool pprof -raw output:

    PeriodType: cpu nanoseconds
    Period: 10000000
    Time: ...
    Duration: 10s
    Samples:
    samples/count cpu/nanoseconds
              3   30000000: 1 2 3
                    service_name:[example] state:[io]   <- labels, sorted by key
    Locations
         1: 0x403000 M=1 leaf_x example.c:12 s=10
         2: 0x402000 M=1 a example.c:30 s=28(_Z1av)  <- system name, if not the name
                 b example.c:50 s=48          <- a further (inlined) line
    Mappings
    1: 0x400000/0x500000/0x0 /usr/bin/example deadbeef [FN][FL][LN][IN]
    """
    out = {"samples": [], "locations": {}, "mappings": [], "header": {}}
    section = "header"
    last_loc = None
    line_re = re.compile(r"(\S+) (\S+):(\d+) s=(\d+)(?:\((\S+)\))?$")
    for line in text.splitlines():
        if not line.strip():
            continue
        if line in ("Samples:", "Locations", "Mappings"):
            section = line.rstrip(":").lower()
            continue
        if section == "header":
            key, _, value = line.partition(": ")
            out["header"][key] = value
        elif section == "samples":
            m = re.match(r"\s*([-\d ]+?):((?: \d+)*)\s*$", line)
            labels = re.fullmatch(r"\s+((?:\S+?:\[[^\]]*\] ?)+)", line)
            if m:
                values = tuple(int(v) for v in m.group(1).split())
                ids = tuple(int(i) for i in m.group(2).split())
                out["samples"].append((ids, values, []))
            elif labels and out["samples"]:
                for key, vals in re.findall(r"(\S+?):\[([^\]]*)\]", labels.group(1)):
                    out["samples"][-1][2].extend((key, v) for v in vals.split())
            elif "/" in line and "sample_types" not in out:
                out["sample_types"] = [tuple(t.split("/")) for t in line.split()]
            else:
                check(False, f"go -raw: unexpected sample line {line!r}")
        elif section == "locations":
            m = re.match(r"\s*(\d+): (0x[0-9a-f]+) M=(\d+) ?(.*)$", line)
            if m:
                last_loc = int(m.group(1))
                out["locations"][last_loc] = {
                    "address": int(m.group(2), 16), "mapping": int(m.group(3)),
                    "lines": []}
                rest = m.group(4)
            else:
                rest = line.strip()
            if rest:
                lm = line_re.match(rest)
                check(lm is not None and last_loc is not None,
                      f"go -raw: unexpected location line {line!r}")
                if lm and last_loc is not None:
                    out["locations"][last_loc]["lines"].append(
                        (lm.group(1), lm.group(2), int(lm.group(3)), int(lm.group(4)),
                         lm.group(5) or lm.group(1)))
        elif section == "mappings":
            out["mappings"].append(line)
    return out


def check_go(path):
    go = need("go")
    env = dict(os.environ)
    home = tempfile.mkdtemp(prefix="smolder-go-")
    env.setdefault("HOME", home)
    env.setdefault("GOCACHE", os.path.join(home, "cache"))
    env["PPROF_TMPDIR"] = home
    env["TZ"] = "UTC"  # Time: is printed in local time
    text = run([go, "tool", "pprof", "-raw", "-symbolize=none", path],
               env=env).decode()
    shutil.rmtree(home, ignore_errors=True)
    print("--- go tool pprof -raw\n" + text)
    p = parse_go_raw(text)

    h = p["header"]
    check(h.get("PeriodType") == " ".join(EXPECTED_PERIOD_TYPE),
          f"go: PeriodType {h.get('PeriodType')!r}")
    check(h.get("Period") == str(EXPECTED_PERIOD), f"go: Period {h.get('Period')!r}")
    check(h.get("Duration") == "10s", f"go: Duration {h.get('Duration')!r}")
    check(h.get("Time", "").startswith("2023-11-14 22:13:20"),
          f"go: Time {h.get('Time')!r}")
    check(p.get("sample_types") == EXPECTED_SAMPLE_TYPES,
          f"go: sample types {p.get('sample_types')}")

    locs = p["locations"]
    stacks = []
    for ids, values, labels in p["samples"]:
        names = []
        for i in ids:
            check(i in locs, f"go: sample refers to unknown location {i}")
            names += [ln[0] for ln in locs.get(i, {"lines": []})["lines"]]
        stacks.append((tuple(names), values, tuple(sorted(labels))))
    want = [(st, v, tuple(sorted(ls))) for st, v, ls in EXPECTED_SAMPLES]
    check(stacks == want, f"go: stacks {stacks}, want {want}")

    for loc in locs.values():
        check(loc["mapping"] == 1, f"go: location in mapping {loc['mapping']}")
        for name, file, line, start, system_name in loc["lines"]:
            check(EXPECTED_LINES.get(name) == (file, line, start),
                  f"go: {name} at {file}:{line} s={start}")
            check(system_name == EXPECTED_SYSTEM_NAMES.get(name, name),
                  f"go: {name} has system name {system_name}")
    inlined = [loc for loc in locs.values() if len(loc["lines"]) > 1]
    check(len(inlined) == 1 and [ln[0] for ln in inlined[0]["lines"]] == ["b_inner", "b"]
          and inlined[0]["address"] == 0x405000,
          f"go: inlined location {inlined}")
    check(p["mappings"] == ["1: 0x400000/0x500000/0x0 /usr/bin/example deadbeef "
                            "[FN][FL][LN][IN]"], f"go: mappings {p['mappings']}")


# --- protoc --decode -----------------------------------------------------

TOKEN = re.compile(r'\s*(?:([A-Za-z_]\w*)|(-?\d+)|("(?:[^"\\]|\\.)*")|([:{}]))')


def parse_text_format(text):
    """Parses protobuf text format into {field: [values]}, messages as dicts."""
    tokens = []
    pos = 0
    while pos < len(text):
        m = TOKEN.match(text, pos)
        if not m:
            if text[pos:].strip():
                sys.exit(f"test_pprof_decode: cannot parse protoc output at {text[pos:pos+40]!r}")
            break
        pos = m.end()
        ident, num, string, punct = m.groups()
        if ident in ("true", "false"):
            tokens.append(ident == "true")
        elif ident is not None:
            tokens.append(("id", ident))
        elif num is not None:
            tokens.append(int(num))
        elif string is not None:
            tokens.append(codecs.decode(string[1:-1], "unicode_escape"))
        else:
            tokens.append(("p", punct))

    def message(i):
        msg = {}
        while i < len(tokens) and tokens[i] != ("p", "}"):
            kind, name = tokens[i]
            if tokens[i + 1] == ("p", "{"):
                value, i = message(i + 2)
                i += 1  # the closing brace
            else:
                value, i = tokens[i + 2], i + 3
            msg.setdefault(name, []).append(value)
        return msg, i

    msg, _ = message(0)
    return msg


def check_protoc(path, proto_dir):
    protoc, gzip = need("protoc"), need("gzip")
    raw = run([gzip, "-dc", path])
    text = run([protoc, "--decode=perftools.profiles.Profile", "-I", proto_dir,
                os.path.join(proto_dir, "profile.proto")], input=raw).decode()
    p = parse_text_format(text)
    strings = p.get("string_table", [])

    def s(i):
        return strings[i] if 0 <= i < len(strings) else f"<bad string {i}>"

    def one(msg, field, default=0):
        return msg.get(field, [default])[0]

    check(strings[:1] == [""], f"protoc: string_table starts {strings[:1]}")
    check(len(strings) == len(set(strings)), f"protoc: duplicate strings {strings}")
    types = [(s(one(t, "type")), s(one(t, "unit"))) for t in p.get("sample_type", [])]
    check(types == EXPECTED_SAMPLE_TYPES, f"protoc: sample types {types}")
    pt = one(p, "period_type", {})
    check((s(one(pt, "type")), s(one(pt, "unit"))) == EXPECTED_PERIOD_TYPE,
          f"protoc: period type {pt}")
    check(one(p, "period") == EXPECTED_PERIOD, f"protoc: period {one(p, 'period')}")
    check(one(p, "time_nanos") == EXPECTED_TIME_NANOS, f"protoc: time_nanos {one(p, 'time_nanos')}")
    check(one(p, "duration_nanos") == EXPECTED_DURATION_NANOS,
          f"protoc: duration_nanos {one(p, 'duration_nanos')}")

    functions = {one(f, "id"): f for f in p.get("function", [])}
    check(sorted(functions) == list(range(1, len(EXPECTED_LINES) + 1)),
          f"protoc: function ids {sorted(functions)}")
    locations = {one(loc, "id"): loc for loc in p.get("location", [])}
    check(sorted(locations) == [1, 2, 3, 4, 5], f"protoc: location ids {sorted(locations)}")

    def names(loc_id):
        loc = locations.get(loc_id, {})
        out = []
        for ln in loc.get("line", []):
            f = functions.get(one(ln, "function_id"), {})
            name = s(one(f, "name"))
            out.append(name)
            check(s(one(f, "system_name")) == EXPECTED_SYSTEM_NAMES.get(name, name),
                  f"protoc: {name} has system_name {s(one(f, 'system_name'))}")
            check((s(one(f, "filename")), one(ln, "line"), one(f, "start_line"))
                  == EXPECTED_LINES.get(name),
                  f"protoc: {name} line {ln} function {f}")
        return out

    stacks = []
    for smp in p.get("sample", []):
        frames = []
        for loc_id in smp.get("location_id", []):
            frames += names(loc_id)
        labels = []
        for lab in smp.get("label", []):
            check("num" not in lab and "num_unit" not in lab, f"protoc: numeric label {lab}")
            labels.append((s(one(lab, "key")), s(one(lab, "str"))))
        stacks.append((tuple(frames), tuple(smp.get("value", [])), tuple(labels)))
    check(stacks == EXPECTED_SAMPLES, f"protoc: stacks {stacks}, want {EXPECTED_SAMPLES}")

    maps = p.get("mapping", [])
    check(len(maps) == 1, f"protoc: {len(maps)} mappings")
    if maps:
        m = maps[0]
        check((one(m, "id"), one(m, "memory_start"), one(m, "memory_limit"),
               one(m, "file_offset")) == (1, 0x400000, 0x500000, 0),
              f"protoc: mapping {m}")
        check(s(one(m, "filename")) == "/usr/bin/example" and
              s(one(m, "build_id")) == "deadbeef", f"protoc: mapping names {m}")
        check(all(one(m, flag, False) for flag in
                  ("has_functions", "has_filenames", "has_line_numbers",
                   "has_inline_frames")), f"protoc: mapping flags {m}")


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    example, proto_dir = sys.argv[1:]
    with tempfile.TemporaryDirectory(prefix="smolder-pprof-") as tmp:
        path = os.path.join(tmp, "example.pb.gz")
        run([example, path])
        check_go(path)
        check_protoc(path, proto_dir)
    if failures:
        sys.exit(f"test_pprof_decode: {len(failures)} check(s) failed")
    print("test_pprof_decode: ok")


if __name__ == "__main__":
    main()
