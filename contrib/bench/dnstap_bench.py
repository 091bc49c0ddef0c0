#!/usr/bin/python3
"""dnstap_bench.py -- answers per CPU-second of gtmd with dnstap on and off.

The same gtmd binary twice, served the benchmark zone by bench.py in the
same interleaved rounds: server "gtmd" with a "dnstap" section (every
query and response logged, or --sample N), server "gtmd-base" without.
Each run offers a fixed load with dnsperf (-Q, default 100,000 QPS, UDP
and TCP); a server's efficiency is the answers it gave per second of CPU
it used (its writer thread included). Prints, per mode, each round's
ratio on/off, their median and their spread (min-max), and how many
messages the reader got.

  --sink file     (the default) dnstap to a file (/dev/null by default,
                  --file): what gtmd itself spends, with no reader
                  process on the two cores;
  --sink socket   to fstrm_capture on a unix socket (pinned to core 1
                  with dnsperf, writing to --file): the whole path; its CPU
                  shows as "other" in bench.py's lines.

Needs what bench.py needs (root, dnsperf, CPUs 0 and 1) and, for --sink
socket, fstrm_capture (fstrm-bin). See contrib/bench/README.md.
"""
import argparse
import glob
import json
import os
import signal
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.abspath(os.path.join(HERE, "..", ".."))


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gtmd", default=os.path.join(TOP, "build", "gtmd"))
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds (3)")
    ap.add_argument("--rate", type=int, default=100000, help="offered QPS (100000)")
    ap.add_argument("--rate-duration", type=int, default=5, help="seconds per run (5)")
    ap.add_argument("--modes", default="rate-udp,rate-tcp")
    ap.add_argument("--sample", type=int, default=1, help="dnstap sample: 1 in N (1: all)")
    ap.add_argument("--sink", choices=("file", "socket"), default="file")
    ap.add_argument("--file", default="/dev/null", help="where the log goes (/dev/null)")
    ap.add_argument("--workdir", default="/tmp/gtmbench-dnstap")
    ap.add_argument("--port", type=int, default=15320)
    a = ap.parse_args()
    os.makedirs(a.workdir, exist_ok=True)
    section = {"sample": a.sample}
    cap = None
    if a.sink == "socket":
        sock = os.path.join(a.workdir, "dnstap.sock")
        if os.path.exists(sock):
            os.unlink(sock)
        cap = subprocess.Popen(["taskset", "-c", "1", "fstrm_capture", "-t",
                                "protobuf:dnstap.Dnstap", "-u", sock, "-w", a.file],
                               stdout=subprocess.DEVNULL, stderr=open(
                                   os.path.join(a.workdir, "capture.log"), "w"),
                               start_new_session=True)
        deadline = time.monotonic() + 5
        while not os.path.exists(sock) and time.monotonic() < deadline:
            time.sleep(0.05)
        section["socket"] = sock
    else:
        section["file"] = a.file
    before = set(glob.glob(os.path.join(a.workdir, "results-*.json")))
    argv = ["/usr/bin/python3", os.path.join(HERE, "bench.py"), "--servers", "gtmd,gtmd-base",
            "--gtmd", a.gtmd, "--gtmd-base", a.gtmd, "--gtmd-config",
            json.dumps({"dnstap": section}), "--modes", a.modes, "--rate", str(a.rate),
            "--rate-duration", str(a.rate_duration), "--rounds", str(a.rounds), "--big", "0",
            "--workdir", a.workdir, "--port", str(a.port)]
    try:
        rc = subprocess.run(argv, stdout=subprocess.DEVNULL).returncode
    finally:
        if cap:
            os.killpg(cap.pid, signal.SIGINT)
            cap.wait(timeout=30)
    if rc != 0:
        sys.exit("dnstap_bench: bench.py failed (%d)" % rc)
    new = sorted(set(glob.glob(os.path.join(a.workdir, "results-*.json"))) - before)
    if not new:
        sys.exit("dnstap_bench: no results from bench.py")
    res = json.load(open(new[-1]))
    print("dnstap on (%s, sample 1 in %d) vs off, %d rounds, offered %d QPS, %d s per run" % (
        a.sink, a.sample, a.rounds, a.rate, a.rate_duration))
    for mode in a.modes.split(","):
        on, off = res.get("gtmd/" + mode, []), res.get("gtmd-base/" + mode, [])
        eff = [(r["qps"] / r["cpu"] if r["cpu"] else 0.0) for r in on]
        eff0 = [(r["qps"] / r["cpu"] if r["cpu"] else 0.0) for r in off]
        ratios = [x / y for x, y in zip(eff, eff0) if y]
        if not ratios:
            print("%-9s no runs" % mode)
            continue
        print("%-9s on %s answers/CPU-s, off %s; ratio per round %s: median %.3f, spread "
              "%.3f-%.3f; qps on %s off %s" % (
                  mode, " ".join("%.0f" % x for x in eff), " ".join("%.0f" % x for x in eff0),
                  " ".join("%.3f" % x for x in ratios), statistics.median(ratios),
                  min(ratios), max(ratios), " ".join("%.0f" % r["qps"] for r in on),
                  " ".join("%.0f" % r["qps"] for r in off)))
    if cap:
        log = open(os.path.join(a.workdir, "capture.log")).read().strip().splitlines()
        print("reader: " + (log[-1] if log else "(no output)"))
    print("bench.py results: %s" % new[-1])


if __name__ == "__main__":
    main()
