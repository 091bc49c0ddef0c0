"""Runs the integration tests once, then once more, alone, only the few
that failed; prints the TAP stream automake's tap-driver reads.

Why: the suite runs three times in CI (-Werror, ASan+UBSan, TSan) on a
2-core machine with three tests at once, about 1,700 tests each time, most
of them waiting on real timers (backends falling, etcd elections). A test
whose bound holds alone can miss it once when three sanitizer builds of
gtmd and an etcd cluster share two cores. Such a miss says the machine was
busy, not that gtmd broke a promise, and one of them used to fail the whole
run. So a test that failed is run again by itself, after the others, and
counts as passed only if it passes then. Everything stays visible:
  - the first attempt's failure, with its traceback, is printed in full;
  - its TAP line stays "ok" only with "FLAKY: failed once, passed when run
    again alone" in its description, which tests/run-all.sh lists at the
    end of each stage;
  - a test that fails again fails the run, with both tracebacks.
What is never run again:
  - a failure found at teardown: that is where the fixtures read gtmd's
    sanitizer reports (a data race or a leak is real however rarely it
    shows);
  - a run where more than MAX_RERUN tests failed: that is not a busy
    machine;
  - a run pytest itself ended with an error (exit codes other than 0 and
    1: interrupted, internal error, usage error, no test collected).

usage: rerun.py PYTEST-ARGS...   (the arguments of the first run; the
second gets them without pytest-xdist's -n and without the "." that
tests/integration/run.sh ends them with)
"""
import os
import re
import subprocess
import sys

MAX_RERUN = 10
TAP = re.compile(r"^(not ok|ok) (\d+) - (.*)$")
FLAKY = "FLAKY: failed once, passed when run again alone"


def rerun_run(argv):
    """Runs pytest with argv; returns (exit code, output lines)."""
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"] + argv
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    return p.returncode, p.stdout.decode(errors="replace").splitlines()


def rerun_results(lines):
    """{test name: True when its last TAP line says ok} and the teardown
    failures' names."""
    res, teardown = {}, set()
    for line in lines:
        m = TAP.match(line)
        if not m:
            continue
        name = m.group(3)
        if name.endswith(" (teardown)"):
            teardown.add(name[: -len(" (teardown)")])
            continue
        if name.endswith(" # SKIP"):
            continue
        res[name] = m.group(1) == "ok"
    return res, teardown


def rerun_strip_jobs(argv):
    """The first run's arguments without -n N and without the trailing
    path (the second run names its tests)."""
    out, skip = [], False
    for a in argv:
        if skip:
            skip = False
        elif a == "-n":
            skip = True
        elif a.startswith("-n") and a[2:].isdigit():
            pass
        elif a == ".":
            pass
        else:
            out.append(a)
    return out


def rerun_main(argv):
    rc, lines = rerun_run(argv)
    res, teardown = rerun_results(lines)
    failed = sorted(n for n, ok in res.items() if not ok)
    forgiven = set()
    if rc == 1 and not teardown and 0 < len(failed) <= MAX_RERUN:
        # One at a time and alone, so that each gets the machine.
        second = []
        for name in failed:
            rc2, lines2 = rerun_run(rerun_strip_jobs(argv) + [name])
            res2, teardown2 = rerun_results(lines2)
            if rc2 == 0 and res2.get(name) and not teardown2:
                forgiven.add(name)
            second.append((name, rc2, lines2))
    else:
        second = []
    for line in lines:
        m = TAP.match(line)
        if m and m.group(1) == "not ok" and m.group(3) in forgiven:
            line = "ok %s - %s (%s)" % (m.group(2), m.group(3), FLAKY)
        print(line)
    for name, rc2, lines2 in second:
        verdict = "passed" if name in forgiven else "FAILED again (exit %d)" % rc2
        print("# ---- run again alone: %s: %s" % (name, verdict))
        for line in lines2:
            # As TAP comments: the second run's lines must not count twice.
            print("#   " + line)
    sys.stdout.flush()
    if rc == 1 and forgiven and set(failed) == forgiven:
        return 0
    return rc


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(rerun_main(sys.argv[1:]))
