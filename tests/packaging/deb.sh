#!/bin/sh
# Builds the Debian package (debian/) with dpkg-buildpackage, checks it with
# lintian (no error, no warning), installs it with apt, starts gtmd from it
# the way the systemd unit does (as the gtmd user the package created, with
# CAP_NET_BIND_SERVICE only, on the default /etc/gtmd/gtmd.json), queries it
# over DNS and through gtmctl on the admin socket, then purges the package
# and checks it left nothing behind.
#
# It installs a package system-wide, so it runs where that is harmless: in
# the throwaway root of tests/fresh/run.sh (CI), or by hand as root on a test
# machine. gtmd runs in a network namespace of its own (port 53 on its own
# loopback), so nothing on the machine's port 53 is in the way.
# Prints "ok N - ..." / "not ok N - ..." lines and "deb: P passed, F failed".
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
passed=0 failed=0 n=0
check() { # description command...
    d=$1
    shift
    n=$((n + 1))
    if "$@" >/tmp/gtmd-deb-step.out 2>&1; then
        passed=$((passed + 1))
        echo "ok $n - $d"
    else
        failed=$((failed + 1))
        echo "not ok $n - $d"
        tail -n 25 /tmp/gtmd-deb-step.out | sed 's/^/#   /'
    fi
}
finish() {
    echo "deb: $passed passed, $failed failed"
    [ "$failed" -eq 0 ]
    exit $?
}

[ "$(id -u)" = 0 ] || { echo "not ok 1 - needs root"; failed=1; finish; }
work=$(mktemp -d /tmp/gtmd-deb.XXXXXX)
gpid=""
cleanup() {
    [ -n "$gpid" ] && kill "$gpid" 2>/dev/null
    rm -rf "$work" /tmp/gtmd-deb-step.out
}
trap cleanup EXIT

export DEBIAN_FRONTEND=noninteractive
check "build dependencies installed (debhelper, lintian, dpkg-dev)" \
    sh -c 'missing=""; for p in debhelper lintian dpkg-dev; do
               dpkg-query -W -f="\${Status}" $p 2>/dev/null | grep -q "ok installed" || missing="$missing $p"; done
           [ -z "$missing" ] || apt-get install -y -q --no-install-recommends $missing'

# A clean copy of the tracked tree: the package is built from what is in git.
mkdir -p "$work/src/gtmd"
if git -C "$top" rev-parse --git-dir >/dev/null 2>&1; then
    git -C "$top" archive --format=tar HEAD | tar -C "$work/src/gtmd" -xf -
else
    (cd "$top" && tar --exclude='./build*' --exclude=./run -cf - .) | tar -C "$work/src/gtmd" -xf -
fi
check "dpkg-buildpackage builds gtmd (C unit tests run in the build)" \
    sh -c "cd '$work/src/gtmd' && dpkg-buildpackage -us -uc -b"
deb=$(ls "$work"/src/gtmd_*_*.deb 2>/dev/null | grep -v dbgsym | head -n 1)
[ -n "$deb" ] || finish
# For tests/packaging/systemd.sh, which boots it under systemd (from the host).
cp "$deb" /root/gtmd-package.deb 2>/dev/null
check "lintian: no error and no warning" \
    lintian --fail-on error,warning "$deb"
check "apt installs the package" apt-get install -y -q --no-install-recommends "$deb"
check "the gtmd system user exists" getent passwd gtmd
check "binaries, unit, man pages and default configuration are installed" \
    sh -c 'for f in /usr/sbin/gtmd /usr/sbin/gtmctl /lib/systemd/system/gtmd.service \
                    /usr/share/man/man8/gtmd.8.gz /usr/share/man/man5/gtmd.conf.5.gz \
                    /usr/share/man/man8/gtmctl.8.gz /etc/gtmd/gtmd.json \
                    /etc/gtmd/zones/example.test.zone /etc/logrotate.d/gtmd; do
               [ -e "$f" ] || { echo "missing $f"; exit 1; }; done'
check "the unit is enabled for multi-user.target" \
    test -L /etc/systemd/system/multi-user.target.wants/gtmd.service
# What systemd gives the service (StateDirectory=, LogsDirectory=,
# RuntimeDirectory=, User=gtmd, AmbientCapabilities=CAP_NET_BIND_SERVICE);
# it runs in a network namespace with its own loopback.
for d in /var/lib/gtmd /var/log/gtmd /run/gtmd; do
    install -d -o gtmd -g gtmd -m 0700 "$d"
done
check "gtmd check accepts the default configuration (as the gtmd user, like ExecStartPre=)" \
    setpriv --reuid=gtmd --regid=gtmd --init-groups /usr/sbin/gtmd check -c /etc/gtmd/gtmd.json
cat >"$work/run-gtmd.sh" <<'EOF'
ip link set lo up || exit 1
setpriv --reuid=gtmd --regid=gtmd --init-groups --inh-caps=+net_bind_service \
    --ambient-caps=+net_bind_service --bounding-set=-all,+net_bind_service \
    /usr/sbin/gtmd -c /etc/gtmd/gtmd.json >"$1/gtmd.log" 2>&1 &
echo $! >"$1/gtmd.pid"
i=0
until dig +time=1 +tries=1 +short @127.0.0.1 www.example.test A >"$1/dig.out" 2>&1 &&
    grep -qx 192.0.2.80 "$1/dig.out"; do
    i=$((i + 1))
    [ $i -lt 50 ] || { cat "$1/gtmd.log" "$1/dig.out"; kill "$(cat "$1/gtmd.pid")"; exit 1; }
    sleep 0.1
done
dig +short @::1 www.example.test AAAA >"$1/dig6.out" 2>&1
/usr/sbin/gtmctl --server unix:/run/gtmd/admin.sock status >"$1/status.out" 2>&1
s=$?
ps -o user= -p "$(cat "$1/gtmd.pid")" >"$1/user.out"
kill "$(cat "$1/gtmd.pid")"
wait
exit $s
EOF
check "gtmd from the package serves 127.0.0.1:53 as user gtmd and answers gtmctl status" \
    unshare --net sh "$work/run-gtmd.sh" "$work"
check "it answered www.example.test A and AAAA" \
    sh -c "grep -qx 192.0.2.80 '$work/dig.out' && grep -qx 2001:db8::80 '$work/dig6.out'"
check "it ran as gtmd, not root" grep -qx gtmd "$work/user.out"
check "it stopped cleanly on SIGTERM (event=stop)" grep -q "event=stop" "$work/gtmd.log"
check "apt purges the package" apt-get purge -y -q gtmd
check "purge removed the binaries, configuration and state" \
    sh -c '! [ -e /usr/sbin/gtmd ] && ! [ -e /etc/gtmd ] && ! [ -e /var/lib/gtmd ]'
finish
