#!/usr/bin/env python3
"""redis_client.py - a small RESP client (stdlib only) that checks a Redis
server byte for byte against what it sent.  Used by tests/netstack/test_redis.sh
on the user-space stack and, as ground truth, on the kernel.

  redis_client.py [--host H] [--port P] [--time-limit S] CHECK [CHECK...]

Checks (each bounded in count and time):
  values     SET then GET of random binary values from 1 B to 512 KiB (sizes
             spread log-uniformly over the range, both ends included),
             pipelined: every command of a batch is written before a reply is
             read; each GET reply compared with the bytes sent; then STRLEN
             and a GET of a key never set.          --values N (default 200)
  conns      N connections (default 1,000) opened and all kept open at once:
             each SETs its own value, then (all still open) each GETs it
             back; INFO clients must count all N; then all are closed and the
             count must come back down.           --conns N
  vanish     clients that vanish mid-request: half a command then close, or
             reset (SO_LINGER 0); a big SET's first bytes then close or reset;
             a big GET never read then reset; connect-and-close.  Afterwards
             the server still serves, none of the half-sent SETs took
             effect, and its client count returns to what it was.
                                                  --vanish-rounds N (default 10)
  bgsave     fills keys, BGSAVE (the server was started with --dir), and
             keeps serving SET/GET (compared) while the child saves, until
             INFO persistence shows rdb_bgsave_in_progress:0 and
             rdb_last_bgsave_status:ok.  With --rdb-dir DIR, DIR/dump.rdb
             must then exist, start with "REDIS" and be at least as large
             as the random bytes stored.
  all        values conns vanish bgsave
  alone      the server counts only this connection (connected_clients 1)
             within --alone-secs (default 0.5): every earlier client, including
             processes that exited without closing their sockets (as
             redis-cli does), is gone.  The kernel sends their FIN at exit, so
             the server drops them at once; a stack that sends nothing at
             exit leaves them until a retransmission draws a RST from a later
             process (seconds), or for good.

Prints one line per check passed.  On any mismatch or error: one line
"redis_client: FAIL <check>: <reason>" on stderr and exit status 1.
"""

import argparse
import os
import random
import resource
import signal
import socket
import struct
import sys
import threading
import time

MAX_VALUE = 512 * 1024


class Fail(Exception):
    pass


class TimeLimit(Exception):
    pass


# --- RESP -----------------------------------------------------------------

def command(*args):
    """Encode one command as a RESP array of bulk strings."""
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if isinstance(a, str):
            a = a.encode()
        elif isinstance(a, int):
            a = b"%d" % a
        out.append(b"$%d\r\n" % len(a))
        out.append(a)
        out.append(b"\r\n")
    return b"".join(out)


class Error(object):
    """A RESP error reply (-ERR ...)."""

    def __init__(self, text):
        self.text = text

    def __repr__(self):
        return "Error(%r)" % self.text


class Conn(object):
    """One connection with a read buffer; replies parsed as they arrive."""

    def __init__(self, host, port, timeout=30.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        self.pos = 0

    def close(self):
        self.sock.close()

    def _fill(self):
        if self.pos > 1 << 20 and self.pos > len(self.buf) // 2:
            del self.buf[:self.pos]
            self.pos = 0
        data = self.sock.recv(1 << 20)
        if not data:
            raise Fail("connection closed by the server while a reply was expected")
        self.buf += data

    def _line(self):
        while True:
            i = self.buf.find(b"\r\n", self.pos)
            if i >= 0:
                line = bytes(self.buf[self.pos:i])
                self.pos = i + 2
                return line
            self._fill()

    def _exact(self, n):
        while len(self.buf) - self.pos < n + 2:
            self._fill()
        data = bytes(self.buf[self.pos:self.pos + n])
        if self.buf[self.pos + n:self.pos + n + 2] != b"\r\n":
            raise Fail("bulk reply of %d bytes not followed by CRLF" % n)
        self.pos += n + 2
        return data

    def reply(self):
        line = self._line()
        if not line:
            raise Fail("empty reply line")
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            return Error(rest.decode(errors="replace"))
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self._exact(n)
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self.reply() for _ in range(n)]
        raise Fail("unexpected reply type byte %r (line %r)" % (kind, line[:60]))

    def call(self, *args):
        self.sock.sendall(command(*args))
        return self.reply()

    def pipeline(self, payload, count):
        """Write PAYLOAD (COUNT commands) from a thread while reading the
        COUNT replies here: neither side can stall the other."""
        err = []

        def writer():
            try:
                self.sock.sendall(payload)
            except OSError as e:
                err.append(e)

        t = threading.Thread(target=writer, daemon=True)
        t.start()
        try:
            replies = [self.reply() for _ in range(count)]
        finally:
            t.join(timeout=60)
        if err:
            raise Fail("writing the pipeline failed: %s" % err[0])
        if t.is_alive():
            raise Fail("the pipeline writer did not finish")
        return replies


