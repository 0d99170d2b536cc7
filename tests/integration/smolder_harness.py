"""Shared by the integration tests: run the real agent against a real workload
and read back what it wrote, through tools that are not ours.

A test calls run(), which
  1. starts the workload; it prints {"event":"ready","pids":[...]} and waits;
  2. starts `smolder --pid ...` with its own temporary output directory and
     waits up to 30 s for `sampling started` on its stderr (an agent that
     exits or never starts sampling FAILS the test: BPF must work here);
  3. lets the workload go, waits for its {"event":"done",...} line;
  4. stops the agent with SIGINT (it flushes the partial interval and must
     exit 0), then lets the workload exit;
  5. parses every ` counters ` line of the agent's log into a dict, and
     decodes every DIR/<service>/<start>-<end>[-<hash>][.<type>].pb.gz with
     `go tool pprof -raw -symbolize=none`.

Profiles have a type, told by the file name: <start>-<end>.offcpu.pb.gz is
an off-CPU profile, <start>-<end>.mutex.pb.gz a lock-contention profile,
<start>-<end>.memory.pb.gz a memory profile (allocations and what they still
hold), <start>-<end>.pb.gz (no type) a CPU profile. Run.profiles holds the CPU
profiles only, so a test of CPU profiles sees nothing else; every type is in
Run.all_profiles and Run.profiles_of_type(type).

Only the standard library of Debian's /usr/bin/python3 is used.
"""

import collections
import gzip
import json
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

START_TIMEOUT_S = 30
STOP_TIMEOUT_S = 30
KERNEL_ADDRESS_MIN = 0xFFFF800000000000
# The kernel's frames are in this mapping; their addresses are 0 unless the
# agent runs with --kernel-addresses.
KERNEL_MAPPING = "[kernel.kallsyms]"


class Failure(Exception):
    """What a test reports when the agent or its output is wrong."""


def fail(msg):
    raise Failure(msg)


def log(msg):
    print(msg, flush=True)


def main(test):
    """Runs test(smolder, workload) from a script's __main__ and turns a
    Failure into a clear message and exit status 1."""
    if len(sys.argv) < 3:
        sys.exit("usage: %s SMOLDER WORKLOAD" % sys.argv[0])
    run_test(test, sys.argv[1:3])


def run_test(test, paths):
    """Calls test(*paths), the paths made absolute; a Failure becomes a
    message and exit status 1, success prints PASS."""
    try:
        test(*[os.path.abspath(a) for a in paths])
    except Failure as e:
        print("\nFAIL: %s" % e, file=sys.stderr, flush=True)
        sys.exit(1)
    log("PASS")


