"""ACME DNS-01 through gtmd's dynamic updates (doc/updates.md), with the
real clients: certbot with its dns-rfc2136 plugin and lego with its
rfc2136 provider get a certificate from pebble (Debian's ACME test
server) for a name in gtmd's zone; pebble resolves the challenge through
gtmd (-dnsserver), so the certificate is issued only if the TXT record the
client added by UPDATE is served. Afterwards the challenge record is gone
(the clients delete it) and the zone's serial has moved twice per
challenge. pebble's HTTPS certificate is made here with openssl, for
127.0.0.1, by a CA the clients are told to trust."""
import glob
import os
import shutil
import subprocess
import tempfile
import time

import pytest

from conftest import Gtmd, free_port, stop_process
from updatelib import KEYS, SECRET, ZONE, ask, serial, wait_for, zone_text

PEBBLE = "/usr/bin/pebble"
CERTBOT = "/usr/bin/certbot"
LEGO = "/usr/bin/lego"
OPENSSL = "/usr/bin/openssl"
NAME = "www.upd.test"
CHALLENGE = "_acme-challenge.www.upd.test."

pytestmark = pytest.mark.skipif(
    not all(os.access(p, os.X_OK) for p in (PEBBLE, OPENSSL)),
    reason="pebble or openssl is not installed (contrib/deps.sh installs them)")


def run(argv, **kw):
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, **kw)


