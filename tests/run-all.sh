#!/bin/sh
# Command 2 of README.md (and what .ci/run runs): the whole test suite.
#  1. installs missing dependencies (apt), builds with -Werror and runs
#     'make check': C unit tests, integration tests against the real daemon,
#     fuzz-corpus replay; then runs contrib/bench/soak.py for 60 s against
#     that build (counted as one test, whatever the suite said);
#  2. builds again with ASan+UBSan and runs the same suite;
#  3. builds a third time with ThreadSanitizer (build-tsan/) and runs the C
#     unit tests, the corpus replays and the integration tests marked
#     "threads"; any TSan report fails the run (tests/tsan.supp holds the
#     suppressions, each with its reason);
#  4. prints how many integration tests failed once and passed when run
#     again alone (tests/integration/rerun.py; each is listed in its
#     stage), then one summary line: "tests: N passed, M failed, K
#     skipped" (all three runs).
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
sh contrib/deps.sh test || exit 1
[ -x configure ] || autoreconf -fi || exit 1

# What a build directory must be configured for: the flags, and whether
# the optional AF_XDP toolchain is there now (command 1 configures build/
# before command 2 installs libxdp-dev, libbpf-dev and clang: without this
# the -Werror suite would test a build without the XDP listener). A build
# directory configured anew is cleaned: HAVE_XDP comes in the compiler's
# flags, which make does not track, so objects built before would keep
# the old answer (gtmd check said "built without AF_XDP" of an XDP build).
build_wants() { # configure-flags...
    if pkg-config --exists libxdp libbpf 2>/dev/null && command -v clang >/dev/null 2>&1; then
        echo "$* xdp-toolchain=yes"
    else
        echo "$* xdp-toolchain=no"
    fi
}

run_suite() { # dir configure-flags...
    dir=$1
    shift
    mkdir -p "$dir"
    want=$(build_wants "$@")
    (cd "$dir" && { { [ -f Makefile ] && [ "$(cat run-all.stamp 2>/dev/null)" = "$want" ]; } ||
        { ../configure "$@" >configure.out 2>&1 && echo "$want" >run-all.stamp &&
            { [ ! -f gtmd ] || make clean >/dev/null 2>&1; }; } || {
        cat configure.out; exit 1; }; } &&
        make -j"$(nproc)" >make.out 2>&1 || { cat make.out; exit 1; }
     make -j2 check >check.out 2>&1
     status=$?
     grep -E '^(FAIL|ERROR|XPASS):' check.out
     # Tests that failed once and passed when run again alone
     # (tests/integration/rerun.py): listed, never hidden.
     grep -E '^PASS: .*FLAKY' check.out
     grep -E '^# (TOTAL|PASS|SKIP|FAIL|ERROR)' check.out
     [ $status -eq 0 ] || { for f in $(grep -lE '^(FAIL|ERROR)' $(find . -name '*.log' -path '*tests*')); do
         echo "---- $f"; tail -n 60 "$f"; done; }
     exit $status)
}

count() { # dir field
    v=$(grep -E "^# $2: " "$1/check.out" 2>/dev/null | awk '{print $3}')
    echo "${v:-0}"
}

# Each stage says how long it took (README.md: how long each command takes).
stage_t0=$(date +%s)
took() { echo "== $1 took $(($(date +%s) - stage_t0)) s"; stage_t0=$(date +%s); }
echo "== build and test (-Werror)"
run_suite build --enable-werror
s1=$?
took "build and test (-Werror)"
# The soak (contrib/bench/soak.py) for 60 s against the -Werror build:
# everything at once (load, reloads, flapping backends, override churn,
# SIGKILLs), every answer checked. Bounded: killed after 240 s. The load
# is capped at 10,000 qps here (the machine is shared with the suites
# above); the long runs use half of the measured capacity.
# It runs whatever the suite above said (a failed test must not hide the
# soak); only without a binary to soak does it count as failed, saying so.
soak=0
echo "== soak (60 s, -Werror build)"
if [ -x build/gtmd ]; then
    timeout -k 10 240 /usr/bin/python3 contrib/bench/soak.py --gtmd build/gtmd --duration 60 \
        --max-qps 10000 --report build/soak.json >build/soak.out 2>&1
    soak=$?
    sed -n '/^soak: /,$p' build/soak.out | head -n 40
    [ $soak -eq 0 ] || tail -n 30 build/soak.out
else
    echo "soak: not run: build/gtmd was not built (see the build output above); counted as failed"
    soak=1
fi
took "soak"
echo "== build and test (ASan+UBSan)"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
    run_suite build-asan --enable-werror --enable-sanitizers
s2=$?
took "build and test (ASan+UBSan)"
echo "== build and test (ThreadSanitizer)"
run_suite build-tsan --enable-werror --enable-tsan
s3=$?
took "build and test (ThreadSanitizer)"
passed=0 failed=0 skipped=0
for d in build build-asan build-tsan; do
    passed=$((passed + $(count $d PASS)))
    failed=$((failed + $(count $d FAIL) + $(count $d ERROR)))
    skipped=$((skipped + $(count $d SKIP)))
done
if [ $soak -eq 0 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
if [ $s1 -ne 0 ] || [ $s2 -ne 0 ] || [ $s3 -ne 0 ] || [ $soak -ne 0 ]; then
    [ $failed -eq 0 ] && failed=1
fi
flaky=$(cat build/check.out build-asan/check.out build-tsan/check.out 2>/dev/null | grep -c '^PASS: .*FLAKY')
echo "flaky (failed once, passed when run again alone; counted as passed, listed above): $flaky"
echo "tests: $passed passed, $failed failed, $skipped skipped"
[ $failed -eq 0 ]
