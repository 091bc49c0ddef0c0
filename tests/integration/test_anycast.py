"""Anycast route control with BIRD 2 (issue #57; doc/going-live.md,
"Anycast with BIRD"): two BIRD instances in two network namespaces this
test makes (and removes, also on failure), a real eBGP session with BFD
over a veth pair (10.77.0.1 -- 10.77.0.2, the addresses of the
configuration in contrib/anycast/, which the doc shows and which is run
here unchanged), gtmd in the first namespace beside the first BIRD. The
second BIRD's table (birdc show route) must hold the anycast prefix while
gtmd is fit, lose it within 1 s of each cause of unfitness set up here
(drain through the API and through gtmctl, the self-check failing when
gtmd's listen address is removed, a secondary zone expiring, kill -9 of
gtmd), and get it back only after the hold time. A backend that flaps
for 60 s changes nothing. Isolation
(fleet refuse mode, etcd stopped) is tested on a BIRD without BGP, and in
tests/unit/test_anycast_fitness.c.

Also, without namespaces: a BIRD control socket that does not exist (a
clear runtime event and status, DNS answers go on), and bad values of
the section refused by gtmd check with their JSON path.

Namespaces need root and iproute2 (netlab.why_not()); bird and birdc
come from Debian's bird2. Names carry the pid and the xdist worker slot.
"""
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time

import dns.message
import dns.query
import pytest

import netlab
from adminlib import OPERATE_TOKEN, READ_TOKEN, Admin, gtmctl, write_token
from conftest import DATA, GTMD, SANITIZER_MARKS, free_port, sanitizer_env, stop_process

BIRD = shutil.which("bird")
BIRDC = shutil.which("birdc")
TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONTRIB = os.path.join(TOP, "contrib", "anycast")
PREFIX = "198.51.100.53/32"
NODE, PEER = "10.77.0.1", "10.77.0.2"
SERVICE = "10.77.1.1"  # gtmd's listen address (on lo of the node's namespace)
HOLD = 3.0


def why_not():
    if not BIRD or not BIRDC:
        return "bird2 is not installed (bird, birdc)"
    return netlab.why_not()


pytestmark = pytest.mark.skipif(why_not() is not None, reason=str(why_not()))


def run(*args, check=True):
    return netlab.run(*args, check=check)


def has_prefix(sock):
    r = subprocess.run([BIRDC, "-s", sock, "show", "route", PREFIX], capture_output=True,
                       text=True, timeout=5)
    return PREFIX in r.stdout


