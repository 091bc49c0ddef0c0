"""The namespace fleet of the partition tests, as a library: a 3-member
etcd (e1..e3) and 3 gtmd nodes (n1..n3) by default (Fleet(members=5,
nodes=5) for the campaign's 5/5 runs), each in its own network
namespace of a netlab.Lab, backends us (NET.31) and eu (NET.32) in the
root namespace. Used by test_fleet_partition.py (and the modules that
import its fixture) and by contrib/bench/fleet_campaign.py and
partition_runs.py; start_hearing_peers and cut_off_with_leader are the
set-up and the cut that test_fleet_stamped.py and partition_runs.py share.

Node i lists member i first (modulo the members), so n1 watches e1. Fleet.close() stops the
nodes, then the lab (every process it started, the namespaces, the
bridge), the backends, and removes the directories; the caller runs it
in a finally (or a fixture)."""
import os
import shutil
import tempfile

import netlab
from backends import free_port_on, poll
from conftest import sanitizer_env, GTMD
from fleetlib import ETCD, Backend, Node, fleet_config, http_json

PREFIX = "/gtmd/part/"


class NsNode(Node):
    """A gtmd node started inside its namespace."""

    def __init__(self, lab, name, workdir, config, port, env=None):
        super().__init__(workdir, config, port)
        self.lab = lab
        self.name = name
        self.addr = lab.addr(name)
        self.extra_env = env or {}

    def start(self, wait=True):
        self.write_config()
        self.log = open(self.log_path, "ab")
        env = sanitizer_env(self.workdir)
        env.update(self.extra_env)
        self.proc = self.lab.popen(self.name, [GTMD, "-c", self.conf_path], stderr=self.log,
                                   stdout=self.log, env=env)
        if wait:
            self.wait_ready()
        return self


