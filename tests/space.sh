#!/bin/sh
# The address space memlease takes: under RLIMIT_AS, how much the space
# fixture can still map with the preload, against the same program without
# it, in each mode: the preload with no rules (no thread of memlease's);
# rules whose leases expire and are reported, then freed (action=free:
# memlease's thread frees blocks of the program's); leases of an hour with
# the control socket open, a listing served, a lease shown and a client
# still connected (memleasectl watch).  memlease(7) promises at most
# 16 MiB (SPACE_MAX_KIB).  Prints the figures, and TAP.
. "${top_srcdir:=.}/tests/fixture-env.sh"
. "$top_srcdir/tests/ctl-env.sh"

limit=512                       # MiB: RLIMIT_AS of every run
max=$((16 * 1024))              # KiB
echo "1..5"

# free KIB of the last run, from its "space free KIB vm KIB threads N"
field() { awk -v k="$1" '$1 == "space" && $2 == "free" {
    for (i = 2; i < NF; i += 2) if ($i == k) print $(i + 1) }' "$tmp/out"; }

# measure [ENV=VALUE...]: the fixture under the preload with ENV
measure() {
	env LD_PRELOAD="$lib" MEMLEASE_LOG="$tmp/log" "$@" "$fx/space" "$limit" \
	    >"$tmp/out" 2>"$tmp/err"
}

"$fx/space" "$limit" >"$tmp/out" 2>"$tmp/err"
plain=$(field free)
ok "without memlease: $plain KiB can be mapped under RLIMIT_AS of $limit MiB" \
    $(test -n "$plain" && test "$plain" -gt 0; echo $?)

# taken MODE: the figure of the last run against the plain one, printed;
# $small: whether it is at most $max
taken() {
	free=$(field free)
	took=$((plain - ${free:-0}))
	echo "# $1: $free KiB can be mapped, memlease takes $took KiB" \
	    "(VmSize $(field vm) KiB, $(field threads) threads)"
	small=$(test -n "$free" && test "$took" -le "$max"; echo $?)
}

measure MEMLEASE_RULES=
taken "no rules"
ok "the preload without rules takes at most $max KiB" "$small"

measure MEMLEASE_RULES='size=100 ttl=20ms'
taken "expiring leases"
ok "rules whose leases expire and are reported: at most $max KiB" \
    $(test "$small" = 0 && test "$(field threads)" = 2 &&
      grep -q 'lease' "$tmp/log"; echo $?)

measure MEMLEASE_RULES='size=100 ttl=20ms action=free'
taken "action=free"
ok "expired leases freed by memlease's thread: at most $max KiB" \
    $(test "$small" = 0 && test "$(field threads)" = 2; echo $?)

# the socket: a listing served, a lease shown, a client connected
fifo=$tmp/go
mkfifo "$fifo"
env LD_PRELOAD="$lib" MEMLEASE_LOG="$tmp/log" MEMLEASE_SOCKET=on \
    MEMLEASE_RULES='size=100 ttl=1h' "$fx/space" "$limit" --wait \
    <"$fifo" >"$tmp/out" 2>"$tmp/err" &
pid=$!
pids="$pids $pid"
exec 3>"$fifo"
i=0
while [ ! -S "$dir/$pid.sock" ] && [ $i -lt 100 ]; do
	sleep 0.05
	i=$((i + 1))
done
"$ctl" -p "$pid" watch >"$tmp/watch" 2>&1 &
pids="$pids $!"
"$ctl" -p "$pid" --json list >"$tmp/list" 2>>"$tmp/err"
id=$("$jf" leases 0 id <"$tmp/list" | tr -d '"')
"$ctl" -p "$pid" show "$id" >"$tmp/show" 2>>"$tmp/err"
listed=$("$jf" leases length <"$tmp/list")
echo go >&3
exec 3>&-
wait "$pid"
taken "socket"
ok "the socket open, $listed leases listed, one shown, a client connected: at most $max KiB" \
    $(test "$small" = 0 && test "$listed" = 50 && grep -q main "$tmp/show"; echo $?)
exit $fail