def free_port():
    """A TCP port of 127.0.0.1 nothing listens on (for --http-listen)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def read_text(path):
    """A file's text (a /proc file's), "" when it cannot be read (the
    process is gone)."""
    try:
        with open(path, "rb") as f:
            return f.read().decode(errors="replace")
    except OSError:
        return ""


# ---------------------------------------------------------------------------
# Profiles, as `go tool pprof -raw` prints them.

class Mapping:
    def __init__(self, id, start, limit, offset, file, build_id, bits=""):
        self.id, self.start, self.limit, self.offset = id, start, limit, offset
        self.file, self.build_id = file, build_id
        self.bits = bits  # "[FN][FL][LN][IN]": has_functions, _filenames, _line_numbers, _inline_frames

    @property
    def has_functions(self):
        return "[FN]" in self.bits

    @property
    def has_filenames(self):
        return "[FL]" in self.bits

    @property
    def has_line_numbers(self):
        return "[LN]" in self.bits

    @property
    def has_inline_frames(self):
        return "[IN]" in self.bits

    def __repr__(self):
        return "Mapping(%d, %#x-%#x, %r)" % (self.id, self.start, self.limit, self.file)


class Frame:
    """One function at one location. A location holding inlined functions
    gives several frames, innermost first."""

    def __init__(self, name, address, mapping, location_id, file=None, line=None):
        self.name = name  # None when the location has no function
        self.address = address
        self.mapping = mapping  # a Mapping, or None
        self.location_id = location_id
        self.file = file  # the function's file name ("" when it has none), None if no function
        self.line = line  # the Line's line number, None if no function

    @property
    def is_kernel(self):
        return (self.address >= KERNEL_ADDRESS_MIN
                or (self.mapping is not None and self.mapping.file == KERNEL_MAPPING))

    def __repr__(self):
        return "%s@%#x%s" % (self.name or "??", self.address, "[k]" if self.is_kernel else "")


class Sample:
    def __init__(self, count, frames, values, locations=None, labels=None, num_labels=None):
        self.count = count    # value / period (or the value of the type whose unit is count)
        self.frames = frames  # leaf first
        self.values = values  # the raw values, one per sample type
        self.sample_types = []  # [(type, unit)], the profile's, set by parse_raw
        # pprof sample labels: {"state": "sleep"}; a key with several values
        # has them joined by a space (label_lists keeps them apart).
        self.label_lists = labels or {}
        self.labels = {k: " ".join(v) for k, v in self.label_lists.items()}
        self.num_labels = num_labels or {}  # {key: ["1024 bytes", ...]}, as -raw prints them
        # [[Frame]]: one list per Location, leaf first; a Location's frames
        # are its Lines, innermost (inlined) first.
        self.locations = locations if locations is not None else [[f] for f in frames]

    def value(self, type):
        """The value of the sample type named type ("alloc_space"); fails
        if the profile has no such type."""
        for k, (t, _) in enumerate(self.sample_types):
            if t == type:
                return self.values[k]
        fail("no sample type %r among %s" % (type, self.sample_types))

    @property
    def names(self):
        return [f.name or "??" for f in self.frames]

    @property
    def kernel_frames(self):
        return [f for f in self.frames if f.is_kernel]

    @property
    def user_frames(self):
        return [f for f in self.frames if not f.is_kernel]

    def leaf_kernel_split(self):
        """(the kernel frames at the leaf, every frame after them): a
        stack taken in the kernel has its kernel frames first."""
        k = 0
        while k < len(self.frames) and self.frames[k].is_kernel:
            k += 1
        return self.frames[:k], self.frames[k:]


# A profile's type, by its file name (_FILE_RE): the agent's --profile-types.
PROFILE_TYPES = ("cpu", "offcpu", "mutex", "memory")
# What each type's profile declares: (PeriodType, sample types). The period
# is 1, but a memory profile's: --memory-sample-bytes.
TYPE_FORMATS = {
    "offcpu": (("offcpu", "nanoseconds"), [("offcpu", "nanoseconds")]),
    "mutex": (("contentions", "count"), [("contentions", "count"), ("delay", "nanoseconds")]),
    "memory": (("space", "bytes"), [("alloc_objects", "count"), ("alloc_space", "bytes"),
                                    ("inuse_objects", "count"), ("inuse_space", "bytes")]),
}
OFFCPU_STATES = ("sleep", "io", "runqueue")


class Profile:
    def __init__(self, path, service, start, end, type="cpu"):
        self.path, self.service, self.start, self.end = path, service, start, end
        self.type = type          # "cpu", "offcpu", "mutex" or "memory"
        self.comments = []
        self.period_type = None   # ("cpu", "nanoseconds")
        self.period = None
        self.sample_types = []    # [("cpu", "nanoseconds")]
        self.samples = []
        self.locations = {}       # id -> (address, Mapping or None, [names])
        self.location_lines = {}  # id -> [(name, file, line)], innermost first
        self.mappings = {}        # id -> Mapping
        self.inexact_values = 0   # values that are not a multiple of the period

    @property
    def interval(self):
        return "%d-%d" % (self.start, self.end)

    @property
    def total_count(self):
        return sum(s.count for s in self.samples)

    def total_value(self, k=0):
        """The sum of the samples' k-th values (offcpu: nanoseconds; mutex:
        0 contentions, 1 delay nanoseconds)."""
        return sum(s.values[k] for s in self.samples)


_SAMPLE_RE = re.compile(r"^((?:\s+-?\d+)+): ((?:\d+ )*)\s*$")
_LOCATION_RE = re.compile(r"^\s*(\d+): (0x[0-9a-fA-F]+) (?:M=(\d+) )?(?:\[F\] )?(.*)$")
_LINE_RE = re.compile(r"^(\S+) (.*):(-?\d+) s=(-?\d+)(?:\((.*)\))?$")
_MAPPING_RE = re.compile(r"^(\d+): (0x[0-9a-fA-F]+)/(0x[0-9a-fA-F]+)/(0x[0-9a-fA-F]+) ?(.*)$")
# A label line under a sample: "KEY:[V1 V2] KEY2:[V]", keys sorted; pprof
# prints the string labels' line first, then the numeric labels' line.
_LABEL_RE = re.compile(r"([^\s:\[\]]+):\[([^\]]*)\]")
_LABEL_LINE_RE = re.compile(r"^ {16}((?:[^\s:\[\]]+:\[[^\]]*\] ?)+)$")


def parse_label_line(line):
    """{key: [values]} out of one label line of `go tool pprof -raw`; None if
    the line is not one."""
    m = _LABEL_LINE_RE.match(line.rstrip())
    if not m:
        return None
    return {k: v.split() for k, v in _LABEL_RE.findall(m.group(1))}


def _marker(text):
    """A frame that says something of the stack ("[truncated]", "[python:
    process gone ...]"), whole, spaces and all; None for a function."""
    if text.startswith("[") and "]" in text:
        return text[:text.index("]") + 1]
    return None


