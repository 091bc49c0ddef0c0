"""Knot DNS (Debian's knotd) beside gtmd in the transfer tests: the part of
a knot.conf that every test's Knot shares (its own directory, a loopback
port, a log, one TSIG key and gtmd as its remote, signed with that key)."""


def knot_head(d, port, gport, key, secret):
    """server, log, database, key and remote sections: Knot in directory
    d on 127.0.0.1:port, with key (hmac-sha256, base64 secret) and the remote
    "gtmd" at 127.0.0.1:gport using it. The caller adds acl and zone."""
    return """server:
    rundir: "{d}"
    user: root:root
    pidfile: "{d}/knot.pid"
    listen: 127.0.0.1@{port}
log:
  - target: "{d}/knot.log"
    any: debug
database:
    storage: "{d}"
key:
  - id: {key}
    algorithm: hmac-sha256
    secret: {secret}
remote:
  - id: gtmd
    address: 127.0.0.1@{gport}
    key: {key}
""".format(d=d, port=port, gport=gport, key=key, secret=secret)
