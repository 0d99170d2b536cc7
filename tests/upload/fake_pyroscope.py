"""A stand-in for Pyroscope's ingestion endpoints, for the upload tests.

The agent's uploader is tested against this server rather than a real
Pyroscope: it validates what arrives the way Pyroscope does (so a malformed
push fails the test instead of being taken quietly), records every request to
DIR/requests.jsonl for the test to read back, and misbehaves on command
(503, 429, 400, hanging, dropping the connection after taking the profile) so
that retries, backoff and deduplication can be exercised.

Run as a server:
    /usr/bin/python3 fake_pyroscope.py --port 0 --port-file FILE --record-dir DIR
        [--protocol-log] [--require-basic USER:PASSWORD | --require-bearer TOKEN]
        [--proto-dir agent/upload/proto] [--pprof-proto pprof/profile.proto]

or from a Python test through FakePyroscope (start, stop, restart, set_mode,
received). POST /control {"mode": "ok|503|429|400|hang|close", "count": N,
"hang_seconds": S} sets how the next N ingestion requests are answered;
GET /control shows it, GET /received returns the records. Each profile
received is one line of DIR/requests.jsonl (seq, request, index, time, api,
status, mode, accepted, duplicate, error, headers, labels, id, profile,
time_nanos, duration_nanos, period, sample_types, sample_count, value_sum,
pid), its pprof saved gzipped as DIR/profiles/<seq>.pb.gz. Only the standard library and Debian's python3-protobuf are used;
the protobuf modules are generated with protoc from the project's .proto files
when the server starts, so the schema the agent is built from is the one
checked here.
"""

import argparse
import atexit
import base64
import email.parser
import email.policy
import gzip
import importlib.util
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import types
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_PROTO_DIR = os.path.normpath(os.path.join(HERE, "..", "..", "agent", "upload", "proto"))
DEFAULT_PPROF_PROTO = os.path.normpath(os.path.join(HERE, "..", "..", "pprof", "profile.proto"))
PYTHON = "/usr/bin/python3"

PUSH_PATH = "/push.v1.PusherService/Push"
MODES = ("ok", "503", "429", "400", "hang", "close")
MAX_BODY = 64 << 20
MAX_LABELS = 30
MAX_NAME_LEN = 1024
MAX_VALUE_LEN = 2048
LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
METRIC_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
INGEST_KEY = re.compile(r"^[a-zA-Z0-9_.]+$")
RECORDED_HEADERS = ("authorization", "user-agent", "content-type",
                    "content-encoding", "connect-protocol-version")

_protos = None


def load_protos(proto_dir=DEFAULT_PROTO_DIR, pprof_proto=DEFAULT_PPROF_PROTO):
    """Generate and import push_pb2, types_pb2 and profile_pb2 (once a process)."""
    global _protos
    if _protos is not None:
        return _protos
    try:
        import google.protobuf  # noqa: F401
    except ImportError:
        sys.exit("fake_pyroscope: no google.protobuf: apt-get install python3-protobuf")
    if not shutil.which("protoc"):
        sys.exit("fake_pyroscope: no protoc: apt-get install protobuf-compiler")
    out = tempfile.mkdtemp(prefix="fake-pyroscope-pb-")
    atexit.register(shutil.rmtree, out, True)
    subprocess.run(["protoc", "--python_out=" + out, "-I", proto_dir,
                    "types.proto", "push.proto"], check=True)
    subprocess.run(["protoc", "--python_out=" + out, "-I", os.path.dirname(pprof_proto),
                    os.path.basename(pprof_proto)], check=True)

    def load(name, path):
        spec = importlib.util.spec_from_file_location(name, os.path.join(out, path))
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod  # push_pb2 imports types_pb2 by this name
        spec.loader.exec_module(mod)
        return mod

    types_pb2 = load("types_pb2", "types_pb2.py")
    push_pb2 = load("push_pb2", "push_pb2.py")
    stem = os.path.splitext(os.path.basename(pprof_proto))[0]
    profile_pb2 = load(stem + "_pb2", stem + "_pb2.py")
    _protos = types.SimpleNamespace(push_pb2=push_pb2, types_pb2=types_pb2,
                                    profile_pb2=profile_pb2, out_dir=out)
    return _protos


