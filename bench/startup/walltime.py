#!/usr/bin/env python3
"""bench/startup/walltime.py - run one command once and print its wall time.

  python3 bench/startup/walltime.py -- PROGRAM [ARGS...]

Prints one result line for benchlib (`wall_us=... exit=... status=ok`) and
exits 0, or prints `status=fail reason=...` and exits 1 when the command
exited non-zero or wrote anything on stderr (none of the measured programs
does, natively or under zpoline, so a message there means something went
wrong - e.g. libzpoline saying it did not hook - and the time is not valid).

The clock starts just before the fork and stops just after the wait, so the
time is the whole life of the process (and of its children: a shell pipeline
is waited for as a whole), as a user sees it.  This wrapper's own Python
start-up is outside the timed region.  The command's stdout goes to
/dev/null for every run (native and zpoline alike): writing to a terminal or
a pipe would add a reader's speed to the figure.
"""

import subprocess
import sys
import tempfile
import time


def main():
    argv = sys.argv[1:]
    if argv[:1] == ["--"]:
        argv = argv[1:]
    if not argv:
        print("status=fail reason=no-command")
        sys.exit(1)
    # stderr to a file, not a pipe: no reader has to run while we time.
    with tempfile.TemporaryFile(mode="w+") as err:
        t0 = time.perf_counter_ns()
        try:
            rc = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=err).returncode
        except OSError as e:
            print(f"status=fail reason=cannot-run:{e.strerror.replace(' ', '-')}")
            sys.exit(1)
        t1 = time.perf_counter_ns()
        err.seek(0)
        stderr_text = err.read()
    wall_us = (t1 - t0) / 1000
    if rc != 0:
        sys.stderr.write(stderr_text)
        print(f"wall_us={wall_us:.1f} exit={rc} status=fail reason=exit-status-{rc}")
        sys.exit(1)
    if stderr_text:
        sys.stderr.write(stderr_text)
        print(f"wall_us={wall_us:.1f} exit={rc} status=fail reason=unexpected-stderr")
        sys.exit(1)
    print(f"wall_us={wall_us:.1f} exit={rc} status=ok")


if __name__ == "__main__":
    main()
