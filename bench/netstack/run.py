#!/usr/bin/env python3
"""bench/netstack/run.py - Redis on the user-space TCP/IP stack: requests per
second of unmodified redis-server with redis-benchmark, on

  kernel    the kernel's loopback (both natively, 127.0.0.1);
  zpoline   lwIP over DPDK memif, reached through zpoline: server and
            redis-benchmark each under `loaders/zprun --hook netstack`
            (memif server 10.77.1.1, memif client 10.77.1.2);
  preload   the same stack and hook library reached by LD_PRELOAD wrapping
            of libc's socket functions (`loaders/zprun --mechanism preload`),
            both ends: the paper's minimum-overhead case.

The memif runs happen in a network namespace of our own whose lo is down:
no kernel path exists between the ends.  redis-benchmark -t set,get -c 50 at
-P 1 and -P 16.  Rounds are interleaved (kernel, zpoline, preload, kernel, ...);
each configuration gets a fresh server per round.  Median of the rounds with
min and max; ratios zpoline/kernel (target >= 1.5x) and zpoline/preload
(target: within 5%; the paper reports a 5.2% reduction).

Checks (any failure: refuse to report, exit 1, nothing written): every
redis-benchmark exits 0 and prints SET and GET; a SET/GET round trip through
the same mechanism before the runs; the server's own INFO commandstats count
exactly the requests sent; the server is alive after every run and exits 0
on SIGTERM; nothing is left in /var/run/dpdk by our processes.

  python3 bench/netstack/run.py             full run
  python3 bench/netstack/run.py --quick     short run (make bench QUICK=1)
  --runs R                                  rounds (default 5; >= 5)
  --skip-preload                            leave out the preload rows while
                                            `zprun --mechanism preload` is not
                                            built (the section says so)
"""

import argparse
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import benchlib  # noqa: E402

REPO = benchlib.REPO
SECTION = "netstack-redis"
PLOT = os.path.join(REPO, "docs", "img", "netstack-redis.png")
ZPRUN = os.path.join("loaders", "zprun")
NETSTACK_HOOK = os.path.join(REPO, "hooklib", "libzphook_netstack.so")
PRELOAD_LIB = os.path.join(REPO, "hooklib", "libzp_preload.so")
DPDK_RUN = "/var/run/dpdk"

REQUESTS = {"full": {1: 200_000, 16: 1_000_000}, "quick": {1: 20_000, 16: 100_000}}
PIPELINES = (1, 16)
TESTS = ("GET", "SET")
CLIENTS = 50
PORT = 6379
SERVER_ADDR, CLIENT_ADDR = "10.77.1.1", "10.77.1.2"
MAC_SERVER, MAC_CLIENT = "02:7a:70:00:00:01", "02:7a:70:00:00:02"

PAPER = ("zpoline paper (USENIX ATC 2023): Redis on lwIP+DPDK loses 5.2% under zpoline against "
         "the minimum-overhead case (LD_PRELOAD wrapping of libc functions)")

LABELS = {"kernel": "kernel loopback",
          "zpoline": "user-space stack, zpoline",
          "preload": "user-space stack, LD_PRELOAD"}

CLEAN_ENV = ("LD_PRELOAD", "LIBZPHOOK", "ZP_VERBOSE", "ZP_SUD", "ZP_SAVE_VECTOR",
             "ZP_NET_DEV", "ZP_NET_ADDR", "ZP_NET_MASK", "ZP_NET_GATE", "ZP_DPDK_ARGS")


def base_env():
    env = dict(os.environ)
    for k in CLEAN_ENV:
        env.pop(k, None)
    return env


def sh(argv):
    return shlex.join(argv)


class Config:
    """How one configuration runs its server and its clients."""

    def __init__(self, name, host, server_prefix, client_prefix):
        self.name = name
        self.label = LABELS[name]
        self.host = host
        self.server_prefix = server_prefix    # functions of the memif socket name
        self.client_prefix = client_prefix

    def server_argv(self, sock, redis_dir):
        return self.server_prefix(sock) + [
            "redis-server", "--save", "", "--appendonly", "no", "--protected-mode", "no",
            "--bind", self.host, "--port", str(PORT), "--dir", redis_dir, "--daemonize", "no"]

    def client_argv(self, sock, argv):
        return self.client_prefix(sock) + argv