def wait(cond, timeout, step=0.02):
    """Polls cond until true or timeout: the seconds it took, or None."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if cond():
            return time.monotonic() - t0
        time.sleep(step)
    return None


class Lab:
    """Two namespaces joined by a veth pair "bgp0", a BIRD in each."""

    def __init__(self):
        tag = "%d%d" % (netlab.slot(), os.getpid() % 1000)
        self.ns = ["gac%sa" % tag, "gac%sb" % tag]
        self.dir = tempfile.mkdtemp(prefix="gtmd-anycast-")
        self.procs = []
        self.made = []

    def start(self):
        for ns in self.ns:
            run(netlab.IP, "netns", "add", ns)
            self.made.append(ns)
            run(netlab.IP, "-n", ns, "link", "set", "lo", "up")
        a, b = self.ns
        run(netlab.IP, "link", "add", "bgp0", "netns", a, "type", "veth", "peer", "name", "bgp0",
            "netns", b)
        run(netlab.IP, "-n", a, "addr", "add", NODE + "/30", "dev", "bgp0")
        run(netlab.IP, "-n", b, "addr", "add", PEER + "/30", "dev", "bgp0")
        run(netlab.IP, "-n", a, "addr", "add", SERVICE + "/32", "dev", "lo")
        for ns in self.ns:
            run(netlab.IP, "-n", ns, "link", "set", "bgp0", "up")
        self.sock = [os.path.join(self.dir, "bird-%s.ctl" % x) for x in ("node", "peer")]
        for ns, conf, sock in zip(self.ns, ("bird-node.conf", "bird-peer.conf"), self.sock):
            log = open(os.path.join(self.dir, conf + ".log"), "ab")
            self.procs.append(subprocess.Popen(
                [netlab.IP, "netns", "exec", ns, BIRD, "-f", "-c", os.path.join(CONTRIB, conf),
                 "-s", sock, "-P", sock + ".pid"], stdout=log, stderr=log))
        assert wait(lambda: all(os.path.exists(s) for s in self.sock), 10), self.logs()
        up = wait(lambda: "Established" in self.birdc(1, "show", "protocols", "gtmd_node"), 40,
                  0.2)
        assert up is not None, self.birdc(1, "show", "protocols", "all") + self.logs()

    def birdc(self, i, *cmd):
        return subprocess.run([BIRDC, "-s", self.sock[i]] + list(cmd), capture_output=True,
                              text=True, timeout=5).stdout

    def logs(self):
        out = ""
        for f in os.listdir(self.dir):
            if f.endswith(".log"):
                out += "--- %s\n%s" % (f, open(os.path.join(self.dir, f)).read()[-2000:])
        return out

    def close(self):
        for p in self.procs:
            stop_process(p)
        for ns in self.made:
            run(netlab.IP, "netns", "del", ns, check=False)
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def lab():
    lb = Lab()
    try:
        lb.start()
        yield lb
    finally:
        lb.close()


class Node:
    """gtmd in the node's namespace: DNS on SERVICE:5300, the admin API on
    a unix socket, the anycast section driving the first BIRD."""

    def __init__(self, lab, mutate=None):
        self.lab = lab
        self.dir = tempfile.mkdtemp(prefix="gtmd-anycast-node-")
        for f in ("example.com.zone", "example.com.inc", "sub.example.com.zone"):
            shutil.copy(os.path.join(DATA, f), self.dir)
        write_token(self.dir, "read.token", READ_TOKEN)
        write_token(self.dir, "operate.token", OPERATE_TOKEN)
        self.unix = os.path.join(self.dir, "adm.sock")
        self.config = {
            "listen": ["%s:5300" % SERVICE], "workers": 1,
            "zones": [{"origin": "example.com.", "file": "example.com.zone"},
                      {"origin": "sub.example.com.", "file": "sub.example.com.zone"}],
            "admin": {"listen": ["unix:" + self.unix], "read_token_file": "read.token",
                      "operate_token_file": "operate.token", "audit_log": "audit.log"},
            "state_file": "state.json",
            "anycast": {"bird_socket": lab.sock[0], "protocol": "gtmd_anycast",
                        "interface": "gtmd0", "hold_s": HOLD,
                        "self_check": {"interval_s": 0.25, "timeout_s": 0.2, "failures": 2}},
        }
        if mutate:
            mutate(self.config, self.dir)
        self.conf = os.path.join(self.dir, "gtmd.json")
        self.log_path = os.path.join(self.dir, "gtmd.log")
        self.proc = None
        self.admin = Admin(unix=self.unix)

    def start(self):
        with open(self.conf, "w") as f:
            json.dump(self.config, f)
        if os.path.exists(self.unix):
            os.unlink(self.unix)
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([netlab.IP, "netns", "exec", self.lab.ns[0], GTMD, "-c",
                                      self.conf], stdout=log, stderr=log,
                                     env=sanitizer_env(self.dir))
        assert wait(lambda: os.path.exists(self.unix) or self.proc.poll() is not None, 10)
        assert self.proc.poll() is None, self.read_log()
        return self

    def status(self):
        return self.admin.get("/v1/status", via_unix=True).json["fitness"]

    def read_log(self):
        return open(self.log_path).read()

    def stop(self):
        if self.proc:
            stop_process(self.proc)

    def close(self):
        """Stops gtmd; a sanitizer's report in its log (or TSan's files)
        fails the test."""
        self.stop()
        found = [m for m in SANITIZER_MARKS if m in self.read_log()]
        found += [f for f in os.listdir(self.dir) if f.startswith("tsan")]
        text = self.read_log()[-6000:]
        shutil.rmtree(self.dir, ignore_errors=True)
        assert not found, "a sanitizer reported in gtmd: %s\n%s" % (found, text)


@pytest.fixture
def node(lab):
    made = []

    def make(mutate=None, start=True):
        n = Node(lab, mutate)
        made.append(n)
        return n.start() if start else n

    yield make
    for n in made:
        n.close()
    # Whatever a test left: the protocol disabled, no gtmd0 in the namespace.
    assert wait(lambda: not has_prefix(lab.sock[1]), 5) is not None


def announced(lab, node, timeout=HOLD + 15):
    """Waits for the peer to learn the prefix; the seconds it took."""
    t = wait(lambda: has_prefix(lab.sock[1]), timeout)
    assert t is not None, (node.status(), lab.birdc(0, "show", "protocols", "all"),
                           node.read_log()[-3000:])
    print("announced after %.3f s" % t)
    return t


def withdrawn_within(lab, node, limit):
    t = wait(lambda: not has_prefix(lab.sock[1]), limit + 2)
    assert t is not None and t <= limit, (t, node.status(), node.read_log()[-3000:])
    print("withdrawn after %.3f s" % t)
    return t


def test_route_follows_drain_through_the_api_and_gtmctl(lab, node):
    n = node()
    announced(lab, n)
    st = n.status()
    assert st["fit"] and st["announced"] and st["route_control"]["interface"] == "gtmd0", st
    t0 = time.monotonic()
    r = n.admin.post("/v1/node/drain", {"reason": "kernel upgrade"}, via_unix=True)
    assert r.status == 200 and r.json["drain"]["drained"], r
    withdrawn_within(lab, n, 1.0)
    st = n.status()
    assert not st["fit"] and st["why"] == ["drained: kernel upgrade"], st
    assert st["drain"]["by"] == "operate" and st["withdrawals"] == 1, st
    assert 'event=fitness_change from=fit to=unfit why="drained: kernel upgrade"' in n.read_log()
    # Back only after the hold time.
    t0 = time.monotonic()
    assert n.admin.post("/v1/node/undrain", {}, via_unix=True).status == 200
    back = announced(lab, n)
    assert back >= HOLD - 0.3, back
    # The same through gtmctl.
    env = {"GTMCTL_SERVER": "unix:" + n.unix, "GTMCTL_TOKEN": OPERATE_TOKEN}
    t0 = time.monotonic()
    r = gtmctl("node", "drain", "--reason", "maintenance", env=env)
    assert r.returncode == 0 and "drained: yes (maintenance" in r.stdout, r
    withdrawn_within(lab, n, 1.0 - (time.monotonic() - t0) + 1.0)
    r = gtmctl("node", "status", env=env)
    assert r.returncode == 0 and "fit: no" in r.stdout and "why: drained: maintenance" in r.stdout, r
    audit = [json.loads(x) for x in open(os.path.join(n.dir, "audit.log")) if x.strip()]
    assert [a.get("path") for a in audit if "/v1/node/" in (a.get("path") or "")] == [
        "/v1/node/drain", "/v1/node/undrain", "/v1/node/drain"], audit
    # A drain outlives a restart (the state file), and a drain needs a reason.
    n.stop()
    assert wait(lambda: not has_prefix(lab.sock[1]), 2) is not None
    n.start()
    time.sleep(HOLD + 2)
    assert not has_prefix(lab.sock[1]), n.status()
    assert n.status()["drain"]["reason"] == "maintenance"
    r = n.admin.post("/v1/node/drain", {}, via_unix=True)
    assert r.status == 400 and "reason" in r.body.decode(), r
    assert gtmctl("node", "undrain", env=env).returncode == 0
    announced(lab, n)
    m = n.admin.get("/metrics", via_unix=True).body.decode()
    assert "gtmd_fit 1" in m and "gtmd_anycast_announced 1" in m and "gtmd_drained 0" in m, m


def test_self_check_failing_withdraws(lab, node):
    """gtmd's listen address removed: its own queries go unanswered, the
    node turns unfit after failures x interval (+ timeout) and withdraws
    at once; the address back, the route comes back after the hold."""
    n = node()
    announced(lab, n)
    t0 = time.monotonic()
    run(netlab.IP, "-n", lab.ns[0], "addr", "del", SERVICE + "/32", "dev", "lo")
    try:
        # 2 failed rounds 0.25 s apart, each up to 0.2 s: unfit within ~0.7 s.
        withdrawn_within(lab, n, 0.25 * 2 + 0.2 + 1.0)
        st = n.status()
        assert not st["fit"] and st["why"][0].startswith("self_check: "), st
        assert SERVICE in st["why"][0], st
    finally:
        run(netlab.IP, "-n", lab.ns[0], "addr", "add", SERVICE + "/32", "dev", "lo", check=False)
    back = announced(lab, n)
    assert back >= HOLD - 0.3, back
    assert "event=self_check result=failed" in n.read_log()


SEC_ZONE = """$ORIGIN sec.test.
$TTL 300
@    IN SOA ns1.sec.test. hostmaster.sec.test. 1 1 1 {expire} 60
     IN NS  ns1
