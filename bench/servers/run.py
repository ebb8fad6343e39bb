#!/usr/bin/env python3
"""bench/servers/run.py - Experiment 2 of the zpoline paper: unmodified
servers on the user-space TCP/IP stack (lwIP over DPDK memif), reached
through each system-call hook mechanism, against the kernel's TCP stack.

Servers (Debian's, unmodified) and their clients:
  redis-get, redis-set   redis-server; redis-benchmark -c N -P 1 -t set,get
                         --csv (one invocation gives both figures)
  nginx                  nginx (nginx-light), one process answering a fixed
                         body (`return 200`); wrk -t1 -c N -d Ds --latency
at concurrency N in 1, 4, 16, 64 (--quick: 1, 16).

Mechanisms (how the server's system calls reach the netstack hook):
  kernel    no hook: server and client natively on the kernel's loopback
            (a network namespace of ours with lo up): the reference line
  preload   LD_PRELOAD wrappers of libc's socket functions (not exhaustive;
            the paper's minimum-overhead case)
  zpoline   every syscall instruction rewritten (the default mechanism)
  sud       Syscall User Dispatch (SIGSYS per call)
  int3      zpoline's sites as int3 traps
  seccomp   seccomp SECCOMP_RET_TRAP (SIGSYS per call)
  ptrace    a tracer runs the hook
every one as `loaders/zprun --mechanism NAME --hook netstack -- server ...`,
the server as the memif server 10.77.1.1 in a network namespace of ours whose
lo is down.  The client (redis-benchmark, wrk, the probes) always runs under
`zprun --hook netstack` (zpoline) as the memif client, each client process
with an address of its own (10.77.1.10 to .249 in turn; see
Setup.client_prefix): both ends are in user space and no kernel path exists
between them.

Rounds: each round runs every mechanism once, in an order rotated by one
per round (so each mechanism takes each position as often; drift hits all
alike); per mechanism and round: a fresh redis-server, all levels, stop; a
fresh nginx, all levels, stop.  The request count of redis-benchmark is
chosen per mechanism and level so that a run takes about --seconds (the
first guess from the mechanism's class, then from what was measured);
wrk runs a fixed duration.  Median of the rounds with min and max.

Checks (any failure: the harness says why, exits 1, writes nothing):
  - every requested mechanism is available (`zprun --mechanism M` runs);
  - redis: a SET/GET of a random value through the client mechanism before
    the runs; every redis-benchmark exits 0 with a SET and a GET figure; the
    server's INFO commandstats count exactly the SETs and GETs sent; the
    server is alive after every run and exits 0 on SIGTERM;
  - nginx: GET / answers 200 with the exact body before the runs
    (tests/netstack/http_client.py); every wrk exits 0, completes requests,
    reports no socket error and no non-2xx response; the server is alive
    after every run, exits 0 on SIGQUIT, and its error log has no [error],
    [crit], [alert] or [emerg] line;
  - nothing is left in /var/run/dpdk by our processes.

  python3 bench/servers/run.py                  full run (all mechanisms)
  python3 bench/servers/run.py --quick          short run (make bench QUICK=1)
  --mechanisms kernel,preload,zpoline           a subset (the kernel line and
                                                the ratios need kernel/preload)
  --runs R (>= 5)   --seconds S (per redis-benchmark test)   --wrk-secs S
  --workloads redis,nginx   --levels 1,4,16,64
"""

import argparse
import math
import os
import re
import shlex
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import benchlib  # noqa: E402

REPO = benchlib.REPO
SECTION = "servers"
OLD_SECTION = "netstack-redis"      # what this experiment replaced
IMG_DIR = os.path.join(REPO, "docs", "img")
ZPRUN = os.path.join("loaders", "zprun")
NETSTACK_HOOK = os.path.join(REPO, "hooklib", "libzphook_netstack.so")
HTTP_CLIENT = os.path.join("tests", "netstack", "http_client.py")
PY = "/usr/bin/python3"             # Debian's (a pyenv shim is a shell script)
DPDK_RUN = "/var/run/dpdk"

MECHANISMS = ["kernel", "preload", "zpoline", "sud", "int3", "seccomp", "ptrace"]
LABELS = {
    "kernel": "kernel TCP (loopback)",
    "preload": "LD_PRELOAD wrappers",
    "zpoline": "zpoline",
    "sud": "Syscall User Dispatch",
    "int3": "int3",
    "seccomp": "seccomp RET_TRAP",
    "ptrace": "ptrace",
}
# The paper's exhaustive alternatives, whose loss against the minimum-
# overhead case it reports (72.3% to 98.8%); seccomp is measured too.
PAPER_ALTERNATIVES = ("sud", "int3", "ptrace")
PAPER_LOSS = (0.723, 0.988)
PAPER = ("zpoline paper (USENIX ATC 2023), Redis on lwIP+DPDK: zpoline 5.2% below the "
         "LD_PRELOAD case; the other exhaustive mechanisms lose 72.3% to 98.8%")

WORKLOADS = ["redis-get", "redis-set", "nginx"]
WL_TITLE = {"redis-get": "Redis GET (redis-benchmark -P 1)",
            "redis-set": "Redis SET (redis-benchmark -P 1)",
            "nginx": "nginx, fixed body (wrk -t1)"}
LEVELS = {"full": [1, 4, 16, 64], "quick": [1, 16]}
SECONDS = {"full": 2.0, "quick": 0.2}     # per redis-benchmark test (SET, GET)
WRK_SECS = {"full": 3, "quick": 1}
# First guess of req/s per mechanism, only to size the first redis-benchmark
# run; later runs are sized from the rates measured.
GUESS_RPS = {"kernel": 60000, "preload": 100000, "zpoline": 100000, "sud": 15000,
             "int3": 15000, "seccomp": 15000, "ptrace": 1000}
