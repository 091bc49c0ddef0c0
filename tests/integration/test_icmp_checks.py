"""icmp checks (issue #57, doc/health.md): echo requests to the endpoint,
judged on the replies.

- ::1 and 127.0.0.1 answer: up, with a round-trip time recorded.
- A network namespace the test makes (netlab.py: a veth on a bridge)
  answers ping on its address; the address is removed (down within
  interval + timeout per failed probe, fall of them; asserted within a
  wide bound), then put back (up again). Echo replies dropped by a tc
  filter on the namespace's egress (clsact, u32 on ICMP type 0, mirred to
  a dead veth as netlab does: no netem, no iptables here): down; the
  filter removed: up.
- gtmd runs as root here, so a ping socket is refused (ping_group_range
  "1 0") and it opens a raw one (log: event=icmp_socket kind=raw). In a
  namespace whose ping_group_range lets root's group in, the same check
  uses a ping socket (SOCK_DGRAM) instead: gtmd is started inside it.
- Bad input: a port on an icmp check, an echo train longer than the
  timeout, a loss threshold outside 0..1 are refused by `gtmd check` at
  their JSON path; an icmp check on a host name that does not resolve is
  down with "cannot resolve ...".

Every wait is bounded; the namespaces are removed even when a test fails."""
import ctypes
import json
import os
import re
import subprocess
import tempfile

import pytest

import netlab
from adminlib import Admin, admin_port, admin_section, status_endpoint
from backends import poll
from conftest import GTMD
from test_policy_failover import ep, policy_config

INTERVAL, TIMEOUT, FALL, RISE = 0.5, 0.4, 2, 2


def icmp_check(**kw):
    c = {"type": "icmp", "interval": INTERVAL, "timeout": TIMEOUT, "fall": FALL, "rise": RISE,
         "count": 3, "echo_interval": 0.1}
    c.update(kw)
    return c


def config(endpoints, check=None, listen=None):
    fn = policy_config(["r1"], {"ping": check or icmp_check()},
                       {"p": {"check": "ping", "endpoints": endpoints}},
                       {"p.example.com.": {"pool": "p", "policy": "all", "ttl": 5}})

    def with_admin(workdir, dns_port):
        c = fn(workdir, dns_port)
        c["admin"] = admin_section(workdir, admin_port(dns_port), unix=True, tcp=False)
        if listen:
            c["listen"] = ["%s:%d" % (listen, dns_port)]
        return c
    return with_admin


def endpoint(g, name, pool="p"):
    return status_endpoint(g, pool, name, via_unix=True)


def probe_state(g, name):
    return endpoint(g, name)["state"]["probe"]


def wait_state(g, name, state, timeout):
    ok, took = poll(lambda: probe_state(g, name) == state, timeout, 0.05)
    assert ok, (name, state, endpoint(g, name), g.read_log()[-1500:])
    return took


@pytest.fixture
def lab():
    why = netlab.why_not()
    if why:
        pytest.skip(why)
    lab = netlab.Lab()
    yield lab
    lab.close()


def test_loopback_v4_and_v6_answer(make_gtmd):
    g = make_gtmd(config([ep("v4", "127.0.0.1", "r1"), ep("v6", "::1", "r1")]))
    for name in ("v4", "v6"):
        wait_state(g, name, "up", 5)
        e = endpoint(g, name)
        assert e["last_result"] == "ok" and e["rtt"]["samples"] >= 1, e
        assert 0 < e["rtt"]["ewma_ms"] < 100, e
    log = g.read_log()
    # Root here, and ping_group_range "1 0": raw sockets, one per family.
    kinds = re.findall(r"event=icmp_socket family=(\S+) kind=(\S+)", log)
    assert sorted(kinds) == [("ipv4", "raw"), ("ipv6", "raw")] or os.geteuid() != 0, kinds
    # Each probe is a sample of the probe histogram like any other check's.
    m = Admin.of(g).get("/metrics", via_unix=True).body.decode()
    counts = re.findall(r"^gtmd_probe_duration_seconds_count\{.*\} (\d+)$", m, re.M)
    assert len(counts) == 2 and all(int(c) >= 1 for c in counts), counts


