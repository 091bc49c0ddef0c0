#!/bin/sh
# Command 1 of README.md: install dependencies, build, and start gtmd on the
# demo config in zones/ (UDP and TCP on 127.0.0.1:5353).
set -e
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
sh contrib/deps.sh
[ -x configure ] || autoreconf -fi
mkdir -p build
cd build
[ -f Makefile ] || ../configure --enable-werror
make -j"$(nproc)"
cd "$top"
mkdir -p run
if [ -f run/gtmd.pid ] && kill -0 "$(cat run/gtmd.pid)" 2>/dev/null; then
    kill "$(cat run/gtmd.pid)"
    sleep 0.5
fi
# Two demo web backends for the failover record app.example.com: one per
# region, on 127.0.0.11 and 127.0.0.12 port 8080 (see zones/gtmd.json).
for b in 11 12; do
    if [ -f run/backend$b.pid ] && kill -0 "$(cat run/backend$b.pid)" 2>/dev/null; then
        kill "$(cat run/backend$b.pid)"
    fi
    mkdir -p run/www$b && echo "backend 127.0.0.$b" > run/www$b/index.html
    nohup /usr/bin/python3 -m http.server --bind 127.0.0.$b --directory run/www$b 8080 \
        >run/backend$b.log 2>&1 &
    echo $! > run/backend$b.pid
done
build/gtmd check -c zones/gtmd.json
nohup build/gtmd -c zones/gtmd.json >run/gtmd.log 2>&1 &
echo $! > run/gtmd.pid
i=0
while [ $i -lt 50 ] && ! dig +time=1 +tries=1 @127.0.0.1 -p 5353 www.example.com >/dev/null 2>&1; do
    sleep 0.1
    i=$((i + 1))
done
echo "gtmd is running (pid $(cat run/gtmd.pid), log run/gtmd.log). Try:"
echo "  dig @127.0.0.1 -p 5353 www.example.com"
echo "  dig @127.0.0.1 -p 5353 app.example.com        # failover record (us-east first)"
echo "  kill \$(cat run/backend11.pid); sleep 2; dig @127.0.0.1 -p 5353 +short app.example.com"
echo "  dig @127.0.0.1 -p 5353 +subnet=127.0.1.0/24 geo.example.com   # geo record: a Berlin client -> eu-west (127.0.0.12)"
echo "  dig @127.0.0.1 -p 5353 +subnet=127.0.0.0/24 geo.example.com   # a San Francisco client -> us-east (127.0.0.11)"
echo "  dig @127.0.0.1 -p 5353 +subnet=127.0.5.0/24 near.example.com  # nearest: Johannesburg -> eu-west"
echo "  build/gtmctl explain geo.example.com --ecs 127.0.1.0/24         # where the client is, which key matched"
echo "  build/gtmctl status                            # admin API on 127.0.0.1:8053"