def info(conn, section):
    text = conn.call("INFO", section)
    if not isinstance(text, bytes):
        raise Fail("INFO %s returned %r" % (section, text))
    fields = {}
    for line in text.decode(errors="replace").splitlines():
        if ":" in line and not line.startswith("#"):
            k, v = line.split(":", 1)
            fields[k] = v.strip()
    return fields


def expect(what, got, want):
    if got != want:
        raise Fail("%s: got %s, expected %s" % (what, short(got), short(want)))


def short(v):
    if isinstance(v, bytes) and len(v) > 40:
        return "%d bytes %r..." % (len(v), v[:16])
    return repr(v)


def first_difference(a, b):
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return i
    return min(len(a), len(b))


# --- the checks -------------------------------------------------------------

def sizes(n, rng):
    """n sizes from 1 to MAX_VALUE, log-uniform, both ends included, plus
    the edges that matter to a stream (MSS, 64 KiB windows)."""
    fixed = [1, 2, 1459, 1460, 1461, 65535, 65536, 65537, MAX_VALUE - 1, MAX_VALUE]
    out = fixed[:n]
    while len(out) < n:
        out.append(int(round(2 ** rng.uniform(0, 19))))
    rng.shuffle(out)
    return out


def check_values(args, rng, tag):
    n = args.values
    conn = Conn(args.host, args.port)
    keys = ["zpv:%s:%d" % (tag, i) for i in range(n)]
    vals = [os.urandom(s) for s in sizes(n, rng)]
    # make sure the protocol's own bytes occur inside values
    if n > 2 and len(vals[2]) >= 4:
        vals[2] = b"\r\n$-1\r\n"[:len(vals[2])] + vals[2][8:]
    total = sum(len(v) for v in vals)
    batch = max(1, args.batch)
    for lo in range(0, n, batch):
        hi = min(n, lo + batch)
        payload = b"".join(command("SET", keys[i], vals[i]) for i in range(lo, hi))
        for i, r in enumerate(conn.pipeline(payload, hi - lo)):
            expect("SET %s (%d bytes)" % (keys[lo + i], len(vals[lo + i])), r, "OK")
    for lo in range(0, n, batch):
        hi = min(n, lo + batch)
        payload = b"".join(command("GET", keys[i]) for i in range(lo, hi))
        for i, r in enumerate(conn.pipeline(payload, hi - lo)):
            v = vals[lo + i]
            if r != v:
                if isinstance(r, bytes):
                    raise Fail("GET %s: %d bytes back for %d sent, first difference at byte %d"
                               % (keys[lo + i], len(r), len(v), first_difference(r, v)))
                raise Fail("GET %s: got %s for %d bytes sent" % (keys[lo + i], short(r), len(v)))
    payload = b"".join(command("STRLEN", k) for k in keys)
    for k, v, r in zip(keys, vals, conn.pipeline(payload, n)):
        expect("STRLEN " + k, r, len(v))
    expect("GET of a key never set", conn.call("GET", "zpv:%s:never-set" % tag), None)
    payload = b"".join(command("DEL", k) for k in keys)
    deleted = sum(r for r in conn.pipeline(payload, n))
    expect("keys deleted", deleted, n)
    conn.close()
    return "values: %d SET/GET pipelined (batches of %d), 1 B..512 KiB, %d bytes compared" % (
        n, batch, total)


