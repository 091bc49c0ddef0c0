"""A small network lab for the partition tests: one network namespace per
process (etcd members, gtmd nodes), each with a veth into a bridge of the
root namespace, where the test itself, the backends and the resolvers
(dnspython) stay. Links are cut with tc alone (no netem, no iptables): a
clsact qdisc on each namespace's interface and one u32 filter per cut
peer that redirects what goes to it (mirred egress redirect) to a veth
whose peer is down, which drops it; on both sides. (gact's "action
drop" needs a module this kernel may not have; mirred is built in.)

Everything made is recorded and removed by Lab.close(), which the test
fixture calls also when the test fails: processes by pid, then the
namespaces (their veths go with them), the bridge and the addresses.
Names carry the pid of the test process so that two runs never collide,
and subnets a number per pytest-xdist worker (slot()).
"""
import hashlib
import json
import os
import shutil
import subprocess

IP = shutil.which("ip")
TC = shutil.which("tc")


def run(*args, check=True):
    r = subprocess.run(list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=10)
    if check and r.returncode != 0:
        raise RuntimeError("%s: %s" % (" ".join(args), r.stderr.decode(errors="replace")))
    return r


def slot():
    """A number in 0..249 for this test process's subnets (10.231.N.0/24
    here, 10.234.N and 10.235.N in test_xdp.py). For the pytest-xdist
    workers gw0..gw3 of one run: 200 + 4 x B + K, with B (0..11) drawn
    from the run's id, so that the workers of one run never share a
    subnet and two runs on one machine (a developer's tests beside a CI
    run) share one only by a 1-in-12 chance; more workers: 200 + K (up to
    gw49); without xdist: from the pid."""
    w = os.environ.get("PYTEST_XDIST_WORKER", "")
    if w.startswith("gw") and w[2:].isdigit():
        k = int(w[2:])
        if k < 4:
            uid = os.environ.get("PYTEST_XDIST_TESTRUNUID", "")
            b = int(hashlib.sha1(uid.encode()).hexdigest(), 16) % 12 if uid else 0
            return 200 + 4 * b + k
        if k < 50:
            return 200 + k
    return os.getpid() % 200