def test_address_removed_then_restored(make_gtmd, lab):
    addr = lab.host("t", 1)
    ns = lab.hosts["t"][0]
    g = make_gtmd(config([ep("t", addr, "r1")]))
    wait_state(g, "t", "up", 5)
    netlab.run(netlab.IP, "netns", "exec", ns, netlab.IP, "addr", "del", addr + "/24", "dev",
               "eth0")
    # Each failed probe ends at the timeout; fall of them, one an interval.
    took = wait_state(g, "t", "down", 10)
    assert took < FALL * INTERVAL + TIMEOUT + 3.0, took
    assert "no reply to 3 echoes" in endpoint(g, "t")["last_result"], endpoint(g, "t")
    netlab.run(netlab.IP, "netns", "exec", ns, netlab.IP, "addr", "add", addr + "/24", "dev",
               "eth0")
    wait_state(g, "t", "up", 10)


def test_replies_dropped_by_tc(make_gtmd, lab):
    addr = lab.host("t", 2)
    ns = lab.hosts["t"][0]
    g = make_gtmd(config([ep("t", addr, "r1")]))
    wait_state(g, "t", "up", 5)
    # ICMP (protocol 1) of type 0 (echo reply): the octet after a 20-octet
    # IP header (no options here).
    tc = [netlab.IP, "netns", "exec", ns, netlab.TC, "filter"]
    netlab.run(*tc, "add", "dev", "eth0", "egress", "prio", "7", "protocol", "ip", "u32",
               "match", "ip", "protocol", "1", "0xff", "match", "u8", "0", "0xff", "at", "20",
               "action", "mirred", "egress", "redirect", "dev", "bh0")
    wait_state(g, "t", "down", 10)
    netlab.run(*tc, "del", "dev", "eth0", "egress", "prio", "7")
    wait_state(g, "t", "up", 10)


def _enter_netns(path):
    """A preexec_fn: the child joins the network namespace at path."""
    def fn():
        libc = ctypes.CDLL(None, use_errno=True)
        fd = os.open(path, os.O_RDONLY)
        if libc.setns(fd, 0x40000000) != 0:  # CLONE_NEWNET
            os._exit(99)
        os.close(fd)
    return fn


def test_ping_socket_where_the_system_allows_it(make_gtmd, lab):
    """ping_group_range is per network namespace: in one that lets root's
    group use ping sockets, gtmd uses one, not a raw socket."""
    if os.geteuid() != 0:
        pytest.skip("needs root to make namespaces")
    gaddr = lab.host("g", 3)
    taddr = lab.host("t", 4)
    gns = lab.hosts["g"][0]
    netlab.run(netlab.IP, "netns", "exec", gns, "sysctl", "-qw",
               "net.ipv4.ping_group_range=0 2147483647")
    g = make_gtmd(config([ep("t", taddr, "r1")], listen=gaddr), start=False)
    g.addr = gaddr
    g.preexec = _enter_netns("/run/netns/" + gns)
    g.start()
    wait_state(g, "t", "up", 5)
    assert "event=icmp_socket family=ipv4 kind=ping" in g.read_log(), g.read_log()[-1500:]
    tns = lab.hosts["t"][0]
    netlab.run(netlab.IP, "netns", "exec", tns, netlab.IP, "link", "set", "eth0", "down")
    wait_state(g, "t", "down", 10)
    netlab.run(netlab.IP, "netns", "exec", tns, netlab.IP, "link", "set", "eth0", "up")
    wait_state(g, "t", "up", 10)


def test_unresolvable_host_is_down_with_a_reason(make_gtmd):
    g = make_gtmd(config([ep("n", "127.0.0.1", "r1", check_target={"host": "nx.invalid."})]))
    wait_state(g, "n", "down", 15)
    assert endpoint(g, "n")["last_result"].startswith("cannot resolve nx.invalid"), \
        endpoint(g, "n")