MIN_REQUESTS, MAX_REQUESTS = 200, 3_000_000

REDIS_PORT, HTTP_PORT = 6379, 8080
SERVER_ADDR = "10.77.1.1"
# client processes take 10.77.1.10 ... 10.77.1.249 in turn (Setup.client_prefix)
CLIENT_ADDR_FMT, CLIENT_ADDR_FIRST, CLIENT_ADDR_COUNT = "10.77.1.{}", 10, 240
KERNEL_ADDR = "127.0.0.1"
MAC_SERVER, MAC_CLIENT = "02:7a:70:00:00:01", "02:7a:70:00:00:02"
HTTP_BODY = "hello from exitless\\n"     # nginx's `return` and http_client's --body unescape it
START_SECS = 90          # a server under ptrace starts slowly (DPDK's init, traced)
STOP_SECS = 30

CLEAN_ENV = ("LD_PRELOAD", "LIBZPHOOK", "ZP_VERBOSE", "ZP_SUD", "ZP_SAVE_VECTOR", "ZP_NET_DEV",
             "ZP_NET_ADDR", "ZP_NET_MASK", "ZP_NET_GATE", "ZP_DPDK_ARGS", "ZP_NET_STATS",
             "ZP_NET_SPIN_US")

Fail = benchlib.BenchFailure


def base_env():
    env = dict(os.environ)
    for k in CLEAN_ENV:
        env.pop(k, None)
    return env


def sh(argv):
    return shlex.join(argv)


def run(argv, timeout, stdin_text=None):
    """Run to completion (bounded); returns the CompletedProcess."""
    try:
        return subprocess.run(argv, cwd=REPO, env=base_env(), input=stdin_text,
                              stdin=None if stdin_text is not None else subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise Fail(f"timed out after {timeout:.0f} s: {sh(argv)}")
    except OSError as e:
        raise Fail(f"cannot run {sh(argv)}: {e}")


# --- how each mechanism runs a server and its clients ---------------------------------

class Setup:
    """Network namespaces and the command prefixes of one mechanism."""

    def __init__(self, mech, memif_ns, kernel_ns):
        self.mech = mech
        self.memif_ns = memif_ns
        self.kernel_ns = kernel_ns
        self.host = KERNEL_ADDR if mech == "kernel" else SERVER_ADDR

    def server_prefix(self, sock):
        if self.mech == "kernel":
            return ["ip", "netns", "exec", self.kernel_ns]
        return ["ip", "netns", "exec", self.memif_ns, "env",
                f"ZP_NET_DEV=net_memif0,role=server,socket={sock},mac={MAC_SERVER}",
                f"ZP_NET_ADDR={SERVER_ADDR}", "ZP_NET_MASK=255.255.255.0",
                ZPRUN, "--mechanism", self.mech, "--hook", "netstack", "--"]

    def client_prefix(self, sock, addr=None):
        """A client process: each gets its own address (ADDR, else the next
        of CLIENT_ADDRS).  lwIP answers a SYN that hits one of its TIME_WAIT
        connections with an ACK and ignores the RST that follows (RFC 1337),
        where Linux would accept the new connection: a client process that
        picks a port the previous one used with the same address (one in a
        few hundred after a busy run) cannot connect.  A fresh address per
        client process keeps the 4-tuples apart, as distinct hosts would."""
        if self.mech == "kernel":
            return ["ip", "netns", "exec", self.kernel_ns]
        if addr is None:
            addr = next_client_addr()
        return ["ip", "netns", "exec", self.memif_ns, "env",
                f"ZP_NET_DEV=net_memif0,role=client,socket={sock},mac={MAC_CLIENT}",
                f"ZP_NET_ADDR={addr}", "ZP_NET_MASK=255.255.255.0",
                ZPRUN, "--hook", "netstack", "--"]


_client_seq = [0]


def next_client_addr():
    _client_seq[0] += 1
    return CLIENT_ADDR_FMT.format(CLIENT_ADDR_FIRST + _client_seq[0] % CLIENT_ADDR_COUNT)


def nginx_conf(tmp, host):
    """One nginx process answering a fixed body; every path it writes in tmp.
    keepalive_requests: wrk's connections stay open for the whole run (as
    redis-benchmark's do) instead of being closed by nginx every 1,000
    requests, which would add connection set-ups to what is measured."""
    return f"""daemon off;
master_process off;
worker_processes 1;
error_log {tmp}/error.log notice;
pid {tmp}/nginx.pid;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    keepalive_requests 1000000;
    client_body_temp_path {tmp}/client_body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    server {{
        listen {host}:{HTTP_PORT};
        location / {{ return 200 "{HTTP_BODY}"; }}
    }}
}}
"""


def redis_server_argv(host, redis_dir):
    return ["redis-server", "--save", "", "--appendonly", "no", "--protected-mode", "no",
            "--bind", host, "--port", str(REDIS_PORT), "--dir", redis_dir, "--daemonize", "no"]


def nginx_argv(tmp):
    return ["nginx", "-c", os.path.join(tmp, "nginx.conf"), "-p", tmp]


def redis_bench_argv(host, c, n):
    return ["redis-benchmark", "-h", host, "-p", str(REDIS_PORT), "-c", str(c), "-P", "1",
            "-n", str(n), "-t", "set,get", "--csv"]


def wrk_argv(host, c, secs):
    return ["wrk", "-t1", "-c", str(c), "-d", f"{secs}s", "--latency",
            f"http://{host}:{HTTP_PORT}/"]


# --- servers: only ours, by PID ----------------------------------------------------------

class Server:
    def __init__(self, name, argv, log_path):
        self.name = name              # the server program's name (its comm)
        self.argv = argv
        self.log_path = log_path
        self.log = open(log_path, "w")
        self.proc = subprocess.Popen(argv, cwd=REPO, env=base_env(), stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=subprocess.STDOUT)

    def alive(self):
        return self.proc.poll() is None

    def log_tail(self, n=6):
        try:
            with open(self.log_path, errors="replace") as f:
                return " | ".join(line.rstrip() for line in f.readlines()[-n:])
        except OSError:
            return "(no log)"

    def target_pid(self):
        """The server process itself: our PID (ip netns exec, env and zprun
        exec it), or, when a tracer runs it (--mechanism ptrace), our
        process's child that carries the server's name."""
        pid = self.proc.pid
        for _ in range(3):
            try:
                with open(f"/proc/{pid}/comm") as f:
                    if f.read().strip() == self.name[:15]:
                        return pid
                kids = []
                for task in os.listdir(f"/proc/{pid}/task"):
                    with open(f"/proc/{pid}/task/{task}/children") as f:
                        kids += [int(k) for k in f.read().split()]
            except OSError:
                break
            if not kids:
                break
            pid = kids[0]
        return self.proc.pid

    def stop(self, sig, secs=STOP_SECS):
        """Signal the server, wait; its exit status (None: had to be killed)."""
        if self.proc.poll() is None:
            try:
                os.kill(self.target_pid(), sig)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=secs)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                self.log.close()
                return None
        self.log.close()
        return self.proc.returncode


