#!/bin/sh
# The preload with memlease's own allocations failing (MEMLEASE_FAULT, in a
# build configured with --enable-fault-injection), at several rates, in
# front of fixture programs of ours: the program's own allocations all
# succeed and its output is what it is without memlease; tagging falls
# back to untagged blocks; the control socket answers JSON (a result, or
# an error) and the program runs on.  Prints TAP.
. "${top_srcdir:=.}/tests/fixture-env.sh"

# every:N fails the library's start (its rules, its table) at once; with
# every:N:FIRST, allocations fail once it is tagging
rates='every:2 every:7 every:50 every:2:200 every:7:200 random:10:1
random:10:2 random:10:3'

# under RATE RULES PROGRAM ARGS: run it under the preload with faults
# (time limit 120 s); output in $tmp/out, $tmp/err, reports in $tmp/log;
# sets $rc
under() {
	rate=$1 rules=$2; shift 2
	rm -f "$tmp"/out "$tmp"/err "$tmp"/log
	timeout 120 env MEMLEASE_FAULT="$rate" MEMLEASE_RULES="$rules" \
	    MEMLEASE_LOG="$tmp/log" LD_PRELOAD="$lib" "$@" \
	    >"$tmp/out" 2>"$tmp/err"
	rc=$?
}

# A bad value is said, and nothing fails.
under 'every:0' 'ttl=1h' "$fx/family"
ok "MEMLEASE_FAULT=every:0 is refused with a diagnostic" \
    $(test "$rc" -eq 0 && grep -q 'MEMLEASE_FAULT=every:0: not' "$tmp/err"
      echo $?)

"$fx/family" >"$tmp/plain" 2>&1 || echo "Bail out! family fails alone"
want=$tmp/plain
dir=$tmp/sock
mkdir -m 700 "$dir"
for rate in $rates; do
	for rules in 'ttl=1h' 'ttl=1h action=reclaim' 'ttl=1ms'; do
		under "$rate" "$rules" MEMLEASE_REPORT_AT_EXIT=1 "$fx/family"
		ok "$rate, $rules: every function of the malloc family as without memlease" \
		    $(test "$rc" -eq 0 && cmp -s "$tmp/out" "$tmp/plain"
		      echo $?)
	done

	under "$rate" 'ttl=5ms' "$fx/churn" 2 20000 3
	ok "$rate: 2 threads, realloc, cross-thread frees, forks, leases expiring" \
	    $(test "$rc" -eq 0 && grep -q 'churn ok' "$tmp/out"; echo $?)

	# each block memlease freed (reclaimed) is one it reported, and its
	# late free is recognised; the others were never tagged, and are the
	# program's
	for action in free:freed:'this late free is ignored' \
	    reclaim:reclaimed:'reclaimed its block'; do
		what=${action%%:*} done=${action#*:}
		late=${done#*:} done=${done%%:*}
		under "$rate" "caller=make_log_buffer ttl=50ms action=$what" \
		    "$fx/leaky" 8
		ended=$(cat "$tmp/log" "$tmp/err" 2>/dev/null |
		    grep -c "expired: 65536 bytes.*$done")
		ok "$rate: action=$what: $ended of 8 blocks tagged, reported, $done, late frees recognised" \
		    $(test "$rc" -eq 0 && grep -q '^done$' "$tmp/out" &&
		      test "$ended" -le 8 &&
		      test "$(count "$late" "$tmp/err")" -eq "$ended"; echo $?)
	done

	# the control socket, if memlease could make it: every answer JSON
	rm -f "$tmp/ready" "$dir"/*.sock
	MEMLEASE_FAULT=$rate MEMLEASE_RULES='caller=hold_block ttl=1h' \
	    MEMLEASE_SOCKET=on MEMLEASE_SOCKET_DIR=$dir MEMLEASE_LOG=$tmp/log \
	    LD_PRELOAD=$lib "$fx/holder" 300 2 >"$tmp/ready" 2>"$tmp/err" &
	pid=$!
	i=0
	while ! grep -q ready "$tmp/ready" 2>/dev/null && [ $i -lt 100 ]; do
		sleep 0.05
		i=$((i + 1))
	done
	sock=$dir/$pid.sock
	answered=0 refused=0 bad=0
	if [ -S "$sock" ]; then
		for req in '{"id":1,"cmd":"hello"}' '{"id":2,"cmd":"stats"}' \
		    '{"id":3,"cmd":"list"}' '{"id":4,"cmd":"list","by_site":true}' \
		    '{"id":5,"cmd":"rules"}' '{"id":6,"cmd":"list","sort":"age","limit":5}' \
		    '{"id":7,"cmd":"stats"}' '{"id":8,"cmd":"hello"}'; do
			line=$("$fx/ctlclient" "$sock" ask "$req" 2>>"$tmp/cerr")
			case $line in
			*'"ok":true'*) answered=$((answered + 1)) ;;
			# out of memory (jansson's lexer may take a
			# buffer it could not grow for a bad token)
			*'"ok":false'*'"ENOMEM"'* | *'"ok":false'*'not JSON'*)
				refused=$((refused + 1)) ;;
			'') ;;          # closed for want of memory
			*) bad=$((bad + 1)); echo "$line" >>"$tmp/cerr" ;;
			esac
		done
	fi
	alive=$(kill -0 "$pid" 2>/dev/null && echo 0 || echo 1)
	wait "$pid"
	rc=$?
	ok "$rate: the socket answers JSON ($answered results, $refused errors), the holder runs on and exits 0" \
	    $(test "$alive" -eq 0 && test "$rc" -eq 0 && test "$bad" -eq 0
	      echo $?)
done

echo "1..$n"
exit $fail
