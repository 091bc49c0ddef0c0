#!/bin/sh
# The LOG_COMPILER of 'make check' (Makefile.am): runs one test. A C unit
# test (tests/unit/test_*) whose only failures are TAP "not ok" lines, with
# a clean exit status 1 and no sanitizer report, runs once more; when that
# second run passes, its TAP stream is what counts, each check that failed
# the first time marked "FLAKY: failed once, passed when the program ran
# again" (tests/run-all.sh lists them), and the first run's output is kept
# in the log as TAP comments.
#
# Why: some unit tests bound wall-clock times (a probe's timeout honoured
# within 100 ms, a timer on time). CI runs them in sanitizer builds beside
# three integration tests on two cores, where a thread can lose the CPU for
# hundreds of ms; one such miss used to fail a whole CI run. A test that
# is wrong fails both runs. Never run again: a crash or any other exit
# status, a sanitizer report (ASan, UBSan, TSan, LeakSanitizer: "runtime
# error" or "Sanitizer" in the output), and every other kind of test (the
# integration tests have their own, tests/integration/rerun.py).
case "$1" in
*tests/unit/test_*) ;;
*) exec "$@" ;;
esac
out=$(mktemp) || exit 99
err=$(mktemp) || exit 99
out2=$(mktemp) || exit 99
err2=$(mktemp) || exit 99
trap 'rm -f "$out" "$err" "$out2" "$err2"' EXIT
"$@" >"$out" 2>"$err"
rc=$?
dirty() { grep -qE 'Sanitizer|runtime error:' "$1" "$2"; }
if [ $rc -ne 1 ] || dirty "$out" "$err" || ! grep -q '^not ok ' "$out"; then
    cat "$out"
    cat "$err" >&2
    exit $rc
fi
"$@" >"$out2" 2>"$err2"
rc2=$?
if [ $rc2 -ne 0 ] || dirty "$out2" "$err2"; then
    # Failed again: both runs are shown, the second one's TAP counts.
    sed 's/^/# first run: /' "$out"
    cat "$err" >&2
    cat "$out2"
    cat "$err2" >&2
    exit $rc2
fi
sed 's/^/# first run: /' "$out"
cat "$err" >&2
# The numbers of the checks that failed the first time.
nums=$(sed -n 's/^not ok \([0-9][0-9]*\) .*/\1/p' "$out" | tr '\n' ' ')
awk -v nums="$nums" '
    BEGIN { n = split(nums, a, " "); for (i = 1; i <= n; i++) bad[a[i]] = 1 }
    /^ok [0-9]+ / && ($2 in bad) { print $0 " (FLAKY: failed once, passed when the program ran again)"; next }
    { print }
' "$out2"
cat "$err2" >&2
exit 0