class Fleet:
    """etcd members e1..eM and gtmd nodes n1..nN in namespaces (M, N: 3 by
    default, at most 9 each: the members take NET.11.., the nodes
    NET.21..), backends us (NET.31) and eu (NET.32) in the root
    namespace."""

    def __init__(self, members=3, nodes=3):
        assert 1 <= members <= 9 and 1 <= nodes <= 9, (members, nodes)
        self.member_names = ["e%d" % (i + 1) for i in range(members)]
        self.node_count = nodes
        self.lab = netlab.Lab()
        self.dirs = []
        self.nodes = []
        self.members = {}  # name -> Popen of the running member (lab.procs owns them too)
        self.member_argv = {}
        self.etcd_dir = None
        self.be = {}

    def start_etcd(self):
        names = self.member_names
        for i, n in enumerate(names):
            self.lab.host(n, 11 + i)
        cluster = ",".join("%s=http://%s:2380" % (n, self.lab.addr(n)) for n in names)
        d = tempfile.mkdtemp(prefix="gtmd-part-etcd-")
        self.dirs.append(d)
        self.etcd_dir = d
        for n in names:
            a = self.lab.addr(n)
            self.member_argv[n] = [
                ETCD, "--name", n, "--data-dir", os.path.join(d, n),
                "--listen-client-urls", "http://%s:2379" % a,
                "--advertise-client-urls", "http://%s:2379" % a,
                "--listen-peer-urls", "http://%s:2380" % a,
                "--initial-advertise-peer-urls", "http://%s:2380" % a,
                "--initial-cluster", cluster, "--initial-cluster-state", "new",
                "--log-level", "error"]
            self.start_member(n)
        ok, _ = poll(lambda: self.leader() is not None, 20, 0.2)
        assert ok, "etcd did not elect a leader"

    def start_member(self, n):
        """Starts member n (again: its data directory is kept, so a
        restarted member rejoins the cluster; --initial-cluster-state is
        then ignored by etcd)."""
        with open(os.path.join(self.etcd_dir, n + ".log"), "ab") as log:
            self.members[n] = self.lab.popen(n, self.member_argv[n], stdout=log, stderr=log,
                                             stdin=None)

    def kill_member(self, n):
        """SIGKILLs member n and reaps it (bounded)."""
        p = self.members.get(n)
        if p is not None and p.poll() is None:
            p.kill()
            p.wait(timeout=10)

    def url(self, member):
        return "http://%s:2379" % self.lab.addr(member)

    def leader(self):
        for n in self.member_names:
            if self.members.get(n) is None or self.members[n].poll() is not None:
                continue
            st, s = http_json(self.url(n) + "/v3/maintenance/status", {}, timeout=0.5)
            if st == 200 and s.get("leader") and s["leader"] == s.get("header", {}).get(
                    "member_id"):
                return n
        return None

    def start_backends(self):
        us = self.lab.addr_in_root(31)
        eu = self.lab.addr_in_root(32)
        port = free_port_on([us, eu])
        self.be = {"us": Backend(us, port).start(), "eu": Backend(eu, port).start(),
                   "port": port}
        self.US, self.EU = [us], [eu]

    def start_nodes(self, env3=None, check=None, env_of=None, **fleet_extra):
        """check: fields that replace those of the web check (interval,
        timeout...); env3: extra environment of n3; env_of(name): extra
        environment of any node (the campaign's per-node clock)."""
        m = len(self.member_names)
        for i in range(1, self.node_count + 1):
            name = "n%d" % i
            self.lab.host(name, 20 + i)
            order = [self.member_names[(i - 1 + k) % m] for k in range(m)]
            d = tempfile.mkdtemp(prefix="gtmd-part-")
            self.dirs.append(d)
            a = self.lab.addr(name)
            c = fleet_config([self.url(m) for m in order], name, a, self.be["port"],
                             prefix=PREFIX, stale_after=3, **fleet_extra)(d, 5300)
            c["listen"] = ["%s:5300" % a]
            c["admin"]["listen"] = "%s:8080" % a
            c["checks"]["web"].update(check or {})
            eps = c["pools"]["web"]["endpoints"]
            eps[0]["address"], eps[1]["address"] = self.US[0], self.EU[0]
            env = dict(env3 or {}) if i == 3 else {}
            env.update(env_of(name) if env_of else {})
            self.nodes.append(NsNode(self.lab, name, d, c, 5300, env).start())
        ok, _ = poll(lambda: all(synced(n, self.node_count) for n in self.nodes), 20, 0.1)
        assert ok, [n.fleet() for n in self.nodes]

    def close(self):
        errors = []
        for n in self.nodes:
            try:
                if n.proc:
                    n.stop()
            except AssertionError as e:
                errors.append(str(e))
        self.lab.close()
        for b in self.be.values():
            if isinstance(b, Backend):
                b.stop()
        for d in self.dirs:
            shutil.rmtree(d, ignore_errors=True)
        return errors


def synced(n, live=3):
    f = n.fleet()
    return bool(f) and f["connection"] == "synced" and \
        len([x for x in f["nodes"] if x["live"]]) == live


def start_hearing_peers(fleet):
    """Starts the nodes (timeout 1 s, fall 2) and waits until every node
    serves us and hears every peer directly (the channel's first datagrams
    follow the node records), so a fault comes on a settled fleet. Used by
    test_fleet_stamped.py."""
    fleet.start_nodes(timeout=1, fall=2)
    ok, _ = poll(lambda: all(n.answer() == fleet.US for n in fleet.nodes), 10, 0.05)
    assert ok
    ok, _ = poll(lambda: all(len([p for p in n.fleet()["peers"]
                                  if p["heard_ago"] is not None and p["heard_ago"] < 0.35])
                             == fleet.node_count - 1 for n in fleet.nodes), 10, 0.1)
    assert ok, [n.fleet()["peers"] for n in fleet.nodes]


def cut_off_with_leader(fleet, cut, lead):
    """Cuts node cut and etcd member lead off from the other members and
    nodes (they still reach each other). Used by test_fleet_stamped.py and
    contrib/bench/partition_runs.py's leader_cut phase."""
    rest = [m for m in fleet.member_names if m != lead] + \
        [n.name for n in fleet.nodes if n is not cut]
    for a in (cut.name, lead):
        for b in rest:
            fleet.lab.cut(a, b)