def make_configs(netns, mechanism_preload, kernel_port, dry_run=False):
    if dry_run:
        # the harness alone: "user-space" rows run natively in the namespace
        ns = lambda sock: ["ip", "netns", "exec", netns]  # noqa: E731
        configs = [Config("kernel", "127.0.0.1", lambda s: [], lambda s: []),
                   Config("zpoline", SERVER_ADDR, ns, ns), Config("preload", SERVER_ADDR, ns, ns)]
        configs[0].port = kernel_port
        configs[1].port = configs[2].port = PORT
        return configs

    def netns_env(role, addr, mac):
        return lambda sock: ["ip", "netns", "exec", netns, "env",
                             f"ZP_NET_DEV=net_memif0,role={role},socket={sock},mac={mac}",
                             f"ZP_NET_ADDR={addr}", "ZP_NET_MASK=255.255.255.0"]

    def under(mech):
        return lambda base: (lambda sock: base(sock) + [ZPRUN] + mech + ["--"])

    srv = netns_env("server", SERVER_ADDR, MAC_SERVER)
    cli = netns_env("client", CLIENT_ADDR, MAC_CLIENT)
    configs = [Config("kernel", "127.0.0.1", lambda s: [], lambda s: [])]
    configs[0].port = kernel_port
    zp = ["--hook", "netstack"]
    configs.append(Config("zpoline", SERVER_ADDR, under(zp)(srv), under(zp)(cli)))
    if mechanism_preload is not None:
        configs.append(Config("preload", SERVER_ADDR, under(mechanism_preload)(srv),
                              under(mechanism_preload)(cli)))
    for c in configs[1:]:
        c.port = PORT
    return configs


# --- processes (only ours, by PID) -------------------------------------------

