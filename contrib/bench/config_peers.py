"""config_peers.py -- the peers of config_bench.py --suite (issue #38): other
authoritative servers holding the same names as static A records, changed
one record at a time (or 1,000 in one go) through their own interfaces.

  knot           Knot DNS (knotd, Debian's knot 3.2): knotc zone-begin /
                 zone-unset / zone-set / zone-commit through one knotc process
                 (its commands on stdin); one change per transaction, a batch
                 is 1,000 changes in one transaction; zonefile-sync -1 (the
                 journal holds the changes).
  pdns           PowerDNS Authoritative 4.7 (Debian pdns-server with
                 pdns-backend-sqlite3): a gsqlite3 database made from the
                 package's schema, the HTTP API (api-key, webserver on
                 loopback), a change is PATCH /api/v1/servers/localhost/
                 zones/bench.test. of one rrset (changetype REPLACE), a
                 batch one PATCH of 1,000 rrsets; caches off (cache-ttl=0,
                 negquery-cache-ttl=0, query-cache-ttl=0,
                 zone-cache-refresh-interval=0).
  pdns-defaults  the same with PowerDNS's default caches (packet cache 20 s,
                 query cache 20 s, negative 60 s); config_bench.py reports
                 what it sees (a change may be answered from the cache).
  pdns-norectify caches off and default-api-rectify=no: by default every
                 PATCH rectifies the whole zone (ordername and auth of each
                 record), 1.3-1.7 s at 100,000 records against 6-20 ms
                 without; an operator of a big zone without DNSSEC turns it
                 off (API-RECTIFY), so this is PowerDNS at its fastest.

Every peer is started by hand on loopback ports of its own with its own
configuration and storage directory (no system service is touched),
stopped by pid, and offers: .pid, .port (DNS), change([(name, address)])
-> HTTP-like status (201 when applied), stop().
"""
import http.client
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import time

ZONE = "bench.test."
PDNS_KEY = "bench-pdns-api-key-0123456789"
PDNS_SCHEMAS = ("/usr/share/pdns-backend-sqlite3/schema/schema.sqlite3.sql",
                "/usr/share/doc/pdns-backend-sqlite3/schema.sqlite3.sql")
PEERS = ("knot", "pdns", "pdns-defaults", "pdns-norectify")


def _wait_answer(answer, port, proc, what, logpath, limit=300):
    t0 = time.monotonic()
    while answer(port, "r0." + ZONE) is None:
        if proc.poll() is not None or time.monotonic() - t0 > limit:
            raise SystemExit("%s did not start: see %s" % (what, logpath))
        time.sleep(0.05)