def make_tls(d):
    """A CA and a certificate for 127.0.0.1 signed by it; (ca, cert, key)."""
    ca_key, ca = os.path.join(d, "ca.key"), os.path.join(d, "ca.pem")
    key, csr, cert = (os.path.join(d, n) for n in ("pebble.key", "pebble.csr", "pebble.pem"))
    ext = os.path.join(d, "san.ext")
    with open(ext, "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n"
                "keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n")
    for argv in (
        [OPENSSL, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-keyout", ca_key, "-out", ca, "-days", "2", "-subj", "/CN=gtmd test CA"],
        [OPENSSL, "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
         "-keyout", key, "-out", csr, "-subj", "/CN=127.0.0.1"],
        [OPENSSL, "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial",
         "-out", cert, "-days", "2", "-extfile", ext],
    ):
        p = run(argv)
        assert p.returncode == 0, p.stderr
    return ca, cert, key


@pytest.fixture
def acme():
    """gtmd serving upd.test. (the acme. key may change TXT records at the
    challenge name) and pebble validating DNS-01 through it."""
    work = tempfile.mkdtemp(prefix="gtmd-acme-")
    g = pebble = out = None
    try:
        gdir = os.path.join(work, "gtmd")
        os.mkdir(gdir)
        with open(os.path.join(gdir, "upd.test.zone"), "w") as f:
            f.write(zone_text())
        gport = free_port()
        g = Gtmd(gdir, {
            "listen": ["127.0.0.1:%d" % gport], "workers": 2,
            "tsig_keys": {k: {"algorithm": "hmac-sha256", "secret": s} for k, s in KEYS.items()},
            "zones": [{"origin": ZONE, "file": "upd.test.zone",
                       "update": [{"key": "acme.", "names": [CHALLENGE], "match": "exact",
                                   "types": ["TXT"]}]}]}, gport).start()
        ca, cert, key = make_tls(work)
        pport, mport = free_port(), free_port()
        conf = os.path.join(work, "pebble.json")
        with open(conf, "w") as f:
            f.write('{"pebble": {"listenAddress": "127.0.0.1:%d", '
                    '"managementListenAddress": "127.0.0.1:%d", "certificate": "%s", '
                    '"privateKey": "%s", "httpPort": %d, "tlsPort": %d, '
                    '"ocspResponderURL": "", "externalAccountBindingRequired": false}}'
                    % (pport, mport, cert, key, free_port(), free_port()))
        env = dict(os.environ, PEBBLE_VA_NOSLEEP="1", PEBBLE_WFE_NONCEREJECT="0")
        out = open(os.path.join(work, "pebble.log"), "ab")
        pebble = subprocess.Popen([PEBBLE, "-config", conf, "-dnsserver",
                                   "127.0.0.1:%d" % gport], stdout=out,
                                  stderr=subprocess.STDOUT, env=env, cwd=work)

        def pebble_log():
            with open(os.path.join(work, "pebble.log"), "rb") as fh:
                return fh.read().decode(errors="replace")[-4000:]
        assert wait_for(lambda: "Listening on: 127.0.0.1:%d" % pport in pebble_log()
                        or pebble.poll() is not None, 20) and pebble.poll() is None, pebble_log()
        yield {"g": g, "work": work, "ca": ca, "dir": "https://127.0.0.1:%d/dir" % pport,
               "pebble_log": pebble_log}
    finally:
        if pebble:
            stop_process(pebble)
        if out:
            out.close()
        if g:
            g.stop()
        shutil.rmtree(work, ignore_errors=True)


def issued_for(pem_path):
    p = run([OPENSSL, "x509", "-in", pem_path, "-noout", "-ext", "subjectAltName", "-issuer"])
    assert p.returncode == 0, p.stderr
    return p.stdout


def check_done(acme, before):
    g = acme["g"]
    plog = acme["pebble_log"]()
    # pebble validated the challenge by asking gtmd (never always-valid).
    assert "Using custom DNS resolver for ACME challenges: 127.0.0.1:%d" % g.port in plog, plog
    assert "set VALID by completed challenge" in plog, plog
    assert ask(g.port, CHALLENGE, "TXT")[0] == "NXDOMAIN"  # the challenge record is gone
    assert serial(g.port) >= before + 2  # added, then deleted
    log = g.read_log()
    assert "event=update zone=upd.test. key=acme." in log and "added=1" in log, log
    assert "deleted=1" in log, log


@pytest.mark.skipif(not os.access(CERTBOT, os.X_OK), reason="certbot is not installed")
def test_certbot_dns_rfc2136_gets_a_certificate(acme):
    work, g = acme["work"], acme["g"]
    creds = os.path.join(work, "rfc2136.ini")
    with open(creds, "w") as f:
        f.write("dns_rfc2136_server = 127.0.0.1\ndns_rfc2136_port = %d\n"
                "dns_rfc2136_name = acme.\ndns_rfc2136_secret = %s\n"
                "dns_rfc2136_algorithm = HMAC-SHA256\n" % (g.port, SECRET))
    os.chmod(creds, 0o600)
    before = serial(g.port)
    cb = os.path.join(work, "certbot")
    env = dict(os.environ, REQUESTS_CA_BUNDLE=acme["ca"])
    p = run([CERTBOT, "certonly", "--non-interactive", "--agree-tos",
             "--register-unsafely-without-email", "--server", acme["dir"],
             "--config-dir", cb + "/config", "--work-dir", cb + "/work", "--logs-dir", cb + "/logs",
             "--authenticator", "dns-rfc2136", "--dns-rfc2136-credentials", creds,
             "--dns-rfc2136-propagation-seconds", "1", "-d", NAME], env=env)
    logs = "".join(open(f).read()[-3000:] for f in glob.glob(cb + "/logs/*.log"))
    assert p.returncode == 0, (p.stdout, p.stderr, logs, acme["pebble_log"](), g.read_log())
    cert = glob.glob(cb + "/config/live/%s/cert.pem" % NAME)
    assert cert, p.stdout
    text = issued_for(cert[0])
    assert "DNS:" + NAME in text and "Pebble" in text, text
    check_done(acme, before)


@pytest.mark.skipif(not os.access(LEGO, os.X_OK), reason="lego is not installed")
def test_lego_rfc2136_gets_a_certificate(acme):
    work, g = acme["work"], acme["g"]
    before = serial(g.port)
    env = dict(os.environ, LEGO_CA_CERTIFICATES=acme["ca"],
               RFC2136_NAMESERVER="127.0.0.1:%d" % g.port, RFC2136_TSIG_KEY="acme.",
               RFC2136_TSIG_SECRET=SECRET, RFC2136_TSIG_ALGORITHM="hmac-sha256.",
               RFC2136_PROPAGATION_TIMEOUT="30", RFC2136_POLLING_INTERVAL="1",
               RFC2136_TTL="60")
    path = os.path.join(work, "lego")
    start = time.monotonic()
    p = run([LEGO, "--server", acme["dir"], "--email", "ops@upd.test", "--accept-tos",
             "--dns", "rfc2136", "--dns.resolvers", "127.0.0.1:%d" % g.port,
             "--dns.disable-cp", "--domains", NAME, "--path", path, "run"], env=env)
    assert p.returncode == 0, (p.stdout, p.stderr, acme["pebble_log"](), g.read_log())
    cert = os.path.join(path, "certificates", NAME + ".crt")
    assert os.path.exists(cert), p.stderr
    text = issued_for(cert)
    assert "DNS:" + NAME in text and "Pebble" in text, text
    check_done(acme, before)
    assert time.monotonic() - start < 110
