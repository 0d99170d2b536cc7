"""Self-test of fake_pyroscope.py: the upload tests trust its verdicts, so it
must take what Pyroscope takes, refuse what Pyroscope refuses, record what it
saw, and misbehave exactly as told. Exits non-zero on any failed check."""
import gzip
import http.client
import json
import os
import shutil
import socket
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fake_pyroscope  # noqa: E402

pb = fake_pyroscope.load_protos()
failures = []
LABELS = [("__name__", "process_cpu"), ("service_name", "smolder-test"), ("zone", "a")]


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)
    return cond


def make_profile(sample_type=("cpu", "nanoseconds"), values=(3, 30000000), loc_id=1,
                 fn_id=1, raw=False):
    p = pb.profile_pb2.Profile()
    p.string_table.extend(["", "samples", "count", sample_type[0], sample_type[1],
                           "main", "/bin/hot"])
    for t, u in ((1, 2), (3, 4)):
        st = p.sample_type.add()
        st.type, st.unit = t, u
    p.period_type.type, p.period_type.unit, p.period = 3, 4, 10000000
    p.time_nanos, p.duration_nanos = 1700000000 * 10**9, 10 * 10**9
    m = p.mapping.add()
    m.id, m.memory_start, m.memory_limit, m.filename = 1, 0x400000, 0x500000, 6
    f = p.function.add()
    f.id, f.name, f.filename = fn_id, 5, 6
    loc = p.location.add()
    loc.id, loc.mapping_id, loc.address = loc_id, 1, 0x401000
    loc.line.add().function_id = fn_id
    for _ in range(2):
        s = p.sample.add()
        s.location_id.append(1)
        s.value.extend(values)
    data = p.SerializeToString()
    return data if raw else gzip.compress(data)


def post(url, body, ctype, headers=None, timeout=10):
    """(status, headers, body); a dropped connection raises OSError/HTTPException."""
    req = urllib.request.Request(url, data=body, method="POST",
                                 headers=dict({"Content-Type": ctype}, **(headers or {})))
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def push(base, samples, labels=LABELS, headers=None, ctype="application/proto", timeout=10):
    req = pb.push_pb2.PushRequest()
    series = req.series.add()
    for name, value in labels:
        lp = series.labels.add()
        lp.name, lp.value = name, value
    for blob, sid in samples:
        s = series.samples.add()
        s.raw_profile, s.ID = blob, sid
    return post(base + fake_pyroscope.PUSH_PATH, req.SerializeToString(), ctype,
                headers, timeout)


def multipart(parts):
    boundary = "fakeBoundary7MA4YWxkTrZu0gW"
    out = b""
    for name, data in parts:
        out += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; "
                f"filename=\"{name}.pprof\"\r\nContent-Type: application/octet-stream"
                f"\r\n\r\n").encode() + data + b"\r\n"
    return out + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def ingest(base, query, parts):
    body, ctype = multipart(parts)
    return post(base + "/ingest?" + urllib.parse.urlencode(query), body, ctype)


def expect_refusal(resp, status, what, mention=None):
    code, headers, body = resp
    check(code == status, f"{what}: status {code}, want {status} ({body[:200]!r})")
    try:
        err = json.loads(body)
    except ValueError:
        return check(False, f"{what}: error body is not JSON: {body[:200]!r}")
    check(isinstance(err.get("code"), str) and isinstance(err.get("message"), str),
          f"{what}: want a Connect error, got {err}")
    if mention:
        check(mention in err.get("message", ""), f"{what}: message {err} lacks {mention!r}")
    return err


def last(fake, n=1):
    return fake.received()[-n:]


def main():
    tmp = tempfile.mkdtemp(prefix="fake-pyroscope-test-")
    fake = fake_pyroscope.FakePyroscope()
    try:
        run(fake, tmp)
        run_auth(tmp)
    finally:
        rc = fake.stop()
        check(rc in (0, None), f"server exit status {rc} after SIGTERM, want 0")
    if failures:
        print(f"{len(failures)} check(s) failed; records kept in {tmp}")
        return 1
    shutil.rmtree(tmp)
    print("fake pyroscope: all checks passed")
    return 0