@pytest.mark.parametrize("bad,path,words", [
    ({"port": 7}, "$.checks.ping.port", "meaningless for type icmp"),
    ({"count": 5, "echo_interval": 0.2}, "$.checks.ping.echo_interval", "less than the timeout"),
    ({"max_loss": 1.5}, "$.checks.ping.max_loss", "from 0"),
    ({"count": 0}, "$.checks.ping.count", ""),
    ({"command": ["/bin/true"]}, "$.checks.ping.command", "not allowed for type icmp"),
])
def test_gtmd_check_refuses_bad_icmp_keys(tmp_path, bad, path, words):
    c = config([ep("a", "127.0.0.1", "r1")], check=icmp_check(**bad))(str(tmp_path), 5353)
    p = tmp_path / "gtmd.json"
    p.write_text(json.dumps(c))
    r = subprocess.run([GTMD, "check", "-c", str(p)], capture_output=True, text=True, timeout=30)
    assert r.returncode != 0, r.stdout + r.stderr
    line = [x for x in (r.stdout + r.stderr).splitlines() if path + ":" in x]
    assert line and words in line[0], r.stdout + r.stderr


def test_raw_socket_after_the_drop_keeps_cap_net_raw_alone(make_gtmd, tmp_path):
    """Started as root with "user": "nobody" (outside ping_group_range "1 0"):
    CAP_NET_RAW, and only it, is kept across the drop, and the raw socket
    opened after it works; an exec check without "user" runs as nobody,
    with no capability."""
    from test_privileges import NOBODY, give_to_nobody, nobody_config, status_ids
    if os.geteuid() != 0 or NOBODY is None:
        pytest.skip("needs root and the nobody user")
    d = tempfile.mkdtemp(prefix="gtmd-icmp-")
    os.chmod(d, 0o755)
    who = os.path.join(d, "who")
    prog = os.path.join(d, "who.sh")
    with open(prog, "w") as f:
        f.write("#!/bin/sh\ngrep -E '^(Uid|CapEff|CapPrm|CapAmb):' /proc/self/status > %s\n"
                % who)
    os.chmod(prog, 0o755)
    try:
        g = make_gtmd(nobody_config(
            checks={"ping": icmp_check(), "who": {"type": "exec", "command": [prog],
                                                  "interval": 1}},
            pools={"p": {"check": "ping", "endpoints": [ep("v4", "127.0.0.1", "r1")]},
                   "q": {"check": "who", "endpoints": [ep("w", "127.0.0.1", "r1")]}},
            records={"app.example.com.": {"pool": "p", "policy": "all", "ttl": 5}}),
            start=False)
        give_to_nobody(g.workdir, "read.token", "operate.token")
        os.chown(d, NOBODY.pw_uid, NOBODY.pw_gid)
        g.start()
        ids = status_ids(g.proc.pid)
        assert ids["Uid"] == [NOBODY.pw_uid] * 4, ids
        assert ids["CapEff"] == ids["CapPrm"] == 1 << 13 and not ids.get("CapAmb"), \
            (ids, g.read_log()[-3000:])
        assert "kept=CAP_NET_RAW" in g.read_log()
        ok, _ = poll(lambda: probe_state(g, "v4") == "up", 5, 0.05)
        assert ok, g.read_log()[-1500:]
        assert "event=icmp_socket family=ipv4 kind=raw" in g.read_log()
        ok, _ = poll(lambda: os.path.exists(who) and os.path.getsize(who) > 0, 5, 0.05)
        assert ok, g.read_log()[-1500:]
        with open(who) as f:
            seen = dict(line.split(":", 1) for line in f.read().splitlines())
        assert seen["Uid"].split() == [str(NOBODY.pw_uid)] * 4, seen
        assert all(int(seen[k], 16) == 0 for k in ("CapEff", "CapPrm", "CapAmb")), seen
    finally:
        subprocess.run(["rm", "-rf", d], timeout=10)