def _line_fields(text):
    """(name, file, line) out of "NAME FILE:LINE s=START[(SYSNAME)]";
    (None, None, None) for "??" or nothing."""
    text = text.strip()
    if text in ("", "??"):
        return (None, None, None)
    if _marker(text):
        return (_marker(text), None, None)
    m = _LINE_RE.match(text)
    if m:
        return (m.group(1), m.group(2), int(m.group(3)))
    return (text.split(" ", 1)[0], None, None)


def _function_name(text):
    """The function name out of "NAME FILE:LINE s=START[(SYSNAME)]"."""
    text = text.strip()
    if text in ("", "??"):
        return None
    if _marker(text):
        return _marker(text)
    m = _LINE_RE.match(text)
    if m:
        return m.group(1)
    return text.split(" ", 1)[0]


def parse_raw(text, profile):
    """Fills profile from the output of `go tool pprof -raw`. Strict: a line
    it does not understand is an error, so a format change is noticed."""
    section = "header"
    raw_samples = []  # [values, [location ids], [label lines' dicts]]
    loc_lines = {}    # id -> (address, mapping id, [names])
    last_loc = None
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if not line.strip():
            continue
        if section == "header":
            if line.startswith("Comment: "):
                profile.comments.append(line[len("Comment: "):])
            elif line.startswith("PeriodType: "):
                parts = line[len("PeriodType: "):].split()
                profile.period_type = tuple(parts)
            elif line.startswith("Period: "):
                profile.period = int(line[len("Period: "):])
            elif line.startswith(("Time: ", "Duration: ")):
                pass
            elif line == "Samples:":
                section = "sample types"
            else:
                fail("%s: unexpected header line %r" % (profile.path, line))
        elif section == "sample types":
            for tok in line.split():
                tok = tok.replace("[dflt]", "")
                typ, _, unit = tok.partition("/")
                profile.sample_types.append((typ, unit))
            section = "samples"
        elif section == "samples":
            if line == "Locations":
                section = "locations"
                continue
            m = _SAMPLE_RE.match(line)
            labels = parse_label_line(line) if not m else None
            if m:
                values = [int(v) for v in m.group(1).split()]
                ids = [int(v) for v in m.group(2).split()]
                if len(values) != len(profile.sample_types):
                    fail("%s: a sample of %d values, but %d sample types %s: %r"
                         % (profile.path, len(values), len(profile.sample_types),
                            profile.sample_types, line))
                raw_samples.append([values, ids, []])
            elif labels is not None and raw_samples and len(raw_samples[-1][2]) < 2:
                raw_samples[-1][2].append(labels)  # labels of the previous sample
            else:
                fail("%s: unexpected sample line %r" % (profile.path, line))
        elif section == "locations":
            if line == "Mappings":
                section = "mappings"
                continue
            m = _LOCATION_RE.match(line)
            if m:
                last_loc = int(m.group(1))
                mid = int(m.group(3)) if m.group(3) else None
                name = _function_name(m.group(4))
                loc_lines[last_loc] = (int(m.group(2), 16), mid,
                                       [name] if m.group(4).strip() else [])
                profile.location_lines[last_loc] = \
                    [_line_fields(m.group(4))] if m.group(4).strip() else []
            elif line.startswith(" " * 13) and last_loc is not None:
                loc_lines[last_loc][2].append(_function_name(line))  # inlined
                profile.location_lines[last_loc].append(_line_fields(line))
            else:
                fail("%s: unexpected location line %r" % (profile.path, line))
        elif section == "mappings":
            m = _MAPPING_RE.match(line)
            if not m:
                fail("%s: unexpected mapping line %r" % (profile.path, line))
            # "FILE BUILDID BITS": the file name may hold spaces, the others not.
            parts = m.group(5).rsplit(" ", 2)
            file = parts[0]
            build_id = parts[1] if len(parts) > 1 else ""
            bits = parts[2] if len(parts) > 2 else ""
            mp = Mapping(int(m.group(1)), int(m.group(2), 16), int(m.group(3), 16),
                         int(m.group(4), 16), file, build_id, bits)
            profile.mappings[mp.id] = mp
    if section != "mappings":
        fail("%s: truncated -raw output (ended in section %s)" % (profile.path, section))

    for lid, (addr, mid, names) in loc_lines.items():
        profile.locations[lid] = (addr, profile.mappings.get(mid), names)

    # Which value is a count: the first of unit count if any ("samples/count",
    # a memory profile's alloc_objects), else the first value divided by the
    # period (the agent writes [cpu nanoseconds], hits x period).
    count_idx = None
    for k, (typ, unit) in enumerate(profile.sample_types):
        if unit == "count" and count_idx is None:
            count_idx = k
    for values, ids, label_lines in raw_samples:
        if count_idx is not None:
            count = values[count_idx]
        else:
            if not profile.period:
                fail("%s: no period to turn %s into counts" % (profile.path, profile.sample_types))
            count, rest = divmod(values[0], profile.period)
            if rest:
                profile.inexact_values += 1
                count = round(values[0] / profile.period)
        frames, locations = [], []
        for lid in ids:
            if lid not in profile.locations:
                fail("%s: sample refers to unknown location %d" % (profile.path, lid))
            addr, mp, names = profile.locations[lid]
            fields = profile.location_lines.get(lid) or [(None, None, None)]
            loc = []
            for k, name in enumerate(names or [None]):
                _, file, lineno = fields[k] if k < len(fields) else (None, None, None)
                loc.append(Frame(name, addr, mp, lid, file, lineno))
            frames += loc
            locations.append(loc)
        # The first label line holds the string labels, a second the numeric
        # ones (the agent writes string labels only).
        num = None
        if len(label_lines) > 1:  # "N UNIT" values ("1024 bytes"), or plain numbers
            num = {k: re.findall(r"-?\d+(?: [^\s\d-]\S*)?", " ".join(v))
                   for k, v in label_lines[1].items()}
        sample = Sample(count, frames, values, locations,
                        labels=label_lines[0] if label_lines else None, num_labels=num)
        sample.sample_types = profile.sample_types
        profile.samples.append(sample)
    return profile


