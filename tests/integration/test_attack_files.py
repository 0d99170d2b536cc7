"""Integration (issue 12): a hostile file cannot make the agent grow past its
memory limit, and is refused and counted.

    test_attack_files.py ATTACK SMOLDER SMOLDER_IT_CACHE_BURN ATTACK_SPIN ATTACK_MOD

The test makes a hostile copy of smolder_it_attack_spin (or of its module)
and runs it, spinning, beside cache_burn; the agent profiles both (--pid)
inside a fresh 512 MiB memory cgroup (the DaemonSet's limit). ATTACK:
  symtab      the executable (16 KB) with its .symtab header claiming
              1.6 GB, the file extended to hold it sparse;
  compressed  a library whose .debug_info is SHF_COMPRESSED and expands to
              2 GiB (a 2 MB zlib stream of zeros);
  debuglink   the executable stripped of DWARF, its .gnu_debuglink naming a
              6 GB sparse file beside it;
  device      the executable stripped of DWARF, a FIFO and a character
              device planted where its debug file would be (beside it, in
              .debug/, at its build-id path in a --debug-dir): none may be
              opened (inotify's IN_OPEN; reaching one with O_PATH opens
              nothing);
  truncate    a copy of the module (-g), dlopen()ed and spun in; after 4 s
              (the agent has read it, libdw has it mapped) the process cuts
              the file where its DWARF's page begins and spins in a
              function not named yet: naming it reads DWARF past the file's
              end (SIGBUS in libdw). The parser worker dies of it, not the
              agent.
Checked:
  - the agent keeps the output contract and exits 0 after SIGINT;
  - cache_hot is named in >= 90% of cache_burn's samples of the intervals
    after the first (the agent kept profiling, and naming, beside it);
  - the cgroup counted no OOM kill and its peak stayed under 90% of the
    limit;
  - the refusal is counted (symbol_refused_<kind> > 0 summed over the
    intervals); for truncate, the worker's death on the file and the
    file's quarantine are (worker_deaths, symbol_quarantined).
"""

import collections
import ctypes
import os
import queue
import shutil
import signal
import stat
import struct
import subprocess
import sys
import tempfile
import threading
import zlib

import elf_tools as et
import smolder_harness as h
from memcg import MemCgroup

RATE = 97
SECONDS = 16
LIMIT = 512 << 20
SYMTAB_CLAIM = 1600 << 20
BOMB_SIZE = 2 << 30
DEBUG_FILE_SIZE = 6 << 30


def hostile_symtab(spin, mod, tmp):
    path = os.path.join(tmp, "smolder_it_attack_symtab")
    shutil.copy(spin, path)
    _, symtab = et.section_headers(path)[".symtab"]
    et.patch_section(path, ".symtab", size=SYMTAB_CLAIM)
    os.truncate(path, symtab["offset"] + SYMTAB_CLAIM + 4096)
    return [path], "symbol_refused_section"


