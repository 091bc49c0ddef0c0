"""Helpers for the fleet tests: a real etcd cluster of Debian's etcd-server
started by hand on loopback ports, an HTTP backend that can refuse chosen
source addresses or die, and gtmd nodes of a fleet, each with its own
probe_source (127.0.0.21, .22, .23...).

Every process is bounded: etcd members and gtmd nodes are stopped by pid
when the test ends, the backend's server thread stops with it, and every
wait is a bounded poll."""
import base64
import http.server
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request

import pytest

from backends import free_port_on, poll, query_addrs
from conftest import Gtmd, default_config, free_port, sanitizer_env, stop_process, GTMD

# The admin API on TCP needs tokens (token files of mode 0600); the tests
# use the operate token for every call.
OPERATE_TOKEN = "fleet-operate-token-0123456789"
READ_TOKEN = "fleet-read-token-0123456789ab"

ETCD = shutil.which("etcd")
ETCDCTL = shutil.which("etcdctl")


def need_etcd():
    """The reason to skip when etcd is not installed (contrib/deps.sh
    installs etcd-server and etcd-client), else None."""
    if not ETCD or not ETCDCTL:
        return "etcd is not installed (sh contrib/deps.sh installs etcd-server, etcd-client)"
    return None


def http_json(url, body=None, timeout=3.0, method=None, headers=None):
    """(status, parsed JSON or None) of one HTTP call; status 0 when the
    connection fails."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method or ("POST" if data else "GET"))
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            raw = r.read()
            return r.status, json.loads(raw) if raw.strip().startswith(b"{") else raw
    except urllib.error.HTTPError as e:
        raw = e.read()
        try:
            return e.code, json.loads(raw)
        except ValueError:
            return e.code, None
    except (OSError, ValueError):
        return 0, None


class EtcdMember:
    def __init__(self, name, workdir, client_port, peer_port, cluster, scheme="http",
                 extra=None):
        self.name = name
        self.workdir = workdir
        self.client_port = client_port
        self.peer_port = peer_port
        self.cluster = cluster
        self.scheme = scheme
        self.extra = extra or []
        self.url = "%s://127.0.0.1:%d" % (scheme, client_port)
        self.data = os.path.join(workdir, name + ".data")
        self.log_path = os.path.join(workdir, name + ".log")
        self.proc = None

    def start(self):
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [ETCD, "--name", self.name, "--data-dir", self.data,
                 "--listen-client-urls", self.url, "--advertise-client-urls", self.url,
                 "--listen-peer-urls", "http://127.0.0.1:%d" % self.peer_port,
                 "--initial-advertise-peer-urls", "http://127.0.0.1:%d" % self.peer_port,
                 "--initial-cluster", self.cluster, "--initial-cluster-state", "new",
                 "--log-level", "error"] + self.extra,
                stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        return self

    def stop(self, kill=False):
        if self.proc and self.proc.poll() is None:
            if kill:
                self.proc.kill()
                self.proc.wait(timeout=10)
            else:
                stop_process(self.proc)
        self.proc = None

    def running(self):
        return self.proc is not None and self.proc.poll() is None


class EtcdCluster:
    """n members on loopback ports; a 3-member cluster elects a leader in
    about 2 seconds."""

    def __init__(self, n=3, scheme="http", member_extra=None):
        self.workdir = tempfile.mkdtemp(prefix="gtmd-etcd-")
        ports = [free_port_on(["127.0.0.1"]) for _ in range(2 * n)]
        while len(set(ports)) < 2 * n:  # bounded: free_port_on raises after 50 tries
            ports = [free_port_on(["127.0.0.1"]) for _ in range(2 * n)]
        cluster = ",".join("e%d=http://127.0.0.1:%d" % (i + 1, ports[n + i]) for i in range(n))
        self.members = [EtcdMember("e%d" % (i + 1), self.workdir, ports[i], ports[n + i],
                                   cluster, scheme, member_extra) for i in range(n)]
        self.ctl_env = dict(os.environ, ETCDCTL_API="3")

    @property
    def urls(self):
        return [m.url for m in self.members]

    def start(self, timeout=20.0):
        for m in self.members:
            m.start()
        ok, _ = poll(lambda: self.leader() is not None, timeout, 0.2)
        if not ok:
            raise RuntimeError("etcd did not elect a leader:\n" + self.logs())
        return self

    def logs(self):
        out = []
        for m in self.members:
            try:
                with open(m.log_path, "rb") as f:
                    out.append("---- %s\n%s" % (m.name, f.read().decode(errors="replace")[-3000:]))
            except OSError:
                pass
        return "\n".join(out)

    def status(self, m):
        st, body = http_json(m.url + "/v3/maintenance/status", {}, timeout=1.0)
        return body if st == 200 and isinstance(body, dict) else None

    def leader(self):
        """The member that is leader now, or None."""
        for m in self.members:
            if not m.running():
                continue
            s = self.status(m)
            if s and s.get("leader") and s["leader"] == s.get("header", {}).get("member_id"):
                return m
        return None

    def get_prefix(self, prefix):
        """{key: value} of every key under prefix (through a running member)."""
        for m in self.members:
            if not m.running():
                continue
            k = base64.b64encode(prefix.encode()).decode()
            end = prefix[:-1] + chr(ord(prefix[-1]) + 1)
            e = base64.b64encode(end.encode()).decode()
            st, body = http_json(m.url + "/v3/kv/range", {"key": k, "range_end": e}, timeout=2.0)
            if st == 200:
                return {base64.b64decode(kv["key"]).decode():
                        base64.b64decode(kv.get("value", "")).decode()
                        for kv in body.get("kvs", [])}
        return None

    def stop(self):
        for m in self.members:
            m.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)


class Backend:
    """An HTTP backend on ADDR:PORT in this process: 200 to everyone but
    the refused source addresses (503 to them); stop() makes it refuse
    connections (a dead backend), start() brings it back."""

    def __init__(self, addr, port):
        self.addr = addr
        self.port = port
        self.refused = set()
        self.server = None
        self.thread = None

    def start(self):
        backend = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                code = 503 if self.client_address[0] in backend.refused else 200
                try:
                    self.send_response(code)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                except OSError:  # the probe gave up (its timeout) and reset
                    pass

            def log_message(self, *a):
                pass

        self.server = http.server.ThreadingHTTPServer((self.addr, self.port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self):
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


def fleet_config(etcd_urls, node, source, backend_port, prefix="/gtmd/it/", stale_after=3,
                 listen=True, fall=3, **fleet_extra):
    """A make_gtmd-style config_fn for one node: two regions (us: 127.0.0.31,
    eu: 127.0.0.32), an http check at 0.25 s, fall 3, rise 2. Fall 3, not
    2: the fleet tests check answers and verdicts that must not change
    over seconds (steady(), a node's own probe of a healthy backend while
    etcd is gone, a single status read), and two slow probes of the
    in-process backend on a loaded machine (sanitizer builds, 2 cores)
    would flip a node's own verdict. No fleet test measures fall timing
    (test_dead_backend_flips_all_three's 3 s bound leaves room for it);
    contrib/bench/fleet.py passes fall=2, the setting its figures in
    doc/fleet.md were measured with."""
    def fn(workdir, port):
        c = default_config(workdir, port)
        if not listen:
            c["listen"] = []
        c["workers"] = 1
        c["state_file"] = "state.json"
        for name, tok in (("read.token", READ_TOKEN), ("operate.token", OPERATE_TOKEN)):
            path = os.path.join(workdir, name)
            with open(path, "w") as f:
                f.write(tok + "\n")
            os.chmod(path, 0o600)
        c["admin"] = {"listen": "127.0.0.1:%d" % free_port(), "audit_log": "audit.log",
                      "read_token_file": "read.token", "operate_token_file": "operate.token"}
        c["probe_source"] = [source]
        f = {"etcd": list(etcd_urls), "prefix": prefix, "stale_after": stale_after}
        if node:
            f["node"] = node
        f.update(fleet_extra)
        c["fleet"] = f
        c["regions"] = {"us": {}, "eu": {}}
        c["checks"] = {"web": {"type": "http", "port": backend_port, "path": "/",
                               "interval": 0.25, "timeout": 0.2, "rise": 2, "fall": fall}}
        c["pools"] = {"web": {"check": "web", "endpoints": [
            {"name": "us1", "address": "127.0.0.31", "region": "us"},
            {"name": "eu1", "address": "127.0.0.32", "region": "eu"}]}}
        c["records"] = {"app.example.com.": {"pool": "web", "ttl": 10, "policy": "failover",
                                             "regions": ["us", "eu"]}}
        return c
    return fn


class Node(Gtmd):
    """A gtmd of the fleet; args are extra command-line arguments (--node)."""

    def __init__(self, workdir, config, port, args=()):
        super().__init__(workdir, config, port)
        self.args = list(args)

    @property
    def admin(self):
        return "http://" + self.config["admin"]["listen"]

    def start(self, wait=True):
        self.write_config()
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([GTMD, "-c", self.conf_path] + self.args, stderr=self.log,
                                     stdout=self.log, env=sanitizer_env(self.workdir))
        if wait:
            if self.config["listen"]:
                self.wait_ready()
            else:
                ok, _ = poll(lambda: self.get("/v1/health")[0] == 200, 10, 0.05)
                assert ok, "prober-only node did not start: " + self.read_log()
        return self

    AUTH = {"Authorization": "Bearer " + OPERATE_TOKEN}

    def get(self, path):
        return http_json(self.admin + path, headers=self.AUTH)

    def post(self, path, body):
        return http_json(self.admin + path, body, timeout=30, headers=self.AUTH)

    def delete(self, path):
        return http_json(self.admin + path, method="DELETE", timeout=30, headers=self.AUTH)

    def answer(self, name="app.example.com."):
        return query_addrs(self, name)

    def fleet(self):
        st, body = self.get("/v1/status")
        return body["fleet"] if st == 200 else None

    def endpoint(self, name):
        """The endpoint object of web/NAME in /v1/status."""
        st, body = self.get("/v1/status")
        assert st == 200
        for r in body["regions"]:
            for e in r["endpoints"] + [e for az in r["azs"] for e in az["endpoints"]]:
                if e["name"] == name:
                    return e
        return None

    def metric(self, name):
        st, body = self.get("/metrics")
        text = body.decode() if isinstance(body, bytes) else ""
        for line in text.splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
        return None


def start_node(made, etcd_urls, i, backend_port, args=(), start=True, **kw):
    """Node i (1-based) with probe_source 127.0.0.2i; made collects nodes
    for the cleanup."""
    workdir = tempfile.mkdtemp(prefix="gtmd-fleet-")
    port = free_port()
    node = kw.pop("node", "n%d" % i)
    config = fleet_config(etcd_urls, node, "127.0.0.2%d" % i, backend_port, **kw)(workdir, port)
    g = Node(workdir, config, port, args)
    made.append(g)
    if start:
        g.start()
    return g


# Fixtures shared by the fleet test modules (imported there by name).

@pytest.fixture
def cluster():
    """A 3-member etcd cluster on loopback (skipped without etcd)."""
    why = need_etcd()
    if why:
        pytest.skip(why)
    c = EtcdCluster(3).start()
    yield c
    c.stop()


@pytest.fixture
def be():
    port = free_port_on(["127.0.0.31", "127.0.0.32"])
    us = Backend("127.0.0.31", port).start()
    eu = Backend("127.0.0.32", port).start()
    yield {"us": us, "eu": eu, "port": port}
    us.stop()
    eu.stop()


@pytest.fixture
def made():
    nodes = []
    yield nodes
    errors = []
    for g in nodes:
        try:
            if g.proc:
                g.stop()
        except AssertionError as e:
            errors.append(str(e))
        shutil.rmtree(g.workdir, ignore_errors=True)
    if errors:
        pytest.fail("\n".join(errors), pytrace=False)


def member_key(d, name):
    """A fleet member's Ed25519 key file in directory d (mode 0600) and the
    base64 of its public key, as "members" lists it (doc/fleet.md)."""
    path = os.path.join(str(d), name + ".key")
    subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", path], check=True,
                   capture_output=True, timeout=20)
    os.chmod(path, 0o600)
    der = subprocess.run(["openssl", "pkey", "-in", path, "-pubout", "-outform", "DER"],
                         check=True, capture_output=True, timeout=20).stdout
    return path, base64.b64encode(der[-32:]).decode()



# For the signed-fleet modules (test_fleet_trust, test_fleet_replay).

def b64(s):
    """A string or bytes as etcd's JSON gateway takes it."""
    return base64.b64encode(s.encode() if isinstance(s, str) else s).decode()


@pytest.fixture(scope="module")
def etcd():
    """A 1-member etcd for a module (skip the module without etcd)."""
    c = EtcdCluster(1).start()
    yield c
    c.stop()


def member_keys(names):
    """Yields {name: member_key} for names in a temporary directory, and
    removes them after (the body of a module's keys fixture)."""
    d = tempfile.mkdtemp(prefix="gtmd-fleet-keys-")
    out = {n: member_key(d, n) for n in names}
    yield out
    for p, _ in out.values():
        os.unlink(p)
    os.rmdir(d)