def memif_listening(netns, sock):
    p = subprocess.run(["ip", "netns", "exec", netns, "ss", "-xlnH"], capture_output=True,
                       text=True, timeout=10)
    return any(len(f) > 4 and f[4] in (sock, "@" + sock)
               for f in (line.split() for line in p.stdout.splitlines()))


def wait_memif(setup, server, sock):
    if setup.mech == "kernel":
        return
    deadline = time.monotonic() + START_SECS
    while time.monotonic() < deadline:
        if not server.alive():
            raise Fail(f"{setup.mech}: {server.name} exited ({server.proc.returncode}) before "
                       f"its memif socket listened: {sh(server.argv)}\n  log: {server.log_tail()}")
        if memif_listening(setup.memif_ns, sock):
            return
        time.sleep(0.1)
    raise Fail(f"{setup.mech}: {server.name}'s memif socket did not listen within {START_SECS} s\n"
               f"  log: {server.log_tail()}")


# --- one mechanism, one round ---------------------------------------------------------------

class Rates:
    """What each run measured, and the request counts used."""

    def __init__(self):
        self.values = {}       # (mech, workload, level) -> [req/s]
        self.requests = {}     # (mech, level) -> [redis-benchmark -n]

    def add(self, mech, wl, level, v):
        self.values.setdefault((mech, wl, level), []).append(v)

    def estimate(self, mech, level, levels):
        """req/s to size the next redis-benchmark run: the slower of SET
        and GET measured at this level, else at the nearest level below,
        else the mechanism's guess."""
        for lv in [level] + sorted((x for x in levels if x < level), reverse=True):
            got = [min(self.values[(mech, wl, lv)]) for wl in ("redis-get", "redis-set")
                   if (mech, wl, lv) in self.values]
            if got:
                return min(got)
        return GUESS_RPS[mech]


def requests_for(rate, seconds):
    n = int(rate * seconds)
    # two significant digits: readable command lines
    if n > 100:
        q = 10 ** (len(str(n)) - 2)
        n = n // q * q
    return max(MIN_REQUESTS, min(MAX_REQUESTS, n))


def parse_csv(text):
    rps = {}
    for line in text.splitlines():
        cells = [c.strip('"') for c in line.strip().split(",")]
        if len(cells) >= 2 and cells[0] in ("SET", "GET"):
            try:
                rps[cells[0]] = float(cells[1])
            except ValueError:
                pass
    return rps


def commandstats(text):
    return {m.group(1): int(m.group(2))
            for m in re.finditer(r"^cmdstat_(\w+):calls=(\d+),", text, re.M)}


