#!/usr/bin/python3
"""A real gRPC server (Debian's python3-grpcio) with the health service
grpc.health.v1.Health/Check, for the grpc check tests (test_grpc_checks.py).

grpc_health is not packaged in Debian, so the service is a generic handler
on raw bytes: the HealthCheckRequest's service (field 1) is read by hand and
the reply is the HealthCheckResponse's octets (b"\\x08\\x01" is SERVING).

Usage: grpc_backend.py --addr A --port P --mode-file F [--tls CERT KEY]
       [--service NAME ...] [--lifetime S]

The mode file (read at each call; absent: "serving") says what to answer:
serving, not_serving, unknown (an empty message: status absent, which reads
as UNKNOWN), service_unknown, garbage (octets that are not a
HealthCheckResponse), slow (sleep 30 s), or status:N (abort with gRPC
status code N). A service not among --service ("" always is) is aborted
with NOT_FOUND, as the standard health server does. The server prints
READY once it listens, and exits after --lifetime seconds or when its
stdin closes, whichever comes first."""
import argparse
import os
import sys
import threading
import time
from concurrent import futures

import grpc

REPLIES = {"serving": b"\x08\x01", "not_serving": b"\x08\x02", "unknown": b"",
           "service_unknown": b"\x08\x03", "garbage": b"\x08"}


def service_of(req):
    """Field 1 (a length-delimited string) of a HealthCheckRequest."""
    i, name = 0, ""
    while i < len(req):
        key = req[i]
        i += 1
        if key == 0x0A:
            n, shift = 0, 0
            while True:
                b = req[i]
                i += 1
                n |= (b & 0x7F) << shift
                shift += 7
                if not b & 0x80:
                    break
            name = req[i:i + n].decode()
            i += n
        else:
            raise ValueError("unexpected field key %d" % key)
    return name


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--addr", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--mode-file", required=True)
    ap.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    ap.add_argument("--service", action="append", default=[])
    ap.add_argument("--lifetime", type=float, default=180.0)
    a = ap.parse_args()
    known = set(a.service) | {""}
    calls = os.path.join(os.path.dirname(a.mode_file), "calls-%d" % a.port)

    def mode():
        try:
            with open(a.mode_file) as f:
                return f.read().strip() or "serving"
        except OSError:
            return "serving"

    def check(req, ctx):
        name = service_of(req)
        with open(calls, "a") as f:  # what the probes asked, for the test
            f.write("%r %r\n" % (name, dict(ctx.invocation_metadata()).get("user-agent")))
        if name not in known:
            ctx.abort(grpc.StatusCode.NOT_FOUND, "unknown service %s" % name)
        m = mode()
        if m == "slow":
            time.sleep(30)
        if m.startswith("status:"):
            code = int(m.split(":")[1])
            ctx.abort([c for c in grpc.StatusCode if c.value[0] == code][0], "as told: %d" % code)
        return REPLIES[m]

    handler = grpc.method_handlers_generic_handler("grpc.health.v1.Health", {
        "Check": grpc.unary_unary_rpc_method_handler(check, request_deserializer=None,
                                                      response_serializer=None)})
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    server.add_generic_rpc_handlers((handler,))
    where = "%s:%d" % (a.addr, a.port)
    if a.tls:
        with open(a.tls[0], "rb") as f:
            cert = f.read()
        with open(a.tls[1], "rb") as f:
            key = f.read()
        bound = server.add_secure_port(where, grpc.ssl_server_credentials([(key, cert)]))
    else:
        bound = server.add_insecure_port(where)
    if bound != a.port:
        sys.exit("cannot listen on %s" % where)
    server.start()
    print("READY", flush=True)
    done = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), done.set()), daemon=True).start()
    done.wait(a.lifetime)
    server.stop(0)


if __name__ == "__main__":
    main()