ns1  IN A   192.0.2.1
www  IN A   192.0.2.80
"""


def test_zone_expiry_withdraws(lab, node):
    """A secondary zone whose primary is dead expires (SOA expire 9 s after
    the copy was written): unfit, withdrawn within 1 s of the expiry."""
    expire = 9

    def mutate(c, d):
        with open(os.path.join(d, "sec.test.copy"), "w") as f:
            f.write(SEC_ZONE.format(expire=expire))
        c["zones"].append({"origin": "sec.test.", "file": "sec.test.copy",
                           "primary": {"addresses": ["127.0.0.1:9"]}})

    n = node(mutate, start=False)
    n.start()
    written = os.path.getmtime(os.path.join(n.dir, "sec.test.copy"))
    announced(lab, n)
    assert wait(lambda: "event=zone_expired zone=sec.test." in n.read_log(), expire + 5), \
        n.read_log()[-2000:]
    late = time.time() - (written + expire)
    withdrawn_within(lab, n, 1.0)
    st = n.status()
    assert any(w.startswith("zone_expired: 1 zone(s)") for w in st["why"]), st
    assert late < 2, late


def test_kill9_withdraws_through_the_tun_device(lab, node):
    n = node()
    announced(lab, n)
    assert "gtmd0" in run(netlab.IP, "-n", lab.ns[0], "link", "show").stdout.decode()
    # CAP_NET_ADMIN was for the device alone: gone once it is made.
    caps = dict(x.split(":\t") for x in open("/proc/%d/status" % n.proc.pid).read().split("\n")
                if x.startswith("Cap"))
    assert not (int(caps["CapPrm"], 16) >> 12) & 1 and not (int(caps["CapEff"], 16) >> 12) & 1, caps
    assert "event=anycast_interface interface=gtmd0 result=up net_admin=dropped" in n.read_log()
    n.proc.send_signal(signal.SIGKILL)
    n.proc.wait(5)
    withdrawn_within(lab, n, 1.0)
    assert "gtmd0" not in run(netlab.IP, "-n", lab.ns[0], "link", "show").stdout.decode()
    # The protocol itself is still enabled: the device alone took the route.
    assert "up" in lab.birdc(0, "show", "protocols", "gtmd_anycast").split("\n")[-2]
    lab.birdc(0, "disable", "gtmd_anycast")


FLAPPER = """
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("%s", 8080)); s.listen(64); s.settimeout(0.1)
end = time.monotonic() + float(sys.argv[1])
while time.monotonic() < end:
    try:
        s.accept()[0].close()
    except OSError:
        pass