class Server:
    def __init__(self, config, sock, redis_dir, log_path):
        self.config = config
        self.sock = sock
        argv = config.server_argv(sock, redis_dir)
        if config.name == "kernel":
            argv[argv.index("--port") + 1] = str(config.port)
        self.argv = argv
        self.log_path = log_path
        self.log = open(log_path, "w")
        self.proc = subprocess.Popen(argv, cwd=REPO, env=base_env(), stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=subprocess.STDOUT)

    def alive(self):
        return self.proc.poll() is None

    def log_tail(self, n=8):
        try:
            with open(self.log_path, errors="replace") as f:
                return " | ".join(line.rstrip() for line in f.readlines()[-n:])
        except OSError:
            return "(no log)"

    def stop(self):
        """SIGTERM, wait up to 20 s; returns the exit status (None: killed)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                self.log.close()
                return None
        self.log.close()
        return self.proc.returncode


def run(argv, timeout):
    try:
        p = subprocess.run(argv, cwd=REPO, env=base_env(), stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise benchlib.BenchFailure(f"timed out after {timeout} s: {sh(argv)}")
    return p


def cli(config, server, *args, timeout=30):
    argv = config.client_argv(server.sock, ["redis-cli", "-h", config.host, "-p",
                                            str(config.port)] + list(args))
    return run(argv, timeout)


def wait_ready(config, server, secs=60):
    deadline = time.monotonic() + secs
    last = ""
    while time.monotonic() < deadline:
        if not server.alive():
            raise benchlib.BenchFailure(
                f"{config.name}: the server exited ({server.proc.returncode}) before answering PING: "
                f"{sh(server.argv)}\n  log: {server.log_tail()}")
        try:
            r = cli(config, server, "ping", timeout=15)
            if r.stdout.strip() == "PONG":
                return
            last = (r.stdout + r.stderr).strip()[-200:]
        except benchlib.BenchFailure as e:
            last = str(e)
        time.sleep(0.2)
    raise benchlib.BenchFailure(f"{config.name}: the server did not answer PING within {secs} s; "
                                f"last client output: {last}\n  log: {server.log_tail(3)}")


def bench_argv(config, sock, p, n):
    return config.client_argv(sock, [
        "redis-benchmark", "-h", config.host, "-p", str(config.port), "-c", str(CLIENTS),
        "-P", str(p), "-n", str(n), "-t", "set,get", "--csv"])


def parse_csv(text):
    rps = {}
    for line in text.splitlines():
        cells = [c.strip('"') for c in line.strip().split(",")]
        if len(cells) >= 2 and cells[0] in TESTS:
            rps[cells[0]] = float(cells[1])
    return rps


def commandstats(text):
    calls = {}
    for m in re.finditer(r"^cmdstat_(\w+):calls=(\d+),", text, re.M):
        calls[m.group(1)] = int(m.group(2))
    return calls


def one_round(config, requests, sock, redis_dir, log_dir, rnd):
    """Start a server, check it, run both pipelines, check the counts, stop
    it.  Returns {(test, p): rps}."""
    log = os.path.join(log_dir, f"redis-{config.name}-{rnd}.log")
    server = Server(config, sock, redis_dir, log)
    try:
        wait_ready(config, server)
        value = os.urandom(8).hex()
        r1 = cli(config, server, "set", "bench:check", value)
        r2 = cli(config, server, "get", "bench:check")
        if r1.stdout.strip() != "OK" or r2.stdout.strip() != value:
            raise benchlib.BenchFailure(f"{config.name}: SET/GET round trip: {r1.stdout!r} {r2.stdout!r} "
                                        f"(sent {value})")
        out = {}
        for p in PIPELINES:
            argv = bench_argv(config, sock, p, requests[p])
            res = run(argv, timeout=300)
            if not server.alive():
                raise benchlib.BenchFailure(f"{config.name}: the server died during: {sh(argv)}\n"
                                            f"  log: {server.log_tail()}")
            if res.returncode != 0:
                raise benchlib.BenchFailure(f"{config.name}: redis-benchmark exit {res.returncode}: "
                                            f"{sh(argv)}\n  stderr: {res.stderr.strip()[-400:]}")
            rps = parse_csv(res.stdout)
            if set(rps) != set(TESTS) or min(rps.values()) <= 0:
                raise benchlib.BenchFailure(f"{config.name}: no SET/GET result from {sh(argv)}: "
                                            f"{res.stdout.strip()[-300:]}")
            for t in TESTS:
                out[(t, p)] = rps[t]
        st = cli(config, server, "info", "commandstats")
        calls = commandstats(st.stdout)
        want = sum(requests.values()) + 1
        if calls.get("set") != want or calls.get("get") != want:
            raise benchlib.BenchFailure(
                f"{config.name}: the server counted SET={calls.get('set')} GET={calls.get('get')}, "
                f"expected {want} each (requests sent + the check)")
    finally:
        status = server.stop()
    if status != 0:
        raise benchlib.BenchFailure(f"{config.name}: redis-server exit status {status} on SIGTERM "
                                    f"(expected 0)\n  log: {server.log_tail()}")
    return out


def dpdk_leftovers(before):
    """Entries of /var/run/dpdk not there before whose owner (exitless-<pid>)
    is gone."""
    now = set(os.listdir(DPDK_RUN)) if os.path.isdir(DPDK_RUN) else set()
    left = []
    for e in sorted(now - before):
        m = re.fullmatch(r"exitless-(\d+)", e)
        if m and os.path.exists(f"/proc/{m.group(1)}"):
            continue
        left.append(e)
    return left


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def fmt(v):
    return f"{v:,.0f}"


def detect_preload():
    """The zprun arguments of the preload mechanism, or (None, why)."""
    if not os.path.exists(PRELOAD_LIB):
        return None, f"{os.path.relpath(PRELOAD_LIB, REPO)} is not built"
    for mech in (["--mechanism", "preload", "--hook", "netstack"], ["--mechanism", "preload"]):
        p = subprocess.run([os.path.join(REPO, ZPRUN)] + mech + ["--", "/bin/true"],
                           capture_output=True, text=True, env=base_env())
        if p.returncode == 0:
            return mech, ""
        why = p.stderr.strip().splitlines()[-1] if p.stderr.strip() else f"exit {p.returncode}"
    return None, f"`zprun --mechanism preload` does not run: {why}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="short runs (make bench QUICK=1)")
    ap.add_argument("--runs", type=int, help="interleaved rounds (>= 5)")
    ap.add_argument("--skip-preload", action="store_true",
                    help="leave out the LD_PRELOAD rows (not built yet)")
    ap.add_argument("--dry-run", action="store_true",
                    help="test this harness only: the user-space rows run natively in the "
                         "namespace; prints the tables, writes nothing")
    args = ap.parse_args()
    mode = "quick" if args.quick else "full"
    runs = args.runs or 5
    if runs < 5:
        benchlib.fail("--runs must be >= 5 (the median of fewer runs is not reported)")
    requests = REQUESTS[mode]

    if os.geteuid() != 0:
        benchlib.fail("needs root (a network namespace, DPDK, page 0)")
    for p in (os.path.join(REPO, ZPRUN), NETSTACK_HOOK):
        if not os.path.exists(p) and not args.dry_run:
            benchlib.fail(f"{os.path.relpath(p, REPO)} is not built (run `make`)")
    preload = None
    if not args.skip_preload and not args.dry_run:
        preload, why = detect_preload()
        if preload is None:
            benchlib.fail(why + " (--skip-preload measures the rest)")

    netns = f"zpt-bench-{os.getpid()}"
    tmp = subprocess.run(["mktemp", "-d", "/tmp/exitless-bench.XXXXXX"], capture_output=True,
                         text=True, check=True).stdout.strip()
    dpdk_before = set(os.listdir(DPDK_RUN)) if os.path.isdir(DPDK_RUN) else set()
    try:
        subprocess.run(["ip", "netns", "add", netns], check=True)
        if args.dry_run:
            for cmd in (["link", "add", "zpm0", "type", "veth", "peer", "name", "zpm1"],
                        ["link", "set", "zpm0", "up"], ["link", "set", "zpm1", "up"],
                        ["link", "set", "lo", "up"],
                        ["addr", "add", SERVER_ADDR + "/24", "dev", "zpm0"],
                        ["addr", "add", CLIENT_ADDR + "/24", "dev", "zpm0"]):
                subprocess.run(["ip", "-n", netns] + cmd, check=True)
        else:
            subprocess.run(["ip", "-n", netns, "link", "set", "lo", "down"], check=True)
    except (subprocess.CalledProcessError, OSError) as e:
        benchlib.fail(f"cannot create network namespace {netns}: {e}")

    configs = make_configs(netns, preload, free_port(), args.dry_run)
    values = {(c.name, t, p): [] for c in configs for t in TESTS for p in PIPELINES}
    print(f"netstack redis: {mode} mode, {runs} interleaved rounds, configurations: "
          + ", ".join(c.name for c in configs) + f"; -n {requests[1]} (-P 1), {requests[16]} (-P 16)")
    seq = 0
    try:
        for r in range(runs):
            print(f"  round {r + 1}/{runs}:", end="", flush=True)
            for c in configs:
                seq += 1
                sock = f"/run/exitless-bench-{os.getpid()}-{seq}.sock"
                out = one_round(c, requests, sock, tmp, tmp, r)
                for k, v in out.items():
                    values[(c.name,) + k].append(v)
                print(" " + c.name + "=" + "/".join(f"{out[(t, p)] / 1000:.0f}k"
                                                    for p in PIPELINES for t in TESTS),
                      end="", flush=True)
            print(flush=True)
        left = dpdk_leftovers(dpdk_before)
        if left:
            raise benchlib.BenchFailure("left in /var/run/dpdk: " + " ".join(left))
    except benchlib.BenchFailure as e:
        print()
        benchlib.fail(f"{e}\n  logs: {tmp}")
    finally:
        subprocess.run(["ip", "netns", "del", netns], stderr=subprocess.DEVNULL)

    stats = {k: benchlib.summarize(v) for k, v in values.items()}
    names = [c.name for c in configs]

    def cell(name, t, p):
        s = stats[(name, t, p)]
        return f"{fmt(s['median'])} ({fmt(s['min'])}-{fmt(s['max'])})"

    head = "| Command | Pipeline | " + " | ".join(f"{LABELS[n]} req/s median (min-max)" for n in names)
    head += " | zpoline / kernel |" + (" zpoline / preload |" if "preload" in names else "")
    lines = [head, "|---|---:|" + "---:|" * len(names) + "---:|" + ("---:|" if "preload" in names else "")]
    targets = []
    for t in TESTS:
        for p in PIPELINES:
            zk = stats[("zpoline", t, p)]["median"] / stats[("kernel", t, p)]["median"]
            row = f"| {t} | -P {p} | " + " | ".join(cell(n, t, p) for n in names) + f" | {zk:.2f}x |"
            targets.append((f"{t} -P {p}: zpoline / kernel", ">= 1.5x", f"{zk:.2f}x", zk >= 1.5))
            if "preload" in names:
                zp = stats[("zpoline", t, p)]["median"] / stats[("preload", t, p)]["median"]
                row += f" {zp:.3f} ({(zp - 1) * 100:+.1f}%) |"
                targets.append((f"{t} -P {p}: zpoline / preload", ">= 0.95 (within 5%)",
                                f"{zp:.3f}", zp >= 0.95))
            lines.append(row)
    table = "\n".join(lines)
    ttable = "\n".join(["| Target | Wanted | Measured (medians) | Met |", "|---|---|---:|---|"] +
                       [f"| {a} | {b} | {c} | {'yes' if d else '**no**'} |" for a, b, c, d in targets])
    print()
    print(table)
    print()
    print(ttable)

    if args.dry_run:
        print("\n--dry-run: the user-space rows ran natively; nothing written")
        subprocess.run(["rm", "-rf", tmp])
        return
    info = benchlib.machine_info()
    versions = [
        f"- Redis: {benchlib.first_line(['redis-server', '--version'])}",
        f"- DPDK: {benchlib.first_line(['pkg-config', '--modversion', 'libdpdk'])} (Debian libdpdk-dev, "
        "linked statically into the hook library)",
    ]
    sock_example = "/run/exitless-bench-<pid>-<n>.sock"
    commands = []
    for c in configs:
        commands.append(sh(c.server_argv(sock_example, "<tmp>")).replace(
            "--port 6379", f"--port {c.port}" if c.name == "kernel" else "--port 6379"))
        for p in PIPELINES:
            commands.append(sh(bench_argv(c, sock_example, p, requests[p])))
    argv_shown = "python3 bench/netstack/run.py" + "".join(" " + shlex.quote(a) for a in sys.argv[1:])
    preload_note = ("" if "preload" in names else
                    "\n**LD_PRELOAD rows untested**: this run used `--skip-preload` because "
                    "`zprun --mechanism preload` was not built yet; the zpoline/preload target "
                    "cannot be judged.\n")
    body = f"""## Redis on the user-space TCP/IP stack (lwIP over DPDK memif)

