"""UDP steering and worker pinning (net/spread.h, gtmd.conf(5) udp_steering
and pin_workers): gtmd with 2 workers answers from both UDP workers, as
gtmd_worker_messages_total shows; with the receiving-CPU steering on,
queries sent from one CPU all reach that CPU's worker; pin_workers pins
every worker thread to one CPU; bad values are refused at their JSON
path."""
import json
import os
import re
import socket
import subprocess
import time

import dns.message
import pytest

from adminlib import READ_TOKEN, start
from conftest import GTMD, default_config

# Long enough for an ASan gtmd on a loaded 2-core machine to answer a few
# hundred queries and update a scrape: answers take well under 10 ms each.
DEADLINE_S = 20


def worker_messages(a):
    """{worker: messages} from gtmd_worker_messages_total."""
    r = a.get("/metrics", token=READ_TOKEN)
    assert r.status == 200, r
    text = r.body.decode() if isinstance(r.body, bytes) else r.body
    return {m.group(1): int(m.group(2)) for m in re.finditer(
        r'^gtmd_worker_messages_total\{worker="([a-z]+[0-9]+)"\} ([0-9]+)$', text, re.M)}


def query_from(g, cpu, n):
    """n queries from CPU cpu (this process pinned there meanwhile), each
    from a new socket (a new source port); returns how many were answered."""
    old = os.sched_getaffinity(0)
    answered = 0
    try:
        os.sched_setaffinity(0, {cpu})
        for i in range(n):
            q = dns.message.make_query("www.example.com.", "A")
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.settimeout(2.0)
                s.sendto(q.to_wire(), (g.addr, g.port))
                try:
                    s.recv(4096)
                    answered += 1
                except socket.timeout:
                    pass
    finally:
        os.sched_setaffinity(0, old)
    return answered


def wait_metrics(a, pred):
    """Polls /metrics until pred(counts) holds (DEADLINE_S); the last counts."""
    deadline = time.monotonic() + DEADLINE_S
    while True:
        w = worker_messages(a)
        if pred(w) or time.monotonic() > deadline:
            return w
        time.sleep(0.05)


def lo_rps_off():
    try:
        with open("/sys/class/net/lo/queues/rx-0/rps_cpus") as f:
            return not f.read().strip().strip("0,")
    except OSError:
        return True


def two_workers(c, workdir):
    c["workers"] = 2


def steered_by_cpu(g):
    """Whether gtmd steers by the receiving CPU and, on loopback, that CPU
    is the sender's (no RPS on lo)."""
    return "event=udp_steering mode=cpu" in g.read_log() and lo_rps_off()


def test_two_workers_both_answer(make_gtmd):
    """Queries from every CPU this test may use (at most 4), from many
    source ports, reach the UDP workers: every query is counted once in
    gtmd_worker_messages_total (nothing else queries this gtmd's port);
    steered by CPU, each CPU's queries all reach worker (CPU % 2), and
    with CPUs of both parities (or the kernel's hash) both workers
    answer."""
    g, a = start(make_gtmd, policy=False, mutate=two_workers)
    before = worker_messages(a)
    assert sorted(before) == ["tcp0", "tcp1", "udp2", "udp3"], before
    assert "event=udp_steering" in g.read_log(), g.read_log()
    cpus = sorted(os.sched_getaffinity(0))[:4]
    by_cpu = steered_by_cpu(g)
    expect = {"udp2": 0, "udp3": 0}
    for cpu in cpus * 10:  # 10 rounds of 10 queries from each CPU
        assert query_from(g, cpu, 10) == 10
        expect["udp%d" % (2 + cpu % 2)] += 10
    sent = sum(expect.values())
    w = wait_metrics(a, lambda w: w["udp2"] + w["udp3"] - before["udp2"] - before["udp3"] >= sent)
    got = {k: w[k] - before[k] for k in ("udp2", "udp3")}
    assert got["udp2"] + got["udp3"] == sent, (got, sent)
    if by_cpu:
        assert got == expect, (got, expect, cpus)
    if not by_cpu or len({c % 2 for c in cpus}) == 2:
        assert got["udp2"] > 0 and got["udp3"] > 0, (got, cpus)