"""


def test_backend_flap_storm_changes_nothing(lab, node):
    """A policy backend (tcp check, rise/fall 1, every 0.2 s) up 1 s, down
    1 s, for 60 s (the issue's storm): the route stays, fitness never
    changes; the endpoint did flap (events)."""
    def mutate(c, d):
        c["regions"] = {"r1": {}}
        c["checks"] = {"tcp": {"type": "tcp", "port": 8080, "interval": 0.2, "timeout": 0.15,
                               "rise": 1, "fall": 1}}
        c["pools"] = {"web": {"check": "tcp", "endpoints": [
            {"name": "b1", "address": SERVICE, "region": "r1"}]}}
        c["records"] = {"app.example.com.": {"pool": "web", "ttl": 30, "policy": "all",
                                             "when_all_down": "empty"}}

    n = node(mutate)
    announced(lab, n)
    before = n.status()
    end = time.monotonic() + 60
    lost = 0
    while time.monotonic() < end:
        p = subprocess.Popen([netlab.IP, "netns", "exec", lab.ns[0], "/usr/bin/python3", "-c",
                              FLAPPER % SERVICE, "1"])
        t = time.monotonic()
        while time.monotonic() - t < 2.0:
            lost += not has_prefix(lab.sock[1])
            time.sleep(0.1)
        p.wait(5)
    after = n.status()
    assert lost == 0, (lost, after)
    assert after["fit"] and after["withdrawals"] == before["withdrawals"], (before, after)
    assert after["since"] == before["since"], (before, after)
    log = n.read_log()
    assert log.count("event=fitness_change") == 1, log[-3000:]
    flaps = [x for x in log.split("\n") if "event=health_change" in x and "web/b1" in x]
    assert len(flaps) >= 30, log[-3000:]  # the backend did flap: up and down 30 times each


def test_bird_socket_missing_is_a_runtime_error_and_dns_goes_on(make_gtmd):
    def fn(workdir, port):
        for f in ("example.com.zone", "example.com.inc", "sub.example.com.zone"):
            shutil.copy(os.path.join(DATA, f), workdir)
        write_token(workdir, "read.token", READ_TOKEN)
        return {"listen": ["127.0.0.1:%d" % port], "workers": 1,
                "zones": [{"origin": "example.com.", "file": "example.com.zone"}],
                "admin": {"listen": ["unix:" + os.path.join(workdir, "adm.sock")],
                          "read_token_file": "read.token"},
                "anycast": {"bird_socket": "no-such-bird.ctl", "protocol": "gtmd_anycast",
                            "hold_s": 0}}

    g = make_gtmd(fn)
    a = Admin(unix=os.path.join(g.workdir, "adm.sock"))
    assert wait(lambda: "event=anycast_bird_error" in g.read_log(), 5), g.read_log()
    line = [x for x in g.read_log().split("\n") if "event=anycast_bird_error" in x][0]
    assert "no-such-bird.ctl" in line and "cannot connect" in line and "retry_s=" in line, line
    st = a.get("/v1/status", token=READ_TOKEN, via_unix=True).json["fitness"]
    assert st["fit"] and not st["announced"], st
    assert st["route_control"]["ok"] is False and st["route_control"]["errors"] >= 1, st
    assert "cannot connect" in st["route_control"]["last_reply"], st
    r = g.query("www.example.com.", "A")
    assert r.rcode() == 0 and r.answer, r
    # Retried with a backoff (1 s, then 2 s, 4 s... up to reassert_s), not
    # at every judgement (1 s): within 4.5 s of the first try, 2 or 3 tries
    # (a try every second would make 5).
    time.sleep(4.5)
    lines = [x for x in g.read_log().split("\n") if "event=anycast_bird_error" in x]
    assert 2 <= len(lines) <= 3, lines
    assert "retry_s=1" in lines[0] and "retry_s=2" in lines[1], lines


@pytest.mark.parametrize("section,want", [
    ({"protocol": "p"}, "$.anycast.bird_socket: is required"),
    ({"bird_socket": "/x", "protocol": "a b"}, "$.anycast.protocol: must be a BIRD protocol name"),
    ({"bird_socket": "/x", "protocol": "p", "hold_s": -1}, "$.anycast.hold_s"),
    ({"bird_socket": "/x", "protocol": "p", "interface": "x" * 16}, "$.anycast.interface"),
    ({"bird_socket": "/x", "protocol": "p", "self_check": {"interval_s": 1, "timeout_s": 2}},
     "$.anycast.self_check.timeout_s: must be shorter than interval_s"),
    ({"bird_socket": "/x", "protocol": "p", "self_check": {"failures": 0}},
     "$.anycast.self_check.failures"),
    ({"bird_socket": "/x", "protocol": "p", "bogus": 1}, '$.anycast: unknown key "bogus"'),
])
def test_check_refuses_bad_anycast_values(tmp_path, section, want):
    for f in ("example.com.zone", "example.com.inc"):
        shutil.copy(os.path.join(DATA, f), str(tmp_path))
    conf = tmp_path / "gtmd.json"
    conf.write_text(json.dumps({"listen": ["127.0.0.1:%d" % free_port()],
                                "zones": [{"origin": "example.com.",
                                           "file": "example.com.zone"}],
                                "anycast": section}))
    r = subprocess.run([GTMD, "check", "-c", str(conf)], capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 1 and want in r.stderr, r.stderr
    assert str(conf) in r.stderr, r.stderr


def test_the_doc_shows_the_tested_bird_config():
    doc = open(os.path.join(TOP, "doc", "going-live.md")).read()
    for f in ("bird-node.conf", "bird-peer.conf"):
        text = open(os.path.join(CONTRIB, f)).read()
        assert text in doc, "doc/going-live.md does not show contrib/anycast/%s as it is" % f


STATIC_ONLY = """router id 10.77.0.9;
protocol device { scan time 10; }
protocol static gtmd_anycast { disabled; ipv4; route 198.51.100.53/32 blackhole; }
"""


def protocol_up(sock):
    out = subprocess.run([BIRDC, "-s", sock, "show", "protocols", "gtmd_anycast"],
                         capture_output=True, text=True, timeout=5).stdout
    line = [x for x in out.split("\n") if x.startswith("gtmd_anycast")]
    return bool(line) and line[0].split()[3] == "up"


def test_fleet_isolation_refuse_disables_the_protocol():
    """A fleet node cut off from etcd past isolation.after in refuse mode is
    unfit: the protocol is disabled on a real BIRD (its control socket, a
    static protocol, no BGP: the namespaces above are not needed for this
    cause) within 1 s of isolation (the controller judges every second:
isolation is not pushed to it)."""
    from fleetlib import EtcdCluster, need_etcd, start_node
    from backends import free_port_on
    if need_etcd():
        pytest.skip(need_etcd())
    d = tempfile.mkdtemp(prefix="gtmd-anycast-iso-")
    conf, sock = os.path.join(d, "bird.conf"), os.path.join(d, "bird.ctl")
    with open(conf, "w") as f:
        f.write(STATIC_ONLY)
    bird = subprocess.Popen([BIRD, "-f", "-c", conf, "-s", sock, "-P", sock + ".pid"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    etcd = EtcdCluster(1).start()
    made = []
    try:
        assert wait(lambda: os.path.exists(sock), 10)
        n = start_node(made, etcd.urls, 1, free_port_on(["127.0.0.31"]), start=False,
                       isolation={"after": 2, "action": "refuse"})
        n.config["anycast"] = {"bird_socket": sock, "protocol": "gtmd_anycast", "hold_s": 1}
        n.start()
        assert wait(lambda: protocol_up(sock), 15), n.read_log()[-3000:]
        etcd.stop()
        t = wait(lambda: not protocol_up(sock), 20, 0.02)
        # isolation.after, the fleet's beat (0.25 s) and at most 1 s to the
        # controller's next judgement, with room for a loaded machine.
        assert t is not None and t < 2 + 2.5, (t, n.read_log()[-3000:])
        st = n.get("/v1/status")[1]["fitness"]
        assert not st["fit"] and st["why"][0].startswith("isolated: "), st
        assert "REFUSED" in st["why"][0], st
        log = n.read_log()
        assert "event=fleet_isolated" in log and 'to=unfit why="isolated: ' in log, log[-3000:]
        print("protocol disabled %.2f s after etcd stopped (isolation.after 2 s)" % t)
        # The fleet view says this node is drained (its own drain only).
        assert n.post("/v1/node/drain", {"reason": "fleet view"})[0] == 200
        # The controller judges again on its own thread, poked by the drain.
        assert wait(lambda: [w.split(":")[0] for w in n.get("/v1/status")[1]["fitness"]["why"]]
                    == ["isolated", "drained"], 5, 0.05) is not None, n.get("/v1/status")[1]
        body = n.get("/v1/status")[1]
        me = [x for x in body["fleet"]["nodes"] if x["self"]]
        assert me and me[0]["drained"] is True, body["fleet"]
    finally:
        for g in made:
            g.stop()
            shutil.rmtree(g.workdir, ignore_errors=True)
        etcd.stop()
        stop_process(bird)
        shutil.rmtree(d, ignore_errors=True)


def test_a_drain_is_seen_by_every_node_of_the_fleet():
    """A drain through one node's API is in that node's record in etcd:
    every node's fleet view says which nodes are drained (and which are
    not), an undrain clears it everywhere, and a restart keeps it (the
    state file's "drain", written to the record again)."""
    from fleetlib import EtcdCluster, need_etcd, start_node
    from backends import free_port_on
    if need_etcd():
        pytest.skip(need_etcd())
    etcd = EtcdCluster(1).start()
    made = []

    def drained(g):
        st = g.get("/v1/status")
        nodes = (st[1].get("fleet") or {}).get("nodes", []) if st[0] == 200 else []
        return {x["name"]: x.get("drained") for x in nodes}

    try:
        port = free_port_on(["127.0.0.31", "127.0.0.32"])
        n1, n2 = (start_node(made, etcd.urls, i, port) for i in (1, 2))
        both = {"n1": False, "n2": False}
        assert wait(lambda: drained(n1) == both and drained(n2) == both, 30, 0.1) is not None, \
            (drained(n1), drained(n2))
        assert n1.post("/v1/node/drain", {"reason": "maintenance"})[0] == 200
        one = {"n1": True, "n2": False}
        t = wait(lambda: drained(n2) == one, 15, 0.05)
        assert t is not None and drained(n1) == one, (drained(n1), drained(n2))
        print("n2 saw n1's drain after %.2f s" % t)
        n1.stop()
        n1.start()
        assert wait(lambda: drained(n1) == one and drained(n2) == one, 30, 0.1) is not None, \
            (drained(n1), drained(n2))
        assert n1.post("/v1/node/undrain", {})[0] == 200
        assert wait(lambda: drained(n1) == both and drained(n2) == both, 15, 0.05) is not None, \
            (drained(n1), drained(n2))
    finally:
        for g in made:
            g.stop()
            shutil.rmtree(g.workdir, ignore_errors=True)
        etcd.stop()


def test_bad_drain_requests_are_refused_and_change_nothing(make_gtmd):
    """The drain API's bad input: a read token (403), a body that is not
    an object, a reason that is not a string, empty or too long (400):
    each refused with a clear error, the node still undrained and fit."""
    def fn(workdir, port):
        for f in ("example.com.zone", "example.com.inc", "sub.example.com.zone"):
            shutil.copy(os.path.join(DATA, f), workdir)
        write_token(workdir, "read.token", READ_TOKEN)
        write_token(workdir, "operate.token", OPERATE_TOKEN)
        return {"listen": ["127.0.0.1:%d" % port], "workers": 1,
                "zones": [{"origin": "example.com.", "file": "example.com.zone"}],
                "admin": {"listen": ["unix:" + os.path.join(workdir, "adm.sock")],
                          "read_token_file": "read.token",
                          "operate_token_file": "operate.token"}}

    g = make_gtmd(fn)
    a = Admin(unix=os.path.join(g.workdir, "adm.sock"))
    r = a.post("/v1/node/drain", {"reason": "x"}, token=READ_TOKEN, via_unix=True)
    assert r.status == 403, r
    for raw in (b"[1, 2]", b"not json", b'"a string"'):
        r = a.post("/v1/node/drain", raw=raw, via_unix=True)
        assert r.status == 400, (raw, r)
    for reason in (5, None, "", "x" * 256):
        r = a.post("/v1/node/drain", {"reason": reason}, via_unix=True)
        assert r.status == 400 and "reason" in r.body.decode(), (reason, r)
    st = a.get("/v1/status", token=READ_TOKEN, via_unix=True).json["fitness"]
    assert st["fit"] and st["drain"]["drained"] is False, st
    assert "event=node_drain" not in g.read_log()
