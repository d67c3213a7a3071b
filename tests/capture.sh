#!/bin/sh
# Stacks captured again without unwinding (preload/capture.c): each one a
# thread's remembered chain answers, checked against a full unw_backtrace()
# at the same point, through random call trees (tests/fixtures/capture.c:
# recursion, VLAs and alloca(), -O0 frames, a shared library, longjmp(),
# signal handlers that allocate, threads).  Prints TAP.
. "${top_srcdir:=.}/tests/fixture-env.sh"

capturelib=$(cd "$fx/.libs" && pwd)/capturelib.so

# run ROUNDS THREADS: the fixture's counts in $captures $hits $bad $refused
run() {
	"$fx/capture" "$capturelib" "$1" "$2" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	set -- $(cat "$tmp/out")
	captures=${2:-0} hits=${4:-0} bad=${6:--1} refused=${8:-0}
}

run 20000 3
ok "threads: every remembered stack is the full unwind's ($hits of $captures captures remembered, $bad different)" \
    $(test "$bad" -eq 0 && test "$rc" -eq 0; echo $?)
ok "threads: remembered stacks answered captures, and were refused where a slot differed ($refused)" \
    $(test "$hits" -gt 0 && test "$refused" -gt 0; echo $?)
run 60000 1
ok "one thread: every remembered stack is the full unwind's ($hits of $captures captures remembered, $bad different)" \
    $(test "$bad" -eq 0 && test "$rc" -eq 0; echo $?)
ok "one thread: a tenth of the captures or more are remembered" \
    $(test "$hits" -gt $((captures / 10)); echo $?)
echo "1..$n"
exit $fail