def go_binary():
    go = os.environ.get("SMOLDER_GO") or shutil.which("go") or "/usr/bin/go"
    if not os.access(go, os.X_OK):
        fail("`go` not found (Debian package golang-go): profiles are decoded "
             "with `go tool pprof -raw`")
    return go


def decode(path, service, start, end, type=None):
    """Decodes one profile with `go tool pprof -raw -symbolize=none`; its
    type is the file name's (profile_type) unless given."""
    with open(path, "rb") as f:
        head = f.read(2)
    if head != b"\x1f\x8b":
        fail("%s: not gzipped (starts with %r)" % (path, head))
    with gzip.open(path, "rb") as f:
        f.read()  # a truncated gzip stream raises here
    env = dict(os.environ, PPROF_TMPDIR=os.path.dirname(path))
    p = subprocess.run([go_binary(), "tool", "pprof", "-raw", "-symbolize=none", path],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                       timeout=120)
    if p.returncode != 0:
        fail("go tool pprof -raw %s failed (%d): %s" % (path, p.returncode, p.stderr.strip()))
    return parse_raw(p.stdout, Profile(path, service, start, end,
                                       type or profile_type(os.path.basename(path)) or "cpu"))


# ---------------------------------------------------------------------------
# The agent's log.

_COUNTERS_RE = re.compile(r"(\w+)=(\S+)")


def parse_counters(line):
    """{"interval": "START-END", "samples_taken": N, ...} from a log line
    holding ` counters ` followed by key=value pairs."""
    tail = line.split(" counters ", 1)[1]
    out = {}
    for k, v in _COUNTERS_RE.findall(tail):
        out[k] = int(v) if re.fullmatch(r"-?\d+", v) else v
    return out


def losses(counters):
    return sum(v for k, v in counters.items() if k.startswith("lost_") and isinstance(v, int))


# ---------------------------------------------------------------------------
# Running it.

