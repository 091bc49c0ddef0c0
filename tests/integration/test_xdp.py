"""The AF_XDP listener (issue 27, doc/xdp.md) on a veth pair between two
network namespaces this test creates (names carry the pid; deleted also on
failure): the differential answers of the XDP path equal the socket path's
for a fixed query set (IPv4 and IPv6, truncation, ECS scopes, RRL slips);
a reply never exceeds the interface MTU; TCP, a datagram with IPv4 options
and a fragmented one reach the socket path.

The kernel's UDP counters of the server's namespace (/proc/net/snmp,
snmp6) tell which path answered: a query the XDP program redirects never
reaches the kernel's UDP layer.

Skipped, saying why, without root or namespaces, or when gtmd cannot
attach XDP here (a build without libxdp/libbpf/clang, or no native XDP on
veth)."""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import dns.edns
import dns.flags
import dns.message
import dns.rdatatype
import pytest

import netlab
from conftest import DATA, GTMD, stop_process

HERE = os.path.dirname(os.path.abspath(__file__))
PY = "/usr/bin/python3"
IP = netlab.IP

REGIONS = {"us": 41, "eu": 42, "ap": 43}  # endpoint address: NET2.x on srv's lo
GEO = {"network:10.1.2.0/24": ["ap", "eu"], "continent:EU": ["eu", "us"],
       "country:JP": ["ap", "us"], "default": ["us", "eu"]}


class Pair:
    """Namespaces srv and cli joined by one veth pair (srv: IF .1, cli .2,
    IPv4 and IPv6), and the processes started in them."""
    made = 0

    def __init__(self, mtu=1500):
        Pair.made += 1
        tag = "%d%d" % (os.getpid() % 10000, Pair.made % 10)
        n = netlab.slot()
        self.srv, self.cli = "gx-%s-srv" % tag, "gx-%s-cli" % tag
        self.sif, self.cif = "gxs" + tag, "gxc" + tag
        self.v4, self.v6 = "10.234.%d.1" % n, "fd00:234:%x::1" % n
        self.net2 = "10.235.%d" % n
        self.procs = []
        self.spaces = []
        for ns in (self.srv, self.cli):
            netlab.run(IP, "netns", "add", ns)
            self.spaces.append(ns)
        netlab.run(IP, "link", "add", self.sif, "netns", self.srv, "type", "veth", "peer",
                   "name", self.cif, "netns", self.cli)
        for ns, dev, last in ((self.srv, self.sif, 1), (self.cli, self.cif, 2)):
            x = [IP, "-n", ns]
            netlab.run(*x, "addr", "add", "10.234.%d.%d/24" % (n, last), "dev", dev)
            netlab.run(*x, "addr", "add", "fd00:234:%x::%d/64" % (n, last), "dev", dev, "nodad")
            netlab.run(*x, "link", "set", dev, "mtu", str(mtu))
            netlab.run(*x, "link", "set", dev, "up")
            netlab.run(*x, "link", "set", "lo", "up")
        for last in REGIONS.values():
            netlab.run(IP, "-n", self.srv, "addr", "add", "%s.%d/32" % (self.net2, last),
                       "dev", "lo")

    def popen(self, argv, **kw):
        p = subprocess.Popen([IP, "netns", "exec", self.srv] + list(argv), **kw)
        self.procs.append(p)
        return p

    def client(self, steps, timeout=60):
        r = subprocess.run([IP, "netns", "exec", self.cli, PY,
                            os.path.join(HERE, "xdp_client.py")],
                           input=json.dumps(steps).encode(), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=timeout)
        assert r.returncode == 0, r.stderr.decode(errors="replace")
        return json.loads(r.stdout)

    def udp_in(self):
        """The kernel's received UDP datagrams in srv: (IPv4, IPv6)."""
        r = netlab.run(IP, "netns", "exec", self.srv, "cat", "/proc/net/snmp",
                       "/proc/net/snmp6")
        lines = r.stdout.decode().splitlines()
        v4 = v6 = None
        for i, line in enumerate(lines):
            if line.startswith("Udp: ") and lines[i + 1].startswith("Udp: ") and v4 is None:
                head, vals = line.split(), lines[i + 1].split()
                v4 = int(vals[head.index("InDatagrams")])
            if line.startswith("Udp6InDatagrams"):
                v6 = int(line.split()[1])
        return v4, v6

    def xdp_attached(self):
        out = netlab.run(IP, "-n", self.srv, "link", "show", self.sif).stdout.decode()
        return "prog/xdp" in out

    def close(self):
        for p in self.procs:
            stop_process(p)
        for ns in self.spaces:
            netlab.run(IP, "netns", "del", ns, check=False)