def why_not():
    """The reason the lab cannot run here, or None."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    if not IP or not TC:
        return "ip or tc (iproute2) is not installed"
    name = "g23chk%d" % (os.getpid() % 100000)
    r = run(IP, "netns", "add", name, check=False)
    if r.returncode != 0:
        return "ip netns is unavailable: " + r.stderr.decode(errors="replace").strip()
    # exec too: in a chroot whose / is not a mount point it cannot make /
    # a slave mount, and every test would fail instead of saying why.
    r = run(IP, "netns", "exec", name, IP, "link", "show", "lo", check=False)
    run(IP, "netns", "del", name, check=False)
    if r.returncode != 0:
        return "ip netns exec is unavailable: " + r.stderr.decode(errors="replace").strip()
    return None


ALIAS = "gtmd-test pid="


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clear_stale(net):
    """Deletes the bridges a killed earlier run left holding an address in
    NET.0/24. A run killed with SIGKILL (a CI run ended with its session)
    never reaches Lab.close(); its namespaces go with their mount
    namespace, but its bridge stays in the root namespace with this
    subnet's route. A port-less bridge's route is only marked linkdown,
    still used, so this lab's packets to its own hosts would vanish into
    it. A bridge is stale when the pid in its alias (set below) is gone,
    or when it has no alias (made before the alias was set)."""
    r = run(IP, "-j", "addr", "show", check=False)
    try:
        links = json.loads(r.stdout.decode() or "[]")
    except ValueError:
        return
    for link in links:
        name = link.get("ifname", "")
        if not name.startswith("g23b"):
            continue
        if not any(a.get("local", "").startswith(net + ".") for a in link.get("addr_info", [])):
            continue
        try:
            with open("/sys/class/net/%s/ifalias" % name) as f:
                alias = f.read().strip()
        except OSError:
            alias = ""
        pid = alias[len(ALIAS):] if alias.startswith(ALIAS) else ""
        if pid.isdigit() and alive(int(pid)):
            continue
        run(IP, "link", "del", name, check=False)


class Lab:
    made = 0
    def __init__(self):
        Lab.made += 1  # a new name per lab: a deleted namespace's veths go late
        self.tag = "%d%d" % (os.getpid() % 1000, Lab.made % 10)
        self.net = "10.231.%d" % slot()
        self.bridge = "g23b" + self.tag
        clear_stale(self.net)
        self.hosts = {}  # name -> (namespace, address)
        self.cuts = set()  # (a, b) with a < b
        self.one_way = set()  # (a, b): what a sends to b is dropped
        self.addr_cuts = set()  # (a, address): what a sends to address is dropped
        self.procs = []
        self.extra_addrs = []
        self.outer = []  # host-side veths, deleted first (netns del frees them late)
        run(IP, "link", "add", self.bridge, "type", "bridge")
        run(IP, "link", "set", self.bridge, "alias", ALIAS + str(os.getpid()))
        # A fixed address: a bridge otherwise takes the lowest of its ports'
        # and changes it as veths join, which leaves the namespaces' ARP
        # entries for the root's addresses stale for seconds.
        run(IP, "link", "set", self.bridge, "address", "02:23:00:00:00:%02x" % slot())
        run(IP, "addr", "add", self.net + ".254/24", "dev", self.bridge)
        run(IP, "link", "set", self.bridge, "up")

    def addr_in_root(self, last):
        """An extra address of the root namespace on the bridge (backends)."""
        a = "%s.%d" % (self.net, last)
        run(IP, "addr", "add", a + "/32", "dev", self.bridge)
        self.extra_addrs.append(a)
        return a

    def host(self, name, last):
        """A namespace with address NET.last on eth0, linked to the bridge."""
        ns = "g23-%s-%s" % (self.tag, name)
        run(IP, "netns", "add", ns)
        self.hosts[name] = (ns, "%s.%d" % (self.net, last))
        outer = ("g%s%s" % (self.tag, name))[:15]
        self.outer.append(outer)
        run(IP, "link", "add", outer, "type", "veth", "peer", "name", "eth0", "netns", ns)
        run(IP, "link", "set", outer, "master", self.bridge)
        run(IP, "link", "set", outer, "up")
        nx = [IP, "netns", "exec", ns]
        run(*nx, IP, "addr", "add", self.hosts[name][1] + "/24", "dev", "eth0")
        run(*nx, IP, "link", "set", "eth0", "up")
        run(*nx, IP, "link", "set", "lo", "up")
        run(*nx, TC, "qdisc", "add", "dev", "eth0", "clsact")
        # The black hole: bh0 is up, its peer bh1 down, so bh0 drops all.
        run(*nx, IP, "link", "add", "bh0", "type", "veth", "peer", "name", "bh1")
        run(*nx, IP, "link", "set", "bh0", "up")
        return self.hosts[name][1]

    def addr(self, name):
        return self.hosts[name][1]

    def popen(self, name, argv, **kw):
        """argv run in name's namespace (ip netns exec execs it: the pid is
        the process's own)."""
        p = subprocess.Popen([IP, "netns", "exec", self.hosts[name][0]] + list(argv), **kw)
        self.procs.append(p)
        return p

    def _filter(self, a, b, add):
        ns, _ = self.hosts[a]
        idx = sorted(self.hosts).index(b) + 10
        cmd = [IP, "netns", "exec", ns, TC, "filter", "add" if add else "del", "dev", "eth0",
               "egress", "prio", str(idx)]
        if add:
            cmd += ["protocol", "ip", "u32", "match", "ip", "dst", self.addr(b) + "/32",
                    "action", "mirred", "egress", "redirect", "dev", "bh0"]
        run(*cmd)

    def cut(self, a, b):
        """Drops everything between a and b, both ways."""
        key = tuple(sorted((a, b)))
        if key in self.cuts:
            return
        self._filter(a, b, True)
        self._filter(b, a, True)
        self.cuts.add(key)

    def cut_one_way(self, a, b):
        """Drops what a sends to b; what b sends to a still arrives."""
        self._filter(a, b, True)
        self.one_way.add((a, b))

    def _addr_filter(self, a, address, add):
        ns, _ = self.hosts[a]
        prio = str(100 + int(address.rsplit(".", 1)[1]))
        cmd = [IP, "netns", "exec", ns, TC, "filter", "add" if add else "del", "dev", "eth0",
               "egress", "prio", prio]
        if add:
            cmd += ["protocol", "ip", "u32", "match", "ip", "dst", address + "/32",
                    "action", "mirred", "egress", "redirect", "dev", "bh0"]
        run(*cmd)

    def cut_addr(self, a, address):
        """Drops what a sends to address (one in the root namespace, a
        backend's): a alone loses it, everyone else still reaches it."""
        if (a, address) not in self.addr_cuts:
            self._addr_filter(a, address, True)
            self.addr_cuts.add((a, address))

    def heal_addrs(self):
        """Removes every cut_addr."""
        for a, address in sorted(self.addr_cuts):
            self._addr_filter(a, address, False)
        self.addr_cuts.clear()

    def heal(self, a=None, b=None):
        """Removes the cut between a and b (every cut without arguments)."""
        for key in sorted(self.cuts):
            if a is None or key == tuple(sorted((a, b))):
                self._filter(key[0], key[1], False)
                self._filter(key[1], key[0], False)
                self.cuts.discard(key)
        for key in sorted(self.one_way):
            if a is None or key == (a, b):
                self._filter(key[0], key[1], False)
                self.one_way.discard(key)

    def close(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    pass
        for v in self.outer:
            run(IP, "link", "del", v, check=False)
        for ns, _ in self.hosts.values():
            run(IP, "netns", "del", ns, check=False)
        for a in self.extra_addrs:
            run(IP, "addr", "del", a + "/32", "dev", self.bridge, check=False)
        run(IP, "link", "del", self.bridge, check=False)