class Run:
    def __init__(self):
        self.agent_cmd = None
        self.agent_log = []
        self.agent_rc = None
        self.counters = []   # one dict per interval, in order
        self.profiles = []   # every CPU Profile written (<start>-<end>[-<hash>].pb.gz)
        self.all_profiles = []  # every Profile written, of every type
        self.stray_files = []
        self.hashed_files = []  # <service>/<start>-<end>-<labels hash>[.<type>].pb.gz
        self.ready = None    # the workload's ready line
        self.done = None     # the workload's done line
        self.outdir = None

    def profiles_of_type(self, type):
        """The profiles of one type ("cpu", "offcpu", "mutex", "memory"); "cpu" is
        self.profiles, which a test may have narrowed."""
        if type == "cpu":
            return list(self.profiles)
        return [p for p in self.all_profiles if p.type == type]

    def samples(self, service=None, type="cpu"):
        """The samples of service's profiles (every service's if None) of
        one type (CPU by default)."""
        return [s for p in self.profiles_of_type(type) if service in (None, p.service)
                for s in p.samples]

    def total(self, key):
        return sum(c.get(key, 0) for c in self.counters)

    def profiles_of_interval(self, interval, type="cpu"):
        return [p for p in self.profiles_of_type(type) if p.interval == interval]

    def contract_problems(self, sample_rate, off_cpu_sample=None, memory_sample_bytes=None):
        """What in the output breaks the agent's contract on profile format
        and per-interval accounting; [] when nothing does. The CPU books
        are checked against the CPU profiles; the offcpu and mutex profiles
        against their types' format (every offcpu sample has a state) and,
        given off_cpu_sample (--off-cpu-sample), against the offcpu_* and
        mutex_* counters of their interval; the memory profiles against their
        type, their period memory_sample_bytes (--memory-sample-bytes) if
        given."""
        problems = []
        if self.agent_rc != 0:
            problems.append("agent exited with status %s, not 0" % self.agent_rc)
        if not self.counters:
            problems.append("no ` counters ` line in the agent's log")
        if self.stray_files:
            problems.append("files not named <service>/<start>-<end>[-<hash>][.offcpu|.mutex|.memory].pb.gz: %s"
                            % self.stray_files)
        problems += self._hash_problems()
        want_period = 10**9 // sample_rate
        for p in self.profiles:
            name = os.path.relpath(p.path, self.outdir)
            if p.period_type != ("cpu", "nanoseconds"):
                problems.append("%s: PeriodType %s, want cpu nanoseconds" % (name, p.period_type))
            if p.sample_types != [("cpu", "nanoseconds")]:
                problems.append("%s: sample types %s, want [cpu/nanoseconds]" % (name, p.sample_types))
            if p.period is None or abs(p.period - want_period) > 1:
                problems.append("%s: period %s, want 1e9/%d = %d" % (name, p.period, sample_rate, want_period))
            if p.inexact_values:
                problems.append("%s: %d sample values are not a multiple of the period %s"
                                % (name, p.inexact_values, p.period))
        seen = set()
        for c in self.counters:
            iv = c.get("interval")
            for k in ("interval", "samples_taken", "samples_profiled"):
                if k not in c:
                    problems.append("counters line without %s: %s" % (k, c))
            if not isinstance(c.get("samples_taken"), int):
                continue
            lost = losses(c)
            dropped = c.get("samples_dropped", 0)  # by target rules: accounted, not lost
            if c.get("samples_profiled", 0) + dropped + lost != c["samples_taken"]:
                problems.append("interval %s: samples_profiled %d + dropped %d + lost %d != "
                                "samples_taken %d" % (iv, c.get("samples_profiled", 0), dropped,
                                                      lost, c["samples_taken"]))
            decoded = sum(p.total_count for p in self.profiles_of_interval(iv))
            if decoded != c.get("samples_profiled"):
                problems.append("interval %s: samples_profiled %s but the files of that interval "
                                "hold %d samples (%s)"
                                % (iv, c.get("samples_profiled"), decoded,
                                   [os.path.relpath(p.path, self.outdir)
                                    for p in self.profiles_of_interval(iv)] or "no files"))
            seen.add(iv)
        problems += self._typed_problems(off_cpu_sample, memory_sample_bytes)
        for p in self.all_profiles:
            if p.interval not in seen:
                problems.append("%s: no counters line for interval %s"
                                % (os.path.relpath(p.path, self.outdir), p.interval))
        return problems

    def _typed_problems(self, off_cpu_sample, memory_sample_bytes=None):
        """The offcpu and mutex profiles' format, and their totals against
        the interval's counters (the counters count as drawn, before the
        values are scaled by 1/P)."""
        problems = []
        for p in self.all_profiles:
            if p.type not in TYPE_FORMATS:
                continue
            name = os.path.relpath(p.path, self.outdir)
            period_type, sample_types = TYPE_FORMATS[p.type]
            if p.period_type != period_type:
                problems.append("%s: PeriodType %s, want %s" % (name, p.period_type, period_type))
            if p.sample_types != sample_types:
                problems.append("%s: sample types %s, want %s" % (name, p.sample_types, sample_types))
            if p.type == "memory":
                if memory_sample_bytes is not None and p.period != memory_sample_bytes:
                    problems.append("%s: period %s, want --memory-sample-bytes %d"
                                    % (name, p.period, memory_sample_bytes))
            elif p.period != 1:
                problems.append("%s: period %s, want 1" % (name, p.period))
            negative = [s.values for s in p.samples if any(v < 0 for v in s.values)]
            if negative:
                problems.append("%s: %d samples with negative values, e.g. %s"
                                % (name, len(negative), negative[0]))
            if p.type == "offcpu":
                bad = collections.Counter(s.labels.get("state") for s in p.samples
                                          if s.labels.get("state") not in OFFCPU_STATES)
                if bad:
                    problems.append("%s: samples without a state label of %s: %s"
                                    % (name, "/".join(OFFCPU_STATES), dict(bad)))
        if off_cpu_sample is None:
            return problems
        books = (("offcpu", "offcpu_profiled_ns", 0), ("mutex", "mutex_profiled", 0))
        for c in self.counters:
            iv = c.get("interval")
            for type, key, k in books:
                files = self.profiles_of_interval(iv, type)
                if not files and not c.get(key):
                    continue
                if key not in c:
                    problems.append("interval %s: %s profiles but no %s counter"
                                    % (iv, type, key))
                    continue
                decoded = sum(p.total_value(k) for p in files)
                want = c[key] / off_cpu_sample
                # Each entry is scaled and rounded on its own: half a unit each
                # (a sample may hold several entries: a millionth more).
                slack = 1 + 0.5 * sum(len(p.samples) for p in files) + 1e-6 * want
                if abs(decoded - want) > slack:
                    problems.append("interval %s: %s=%d (/ P %g = %.0f) but its %s files hold %d"
                                    % (iv, key, c[key], off_cpu_sample, want, type, decoded))
        return problems

    def _hash_problems(self):
        """A file name carries its labels' hash exactly when its service has
        more than one label set in that interval."""
        problems = []
        by_key = {}
        for p in self.all_profiles:
            by_key.setdefault((p.type, p.service, p.interval), []).append(
                os.path.relpath(p.path, self.outdir))
        for (type, service, interval), names in sorted(by_key.items()):
            hashed = [n for n in names if n in self.hashed_files]
            if hashed and len(hashed) != len(names):
                problems.append("%s profiles of %s in %s: some files hashed, some not: %s"
                                % (type, service, interval, names))
            elif len(names) == 1 and hashed:
                problems.append("%s: the only %s file of %s in %s carries a hash"
                                % (names[0], type, service, interval))
        return problems

    def print_counters(self):
        for c in self.counters:
            log("  counters " + " ".join("%s=%s" % kv for kv in c.items()))

    def collect(self):
        """Once the agent has exited: the counters out of its log, and every
        file of outdir decoded."""
        self.counters = [parse_counters(l) for l in self.agent_log if " counters " in l]
        _collect(self)