def redis_round(setup, opts, rates, tmp, tag):
    mech, host = setup.mech, setup.host
    sock = f"/run/exitless-srv-{os.getpid()}-{tag}-redis.sock"
    cli = lambda: setup.client_prefix(sock)  # noqa: E731  (a fresh address per process)
    rdir = os.path.join(tmp, f"redis-{tag}")
    os.makedirs(rdir, exist_ok=True)
    server = Server("redis-server", setup.server_prefix(sock) + redis_server_argv(host, rdir),
                    os.path.join(tmp, f"redis-{tag}.log"))
    status = "not stopped"
    try:
        wait_memif(setup, server, sock)
        # readiness and a round trip through the same client mechanism
        value = os.urandom(8).hex()
        deadline = time.monotonic() + START_SECS
        last = ""
        while True:
            if not server.alive():
                raise Fail(f"{mech}: redis-server exited ({server.proc.returncode}) before "
                           f"answering\n  log: {server.log_tail()}")
            r = run(cli() + ["redis-cli", "-h", host, "-p", str(REDIS_PORT)], 30,
                    stdin_text=f"SET bench:check {value}\nGET bench:check\n")
            if r.stdout.split() == ["OK", value]:
                break
            last = (r.stdout + r.stderr).strip()[-200:]
            if time.monotonic() > deadline:
                raise Fail(f"{mech}: redis-server did not answer SET/GET within {START_SECS} s; "
                           f"last client output: {last!r}\n  log: {server.log_tail()}")
            time.sleep(0.2)
        sent = 0
        for c in opts.levels:
            n = requests_for(rates.estimate(mech, c, opts.levels), opts.seconds)
            argv = cli() + redis_bench_argv(host, c, n)
            # bounded: far beyond the time the estimate gives (a first guess
            # may be off several-fold)
            res = run(argv, timeout=120 + 40 * opts.seconds)
            if not server.alive():
                raise Fail(f"{mech}: redis-server died during: {sh(argv)}\n  log: {server.log_tail()}")
            if res.returncode != 0:
                raise Fail(f"{mech}: redis-benchmark exit {res.returncode}: {sh(argv)}\n"
                           f"  stderr: {res.stderr.strip()[-400:]}")
            rps = parse_csv(res.stdout)
            if set(rps) != {"SET", "GET"} or min(rps.values()) <= 0:
                raise Fail(f"{mech}: no SET and GET figures from {sh(argv)}: "
                           f"{(res.stdout + res.stderr).strip()[-300:]!r}")
            rates.add(mech, "redis-get", c, rps["GET"])
            rates.add(mech, "redis-set", c, rps["SET"])
            rates.requests.setdefault((mech, c), []).append(n)
            sent += n
        st = run(cli() + ["redis-cli", "-h", host, "-p", str(REDIS_PORT), "info", "commandstats"], 30)
        calls = commandstats(st.stdout)
        want = sent + 1
        if calls.get("set") != want or calls.get("get") != want:
            raise Fail(f"{mech}: redis-server counted SET={calls.get('set')} GET={calls.get('get')}, "
                       f"expected {want} each (the requests sent + the check)")
    finally:
        status = server.stop(signal.SIGTERM)
    if status != 0:
        raise Fail(f"{mech}: redis-server: exit status {status} on SIGTERM (expected 0)\n"
                   f"  log: {server.log_tail()}")


def parse_wrk(text):
    out = {}
    m = re.search(r"^\s*(\d+) requests in ([\d.]+)(\w+)", text, re.M)
    if m:
        out["requests"] = int(m.group(1))
    m = re.search(r"^Requests/sec:\s*([\d.]+)", text, re.M)
    if m:
        out["rps"] = float(m.group(1))
    m = re.search(r"^\s*Socket errors: (.*)$", text, re.M)
    if m:
        out["errors"] = m.group(1).strip()
    m = re.search(r"^\s*Non-2xx or 3xx responses: (\d+)", text, re.M)
    if m:
        out["non2xx"] = int(m.group(1))
    return out


def error_lines(path):
    try:
        with open(path, errors="replace") as f:
            return [line.rstrip() for line in f if re.search(r"\[(error|crit|alert|emerg)\]", line)]
    except OSError:
        return []


def nginx_round(setup, opts, rates, tmp, tag):
    mech, host = setup.mech, setup.host
    sock = f"/run/exitless-srv-{os.getpid()}-{tag}-nginx.sock"
    cli = lambda: setup.client_prefix(sock)  # noqa: E731  (a fresh address per process)
    ndir = os.path.join(tmp, f"nginx-{tag}")
    os.makedirs(ndir, exist_ok=True)
    with open(os.path.join(ndir, "nginx.conf"), "w") as f:
        f.write(nginx_conf(ndir, host))
    server = Server("nginx", setup.server_prefix(sock) + nginx_argv(ndir),
                    os.path.join(tmp, f"nginx-{tag}.log"))
    errlog = os.path.join(ndir, "error.log")
    status = "not stopped"
    try:
        wait_memif(setup, server, sock)
        probe = cli() + [PY, HTTP_CLIENT, "--host", host, "--port", str(HTTP_PORT),
                       "--body", HTTP_BODY, "--wait-secs", str(START_SECS), "wait"]
        r = run(probe, START_SECS + 30)
        if r.returncode != 0 or not server.alive():
            raise Fail(f"{mech}: nginx did not answer GET / with the exact body: "
                       f"{(r.stdout + r.stderr).strip()[-300:]}\n  log: {server.log_tail()}\n"
                       f"  error.log: {' | '.join(error_lines(errlog)[-3:])}")
        for c in opts.levels:
            argv = cli() + wrk_argv(host, c, opts.wrk_secs)
            res = run(argv, timeout=opts.wrk_secs + 60)
            if not server.alive():
                raise Fail(f"{mech}: nginx died during: {sh(argv)}\n  log: {server.log_tail()}")
            w = parse_wrk(res.stdout)
            why = None
            if res.returncode != 0:
                why = f"wrk exit {res.returncode}"
            elif not w.get("requests") or not w.get("rps"):
                why = "no request completed"
            elif "errors" in w:
                why = f"socket errors: {w['errors']}"
            elif w.get("non2xx"):
                why = f"{w['non2xx']} non-2xx/3xx responses"
            if why:
                raise Fail(f"{mech}: {why}: {sh(argv)}\n  output: "
                           f"{(res.stdout + res.stderr).strip()[-400:]}")
            rates.add(mech, "nginx", c, w["rps"])
    finally:
        status = server.stop(signal.SIGQUIT)
    if status != 0:
        raise Fail(f"{mech}: nginx: exit status {status} on SIGQUIT (expected 0)\n"
                   f"  log: {server.log_tail()}\n  error.log: {' | '.join(error_lines(errlog)[-3:])}")
    bad = error_lines(errlog)
    if bad:
        raise Fail(f"{mech}: nginx logged errors: {' | '.join(bad[:3])}")


