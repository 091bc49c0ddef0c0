#!/bin/sh
# Installs the Debian 12 packages gtmd needs to build, test and benchmark,
# and the console's browser-test driver: playwright-core, with npm ci from
# tests/ui/package-lock.json into tests/ui/node_modules (it drives Debian's
# chromium; nothing is downloaded at build time).
# Idempotent: does nothing when everything is already installed.
set -e
top=$(cd "$(dirname "$0")/.." && pwd)
PKGS="build-essential autoconf automake libtool pkg-config
libldns-dev libevent-dev libjansson-dev libmaxminddb-dev libc-ares-dev libssl-dev
dnsutils knot-dnsutils python3 python3-dnspython python3-pytest python3-prometheus-client
libmaxmind-db-writer-perl mmdb-bin openssl clang libclang-rt-14-dev
nsd knot gdnsd dnsperf unbound ldnsutils knot-dnssecutils bind9-utils etcd-server
etcd-client chromium nodejs"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
# Debian's nodejs comes without npm (NodeSource's has npm built in).
command -v npm >/dev/null 2>&1 || missing="$missing npm"
if [ -n "$missing" ]; then
    echo "deps: installing$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    # The reference servers (nsd, knot, gdnsd) and the resolver (unbound, in
    # front of gtmd in the geo tests) are only started by hand by the tests
    # and benchmarks; keep their packages from starting system services.
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
    apt-get install -y -q --no-install-recommends $missing
    rm -f /usr/sbin/policy-rc.d
fi
# The browser tests' driver, exactly as locked.
if [ ! -d "$top/tests/ui/node_modules/playwright-core" ] ||
    [ "$top/tests/ui/package-lock.json" -nt "$top/tests/ui/node_modules/.package-lock.json" ]; then
    echo "deps: npm ci in tests/ui"
    (cd "$top/tests/ui" && npm ci --no-audit --no-fund)
fi
