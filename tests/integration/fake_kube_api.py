"""A fake Kubernetes API server for test_kubernetes.py: the two requests
the agent makes, in the API server's own shapes.

    GET /api/v1/pods?fieldSelector=spec.nodeName%3DNODE        a PodList
    GET /api/v1/pods?...&watch=1&resourceVersion=RV             a watch stream

The pods are what the test puts in STATE (a JSON file it rewrites): the
list answers them with resourceVersion STATE["rv"]; a watch from a version
sends, one JSON object a line, the events STATE["events"] holds after that
version ({"type": "ADDED"|"MODIFIED"|"DELETED", "object": pod}, each with
its metadata.resourceVersion), then stays open until STATE changes or 20 s
pass. STATE["gone_below"] = N answers the first watch from a version below N
with an ERROR event of code 410 (the version is too old: relist). STATE["break"]
closes every watch after its first event (a broken stream to resume).
Every request is appended to LOG as one JSON line, with the bearer token
it carried.

    fake_kube_api.py PORT_FILE STATE LOG [--tls CERT KEY] [--token FILE]

--tls serves HTTPS with that certificate, as the real API server does.
--token answers 401 with a Status, as the real one does, to any request
whose bearer token is not FILE's content at the time of the request (the
kubelet rotates the token the agent must read anew).
"""

import argparse
import json
import os
import socket
import ssl
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def load(path):
    with open(path) as f:
        return json.load(f)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def record(self, q, token):
        with open(self.server.log_path, "a") as f:
            f.write(json.dumps({"time": time.time(), "path": self.path, "query": q,
                                "token": token}) + "\n")

    def send_status(self, code, reason, message):
        body = json.dumps({"kind": "Status", "apiVersion": "v1", "metadata": {},
                           "status": "Failure", "message": message, "reason": reason,
                           "code": code}).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        url = urllib.parse.urlparse(self.path)
        q = {k: v[0] for k, v in urllib.parse.parse_qs(url.query).items()}
        auth = self.headers.get("Authorization", "")
        token = auth[len("Bearer "):] if auth.startswith("Bearer ") else None
        self.record(q, token)
        if self.server.token_path:
            with open(self.server.token_path) as f:
                want = f.read().strip()
            if token != want:
                self.send_status(401, "Unauthorized", "Unauthorized")
                return
        if url.path != "/api/v1/pods" or q.get("fieldSelector") != "spec.nodeName=" + \
                self.server.node:
            self.send_error(404)
            return
        state = load(self.server.state_path)
        if q.get("watch") not in ("1", "true"):
            body = json.dumps({"kind": "PodList", "apiVersion": "v1",
                               "metadata": {"resourceVersion": str(state["rv"])},
                               "items": state["pods"]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        self.watch(int(q.get("resourceVersion") or 0))

    def send_line(self, obj):
        data = (json.dumps(obj) + "\n").encode()
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def watch(self, since):
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        state = load(self.server.state_path)
        if since < state.get("gone_below", 0) and not self.server.gone_sent:
            self.server.gone_sent = True  # once: the relist's version is good
            self.send_line({"type": "ERROR", "object": {
                "kind": "Status", "apiVersion": "v1", "status": "Failure",
                "message": "too old resource version: %d" % since, "reason": "Expired",
                "code": 410}})
            self.wfile.write(b"0\r\n\r\n")
            return
        sent = since
        deadline = time.time() + 20
        while time.time() < deadline:
            state = load(self.server.state_path)
            for ev in state.get("events", []):
                rv = int(ev["object"]["metadata"]["resourceVersion"])
                if rv > sent:
                    self.send_line(ev)
                    sent = rv
                    if state.get("break"):
                        # No terminating chunk, and the connection cut: a
                        # broken stream, as a dying API server leaves it.
                        self.close_connection = True
                        self.connection.shutdown(socket.SHUT_RDWR)
                        return
            time.sleep(0.2)
        self.wfile.write(b"0\r\n\r\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("port_file")
    ap.add_argument("state")
    ap.add_argument("log")
    ap.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    ap.add_argument("--token")
    args = ap.parse_args()
    port_file, state_path, log_path = args.port_file, args.state, args.log
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    if args.tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(*args.tls)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    srv.token_path = args.token
    srv.state_path, srv.log_path = state_path, log_path
    srv.node = load(state_path)["node"]
    srv.gone_sent = False
    tmp = port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(srv.server_address[1]))
    os.rename(tmp, port_file)
    srv.serve_forever()


if __name__ == "__main__":
    main()
