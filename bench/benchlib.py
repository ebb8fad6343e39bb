"""benchlib - the pieces every benchmark harness in bench/ shares (stdlib only).

An experiment (bench/<name>/run.py) describes its cases (a name, a command
line, extra environment), and this module:
  - runs them interleaved, round after round (A B C ... A B C ...), so slow
    drift of the machine (frequency, other load) hits every case alike;
  - parses the one `key=value ...` result line each program prints and
    refuses (BenchFailure) a run that failed or whose own checks failed;
  - computes median / min / max per case;
  - describes the machine (CPU, kernel, glibc, gcc) and the date;
  - replaces the experiment's section of docs/BENCHMARKS.md, keeping the
    other sections;
  - draws a plot with gnuplot.
"""

import datetime
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The kit's pieces that every experiment runs programs under.
LIBZPOLINE = os.path.join(REPO, "zpoline", "libzpoline.so")
PASSTHROUGH = os.path.join(REPO, "hooklib", "libzphook_passthrough.so")


class BenchFailure(Exception):
    """A run failed or a check failed: nothing may be reported."""


class Case:
    """One thing to measure: a program with its arguments and environment."""

    def __init__(self, name, argv, env=None, label=None):
        self.name = name
        self.argv = list(argv)
        self.env = dict(env or {})
        self.label = label or name

    def command_line(self):
        """The exact command as run from the repository root, for the docs."""
        env = " ".join(f"{k}={shlex.quote(v)}" for k, v in self.env.items())
        cmd = shlex.join(self.argv)
        return f"{env} {cmd}" if env else cmd


def parse_result_line(text):
    """The last line of the form `key=value key=value ...` as a dict."""
    for line in reversed(text.strip().splitlines()):
        fields = dict(f.split("=", 1) for f in line.split() if "=" in f)
        if "status" in fields:
            return fields
    return None