# --- set-up checks -------------------------------------------------------------------------

def unavailable(mechs):
    """{mechanism: why} for those `zprun --mechanism M --hook netstack` refuses."""
    out = {}
    for m in mechs:
        if m == "kernel":
            continue
        p = subprocess.run([os.path.join(REPO, ZPRUN), "--mechanism", m, "--hook", "netstack",
                            "--", "/bin/true"], capture_output=True, text=True, env=base_env(),
                           timeout=60)
        if p.returncode != 0:
            lines = p.stderr.strip().splitlines()
            out[m] = f"exit {p.returncode}" + (f": {lines[-1]}" if lines else "")
    return out


def dpdk_listing():
    return set(os.listdir(DPDK_RUN)) if os.path.isdir(DPDK_RUN) else set()


def dpdk_leftovers(before):
    left = []
    for e in sorted(dpdk_listing() - before):
        m = re.fullmatch(r"exitless-(\d+)", e)
        if m and os.path.exists(f"/proc/{m.group(1)}"):
            continue       # a process still running (not ours, or not yet gone)
        left.append(e)
    return left


def loadavg():
    """The 1-minute load average: busy-polling stacks need a CPU each, so
    other load on the machine shows in the spread."""
    try:
        with open("/proc/loadavg") as f:
            return f.read().split()[0]
    except OSError:
        return "?"


def versions():
    def pkg(name):
        p = subprocess.run(["dpkg-query", "-W", "-f=${Version}", name], capture_output=True, text=True)
        return p.stdout.strip() if p.returncode == 0 and p.stdout.strip() else "not installed"
    nginx = subprocess.run(["nginx", "-v"], capture_output=True, text=True).stderr.strip()
    lwip = "unknown"
    try:
        # netstack/fetch_lwip.sh keeps the source package in build/lwip/download
        dsc = [f for f in os.listdir(os.path.join(REPO, "build", "lwip", "download"))
               if f.endswith(".dsc")]
        if dsc:
            lwip = dsc[0][len("lwip_"):-len(".dsc")] + " (Debian source package, core built here)"
    except OSError:
        pass
    return [
        f"- Redis: {benchlib.first_line(['redis-server', '--version'])} "
        f"(Debian redis-server {pkg('redis-server')}, redis-tools {pkg('redis-tools')})",
        f"- nginx: {nginx} (Debian nginx-light {pkg('nginx-light')})",
        f"- wrk: Debian wrk {pkg('wrk')}",
        f"- DPDK: {benchlib.first_line(['pkg-config', '--modversion', 'libdpdk'])} (Debian libdpdk-dev "
        f"{pkg('libdpdk-dev')}, linked statically into the hook library; net_memif)",
        f"- lwIP: {lwip}",
    ]


# --- report ----------------------------------------------------------------------------------

def fmt(v):
    return f"{v:,.0f}" if v >= 100 else f"{v:,.1f}"


def geomean(xs):
    return math.exp(sum(math.log(x) for x in xs) / len(xs))


def plot(png, title, mechs, levels, stats):
    """x: concurrency (log 2), y: req/s (log); one line per mechanism with
    min-max bars; the kernel dashed."""
    os.makedirs(os.path.dirname(png), exist_ok=True)
    colors = {"preload": "#2ca02c", "zpoline": "#1f77b4", "sud": "#ff7f0e", "int3": "#9467bd",
              "seccomp": "#8c564b", "ptrace": "#d62728"}
    points = {"preload": 4, "zpoline": 7, "sud": 9, "int3": 11, "seccomp": 13, "ptrace": 5}
    with tempfile.TemporaryDirectory() as tmp:
        plots = []
        lo = min(stats[(m, lv)]["min"] for m in mechs for lv in levels)
        hi = max(stats[(m, lv)]["max"] for m in mechs for lv in levels)
        for m in mechs:
            data = os.path.join(tmp, f"{m}.txt")
            with open(data, "w") as f:
                for lv in levels:
                    s = stats[(m, lv)]
                    f.write(f"{lv} {s['median']} {s['min']} {s['max']}\n")
            if m == "kernel":
                style = 'lc rgb "black" dt 2 lw 2 pt 1'
            else:
                style = f'lc rgb "{colors[m]}" lw 2 pt {points[m]}'
            plots.append(f'{benchlib.gp_str(data)} using 1:2:3:4 with yerrorlines {style} '
                         f'title {benchlib.gp_str(LABELS[m])}')
        xt = ", ".join(f'"{lv}" {lv}' for lv in levels)
        script = f"""
set terminal pngcairo size 900,600 font "Sans,10"
set output {benchlib.gp_str(png)}
set title {benchlib.gp_str(title)} noenhanced
set xlabel "concurrent connections"
set ylabel "requests per second (log scale)"
set logscale x 2
set logscale y
set xrange [{levels[0] / 1.5}:{levels[-1] * 1.5}]
set yrange [{lo / 2}:{hi * 3}]
set xtics ({xt})
set grid ytics mytics xtics
set key outside right center noenhanced
set bars small
plot {", ".join(plots)}
"""
        try:
            subprocess.run(["gnuplot"], input=script, text=True, check=True, capture_output=True,
                           timeout=60)
        except FileNotFoundError:
            raise Fail("gnuplot not found (apt-get install gnuplot-nox, or `make deps`)")
        except subprocess.CalledProcessError as e:
            raise Fail(f"gnuplot failed: {e.stderr.strip()}")
    return png