def raise_nofile(need):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= need:
        return
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(need, soft), max(need, hard)))
    except (ValueError, OSError) as e:
        raise Fail("cannot raise the open-file limit to %d (soft %d, hard %d): %s"
                   % (need, soft, hard, e))


def clients_count(conn):
    return int(info(conn, "clients")["connected_clients"])


def named_clients(conn, name):
    """How many connections the server holds with CLIENT SETNAME NAME."""
    text = conn.call("CLIENT", "LIST")
    if not isinstance(text, bytes):
        raise Fail("CLIENT LIST returned %r" % (text,))
    return sum(1 for line in text.decode(errors="replace").splitlines()
               if (" name=%s " % name) in line)


def wait_named_gone(conn, name, secs):
    """Poll until no connection named NAME is left (bounded); return the count."""
    deadline = time.monotonic() + secs
    while True:
        n = named_clients(conn, name)
        if n == 0 or time.monotonic() > deadline:
            return n
        time.sleep(0.1)


def wait_clients(conn, want, secs):
    """Poll until connected_clients == want (bounded); return the last count."""
    deadline = time.monotonic() + secs
    while True:
        n = clients_count(conn)
        if n == want or time.monotonic() > deadline:
            return n
        time.sleep(0.1)


def check_conns(args, rng, tag):
    n = args.conns
    raise_nofile(n + 256)
    ctl = Conn(args.host, args.port)
    name = "zpc-" + tag
    conns = []
    t0 = time.monotonic()
    try:
        for i in range(n):
            try:
                conns.append(Conn(args.host, args.port, timeout=20))
            except OSError as e:
                raise Fail("connection %d of %d: %s" % (i + 1, n, e))
        opened = time.monotonic() - t0
        vals = [os.urandom(rng.randint(1, 64)) for _ in range(n)]
        # every SET written before any reply is read, then every GET likewise
        for i, c in enumerate(conns):
            c.sock.sendall(command("CLIENT", "SETNAME", name) + command("SET", "zpc:%s:%d" % (tag, i), vals[i]))
        for i, c in enumerate(conns):
            expect("CLIENT SETNAME on connection %d" % i, c.reply(), "OK")
            expect("SET on connection %d" % i, c.reply(), "OK")
        for i, c in enumerate(conns):
            c.sock.sendall(command("GET", "zpc:%s:%d" % (tag, i)))
        for i, c in enumerate(conns):
            expect("GET on connection %d" % i, c.reply(), vals[i])
        held = named_clients(ctl, name)
        if held != n:
            raise Fail("CLIENT LIST shows %d of our %d open connections" % (held, n))
        # one more round on the first and last connections, all still open
        for i in (0, n - 1):
            expect("PING on connection %d" % i, conns[i].call("PING"), "PONG")
    finally:
        for c in conns:
            c.close()
    left = wait_named_gone(ctl, name, 15)
    if left:
        raise Fail("15 s after closing our %d connections the server still holds %d of them"
                   % (n, left))
    payload = b"".join(command("DEL", "zpc:%s:%d" % (tag, i)) for i in range(n))
    deleted = sum(ctl.pipeline(payload, n))
    expect("keys deleted", deleted, n)
    ctl.close()
    return "conns: %d connections open at once (opened in %.1f s), each SET/GET compared, all %d in CLIENT LIST, all gone after close" % (
        n, opened, held)


