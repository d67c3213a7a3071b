#!/bin/sh
# memlease's own code under valgrind memcheck, in front of fixture programs
# of ours: sanitizers cannot run beside the preload (their runtime takes
# malloc for itself), valgrind can, told to replace only the C library's
# allocator (the next allocator) and leave the shim's names alone.  Prints
# TAP.  Needs valgrind (Debian package valgrind).
. "${top_srcdir:=.}/tests/fixture-env.sh"

if ! command -v valgrind >/dev/null 2>&1; then
	echo "Bail out! valgrind is not installed (Debian package valgrind)"
	exit 1
fi

# memcheck RULES PROGRAM ARGS: run PROGRAM (a libtool wrapper
# or a program) under memcheck and the preload; sets $rc (99: memcheck
# found an error), output in $tmp/out, $tmp/err, reports in $tmp/log
memcheck() {
	rules=$1; shift
	rm -f "$tmp"/log
	MEMLEASE_RULES=$rules MEMLEASE_LOG=$tmp/log LD_PRELOAD=$lib \
	    timeout 600 "$top_builddir/libtool" --mode=execute \
	    valgrind -q --error-exitcode=99 \
	    --soname-synonyms=somalloc=nouserintercepts \
	    --suppressions="$top_srcdir/tests/valgrind.supp" \
	    "$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
}

# leases of 1 s, a pause of 4 s: valgrind runs one thread at a time, and on
# a loaded machine the program's may wait long for its turn (200 ms was
# seen to be too short: a buffer expired before it was written)
memcheck 'caller=make_log_buffer ttl=1s action=free' "$fx/leaky" 4 - 4000
ok "memcheck: action=free, expiries and late frees" \
    $(test "$rc" -eq 0 && test "$(count 'freed, allocated at' "$tmp/log")" -eq 4 &&
      test "$(count 'late free is ignored' "$tmp/err")" -eq 4; echo $?)

memcheck 'caller=make_log_buffer ttl=1s action=reclaim' "$fx/leaky" 4 - 4000
ok "memcheck: action=reclaim, expiries and late frees" \
    $(test "$rc" -eq 0 && test "$(count 'reclaimed, allocated at' "$tmp/log")" -eq 4
      echo $?)

export MEMLEASE_REPORT_AT_EXIT=each
memcheck 'ttl=1h' "$fx/family" --valgrind
unset MEMLEASE_REPORT_AT_EXIT
ok "memcheck: the malloc family tagged (but what valgrind refuses), reported at exit" \
    $(test "$rc" -eq 0 && test "$(count 'is live at exit' "$tmp/log")" -ge 8
      echo $?)

memcheck 'ttl=5ms' "$fx/churn" 2 20000 3
ok "memcheck: 2 threads, realloc, cross-thread frees, forks, leases expiring" \
    $(test "$rc" -eq 0 && grep -q 'churn ok' "$tmp/out"; echo $?)

memcheck '' "$fx/adopt"
ok "memcheck: memlease_adopt under the interposed allocator" \
    $(test "$rc" -eq 0 && grep -q 'adopt ok' "$tmp/out"; echo $?)

# A build configured with --enable-fault-injection: memlease's own
# allocations fail (MEMLEASE_FAULT), and what it gives up on leaks nothing
# (family leaves blocks at exit on purpose: no leak check there)
if [ "${fault_injection:-no}" = yes ]; then
	for rate in every:3:200 random:10:5; do
		export MEMLEASE_FAULT=$rate
		memcheck 'ttl=1h action=reclaim' "$fx/family" --valgrind
		ok "memcheck, MEMLEASE_FAULT=$rate: the malloc family under action=reclaim" \
		    $(test "$rc" -eq 0 && grep -q '^kept: ' "$tmp/out"; echo $?)
		memcheck 'ttl=5ms' --leak-check=full \
		    --errors-for-leak-kinds=definite "$fx/churn" 2 5000 0
		ok "memcheck, MEMLEASE_FAULT=$rate: 2 threads, realloc, leases expiring, no leak" \
		    $(test "$rc" -eq 0 && grep -q 'churn ok' "$tmp/out"; echo $?)
	done
	unset MEMLEASE_FAULT
fi

echo "1..$n"
exit $fail
