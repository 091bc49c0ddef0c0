#!/bin/sh
# Installs the Debian 12 packages gtmd needs, in two sets:
#   sh contrib/deps.sh demo   what command 1 (contrib/setup.sh) needs: build
#                             gtmd, run the demo and every line setup.sh prints
#                             (dig, curl, python3 for the demo backends);
#   sh contrib/deps.sh test   (the default) also what the test suite and the
#                             benchmarks need: the reference servers, etcd,
#                             Unbound, the DNSSEC tools, the ACME clients and
#                             test CA of the dynamic update tests (certbot
#                             with its rfc2136 plugin, lego, pebble),
#                             BIRD 2 (the anycast tests), gRPC for Python
#                             (the grpc check's test server), chromium, and the
#                             console's browser-test driver, playwright-core,
#                             with npm ci from tests/ui/package-lock.json
#                             into tests/ui/node_modules (it drives Debian's
#                             chromium; nothing else is downloaded).
# Packages are installed without Recommends, so everything a test imports is
# named here (python3-cryptography is only a Recommends of python3-dnspython,
# ca-certificates only a Recommends of npm and curl).
# Idempotent: does nothing when everything is already installed. A failed
# apt-get fails the script; a failed npm ci says so and goes on (the browser
# tests then skip, saying why), unless GTM_DEPS_STRICT=1.
set -e
top=$(cd "$(dirname "$0")/.." && pwd)
set_name=${1:-test}
DEMO="build-essential autoconf automake libtool pkg-config
libldns-dev libevent-dev libjansson-dev libmaxminddb-dev libc-ares-dev libssl-dev
libfstrm-dev libprotobuf-c-dev protobuf-c-compiler libnghttp2-dev
dnsutils curl ca-certificates python3 openssl"
TEST="knot-dnsutils python3-dnspython python3-cryptography python3-pytest python3-pytest-xdist
python3-prometheus-client python3-grpcio libmaxmind-db-writer-perl mmdb-bin clang libclang-rt-14-dev
nsd knot gdnsd pdns-server pdns-backend-sqlite3 dnsperf unbound ldnsutils knot-dnssecutils bind9-utils etcd-server
etcd-client chromium nodejs iproute2 procps prometheus prometheus-alertmanager faketime
libxdp-dev libbpf-dev ethtool fstrm-bin dnstap-ldns certbot python3-certbot-dns-rfc2136 lego pebble
bird2"
case "$set_name" in
demo) PKGS=$DEMO ;;
test) PKGS="$DEMO $TEST" ;;
*)
    echo "usage: sh contrib/deps.sh [demo|test]" >&2
    exit 2
    ;;
esac
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
# Debian's nodejs comes without npm (NodeSource's has npm built in).
if [ "$set_name" = test ] && ! command -v npm >/dev/null 2>&1; then
    missing="$missing npm"
fi
if [ -n "$missing" ]; then
    echo "deps: installing$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    # The reference servers (nsd, knot, gdnsd, pdns-server), the resolver (unbound) and
    # etcd are only started by hand by the tests and benchmarks; keep their
    # packages from starting system services.
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
    status=0
    apt-get install -y -q --no-install-recommends $missing || status=$?
    rm -f /usr/sbin/policy-rc.d
    [ $status -eq 0 ] || exit $status
fi
[ "$set_name" = test ] || exit 0
# The browser tests' driver, exactly as locked.
if [ ! -d "$top/tests/ui/node_modules/playwright-core" ] ||
    [ "$top/tests/ui/package-lock.json" -nt "$top/tests/ui/node_modules/.package-lock.json" ]; then
    echo "deps: npm ci in tests/ui"
    if ! (cd "$top/tests/ui" && npm ci --no-audit --no-fund); then
        echo "deps: npm ci in tests/ui failed: the console's browser tests will be skipped" >&2
        [ "${GTM_DEPS_STRICT:-0}" = 1 ] && exit 1
    fi
fi
exit 0