def vanish_once(args, how, key, big_value_len, name):
    s = socket.create_connection((args.host, args.port), timeout=10)
    s.sendall(command("CLIENT", "SETNAME", name))
    got = b""
    while not got.endswith(b"\r\n"):
        chunk = s.recv(64)
        if not chunk:
            raise Fail("connection closed before CLIENT SETNAME was answered")
        got += chunk
    if got != b"+OK\r\n":
        raise Fail("CLIENT SETNAME replied %r" % got)
    if how.endswith("-reset"):
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    if how.startswith("half"):
        full = command("SET", key, "never-stored")
        s.sendall(full[:len(full) // 2])
    elif how.startswith("bigset"):
        head = b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n" % (len(key), key.encode(), big_value_len)
        s.sendall(head + os.urandom(big_value_len // 5))
    elif how == "bigget-unread-reset":
        s.sendall(command("GET", "zpv:big") * 4)
        time.sleep(0.01)
    elif how == "connect-close":
        pass
    s.close()


VANISH_KINDS = ["half-close", "half-reset", "bigset-close", "bigset-reset",
                "bigget-unread-reset", "connect-close"]


def check_vanish(args, rng, tag):
    ctl = Conn(args.host, args.port)
    expect("SET zpv:big", ctl.call("SET", "zpv:big", os.urandom(MAX_VALUE)), "OK")
    name = "zpx-" + tag
    keys = []
    done = 0
    for r in range(args.vanish_rounds):
        for how in VANISH_KINDS:
            key = "zpx:%s:%d:%s" % (tag, r, how)
            keys.append(key)
            try:
                vanish_once(args, how, key, MAX_VALUE, name)
            except OSError as e:
                raise Fail("%s client (round %d): %s" % (how, r, e))
            done += 1
        # the server still serves, on a new connection, after each round
        c = Conn(args.host, args.port, timeout=10)
        v = os.urandom(rng.randint(1, 4096))
        expect("SET after vanishing clients (round %d)" % r, c.call("SET", "zpx:%s:alive" % tag, v), "OK")
        expect("GET after vanishing clients (round %d)" % r, c.call("GET", "zpx:%s:alive" % tag), v)
        c.close()
    payload = b"".join(command("EXISTS", k) for k in keys)
    present = [k for k, n in zip(keys, ctl.pipeline(payload, len(keys))) if n != 0]
    if present:
        raise Fail("a half-sent SET took effect: %s" % present[0])
    left = wait_named_gone(ctl, name, 15)
    if left:
        raise Fail("%d clients vanished but 15 s later the server still holds %d of them"
                   % (done, left))
    ctl.call("DEL", "zpv:big", "zpx:%s:alive" % tag)
    ctl.close()
    return "vanish: %d clients vanished mid-request (%s), server still serves, no partial SET stored, all %d gone from CLIENT LIST" % (
        done, ", ".join(VANISH_KINDS), done)


def check_bgsave(args, rng, tag):
    ctl = Conn(args.host, args.port)
    nkeys = args.bgsave_keys
    vals = [os.urandom(rng.randint(256, 2048)) for _ in range(nkeys)]
    stored = sum(len(v) for v in vals)
    payload = b"".join(command("SET", "zpb:%s:%d" % (tag, i), v) for i, v in enumerate(vals))
    for r in ctl.pipeline(payload, nkeys):
        expect("SET before BGSAVE", r, "OK")
    if info(ctl, "persistence").get("rdb_bgsave_in_progress") != "0":
        raise Fail("a BGSAVE was already in progress before ours")
    # slow the child down (microseconds per key) so the save surely overlaps
    # the serving below; put back afterwards
    old_delay = ctl.call("CONFIG", "GET", "rdb-key-save-delay")
    expect("CONFIG SET rdb-key-save-delay", ctl.call("CONFIG", "SET", "rdb-key-save-delay", "200"), "OK")
    try:
        r = ctl.call("BGSAVE")
        if not (isinstance(r, str) and "Background saving started" in r):
            raise Fail("BGSAVE replied %r" % (r,))
        served = seen_busy = 0
        worker = Conn(args.host, args.port)
        deadline = time.monotonic() + args.bgsave_secs
        while True:
            p = info(ctl, "persistence")
            busy = p.get("rdb_bgsave_in_progress") == "1"
            if not busy:
                break
            seen_busy += 1
            if time.monotonic() > deadline:
                raise Fail("BGSAVE still in progress after %d s" % args.bgsave_secs)
            for _ in range(20):
                i = rng.randrange(nkeys)
                v = os.urandom(rng.randint(1, 8192))
                expect("SET during BGSAVE", worker.call("SET", "zpb:%s:live" % tag, v), "OK")
                expect("GET during BGSAVE", worker.call("GET", "zpb:%s:live" % tag), v)
                expect("GET of a saved key during BGSAVE", worker.call("GET", "zpb:%s:%d" % (tag, i)), vals[i])
                served += 1
        worker.close()
    finally:
        if isinstance(old_delay, list) and len(old_delay) == 2:
            ctl.call("CONFIG", "SET", "rdb-key-save-delay", old_delay[1])
    status = p.get("rdb_last_bgsave_status")
    if status != "ok":
        raise Fail("rdb_last_bgsave_status:%s after BGSAVE" % status)
    if seen_busy == 0 or served == 0:
        raise Fail("the BGSAVE ended before any request was served during it (nothing checked)")
    detail = ""
    if args.rdb_dir:
        path = os.path.join(args.rdb_dir, "dump.rdb")
        try:
            with open(path, "rb") as f:
                head = f.read(5)
            size = os.path.getsize(path)
        except OSError as e:
            raise Fail("after BGSAVE: %s" % e)
        if head != b"REDIS":
            raise Fail("%s starts with %r, not REDIS" % (path, head))
        if size < stored:
            raise Fail("%s is %d bytes, less than the %d random bytes stored" % (path, size, stored))
        detail = ", %s %d bytes" % (path, size)
    payload = b"".join(command("DEL", "zpb:%s:%d" % (tag, i)) for i in range(nkeys))
    ctl.pipeline(payload, nkeys)
    ctl.call("DEL", "zpb:%s:live" % tag)
    ctl.close()
    return "bgsave: %d keys saved by the child while %d SET/GET rounds were served and compared, status ok%s" % (
        nkeys, served, detail)


def check_alone(args, rng, tag):
    ctl = Conn(args.host, args.port)
    first = clients_count(ctl)
    n = wait_clients(ctl, 1, args.alone_secs)
    if n != 1:
        others = [line for line in ctl.call("CLIENT", "LIST").decode(errors="replace").splitlines()
                  if "cmd=client|list" not in line]
        ages = sorted(int(f.split("=")[1]) for line in others for f in line.split() if f.startswith("age="))
        raise Fail("%d other clients connected at first look, %d still after %g s (ages %s s; "
                   "last commands %s): connections of exited client processes were not closed"
                   % (first - 1, n - 1, args.alone_secs, ages[:5] + (["..."] if len(ages) > 5 else []),
                      sorted(set(f.split("=")[1] for line in others for f in line.split()
                                 if f.startswith("cmd=")))))
    ctl.close()
    return "alone: no other client connected (%d at first look)" % (first - 1)


CHECKS = {"values": check_values, "conns": check_conns, "vanish": check_vanish,
          "bgsave": check_bgsave}
EXTRA_CHECKS = {"alone": check_alone}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("checks", nargs="+", choices=list(CHECKS) + list(EXTRA_CHECKS) + ["all"])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=6379)
    ap.add_argument("--values", type=int, default=200)
    ap.add_argument("--batch", type=int, default=50, help="commands per pipelined write")
    ap.add_argument("--conns", type=int, default=1000)
    ap.add_argument("--vanish-rounds", type=int, default=10)
    ap.add_argument("--bgsave-keys", type=int, default=5000)
    ap.add_argument("--bgsave-secs", type=int, default=60)
    ap.add_argument("--rdb-dir", default="")
    ap.add_argument("--alone-secs", type=float, default=0.5)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--time-limit", type=int, default=240, help="seconds for everything")
    args = ap.parse_args()

    names = []
    for c in args.checks:
        names += list(CHECKS) if c == "all" else [c]
    seed = args.seed if args.seed is not None else int.from_bytes(os.urandom(4), "little")
    rng = random.Random(seed)
    tag = "%d-%x" % (os.getpid(), seed)

    def on_alarm(signum, frame):
        raise TimeLimit()

    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(args.time_limit)
    current = "?"
    try:
        for current in names:
            t0 = time.monotonic()
            line = dict(CHECKS, **EXTRA_CHECKS)[current](args, rng, tag)
            print("%s (%.1f s)" % (line, time.monotonic() - t0), flush=True)
    except Fail as e:
        sys.exit("redis_client: FAIL %s: %s (seed %d)" % (current, e, seed))
    except TimeLimit:
        sys.exit("redis_client: FAIL %s: time limit of %d s reached (seed %d)"
                 % (current, args.time_limit, seed))
    except (OSError, ValueError) as e:
        sys.exit("redis_client: FAIL %s: %s: %s (seed %d)" % (current, type(e).__name__, e, seed))
    signal.alarm(0)


if __name__ == "__main__":
    main()
