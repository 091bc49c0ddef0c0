#!/bin/sh
# The Debian package under systemd: a fresh Debian 12 root (the pristine
# base tarball of tests/fresh/run.sh) gets the .deb that deb.sh built,
# installed with apt, and is then booted with systemd-nspawn, systemd as
# its PID 1, on a network of its own (only its loopback). There the
# package's gtmd.service must start (Type=notify: READY=1), run as the gtmd
# user with its sandboxing as shipped, answer DNS on 127.0.0.1:53 and the
# admin socket, reload on `systemctl reload` and stop cleanly. A oneshot
# unit inside runs those checks, writes them down and powers the machine
# off.
#
# Usage: systemd.sh BASE_TAR DEB [APT_CACHE]   (as root, on the host)
# Prints "ok N - ..." / "not ok N - ..." and "systemd: P passed, F failed".
# The root is deleted at the end, also on failure.
set -u
base=$1 deb=$2 cache=${3:-}
passed=0 failed=0 n=0
result() { # ok|fail description
    n=$((n + 1))
    if [ "$1" = ok ]; then
        passed=$((passed + 1))
        echo "ok $n - $2"
    else
        failed=$((failed + 1))
        echo "not ok $n - $2"
    fi
}
finish() {
    echo "systemd: $passed passed, $failed failed"
    [ "$failed" -eq 0 ]
    exit $?
}
[ "$(id -u)" = 0 ] || { result fail "needs root"; finish; }
[ -s "$deb" ] || { result fail "the package $deb exists"; finish; }
if ! command -v systemd-nspawn >/dev/null 2>&1; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        systemd-container >/dev/null 2>&1
fi
command -v systemd-nspawn >/dev/null 2>&1 || { result fail "systemd-nspawn is installed"; finish; }

root=$(mktemp -d /var/tmp/gtmd-systemd.XXXXXX) || { result fail "mktemp"; finish; }
trap 'rm -rf "$root"' EXIT
trap 'exit 130' INT TERM
tar -C "$root" -xf "$base" || { result fail "unpack $base"; finish; }
cp /etc/resolv.conf "$root/etc/resolv.conf"
if ls /usr/local/share/ca-certificates/*.crt >/dev/null 2>&1; then
    mkdir -p "$root/usr/local/share/ca-certificates"
    cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/"
fi
cp "$deb" "$root/root/gtmd.deb"
bind=""
[ -n "$cache" ] && [ -d "$cache/archives" ] && bind="--bind=$cache/archives:/var/cache/apt/archives"
nspawn() { # systemd-nspawn with what every run here needs
    # shellcheck disable=SC2086
    systemd-nspawn -q -D "$root" --register=no --keep-unit $bind "$@"
}

# Installed like on any machine: apt, the package and what it depends on.
if nspawn /usr/bin/env DEBIAN_FRONTEND=noninteractive sh -c \
    'apt-get update -q && apt-get install -y -q --no-install-recommends /root/gtmd.deb bind9-dnsutils' \
    >"$root/root/install.out" 2>&1; then
    result ok "apt installs the package in a fresh root"
else
    tail -n 20 "$root/root/install.out" | sed 's/^/#   /'
    result fail "apt installs the package in a fresh root"
    finish
fi

# The checks, run by systemd inside once the machine is up.
cat >"$root/root/probe.sh" <<'EOF'
#!/bin/sh
out=/root/probe.out
say() { echo "$1 $2" >>"$out"; }
i=0
until [ "$(systemctl is-active gtmd.service)" = active ] || [ $i -ge 60 ]; do
    i=$((i + 1))
    sleep 0.5
done
[ "$(systemctl is-active gtmd.service)" = active ] && say ok "gtmd.service is active (Type=notify: READY=1)" ||
    say fail "gtmd.service is active (Type=notify: READY=1): $(systemctl is-active gtmd.service)"
systemctl is-enabled gtmd.service | grep -qx enabled && say ok "gtmd.service is enabled" ||
    say fail "gtmd.service is enabled"
pid=$(systemctl show -p MainPID --value gtmd.service)
[ "$(ps -o user= -p "$pid" 2>/dev/null)" = gtmd ] && say ok "it runs as the gtmd user" ||
    say fail "it runs as the gtmd user (pid $pid)"
grep -q '^CapEff:.*0000000000000400$' "/proc/$pid/status" && say ok "its one capability is CAP_NET_BIND_SERVICE" ||
    say fail "its one capability is CAP_NET_BIND_SERVICE ($(grep CapEff "/proc/$pid/status"))"
a=$(dig +time=2 +tries=2 +short @127.0.0.1 www.example.test A)
[ "$a" = 192.0.2.80 ] && say ok "it answers www.example.test A on 127.0.0.1:53" ||
    say fail "it answers www.example.test A on 127.0.0.1:53 (got '$a')"
/usr/sbin/gtmctl --server unix:/run/gtmd/admin.sock status >/root/status.out 2>&1 &&
    say ok "gtmctl status answers on /run/gtmd/admin.sock" ||
    say fail "gtmctl status answers on /run/gtmd/admin.sock: $(tail -n 2 /root/status.out)"
systemctl reload gtmd.service && sleep 1 &&
    [ "$(systemctl is-active gtmd.service)" = active ] &&
    journalctl -u gtmd.service --no-pager | grep -q 'event=reload result=ok' &&
    say ok "systemctl reload reloads it (RELOADING=1, then READY=1)" ||
    say fail "systemctl reload reloads it: $(journalctl -u gtmd.service --no-pager | tail -n 3)"
[ "$(systemctl show -p NRestarts --value gtmd.service)" = 0 ] && say ok "it never restarted" ||
    say fail "it never restarted (NRestarts $(systemctl show -p NRestarts --value gtmd.service))"
systemctl stop gtmd.service
journalctl -u gtmd.service --no-pager | grep -q 'event=stop' && say ok "systemctl stop stops it cleanly (event=stop)" ||
    say fail "systemctl stop stops it cleanly: $(journalctl -u gtmd.service --no-pager | tail -n 3)"
journalctl -u gtmd.service --no-pager >/root/journal.out 2>&1
echo done >>"$out"
systemctl poweroff
EOF
chmod 755 "$root/root/probe.sh"
cat >"$root/etc/systemd/system/gtmd-ci-probe.service" <<'EOF'
[Unit]
Description=checks of the installed gtmd package
Wants=gtmd.service
After=gtmd.service multi-user.target
[Service]
Type=oneshot
ExecStart=/root/probe.sh
[Install]
WantedBy=multi-user.target
EOF
mkdir -p "$root/etc/systemd/system/multi-user.target.wants"
ln -sf /etc/systemd/system/gtmd-ci-probe.service \
    "$root/etc/systemd/system/multi-user.target.wants/gtmd-ci-probe.service"

timeout 180 systemd-nspawn -q -D "$root" --register=no --keep-unit --private-network -b \
    --console=pipe >"$root/root/boot.out" 2>&1
if grep -qx done "$root/root/probe.out" 2>/dev/null; then
    result ok "the root booted with systemd as PID 1 and ran the checks"
else
    tail -n 30 "$root/root/boot.out" | sed 's/^/#   /'
    result fail "the root booted with systemd as PID 1 and ran the checks"
fi
while read -r verdict what; do
    [ "$verdict" = done ] && continue
    result "$verdict" "$what"
done <"$root/root/probe.out" 2>/dev/null
if [ "$failed" -gt 0 ] && [ -s "$root/root/journal.out" ]; then
    tail -n 20 "$root/root/journal.out" | sed 's/^/#   /'
fi
finish