def stop(proc, timeout=60):
    """proc stopped by SIGTERM, killed when it has not exited within
    timeout seconds (config_bench.py's gtmd too)."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class Knot:
    """knotd with the names as static A records, changed through one knotc
    process in interactive mode."""

    def __init__(self, d, n, port, first, second, answer):
        self.port = port
        with open(os.path.join(d, "bench.test.zone"), "w") as f:
            f.write("$ORIGIN bench.test.\n$TTL 300\n@ SOA ns1 h 1 3600 600 86400 60\n"
                    "@ NS ns1\nns1 A 192.0.2.53\nwww A 192.0.2.80\n")
            for i in range(n):
                f.write("r%d 30 A %s\n" % (i, first))
        with open(os.path.join(d, "knot.conf"), "w") as f:
            f.write("server:\n  rundir: \"{d}\"\n  user: root:root\n  pidfile: \"{d}/knot.pid\"\n"
                    "  listen: 127.0.0.1@{p}\ncontrol:\n  listen: \"{d}/knot.sock\"\n"
                    "log:\n  - target: \"{d}/knot.log\"\n    any: info\n"
                    "database:\n  storage: \"{d}\"\ntemplate:\n  - id: default\n"
                    "    storage: \"{d}\"\n    zonefile-sync: -1\n"
                    "zone:\n  - domain: bench.test.\n    file: bench.test.zone\n"
                    .format(d=d, p=port))
        self.proc = subprocess.Popen(["knotd", "-c", os.path.join(d, "knot.conf")],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait_answer(answer, port, self.proc, "knotd", os.path.join(d, "knot.log"))
        self.pid = self.proc.pid
        # stdbuf: knotc buffers its "OK" lines when stdout is a pipe.
        self.ctl = subprocess.Popen(["stdbuf", "-oL", "knotc", "-s", os.path.join(d, "knot.sock")],
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, text=True, bufsize=1)

    def _commands(self, lines):
        for line in lines:
            self.ctl.stdin.write(line + "\n")
        self.ctl.stdin.flush()
        for line in lines:
            out = self.ctl.stdout.readline()
            if "OK" not in out:
                raise SystemExit("knotc %s: %s" % (line, out.strip()))

    def change(self, names_addrs):
        lines = ["zone-begin " + ZONE]
        for name, addr in names_addrs:
            lines += ["zone-unset %s %s A" % (ZONE, name),
                      "zone-set %s %s 30 A %s" % (ZONE, name, addr)]
        self._commands(lines + ["zone-commit " + ZONE])
        return 201

    def stop(self):
        self.ctl.stdin.close()
        self.ctl.wait(timeout=30)
        stop(self.proc)


def _pdns_schema():
    for p in PDNS_SCHEMAS:
        if os.path.exists(p):
            return p
    raise SystemExit("no gsqlite3 schema (install pdns-backend-sqlite3): looked in %s"
                     % ", ".join(PDNS_SCHEMAS))


class PowerDNS:
    """pdns_server with a gsqlite3 database of the names, changed by PATCH of
    an rrset through its HTTP API (one keep-alive connection)."""

    def __init__(self, d, n, port, api_port, first, answer, caches, rectify):
        self.port, self.api_port = port, api_port
        db = os.path.join(d, "pdns.sqlite3")
        con = sqlite3.connect(db)
        with open(_pdns_schema()) as f:
            con.executescript(f.read())
        con.execute("INSERT INTO domains (id, name, type) VALUES (1, 'bench.test', 'NATIVE')")
        rows = [("bench.test", "SOA", "ns1.bench.test. h.bench.test. 1 3600 600 86400 60", 300),
                ("bench.test", "NS", "ns1.bench.test.", 300),
                ("ns1.bench.test", "A", "192.0.2.53", 300),
                ("www.bench.test", "A", "192.0.2.80", 300)]
        rows += [("r%d.bench.test" % i, "A", first, 30) for i in range(n)]
        con.executemany("INSERT INTO records (domain_id, name, type, content, ttl, prio, disabled,"
                        " auth) VALUES (1, ?, ?, ?, ?, 0, 0, 1)", rows)
        con.commit()
        con.close()
        conf = ["launch=gsqlite3", "gsqlite3-database=" + db, "local-address=127.0.0.1",
                "local-port=%d" % port, "api=yes", "api-key=" + PDNS_KEY, "webserver=yes",
                "webserver-address=127.0.0.1", "webserver-port=%d" % api_port,
                "webserver-allow-from=127.0.0.0/8", "socket-dir=" + d, "guardian=no",
                "daemon=no", "disable-syslog=yes", "loglevel=4", "primary=no",
                "security-poll-suffix="]
        if not rectify:
            conf += ["default-api-rectify=no"]
        if not caches:
            conf += ["cache-ttl=0", "negquery-cache-ttl=0", "query-cache-ttl=0",
                     "zone-cache-refresh-interval=0"]
        with open(os.path.join(d, "pdns.conf"), "w") as f:
            f.write("\n".join(conf) + "\n")
        logpath = os.path.join(d, "pdns.log")
        self.log = open(logpath, "ab")
        self.proc = subprocess.Popen(["pdns_server", "--config-dir=" + d],
                                     stdout=self.log, stderr=self.log)
        _wait_answer(answer, port, self.proc, "pdns_server", logpath)
        self.pid = self.proc.pid
        self.conn = None

    def _patch(self, body):
        for attempt in range(2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.api_port, timeout=600)
            try:
                self.conn.request("PATCH", "/api/v1/servers/localhost/zones/" + ZONE, body=body,
                                  headers={"X-API-Key": PDNS_KEY,
                                           "Content-Type": "application/json"})
                r = self.conn.getresponse()
                data = r.read()
                return r.status, data
            except (http.client.HTTPException, OSError):
                self.conn.close()  # the server closed a kept-alive connection: once more
                self.conn = None
                if attempt:
                    raise
        return 0, b""

    def change(self, names_addrs):
        rrsets = [{"name": "%s.%s" % (name, ZONE), "type": "A", "ttl": 30,
                   "changetype": "REPLACE", "records": [{"content": addr, "disabled": False}]}
                  for name, addr in names_addrs]
        st, data = self._patch(json.dumps({"rrsets": rrsets}))
        if st not in (200, 204):
            raise SystemExit("pdns PATCH: HTTP %d %s" % (st, data[:200]))
        return 201

    def stop(self):
        if self.conn:
            self.conn.close()
        stop(self.proc)
        self.log.close()


def start(kind, d, n, base_port, first, second, answer):
    """Starts peer kind in a fresh directory d with n names r0..r{n-1}
    answering first. Ports: Knot base_port+10, PowerDNS base_port+20
    (DNS) and +21 (API), pdns-defaults +30/+31, pdns-norectify +40/+41.
    answer(port, name) is the
    caller's DNS check (None while nothing answers)."""
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    if kind == "knot":
        return Knot(d, n, base_port + 10, first, second, answer)
    if kind in ("pdns", "pdns-defaults", "pdns-norectify"):
        off = {"pdns": 20, "pdns-defaults": 30, "pdns-norectify": 40}[kind]
        return PowerDNS(d, n, base_port + off, base_port + off + 1, first, answer,
                        caches=kind == "pdns-defaults", rectify=kind != "pdns-norectify")
    raise SystemExit("unknown peer %s (one of %s)" % (kind, ", ".join(PEERS)))
