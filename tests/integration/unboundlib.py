"""A validating Unbound on loopback for the DNSSEC tests: its
configuration and its process.

Every DNSSEC test that needs a resolver's view (test_dnssec_validate,
_policy, _keys, _ksk, _algroll, _fleet_keys, test_update_transfer) asks an
Unbound that knows only its trust anchor and reaches the zones through
stub zones on 127.0.0.1, so that what it validates is what gtmd (and a
parent served by Knot) answer, with no cache or root of its own in the
way. The class owns the process and its log file; stop() ends both.
"""
import os
import subprocess
import time

import dns.flags
import dns.message
import dns.query

from conftest import free_port, stop_process

UNBOUND = "/usr/sbin/unbound"
ADDR = "127.0.0.1"


def unbound_conf(d, port, anchor, stubs, cache_max_ttl=None):
    """The configuration text of an Unbound answering on ADDR:port, its
    files in directory d, validating with the trust anchor file anchor,
    reaching each zone of stubs ([(zone, port)]) on ADDR. With no
    cache_max_ttl it keeps every RRset for its TTL, as a resolver on the
    Internet would (the rollover tests rely on that); cache_max_ttl=1 makes
    it ask again at once (the tests of what gtmd answers now)."""
    cap = "    cache-max-ttl: %d\n" % cache_max_ttl if cache_max_ttl is not None else ""
    stub_text = "".join('stub-zone:\n    name: "%s"\n    stub-addr: %s@%d\n' % (z, ADDR, p)
                        for z, p in stubs)
    return """server:
    interface: {addr}@{port}
    port: {port}
    do-ip6: no
    username: ""
    chroot: ""
    directory: "{d}"
    pidfile: "{d}/unbound.pid"
    logfile: "{d}/unbound.log"
    use-syslog: no
    verbosity: 1
    val-log-level: 2
    do-not-query-localhost: no
    module-config: "validator iterator"
    trust-anchor-file: "{anchor}"
{cap}    local-zone: "test." nodefault
    access-control: 127.0.0.0/8 allow
remote-control:
    control-enable: no
{stubs}""".format(addr=ADDR, port=port, d=d, anchor=anchor, cap=cap, stubs=stub_text)


class Unbound:
    """An Unbound process in directory d (made if missing) on a free port;
    see unbound_conf for stubs, anchor and cache_max_ttl."""

    def __init__(self, d, stubs, anchor, cache_max_ttl=None):
        self.dir = d
        os.makedirs(d, exist_ok=True)
        self.port = free_port()
        self.conf = os.path.join(d, "unbound.conf")
        with open(self.conf, "w") as f:
            f.write(unbound_conf(d, self.port, anchor, stubs, cache_max_ttl))
        self.out = open(os.path.join(d, "out.log"), "ab")
        self.proc = subprocess.Popen([UNBOUND, "-d", "-c", self.conf], stdout=self.out,
                                     stderr=subprocess.STDOUT)

    def ask(self, name, rdtype="A", timeout=3.0):
        q = dns.message.make_query(name, rdtype, want_dnssec=True)
        q.flags |= dns.flags.RD
        return dns.query.udp(q, ADDR, port=self.port, timeout=timeout)

    def wait_ready(self, name, timeout=15.0):
        """Whether it answers a query for name's SOA within timeout (bounded
        poll; False at once if the process ended)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                self.ask(name, "SOA", timeout=0.5)
                return True
            except Exception:
                time.sleep(0.1)
        return False

    def log(self):
        """The tail of its log and of its output."""
        out = ""
        for f in ("unbound.log", "out.log"):
            p = os.path.join(self.dir, f)
            if os.path.exists(p):
                with open(p, "rb") as fh:
                    out += fh.read().decode(errors="replace")[-3000:]
        return out

    def stop(self):
        stop_process(self.proc)
        self.out.close()
