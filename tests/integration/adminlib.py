"""Shared helpers for the admin API and gtmctl integration tests: tokens and
config builders (the test zones plus a small unchecked policy set and an
"admin" section), a tiny HTTP client that speaks to gtmd's admin listener
over TCP or a unix socket, and a runner for the gtmctl binary.

The policy set (no checks: every endpoint is up unless overridden):

    regions us, eu, ap
    pool web:  us1 192.0.2.10 (az us-1a), us2 192.0.2.11 (az us-1b),
               us6 2001:db8::10 (us, no az), eu1 198.51.100.10,
               eu6 2001:db8::20, ap1 203.0.113.10
    pool hp:   three us, two eu, one ap address (for hashed selection)
    pool cn:   CNAME endpoints www.example.com. (us), mail.example.com. (eu)
    records:   fo   web failover [us, eu, ap] ttl 10
               fo2  web failover [eu, ap]
               all  web all
               hs   hp all hashed answers 1; hs2 hp all hashed answers 2
               hfo  hp failover [us, eu, ap] hashed answers 1
               cn   cn failover [us, eu]
               apo  web failover [ap]  (only ap: the 409 safety rule)
               emp  web failover [ap] when_all_down empty
"""
import http.client
import json
import os
import socket
import subprocess
import time

from conftest import GTMD, default_config, free_port

READ_TOKEN = "read-token-0123456789abcdef"
OPERATE_TOKEN = "operate-token-0123456789abcdef"
GTMCTL = os.path.join(os.path.dirname(os.path.abspath(GTMD)), "gtmctl")

US_A = ["192.0.2.10", "192.0.2.11"]
US_AAAA = ["2001:db8::10"]
EU_A = ["198.51.100.10"]
EU_AAAA = ["2001:db8::20"]
AP_A = ["203.0.113.10"]


def ep(name, address, region, **kw):
    e = {"name": name, "region": region}
    if address.endswith("."):
        e["cname"] = address
    else:
        e["address"] = address
    e.update(kw)
    return e


def policy_sections():
    return {
        "regions": {"us": {}, "eu": {}, "ap": {}},
        "pools": {
            "web": {"endpoints": [
                ep("us1", "192.0.2.10", "us", az="us-1a"),
                ep("us2", "192.0.2.11", "us", az="us-1b"),
                ep("us6", "2001:db8::10", "us"),
                ep("eu1", "198.51.100.10", "eu"),
                ep("eu6", "2001:db8::20", "eu"),
                ep("ap1", "203.0.113.10", "ap")]},
            "hp": {"endpoints": [
                ep("h-us1", "192.0.2.31", "us"), ep("h-us2", "192.0.2.32", "us"),
                ep("h-us3", "192.0.2.33", "us", weight=3),
                ep("h-eu1", "198.51.100.31", "eu"), ep("h-eu2", "198.51.100.32", "eu"),
                ep("h-ap1", "203.0.113.31", "ap")]},
            "cn": {"endpoints": [ep("c-us", "www.example.com.", "us"),
                                 ep("c-eu", "mail.example.com.", "eu")]},
        },
        "records": {
            "fo.example.com.": {"pool": "web", "policy": "failover",
                                "regions": ["us", "eu", "ap"], "ttl": 10},
            "fo2.example.com.": {"pool": "web", "policy": "failover", "regions": ["eu", "ap"]},
            "all.example.com.": {"pool": "web", "policy": "all"},
            "hs.example.com.": {"pool": "hp", "policy": "all", "select": "hashed",
                                "answers": 1},
            "hs2.example.com.": {"pool": "hp", "policy": "all", "select": "hashed",
                                 "answers": 2},
            "hfo.example.com.": {"pool": "hp", "policy": "failover", "select": "hashed",
                                 "regions": ["us", "eu", "ap"], "answers": 1},
            "cn.example.com.": {"pool": "cn", "policy": "failover", "regions": ["us", "eu"],
                                "ttl": 20},
            "apo.example.com.": {"pool": "web", "policy": "failover", "regions": ["ap"]},
            "emp.example.com.": {"pool": "web", "policy": "failover", "regions": ["ap"],
                                 "when_all_down": "empty"},
        },
    }


def write_token(workdir, name, token):
    path = os.path.join(workdir, name)
    with open(path, "w") as f:
        f.write(token + "\n")
    os.chmod(path, 0o600)
    return path


def admin_port(avoid):
    for _ in range(20):
        p = free_port()
        if p != avoid:
            return p
    raise RuntimeError("no free admin port")


def admin_section(workdir, port, tokens=True, unix=False, audit=True, tcp=True, **extra):
    """The "admin" config section; TCP on 127.0.0.1:port, optionally a unix
    socket "adm.sock" in workdir, tokens written beside the config."""
    listen = []
    if tcp:
        listen.append("127.0.0.1:%d" % port)
    if unix:
        listen.append("unix:" + os.path.join(workdir, "adm.sock"))
    a = {"listen": listen}
    if tokens:
        write_token(workdir, "read.token", READ_TOKEN)
        write_token(workdir, "operate.token", OPERATE_TOKEN)
        a["read_token_file"] = "read.token"
        a["operate_token_file"] = "operate.token"
    if audit:
        a["audit_log"] = "audit.log"
    a.update(extra)
    return a


