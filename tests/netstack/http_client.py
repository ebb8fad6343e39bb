#!/usr/bin/env python3
"""http_client.py - a small HTTP/1.1 client (stdlib only) that checks an
HTTP server byte for byte.  Used by tests/netstack/test_nginx.sh (through the
netstack hook, or natively as the dry run) and by bench/servers/run.py as its
readiness probe.

  http_client.py [--host H] [--port P] [--timeout S] CHECK [CHECK...]

Checks (each bounded in count and time):
  body       GET /: status 200, Content-Length matching, the body equal to
             --body (the fixed string the server was configured with).
  keepalive  --requests N (default 100) GETs one after another on one
             connection, then N more written in a single send (pipelined)
             and read back; every response 200 with the exact body, the
             connection never closed by the server.
  file       GET --path (a static file, served with sendfile): 200 and the
             body's SHA-256 equal to --sha256.
  notfound   GET of a path that does not exist: 404, and the connection
             still serves a GET / afterwards.
  conns      --conns N (default 500) connections opened and all kept open
             at once; then each sends a GET / and reads its response; then
             all are closed.
  wait       like body, retried (connection refused, reset, timeout) until it
             succeeds or --wait-secs (default 30) pass: a readiness probe.

Prints one line per check passed.  On any mismatch or error: one line
"http_client: FAIL <check>: <reason>" on stderr and exit status 1.
"""

import argparse
import hashlib
import resource
import socket
import sys
import time


class Fail(Exception):
    pass


class Conn:
    """One connection; responses parsed by Content-Length."""

    def __init__(self, host, port, timeout):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.buf = b""

    def close(self):
        self.sock.close()

    def _fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise Fail("the server closed the connection")
        self.buf += data

    def response(self):
        """(status, headers dict with lower-case names, body)"""
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1."):
            raise Fail(f"bad status line {lines[0]!r}")
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if "content-length" not in headers:
            raise Fail(f"no Content-Length in {lines!r}")
        n = int(headers["content-length"])
        while len(self.buf) < n:
            self._fill()
        body, self.buf = self.buf[:n], self.buf[n:]
        return int(parts[1]), headers, body


def request(path, host):
    return f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: exitless-test\r\n\r\n".encode()


def expect_ok(resp, body, what):
    status, headers, got = resp
    if status != 200:
        raise Fail(f"{what}: status {status}")
    if got != body:
        raise Fail(f"{what}: body {got[:80]!r} ({len(got)} bytes), expected {body[:80]!r} "
                   f"({len(body)} bytes)")
    if headers.get("connection", "keep-alive").lower() == "close":
        raise Fail(f"{what}: the server closes the connection (Connection: close)")


def check_body(args):
    c = Conn(args.host, args.port, args.timeout)
    try:
        c.sock.sendall(request("/", args.host))
        expect_ok(c.response(), args.body_bytes, "GET /")
    finally:
        c.close()
    return f"body: GET / answered 200 with the exact {len(args.body_bytes)}-byte body"


def check_keepalive(args):
    n = args.requests
    c = Conn(args.host, args.port, args.timeout)
    try:
        for i in range(n):
            c.sock.sendall(request("/", args.host))
            expect_ok(c.response(), args.body_bytes, f"request {i + 1} of {n} on one connection")
        c.sock.sendall(request("/", args.host) * n)
        for i in range(n):
            expect_ok(c.response(), args.body_bytes, f"pipelined response {i + 1} of {n}")
        if c.buf:
            raise Fail(f"{len(c.buf)} unexpected bytes after the last response")
    finally:
        c.close()
    return f"keepalive: {n} sequential + {n} pipelined requests on one connection, all exact"


def check_file(args):
    if not args.path or not args.sha256:
        raise Fail("file needs --path and --sha256")
    c = Conn(args.host, args.port, args.timeout)
    try:
        c.sock.sendall(request(args.path, args.host))
        status, _, body = c.response()
        if status != 200:
            raise Fail(f"GET {args.path}: status {status}")
        got = hashlib.sha256(body).hexdigest()
        if got != args.sha256:
            raise Fail(f"GET {args.path}: {len(body)} bytes, sha256 {got}, expected {args.sha256}")
        # the connection still works after a sendfile response
        c.sock.sendall(request("/", args.host))
        expect_ok(c.response(), args.body_bytes, "GET / after the file")
    finally:
        c.close()
    return f"file: {args.path} ({len(body)} bytes) byte-exact (sha256), connection reusable"


def check_notfound(args):
    c = Conn(args.host, args.port, args.timeout)
    try:
        c.sock.sendall(request("/f/no-such-file", args.host))
        status, _, _ = c.response()
        if status != 404:
            raise Fail(f"GET /f/no-such-file: status {status}, expected 404")
        c.sock.sendall(request("/", args.host))
        expect_ok(c.response(), args.body_bytes, "GET / after the 404")
    finally:
        c.close()
    return "notfound: 404 for a missing file, then the connection still serves"


def check_conns(args):
    n = args.conns
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < n + 64:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, n + 256), hard))
    conns = []
    try:
        for _ in range(n):
            conns.append(Conn(args.host, args.port, args.timeout))
        for c in conns:
            c.sock.sendall(request("/", args.host))
        for i, c in enumerate(conns):
            expect_ok(c.response(), args.body_bytes, f"connection {i + 1} of {n}")
    finally:
        for c in conns:
            c.close()
    return f"conns: {n} connections open at once, each answered exactly"


def check_wait(args):
    deadline = time.monotonic() + args.wait_secs
    last = ""
    while time.monotonic() < deadline:
        try:
            return check_body(args).replace("body:", "wait:", 1)
        except (OSError, Fail) as e:
            last = str(e)
        time.sleep(0.1)
    raise Fail(f"no answer within {args.wait_secs} s (last: {last})")


CHECKS = {"body": check_body, "keepalive": check_keepalive, "file": check_file,
          "notfound": check_notfound, "conns": check_conns, "wait": check_wait}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("checks", nargs="+", choices=list(CHECKS))
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8080)
    ap.add_argument("--body", default="hello from exitless\n",
                    help="the body GET / must answer (backslash escapes allowed)")
    ap.add_argument("--timeout", type=float, default=10.0, help="per socket operation")
    ap.add_argument("--requests", type=int, default=100)
    ap.add_argument("--conns", type=int, default=500)
    ap.add_argument("--path")
    ap.add_argument("--sha256")
    ap.add_argument("--wait-secs", type=float, default=30.0)
    args = ap.parse_args()
    args.body_bytes = args.body.encode().decode("unicode_escape").encode("latin-1")
    for name in args.checks:
        try:
            print(CHECKS[name](args), flush=True)
        except (OSError, Fail, ValueError) as e:
            print(f"http_client: FAIL {name}: {e}", file=sys.stderr)
            sys.exit(1)


if __name__ == "__main__":
    main()
