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


def test_two_workers_both_answer(make_gtmd):
    """Queries from every CPU gtmd's host lets us use, from many source
    ports, reach both UDP workers; the workers' counts add up to what was
    sent (nothing else queries this gtmd's port)."""
    g, a = start(make_gtmd, policy=False, mutate=two_workers)
    before = worker_messages(a)
    assert sorted(before) == ["tcp0", "tcp1", "udp2", "udp3"], before
    cpus = sorted(os.sched_getaffinity(0))
    sent = 0
    for cpu in cpus[:4] * 10:  # 40 rounds over at most 4 CPUs
        sent += 10
        assert query_from(g, cpu, 10) == 10
    w = wait_metrics(a, lambda w: w["udp2"] + w["udp3"] - before["udp2"] - before["udp3"] >= sent)
    got = {k: w[k] - before[k] for k in ("udp2", "udp3")}
    assert got["udp2"] + got["udp3"] == sent, (got, sent)
    assert got["udp2"] > 0 and got["udp3"] > 0, got
    log = g.read_log()
    assert "event=udp_steering" in log, log
    if len(os.sched_getaffinity(0)) >= 2 and os.cpu_count() >= 2 and lo_rps_off() \
            and "mode=cpu" in log:
        # Steered by the receiving CPU, which on loopback is the sender's:
        # 25 more queries from CPU c all reach worker c % 2.
        for cpu in (c for c in cpus if c < 2):
            before = worker_messages(a)
            assert query_from(g, cpu, 25) == 25
            name = "udp%d" % (2 + cpu % 2)
            other = "udp%d" % (3 - cpu % 2)
            w = wait_metrics(a, lambda w: w[name] - before[name] >= 25)
            assert w[name] - before[name] == 25 and w[other] == before[other], (cpu, before, w)


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
    if len(allowed) >= 2 and "mode=cpu" in g.read_log():
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
