#!/usr/bin/python3
"""Remakes the seeds of fuzz_worker_reply (corpus/worker_reply/): packed
WorkerMessages as the parser worker sends them, honest and hostile.
protoc compiles symbolizer/proto/worker.proto for Python in a scratch
directory; Debian's python3-protobuf reads it.

    tests/symbolizer/corpus/make_worker_reply.py    (from anywhere)
"""

import os
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
PROTO_DIR = os.path.join(HERE, "..", "..", "..", "symbolizer", "proto")
ROW = struct.Struct("<QihBB")  # struct smolder_unwind_row (bpf/unwind.h)


def rows(*pcs):
    return b"".join(ROW.pack(pc, 16, -16, 1, 1) for pc in pcs)


def frame(pb, name, line=0, system_name="", file=""):
    return pb.Frame(name=name, system_name=system_name, file=file, line=line,
                    start_line=line and line - 3)


def seeds(pb):
    build_id = "4e0d1b7c9a6f3e2d1c0b9a8f7e6d5c4b3a291807"
    content_id = "18a3506428fe238a6c14c9a39251a11c7203245d632df40ddb8e9d3bf2d387d8"
    yield "open_reply", pb.WorkerMessage(id=1, open_reply=pb.OpenReply(
        build_id=build_id, content_id=content_id, has_dwarf=True, debug_source=1, bytes=24576,
        loads=[pb.Load(offset=0, filesz=0x1000, vaddr=0),
               pb.Load(offset=0x1000, filesz=0x2345, vaddr=0x1000)],
        unwind_rows=rows(0x1000, 0x1004, 0x1010, 0x1100, 0x2000),
        unsupported_rows=2, skipped_fdes=1, refusals=[0, 1, 0, 3]))
    yield "open_reply_error", pb.WorkerMessage(id=2, open_reply=pb.OpenReply(
        error=-8, corrupt=True, refusals=[1]))
    # What a subverted worker might say.
    yield "open_reply_unsorted", pb.WorkerMessage(id=3, open_reply=pb.OpenReply(
        build_id=build_id, content_id=content_id[:63],
        loads=[pb.Load(offset=0, filesz=0x10000, vaddr=0x400000)],
        unwind_rows=rows(0x401000, 0x400000, 0x402000, 0x402000)))
    yield "open_reply_hostile", pb.WorkerMessage(id=4, open_reply=pb.OpenReply(
        build_id="../../etc/passwd" + "A" * 200, content_id=content_id.upper() + "0",
        has_dwarf=True, debug_source=0xFFFFFFFF,
        loads=[pb.Load(offset=2**64 - 1 - i, filesz=2**64 - 1, vaddr=2**64 - 0x1000)
               for i in range(80)],
        unwind_rows=rows(0x1000, 0x2000) + b"\x01\x02\x03",
        unsupported_rows=2**64 - 1, skipped_fdes=2**64 - 1, bytes=2**64 - 1,
        refusals=[2**64 - 1] * 40))
    yield "resolve_reply", pb.WorkerMessage(id=5, resolve_reply=pb.ResolveReply(
        bytes=4096, locations=[
            pb.Location(from_dwarf=True, frames=[
                frame(pb, "leaf", 12, file="/src/inline.c"),
                frame(pb, "mid", 20, file="/src/inline.c"),
                frame(pb, "ns::outer(int)", 31, "_ZN2ns5outerEi", "/src/inline.cc")]),
            pb.Location(),
            pb.Location(frames=[frame(pb, "main")]),
            pb.Location(from_dwarf=True, frames=[frame(pb, "leaf", 13, file="/src/inline.c")]),
        ]))
    yield "resolve_reply_hostile", pb.WorkerMessage(id=6, resolve_reply=pb.ResolveReply(
        error=0, bytes=2**64 - 1, locations=[
            pb.Location(from_dwarf=True, frames=[
                frame(pb, "f%d" % i, -i, file="x" * (i % 7)) for i in range(40)]),
            pb.Location(frames=[pb.Frame(name="", system_name="", file="",
                                         line=-2**63, start_line=2**63 - 1)]),
            pb.Location(frames=[frame(pb, "n" * 1000, 1, "s" * 1000, "f" * 1000)]),
        ] * 3))
    yield "open_request", pb.WorkerMessage(id=7, open=pb.OpenFile(handle=7, path="/x", pid=1))
    yield "debug_query", pb.WorkerMessage(id=8, debug_query=pb.DebugQuery(
        build_id="ab", debuglink="x.debug"))
    yield "perf_map_reply", pb.WorkerMessage(id=9, perf_map_reply=pb.PerfMapReply(
        starts=[0x1000, 0x1080, 0x2000], ends=[0x1080, 0x10c0, 0x2010],
        name_offsets=[0, 9, 0], names=b"js:alpha\0js:beta\0", lines=3, bad_lines=1))
    yield "perf_map_reply_hostile", pb.WorkerMessage(id=10, perf_map_reply=pb.PerfMapReply(
        starts=[0x2000, 0x1000, 2**64 - 1], ends=[0x1000, 0x3000, 0],
        name_offsets=[0, 2**32 - 1, 5], names=b"no end"))


def main():
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["protoc", "--proto_path=" + PROTO_DIR, "--python_out=" + tmp,
                        "worker.proto"], check=True)
        sys.path.insert(0, tmp)
        import worker_pb2 as pb
        out = os.path.join(HERE, "worker_reply")
        os.makedirs(out, exist_ok=True)
        for name, msg in seeds(pb):
            with open(os.path.join(out, name), "wb") as f:
                f.write(msg.SerializeToString())


if __name__ == "__main__":
    main()
