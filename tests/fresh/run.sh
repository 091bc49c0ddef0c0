#!/bin/sh
# Proves README.md's two commands on a fresh Debian 12 root, as a newcomer
# would run them, and is what .ci/run runs:
#  1. a Debian 12 base system made with debootstrap (only what debootstrap
#     installs by default: nothing of gtmd's build or test dependencies);
#     the pristine base is cached as a tarball (GTM_FRESH_CACHE, default
#     /var/cache/gtmd-ci) and made anew when it is over 7 days old, and the
#     .deb files apt downloads inside it are cached beside it, so later runs
#     skip the downloads but still install everything themselves;
#  2. this tree (git archive HEAD, or the working tree's files outside git)
#     copied to /root/gtmd in it, /root being mode 0700 as on a real machine,
#     with the previous release's source (tests/data/previous-release.tar,
#     from git history) for the rolling-upgrade test;
#  3. inside it (chroot, in a private mount namespace, so every mount ends
#     with it): command 1, `sh contrib/setup.sh`, then
#     every command it printed, checked by tests/fresh/demo_lines.py, then
#     command 2, `sh tests/run-all.sh`, then the Debian package test
#     (tests/packaging/deb.sh: build, lintian, install, start, purge);
#     every process left inside is killed;
#  3b. the package booted under systemd in a second fresh root
#     (tests/packaging/systemd.sh, systemd-nspawn from the host);
#  4. one summary line: the suite's counts plus the printed commands and
#     the package checks.
# Needs root, debootstrap (installed on the host if missing) and unshare.
# The root is deleted at the end, also on failure. GTM_FRESH_KEEP=1 keeps it.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
cache=${GTM_FRESH_CACHE:-/var/cache/gtmd-ci}
mirror=${GTM_FRESH_MIRROR:-http://deb.debian.org/debian}
base=$cache/bookworm-base.tar
say() { echo "fresh: $*"; }
fail() {
    say "$*"
    echo "tests: 0 passed, 1 failed, 0 skipped"
    exit 1
}

[ "$(id -u)" = 0 ] || fail "needs root (debootstrap, chroot, mounts)"
command -v unshare >/dev/null 2>&1 || fail "needs unshare (util-linux)"
if ! command -v debootstrap >/dev/null 2>&1; then
    say "installing debootstrap on the host"
    DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null &&
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
            debootstrap >/dev/null || fail "cannot install debootstrap"
fi
mkdir -p "$cache/archives/partial" || fail "cannot make $cache"

if [ ! -s "$base" ] || [ -n "$(find "$base" -mtime +7 2>/dev/null)" ]; then
    say "debootstrap bookworm from $mirror (cached in $base)"
    tmp=$(mktemp -d /var/tmp/gtmd-debootstrap.XXXXXX) || fail "mktemp"
    if debootstrap bookworm "$tmp/root" "$mirror" >"$tmp/debootstrap.log" 2>&1 &&
        tar -C "$tmp/root" -cf "$base.new" . && mv "$base.new" "$base"; then
        rm -rf "$tmp"
    else
        tail -n 30 "$tmp/debootstrap.log"
        rm -rf "$tmp" "$base.new"
        fail "debootstrap failed"
    fi
fi

root=$(mktemp -d /var/tmp/gtmd-fresh.XXXXXX) || fail "mktemp"
cleanup() {
    if [ "${GTM_FRESH_KEEP:-0}" = 1 ]; then
        say "kept $root"
    else
        rm -rf "$root"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
tar -C "$root" -xf "$base" || fail "cannot unpack $base"
# What a machine on this network has that debootstrap does not make: a
# resolver, and the site's own TLS trust anchors (a network that intercepts
# TLS, as this CI's does, installs its CA on every machine; the Debian
# package ca-certificates, which command 1 installs, adds them to the
# system store). Nothing of gtmd's is carried over.
cp /etc/resolv.conf "$root/etc/resolv.conf"
if ls /usr/local/share/ca-certificates/*.crt >/dev/null 2>&1; then
    mkdir -p "$root/usr/local/share/ca-certificates"
    cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/"
fi
mkdir -p "$root/root/gtmd" && chmod 700 "$root/root"
if git -C "$top" rev-parse --git-dir >/dev/null 2>&1; then
    git -C "$top" archive --format=tar HEAD | tar -C "$root/root/gtmd" -xf - ||
        fail "cannot copy the tree"
else
    (cd "$top" && tar --exclude='./build*' --exclude=./run -cf - .) |
        tar -C "$root/root/gtmd" -xf - || fail "cannot copy the tree"
fi
# The previous release's source, for the rolling-upgrade test
# (tests/integration/test_fleet_upgrade.py builds it): the root's tree has
# no git history, so its commit (tests/data/previous-release) is archived
# from the host's.
prev=$(sed -n '/^[0-9a-f]\{40\}$/p' "$top/tests/data/previous-release")
if git -C "$top" cat-file -e "$prev^{commit}" 2>/dev/null; then
    git -C "$top" archive --format=tar "$prev" >"$root/root/gtmd/tests/data/previous-release.tar" ||
        fail "cannot archive the previous release ($prev)"
else
    say "no git history holding the previous release ($prev): its upgrade test will skip"
fi
say "base $(du -sh "$root" | cut -f1), tree at /root/gtmd"

# The script that runs inside the root, as root at /root/gtmd.
cat >"$root/root/fresh-inside.sh" <<'EOF'
cd /root/gtmd || exit 1
echo "fresh: command 1: sh contrib/setup.sh"
t0=$(date +%s)
sh contrib/setup.sh >/root/setup.out 2>&1
s1=$?
tail -n 25 /root/setup.out
echo "fresh: command 1 took $(($(date +%s) - t0)) s (README.md says how long each command takes)"
if [ $s1 -ne 0 ]; then
    echo "fresh: command 1 failed (exit $s1)"
    echo "demo: 0 passed, 1 failed" >/root/demo.out
else
    echo "fresh: every line command 1 printed"
    /usr/bin/python3 tests/fresh/demo_lines.py /root/setup.out >/root/demo.out 2>&1
    cat /root/demo.out
fi
# The demo's processes leave before the suite (it uses other ports, but a
# fresh machine's suite should not share it with the demo).
for f in run/gtmd.pid run/backend11.pid run/backend12.pid; do
    [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null
done
echo "fresh: command 2: sh tests/run-all.sh"
t0=$(date +%s)
GTM_DEPS_STRICT=1 sh tests/run-all.sh
echo "fresh: command 2 took $(($(date +%s) - t0)) s"
# The Debian package, built, installed, started and purged: harmless in a
# throwaway root, so it runs here rather than in command 2.
echo "fresh: the Debian package: sh tests/packaging/deb.sh"
sh tests/packaging/deb.sh >/root/deb.out 2>&1
cat /root/deb.out
EOF

# A private mount namespace: the mounts end with the run. (No pid namespace:
# its first process would have to reap every orphan the tests leave, and a
# zombie still answers kill -0; leftovers are killed by their root below.)
unshare --mount --propagation private sh -c '
    r=$1 cache=$2
    # The root a mount point of its own: "ip netns exec" (the partition
    # tests) makes / a slave mount, which fails on a plain directory.
    mount --bind "$r" "$r" &&
    mount --rbind /dev "$r/dev" &&
    mount -t proc proc "$r/proc" &&
    mount -t sysfs sysfs "$r/sys" &&
    mount -t tmpfs tmpfs "$r/run" &&
    mount -t tmpfs -o mode=1777 tmpfs "$r/dev/shm" &&
    mount --bind "$cache/archives" "$r/var/cache/apt/archives" || exit 97
    exec chroot "$r" /usr/bin/env -i HOME=/root TERM=dumb LANG=C.UTF-8 CI="${CI:-}" \
        PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        /bin/sh /root/fresh-inside.sh
' fresh "$root" "$cache" 2>&1 | tee "$root/root/fresh.out"
# Whatever still runs inside the root (a daemon a test left behind) ends now:
# a process is inside when its root directory is the fresh root.
for pid_dir in /proc/[0-9]*; do
    [ "$(readlink "$pid_dir/root" 2>/dev/null)" = "$root" ] && kill -9 "${pid_dir#/proc/}" 2>/dev/null
done

# The package under systemd, booted in a fresh root of its own with
# systemd-nspawn (from the host: a chroot cannot run systemd as PID 1).
say "the Debian package under systemd: sh tests/packaging/systemd.sh"
sh "$root/root/gtmd/tests/packaging/systemd.sh" "$base" "$root/root/gtmd-package.deb" "$cache" \
    >"$root/root/systemd.out" 2>&1
cat "$root/root/systemd.out"

summary=$(grep -E '^tests: [0-9]+ passed, [0-9]+ failed' "$root/root/fresh.out" | tail -n 1)
demo=$(grep -E '^demo: [0-9]+ passed, [0-9]+ failed' "$root/root/demo.out" 2>/dev/null | tail -n 1)
deb=$(grep -E '^deb: [0-9]+ passed, [0-9]+ failed' "$root/root/deb.out" 2>/dev/null | tail -n 1)
sysd=$(grep -E '^systemd: [0-9]+ passed, [0-9]+ failed' "$root/root/systemd.out" 2>/dev/null | tail -n 1)
[ -n "$summary" ] || summary="tests: 0 passed, 1 failed, 0 skipped"
[ -n "$demo" ] || demo="demo: 0 passed, 1 failed"
[ -n "$deb" ] || deb="deb: 0 passed, 1 failed"
[ -n "$sysd" ] || sysd="systemd: 0 passed, 1 failed"
p=$(echo "$summary" | awk '{print $2}')
f=$(echo "$summary" | awk '{print $4}')
k=$(echo "$summary" | sed -n 's/.*, \([0-9]*\) skipped.*/\1/p')
dp=$(echo "$demo" | awk '{print $2}')
df=$(echo "$demo" | awk '{print $4}')
bp=$(echo "$deb" | awk '{print $2}')
bf=$(echo "$deb" | awk '{print $4}')
sp=$(echo "$sysd" | awk '{print $2}')
sf=$(echo "$sysd" | awk '{print $4}')
p=$((p + dp + bp + sp))
f=$((f + df + bf + sf))
say "command 1 printed lines: $demo; command 2: $summary; package: $deb; under systemd: $sysd"
echo "tests: $p passed, $f failed, ${k:-0} skipped"
[ "$f" -eq 0 ]