@pytest.fixture
def pair():
    why = netlab.why_not()
    if why:
        pytest.skip(why)
    p = Pair()
    yield p
    p.close()


ZONE = """$ORIGIN xdp.test.
$TTL 300
@ SOA ns h 1 7200 3600 1209600 300
  NS ns
ns A {v4}
  AAAA {v6}
www A 192.0.2.1
  A 192.0.2.2
  AAAA 2001:db8::1
mx MX 10 www
small TXT "one" "two"
mid TXT {mid}
big TXT {big}
fit TXT {fit}
*.wild A 192.0.2.9
alias CNAME www
rrl A 192.0.2.77
"""


def config(pair, workdir, xdp, edns_udp_max=1232, rrl=True):
    strings = lambda n: " ".join('"%s"' % (chr(97 + i % 26) * 200) for i in range(n))
    zone = ZONE.format(v4=pair.v4, v6=pair.v6, mid=strings(6), big=strings(16),
                       fit=strings(5))
    with open(os.path.join(workdir, "xdp.test.zone"), "w") as f:
        f.write(zone)
    shutil.copy(os.path.join(DATA, "geo-city.mmdb"), workdir)
    ends = ["%s.%d" % (pair.net2, x) for x in REGIONS.values()]
    c = {
        "listen": ["%s:53" % pair.v4, "[%s]:53" % pair.v6] + ["%s:53" % a for a in ends],
        "workers": 1,
        "edns_udp_max": edns_udp_max,
        "identity": "xdp-test",
        "cookies": {"secret": "00112233445566778899aabbccddeeff"},
        "zones": [{"origin": "xdp.test.", "file": "xdp.test.zone"}],
        "geoip": {"database": "geo-city.mmdb"},
        "regions": {r: {} for r in REGIONS},
        "checks": {"dns": {"type": "tcp", "port": 53, "interval": 0.5, "timeout": 0.4,
                           "rise": 1, "fall": 2}},
        "pools": {"web": {"check": "dns", "endpoints": [
            {"name": r, "address": "%s.%d" % (pair.net2, x), "region": r}
            for r, x in REGIONS.items()]}},
        "records": {"geo.xdp.test.": {"pool": "web", "policy": "geo", "geo": GEO, "ttl": 30}},
    }
    if rrl:
        c["rrl"] = {"rate": 20, "slip": 2}
    if xdp:
        c["xdp"] = {"interface": pair.sif}
    return c


def start(pair, workdir, conf):
    path = os.path.join(workdir, "gtmd.json")
    with open(path, "w") as f:
        json.dump(conf, f)
    log = open(os.path.join(workdir, "gtmd.log"), "ab")
    proc = pair.popen([GTMD, "-c", path], stdout=log, stderr=log)
    log.close()
    probe = dns.message.make_query("geo.xdp.test.", "A")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        assert proc.poll() is None, read_log(workdir)
        r = pair.client([{"q": probe.to_wire().hex(), "to": [pair.v4, 53]}])[0]
        # Ready when the checks have marked every endpoint up: the geo
        # answer then follows the map (one address, not the all-down
        # fallback), and for every client, not the next region's while one
        # endpoint is still coming up (the XDP and socket runs compare them).
        if r and len(dns.message.from_wire(bytes.fromhex(r)).answer[0]) == 1 and \
                all_up(workdir, conf):
            return proc
        time.sleep(0.2)
    raise AssertionError("gtmd did not get ready: " + read_log(workdir))


def all_up(workdir, conf):
    """Whether the log's last word on every endpoint of the pools is "up"."""
    last = {}
    for line in read_log(workdir).splitlines():
        if "event=health_change" in line:
            ep = line.split("endpoint=", 1)[1].split()[0]
            last[ep] = " to=up " in line
    want = ["endpoint:%s/%s" % (p, e["name"]) for p, pool in conf.get("pools", {}).items()
            for e in pool["endpoints"]]
    return all(last.get(k) for k in want)


def read_log(workdir):
    with open(os.path.join(workdir, "gtmd.log"), "rb") as f:
        return f.read().decode(errors="replace")


