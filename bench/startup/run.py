#!/usr/bin/env python3
"""bench/startup/run.py - start-up cost experiment: what zpoline adds to the
whole life of a short program (mostly the rewriting done at start-up).

For a few real programs, runs each natively and under
`loaders/zprun --hook passthrough --`, interleaved round after round, and
times the whole process (bench/startup/walltime.py: fork to wait, stdout to
/dev/null).  Reports median/min/max per case and the time zpoline adds
(median over rounds of zpoline minus native in the same round).  One extra,
untimed run per program with ZP_VERBOSE=1 gives the rewriter's own figures
(sites, mappings, KiB decoded, ms) and checks that every process of the
command really was rewritten and printed what the native run printed.
Finally compares, for libc and ld.so, the bytes a full decode would cover
(executable PT_LOAD segments, `readelf -lW`) with the bytes decoded now.

Any failed run or check makes this script refuse to report (exit 1, nothing
written).  Otherwise it prints the tables, writes them into the
"startup-cost" section of docs/BENCHMARKS.md and plots
docs/img/startup-cost.png.

  python3 bench/startup/run.py            full run (~15 s)
  python3 bench/startup/run.py --quick    short run (~6 s), still >= 5 rounds
  --runs R                                rounds (default 11, quick 5; >= 5)
"""

import argparse
import os
import re
import shlex
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import benchlib  # noqa: E402

REPO = benchlib.REPO
SECTION = "startup-cost"
PLOT = os.path.join(REPO, "docs", "img", "startup-cost.png")
LIBZPOLINE = benchlib.LIBZPOLINE
PASSTHROUGH = benchlib.PASSTHROUGH
ZPRUN = os.path.join("loaders", "zprun")
WALLTIME = os.path.join("bench", "startup", "walltime.py")
ZPRUN_PREFIX = [ZPRUN, "--hook", "passthrough", "--"]

# The programs: (name, argv, processes it execs, label).  `processes` is how
# many programs the command runs; each is rewritten on its own, so the
# verbose run must print that many zpoline lines.  python3 is Debian's
# /usr/bin/python3 on purpose: a `python3` found in PATH may be a pyenv shim
# (a bash script that execs several programs before Python).
PROGRAMS = [
    ("true", ["/bin/true"], 1, "`/bin/true`"),
    ("ls", ["ls", "-l", "/usr/bin"], 1, "`ls -l /usr/bin`"),
    ("python3", ["/usr/bin/python3", "-c", "pass"], 1, "`/usr/bin/python3 -c pass`"),
    ("redis", ["redis-server", "--version"], 1, "`redis-server --version`"),
    ("pipeline", ["sh", "-c", "ls | wc -l"], 3, "`sh -c 'ls \\| wc -l'` (sh, ls, wc)"),
]

# Variables that would change what either side runs: an inherited
# LD_PRELOAD would make the "native" runs not native, ZP_VERBOSE would make
# every timed zpoline run print (and fail the empty-stderr check).  zprun
# sets what the zpoline runs need.
STRIP_ENV = ["LD_PRELOAD", "LIBZPHOOK", "ZP_VERBOSE", "ZP_SUD", "ZP_SAVE_VECTOR"]

VERBOSE_RE = re.compile(
    r"zpoline: rewrote (\d+) sites \((\d+) sysenter\) in (\d+) mappings, (\d+) KiB decoded, "
    r"in ([\d.]+) ms; (\d+) red-zone sites trap.*hook (\S+) loaded in ([\d.]+) ms")


def build_cases():
    """Native and zpoline case of every program, in the order they run in a round."""
    cases = []
    for name, argv, _procs, label in PROGRAMS:
        cases.append(benchlib.Case(f"{name}_native", [sys.executable, WALLTIME, "--"] + argv,
                                   label=f"{label} native"))
        cases.append(benchlib.Case(f"{name}_zpoline",
                                   [sys.executable, WALLTIME, "--"] + ZPRUN_PREFIX + argv,
                                   label=f"{label} zpoline"))
    return cases


def run_captured(argv, env_extra=None):
    """Run once from the repository root with output captured (the check runs)."""
    env = dict(os.environ)
    env.update(env_extra or {})
    try:
        return subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True,
                              timeout=120)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise benchlib.BenchFailure(f"cannot run {shlex.join(argv)}: {e}")


