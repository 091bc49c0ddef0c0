#!/usr/bin/python3
"""failover.py -- how fast gtmd and gdnsd move a name off a dead backend and back.

Starts two real HTTP backends (this script re-run with --serve-backend) on
127.0.0.21:PORT and 127.0.0.22:PORT, then for each server in turn:

  gtmd   a failover record www.fo.test. over a pool with backend 1 in
         region "primary" and backend 2 in region "secondary"; http check,
         interval 0.25 s, timeout 0.2 s, fall 2, rise 2 (the settings under
         test; change them with --gtmd-interval etc.)
  gdnsd  "www DYNA simplefo!www" with primary backend 1, secondary backend 2
         and an http_status service type at gdnsd's fastest settings:
         interval 2 (its minimum: 3.8.1 rejects 1 although the man page
         says min 1), timeout 1 (integer seconds, must be < interval),
         up_thresh 1, down_thresh 1, ok_thresh 1

and repeats N times (--reps, default 5):

  1. wait a random 1..(1 + server interval) s, so the kill lands at a
     random phase of the probe schedule
  2. SIGKILL backend 1; poll www (A) every 10 ms with dnspython until the
     answer is backend 2 only: kill-to-flip
  3. wait a random 0.5..(0.5 + server interval) s, restart backend 1
     (timed from the moment it is listening again); poll until the answer
     is backend 1 only: restart-to-flip-back

Each flip is given up after --give-up seconds (30) and reported as such.
Prints the per-run times, the median of each per server and the ratio
gtmd/gdnsd. For gtmd it also prints when the health_change line was logged
(detection) so DNS-visible delay can be split from probe delay.

Everything listens on 127.0.0.x only; every process started is stopped by
pid (process group) at the end, also on errors and Ctrl-C.

  /usr/bin/python3 contrib/bench/failover.py [--reps 5] [--servers gtmd,gdnsd]

--servers gtmd,gtmd-signed compares gtmd with itself serving the zone
signed at load (keys made with ldns-keygen), polled with DO: a flip counts
when the new answer arrives with its RRSIG.
"""

import argparse
import calendar
import json
import os
import random
import re
import select
import shutil
import signal
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.abspath(os.path.join(HERE, "..", ".."))
B1, B2 = "127.0.0.21", "127.0.0.22"
ZONE = "fo.test."
NAME = "www.fo.test."


def log(msg):
    print("[failover %s] %s" % (time.strftime("%H:%M:%S"), msg), file=sys.stderr, flush=True)


# --------------------------------------------------------------------------
# the HTTP backend (this script with --serve-backend ADDR PORT)


def serve_backend(addr, port):
    import http.server

    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = b"ok\n"
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_HEAD(self):
            self.send_response(200)
            self.send_header("Content-Length", "3")
            self.end_headers()

        def log_message(self, *a):
            pass

    class S(http.server.ThreadingHTTPServer):
        allow_reuse_address = True
        daemon_threads = True
        request_queue_size = 128

        def handle_error(self, request, client_address):
            pass  # probers may close before reading the body

    srv = S((addr, port), H)
    srv.timeout = 1.0
    print("ready", flush=True)
    deadline = time.monotonic() + 3600  # bounded even if the parent dies
    while time.monotonic() < deadline:
        srv.handle_request()


class Backend:
    def __init__(self, addr, port):
        self.addr, self.port, self.proc = addr, port, None

    def start(self, timeout=10.0):
        """Starts the backend; returns the monotonic time it was listening."""
        self.proc = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--serve-backend", self.addr,
             str(self.port)], stdout=subprocess.PIPE, start_new_session=True)
        r, _, _ = select.select([self.proc.stdout], [], [], timeout)
        line = self.proc.stdout.readline() if r else b""
        t = time.monotonic()
        if line.strip() != b"ready":
            self.kill()
            raise RuntimeError("backend %s:%d did not start" % (self.addr, self.port))
        return t

    def kill(self):
        """SIGKILLs the backend; returns the monotonic time just before."""
        t = time.monotonic()
        if self.proc and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if self.proc:
            self.proc.wait(timeout=10)
            self.proc.stdout.close()
        self.proc = None
        return t


# --------------------------------------------------------------------------
# DNS servers under test


class Server:
    name = "?"

    def __init__(self, workdir, port):
        self.dir = os.path.join(workdir, self.name)
        self.port = port
        self.proc = None
        self.errlog = os.path.join(self.dir, "stderr.log")
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir)

    def start(self):
        cmd = self.command()
        self.err = open(self.errlog, "w")
        self.proc = subprocess.Popen(cmd, stdout=self.err, stderr=subprocess.STDOUT,
                                     start_new_session=True)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait(timeout=10)
        self.proc = None

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def tail(self, n=15):
        try:
            return "".join(open(self.errlog).readlines()[-n:])
        except OSError:
            return ""