def report(opts, mechs, rates, elapsed, argv_shown, img_dir):
    stats = {k: benchlib.summarize(v) for k, v in rates.values.items()}
    levels = opts.levels
    wls = opts.workload_list
    med = lambda m, wl, lv: stats[(m, wl, lv)]["median"]  # noqa: E731
    out = []
    tables = []
    for wl in wls:
        t = [f"### {WL_TITLE[wl]}", "",
             "Requests per second, median of the rounds [min-max]:", "",
             "| Mechanism | " + " | ".join(f"c={lv}" for lv in levels) + " |",
             "|---|" + "---:|" * len(levels)]
        for m in mechs:
            cells = []
            for lv in levels:
                s = stats[(m, wl, lv)]
                cells.append(f"{fmt(s['median'])} [{fmt(s['min'])}-{fmt(s['max'])}]")
            t.append(f"| {LABELS[m]} | " + " | ".join(cells) + " |")
        refs = [r for r in ("kernel", "preload") if r in mechs]
        if refs:
            t += ["", "Ratio of the medians to " + " and to ".join(
                {"kernel": "the kernel", "preload": "the LD_PRELOAD case"}[r] for r in refs) + ":", "",
                  "| Mechanism | " + " | ".join(f"c={lv} / {r}" for lv in levels for r in refs) + " |",
                  "|---|" + "---:|" * (len(levels) * len(refs))]
            for m in mechs:
                cells = [f"{med(m, wl, lv) / med(r, wl, lv):.3f}" for lv in levels for r in refs]
                t.append(f"| {LABELS[m]} | " + " | ".join(cells) + " |")
        t += ["", f"![{WL_TITLE[wl]}: requests per second per mechanism](img/servers-{wl}.png)", ""]
        tables.append("\n".join(t))

    # targets, over the Redis figures (the paper's experiment)
    redis = [(wl, lv) for wl in ("redis-get", "redis-set") if wl in wls for lv in levels]
    checks = []
    if redis and "preload" in mechs:
        if "zpoline" in mechs:
            ratios = [med("zpoline", wl, lv) / med("preload", wl, lv) for wl, lv in redis]
            g = geomean(ratios)
            checks.append(("zpoline vs LD_PRELOAD on Redis: within 5% (published: -5.2%)",
                           f"{(g - 1) * 100:+.1f}% (geometric mean of {len(ratios)} figures; "
                           f"each: {min(ratios) * 100 - 100:+.1f}% to {max(ratios) * 100 - 100:+.1f}%)",
                           abs(g - 1) <= 0.05))
        for m in PAPER_ALTERNATIVES + ("seccomp",):
            if m not in mechs:
                continue
            losses = [1 - med(m, wl, lv) / med("preload", wl, lv) for wl, lv in redis]
            g = 1 - geomean([1 - x for x in losses])
            target = m in PAPER_ALTERNATIVES
            checks.append((f"{LABELS[m]} loss vs LD_PRELOAD on Redis"
                           + (": in 72.3%-98.8% (published)" if target else " (not in the paper)"),
                           f"{g * 100:.1f}% (from the geometric mean of the ratios; each: "
                           f"{min(losses) * 100:.1f}% to {max(losses) * 100:.1f}%)",
                           (PAPER_LOSS[0] <= g <= PAPER_LOSS[1]) if target else None))
    missing = [m for m in ("zpoline",) + PAPER_ALTERNATIVES if m not in mechs]
    ttable = ["| Target | Measured | Met |", "|---|---|---|"]
    for what, got, met in checks:
        ttable.append(f"| {what} | {got} | {'-' if met is None else ('yes' if met else '**no**')} |")
    for m in missing:
        ttable.append(f"| {LABELS[m]}: not in this run | - | not judged |")
    ttable = "\n".join(ttable)

    # commands, with the per-run placeholders spelled out
    sock = "/run/exitless-srv-<pid>-<round>-<server>.sock"
    cmds = []
    for m in mechs:
        s = Setup(m, "<memif-netns>", "<kernel-netns>")
        cmds.append(f"# {m}")
        cmds.append(sh(s.server_prefix(sock) + redis_server_argv(s.host, "<tmp>")))
        for lv in levels:
            ns = rates.requests.get((m, lv), [0])
            n = f"{min(ns)}" if min(ns) == max(ns) else f"<{min(ns)}..{max(ns)}>"
            cmds.append(sh(s.client_prefix(sock, "<client-addr>") + redis_bench_argv(s.host, lv, 0)).replace(
                "-n 0", f"-n {n}"))
        cmds.append(sh(s.server_prefix(sock) + nginx_argv("<tmp>")))
        cmds.append(" ".join(sh(s.client_prefix(sock, "<client-addr>") + wrk_argv(s.host, lv, opts.wrk_secs))
                             for lv in levels[:1]) + f"   (and -c {', '.join(map(str, levels[1:]))})")
    info = benchlib.machine_info()
    untested = [m for m in MECHANISMS if m not in mechs]
    note = ""
    if untested:
        note = ("\n**Not in this run:** " + ", ".join(untested) + " (run with `--mechanisms "
                + ",".join(mechs) + "`); their rows and targets are missing.\n")
    body = f"""## Servers on the user-space TCP/IP stack through each hook mechanism

Experiment 2 of the zpoline paper: unmodified Debian `redis-server` (driven by
`redis-benchmark`, GET and SET, -P 1) and unmodified Debian `nginx` (nginx-light, one
process answering a {len(HTTP_BODY) - 1}-byte fixed body; driven by `wrk -t1`) on lwIP over
DPDK memif, reached through the netstack hook by each system-call interception mechanism
(`loaders/zprun --mechanism NAME --hook netstack`), against both running natively on the
kernel's TCP stack over loopback (the dashed line in the plots).  Both ends of the memif
link are in user space: the client always runs under `zprun --hook netstack` (zpoline),
in a network namespace whose lo is down, each client process with an address of its own
(lwIP does not let a new connection reuse the 4-tuple of one of its TIME_WAIT
connections, as Linux does).  Published reference: {PAPER}.
{note}
{benchlib.machine_markdown(info)}
{chr(10).join(versions())}
- Mode: {opts.mode}; {opts.runs} rounds; this run took {elapsed / 60:.1f} min
  (`{argv_shown}`).  Each round runs every mechanism once, the order rotated by one
  per round; per mechanism and round a fresh redis-server (all levels), then a fresh
  nginx (all levels).  redis-benchmark's -n is sized per mechanism and level for about
  {opts.seconds:g} s per test (from the rates measured so far); wrk runs {opts.wrk_secs} s.
  Median of the rounds, [min-max] over the rounds.  Server and client each poll their
  device (a CPU each while busy) on {os.cpu_count()} logical CPUs: any other load on the
  machine shows as spread (1-minute load average {opts.load_start} at the start,
  {opts.load_end} at the end of the run).

{chr(10).join(tables)}
Targets (over the Redis figures, all levels; measured, not tuned):

{ttable}

How to read the losses.  A trapped system call costs about the same here as in the
paper (1.5-3 us: the hook-cost section), and a Redis `-P 1` request makes about three
(epoll_wait, read, write), so the trap-based mechanisms add some 5-8 us per request.
What differs is the time a request takes without them: here, with client and server
busy-polling on 2 shared virtual CPUs, the LD_PRELOAD case serves one in 3-10 us, so
the same trap cost is 40-65% of the work; on the paper's 10 GbE hosts a request took
about 1 us, and the same cost was 72-99%.  The published range is a property of that
ratio, not of the mechanisms alone.  zpoline's gap to LD_PRELOAD is its entry and exit
per call with the vector state saved (the netstack hook uses vector registers through
libc, DPDK and lwIP), about 30 ns per call in the hook-cost section; the run-to-run
spread of each figure here ([min-max]) is larger than that gap.

Checks (a run that fails any of them makes the harness refuse to report):
- every mechanism asked for is available (`zprun --mechanism M --hook netstack -- /bin/true`);
- Redis: a SET/GET of a random value through the client before the runs; every
  redis-benchmark exits 0 with a SET and a GET figure; the server's `INFO commandstats`
  counts exactly the SETs and GETs sent; it is alive after each run and exits 0 on SIGTERM;
- nginx: GET / answers 200 with the exact body before the runs
  (`tests/netstack/http_client.py`); every wrk exits 0 with requests done, no socket
  error and no non-2xx response; the server is alive after each run, exits 0 on SIGQUIT,
  and its error log has no [error]/[crit]/[alert]/[emerg] line;
- nothing left behind in /var/run/dpdk by our processes.

nginx's configuration (written into a temporary directory; nothing under /etc/nginx or
/var/log is used):

```
{nginx_conf("<tmp>", "<addr>").rstrip()}
```

Commands (from the repository root; `<memif-netns>` has lo down, `<kernel-netns>` lo up;
the memif socket name is unique per server start; `-n` as used, per level):

```
{chr(10).join(cmds)}
```
"""
    pngs = []
    for wl in wls:
        png = os.path.join(img_dir, f"servers-{wl}.png")
        plot(png, f"{WL_TITLE[wl]}: median of {opts.runs} rounds, bars min-max ({opts.mode} mode)",
             mechs, levels, {(m, lv): stats[(m, wl, lv)] for m in mechs for lv in levels})
        pngs.append(png)
    return body, tables, ttable, checks, pngs