def config_fn(policy=True, state_file=False, mutate=None, **admin_opts):
    """A make_gtmd config_fn: test zones + policy set + admin section."""
    def fn(workdir, port):
        c = default_config(workdir, port)
        if policy:
            c.update(policy_sections())
        c["admin"] = admin_section(workdir, admin_port(port), **admin_opts)
        if state_file:
            c["state_file"] = "state.json"
        if mutate:
            mutate(c, workdir)
        return c
    return fn


# ---- HTTP client ---------------------------------------------------------

class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=5.0):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self.unix_path)
        self.sock = s


class Resp:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = {k.lower(): v for k, v in headers}
        self.body = body
        try:
            self.json = json.loads(body.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            self.json = None

    @property
    def code(self):
        """The error code of an error body, or None."""
        if isinstance(self.json, dict) and isinstance(self.json.get("error"), dict):
            return self.json["error"].get("code")
        return None

    def __repr__(self):
        return "<HTTP %d %r>" % (self.status, self.body[:400])


class Admin:
    """Client of one gtmd's admin API. token defaults to the operate token;
    token=None sends no Authorization header."""

    def __init__(self, host="127.0.0.1", port=None, unix=None):
        self.host = host
        self.port = port
        self.unix = unix

    @classmethod
    def of(cls, g):
        a = g.config["admin"]
        listen = a["listen"] if isinstance(a["listen"], list) else [a["listen"]]
        port, unix = None, None
        for entry in listen:
            if entry.startswith("unix:"):
                unix = entry[5:]
            elif port is None:
                port = int(entry.rsplit(":", 1)[1])
        return cls(port=port, unix=unix)

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def call(self, method, path, body=None, token=OPERATE_TOKEN, raw=None, headers=None,
             timeout=5.0, via_unix=False):
        if via_unix:
            c = UnixHTTPConnection(self.unix, timeout=timeout)
        else:
            c = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        h = {"Connection": "close"}
        if token is not None:
            h["Authorization"] = "Bearer " + token
        if headers:
            h.update(headers)
        data = raw if raw is not None else (json.dumps(body) if body is not None else None)
        if data is not None:
            h.setdefault("Content-Type", "application/json")
        try:
            c.request(method, path, body=data, headers=h)
            r = c.getresponse()
            return Resp(r.status, r.getheaders(), r.read())
        finally:
            c.close()

    def get(self, path, **kw):
        return self.call("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.call("POST", path, body=body, **kw)

    def delete(self, path, **kw):
        return self.call("DELETE", path, **kw)

    def override(self, target, state="down", reason="integration test", **kw):
        body = {"target": target, "state": state, "reason": reason}
        token = kw.pop("token", OPERATE_TOKEN)
        body.update(kw)
        return self.post("/v1/overrides", body, token=token)

    def overrides(self):
        r = self.get("/v1/overrides")
        assert r.status == 200, r
        return r.json["overrides"]

    def clear_overrides(self):
        # force: deleting an "up" override can be refused by the safety rule
        for o in self.overrides():
            assert self.delete("/v1/overrides/" + o["id"] + "?force=true").status == 200

    def wait_ready(self, timeout=5.0):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            try:
                r = self.get("/v1/health", token=None, timeout=1.0)
                if r.status == 200:
                    return self
                last = r
            except OSError as e:
                last = e
            time.sleep(0.02)
        raise RuntimeError("admin API not ready: %r" % (last,))


def status_endpoint(g, pool, name, via_unix=False):
    """The endpoint pool/name in g's /v1/status, wherever it is nested
    (regions, azs, pools); KeyError when it is not there."""
    todo = [Admin.of(g).get("/v1/status", via_unix=via_unix).json]
    while todo:
        o = todo.pop()
        if isinstance(o, dict):
            if o.get("pool") == pool and o.get("name") == name and "state" in o:
                return o
            todo.extend(o.values())
        elif isinstance(o, list):
            todo.extend(o)
    raise KeyError((pool, name))


def start(make_gtmd, **opts):
    """Starts gtmd with config_fn(**opts); returns (gtmd, Admin) once the
    admin API answers."""
    g = make_gtmd(config_fn(**opts))
    a = Admin.of(g)
    if a.port is None and a.unix:
        deadline = time.monotonic() + 5
        while not os.path.exists(a.unix) and time.monotonic() < deadline:
            time.sleep(0.02)
    else:
        a.wait_ready()
    return g, a


def restart(g, a):
    g.stop()
    g.start()
    a.wait_ready()


def audit_lines(g):
    path = os.path.join(g.workdir, "audit.log")
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


# ---- gtmctl --------------------------------------------------------------

def gtmctl(*args, env=None, timeout=15.0):
    """Runs gtmctl with a clean environment (plus env); CompletedProcess."""
    e = {k: v for k, v in os.environ.items() if not k.startswith("GTMCTL_")}
    if env:
        e.update(env)
    return subprocess.run([GTMCTL] + list(args), capture_output=True, text=True, env=e,
                          timeout=timeout)