def thread_cpus(pid):
    """{thread name: Cpus_allowed_list} of process pid."""
    out = {}
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/comm" % (pid, tid)) as f:
                name = f.read().strip()
            with open("/proc/%d/task/%s/status" % (pid, tid)) as f:
                allowed = re.search(r"^Cpus_allowed_list:\s*(\S+)", f.read(), re.M).group(1)
        except (OSError, AttributeError):
            continue  # a thread that ended meanwhile
        out[name] = allowed
    return out


def test_pin_workers(make_gtmd):
    """pin_workers: every worker thread is allowed one CPU, the log says
    how many were pinned, and gtmd answers as before."""
    def mutate(c, workdir):
        c["workers"] = 2
        c["pin_workers"] = True

    g, a = start(make_gtmd, policy=False, mutate=mutate)
    assert g.query("www.example.com.").rcode() == 0
    cpus = thread_cpus(g.proc.pid)
    workers = {k: v for k, v in cpus.items() if re.match(r"gtmd-(udp|tcp)[0-9]+$", k)}
    assert len(workers) == 4, cpus
    allowed = os.sched_getaffinity(g.proc.pid)
    for name, lst in workers.items():
        assert re.match(r"^[0-9]+$", lst) and int(lst) in allowed, (name, lst, allowed)
    if len({c % 2 for c in allowed}) == 2 and "mode=cpu" in g.read_log():
        # UDP worker k runs on a CPU whose number % 2 is k: where its
        # queries are received.
        assert int(workers["gtmd-udp2"]) % 2 == 0 and int(workers["gtmd-udp3"]) % 2 == 1, workers
    assert re.search(r"event=worker_pin result=pinned workers=4 of=4", g.read_log())


def test_udp_steering_hash(make_gtmd):
    """udp_steering "hash" leaves the kernel's hash, and the log says why."""
    def mutate(c, workdir):
        c["workers"] = 2
        c["udp_steering"] = "hash"

    g, a = start(make_gtmd, policy=False, mutate=mutate)
    assert g.query("www.example.com.").rcode() == 0
    assert re.search(r'event=udp_steering mode=hash .*why="udp_steering is \\?"hash', g.read_log())


def test_reload_keeps_steering_and_pinning(make_gtmd):
    """pin_workers and udp_steering change only on restart: a reload that
    changes them says so and the workers keep running as they were."""
    g, a = start(make_gtmd, policy=False, mutate=two_workers)
    g.config["pin_workers"] = True
    g.config["udp_steering"] = "hash"
    g.write_config()
    r = a.post("/v1/reload")
    assert r.status == 200 and r.json["restart_needed_for_listen"] is True, r
    assert sorted(r.json["restart_needed"]) == ["pin_workers", "udp_steering"], r.json
    assert "event=worker_pin" not in g.read_log()
    assert g.query("www.example.com.").rcode() == 0


@pytest.mark.parametrize("key,value,message", [
    ("pin_workers", "yes", r"\$\.pin_workers"),
    ("pin_workers", 1, r"\$\.pin_workers"),
    ("udp_steering", "round-robin", r'\$\.udp_steering: must be "cpu" or "hash"'),
    ("udp_steering", 7, r"\$\.udp_steering"),
])
def test_bad_values_refused_at_their_path(tmp_path, key, value, message):
    c = default_config(str(tmp_path), 53)
    c[key] = value
    path = tmp_path / "gtmd.json"
    path.write_text(json.dumps(c))
    r = subprocess.run([GTMD, "check", "-c", str(path)], capture_output=True, text=True,
                       timeout=20)
    assert r.returncode != 0 and re.search(message, r.stderr), r.stderr
