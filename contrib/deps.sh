#!/bin/sh
# Installs the Debian 12 packages gtmd needs to build, test and benchmark.
# Idempotent: does nothing when every package is already installed.
set -e
PKGS="build-essential autoconf automake libtool pkg-config
libldns-dev libevent-dev libjansson-dev libmaxminddb-dev libc-ares-dev libssl-dev
dnsutils knot-dnsutils python3 python3-dnspython python3-pytest python3-prometheus-client
libmaxmind-db-writer-perl mmdb-bin openssl clang libclang-rt-14-dev
nsd knot gdnsd dnsperf unbound ldnsutils knot-dnssecutils bind9-utils etcd-server
etcd-client"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# The reference servers (nsd, knot, gdnsd) and the resolver (unbound, in front
# of gtmd in the geo tests) are only started by hand by the tests and
# benchmarks; keep their packages from starting system services.
printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
apt-get install -y -q --no-install-recommends $missing
rm -f /usr/sbin/policy-rc.d