def run(fake, tmp):
    base = fake.start(os.path.join(tmp, "rec"))
    good = make_profile()

    # A valid push, then the same ID again: taken once.
    r = push(base, [(good, "id-1")], headers={"X-Scope-OrgID": "tenant-1",
                                              "User-Agent": "smolder/test"})
    check(r[0] == 200 and r[2] == b"", f"valid push: {r[0]} {r[2][:200]!r}")
    check(r[1].get("Content-Type") == "application/proto", "push answer Content-Type")
    rec = last(fake)[0]
    check(rec["accepted"] and not rec["duplicate"] and rec["id"] == "id-1", f"record {rec}")
    check(rec["api"] == "push" and rec["status"] == 200 and rec["mode"] == "ok", f"record {rec}")
    check(rec["labels"] == dict(LABELS), f"labels {rec['labels']}")
    check(rec["headers"].get("x-scope-orgid") == "tenant-1"
          and rec["headers"].get("user-agent") == "smolder/test"
          and rec["headers"].get("content-type") == "application/proto",
          f"headers {rec['headers']}")
    check(rec["sample_types"] == [["samples", "count"], ["cpu", "nanoseconds"]]
          and rec["sample_count"] == 2 and rec["value_sum"] == [6, 60000000]
          and rec["period"] == 10000000 and rec["duration_nanos"] == 10 * 10**9
          and rec["time_nanos"] == 1700000000 * 10**9, f"profile stats {rec}")
    with open(rec["profile"], "rb") as f:
        check(f.read() == good, "saved profile differs from the one sent")

    r = push(base, [(good, "id-1")])
    rec = last(fake)[0]
    check(r[0] == 200 and rec["duplicate"] and not rec["accepted"], f"duplicate: {r[0]} {rec}")

    # Raw (not gzipped) pprof is taken, and saved gzipped.
    r = push(base, [(make_profile(raw=True), "id-raw")])
    rec = last(fake)[0]
    check(r[0] == 200 and rec["accepted"], f"raw pprof push: {r[0]} {r[2][:200]!r}")
    with open(rec["profile"], "rb") as f:
        check(gzip.decompress(f.read()) == make_profile(raw=True), "raw profile saved gzipped")

    # Two samples in one push: one record each.
    n = len(fake.received())
    r = push(base, [(good, "id-a"), (good, "id-b")])
    recs = fake.received()[n:]
    check(r[0] == 200 and [x["id"] for x in recs] == ["id-a", "id-b"]
          and all(x["accepted"] for x in recs), f"two samples: {recs}")

    # What Pyroscope refuses.
    bad_labels = [
        ("unsorted labels", [("service_name", "s"), ("__name__", "process_cpu")], "sorted"),
        ("dot in label name", sorted(LABELS + [("k8s.pod", "x")]), "invalid label name"),
        ("duplicate label", [("__name__", "p"), ("service_name", "s"), ("service_name", "t")],
         "duplicate"),
        ("no service_name", [("__name__", "process_cpu")], "service_name"),
        ("empty service_name", [("__name__", "process_cpu"), ("service_name", "")],
         "service_name"),
        ("no __name__", [("service_name", "s")], "__name__"),
        ("bad metric name", [("__name__", "process-cpu"), ("service_name", "s")], "metric"),
        ("31 labels", sorted(LABELS + [(f"l{i:02d}", "v") for i in range(28)]), "at most"),
        ("long value", LABELS + [("zz", "v" * 2049)], "too long"),
    ]
    for what, labels, mention in bad_labels:
        expect_refusal(push(base, [(good, "id-bad")], labels=labels), 400, what, mention)
        rec = last(fake)[0]
        check(not rec["accepted"] and rec["status"] == 400 and rec["error"], f"{what}: {rec}")
    at_limits = sorted(LABELS + [(f"l{i:02d}", "v") for i in range(26)] + [("zz", "v" * 2048)])
    r = push(base, [(good, "id-limits")], labels=at_limits)
    check(r[0] == 200 and last(fake)[0]["accepted"], f"30 labels, a 2048-byte value: {r[0]} {r[2]!r}")
    bad_profiles = [
        ("not pprof", gzip.compress(b"\xff\xff\xff garbage"), "pprof"),
        ("bad gzip", b"\x1f\x8b\x08\x00garbage", "gzip"),
        ("value count", make_profile(values=(1,)), "values"),
        ("dash in sample type", make_profile(sample_type=("cpu-time", "ns")), "'-'"),
        ("location id 0", make_profile(loc_id=0), "location id 0"),
        ("function id 0", make_profile(fn_id=0), "function id 0"),
        ("unknown location", make_profile(loc_id=7), "unknown location"),
        ("empty raw_profile", b"", "empty"),
    ]
    for what, blob, mention in bad_profiles:
        expect_refusal(push(base, [(blob, "id-badprof")]), 400, what, mention)
    expect_refusal(push(base, [(good, "")]), 400, "empty ID", "ID")
    expect_refusal(push(base, []), 400, "no samples", "samples")
    expect_refusal(push(base, [(good, "id-json")], ctype="application/json"), 415, "Content-Type")
    check("id-bad" not in {x["id"] for x in fake.received() if x["accepted"]},
          "a refused push was taken")

    # Legacy /ingest, multipart.
    q = {"name": "legacy-app{env=test,host.name=h1}", "from": "1700000000",
         "until": "1700000010", "sampleRate": "100", "spyName": "smolder"}
    r = ingest(base, q, [("profile", good)])
    rec = last(fake)[0]
    check(r[0] == 200 and rec["accepted"] and rec["api"] == "ingest", f"ingest: {r[0]} {r[2]!r}")
    check(rec["labels"] == {"service_name": "legacy-app", "env": "test", "host.name": "h1",
                            "__query__": q}, f"ingest labels {rec['labels']}")
    with open(rec["profile"], "rb") as f:
        check(f.read() == good, "ingest: saved profile differs (multipart binary mangled?)")
    r = ingest(base, dict(q, name="plain"), [("profile", make_profile(raw=True))])
    check(r[0] == 200 and last(fake)[0]["labels"]["service_name"] == "plain",
          f"ingest raw pprof, plain name: {r[0]} {r[2]!r}")
    expect_refusal(ingest(base, dict(q, format="pprof"), [("profile", good)]), 422,
                   "format=pprof with multipart")
    expect_refusal(ingest(base, q, [("other", good)]), 400, "no profile part", "profile")
    expect_refusal(ingest(base, dict(q, name="app{a=b=c}"), [("profile", good)]), 400,
                   "bad name value")
    expect_refusal(ingest(base, dict(q, name="app{a-b=c}"), [("profile", good)]), 400,
                   "bad name key")
    expect_refusal(ingest(base, {k: v for k, v in q.items() if k != "name"},
                          [("profile", good)]), 400, "no name", "name")
    expect_refusal(ingest(base, q, [("profile", make_profile(loc_id=0))]), 400,
                   "ingest bad pprof", "location")

    # Misbehaviour on command; each answer counted against `count`.
    fake.set_mode("503", count=2)
    expect_refusal(push(base, [(good, "id-m")]), 503, "mode 503")
    check(fake.control()["remaining"] == 1, "control: remaining after one 503")
    expect_refusal(ingest(base, q, [("profile", good)]), 503, "mode 503 (ingest)")
    check(fake.control()["mode"] == "ok", "mode back to ok after count")
    r = fake.set_mode("429", count=1)
    resp = push(base, [(good, "id-m")])
    expect_refusal(resp, 429, "mode 429")
    check(resp[1].get("Retry-After") == "1", f"429 Retry-After: {resp[1].get('Retry-After')}")
    fake.set_mode("400", count=1)
    expect_refusal(push(base, [(good, "id-m")]), 400, "mode 400", "on purpose")
    recs = [x for x in fake.received() if x["id"] == "id-m"]
    check([(x["mode"], x["status"], x["accepted"]) for x in recs]
          == [("503", 503, False), ("429", 429, False), ("400", 400, False)],
          f"refused attempts recorded: {recs}")
    r = push(base, [(good, "id-m")])
    check(r[0] == 200 and last(fake)[0]["accepted"], "ok again after the refusals")

    # close: taken, but the answer is lost; the retry is a duplicate.
    fake.set_mode("close", count=1)
    try:
        r = push(base, [(good, "id-close")])
        check(False, f"mode close: got an answer {r[0]}")
    except (OSError, http.client.HTTPException):
        pass
    rec = last(fake)[0]
    check(rec["accepted"] and rec["status"] is None and rec["mode"] == "close",
          f"close record {rec}")
    r = push(base, [(good, "id-close")])
    check(r[0] == 200 and last(fake)[0]["duplicate"], "retry after close is a duplicate")

    # hang: no answer until hang_seconds, or until the mode is changed.
    fake.set_mode("hang", count=1, hang_seconds=1)
    t0 = time.monotonic()
    try:
        push(base, [(good, "id-hang")], timeout=20)
        check(False, "mode hang: got an answer")
    except (OSError, http.client.HTTPException):
        pass
    took = time.monotonic() - t0
    check(0.9 <= took < 10, f"hang of 1 s took {took:.1f} s")
    rec = last(fake)[0]
    check(rec["mode"] == "hang" and rec["status"] is None and not rec["accepted"],
          f"hang record {rec}")
    fake.set_mode("hang", hang_seconds=60)
    outcome = []

    def hung():
        try:
            outcome.append(push(base, [(good, "id-hang")], timeout=30))
        except (OSError, http.client.HTTPException) as e:
            outcome.append(e)
    th = threading.Thread(target=hung)
    t0 = time.monotonic()
    th.start()
    while time.monotonic() - t0 < 10 and not any(
            x["mode"] == "hang" and x["seq"] > rec["seq"] for x in fake.received()):
        time.sleep(0.05)
    fake.set_mode("ok")
    th.join(30)
    check(outcome and isinstance(outcome[0], Exception) and time.monotonic() - t0 < 20,
          f"hang ended by a mode change: {outcome}")
    r = push(base, [(good, "id-hang")])
    check(r[0] == 200 and last(fake)[0]["accepted"], "hung attempt was not taken")

    # /received is the record file.
    with urllib.request.urlopen(base + "/received", timeout=10) as resp:
        check(json.loads(resp.read()) == fake.received(), "/received differs from the file")

    # Down, then up on the same port: refused meanwhile, dedup survives.
    seq = last(fake)[0]["seq"]
    check(fake.stop() == 0, "SIGTERM exit status")
    try:
        socket.create_connection(("127.0.0.1", fake.port), timeout=2).close()
        check(False, "something still listens after stop()")
    except OSError:
        pass
    check(fake.restart() == base, "restart() changed the URL")
    r = push(base, [(good, "id-1")])
    rec = last(fake)[0]
    check(r[0] == 200 and rec["duplicate"], f"dedup after restart: {rec}")
    check(rec["seq"] > seq and os.path.exists(rec["profile"]), "seq goes on after a restart")
    r = push(base, [(good, "id-new")])
    check(r[0] == 200 and last(fake)[0]["accepted"], "new ID after restart")


def run_auth(tmp):
    for args, good_auth in ((["--require-bearer", "s3cret"], "Bearer s3cret"),
                            (["--require-basic", "u:p"], "Basic dTpw")):
        with fake_pyroscope.FakePyroscope(args) as fake:
            base = fake.start(os.path.join(tmp, "auth-" + args[0][10:]))
            expect_refusal(push(base, [(make_profile(), "id-auth")]), 401, f"{args}: none")
            err = expect_refusal(push(base, [(make_profile(), "id-auth")],
                                      headers={"Authorization": "Bearer wrong"}),
                                 401, f"{args}: wrong")
            check(err.get("code") == "unauthenticated", f"401 code {err}")
            r = push(base, [(make_profile(), "id-auth")], headers={"Authorization": good_auth})
            rec = last(fake)[0]
            check(r[0] == 200 and rec["accepted"]
                  and rec["headers"].get("authorization") == good_auth,
                  f"{args}: with credentials {r[0]} {rec}")


if __name__ == "__main__":
    sys.exit(main())
