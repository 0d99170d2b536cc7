"""A CPython workload of known shape, for the Python profiling tests.

Usage: python_workload.py SECONDS OUT_JSON

Runs for SECONDS of wall-clock time, writes OUT_JSON and exits 0. Standard
library only; runs unchanged on CPython 3.8 to 3.13. With
PY_WORKLOAD_START_FILE set, it first burns 0.3 s of CPU and waits for that
file to exist (warm_up), and runs for SECONDS from then.

What a test can rely on:
  * From the start, a second thread runs thread_worker(), which calls
    thread_inner() in a pure-Python loop until the end.
  * The main thread runs these phases round-robin, each for a fixed budget
    of its own CPU time (20-40 ms; about twice as long for busy_alpha as for
    busy_beta), all CPU-bound:
      busy_alpha          pure-Python arithmetic; its hottest line is the
                          only line of this file that ends with the marker
                          comment (its number is "hot_line" in the JSON)
      busy_beta           pure-Python arithmetic
      Walker.step         a method, pure Python
      recurse_leaf        recurse(n) calls itself to exactly 30 recurse
                          frames, the innermost calls recurse_leaf(), which
                          spins in pure Python
      consume_generator   drains the generator numbers(), whose body does
                          the work
      hash_caller         hashlib.sha256(1 MiB).digest() in a loop (C code
                          that releases the GIL)
      sort_caller         sorted(data, key=sort_key): C calling back into
                          the pure-Python sort_key() for every element
      exec_churn          only with PY_WORKLOAD_CHURN=1 in the environment:
                          compiles and execs fresh source defining
                          churn_f_<i> (i cycling 0..9), calls it and drops
                          it, so code objects are freed and their memory
                          reused
  * OUT_JSON, the script's own measurements with time.thread_time():
      {"version": "3.X.Y", "pid": N,
       "main": {phase name as above: CPU seconds, ...},
       "thread": CPU seconds of the worker thread,
       "hot_line": N, "recursion_depth": 30, "wall": seconds}
"""

import hashlib
import json
import os
import platform
import random
import sys
import threading
import time

RECURSION_DEPTH = 30
HASH_BUFFER = bytes(range(256)) * 4096  # 1 MiB
SORT_DATA = [random.Random(7).randrange(1 << 30) for _ in range(1000)]

# Main-thread CPU budget of each phase per round, in seconds.
BUDGETS = {
    "busy_alpha": 0.040,
    "busy_beta": 0.020,
    "Walker.step": 0.025,
    "recurse_leaf": 0.025,
    "consume_generator": 0.025,
    "hash_caller": 0.025,
    "sort_caller": 0.025,
    "exec_churn": 0.025,
}

# A phase spins until the main thread's CPU clock reaches _phase_end or the
# wall clock (perf_counter) reaches _stop, checking between chunks of work.
_phase_end = 0.0
_stop = 0.0
_worker_done = False


def busy_alpha():
    acc = 1
    while time.thread_time() < _phase_end and time.perf_counter() < _stop:
        for i in range(4000):
            acc = (acc * 31 + (i ^ (acc >> 3)) + i * i) % 1000003  # HOT-LINE
    return acc


def busy_beta():
    acc = 0
    while time.thread_time() < _phase_end and time.perf_counter() < _stop:
        for i in range(4000):
            acc = (acc + i * 7 - (acc >> 2)) & 0xFFFFFF
    return acc


class Walker:
    def __init__(self):
        self.x = 1
        self.y = 2
        self.steps = 0

    def step(self):
        while time.thread_time() < _phase_end and time.perf_counter() < _stop:
            for _ in range(2000):
                self.x = (self.x * 5 + self.y + 1) % 1009
                self.y = (self.y + self.x) % 1013
            self.steps += 2000


def recurse_leaf():
    acc = 0
    while time.thread_time() < _phase_end and time.perf_counter() < _stop:
        for i in range(4000):
            acc = (acc ^ (i * 2654435761)) & 0xFFFFFFFF
    return acc


def recurse(n):
    if n < RECURSION_DEPTH:
        return recurse(n + 1)
    return recurse_leaf()


def numbers():
    v = 0
    while time.thread_time() < _phase_end and time.perf_counter() < _stop:
        for i in range(500):
            v = (v * 7 + i) % 65521
        yield v