def _pump(stream, sink, prefix=None, on_line=None):
    for line in iter(stream.readline, ""):
        line = line.rstrip("\n")
        sink.put(line) if isinstance(sink, queue.Queue) else sink.append(line)
        if prefix is not None:
            print(prefix + line, file=sys.stderr, flush=True)
        if on_line:
            on_line(line)
    if isinstance(sink, queue.Queue):
        sink.put(None)


def _stop(proc, sig=signal.SIGKILL):
    if proc and proc.poll() is None:
        try:
            proc.send_signal(sig)
            proc.wait(10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            pass


def next_event(lines, event, timeout, check=None, label="workload", source="the workload",
               exited=None, echo=False):
    """The next JSON line with this event from a workload's stdout lines (a
    queue fed by _pump; None: it exited). check() runs between lines (it
    fails the test when the agent died); a line that is not JSON is logged
    as "LABEL: LINE", and so is the event's own line if echo. exited() is
    the message when the workload exits first; source names it when the
    timeout passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check is not None:
            check()
        try:
            line = lines.get(timeout=0.5)
        except queue.Empty:
            continue
        if line is None:
            fail(exited() if exited else "the workload exited before printing its %r line" % event)
        try:
            msg = json.loads(line)
        except ValueError:
            log("%s: %s" % (label, line))
            continue
        if msg.get("event") == event:
            if echo:
                log("%s: %s" % (label, line))
            return msg
    fail("no %r line from %s within %d s" % (event, source, timeout))


def bpf_programs(pid):
    """The names of the BPF programs process pid holds open: their ids from
    the kernel's /proc/PID/fdinfo, their names from bpftool (not ours)."""
    ids = set()
    fdinfo = "/proc/%d/fdinfo" % pid
    for fd in os.listdir(fdinfo):
        m = re.search(r"^prog_id:\s*(\d+)$", read_text(os.path.join(fdinfo, fd)) or "", re.M)
        if m:
            ids.add(m.group(1))
    names = set()
    for i in ids:
        out = subprocess.run(["bpftool", "prog", "show", "id", i, "-j"], capture_output=True,
                             text=True)
        if out.returncode == 0:
            names.add(json.loads(out.stdout)["name"])
    return sorted(names)


def agent_command(smolder, outdir, upload_interval, sample_rate):
    """The agent's command line, without --pid or test options."""
    return [smolder, "--duration", "10m", "--upload-interval", upload_interval,
            "--sample-rate", str(sample_rate), "--output-dir", outdir, "--log-level",
            os.environ.get("SMOLDER_IT_LOG_LEVEL", "info")]


def wait_sampling_started(agent, started, pump, agent_log):
    """Waits for started (set by the log pump on `sampling started`); fails
    if the agent exits first or START_TIMEOUT_S passes. agent_log() is the
    log text for the message."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while not started.wait(0.2):
        if agent.poll() is not None:
            pump.join(5)
            fail("the agent exited with status %s before `sampling started`; its log:\n%s"
                 % (agent.returncode, agent_log()))
        if time.monotonic() > deadline:
            fail("no `sampling started` from the agent within %d s; its log:\n%s"
                 % (START_TIMEOUT_S, agent_log()))


def stop_agent(agent, pump, agent_log):
    """SIGINT (the agent writes its partial interval); it must exit 0 within
    STOP_TIMEOUT_S. Returns its exit status."""
    agent.send_signal(signal.SIGINT)
    try:
        rc = agent.wait(STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        fail("the agent did not exit within %d s of SIGINT; its log:\n%s"
             % (STOP_TIMEOUT_S, agent_log()))
    pump.join(5)
    if rc != 0:
        fail("the agent exited with status %d after SIGINT, not 0; its log:\n%s"
             % (rc, agent_log()))
    return rc


def run(smolder, workload_cmd, agent_args=(), sample_rate=97, upload_interval="5s",
        by_pid=True, done_timeout=200, keep_output=False, on_ready=None, agent_preexec=None,
        on_sampling=None):
    """Profiles one run of workload_cmd; returns a Run. By default the agent
    profiles only the workload's pids (--pid for each pid it names).
    on_ready(ready), if given, runs between the workload's ready line and
    the agent's start; agent_preexec runs in the agent's process before its
    exec (memcg.MemCgroup.enter, to run it under a memory limit);
    on_sampling(agent_pid), once the agent samples and before the workload
    goes."""
    r = Run()
    r.outdir = tempfile.mkdtemp(prefix="smolder-it-")
    workload = agent = None
    lines = queue.Queue()
    started = threading.Event()
    ok = False
    try:
        workload = subprocess.Popen(workload_cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    text=True, start_new_session=True)
        threading.Thread(target=_pump, args=(workload.stdout, lines), daemon=True).start()
        r.ready = next_event(lines, "ready", START_TIMEOUT_S)
        log("workload %s: ready %s" % (os.path.basename(workload_cmd[0]), json.dumps(r.ready)))
        if on_ready is not None:
            on_ready(r.ready)

        r.agent_cmd = agent_command(smolder, r.outdir, upload_interval, sample_rate)
        if by_pid:
            for pid in r.ready["pids"]:
                r.agent_cmd += ["--pid", str(pid)]
        r.agent_cmd += list(agent_args)
        log("agent: " + " ".join(r.agent_cmd))
        agent = subprocess.Popen(r.agent_cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT, text=True, preexec_fn=agent_preexec)

        def on_line(line):
            if "sampling started" in line:
                started.set()

        pump = threading.Thread(target=_pump, args=(agent.stdout, r.agent_log, "[smolder] ", on_line),
                                daemon=True)
        pump.start()

        def agent_log():
            return "\n".join(r.agent_log)

        wait_sampling_started(agent, started, pump, agent_log)
        if on_sampling is not None:
            on_sampling(agent.pid)

        def check_agent():
            if agent.poll() is not None:
                fail("the agent exited (status %s) while the workload ran; its log:\n%s"
                     % (agent.returncode, agent_log()))

        workload.stdin.write("go\n")
        workload.stdin.flush()
        r.done = next_event(lines, "done", done_timeout, check=check_agent)
        log("workload %s: done %s" % (os.path.basename(workload_cmd[0]), json.dumps(r.done)))

        r.agent_rc = stop_agent(agent, pump, agent_log)

        workload.stdin.close()
        try:
            rc = workload.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            fail("the workload did not exit after its stdin closed")
        if rc != 0:
            fail("the workload exited with status %d" % rc)

        r.collect()
        ok = True
        return r
    finally:
        _stop(agent)
        if workload is not None and workload.poll() is None:
            try:
                os.killpg(workload.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            workload.wait()
        if ok and not (keep_output or os.environ.get("SMOLDER_IT_KEEP")):
            shutil.rmtree(r.outdir, ignore_errors=True)
        else:
            log("output kept in %s" % r.outdir)


# Several label sets of one service in one interval each get a file, told
# apart by the hash of their labels; a profile other than CPU says its type
# before the extension.
_FILE_RE = re.compile(r"^(\d+)-(\d+)(-[0-9a-f]{8})?(?:\.(offcpu|mutex|memory))?\.pb\.gz$")


def profile_type(name):
    """The type of the profile a file name (<start>-<end>[-<hash>][.<type>].pb.gz)
    holds: "cpu", "offcpu", "mutex" or "memory"; None if the name is not a profile's."""
    m = _FILE_RE.match(name)
    if not m:
        return None
    return m.group(4) or "cpu"


def _collect(r):
    for service in sorted(os.listdir(r.outdir)):
        d = os.path.join(r.outdir, service)
        if not os.path.isdir(d):
            r.stray_files.append(service)
            continue
        for name in sorted(os.listdir(d)):
            m = _FILE_RE.match(name)
            if not m:
                r.stray_files.append(os.path.join(service, name))
                continue
            p = decode(os.path.join(d, name), service, int(m.group(1)), int(m.group(2)),
                       m.group(4) or "cpu")
            r.all_profiles.append(p)
            if p.type == "cpu":
                r.profiles.append(p)
            if m.group(3):
                r.hashed_files.append(os.path.join(service, name))
    by_type = collections.Counter(p.type for p in r.all_profiles)
    log("decoded %d profile(s) (%s) with `go tool pprof -raw -symbolize=none`: %s"
        % (len(r.all_profiles), ", ".join("%s %d" % kv for kv in sorted(by_type.items())),
           ", ".join(sorted({"%s/%s" % (p.service, os.path.basename(p.path))
                             for p in r.all_profiles}))))


# ---------------------------------------------------------------------------
# Reading a Run.

def check_output(r, sample_rate, label=None, off_cpu_sample=None, memory_sample_bytes=None):
    """Prints the counters, then fails the test if the output breaks the
    agent's contract (see Run.contract_problems); label, if given, starts
    the message."""
    r.print_counters()
    problems = r.contract_problems(sample_rate, off_cpu_sample, memory_sample_bytes)
    if problems:
        fail("%sthe output breaks the contract:\n  %s"
             % ("%s: " % label if label else "", "\n  ".join(problems)))


def intervals(r):
    """[(start, end)] of the counters lines, in order."""
    return [tuple(int(x) for x in c["interval"].split("-")) for c in r.counters]


def tiling_problems(r):
    iv = intervals(r)
    return ["interval %d-%d is followed by %d-%d: a gap or an overlap" % (a0, a1, b0, b1)
            for (a0, a1), (b0, b1) in zip(iv, iv[1:]) if a1 != b0]


def count(samples):
    return sum(s.count for s in samples)


def naming(samples, name):
    """How many of the samples have the function name on their stack."""
    return sum(s.count for s in samples if name in s.names)


def services(r):
    return sorted({p.service for p in r.profiles})


def _frame_text(f):
    if f.name:
        return f.name
    if f.mapping is None:
        return "??(%#x, no mapping)" % f.address
    return "??(%#x in %s)" % (f.address, os.path.basename(f.mapping.file) or "?")


def top_stacks(samples, n=5):
    """The n heaviest stacks, leaf first, for a failure message; an unnamed
    user frame shows its address and mapping."""
    agg = {}
    for s in samples:
        key = ";".join(_frame_text(f) if not f.is_kernel else (f.name or "??")
                       for f in s.frames[:8])
        agg[key] = agg.get(key, 0) + s.count
    return ["%d %s" % (c, k) for k, c in sorted(agg.items(), key=lambda kv: -kv[1])[:n]]


# The frames of the tracing itself (a tracepoint's iterator, the BPF
# trampoline and program): none may be atop an off-CPU or mutex stack, which
# starts at __schedule.
TRACING_FRAME_RE = re.compile(r"^(__traceiter_|__bpf_trace_|bpf_trace_run|bpf_prog_|__bpf_prog_)")


def tracing_frames(sample):
    """The tracing frames among a sample's kernel frames."""
    return [f.name for f in sample.kernel_frames if f.name and TRACING_FRAME_RE.match(f.name)]


def sched_switch_links():
    """How many BPF links are attached to the sched_switch tracepoint now
    (`bpftool link show`; None if bpftool cannot say). More than the
    agent's own puts the tracepoint's iterator (__traceiter_sched_switch)
    between __schedule and the programs."""
    p = subprocess.run(["bpftool", "link", "show"], capture_output=True, text=True)
    if p.returncode != 0:
        return None
    return len(re.findall(r"tp '?sched_switch'?", p.stdout))


def kernel_leaves(samples, k=0):
    """{leaf kernel frame: sum of the samples' k-th value}, for a log line."""
    out = collections.Counter()
    for s in samples:
        kf = s.kernel_frames
        out[kf[0].name if kf else "(no kernel frames)"] += s.values[k]
    return out


def expected_samples(cpu_ns, sample_rate):
    """Samples that CPU time should bring at sample_rate Hz per CPU."""
    return cpu_ns / 1e9 * sample_rate
