"""Running out of file descriptors (issue 11, bug 7): accept4 errors pause
accepting instead of spinning the TCP worker, a probe that cannot even get
a socket is no verdict on its endpoint, and start-up checks
tcp.max_connections + admin connections + probes against RLIMIT_NOFILE
(raising the soft limit, or refusing with a clear message).

The running daemon's soft limit is lowered with prlimit(2) (only the soft
one, so it can be raised back without privileges)."""
import os
import re
import resource
import socket
import time

import pytest

from backends import backends, free_port_on, poll, query_addrs  # noqa: F401
from conftest import default_config
from test_tcp import assert_www_answer, tcp_query


def open_fds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def cpu_ticks(pid):
    """utime + stime of pid, in clock ticks."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def soft_nofile(pid):
    with open("/proc/%d/limits" % pid) as f:
        for line in f:
            if line.startswith("Max open files"):
                return int(line.split()[3])
    raise AssertionError("no Max open files line")


def lower_soft_nofile(pid, extra):
    """Sets pid's soft RLIMIT_NOFILE to its open descriptors + extra; returns
    the old (soft, hard)."""
    old = resource.prlimit(pid, resource.RLIMIT_NOFILE)
    resource.prlimit(pid, resource.RLIMIT_NOFILE, (open_fds(pid) + extra, old[1]))
    return old


def test_accept_emfile_pauses_instead_of_spinning(make_gtmd):
    def fn(workdir, port):
        c = default_config(workdir, port)
        c["workers"] = 1
        c["tcp"] = {"idle_timeout": 30, "message_timeout": 30}
        return c

    g = make_gtmd(fn)
    assert_www_answer(tcp_query(g))
    pid = g.proc.pid
    old = lower_soft_nofile(pid, 2)
    held = []
    try:
        # 40 connections: the kernel completes them from the backlog; gtmd
        # can accept two, then accept4 fails with EMFILE.
        for _ in range(40):
            held.append(socket.create_connection((g.addr, g.port), timeout=1.0))
        time.sleep(0.3)
        t0 = cpu_ticks(pid)
        time.sleep(2.0)
        used = (cpu_ticks(pid) - t0) / float(os.sysconf("SC_CLK_TCK"))
        assert used < 0.3, "gtmd used %.2f s of CPU in 2 s while out of descriptors" % used
        paused = re.findall(r"event=tcp_accept_paused worker=0 error=EMFILE", g.read_log())
        assert len(paused) == 1, "want one tcp_accept_paused line per burst, got %d" % len(paused)
        # UDP is unaffected.
        assert_www_answer(g.query("www.example.com.", "A", timeout=1.0))
    finally:
        resource.prlimit(pid, resource.RLIMIT_NOFILE, old)
    try:
        # Descriptors are back: the paused listener is polled again within
        # the back-off (at most 1 s) and a fresh client is served.
        t0 = time.monotonic()
        assert_www_answer(tcp_query(g, timeout=3.0))
        assert time.monotonic() - t0 < 2.5
        ok, _ = poll(lambda: "event=tcp_accept_resumed worker=0" in g.read_log(), 2.0)
        assert ok, g.read_log()[-2000:]
    finally:
        for s in held:
            s.close()


def test_probe_without_descriptors_is_not_a_verdict(make_gtmd, backends):
    """Out of descriptors, every probe fails to start; the endpoint keeps
    its state (up) instead of being marked down, and probe_not_run says why.

    Fall 3, not 1: with fall 1 one slow probe of the healthy backend on a
    loaded machine (sanitizer builds, 2 cores) marked it down; the probes
    that cannot start last at least five intervals, so counting them as
    failures would still cross fall 3."""
    addr = "127.0.0.11"
    port = free_port_on([addr])
    backends.http(addr, port)

    def fn(workdir, dport):
        c = default_config(workdir, dport)
        c["regions"] = {"r1": {}}
        c["checks"] = {"web": {"type": "http", "port": port, "interval": 0.2, "timeout": 0.15,
                               "rise": 1, "fall": 3}}
        c["pools"] = {"p": {"check": "web", "endpoints": [
            {"name": "e1", "address": addr, "region": "r1"}]}}
        c["records"] = {"app.example.com.": {"pool": "p", "policy": "failover",
                                             "regions": ["r1"], "when_all_down": "empty"}}
        return c

    g = make_gtmd(fn)
    # A first probe decides alone (no fall): a slow one leaves the endpoint
    # down until the next probe (rise 1), so wait for it rather than read once.
    ok, _ = poll(lambda: query_addrs(g, "app.example.com.") == [addr], 3.0)
    assert ok, g.read_log()[-2000:]
    before = len(g.read_log())
    pid = g.proc.pid
    old = lower_soft_nofile(pid, 0)
    try:
        ok, _ = poll(lambda: "event=probe_not_run" in g.read_log(), 3.0)
        assert ok, "no probe_not_run line:\n" + g.read_log()[-2000:]
        time.sleep(1.0)  # five intervals: fall 3 would have marked it down
        assert query_addrs(g, "app.example.com.") == [addr]
    finally:
        resource.prlimit(pid, resource.RLIMIT_NOFILE, old)
    log = g.read_log()[before:]
    assert "to=down" not in log, log[-2000:]
    assert re.search(r'event=probe_not_run target="endpoint:p/e1" why="cannot start probe: ',
                     log), log[-2000:]
    # Probes run again and the endpoint is still answered.
    time.sleep(0.5)
    assert query_addrs(g, "app.example.com.") == [addr]


def big_conn_config(workdir, port):
    c = default_config(workdir, port)
    c["workers"] = 1
    c["tcp"] = {"max_connections": 5000}
    return c


def test_start_refused_when_hard_limit_too_low(make_gtmd):
    g = make_gtmd(big_conn_config, start=False)
    g.preexec = lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (1024, 1024))
    g.start(wait=False)
    assert g.proc.wait(timeout=10) == 1
    log = g.read_log()
    assert "RLIMIT_NOFILE (hard limit 1024) is below the" in log, log
    assert "tcp.max_connections 5000" in log and "lower tcp.max_connections" in log, log


def test_start_raises_soft_limit(make_gtmd):
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard != resource.RLIM_INFINITY and hard < 6000:
        pytest.skip("our hard RLIMIT_NOFILE (%d) is below what the test needs" % hard)
    g = make_gtmd(big_conn_config, start=False)
    g.preexec = lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (1024, hard))
    g.start()
    assert soft_nofile(g.proc.pid) >= 5000
    assert re.search(r"event=nofile soft=\d+ raised_from=1024 hard=", g.read_log())


def test_reload_refused_when_hard_limit_too_low(make_gtmd):
    g = make_gtmd(start=False)
    g.preexec = lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (1024, 1024))
    g.start()
    cfg = dict(g.config)
    cfg["tcp"] = {"max_connections": 5000}
    g.write_config(cfg)
    g.signal(__import__("signal").SIGHUP)
    ok, _ = poll(lambda: "event=reload result=failed" in g.read_log(), 5.0)
    assert ok, g.read_log()
    assert "RLIMIT_NOFILE (hard limit 1024)" in g.read_log()
    assert_www_answer(g.query("www.example.com.", "A"))