def xdp_built():
    """Whether GTMD has the AF_XDP listener (configure found libxdp, libbpf
    and clang): 'gtmd check' says so of an xdp section otherwise."""
    d = tempfile.mkdtemp(prefix="gtmd-xdpchk-")
    try:
        path = os.path.join(d, "gtmd.json")
        shutil.copy(os.path.join(DATA, "example.com.zone"), d)
        shutil.copy(os.path.join(DATA, "example.com.inc"), d)
        with open(path, "w") as f:
            json.dump({"listen": ["127.0.0.1:53"], "xdp": {"interface": "lo"},
                       "zones": [{"origin": "example.com.", "file": "example.com.zone"}]}, f)
        r = subprocess.run([GTMD, "check", "-c", path], capture_output=True, text=True,
                           timeout=60)
        return "built without AF_XDP" not in r.stdout + r.stderr
    finally:
        shutil.rmtree(d, ignore_errors=True)


def attach_or_skip(pair, workdir):
    """Skips when gtmd fell back to sockets here (and says why)."""
    log = read_log(workdir)
    if "event=xdp_fallback" in log:
        line = [x for x in log.splitlines() if "event=xdp_fallback" in x][0]
        pytest.skip("XDP cannot attach here: " + line)
    assert "event=xdp_attached" in log and pair.xdp_attached(), log


def q(name, rdtype="A", qid=1, ecs=None, **kw):
    opts = list(kw.pop("options", []))
    if ecs:
        addr, plen = ecs.split("/")
        opts.append(dns.edns.ECSOption(addr, int(plen)))
    m = dns.message.make_query(name, rdtype, options=opts, **kw)
    m.id = qid
    return m.to_wire(max_size=65535).hex()


def query_set(pair):
    """The fixed query set: (label, step) pairs over IPv4 and IPv6."""
    out = []
    names = [("www.xdp.test.", "A"), ("www.xdp.test.", "AAAA"), ("mx.xdp.test.", "MX"),
             ("nope.xdp.test.", "A"), ("www.xdp.test.", "TXT"), ("x.wild.xdp.test.", "A"),
             ("alias.xdp.test.", "A"), ("xdp.test.", "SOA"), ("xdp.test.", "NS"),
             ("small.xdp.test.", "TXT"), ("www.example.org.", "A")]
    for addr in (pair.v4, pair.v6):
        to = [addr, 53]
        for i, (n, t) in enumerate(names):
            out.append(("%s %s %s" % (addr, n, t), {"q": q(n, t, qid=i + 1), "to": to}))
        # Truncation: without EDNS (512), with a 512-octet EDNS size, and
        # at edns_udp_max (1232) for a larger RRset.
        out.append(("mid noedns " + addr, {"q": q("mid.xdp.test.", "TXT", 50), "to": to}))
        out.append(("mid 512 " + addr, {"q": q("mid.xdp.test.", "TXT", 51, use_edns=0,
                                                 payload=512), "to": to}))
        out.append(("big 4096 " + addr, {"q": q("big.xdp.test.", "TXT", 52, use_edns=0,
                                                  payload=4096), "to": to}))
        out.append(("nsid " + addr, {"q": q("www.xdp.test.", "A", 53, use_edns=0,
                                             options=[dns.edns.GenericOption(3, b"")]),
                                     "to": to}))
        out.append(("chaos " + addr, {"q": q("id.server.", "TXT", 54, rdclass="CH"),
                                      "to": to}))
        cookie = dns.edns.GenericOption(10, bytes.fromhex("0102030405060708"))
        out.append(("cookie " + addr, {"q": q("www.xdp.test.", "A", 55, use_edns=0,
                                               options=[cookie]), "to": to}))
    # ECS: the geo record's answer and scope for client subnets (v4, v6).
    for i, ecs in enumerate(("10.1.2.0/24", "10.1.3.0/24", "192.0.2.64/27",
                             "2001:db8:1:2::/64")):
        out.append(("ecs " + ecs, {"q": q("geo.xdp.test.", "A", 60 + i, ecs=ecs, use_edns=0),
                                   "to": [pair.v4, 53]}))
    return out