def verbose_check(name, argv, procs):
    """One native and one ZP_VERBOSE=1 zpoline run, untimed (they also warm the
    page cache for the timed rounds).  Returns the rewriter's figures summed
    over the command's processes, and the command line run."""
    native = run_captured(argv)
    zp_argv = ZPRUN_PREFIX + argv
    zp = run_captured(zp_argv, {"ZP_VERBOSE": "1"})
    shown = "ZP_VERBOSE=1 " + shlex.join(zp_argv)
    where = f"{name}: command: {shown}\n  stdout: {zp.stdout.strip()[:500]}\n  stderr: {zp.stderr.strip()[:2000]}"
    if native.returncode != 0:
        raise benchlib.BenchFailure(f"{name}: native run exited {native.returncode}: "
                                    f"{shlex.join(argv)}\n  stderr: {native.stderr.strip()}")
    if zp.returncode != 0:
        raise benchlib.BenchFailure(f"{name}: zpoline run exited {zp.returncode}\n  {where}")
    # Same output as natively: the rewritten program still does its job.
    if zp.stdout != native.stdout:
        raise benchlib.BenchFailure(f"{name}: stdout differs from the native run\n  {where}")
    lines = [m for m in (VERBOSE_RE.search(l) for l in zp.stderr.splitlines()) if m]
    if len(lines) != procs:
        raise benchlib.BenchFailure(f"{name}: expected {procs} zpoline report line(s) (one per "
                                    f"process), got {len(lines)}\n  {where}")
    fig = {"sites": 0, "mappings": 0, "kib": 0, "ms": 0.0, "hook_ms": 0.0}
    for m in lines:
        sites, _sysenter, mappings, kib, ms, _redzone, hook, hook_ms = m.groups()
        if int(sites) == 0:
            raise benchlib.BenchFailure(f"{name}: a process had no site rewritten\n  {where}")
        if os.path.realpath(hook) != os.path.realpath(PASSTHROUGH):
            raise benchlib.BenchFailure(f"{name}: hook {hook} loaded, not the pass-through\n  {where}")
        fig["sites"] += int(sites)
        fig["mappings"] += int(mappings)
        fig["kib"] += int(kib)
        fig["ms"] += float(ms)
        fig["hook_ms"] += float(hook_ms)
    fig["command"] = shown
    return fig


# --- bytes a full decode would cover: libc and ld.so ------------------------

def loaded_objects():
    """libc, ld.so and the vDSO as a native process maps them (cat reads its own
    /proc/self/maps, so these are the files /bin/true and friends really use)."""
    out = run_captured(["cat", "/proc/self/maps"])
    if out.returncode != 0:
        raise benchlib.BenchFailure("cannot read /proc/self/maps with cat")
    libc = ldso = None
    vdso = 0
    for line in out.stdout.splitlines():
        f = line.split()
        path = f[5] if len(f) >= 6 else ""
        base = os.path.basename(path)
        if base.startswith("libc.so"):
            libc = path
        elif base.startswith("ld-linux"):
            ldso = path
        elif path == "[vdso]":
            lo, hi = (int(x, 16) for x in f[0].split("-"))
            vdso += hi - lo
    if not libc or not ldso:
        raise benchlib.BenchFailure(f"libc or ld.so not found in cat's maps:\n{out.stdout}")
    return libc, ldso, vdso


def exec_load_bytes(path):
    """Sum of p_memsz of the executable PT_LOAD segments (`readelf -lW`): what a
    decode of the whole mapping would read."""
    out = run_captured(["readelf", "-lW", path])
    if out.returncode != 0:
        raise benchlib.BenchFailure(f"readelf -lW {path} failed: {out.stderr.strip()}")
    total = 0
    for line in out.stdout.splitlines():
        f = line.split()
        # LOAD off vaddr paddr filesz memsz FLAGS... align; flags may be "R E".
        if f and f[0] == "LOAD" and "E" in f[6:-1]:
            total += int(f[5], 16)
    if total == 0:
        raise benchlib.BenchFailure(f"no executable PT_LOAD segment in {path}")
    return total


def fmt_ms(v):
    return f"{v:.1f}" if v < 100 else f"{v:.0f}"