Unmodified Debian `redis-server`, driven by `redis-benchmark -t set,get -c {CLIENTS}`, on the
kernel's loopback and on the kit's user-space stack, with both ends of the memif link
(server and redis-benchmark) in user space, reached through zpoline (`zprun --hook netstack`)
or through LD_PRELOAD wrapping of libc's socket functions (`zprun --mechanism preload`).
The memif runs happen in a network namespace whose lo is down: no kernel path exists
between the two ends.  Published reference: {PAPER}.
{preload_note}
{benchlib.machine_markdown(info)}
{chr(10).join(versions)}
- Mode: {mode}; {runs} rounds, each round runs every configuration once in the order of
  the table (interleaved), each with a fresh server; per configuration and round, one
  redis-benchmark per pipeline depth, -n {requests[1]:,} at -P 1 and -n {requests[16]:,} at
  -P 16.  Median of the rounds, min and max over the rounds.  2 logical CPUs shared by
  server, client and (for the user-space stack) their polling loops: expect spread.

{table}

Targets (measured, not tuned):

{ttable}

Checks (a run that fails any of them makes the harness refuse to report):
- every redis-benchmark exits 0 and prints a SET and a GET result;
- before the runs, a SET/GET of a random value through the same client mechanism;
- the server's own `INFO commandstats` counts exactly the SET and GET requests sent
  (-n at each depth, plus the check);
- the server is alive after each run and exits 0 on SIGTERM;
- nothing left behind in /var/run/dpdk by our processes.

Commands (run from the repository root, by `{argv_shown}`; the memif socket name is
unique per server start, `<tmp>` a temporary directory):

```
{chr(10).join(commands)}
```

![Redis requests per second, kernel loopback vs the user-space stack](img/netstack-redis.png)
"""
    rows = []
    for t in TESTS:
        for p in PIPELINES:
            for n in names:
                s = stats[(n, t, p)]
                rows.append((f"{t} -P{p} {n}", s["median"], s["min"], s["max"]))
    try:
        benchlib.gnuplot_bars(PLOT, f"Redis requests per second ({mode} mode, median of {runs} rounds; "
                              "bars: min-max)", "requests per second (log scale)", rows)
    except benchlib.BenchFailure as e:
        benchlib.fail(str(e))
    path = benchlib.replace_section(SECTION, body)
    subprocess.run(["rm", "-rf", tmp])
    print(f"\nwrote {os.path.relpath(path, REPO)} (section {SECTION}) and {os.path.relpath(PLOT, REPO)}")


if __name__ == "__main__":
    main()
