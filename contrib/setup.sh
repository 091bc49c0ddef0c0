#!/bin/sh
# Command 1 of README.md: install dependencies, build, and start gtmd on the
# demo config in zones/ (UDP and TCP on 127.0.0.1:5353). Installs only what
# the demo needs (contrib/deps.sh demo); the test command installs the rest.
set -e
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
sh contrib/deps.sh demo
[ -x configure ] || autoreconf -fi
mkdir -p build
cd build
[ -f Makefile ] || ../configure --enable-werror
make -j"$(nproc)"
cd "$top"
mkdir -p run
# The admin API's tokens (zones/gtmd.json reads them from run/, which git
# ignores): a TCP listener needs both, and gtmd refuses token files that
# group or others can read. Made once; later runs keep them.
for t in read operate; do
    if [ ! -s run/$t.token ]; then
        (umask 077 && od -An -N24 -tx1 /dev/urandom | tr -d ' \n' > run/$t.token &&
            echo >> run/$t.token)
    fi
    chmod 600 run/$t.token
done
printf 'export GTMCTL_SERVER=http://127.0.0.1:8053 GTMCTL_TOKEN_FILE=%s/run/operate.token\n' \
    "$top" > run/gtmctl.env
if [ -f run/gtmd.pid ] && kill -0 "$(cat run/gtmd.pid)" 2>/dev/null; then
    kill "$(cat run/gtmd.pid)"
    sleep 0.5
fi
# Two demo web backends for the failover record app.example.com: one per
# region, on 127.0.0.11 and 127.0.0.12 port 8080 (see zones/gtmd.json).
# They start first, and gtmd only once both answer: otherwise the first
# probe round finds them down and app.example.com fails open for a moment.
for b in 11 12; do
    if [ -f run/backend$b.pid ] && kill -0 "$(cat run/backend$b.pid)" 2>/dev/null; then
        kill "$(cat run/backend$b.pid)"
        sleep 0.2
    fi
    mkdir -p run/www$b && echo "backend 127.0.0.$b" > run/www$b/index.html
    nohup /usr/bin/python3 -m http.server --bind 127.0.0.$b --directory run/www$b 8080 \
        >run/backend$b.log 2>&1 &
    echo $! > run/backend$b.pid
done
for b in 11 12; do
    i=0
    until curl -sf -o /dev/null --max-time 1 http://127.0.0.$b:8080/; do
        i=$((i + 1))
        if [ $i -ge 100 ]; then
            echo "setup: demo backend 127.0.0.$b:8080 did not start (run/backend$b.log):" >&2
            cat run/backend$b.log >&2
            exit 1
        fi
        sleep 0.1
    done
done
build/gtmd check -c zones/gtmd.json
nohup build/gtmd -c zones/gtmd.json >run/gtmd.log 2>&1 &
echo $! > run/gtmd.pid
i=0
until dig +time=1 +tries=1 @127.0.0.1 -p 5353 www.example.com >/dev/null 2>&1; do
    i=$((i + 1))
    if [ $i -ge 50 ] || ! kill -0 "$(cat run/gtmd.pid)" 2>/dev/null; then
        echo "setup: gtmd did not start answering; run/gtmd.log says:" >&2
        tail -n 20 run/gtmd.log >&2
        exit 1
    fi
    sleep 0.1
done
# Every line printed below with two leading spaces is a command a newcomer
# may paste, in order, from the top of this tree; tests/fresh/demo_lines.py
# runs them all on a fresh machine and checks each against its comment (an
# address in parentheses must be in the answer). Keep them true.
echo "gtmd is running (pid $(cat run/gtmd.pid), log run/gtmd.log). Try:"
echo "  dig @127.0.0.1 -p 5353 www.example.com                        # a static name (192.0.2.80)"
echo "  dig @127.0.0.1 -p 5353 +short app.example.com                 # failover record: us-east first (127.0.0.11)"
echo "  dig @127.0.0.1 -p 5353 +subnet=127.0.1.0/24 geo.example.com   # geo record: a Berlin client -> eu-west (127.0.0.12)"
echo "  dig @127.0.0.1 -p 5353 +subnet=127.0.0.0/24 geo.example.com   # a San Francisco client -> us-east (127.0.0.11)"
echo "  dig @127.0.0.1 -p 5353 +subnet=127.0.5.0/24 near.example.com  # nearest: Johannesburg -> eu-west (127.0.0.12)"
echo "The admin API listens on 127.0.0.1:8053 with the tokens in run/read.token and"
echo "run/operate.token (mode 0600). Point gtmctl at the operate token, then use it:"
echo "  . run/gtmctl.env                                              # sets GTMCTL_SERVER and GTMCTL_TOKEN_FILE"
echo "  build/gtmctl status"
echo "  build/gtmctl explain geo.example.com --ecs 127.0.1.0/24       # where the client is, which key matched"
echo "  build/gtmctl drain us-east --reason test --dry-run            # what would move; nothing changes"
echo "  curl -s -H \"Authorization: Bearer \$(cat run/read.token)\" http://127.0.0.1:8053/metrics | grep '^gtmd_region_up'"
echo "Fail a region for real: stop its backend, and within about 3 s answers move:"
echo "  kill \$(cat run/backend11.pid); sleep 3; dig @127.0.0.1 -p 5353 +short app.example.com   # now eu-west (127.0.0.12)"
echo "  sh contrib/setup.sh                                           # starts everything again"
