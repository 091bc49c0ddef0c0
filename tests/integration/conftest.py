"""Shared fixtures for the integration tests: start the real gtmd binary on a
free loopback port, wait until it answers, stop it afterwards. Also prints one
TAP line per test so automake's tap-driver counts every test.

ThreadSanitizer (a build configured with --enable-tsan): every gtmd started
here writes its reports to TSAN_LOG_NAME.PID in its own directory (log_path);
stopping it fails the test when such a file exists or its log has a report.
The same goes for AddressSanitizer, LeakSanitizer (at exit) and UBSan reports
(the --enable-sanitizers build) in gtmd's log: UBSan goes on after a report,
and a leak shows only when gtmd exits, so neither would fail a test alone.
Tests that exercise several threads at once carry @pytest.mark.threads; the
TSan build runs only those (run.sh)."""
import glob
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import json

import dns.message
import dns.query
import dns.rcode
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
DATA = os.path.join(TOP, "tests", "data")
GTMD = os.environ.get("GTMD", os.path.join(TOP, "gtmd"))


# Ports handed out by free_port: below the kernel's ephemeral range
# (32768-60999 on Debian), in a slice of its own for each pytest-xdist
# worker. A port the kernel picks for a bind to 0 comes from the
# ephemeral range, where any client socket of a test running beside
# (a DNS query, an HTTP call, etcd's peers) can take it between the check
# here and gtmd's bind: "cannot listen on 127.0.0.1:46153/udp: Address
# already in use" ended an ASan run once. Within a worker's slice the
# ports go round in order, so a port handed out is not handed out again
# before the slice's 2,000 others.
PORT_BASE = 10000
PORT_SLICE = 2000
_port_next = []


def free_port():
    """A port free for both UDP and TCP on 127.0.0.1 (PORT_BASE)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    w = int(worker[2:]) if worker[2:].isdigit() else 0
    low = PORT_BASE + (w % 11) * PORT_SLICE
    if not _port_next:
        _port_next.append(low + random.randrange(PORT_SLICE))
    for _ in range(PORT_SLICE):
        port = _port_next[0]
        _port_next[0] = low + (port + 1 - low) % PORT_SLICE
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            t.bind(("127.0.0.1", port))
            u.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
        finally:
            u.close()
            t.close()
    raise RuntimeError("no free port in %d-%d" % (low, low + PORT_SLICE - 1))


def stop_process(proc, timeout=10):
    """SIGTERM, then SIGKILL if it has not exited within timeout seconds."""
    if proc and proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


TSAN_LOG_NAME = "tsan-report"
TSAN_MARK = "WARNING: ThreadSanitizer"
# Where a sanitizer report begins in gtmd's stderr (its log): TSan, ASan,
# LeakSanitizer, UBSan ("file:line:col: runtime error: ...").
SANITIZER_MARKS = (TSAN_MARK, "ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                   ": runtime error: ")


def sanitizer_env(workdir):
    """The environment of a gtmd started in workdir: TSan reports (if the
    binary has TSan) go to files there, whatever TSAN_OPTIONS says."""
    env = dict(os.environ)
    opts = env.get("TSAN_OPTIONS", "")
    env["TSAN_OPTIONS"] = (opts + " log_path=" + os.path.join(workdir, TSAN_LOG_NAME)).strip()
    return env


class Gtmd:
    """A running gtmd process with its config in a private directory."""

    def __init__(self, workdir, config, port):
        self.workdir = workdir
        self.config = config
        self.port = port
        self.addr = "127.0.0.1"
        self.conf_path = os.path.join(workdir, "gtmd.json")
        self.log_path = os.path.join(workdir, "gtmd.log")
        self.proc = None
        self.reported = set()  # sanitizer reports already raised
        self.env = None  # more environment variables for the process (a dict)
        self.preexec = None  # run in the child before exec (e.g. set rlimits)

    def write_config(self, config=None):
        if config is not None:
            self.config = config
        with open(self.conf_path, "w") as f:
            json.dump(self.config, f, indent=1)

    def start(self, wait=True):
        self.write_config()
        self.log = open(self.log_path, "ab")
        env = sanitizer_env(self.workdir)
        env.update(self.env or {})
        self.proc = subprocess.Popen([GTMD, "-c", self.conf_path], stderr=self.log,
                                     stdout=self.log, env=env, preexec_fn=self.preexec)
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout=10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("gtmd exited: " + self.read_log())
            try:
                q = dns.message.make_query("ready.invalid.", "A")
                dns.query.udp(q, self.addr, port=self.port, timeout=0.2)
                return
            except Exception:
                time.sleep(0.05)
        raise RuntimeError("gtmd did not answer in time: " + self.read_log())

    def read_log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def query(self, name, rdtype="A", tcp=False, timeout=2.0, **kw):
        q = dns.message.make_query(name, rdtype, **kw)
        if tcp:
            return dns.query.tcp(q, self.addr, port=self.port, timeout=timeout)
        return dns.query.udp(q, self.addr, port=self.port, timeout=timeout)

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self):
        stop_process(self.proc)
        if getattr(self, "log", None):
            self.log.close()
        self.check_sanitizer()
        return self.proc.returncode if self.proc else None

    def sanitizer_reports(self):
        """New sanitizer reports of this gtmd: (where, text) pairs."""
        found = []
        for path in sorted(glob.glob(os.path.join(self.workdir, TSAN_LOG_NAME + ".*"))):
            with open(path, "rb") as f:
                found.append((path, f.read().decode(errors="replace")))
        if os.path.exists(self.log_path):
            log = self.read_log()
            at = [log.find(m) for m in SANITIZER_MARKS if m in log]
            if at:
                start = log.rfind("\n", 0, min(at)) + 1
                found.append((self.log_path, log[start:]))
        return [(w, t) for w, t in found if (w, len(t)) not in self.reported]

    def check_sanitizer(self):
        """Fails (once per report) when gtmd reported a data race, a memory
        error, a leak or undefined behaviour."""
        new = self.sanitizer_reports()
        self.reported.update((w, len(t)) for w, t in new)
        if new:
            raise AssertionError("a sanitizer reported in gtmd:\n" + "\n".join(
                "---- %s\n%s" % (w, t[:6000]) for w, t in new))


def measured_env():
    """Environment (Gtmd.env) for a gtmd whose memory a test measures: under
    AddressSanitizer, freed memory is not held in quarantine (it would count
    as resident), so RSS reflects what gtmd keeps; other builds ignore it."""
    opts = os.environ.get("ASAN_OPTIONS", "")
    return {"ASAN_OPTIONS": (opts + ":" if opts else "") +
            "quarantine_size_mb=0:thread_local_quarantine_size_kb=0:"
            "allocator_release_to_os_interval_ms=0"}


def rss_kib(pid):
    """VmRSS of process pid, in KiB (the memory tests)."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def runs_asan(pid):
    """Whether process pid runs with AddressSanitizer (its runtime is
    mapped): memory bounds hold for the other builds."""
    with open("/proc/%d/maps" % pid) as f:
        return "libasan" in f.read()


