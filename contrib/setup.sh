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