def normal(h):
    """A reply for comparison: text, with the server cookie's varying part
    (its timestamp and hash) replaced by its length."""
    if h is None:
        return None
    m = dns.message.from_wire(bytes.fromhex(h))
    opts = []
    for o in m.options:
        if o.otype == 10:
            data = o.to_wire() if hasattr(o, "to_wire") else b""
            o = dns.edns.GenericOption(10, data[:8] + b"#" * (len(data) - 8))
        opts.append(o)
    if m.edns >= 0:
        m.use_edns(m.edns, m.ednsflags, m.payload, options=opts)
    return "%s|%d|%s" % ("tc" if m.flags & dns.flags.TC else "full", len(bytes.fromhex(h)),
                         m.to_text())


def rrl_burst(pair):
    """30 identical queries at the start of a second: RRL answers 20, then
    slips (TC) every second one and drops the rest. (The rate leaves room
    for the readiness probes and the ECS queries of the geo name, which a
    slow build repeats more often.)"""
    qs = [q("rrl.xdp.test.", "A", 100 + i) for i in range(30)]
    res = pair.client([{"second_start": True}, {"burst": qs, "to": [pair.v4, 53]}])[1]
    return ["lost" if r is None else normal(r).split("|")[0] for r in res]


def run_path(pair, xdp):
    workdir = tempfile.mkdtemp(prefix="gtmd-xdp-")
    try:
        proc = start(pair, workdir, config(pair, workdir, xdp))
        if xdp:
            attach_or_skip(pair, workdir)
        before = pair.udp_in()
        steps = query_set(pair)
        got = pair.client([s for _, s in steps])
        after = pair.udp_in()
        answers = {label: normal(r) for (label, _), r in zip(steps, got)}
        bursts = [rrl_burst(pair) for _ in range(2)]
        stop_process(proc)
        if xdp:
            assert not pair.xdp_attached(), "the program stayed attached after gtmd exited"
        return answers, bursts, (after[0] - before[0], after[1] - before[1]), len(steps)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def test_xdp_answers_equal_socket_answers(pair):
    xa, xb, xdelta, n = run_path(pair, True)
    sa, sb, sdelta, _ = run_path(pair, False)
    # Which path answered: the socket run's queries all reached the kernel's
    # UDP layer, the XDP run's none.
    assert sdelta[0] + sdelta[1] >= n, sdelta
    assert xdelta == (0, 0), "the XDP run's queries reached the kernel: %s" % (xdelta,)
    assert all(v is not None for v in xa.values()), [k for k, v in xa.items() if v is None]
    for label in sa:
        assert xa[label] == sa[label], "%s:\nXDP:    %s\nsocket: %s" % (label, xa[label],
                                                                      sa[label])
    # The set covers truncation, ECS scopes and the cookie.
    assert xa["mid noedns " + pair.v4].startswith("tc|")
    assert xa["mid 512 " + pair.v6].startswith("tc|")
    assert xa["big 4096 " + pair.v4].startswith("tc|")
    for ecs in ("10.1.2.0/24", "2001:db8:1:2::/64"):
        assert "option ECS %s scope/" % ecs in xa["ecs " + ecs], xa["ecs " + ecs]
    # RRL: the same slips and drops on both paths (a burst that straddled a
    # second on one path may differ: one of the two bursts must match).
    assert any(b in sb for b in xb), "XDP %s\nsocket %s" % (xb, sb)
    assert "tc" in xb[0] and "lost" in xb[0], xb


def start_xdp(pair, workdir, **kw):
    conf = config(pair, workdir, True, **kw)
    proc = start(pair, workdir, conf)
    attach_or_skip(pair, workdir)
    return proc