def sanitized(path):
    """Whether the gtmd binary at path was built with a sanitizer (ASan or
    ThreadSanitizer): for bounds decided before any gtmd runs (runs_asan
    needs a running process)."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return False
    return b"__asan_init" in data or b"__tsan_init" in data


def default_config(workdir, port):
    for f in ("example.com.zone", "example.com.inc", "sub.example.com.zone"):
        shutil.copy(os.path.join(DATA, f), workdir)
    return {
        "listen": ["127.0.0.1:%d" % port],
        "workers": 2,
        "zones": [
            {"origin": "example.com.", "file": "example.com.zone"},
            {"origin": "sub.example.com.", "file": "sub.example.com.zone"},
        ],
    }


@pytest.fixture
def make_gtmd():
    """Factory: make_gtmd(config_fn=None) -> started Gtmd. config_fn(workdir,
    port) returns the config dict (default: the test zones)."""
    started = []

    def factory(config_fn=None, start=True):
        workdir = tempfile.mkdtemp(prefix="gtmd-it-")
        port = free_port()
        config = (config_fn or default_config)(workdir, port)
        g = Gtmd(workdir, config, port)
        started.append(g)
        if start:
            g.start()
        return g

    yield factory
    errors = []
    for g in started:
        try:
            g.stop()
        except AssertionError as e:  # a sanitizer report: fail after cleaning up
            errors.append(str(e))
        shutil.rmtree(g.workdir, ignore_errors=True)
    if errors:
        pytest.fail("\n".join(errors), pytrace=False)


@pytest.fixture
def gtmd(make_gtmd):
    return make_gtmd()


# ---- TAP output for automake's tap-driver ---------------------------------
_tap = {"n": 0}


def _tap_line(text):
    # Leading newline: pytest's progress dots must not share the TAP line.
    sys.__stdout__.write("\n" + text + "\n")
    sys.__stdout__.flush()


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "threads: exercises several gtmd threads at once (run by the TSan build)")


def pytest_runtest_logreport(report):
    if report.when == "teardown" and report.failed:
        # e.g. a sanitizer report found when the fixture stopped gtmd
        _tap["n"] += 1
        _tap_line("not ok %d - %s (teardown)" % (_tap["n"], report.nodeid.replace("#", "")))
        return
    if report.when == "call" or (report.when == "setup" and not report.passed):
        _tap["n"] += 1
        name = report.nodeid.replace("#", "")
        if report.skipped:
            _tap_line("ok %d - %s # SKIP" % (_tap["n"], name))
        elif report.passed:
            _tap_line("ok %d - %s" % (_tap["n"], name))
        else:
            _tap_line("not ok %d - %s" % (_tap["n"], name))


def pytest_sessionfinish(session, exitstatus):
    _tap_line("1..%d" % _tap["n"])