class Refused(Exception):
    """A request the server answers with an error: HTTP status, Connect code, message."""

    def __init__(self, status, code, message):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.items = None  # what was read of the request before it broke a rule


def invalid(message):
    return Refused(400, "invalid_argument", message)


def utf8(s, what):
    """The protobuf parser already insists on UTF-8; this catches a str that
    carries undecodable bytes as surrogates, should another implementation do so."""
    try:
        s.encode("utf-8")
    except UnicodeError:
        raise invalid(f"{what}: not valid UTF-8")
    return s


# ---- pprof ----

def decode_profile(blob, pb):
    """Parse raw_profile (gzipped or not) into a Profile; Refused if it is not one."""
    if not blob:
        raise invalid("empty profile")
    raw = blob
    if blob[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(blob)
        except (OSError, EOFError) as e:
            raise invalid(f"profile: bad gzip: {e}")
    prof = pb.profile_pb2.Profile()
    try:
        prof.ParseFromString(raw)
    except Exception as e:  # DecodeError, or UnicodeError from a string field
        raise invalid(f"profile: not a pprof Profile (bad wire format or non-UTF-8 string): {e}")
    return prof


def profile_stats(prof):
    strings = list(prof.string_table)

    def s(i):
        return strings[i] if 0 <= i < len(strings) else None
    sums = [0] * len(prof.sample_type)
    for smp in prof.sample:
        for i, v in enumerate(smp.value[:len(sums)]):
            sums[i] += v
    return {"time_nanos": prof.time_nanos, "duration_nanos": prof.duration_nanos,
            "period": prof.period,
            "sample_types": [[s(t.type), s(t.unit)] for t in prof.sample_type],
            "sample_count": len(prof.sample), "value_sum": sums}


def check_profile(prof):
    """The checks Pyroscope's pprof reader and validation make before storing."""
    strings = list(prof.string_table)
    if not strings or strings[0] != "":
        raise invalid('profile: string_table[0] must be ""')
    for i, st in enumerate(strings):
        utf8(st, f"profile: string_table[{i}]")

    def idx(i, what):
        if not 0 <= i < len(strings):
            raise invalid(f"profile: {what}: string index {i} out of range")
        return strings[i]

    if not prof.sample_type:
        raise invalid("profile: no sample_type")
    for st in prof.sample_type:
        name = idx(st.type, "sample_type.type")
        idx(st.unit, "sample_type.unit")
        if "-" in name:
            raise invalid(f"profile: sample type {name!r} contains '-'")
    idx(prof.period_type.type, "period_type.type")
    idx(prof.period_type.unit, "period_type.unit")
    for what, i in (("drop_frames", prof.drop_frames), ("keep_frames", prof.keep_frames),
                    ("default_sample_type", prof.default_sample_type)):
        idx(i, what)
    for c in prof.comment:
        idx(c, "comment")

    mappings, functions, locations = set(), set(), set()
    for m in prof.mapping:
        if m.id == 0:
            raise invalid("profile: mapping id 0")
        if m.id in mappings:
            raise invalid(f"profile: mapping id {m.id} twice")
        mappings.add(m.id)
        idx(m.filename, "mapping.filename")
        idx(m.build_id, "mapping.build_id")
    for f in prof.function:
        if f.id == 0:
            raise invalid("profile: function id 0")
        if f.id in functions:
            raise invalid(f"profile: function id {f.id} twice")
        functions.add(f.id)
        for what in ("name", "system_name", "filename"):
            idx(getattr(f, what), "function." + what)
    for loc in prof.location:
        if loc.id == 0:
            raise invalid("profile: location id 0")
        if loc.id in locations:
            raise invalid(f"profile: location id {loc.id} twice")
        locations.add(loc.id)
        if loc.mapping_id and loc.mapping_id not in mappings:
            raise invalid(f"profile: location {loc.id}: unknown mapping id {loc.mapping_id}")
        for ln in loc.line:
            if ln.function_id not in functions:
                raise invalid(f"profile: location {loc.id}: unknown function id {ln.function_id}")
    for n, smp in enumerate(prof.sample):
        if len(smp.value) != len(prof.sample_type):
            raise invalid(f"profile: sample {n}: {len(smp.value)} values, "
                          f"{len(prof.sample_type)} sample types")
        for lid in smp.location_id:
            if lid not in locations:
                raise invalid(f"profile: sample {n}: unknown location id {lid}")
        for lb in smp.label:
            idx(lb.key, "label.key")
            idx(lb.str, "label.str")
            idx(lb.num_unit, "label.num_unit")


# ---- labels ----

def check_labels(pairs, where):
    """Pyroscope's series label rules (Prometheus' legacy name syntax)."""
    if not pairs:
        raise invalid(f"{where}: no labels")
    if len(pairs) > MAX_LABELS:
        raise invalid(f"{where}: {len(pairs)} labels, at most {MAX_LABELS}")
    prev = None
    for name, value in pairs:
        name, value = utf8(name, f"{where}: label name"), utf8(value, f"{where}: label value")
        if len(name) > MAX_NAME_LEN:
            raise invalid(f"{where}: label name too long: {name[:64]!r}...")
        if len(value) > MAX_VALUE_LEN:
            raise invalid(f"{where}: label {name!r}: value too long")
        if not LABEL_NAME.match(name):
            raise invalid(f"{where}: invalid label name {name!r}")
        if prev is not None and name == prev:
            raise invalid(f"{where}: duplicate label name {name!r}")
        if prev is not None and name < prev:
            raise invalid(f"{where}: labels not sorted: {name!r} after {prev!r}")
        prev = name
    d = dict(pairs)
    if "__name__" not in d:
        raise invalid(f"{where}: no __name__ label")
    if not METRIC_NAME.match(d["__name__"]):
        raise invalid(f"{where}: invalid metric name {d['__name__']!r}")
    if not d.get("service_name"):
        raise invalid(f"{where}: service_name is not provided")


def parse_ingest_name(name):
    """`app{k=v,k2=v2}` -> {"service_name": app, k: v, ...}."""
    app, brace, rest = name.partition("{")
    app = app.strip()
    if not app:
        raise invalid(f"name {name!r}: no application name")
    labels = {"service_name": app}
    if not brace:
        return labels
    if not rest.endswith("}"):
        raise invalid(f"name {name!r}: '{{' without closing '}}'")
    body = rest[:-1]
    for pair in body.split(",") if body.strip() else []:
        key, eq, value = pair.partition("=")
        key, value = key.strip(), value.strip()
        if not eq or not INGEST_KEY.match(key):
            raise invalid(f"name {name!r}: invalid key in {pair!r}")
        if any(c in value for c in ",}="):
            raise invalid(f"name {name!r}: invalid value in {pair!r}")
        labels[key] = value
    return labels


# ---- state shared by the request threads ----

class State:
    def __init__(self, record_dir):
        self.lock = threading.Condition()
        self.mode, self.remaining, self.hang_seconds = "ok", None, 60.0
        self.generation = 0  # bumped by every POST /control, to end a hang
        self.stopping = False
        self.counters = {"requests": 0, "accepted": 0, "duplicates": 0, "refused": 0}
        self.record_dir = record_dir
        self.profiles = os.path.join(record_dir, "profiles")
        os.makedirs(self.profiles, exist_ok=True)
        self.path = os.path.join(record_dir, "requests.jsonl")
        # A restarted server continues the record: accepted IDs keep deduplicating,
        # and seq goes on so profile file names never collide.
        self.ids, self.seq, self.request = set(), 0, 0
        for r in read_records(self.path):
            self.seq = max(self.seq, r.get("seq") or 0)
            self.request = max(self.request, r.get("request") or 0)
            if r.get("accepted") and r.get("id"):
                self.ids.add(r["id"])
        self.file = open(self.path, "a", encoding="utf-8")

    def take_mode(self):
        """The mode this ingestion request gets; uses up one of `count`."""
        with self.lock:
            mode = self.mode
            if self.remaining is not None:
                self.remaining -= 1
                if self.remaining <= 0:
                    self.mode, self.remaining = "ok", None
            return mode, self.hang_seconds, self.generation

    def control(self, mode, count, hang_seconds):
        with self.lock:
            self.mode, self.remaining = mode, count
            if hang_seconds is not None:
                self.hang_seconds = float(hang_seconds)
            self.generation += 1
            self.lock.notify_all()

    def snapshot(self):
        with self.lock:
            return {"mode": self.mode, "remaining": self.remaining,
                    "hang_seconds": self.hang_seconds, "counters": dict(self.counters),
                    "accepted_ids": len(self.ids)}

    def hang(self, seconds, generation):
        deadline = time.monotonic() + seconds
        with self.lock:
            while not self.stopping and self.generation == generation:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self.lock.wait(left)

    def commit(self, base, items, store):
        """Write one record per item. With store, new IDs are taken (and later
        copies marked duplicate) atomically with writing the record."""
        out = []
        with self.lock:
            self.request += 1
            self.counters["requests"] += 1
            for index, item in enumerate(items):
                self.seq += 1
                rec = dict(base, seq=self.seq, request=self.request, index=index, **item["rec"])
                if store:
                    rid = rec["id"]
                    rec["duplicate"] = bool(rid) and rid in self.ids
                    rec["accepted"] = not rec["duplicate"]
                    if rid and not rec["duplicate"]:
                        self.ids.add(rid)
                    self.counters["duplicates" if rec["duplicate"] else "accepted"] += 1
                else:
                    self.counters["refused"] += 1
                if item.get("blob"):
                    rec["profile"] = self.save(rec["seq"], item["blob"])
                self.file.write(json.dumps(rec, sort_keys=True) + "\n")
                out.append(rec)
            self.file.flush()
        return out

    def save(self, seq, blob):
        path = os.path.join(self.profiles, f"{seq}.pb.gz")
        with open(path, "wb") as f:
            f.write(blob if blob[:2] == b"\x1f\x8b" else gzip.compress(blob))
        return path


def read_records(path):
    """The record file's lines; a last line still being written is left out."""
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().split("\n")[:-1]
    except FileNotFoundError:
        return []
    return [json.loads(line) for line in lines if line.strip()]


def empty_rec():
    return {"labels": {}, "id": None, "profile": None, "time_nanos": None,
            "duration_nanos": None, "period": None, "sample_types": None,
            "sample_count": None, "value_sum": None}


# ---- HTTP ----

class Handler(BaseHTTPRequestHandler):
    # HTTP/1.1 so that `Expect: 100-continue` (libcurl's, on bodies over 1 KiB)
    # is answered at once instead of after curl's one-second wait.
    protocol_version = "HTTP/1.1"
    timeout = 120  # an idle keep-alive connection must not hold a thread forever
    server_version = "fake-pyroscope/1"

    def log_message(self, fmt, *args):
        if self.server.protocol_log:
            sys.stderr.write("fake-pyroscope: %s %s\n" % (self.address_string(), fmt % args))

    def send_json(self, status, obj, extra=()):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def send_error_json(self, r, extra=()):
        self.send_json(r.status, {"code": r.code, "message": r.message}, extra)

    def drop_connection(self):
        """Close without a word: the client sees EOF where the answer should be."""
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks, total = [], 0
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                total += size
                if total > MAX_BODY:
                    raise Refused(413, "resource_exhausted", "body too large")
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = self.headers.get("Content-Length")
        if length is None:
            raise Refused(411, "invalid_argument", "Content-Length required")
        if int(length) > MAX_BODY:
            raise Refused(413, "resource_exhausted", "body too large")
        return self.rfile.read(int(length))

    def recorded_headers(self):
        return {k.lower(): v for k, v in self.headers.items()
                if k.lower() in RECORDED_HEADERS or k.lower().startswith("x-")}

    def check_auth(self):
        want = self.server.auth
        if want and self.headers.get("Authorization", "") != want:
            raise Refused(401, "unauthenticated", "fake: missing or wrong credentials")

    # -- dispatch --

    def do_GET(self):
        path = urllib.parse.urlsplit(self.path).path
        if path == "/control":
            self.send_json(200, self.server.state.snapshot())
        elif path == "/received":
            with self.server.state.lock:
                recs = read_records(self.server.state.path)
            self.send_json(200, recs)
        else:
            self.send_json(404, {"code": "not_found", "message": f"no {path}"})

    def do_POST(self):
        url = urllib.parse.urlsplit(self.path)
        if url.path == "/control":
            return self.post_control()
        if url.path not in (PUSH_PATH, "/ingest"):
            self.read_body_quietly()
            return self.send_json(404, {"code": "not_found", "message": f"no {url.path}"})
        try:
            self.ingestion("push" if url.path == PUSH_PATH else "ingest", url.query)
        except Exception as e:
            # A bug here must fail the test loudly, not look like a lost answer.
            import traceback
            traceback.print_exc()
            self.close_connection = True
            self.send_json(500, {"code": "internal", "message": f"fake: {e!r}"})

    def read_body_quietly(self):
        try:
            self.read_body()
        except (Refused, ValueError):
            self.close_connection = True

    def post_control(self):
        try:
            req = json.loads(self.read_body() or b"{}")
            mode = str(req.get("mode", "ok"))
            count, hang = req.get("count"), req.get("hang_seconds")
            if mode not in MODES:
                raise ValueError(f"mode {mode!r}: one of {', '.join(MODES)}")
            if count is not None and (type(count) is not int or count < 0):
                raise ValueError("count: a non-negative integer or null")
            if hang is not None and not isinstance(hang, (int, float)):
                raise ValueError("hang_seconds: a number")
        except (ValueError, AttributeError, Refused) as e:
            return self.send_json(400, {"code": "invalid_argument", "message": str(e)})
        # count 0 means no request gets the mode: back to normal at once.
        self.server.state.control("ok" if count == 0 else mode, count or None, hang)
        self.send_json(200, self.server.state.snapshot())

    def ingestion(self, api, query):
        state = self.server.state
        base = {"time": time.time(), "api": api, "headers": self.recorded_headers(),
                "accepted": False, "duplicate": False, "error": None, "status": None,
                "pid": os.getpid()}
        try:
            body = self.read_body()
        except (Refused, ValueError) as e:
            r = e if isinstance(e, Refused) else invalid(f"bad body framing: {e}")
            base.update(mode="ok", status=r.status, error=r.message)
            state.commit(base, [{"rec": empty_rec()}], store=False)
            self.close_connection = True
            return self.send_error_json(r)
        mode, hang_seconds, generation = state.take_mode()
        base["mode"] = mode
        try:
            items = self.parse_push(body) if api == "push" else self.parse_ingest(body, query)
            error = None
        except Refused as e:
            items, error = e.items or [{"rec": empty_rec()}], e
        try:
            self.check_auth()
        except Refused as e:
            error = e

        refusals = {"503": Refused(503, "unavailable", "fake: unavailable"),
                    "429": Refused(429, "resource_exhausted", "fake: rate limited"),
                    "400": Refused(400, "invalid_argument", "fake: refused on purpose")}
        if mode in refusals:
            error = refusals[mode]
        elif mode == "hang":
            error = Refused(None, "", "fake: hung up without an answer")
        base["error"] = error and error.message
        if mode not in ("hang", "close"):  # those never answer
            base["status"] = error.status if error else 200
        recs = state.commit(base, items, store=error is None)
        if self.server.protocol_log:
            for r in recs:
                sys.stderr.write(f"fake-pyroscope: {api} seq={r['seq']} mode={mode} "
                                 f"status={r['status']} accepted={r['accepted']} "
                                 f"duplicate={r['duplicate']} id={r['id']} "
                                 f"error={r['error']} headers={r['headers']}\n")
        if mode == "hang":
            state.hang(hang_seconds, generation)
            return self.drop_connection()
        if mode == "close":
            return self.drop_connection()
        if error is not None:
            extra = [("Retry-After", "1")] if mode == "429" else []
            return self.send_error_json(error, extra)
        # An empty body: on push, that is the empty PushResponse.
        self.send_response(200)
        if api == "push":
            self.send_header("Content-Type", "application/proto")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def parse_push(self, body):
        """PushRequest -> one item per sample. Pyroscope refuses the whole
        request on the first rule broken; the Refused carries what was read,
        so that even a refused attempt is recorded with its labels and IDs."""
        pb = self.server.pb
        ctype = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if ctype != "application/proto":
            raise Refused(415, "invalid_argument",
                          f"Content-Type {ctype!r}: want application/proto")
        enc = self.headers.get("Content-Encoding", "identity").strip().lower()
        if enc == "gzip":
            try:
                body = gzip.decompress(body)
            except (OSError, EOFError) as e:
                raise invalid(f"Content-Encoding gzip: {e}")
        elif enc != "identity":
            raise Refused(415, "unimplemented", f"Content-Encoding {enc!r} unsupported")
        req = pb.push_pb2.PushRequest()
        try:
            req.ParseFromString(body)
        except Exception as e:  # DecodeError, or UnicodeError from a string field
            raise invalid(f"body is not a PushRequest (bad wire format or non-UTF-8 string): {e}")
        items, errors = [], []
        if not req.series:
            errors.append(invalid("no series"))
        for si, series in enumerate(req.series):
            pairs = [(lp.name, lp.value) for lp in series.labels]
            labels = dict(pairs)
            try:
                check_labels(pairs, f"series {si}")
            except Refused as e:
                errors.append(e)
            if not series.samples:
                errors.append(invalid(f"series {si}: no samples"))
                items.append({"rec": dict(empty_rec(), labels=labels)})
            for xi, smp in enumerate(series.samples):
                rec = dict(empty_rec(), labels=labels, id=smp.ID or None)
                items.append({"rec": rec, "blob": smp.raw_profile})
                try:
                    prof = decode_profile(smp.raw_profile, pb)
                    rec.update(profile_stats(prof))
                    if not smp.ID:
                        raise invalid("empty ID")
                    check_profile(prof)
                except Refused as e:
                    errors.append(Refused(e.status, e.code,
                                          f"series {si} sample {xi}: {e.message}"))
        if errors:
            errors[0].items = items or None
            raise errors[0]
        return items

    def parse_ingest(self, body, query):
        pb = self.server.pb
        q = dict(urllib.parse.parse_qsl(query, keep_blank_values=True))
        rec = dict(empty_rec(), labels={"__query__": q})
        item = {"rec": rec}
        try:
            if not q.get("name"):
                raise invalid("name is required")
            rec["labels"] = dict(parse_ingest_name(q["name"]), __query__=q)
            for p in ("from", "until", "sampleRate"):
                if p in q and not re.fullmatch(r"-?[0-9]+", q[p]):
                    raise invalid(f"{p}={q[p]!r}: want an integer")
            ctype = self.headers.get("Content-Type", "")
            multipart = ctype.lower().startswith("multipart/form-data")
            fmt = q.get("format", "")
            if multipart and fmt == "pprof":
                # What Pyroscope does with format=pprof: the whole body is
                # taken as one pprof, and a multipart body is not one.
                raise Refused(422, "invalid_argument",
                              "format=pprof: failed to parse the body as pprof "
                              "(it is multipart/form-data)")
            if multipart and fmt == "":
                blob = self.profile_part(ctype, body)
            elif not multipart and fmt == "pprof":
                blob = body
            else:
                raise invalid(f"fake: format={fmt!r} with Content-Type {ctype!r} unsupported")
            item["blob"] = blob
            prof = decode_profile(blob, pb)
            rec.update(profile_stats(prof))
            check_profile(prof)
        except Refused as e:
            e.items = [item]
            raise
        return [item]

    @staticmethod
    def profile_part(ctype, body):
        msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            b"Content-Type: " + ctype.encode("latin-1") + b"\r\n\r\n" + body)
        if not msg.is_multipart():
            raise invalid("multipart body: no parts (bad boundary?)")
        for part in msg.iter_parts():
            if part.get_param("name", header="content-disposition") == "profile":
                data = part.get_payload(decode=True)
                if not data:
                    raise invalid("multipart part 'profile' is empty")
                return data
        raise invalid("multipart body: no part named 'profile'")


class Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # a hanging or idle keep-alive handler must not delay exit
    allow_reuse_address = True


def serve(argv=None):
    ap = argparse.ArgumentParser(description="Fake Pyroscope ingestion server.")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--record-dir", required=True)
    ap.add_argument("--protocol-log", action="store_true",
                    help="one line on stderr for each request and record")
    ap.add_argument("--require-basic", metavar="USER:PASSWORD")
    ap.add_argument("--require-bearer", metavar="TOKEN")
    ap.add_argument("--proto-dir", default=DEFAULT_PROTO_DIR)
    ap.add_argument("--pprof-proto", default=DEFAULT_PPROF_PROTO)
    args = ap.parse_args(argv)

    pb = load_protos(args.proto_dir, args.pprof_proto)
    state = State(args.record_dir)
    # The old process may still be letting go of the port on a restart.
    deadline = time.monotonic() + 10
    while True:
        try:
            server = Server(("127.0.0.1", args.port), Handler)
            break
        except OSError:
            if args.port == 0 or time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    server.state, server.pb, server.protocol_log = state, pb, args.protocol_log
    server.auth = None
    if args.require_basic:
        server.auth = "Basic " + base64.b64encode(args.require_basic.encode()).decode()
    elif args.require_bearer:
        server.auth = "Bearer " + args.require_bearer

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    port = server.server_address[1]
    if args.port_file:
        tmp = f"{args.port_file}.tmp.{os.getpid()}"
        with open(tmp, "w") as f:
            f.write(f"{port}\n")
        os.replace(tmp, args.port_file)
    sys.stderr.write(f"fake-pyroscope: listening on 127.0.0.1:{port}\n")
    sys.stderr.flush()
    while not stop.wait(3600):
        pass
    with state.lock:
        state.stopping = True
        state.lock.notify_all()
    server.shutdown()
    server.server_close()
    state.file.close()
    return 0