ZONEFILE = """$ORIGIN fo.test.
$TTL 0
@ IN SOA ns1.fo.test. hostmaster.fo.test. 1 7200 1800 259200 0
@ IN NS ns1
ns1 IN A 127.0.0.1
"""


class Gtmd(Server):
    name = "gtmd"

    def __init__(self, workdir, port, binary, http_port, a):
        super().__init__(workdir, port)
        self.binary, self.http_port, self.a = binary, http_port, a
        self.interval = a.gtmd_interval

    def command(self):
        zf = os.path.join(self.dir, "fo.test.zone")
        with open(zf, "w") as f:
            f.write(ZONEFILE)
        cfg = {
            "listen": ["127.0.0.1:%d" % self.port],
            "workers": 1,
            "zones": [{"origin": ZONE, "file": zf}],
            "regions": {"primary": {}, "secondary": {}},
            "checks": {"web": {"type": "http", "port": self.http_port, "path": "/",
                               "interval": self.a.gtmd_interval,
                               "timeout": self.a.gtmd_timeout,
                               "fall": self.a.gtmd_fall, "rise": self.a.gtmd_rise}},
            "pools": {"web": {"check": "web", "endpoints": [
                {"name": "b1", "address": B1, "region": "primary"},
                {"name": "b2", "address": B2, "region": "secondary"}]}},
            "records": {NAME: {"pool": "web", "policy": "failover",
                               "regions": ["primary", "secondary"], "ttl": 0}},
        }
        path = os.path.join(self.dir, "gtmd.json")
        with open(path, "w") as f:
            json.dump(cfg, f, indent=2)
        return [self.binary, "-c", path]

    def settings(self):
        a = self.a
        return "http check interval %gs timeout %gs fall %d rise %d" % (
            a.gtmd_interval, a.gtmd_timeout, a.gtmd_fall, a.gtmd_rise)

    dnssec = False

    def detections(self):
        """(wall time, endpoint, to) of every health_change line so far."""
        out = []
        try:
            text = open(self.errlog).read()
        except OSError:
            return out
        for m in re.finditer(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\.(\d{3})Z .*"
                             r"event=health_change endpoint=(\S+) from=\S+ to=(\S+)", text, re.M):
            t = calendar.timegm(time.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S"))
            out.append((t + int(m.group(2)) / 1000.0, m.group(3), m.group(4)))
        return out


class GtmdSigned(Gtmd):
    """The same gtmd, with fo.test. signed at load (ECDSA P-256 keys made
    with ldns-keygen) and polled with DO: a flip counts once the new answer
    comes with its RRSIG (doc/dnssec.md, signed policy answers)."""
    name = "gtmd-signed"
    dnssec = True

    def command(self):
        cmd = super().command()
        keys = []
        for ksk in (True, False):
            out = subprocess.run(["ldns-keygen", "-a", "ECDSAP256SHA256"] + (["-k"] if ksk else [])
                                 + [ZONE], cwd=self.dir, check=True, capture_output=True,
                                 text=True).stdout.strip()
            keys.append(os.path.join(self.dir, out))
        path = cmd[-1]
        with open(path) as f:
            cfg = json.load(f)
        cfg["zones"][0]["dnssec"] = {"keys": keys}
        with open(path, "w") as f:
            json.dump(cfg, f, indent=2)
        return cmd

    def settings(self):
        return super().settings() + ", zone signed at load, queries with DO"


class Gdnsd(Server):
    name = "gdnsd"
    interval = 2.0

    def __init__(self, workdir, port, http_port):
        super().__init__(workdir, port)
        self.http_port = http_port

    def command(self):
        d = self.dir
        for sub in ("zones", "run", "state"):
            os.makedirs(os.path.join(d, sub), exist_ok=True)
        with open(os.path.join(d, "zones", ZONE.rstrip(".")), "w") as f:
            f.write(ZONEFILE + "www 0 DYNA simplefo!www\n")
        with open(os.path.join(d, "config"), "w") as f:
            f.write("""options => {{
  listen => [ 127.0.0.1:{port} ]
  udp_threads => 1
  tcp_threads => 1
  run_dir => {d}/run
  state_dir => {d}/state
}}
service_types => {{
  web => {{
    plugin => http_status
    port => {hp}
    url_path => /
    interval => 2
    timeout => 1
    up_thresh => 1
    down_thresh => 1
    ok_thresh => 1
  }}
}}
plugins => {{
  simplefo => {{
    www => {{
      service_types => [ web ]
      primary => {b1}
      secondary => {b2}
    }}
  }}
}}
""".format(port=self.port, d=d, hp=self.http_port, b1=B1, b2=B2))
        return ["gdnsd", "-c", d, "start"]

    def settings(self):
        return "http_status interval 2s timeout 1s up/down/ok_thresh 1 (its fastest)"


# --------------------------------------------------------------------------
# polling


def answer(port, timeout=0.2, dnssec=False):
    """The set of A addresses for NAME, or None (timeout / error; with
    dnssec, also an A RRset without its RRSIG)."""
    import dns.message
    import dns.query
    import dns.rdatatype
    q = dns.message.make_query(NAME, dns.rdatatype.A, want_dnssec=dnssec)
    try:
        r = dns.query.udp(q, "127.0.0.1", port=port, timeout=timeout)
    except Exception:
        return None
    addrs = set()
    signed = False
    for rrset in r.answer:
        if rrset.rdtype == dns.rdatatype.A:
            addrs.update(rd.address for rd in rrset)
        if rrset.rdtype == dns.rdatatype.RRSIG and rrset.covers == dns.rdatatype.A:
            signed = True
    if dnssec and not signed:
        return None
    return addrs


def wait_for(srv, want, since, give_up, poll):
    """Polls every `poll` s until the answer is exactly {want}; returns the
    seconds from `since`, or None after give_up seconds."""
    deadline = since + give_up
    while True:
        now = time.monotonic()
        if now > deadline or not srv.alive():
            return None
        a = answer(srv.port, dnssec=getattr(srv, "dnssec", False))
        if a == {want}:
            return time.monotonic() - since
        # Sleep to the next 10 ms slot (polling cost included).
        time.sleep(max(0.0, poll - (time.monotonic() - now)))


def fmt(x):
    return "gave up" if x is None else "%.3f" % x


def run_server(srv, b1, a):
    """Runs the repetitions against one server; returns (downs, ups, rows)."""
    srv.start()
    t0 = time.monotonic()
    ok = wait_for(srv, B1, t0, a.give_up, a.poll)
    if ok is None:
        raise RuntimeError("%s never answered %s with %s:\n%s" % (srv.name, NAME, B1, srv.tail()))
    log("%s: answering %s with backend 1 after %.2f s (%s)" % (srv.name, NAME, ok, srv.settings()))
    rnd = random.Random(a.seed)
    downs, ups, rows = [], [], []
    for i in range(a.reps):
        time.sleep(1.0 + rnd.uniform(0, srv.interval))
        wall_kill = time.time()
        t_kill = b1.kill()
        down = wait_for(srv, B2, t_kill, a.give_up, a.poll)
        # Restart at a random phase too (right after the flip would be just
        # after a probe, every time).
        time.sleep(0.5 + rnd.uniform(0, srv.interval))
        t_up = b1.start()
        wall_up = time.time() - (time.monotonic() - t_up)
        if down is None:
            # Still on backend 1 (or no answer): bring 1 back, wait for it
            # to be served before the next run.
            log("%s run %d: no flip to backend 2 within %.0f s" % (srv.name, i + 1, a.give_up))
        up = wait_for(srv, B1, t_up, a.give_up, a.poll)
        det_down = det_up = None
        if isinstance(srv, Gtmd):
            for (t, ep, to) in srv.detections():
                ep = ep.split(":", 1)[-1]  # "endpoint:web/b1" or "web/b1"
                if ep == "web/b1" and to == "down" and t >= wall_kill - 0.002 and det_down is None:
                    det_down = t - wall_kill
                if ep == "web/b1" and to == "up" and t >= wall_up - 0.002 and det_up is None:
                    det_up = t - wall_up
        downs.append(down)
        ups.append(up)
        rows.append((i + 1, down, up, det_down, det_up))
        log("%s run %d: kill->flip %s s, restart->flip back %s s" % (srv.name, i + 1, fmt(down),
                                                                     fmt(up)))
        if up is None:
            log("%s run %d: no flip back within %.0f s; stopping this server" % (srv.name, i + 1,
                                                                                  a.give_up))
            break
    srv.stop()
    return downs, ups, rows


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--serve-backend":
        serve_backend(sys.argv[2], int(sys.argv[3]))
        return 0
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--servers", default="gtmd,gdnsd")
    ap.add_argument("--gtmd", default=os.path.join(TOP, "build", "gtmd"))
    ap.add_argument("--gtmd-interval", type=float, default=0.25)
    ap.add_argument("--gtmd-timeout", type=float, default=0.2)
    ap.add_argument("--gtmd-fall", type=int, default=2)
    ap.add_argument("--gtmd-rise", type=int, default=2)
    ap.add_argument("--http-port", type=int, default=18080)
    ap.add_argument("--port", type=int, default=15380, help="gtmd DNS port; gdnsd gets +1")
    ap.add_argument("--poll", type=float, default=0.01, help="seconds between DNS polls")
    ap.add_argument("--give-up", type=float, default=30.0, help="seconds per flip")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--workdir", default="/tmp/gtm-failover")
    a = ap.parse_args()
    a.reps = max(1, min(a.reps, 100))
    try:
        import dns.query  # noqa: F401
    except ImportError:
        sys.exit("failover: needs dnspython (apt-get install python3-dnspython; "
                 "run with /usr/bin/python3)")
    servers = [s for s in a.servers.split(",") if s]
    if "gtmd" in servers and not os.access(a.gtmd, os.X_OK):
        sys.exit("failover: no gtmd at %s (cd build && make)" % a.gtmd)
    if "gdnsd" in servers and not shutil.which("gdnsd"):
        sys.exit("failover: gdnsd not installed (apt-get install gdnsd)")
    os.makedirs(a.workdir, exist_ok=True)
    if "gtmd" in servers:
        # Run a copy, so a rebuild in the middle changes nothing.
        log("gtmd binary %s, built %s" % (a.gtmd, time.strftime(
            "%Y-%m-%d %H:%M:%S", time.localtime(os.stat(a.gtmd).st_mtime))))
        shutil.copy2(a.gtmd, os.path.join(a.workdir, "gtmd-under-test"))
        a.gtmd = os.path.join(a.workdir, "gtmd-under-test")

    b1, b2 = Backend(B1, a.http_port), Backend(B2, a.http_port)
    results, started = {}, []
    try:
        b1.start()
        b2.start()
        for s in servers:
            if s == "gtmd":
                srv = Gtmd(a.workdir, a.port, a.gtmd, a.http_port, a)
            elif s == "gtmd-signed":
                srv = GtmdSigned(a.workdir, a.port + 2, a.gtmd, a.http_port, a)
            elif s == "gdnsd":
                srv = Gdnsd(a.workdir, a.port + 1, a.http_port)
            else:
                sys.exit("failover: unknown server %s" % s)
            started.append(srv)
            results[s] = (srv.settings(),) + run_server(srv, b1, a)
            if b1.proc is None:
                b1.start()
    finally:
        for srv in started:
            srv.stop()
        b1.kill()
        b2.kill()

    print()
    print("failover times (seconds; poll every %g s, give up after %g s)" % (a.poll, a.give_up))
    meds = {}
    for s, (settings, downs, ups, rows) in results.items():
        print()
        print("%s: %s" % (s, settings))
        if s.startswith("gtmd"):
            print("  run  kill->flip  restart->flip-back   (health_change logged: down / up)")
        else:
            print("  run  kill->flip  restart->flip-back")
        for (i, d, u, dd, du) in rows:
            extra = ""
            if s.startswith("gtmd"):
                extra = "   (%s / %s)" % (fmt(dd), fmt(du))
            print("  %3d  %10s  %18s%s" % (i, fmt(d), fmt(u), extra))
        md, mu = med(downs), med(ups)
        meds[s] = (md, mu)
        gave = sum(1 for x in downs + ups if x is None)
        print("  median: kill->flip %s s, restart->flip-back %s s%s" % (
            fmt(md), fmt(mu), "  (%d flips gave up)" % gave if gave else ""))
    if "gtmd" in meds and "gdnsd" in meds:
        print()
        for k, label in ((0, "kill->flip"), (1, "restart->flip-back")):
            g, d = meds["gtmd"][k], meds["gdnsd"][k]
            ratio = "%.3f" % (g / d) if g is not None and d else "n/a"
            print("ratio gtmd/gdnsd, %-19s %s  (%s / %s s)" % (label + ":", ratio, fmt(g), fmt(d)))
    if "gtmd" in meds and "gtmd-signed" in meds:
        print()
        for k, label in ((0, "kill->flip"), (1, "restart->flip-back")):
            g, d = meds["gtmd"][k], meds["gtmd-signed"][k]
            ratio = "%.3f" % (d / g) if g and d is not None else "n/a"
            print("ratio signed/unsigned, %-19s %s  (%s / %s s)" % (label + ":", ratio, fmt(d),
                                                                  fmt(g)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