def consume_generator():
    total = 0
    for v in numbers():
        total += v
    return total


def hash_caller():
    digest = b""
    while time.thread_time() < _phase_end and time.perf_counter() < _stop:
        digest = hashlib.sha256(HASH_BUFFER).digest()
    return digest


def sort_key(x):
    v = x
    for _ in range(12):
        v = (v * 1103515245 + 12345) & 0x7FFFFFFF
    return v


def sort_caller():
    first = None
    while time.thread_time() < _phase_end and time.perf_counter() < _stop:
        first = sorted(SORT_DATA, key=sort_key)[0]
    return first


CHURN_SOURCE = """
def churn_f_%d(k):
    s = %d
    for j in range(k):
        s = (s + j * %d) %% 7919
    return s
"""


def exec_churn():
    n = 0
    while time.thread_time() < _phase_end and time.perf_counter() < _stop:
        i = n % 10
        ns = {}
        exec(compile(CHURN_SOURCE % (i, n, n % 97 + 1), "<churn>", "exec"), ns)
        ns["churn_f_%d" % i](1000)
        # The function and its globals refer to each other: break the cycle
        # so the code object is freed now, not at the next collection.
        ns.clear()
        n += 1


def thread_inner():
    s = 0
    for i in range(2000):
        s = (s + i * i) % 7
    return s


def thread_worker(result):
    t0 = time.thread_time()
    while not _worker_done:
        thread_inner()
    result.append(time.thread_time() - t0)


def hot_line():
    """The number of the one line ending with the marker comment."""
    marker = "# HOT" + "-LINE"  # split so that this line does not carry it
    with open(os.path.abspath(__file__)) as f:
        hits = [n for n, line in enumerate(f, 1) if line.rstrip().endswith(marker)]
    if len(hits) != 1:
        raise SystemExit("expected one marker line, found %r" % hits)
    return hits[0]


def warm_up():
    """Burns a moment of CPU, so that a profiler samples (and so learns
    of) this process, then waits without burning for the file named by
    $PY_WORKLOAD_START_FILE to exist: a test starts the measured run once
    the profiler knows every interpreter it started."""
    start_file = os.environ.get("PY_WORKLOAD_START_FILE")
    if not start_file:
        return
    t0 = time.thread_time()
    while time.thread_time() - t0 < 0.3:
        thread_inner()
    while not os.path.exists(start_file):
        time.sleep(0.05)


def main(argv):
    global _phase_end, _stop, _worker_done
    if len(argv) != 3:
        sys.stderr.write("usage: %s SECONDS OUT_JSON\n" % argv[0])
        return 2
    seconds = float(argv[1])
    out = argv[2]
    line = hot_line()

    walker = Walker()
    phases = [  # (name in the JSON, function, arguments)
        ("busy_alpha", busy_alpha, ()),
        ("busy_beta", busy_beta, ()),
        ("Walker.step", walker.step, ()),
        ("recurse_leaf", recurse, (1,)),
        ("consume_generator", consume_generator, ()),
        ("hash_caller", hash_caller, ()),
        ("sort_caller", sort_caller, ()),
    ]
    if os.environ.get("PY_WORKLOAD_CHURN") == "1":
        phases.append(("exec_churn", exec_churn, ()))
    spent = dict((name, 0.0) for name, _, _ in phases)

    warm_up()
    start = time.perf_counter()
    _stop = start + seconds
    worker_result = []
    worker = threading.Thread(target=thread_worker, args=(worker_result,), name="worker")
    worker.start()

    while time.perf_counter() < _stop:
        for name, fn, args in phases:
            t0 = time.thread_time()
            _phase_end = t0 + BUDGETS[name]
            fn(*args)
            spent[name] += time.thread_time() - t0
            if time.perf_counter() >= _stop:
                break

    _worker_done = True
    worker.join()
    wall = time.perf_counter() - start

    result = {
        "version": platform.python_version(),
        "pid": os.getpid(),
        "main": dict((k, round(v, 6)) for k, v in spent.items()),
        "thread": round(worker_result[0], 6),
        "hot_line": line,
        "recursion_depth": RECURSION_DEPTH,
        "wall": round(wall, 6),
    }
    tmp = out + ".tmp"
    with open(tmp, "w") as f:
        json.dump(result, f, indent=1, sort_keys=True)
        f.write("\n")
    os.replace(tmp, out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