def run_case(case, timeout=120):
    """Run a case once from the repository root; return its result fields."""
    env = dict(os.environ)
    env.update(case.env)
    try:
        proc = subprocess.run(case.argv, cwd=REPO, env=env, capture_output=True,
                              text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise BenchFailure(f"{case.name}: timed out after {timeout} s: {case.command_line()}")
    except OSError as e:
        raise BenchFailure(f"{case.name}: cannot run {case.command_line()}: {e}")
    fields = parse_result_line(proc.stdout)
    problem = None
    if proc.returncode != 0:
        problem = f"exit status {proc.returncode}"
    elif fields is None:
        problem = "no result line"
    elif fields.get("status") != "ok":
        problem = f"check failed: {fields.get('reason', '?')}"
    if problem:
        raise BenchFailure(f"{case.name}: {problem}\n  command: {case.command_line()}\n"
                           f"  stdout: {proc.stdout.strip()}\n  stderr: {proc.stderr.strip()}")
    return fields


def run_interleaved(cases, rounds, value_key, progress=True):
    """rounds x (every case once, in order); returns {name: [values]}."""
    values = {c.name: [] for c in cases}
    for r in range(rounds):
        if progress:
            print(f"  round {r + 1}/{rounds}:", end="", flush=True)
        for c in cases:
            fields = run_case(c)
            v = float(fields[value_key])
            values[c.name].append(v)
            if progress:
                print(f" {c.name}={v:.0f}", end="", flush=True)
        if progress:
            print(flush=True)
    return values


def add_round_args(ap, full_runs):
    """--quick and --runs, as every experiment takes them (make bench QUICK=1)."""
    ap.add_argument("--quick", action="store_true", help="short runs (make bench QUICK=1)")
    ap.add_argument("--runs", type=int, help=f"interleaved rounds (>= 5; default {full_runs}, quick 5)")


def rounds_of(args, full_runs):
    """(mode, rounds) from add_round_args' options; refuses fewer than 5 rounds."""
    mode = "quick" if args.quick else "full"
    runs = args.runs or (5 if args.quick else full_runs)
    if runs < 5:
        fail("--runs must be >= 5 (the median of fewer runs is not reported)")
    return mode, runs


def summarize(samples):
    return {"median": statistics.median(samples), "min": min(samples),
            "max": max(samples), "n": len(samples)}


def _first_line(cmd):
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
        return out.strip().splitlines()[0]
    except (OSError, subprocess.CalledProcessError, IndexError):
        return "unknown"


def first_line(cmd):
    """First line of a command's stdout ("unknown" if it fails): versions."""
    return _first_line(cmd)


def machine_info():
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        glibc = os.confstr("CS_GNU_LIBC_VERSION")
    except (ValueError, OSError):
        glibc = "unknown"
    return {
        "cpu": cpu,
        "cpus": str(os.cpu_count()),
        "kernel": f"{platform.system()} {platform.release()} {platform.machine()}",
        "glibc": glibc,
        "gcc": _first_line(["gcc", "--version"]),
        "date": datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
    }


def machine_markdown(info):
    return "\n".join([
        f"- Date: {info['date']}",
        f"- CPU: {info['cpu']} ({info['cpus']} logical CPUs)",
        f"- Kernel: {info['kernel']}",
        f"- glibc: {info['glibc']}",
        f"- Compiler: {info['gcc']}",
    ])


def replace_section(key, body, path=None):
    """Put body between this experiment's markers in docs/BENCHMARKS.md.

    Each experiment owns the text between `<!-- bench:KEY:begin -->` and
    `<!-- bench:KEY:end -->`; a rerun replaces it, other text is kept, a new
    experiment is appended.
    """
    path = path or os.path.join(REPO, "docs", "BENCHMARKS.md")
    begin, end = f"<!-- bench:{key}:begin -->", f"<!-- bench:{key}:end -->"
    block = f"{begin}\n{body.rstrip()}\n{end}\n"
    try:
        with open(path) as f:
            text = f.read()
    except FileNotFoundError:
        text = ("# Benchmarks\n\n"
                "Written by `make bench` (bench/); each section belongs to one experiment\n"
                "and is replaced when that experiment is rerun.\n\n")
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        tail = rest.split(end, 1)[1].lstrip("\n")
        text = head + block + ("\n" + tail if tail else "")
    else:
        text = text.rstrip("\n") + "\n\n" + block
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    return path


def gnuplot_bars(png, title, ylabel, rows, logscale=True):
    """Bar chart: rows are (label, median, min, max); error bars min..max."""
    os.makedirs(os.path.dirname(png), exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "data.txt")
        with open(data, "w") as f:
            for i, (label, med, lo, hi) in enumerate(rows):
                f.write(f'{i} "{label}" {med} {lo} {hi}\n')
        if logscale:
            ymin = min(r[2] for r in rows) / 2
            ymax = max(r[3] for r in rows) * 3
        else:
            # A linear bar must start at 0 or its height lies; the headroom
            # leaves space for the value labels drawn above the error bars.
            ymin = 0
            ymax = max(r[3] for r in rows) * 1.4
        script = f"""
set terminal pngcairo size 1100,600 font "Sans,10"
set output {gp_str(png)}
set title {gp_str(title)}
set ylabel {gp_str(ylabel)}
{"set logscale y" if logscale else ""}
set yrange [{ymin}:{ymax}]
set xrange [-0.6:{len(rows) - 0.4}]
set grid ytics mytics
set style fill solid 0.6 border -1
set boxwidth 0.6
set xtics rotate by -20 noenhanced
set key off
plot {gp_str(data)} using 1:3:xtic(2) with boxes lc rgb "#4a7ebb", \\
     '' using 1:3:4:5 with yerrorbars lc rgb "black" pt 0, \\
     '' using 1:($5*1.25):(sprintf("%.0f", $3)) with labels font "Sans,9"
"""
        try:
            subprocess.run(["gnuplot"], input=script, text=True, check=True,
                           capture_output=True)
        except FileNotFoundError:
            raise BenchFailure("gnuplot not found (apt-get install gnuplot-nox, or `make deps`)")
        except subprocess.CalledProcessError as e:
            raise BenchFailure(f"gnuplot failed: {e.stderr.strip()}")
    return png


def gp_str(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def fail(message):
    print(f"\nBENCHMARK REFUSED: {message}", file=sys.stderr)
    print("Nothing was written to docs/.", file=sys.stderr)
    sys.exit(1)