@pytest.fixture
def workdir():
    d = tempfile.mkdtemp(prefix="gtmd-xdp-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


def test_xdp_leaves_tcp_options_and_fragments_to_the_kernel(pair, workdir):
    start_xdp(pair, workdir, rrl=False)
    to = [pair.v4, 53]
    v4, _ = pair.udp_in()
    plain, opt = pair.client([{"q": q("www.xdp.test.", "A", 1), "to": to},
                              {"q": q("www.xdp.test.", "A", 2), "to": to, "ipopt": True}])
    v4_opt, _ = pair.udp_in()
    assert plain and opt, (plain, opt)
    assert normal(plain).replace("id 1", "") == normal(opt).replace("id 2", "")
    # The plain query went to XDP, the one with options to the kernel.
    assert v4_opt - v4 == 1, (v4, v4_opt)
    # A query larger than the MTU (EDNS padding), sent in fragments: the
    # kernel reassembles it and the socket path answers.
    pad = dns.edns.GenericOption(12, b"\0" * 1800)
    big = q("www.xdp.test.", "A", 3, use_edns=0, payload=1232, options=[pad])
    frag, tcp = pair.client([{"q": big, "to": to, "df": False},
                             {"q": q("www.xdp.test.", "A", 4), "to": to, "tcp": True}])
    v4_frag, _ = pair.udp_in()
    assert frag is not None and dns.message.from_wire(bytes.fromhex(frag)).answer, frag
    assert v4_frag - v4_opt == 1, (v4_opt, v4_frag)
    # TCP to the same address: the socket path.
    r = dns.message.from_wire(bytes.fromhex(tcp))
    assert r.answer and r.id == 4
    assert pair.xdp_attached()


def test_xdp_reply_never_exceeds_the_mtu(workdir):
    why = netlab.why_not()
    if why:
        pytest.skip(why)
    pair = Pair(mtu=1280)
    try:
        start_xdp(pair, workdir, edns_udp_max=4096, rrl=False)
        steps = []
        for addr in (pair.v4, pair.v6):
            for size in (4096, 1400):
                steps.append({"q": q("big.xdp.test.", "TXT", size, use_edns=0, payload=size),
                              "to": [addr, 53]})
            steps.append({"q": q("fit.xdp.test.", "TXT", 9, use_edns=0, payload=4096),
                          "to": [addr, 53]})
            steps.append({"q": q("big.xdp.test.", "TXT", 10), "to": [addr, 53], "tcp": True})
        # Differential: start()'s readiness queries may have reached the
        # kernel's sockets before the program and its socket map were in place.
        before = pair.udp_in()
        got = pair.client(steps)
        assert pair.udp_in() == before, "UDP reached the kernel"
        for i, addr in enumerate((pair.v4, pair.v6)):
            room = 1280 - (28 if addr == pair.v4 else 48)
            a, b, mid, tcp = got[4 * i:4 * i + 4]
            for h in (a, b):
                m = dns.message.from_wire(bytes.fromhex(h))
                assert m.flags & dns.flags.TC and len(bytes.fromhex(h)) <= room, (addr, len(h))
            # fit (about 1.1 kB) is answered in full.
            m = dns.message.from_wire(bytes.fromhex(mid))
            assert len(bytes.fromhex(mid)) <= room
            assert not (m.flags & dns.flags.TC) and m.answer, len(mid)
            t = dns.message.from_wire(bytes.fromhex(tcp))
            assert len(t.answer[0][0].strings) == 16, "TCP carries the whole RRset"
    finally:
        pair.close()


def test_xdp_falls_back_to_sockets(pair, workdir):
    conf = config(pair, workdir, False, rrl=False)
    conf["xdp"] = {"interface": "gxnosuch0"}
    start(pair, workdir, conf)
    log = read_log(workdir)
    # A build without the listener falls back too, for that reason.
    why = "no interface" if xdp_built() else "built without AF_XDP support"
    assert "event=xdp_fallback interface=gxnosuch0" in log and why in log, log
    v4, _ = pair.udp_in()
    r = pair.client([{"q": q("www.xdp.test.", "A", 1), "to": [pair.v4, 53]}])[0]
    assert r and pair.udp_in()[0] - v4 == 1


def test_xdp_generic_mode_on_request(pair, workdir):
    conf = config(pair, workdir, True, rrl=False)
    conf["xdp"]["mode"] = "generic"
    proc = start(pair, workdir, conf)
    attach_or_skip(pair, workdir)
    out = netlab.run(IP, "-n", pair.srv, "link", "show", pair.sif).stdout.decode()
    assert "xdpgeneric" in out, out
    # Differential: start()'s readiness queries may have reached the
    # kernel's sockets before the program and the socket map were in place.
    before = pair.udp_in()
    r = pair.client([{"q": q("www.xdp.test.", "AAAA", 1), "to": [pair.v6, 53]},
                     {"q": q("www.xdp.test.", "A", 2), "to": [pair.v4, 53]}])
    assert all(r) and pair.udp_in() == before, (r, before, pair.udp_in())
    stop_process(proc)
    assert not pair.xdp_attached()


def bpf_object():
    """The program's object in the build tree (for the stale-program case)."""
    path = os.path.join(os.path.dirname(GTMD), "src", "net", "xdp_prog.bpf.o")
    return path if os.path.exists(path) else None


def test_xdp_replaces_a_stale_program_and_respects_others(pair, workdir):
    obj = bpf_object()
    if not obj:
        pytest.skip("no src/net/xdp_prog.bpf.o beside %s (a build without XDP)" % GTMD)
    # A program of ours attached without a link (as a gtmd of another
    # version could leave it): replaced.
    r = netlab.run(IP, "-n", pair.srv, "link", "set", "dev", pair.sif, "xdpdrv", "obj", obj,
                   "sec", "xdp", check=False)
    if r.returncode != 0:
        pytest.skip("ip cannot attach a BPF object here: " + r.stderr.decode(errors="replace"))
    proc = start(pair, workdir, config(pair, workdir, True, rrl=False))
    attach_or_skip(pair, workdir)
    assert "event=xdp_stale" in read_log(workdir)
    stop_process(proc)
    assert not pair.xdp_attached()
    # Another program (xdp-tools' allow-all filter, when installed): left
    # alone, and gtmd serves UDP on sockets, saying why.
    other = "/usr/lib/x86_64-linux-gnu/bpf/xdpfilt_alw_all.o"
    if not os.path.exists(other):
        return
    r = netlab.run(IP, "-n", pair.srv, "link", "set", "dev", pair.sif, "xdpdrv", "obj", other,
                   "sec", "xdp", check=False)
    if r.returncode != 0:
        return
    try:
        with open(os.path.join(workdir, "gtmd.log"), "w"):
            pass
        proc = start(pair, workdir, config(pair, workdir, True, rrl=False))
        log = read_log(workdir)
        assert "event=xdp_fallback" in log and "another XDP program" in log, log
        stop_process(proc)
        assert pair.xdp_attached(), "gtmd removed a program that is not its own"
    finally:
        netlab.run(IP, "-n", pair.srv, "link", "set", "dev", pair.sif, "xdp", "off", check=False)


def test_check_says_what_xdp_needs(workdir):
    """gtmd check (no namespace needed): the interface's needs, or why UDP
    would stay on sockets."""
    shutil.copy(os.path.join(DATA, "example.com.zone"), workdir)
    shutil.copy(os.path.join(DATA, "example.com.inc"), workdir)
    path = os.path.join(workdir, "gtmd.json")

    def check(xdp):
        with open(path, "w") as f:
            json.dump({"listen": ["127.0.0.1:53"], "xdp": xdp,
                       "zones": [{"origin": "example.com.", "file": "example.com.zone"}]}, f)
        r = subprocess.run([GTMD, "check", "-c", path], capture_output=True, text=True,
                           timeout=60)
        return r.returncode, r.stdout + r.stderr

    rc, out = check({"interface": "lo", "queues": [0, 1]})
    assert rc == 0, out
    if "built without AF_XDP" in out:
        assert "$.xdp" in out
    else:
        for word in ("CAP_NET_ADMIN", "CAP_BPF", "CAP_NET_RAW", "native (driver) mode",
                     "2 queue(s)", "32768 KiB of locked memory", "MTU"):
            assert word in out, (word, out)
        rc, out = check({"interface": "gxnosuch9"})
        assert rc == 0 and "no interface gxnosuch9" in out, out
    rc, out = check({"interface": "lo", "mode": "fast", "frames": 100})
    assert rc != 0 and "$.xdp.mode" in out and "$.xdp.frames" in out, out


def test_reload_keeps_the_listener(pair, workdir):
    proc = start_xdp(pair, workdir, rrl=False)
    conf = config(pair, workdir, True, rrl=False)
    conf["xdp"]["mode"] = "generic"
    with open(os.path.join(workdir, "gtmd.json"), "w") as f:
        json.dump(conf, f)
    proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 20
    while "the xdp section changes only on restart" not in read_log(workdir):
        assert time.monotonic() < deadline, read_log(workdir)
        time.sleep(0.1)
    out = netlab.run(IP, "-n", pair.srv, "link", "show", pair.sif).stdout.decode()
    assert "prog/xdp" in out and "xdpgeneric" not in out, out
    before = pair.udp_in()
    r = pair.client([{"q": q("www.xdp.test.", "A", 1), "to": [pair.v4, 53]}])[0]
    assert r and pair.udp_in() == before