def fmt_kib(b):
    return f"{b / 1024:,.0f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    benchlib.add_round_args(ap, 11)
    args = ap.parse_args()

    mode, runs = benchlib.rounds_of(args, 11)

    for var in STRIP_ENV:
        os.environ.pop(var, None)

    missing = [os.path.relpath(p, REPO) for p in (LIBZPOLINE, PASSTHROUGH, os.path.join(REPO, ZPRUN))
               if not os.path.exists(p)]
    if missing:
        benchlib.fail("not built: " + ", ".join(missing) + " (run `make`)")
    tools = [argv[0] for _n, argv, _p, _l in PROGRAMS] + ["readelf", "cat"]
    absent = [t for t in tools if not shutil.which(t)]
    if absent:
        benchlib.fail("not installed: " + ", ".join(absent) + " (run `make deps`)")

    cases = build_cases()
    print(f"start-up cost: {mode} mode, {runs} interleaved rounds, {len(PROGRAMS)} programs "
          f"native and under zprun (values: us)")
    try:
        figures = {}
        for name, argv, procs, _label in PROGRAMS:
            figures[name] = verbose_check(name, argv, procs)
            f = figures[name]
            print(f"  check {name}: {procs} process(es) rewritten, {f['sites']} sites, "
                  f"{f['mappings']} mappings, {f['kib']} KiB decoded, {f['ms']:.2f} ms; "
                  "output same as native")
        libc, ldso, vdso = loaded_objects()
        true_path = os.path.realpath("/bin/true")
        full = {"libc": (libc, exec_load_bytes(libc)), "ld.so": (ldso, exec_load_bytes(ldso)),
                "/bin/true": (true_path, exec_load_bytes(true_path))}
        values = benchlib.run_interleaved(cases, runs, "wall_us")
    except benchlib.BenchFailure as e:
        benchlib.fail(str(e))

    # Microseconds from the wrapper, milliseconds in the tables.
    ms = {name: [v / 1000 for v in vals] for name, vals in values.items()}
    stats = {name: benchlib.summarize(v) for name, v in ms.items()}
    # Interleaving pairs the runs: round r ran native and zpoline back to back,
    # so their difference cancels the drift that both saw.
    added = {}
    for name, _argv, _procs, _label in PROGRAMS:
        diffs = [z - n for n, z in zip(ms[f"{name}_native"], ms[f"{name}_zpoline"])]
        added[name] = benchlib.summarize(diffs)
    info = benchlib.machine_info()

    lines = ["| Program | Processes | Native ms median (min-max) | zpoline ms median (min-max) "
             "| Added ms median (min-max) | Added per exec ms | Sites | Mappings | KiB decoded "
             "| Rewrite ms |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name, _argv, procs, label in PROGRAMS:
        n, z, a, f = stats[f"{name}_native"], stats[f"{name}_zpoline"], added[name], figures[name]
        lines.append(
            f"| {label} | {procs} "
            f"| {fmt_ms(n['median'])} ({fmt_ms(n['min'])}-{fmt_ms(n['max'])}) "
            f"| {fmt_ms(z['median'])} ({fmt_ms(z['min'])}-{fmt_ms(z['max'])}) "
            f"| {fmt_ms(a['median'])} ({fmt_ms(a['min'])}-{fmt_ms(a['max'])}) "
            f"| {fmt_ms(a['median'] / procs)} "
            f"| {f['sites']:,} | {f['mappings']} | {f['kib']:,} | {f['ms']:.1f} |")
    table = "\n".join(lines)

    # Full decode against what is decoded now.  libzpoline reports one total
    # per process, not per library; /bin/true's run decodes only /bin/true,
    # libc, ld.so and the vDSO, so its KiB figure is the "now" for libc + ld.so
    # (a slight overestimate: /bin/true and the vDSO are in it too).
    t = figures["true"]
    full_total = sum(b for _p, b in full.values()) + vdso
    now_bytes = t["kib"] * 1024
    ms_per_kib = t["ms"] / t["kib"] if t["kib"] else 0.0
    dlines = ["| Object | Executable PT_LOAD KiB (full decode) |", "|---|---:|"]
    for what, (path, b) in full.items():
        dlines.append(f"| {what} (`{path}`) | {fmt_kib(b)} |")
    dlines.append(f"| vDSO (size of the `[vdso]` mapping) | {fmt_kib(vdso)} |")
    dlines.append(f"| **total a full decode would cover** | **{fmt_kib(full_total)}** |")
    dlines.append(f"| **decoded now** (`/bin/true` run, functions holding 0f 05 / 0f 34) "
                  f"| **{t['kib']:,}** ({100 * now_bytes / full_total:.1f}%) |")
    decode_table = "\n".join(dlines)
    extrapolated = ms_per_kib * full_total / 1024

    print()
    print(table)
    print()
    print(decode_table)
    print(f"\nrewrite of /bin/true: {t['ms']:.1f} ms for {t['kib']} KiB; at that rate a full "
          f"decode would take ~{extrapolated:.0f} ms")

    argv_shown = "python3 bench/startup/run.py" + "".join(" " + shlex.quote(a) for a in sys.argv[1:])
    commands = "\n".join(c.command_line() for c in cases)
    verbose_cmds = "\n".join(figures[name]["command"] for name, *_ in PROGRAMS)
    readelf_cmds = "\n".join(f"readelf -lW {p}" for p, _b in full.values())
    body = f"""## Start-up cost: what zpoline adds to a short program's life

Whole-process wall time of a few real programs natively and under
`loaders/zprun --hook passthrough --` (libzpoline with the pass-through hook).
Nearly all of the difference is paid once, at start-up, when libzpoline
decodes and rewrites the process's code; a short program shows it in full.

{benchlib.machine_markdown(info)}
- Mode: {mode}; {runs} rounds, each round runs every row once natively and once under
  zprun, in the order of the table (interleaved, so drift hits all alike).  A run is
  timed by `bench/startup/walltime.py` from just before the fork to just after the
  wait, stdout to /dev/null for every run.  Median of the rounds, min and max over
  the rounds.  "Added" is zpoline minus native of the same round (median, min, max
  over rounds); "per exec" divides it by the processes the command runs.
- Sites, mappings, KiB decoded and rewrite ms are libzpoline's own figures
  (`ZP_VERBOSE=1`, one extra untimed run per program, summed over the command's
  processes); rewrite ms runs from libzpoline's constructor entry to the end of the
  rewrite (the hook library's loading is not in it).

{table}

What "added" contains besides the rewrite: zprun's own exec (one more `execve` and
dynamic link, about what native `/bin/true` costs), loading libzpoline (libopcodes is
linked into it), and the hook library in its own link namespace (`dlmopen`, a second libc),
and the program's system calls going through the trampoline (tens of ns each, see
the hook-cost section).  Rewrite ms comes from a single run, so it can exceed the
median "added" of the timed rounds.

For `sh -c 'ls | wc -l'` every one of the three processes (sh, then ls and wc) is
rewritten on its own: the cost is paid per exec, not per command.  ls and wc start
together and rewrite in parallel on different CPUs, so the wall time added is less
than the sum of the three rewrites, and "per exec" (added / 3) is below what a lone
program pays; a sequence of execs (a build, a shell script) pays each in full.

Why only functions holding `0f 05` / `0f 34` are decoded: a full decode would cover
every executable byte of every mapping.  For the libraries every process has (what
`/bin/true` maps):

{decode_table}

libzpoline reports one total per process, not per library, so "decoded now" is the
whole of `/bin/true`'s rewrite (libc and ld.so, plus `/bin/true` and the vDSO).  At
the rate measured there ({t['ms']:.1f} ms for {t['kib']:,} KiB, {ms_per_kib:.2f} ms/KiB, fixed
costs included) a full decode of these {fmt_kib(full_total)} KiB would take about
{extrapolated:,.0f} ms in every process instead of {t['ms']:.0f} ms (an extrapolation, not a
measurement: libzpoline has no switch for a full decode).

Checks (a run that fails any of them makes the harness refuse to report):
- every timed run must exit 0 with nothing on stderr (libzpoline prints nothing unless
  something went wrong, e.g. no hooking);
- the untimed ZP_VERBOSE=1 run of each program must exit 0, print exactly what the
  native run prints on stdout, print one report line per process of the command (each
  with sites rewritten and the pass-through hook loaded).

Commands (run from the repository root, by `{argv_shown}`; the environment is
cleared of {", ".join(STRIP_ENV)} first).  Timed runs:

```
{commands}
```

Rewriter figures (one run each; also checks, see above):

```
{verbose_cmds}
```

Executable segment sizes: `cat /proc/self/maps` (which libc, ld.so, vDSO size) and

```
{readelf_cmds}
```

![start-up time added by zpoline per program](img/startup-cost.png)
"""
    rows = [(label.replace("`", "").replace("\\|", "|"), added[name]["median"],
             added[name]["min"], added[name]["max"])
            for name, _argv, _procs, label in PROGRAMS]
    try:
        benchlib.gnuplot_bars(PLOT, f"Start-up time added by zpoline + pass-through hook "
                              f"({mode} mode, median of {runs} rounds; bars: min-max)",
                              "ms added per run", rows, logscale=False)
    except benchlib.BenchFailure as e:
        benchlib.fail(str(e))
    path = benchlib.replace_section(SECTION, body)
    print(f"\nwrote {os.path.relpath(path, REPO)} (section {SECTION}) and "
          f"{os.path.relpath(PLOT, REPO)}")


if __name__ == "__main__":
    main()
