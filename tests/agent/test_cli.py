"""The command line as a user meets it: a bad flag or value exits 2 with one
line naming it, --help documents every flag, and the README's flag reference
is exactly what --help prints (both come from the one flag table)."""
import os
import re
import subprocess
import sys

agent, readme, seccomp_deny = sys.argv[1], sys.argv[2], sys.argv[3]
failures = []


def run(args, env=None):
    e = dict(os.environ)
    e.update(env or {})
    return subprocess.run([agent] + args, capture_output=True, text=True, env=e, timeout=30)


def expect_bad(args, mention, env=None):
    r = run(args, env)
    lines = r.stderr.strip().splitlines()
    if r.returncode != 2:
        failures.append(f"{args} {env or ''}: exit {r.returncode}, want 2")
    if len(lines) != 1 or mention not in lines[0]:
        failures.append(f"{args} {env or ''}: want one line naming {mention!r}, got {r.stderr!r}")


expect_bad(["--bogus"], "--bogus")
expect_bad(["--sample-rate", "abc"], "--sample-rate")
expect_bad(["--sample-rate"], "--sample-rate")
expect_bad(["--upload-interval", "15"], "--upload-interval")
expect_bad(["--duration=forever"], "--duration")
expect_bad(["--log-level", "chatty"], "--log-level")
expect_bad(["--pid", "abc"], "--pid")
expect_bad(["--profile-types", "cpu,heap"], "--profile-types")
expect_bad(["--off-cpu-sample", "2"], "--off-cpu-sample")
expect_bad([], "SMOLDER_OFF_CPU_SAMPLE", {"SMOLDER_OFF_CPU_SAMPLE": "0"})
expect_bad([], "SMOLDER_UPLOAD_INTERVAL", {"SMOLDER_UPLOAD_INTERVAL": "soon"})
# The parts of --memory-limit must fit in it.
expect_bad(["--memory-limit", "128M", "--symbol-cache-size", "64M"], "--symbol-cache-size")
expect_bad(["--unwind-table-max-bytes", "128M"], "--unwind-table-max-bytes",
           {"SMOLDER_MEMORY_LIMIT": "256M"})
expect_bad(["--memory-limit", "16M"], "--memory-limit")

# Credentials on the command line (readable by every local user in
# /proc/PID/cmdline) are refused, pointing at a private form.
for args, flag, hint in (
        (["--server-address", "https://123:secret@profiles.example"], "--server-address",
         "SMOLDER_SERVER_ADDRESS"),
        (["--server-address=http://user@pyroscope:4040/"], "--server-address",
         "SMOLDER_SERVER_ADDRESS"),
        (["--header", "Authorization=Bearer secret"], "--header", "--bearer-token-file"),
        (["--header", "proxy-authorization=Basic c2VjcmV0"], "--header", "SMOLDER_HEADER")):
    expect_bad(args, flag)
    r = run(args)
    if hint not in r.stderr or "secret" in r.stderr:
        failures.append(f"{args}: want a message pointing at {hint!r} and no secret, "
                        f"got {r.stderr!r}")
# Not credentials: an @ in the path, another header.
for args in (["--server-address", "http://pyroscope:4040/a@b", "--help"],
             ["--header", "X-Authorization-Note=x", "--help"]):
    r = run(args)
    if r.returncode != 0:
        failures.append(f"{args}: exit {r.returncode}, want 0: {r.stderr!r}")

# Target rules: a bad rule names its file, line and rule; a bad tag names
# itself; both before anything is loaded.
import tempfile
with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
    f.write("relabel_configs:\n"
            "  - source_labels: [__meta_process_comm]\n"
            "    action: keep\n"
            "  - source_labels: [__meta_process_exe]\n"
            "    regex: \"([a-\"\n")
    bad_config = f.name
expect_bad(["--config", bad_config], bad_config + ":4:")
r = run(["--config", bad_config])
if "rule 2" not in r.stderr:
    failures.append(f"a bad regex in the second rule: want 'rule 2' in {r.stderr!r}")
os.unlink(bad_config)
expect_bad(["--config", "/nonexistent/rules.yaml"], "/nonexistent/rules.yaml")
expect_bad(["--tag", "no-equals-sign"], "no-equals-sign")
expect_bad(["--tag", "bad-name=x"], "bad-name")

# Start-up checks: without privileges, one line naming what is missing and
# the minimum kernel, before anything is loaded.
r = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                    "--inh-caps=-all", "--bounding-set=-all", agent, "--duration", "1s",
                    "--output-dir", "/tmp/smolder-cli-unused"],
                   capture_output=True, text=True, timeout=30)
lines = r.stderr.strip().splitlines()
if r.returncode != 1 or len(lines) != 1 or "CAP_BPF" not in lines[0] or "Linux 5.11" not in lines[0]:
    failures.append(f"unprivileged start: want exit 1 and one line naming CAP_BPF and Linux 5.11, "
                    f"got {r.returncode} {r.stderr!r}")

# With every capability, but bpf() or perf_event_open() refused by a
# seccomp filter (a container runtime's default profile): one line saying
# so, not that the kernel is too old.
for call in ("bpf", "perf_event_open"):
    r = subprocess.run([seccomp_deny, call, agent, "--duration", "1s", "--http-listen", "off",
                        "--output-dir", "/tmp/smolder-cli-unused"],
                       capture_output=True, text=True, timeout=60)
    lines = r.stderr.strip().splitlines()
    want = call + "() is refused"
    if r.returncode != 1 or len(lines) != 1 or want not in lines[0] or \
            "seccomp filter" not in lines[0] or "Linux 5.11" in lines[0]:
        failures.append(f"{call} refused by seccomp: want exit 1 and one line saying "
                        f"'{want}' and 'seccomp filter', got {r.returncode} {r.stderr!r}")

r = run(["--help"])
if r.returncode != 0:
    failures.append(f"--help: exit {r.returncode}")
help_text = r.stdout
flags = re.findall(r"^  (--[a-z-]+)", help_text, re.M)
for f in ["--sample-rate", "--upload-interval", "--duration", "--output-dir",
          "--server-address", "--pid", "--log-level", "--help"]:
    if f not in flags:
        failures.append(f"--help does not document {f}")
for f in flags:
    if f in ("--help", "--version"):
        continue
    env = "SMOLDER_" + f[2:].upper().replace("-", "_")
    if env not in help_text:
        failures.append(f"--help does not name {env} for {f}")

text = open(readme).read()
m = re.search(r"<!-- help:begin -->\n```\n(.*?)```\n<!-- help:end -->", text, re.S)
if not m:
    failures.append("README has no help:begin/help:end block")
elif m.group(1) != help_text:
    failures.append("README's flag reference differs from --help; paste the output of "
                    "`smolder --help` between the help markers")

for f in failures:
    print("FAIL:", f)
print(f"cli: {len(failures)} failure(s)")
sys.exit(1 if failures else 0)