def write_section(body):
    """Our section replaces the Redis-only experiment's in place."""
    path = os.path.join(REPO, "docs", "BENCHMARKS.md")
    try:
        with open(path) as f:
            text = f.read()
    except FileNotFoundError:
        text = ""
    new_b, old_b = f"<!-- bench:{SECTION}:begin -->", f"<!-- bench:{OLD_SECTION}:begin -->"
    if new_b not in text and old_b in text:
        text = text.replace(old_b, new_b).replace(f"<!-- bench:{OLD_SECTION}:end -->",
                                                  f"<!-- bench:{SECTION}:end -->")
        with open(path, "w") as f:
            f.write(text)
    return benchlib.replace_section(SECTION, body, path)


# --- main ------------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    benchlib.add_round_args(ap, 5)
    ap.add_argument("--mechanisms", default=",".join(MECHANISMS),
                    help="comma-separated subset of " + ",".join(MECHANISMS))
    ap.add_argument("--workloads", default="redis,nginx", help="redis, nginx or both")
    ap.add_argument("--levels", help="concurrency levels, e.g. 1,4,16,64")
    ap.add_argument("--seconds", type=float, help="target seconds per redis-benchmark test")
    ap.add_argument("--wrk-secs", type=int, help="wrk duration (whole seconds)")
    ap.add_argument("--no-write", action="store_true",
                    help="print the tables, write nothing to docs/ (plots left in the temp dir)")
    opts = ap.parse_args()
    opts.mode, opts.runs = benchlib.rounds_of(opts, 5)
    mechs = [m.strip() for m in opts.mechanisms.split(",") if m.strip()]
    bad = [m for m in mechs if m not in MECHANISMS]
    if bad or not mechs or len(set(mechs)) != len(mechs):
        benchlib.fail(f"--mechanisms: unknown or repeated: {opts.mechanisms} "
                      f"(choose from {','.join(MECHANISMS)})")
    mechs = [m for m in MECHANISMS if m in mechs]     # the table's order
    wsel = [w.strip() for w in opts.workloads.split(",")]
    if not wsel or any(w not in ("redis", "nginx") for w in wsel):
        benchlib.fail("--workloads: redis, nginx or redis,nginx")
    opts.workload_list = [w for w in WORKLOADS if w.split("-")[0] in wsel]
    try:
        opts.levels = sorted({int(x) for x in opts.levels.split(",")}) if opts.levels \
            else LEVELS[opts.mode]
    except ValueError:
        benchlib.fail("--levels: comma-separated integers")
    if opts.levels[0] < 1 or opts.levels[-1] > 1000:
        benchlib.fail("--levels: 1 to 1000")
    opts.seconds = opts.seconds or SECONDS[opts.mode]
    opts.wrk_secs = opts.wrk_secs or WRK_SECS[opts.mode]

    if os.geteuid() != 0:
        benchlib.fail("needs root (network namespaces, DPDK, page 0)")
    for prog in ("redis-server", "redis-cli", "redis-benchmark", "nginx", "wrk", "gnuplot", "ip",
                 "ss", PY):
        if not any(os.access(os.path.join(d, prog), os.X_OK)
                   for d in ([""] if prog.startswith("/") else os.environ.get("PATH", "").split(":"))):
            benchlib.fail(f"{prog} not found (run `make deps`)")
    for p in (os.path.join(REPO, ZPRUN), NETSTACK_HOOK):
        if not os.path.exists(p):
            benchlib.fail(f"{os.path.relpath(p, REPO)} is not built (run `make`)")
    missing = unavailable(mechs)
    if missing:
        have = [m for m in mechs if m not in missing]
        benchlib.fail("mechanism(s) not available: "
                      + "; ".join(f"{m} ({why})" for m, why in missing.items())
                      + f"\n  measure the others with --mechanisms {','.join(have)}")

    t0 = time.monotonic()
    opts.load_start = loadavg()
    tmp = tempfile.mkdtemp(prefix="exitless-servers.")
    pid = os.getpid()
    memif_ns, kernel_ns = f"zpt-srv-{pid}-memif", f"zpt-srv-{pid}-kernel"
    created = []
    dpdk_before = dpdk_listing()
    rates = Rates()

    def on_signal(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_signal)
    try:
        for ns, lo in ((memif_ns, "down"), (kernel_ns, "up")):
            subprocess.run(["ip", "netns", "add", ns], check=True, capture_output=True, timeout=30)
            created.append(ns)
            subprocess.run(["ip", "-n", ns, "link", "set", "lo", lo], check=True, timeout=30)
    except (subprocess.CalledProcessError, OSError, subprocess.TimeoutExpired) as e:
        for ns in created:
            subprocess.run(["ip", "netns", "del", ns], stderr=subprocess.DEVNULL)
        benchlib.fail(f"cannot create network namespaces: {e}")

    print(f"servers: {opts.mode} mode, {opts.runs} rounds, mechanisms {','.join(mechs)}, "
          f"workloads {','.join(opts.workload_list)}, levels {','.join(map(str, opts.levels))}; "
          f"logs in {tmp}", flush=True)
    try:
        for r in range(opts.runs):
            order = mechs[r % len(mechs):] + mechs[:r % len(mechs)]
            print(f"  round {r + 1}/{opts.runs}:", end="", flush=True)
            for m in order:
                setup = Setup(m, memif_ns, kernel_ns)
                tag = f"{r}-{m}"
                t = time.monotonic()
                if "redis" in wsel:
                    redis_round(setup, opts, rates, tmp, tag)
                if "nginx" in wsel:
                    nginx_round(setup, opts, rates, tmp, tag)
                figs = "/".join(f"{rates.values[(m, wl, lv)][-1] / 1000:.3g}k"
                                for wl in opts.workload_list for lv in opts.levels)
                print(f" {m}={figs} ({time.monotonic() - t:.0f}s)", end="", flush=True)
            print(flush=True)
        left = dpdk_leftovers(dpdk_before)
        if left:
            raise Fail("left in /var/run/dpdk: " + " ".join(left))
    except Fail as e:
        print(flush=True)
        for ns in created:
            subprocess.run(["ip", "netns", "del", ns], stderr=subprocess.DEVNULL)
        benchlib.fail(f"{e}\n  logs kept in {tmp}")
    except KeyboardInterrupt:
        print(flush=True)
        for ns in created:
            subprocess.run(["ip", "netns", "del", ns], stderr=subprocess.DEVNULL)
        benchlib.fail(f"interrupted\n  logs kept in {tmp}")
    for ns in created:
        subprocess.run(["ip", "netns", "del", ns], stderr=subprocess.DEVNULL)
    elapsed = time.monotonic() - t0
    opts.load_end = loadavg()

    argv_shown = "python3 bench/servers/run.py" + "".join(" " + shlex.quote(a) for a in sys.argv[1:])
    try:
        img_dir = os.path.join(tmp, "img") if opts.no_write else IMG_DIR
        body, tables, ttable, checks, pngs = report(opts, mechs, rates, elapsed, argv_shown, img_dir)
    except Fail as e:
        benchlib.fail(str(e))
    print()
    print("\n".join(tables))
    print(ttable)
    print(f"\nthe run took {elapsed / 60:.1f} min")
    if opts.no_write:
        print(f"--no-write: nothing written to docs/; the plots are in {img_dir}")
        return
    path = write_section(body)
    print(f"wrote {os.path.relpath(path, REPO)} (section {SECTION}) and "
          + ", ".join(os.path.relpath(p, REPO) for p in pngs))
    subprocess.run(["rm", "-rf", tmp])


if __name__ == "__main__":
    main()