def zlib_zeros(size):
    """A zlib stream of size zero bytes (about size / 1000 bytes long)."""
    z = zlib.compressobj(9)
    chunk = bytes(64 << 20)
    out = [z.compress(chunk) for _ in range(size // len(chunk))]
    out.append(z.flush())
    return b"".join(out)


def hostile_compressed(spin, mod, tmp):
    path = os.path.join(tmp, "libattack_bomb.so")
    shutil.copy(mod, path)
    _, info = et.section_headers(path)[".debug_info"]
    chdr = (1).to_bytes(4, "little") + bytes(4) + BOMB_SIZE.to_bytes(8, "little") + \
        (1).to_bytes(8, "little")
    stream = zlib_zeros(BOMB_SIZE)
    with open(path, "ab") as f:
        f.write(bytes(-f.tell() % 8))
        offset = f.tell()
        f.write(chdr + stream)
    et.patch_section(path, ".debug_info", offset=offset, size=len(chdr) + len(stream),
                     flags=info["flags"] | et.SHF_COMPRESSED, addralign=8)
    h.log("%s: %d bytes, .debug_info expands to %d" % (path, os.path.getsize(path), BOMB_SIZE))
    return [spin, path], "symbol_refused_compressed"


def hostile_debuglink(spin, mod, tmp):
    path = os.path.join(tmp, "smolder_it_attack_link")
    debug = os.path.join(tmp, "smolder_it_attack_link.debug")
    with open(debug, "wb") as f:
        f.write(b"not yet")
    subprocess.run(["objcopy", "--strip-debug", "--add-gnu-debuglink=" + debug, spin, path],
                   check=True)
    os.truncate(debug, 0)
    os.truncate(debug, DEBUG_FILE_SIZE)
    return [path], "symbol_refused_debuglink"


def dwarf_page(path):
    """The start of the page where the file's DWARF begins: cut there, the
    DWARF is on pages past the end (a read of them is SIGBUS), while
    what the process runs, and has written, stays."""
    offsets = [hdr["offset"] for name, (_, hdr) in et.section_headers(path).items()
               if name.startswith(".debug_")]
    return min(offsets) & ~4095


CUT_AFTER_S = 4


def hostile_truncate(spin, mod, tmp):
    path = os.path.join(tmp, "libattack_cut.so")
    shutil.copy(mod, path)
    length = dwarf_page(path)
    h.log("%s: %d bytes, cut to %d after %d s" % (path, os.path.getsize(path), length,
                                                  CUT_AFTER_S))
    return [spin, path, str(CUT_AFTER_S), str(length)], ("worker_deaths", "symbol_quarantined")


class Watch:
    """inotify on paths: whether any was opened (IN_OPEN). O_PATH, which
    opens nothing, is not seen."""
    IN_OPEN = 0x20

    def __init__(self, paths):
        self.libc = ctypes.CDLL(None, use_errno=True)
        self.fd = self.libc.inotify_init1(os.O_NONBLOCK)
        if self.fd < 0:
            h.fail("inotify_init1: %s" % os.strerror(ctypes.get_errno()))
        self.paths = {}
        for p in paths:
            wd = self.libc.inotify_add_watch(self.fd, p.encode(), self.IN_OPEN)
            if wd < 0:
                h.fail("inotify_add_watch %s: %s" % (p, os.strerror(ctypes.get_errno())))
            self.paths[wd] = p

    def opened(self):
        try:
            data = os.read(self.fd, 1 << 16)
        except BlockingIOError:
            return []
        out, off = [], 0
        while off + 16 <= len(data):
            wd, mask, _, length = struct.unpack_from("iIII", data, off)
            if mask & self.IN_OPEN:
                out.append(self.paths.get(wd, "?"))
            off += 16 + length
        return out


def hostile_device(spin, mod, tmp):
    """The executable stripped of DWARF, with a .gnu_debuglink: where its
    debug file would be, a FIFO and a character device (the null device's
    numbers), and one at its build-id path in a --debug-dir."""
    path = os.path.join(tmp, "smolder_it_attack_dev")
    link = os.path.join(tmp, "smolder_it_attack_dev.debug")
    dbg_dir = os.path.join(tmp, "debug")
    # A debuglink's CRC is of the file named: not an empty one, whose CRC 0
    # libdwfl uses for a dwz file's link instead.
    with open(link, "wb") as f:
        f.write(b"to be replaced")
    subprocess.run(["objcopy", "--strip-debug", "--add-gnu-debuglink=" + link, spin, path],
                   check=True)
    os.unlink(link)
    build_id = et.build_id(path)
    planted = [link, os.path.join(tmp, ".debug", os.path.basename(link)),
               os.path.join(dbg_dir, ".build-id", build_id[:2], build_id[2:] + ".debug")]
    for p in planted[1:]:
        os.makedirs(os.path.dirname(p), exist_ok=True)
    os.mkfifo(planted[0])
    for p in planted[1:]:
        os.mknod(p, 0o600 | stat.S_IFCHR, os.makedev(1, 3))
    watch = Watch(planted)

    def check(r):
        opened = watch.opened()
        return ["%s was opened" % p for p in sorted(set(opened))]
    return Attack([path], (), ["--debug-dir", dbg_dir], check)


Attack = collections.namedtuple("Attack", "cmd counters agent_args check")


def attack_of(fn, spin, mod, tmp):
    """Every attack as an Attack: the simple ones say (cmd, counter(s))."""
    got = fn(spin, mod, tmp)
    if isinstance(got, Attack):
        return got
    cmd, counters = got
    return Attack(cmd, counters if isinstance(counters, tuple) else (counters,), [], None)


ATTACKS = {"symtab": hostile_symtab, "compressed": hostile_compressed,
           "debuglink": hostile_debuglink, "truncate": hostile_truncate,
           "device": hostile_device}


def start_hostile(cmd):
    """The hostile process, once it has said it is ready; its pid."""
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True,
                            start_new_session=True)
    lines = queue.Queue()
    threading.Thread(target=h._pump, args=(proc.stdout, lines), daemon=True).start()
    ready = h.next_event(lines, "ready", h.START_TIMEOUT_S, label="hostile",
                         source="the hostile process")
    return proc, ready["pids"][0]


def later_naming(r, service, name):
    """(samples naming name, samples) of service in the intervals after the
    first."""
    later = [p for p in r.profiles if p.service == service and p.interval != r.counters[0]["interval"]]
    samples = [s for p in later for s in p.samples]
    return h.naming(samples, name), h.count(samples)


def test(attack, smolder, cache_burn, spin, mod):
    et.no_debuginfod_env()
    tmp = tempfile.mkdtemp(prefix="smolder-attack-")
    hostile = None
    try:
        a = attack_of(ATTACKS[attack], spin, mod, tmp)
        cmd, counters = a.cmd, a.counters
        hostile, pid = start_hostile(cmd)
        h.log("hostile %s: pid %d" % (" ".join(cmd), pid))
        with MemCgroup(LIMIT) as cg:
            r = h.run(smolder, [cache_burn, "1", str(SECONDS)], sample_rate=RATE,
                      upload_interval="4s", agent_args=["--pid", str(pid)] + a.agent_args,
                      agent_preexec=cg.enter)
            peak, ooms = cg.peak_bytes(), cg.oom_kills()
        h.check_output(r, RATE, attack)
        named, total = later_naming(r, os.path.basename(cache_burn), "cache_hot")
        counted = {c: r.total(c) for c in counters}
        h.log("%s: agent cgroup peak %d MiB (limit %d), %d OOM kills; %s; "
              "cache_hot named in %d of %d later samples"
              % (attack, peak >> 20, LIMIT >> 20, ooms,
                 " ".join("%s=%d" % kv for kv in counted.items()), named, total))
        failures = []
        if ooms:
            failures.append("%d OOM kills in the agent's cgroup" % ooms)
        if peak >= 0.9 * LIMIT:
            failures.append("the agent's cgroup peaked at %d MiB of %d" % (peak >> 20, LIMIT >> 20))
        for counter, n in counted.items():
            if n < 1:
                failures.append("%s is %d: the hostile file was not refused, or not counted"
                                % (counter, n))
        if total < 100 or named < 0.9 * total:
            failures.append("cache_hot named in %d of %d samples after the first interval"
                            % (named, total))
        if a.check:
            failures += a.check(r)
        if failures:
            h.fail("\n  ".join(failures))
    finally:
        if hostile is not None:
            os.killpg(hostile.pid, signal.SIGKILL)
            hostile.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    if len(sys.argv) != 6 or sys.argv[1] not in ATTACKS:
        sys.exit("usage: %s {%s} SMOLDER CACHE_BURN ATTACK_SPIN ATTACK_MOD"
                 % (sys.argv[0], ",".join(ATTACKS)))
    h.run_test(lambda *paths: test(sys.argv[1], *paths), sys.argv[2:])
