"""A fresh memory cgroup with a byte limit, for tests that run the agent (or
an attacker) under the memory limit a DaemonSet would give it.

    with MemCgroup(512 << 20) as cg:
        proc = subprocess.Popen(cmd, preexec_fn=cg.enter)
        ...
        cg.peak_bytes(), cg.oom_kills()

The memory controller is on cgroup v1 on some machines (these: v2 is
mounted without it) and on v2 on others; both are handled. On v1 the
cgroup is made inside the caller's own memory cgroup, so a limit the test
runs under still applies; on v2 under the root of the hierarchy, the only
place the memory controller can be enabled without moving the caller.
There is no swap on the test machines; where there is, a process over the
limit would be swapped out rather than killed, so the cgroup gets no swap
(memory.swap.max = 0 on v2, memory.memsw.limit_in_bytes = the limit on v1).

On leaving, every process still in the cgroup is killed (SIGKILL) and the
cgroup removed.

Only the standard library of Debian's /usr/bin/python3 is used.
"""

import errno
import os
import signal
import time

V1_ROOT = "/sys/fs/cgroup/memory"
_counter = 0


def _read(path):
    with open(path) as f:
        return f.read()


def _write(path, text):
    with open(path, "w") as f:
        f.write(text)


def _keyed(path):
    """{"key": int} of a file of "key value" lines (memory.events,
    memory.oom_control)."""
    out = {}
    for line in _read(path).splitlines():
        k, _, v = line.partition(" ")
        if v.strip().lstrip("-").isdigit():
            out[k] = int(v)
    return out


def _v2_root():
    """The mount point of a cgroup v2 hierarchy whose root offers the memory
    controller, or None."""
    for line in _read("/proc/self/mounts").splitlines():
        fields = line.split()
        if len(fields) > 2 and fields[2] == "cgroup2":
            controllers = os.path.join(fields[1], "cgroup.controllers")
            if os.path.exists(controllers) and "memory" in _read(controllers).split():
                return fields[1]
    return None


def _v1_own_cgroup():
    """The directory of this process's v1 memory cgroup, or None."""
    if not os.path.exists(os.path.join(V1_ROOT, "memory.limit_in_bytes")):
        return None
    for line in _read("/proc/self/cgroup").splitlines():
        _, controllers, path = line.split(":", 2)
        if "memory" in controllers.split(","):
            d = os.path.join(V1_ROOT, path.lstrip("/"))
            return d if os.path.isdir(d) else V1_ROOT
    return V1_ROOT


class MemCgroup:
    """A memory cgroup of its own, limited to limit_bytes."""

    def __init__(self, limit_bytes, name=None):
        global _counter
        _counter += 1
        self.limit_bytes = int(limit_bytes)
        self.name = name or "smolder-test-%d-%d" % (os.getpid(), _counter)
        self.path = None
        self.version = None

    def __enter__(self):
        parent = _v1_own_cgroup()
        if parent is not None:
            self.version = 1
        else:
            parent = _v2_root()
            if parent is None:
                raise RuntimeError("no memory cgroup controller (neither v1 at %s nor a v2 "
                                   "hierarchy with memory in cgroup.controllers)" % V1_ROOT)
            self.version = 2
            subtree = os.path.join(parent, "cgroup.subtree_control")
            if "memory" not in _read(subtree).split():
                _write(subtree, "+memory")
        self.path = os.path.join(parent, self.name)
        os.mkdir(self.path)
        try:
            if self.version == 1:
                _write(self._file("memory.limit_in_bytes"), str(self.limit_bytes))
                self._try_write("memory.memsw.limit_in_bytes", str(self.limit_bytes))
            else:
                _write(self._file("memory.max"), str(self.limit_bytes))
                self._try_write("memory.swap.max", "0")
        except BaseException:
            os.rmdir(self.path)
            raise
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def _file(self, name):
        return os.path.join(self.path, name)

    def _try_write(self, name, text):
        try:
            _write(self._file(name), text)
        except OSError:
            pass  # no swap accounting: there is nothing to turn off

    def enter(self):
        """Moves the calling process into the cgroup: Popen's preexec_fn, so
        the child is charged from its first allocation."""
        self.add(os.getpid())

    def add(self, pid):
        _write(self._file("cgroup.procs"), str(pid))

    def pids(self):
        return [int(p) for p in _read(self._file("cgroup.procs")).split()]

    def usage_bytes(self):
        name = "memory.usage_in_bytes" if self.version == 1 else "memory.current"
        return int(_read(self._file(name)))

    def peak_bytes(self):
        """The most the cgroup has been charged since it was made (page
        cache included, as the kernel's limit counts it)."""
        name = "memory.max_usage_in_bytes" if self.version == 1 else "memory.peak"
        return int(_read(self._file(name)))

    def oom_kills(self):
        """Processes of the cgroup killed by the OOM killer."""
        name = "memory.oom_control" if self.version == 1 else "memory.events"
        return _keyed(self._file(name)).get("oom_kill", 0)

    def limit_hits(self):
        """Times a charge hit the limit (reclaim or OOM followed). On v1 the
        memory+swap counter, limited too, may be the one that fails. Linux
        6.18's v1 counts nothing in either (0 after an OOM kill): a figure
        to log, not to assert on; oom_kills() is the count to trust."""
        if self.version == 1:
            return sum(int(_read(self._file(name))) for name in
                       ("memory.failcnt", "memory.memsw.failcnt")
                       if os.path.exists(self._file(name)))
        return _keyed(self._file("memory.events")).get("max", 0)

    def close(self):
        """Kills what is left inside, then removes the cgroup."""
        if self.path is None:
            return
        deadline = time.monotonic() + 10
        while True:
            try:
                left = self.pids()
            except FileNotFoundError:
                break
            if not left:
                try:
                    os.rmdir(self.path)
                    break
                except OSError as e:
                    if e.errno != errno.EBUSY or time.monotonic() > deadline:
                        raise
            for pid in left:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            if time.monotonic() > deadline:
                raise RuntimeError("cgroup %s still holds %s after SIGKILL" % (self.path, left))
            time.sleep(0.05)
        self.path = None