# ---- for tests written in Python ----

class FakePyroscope:
    """The server as a subprocess, so that "down" means nothing listens."""

    def __init__(self, args=(), protocol_log=False, start_timeout=20):
        self.args, self.protocol_log, self.start_timeout = list(args), protocol_log, start_timeout
        self.proc, self.port, self.record_dir = None, 0, None

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def start(self, record_dir=None):
        if record_dir is not None:
            self.record_dir = record_dir
        os.makedirs(self.record_dir, exist_ok=True)
        port_file = os.path.join(self.record_dir, "port")
        if os.path.exists(port_file):
            os.unlink(port_file)
        cmd = [PYTHON, os.path.abspath(__file__), "--port", str(self.port),
               "--port-file", port_file, "--record-dir", self.record_dir] + self.args
        if self.protocol_log:
            cmd.append("--protocol-log")
        log = open(os.path.join(self.record_dir, "server.log"), "ab")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        log.close()
        deadline = time.monotonic() + self.start_timeout
        while not os.path.exists(port_file):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                with open(os.path.join(self.record_dir, "server.log"), errors="replace") as f:
                    raise RuntimeError("fake pyroscope did not start:\n" + f.read()[-2000:])
            time.sleep(0.02)
        with open(port_file) as f:
            self.port = int(f.read())
        return self.url

    def stop(self):
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        rc, self.proc = self.proc.returncode, None
        return rc

    def restart(self, down_seconds=0):
        """Down (if it is up) for down_seconds, then up again on the same port."""
        self.stop()
        time.sleep(down_seconds)
        return self.start()

    def _call(self, method, path, obj=None):
        data = None if obj is None else json.dumps(obj).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read())

    def set_mode(self, mode, count=None, hang_seconds=None):
        obj = {"mode": mode, "count": count}
        if hang_seconds is not None:
            obj["hang_seconds"] = hang_seconds
        return self._call("POST", "/control", obj)

    def control(self):
        return self._call("GET", "/control")

    def received(self):
        return read_records(os.path.join(self.record_dir, "requests.jsonl"))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


if __name__ == "__main__":
    sys.exit(serve())
