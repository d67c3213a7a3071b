#!/bin/sh
# Leases grouped by stack: the protocol's "list" by_stack (filters, depth,
# skip, limit), stack_id (the same in two processes of the same binaries,
# wherever ASLR put them), MEMLEASE_SKIP, the summary at exit
# (MEMLEASE_REPORT_AT_EXIT=1 and each) and the expiry reports grouped by
# stack under a flood.  tests/fixtures/stacks.c.  Prints TAP.
. "${top_srcdir:=.}/tests/fixture-env.sh"
. "$top_srcdir/tests/ctl-env.sh"

py=/usr/bin/python3
cc=$fx/ctlclient
holder=$fx/stacks

# go [ENV=VALUE...]: the fixture holding its blocks under the preload,
# its socket on ($runner: its environment); sets $pid and $sock
go() {
	runner=${1:+env $*}
	start 'size=500-4000 ttl=1h' hold 60
	sock=$dir/$pid.sock
}
stop() { kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; }
# shape FILE [FRAMES]: its lines without the stack_id, the first FRAMES
# functions of each stack
shape() {
	awk -v k="${2:-1}" '$1 == "total" { print; next }
	    { split($4, f, ","); s = f[1]
	      for (i = 2; i <= k && i in f; i++) s = s "," f[i]
	      print $1, $2, s }' "$1"
}

# stacks REQUEST: the result of a by_stack listing as lines
# "COUNT BYTES STACK_ID FUNCTION,FUNCTION,...", then "total COUNT BYTES"
stacks() {
	"$cc" "$sock" ask "$1" | $py -c '
import json, sys
r = json.load(sys.stdin)
if not r["ok"]:
    print("error", r["error"]["code"]); sys.exit(0)
r = r["result"]
for s in r["stacks"]:
    assert len(s["stack_id"]) == 16 and int(s["stack_id"], 16) >= 0
    assert s["oldest_ms"] >= 0
    print(s["count"], s["bytes"], s["stack_id"],
          ",".join(f["function"] for f in s["frames"]))
print("total", r["count"], r["bytes"])'
}

go
stacks '{"cmd":"list","by_stack":true}' >"$tmp/whole"
want=$tmp/whole
ok "by_stack: one group a whole stack, the most bytes first, with the totals" \
    $(test "$(shape "$tmp/whole" 2)" = "$(printf '%s\n' \
	  "2 8000 wrap_alloc,keep_large" \
	  "3 3000 wrap_alloc,keep_small" "1 500 keep_direct,all" \
	  "total 6 11500")"; echo $?)

stacks '{"cmd":"list","by_stack":true,"depth":1}' >"$tmp/d1"
want=$tmp/d1
ok "by_stack, depth 1: the stacks of one first frame are one group" \
    $(test "$(shape "$tmp/d1")" = "$(printf '%s\n' "5 11000 wrap_alloc" \
	  "1 500 keep_direct" "total 6 11500")"; echo $?)

stacks '{"cmd":"list","by_stack":true,"depth":1,"skip":["wrap_*","nothing"]}' \
    >"$tmp/skip"
want=$tmp/skip
ok "by_stack, skip: the wrapper is dropped from the top before grouping" \
    $(test "$(shape "$tmp/skip")" = "$(printf '%s\n' "2 8000 keep_large" \
	  "3 3000 keep_small" "1 500 keep_direct" "total 6 11500")"; echo $?)

ok "by_stack, skip matching every frame: the last frame is kept" \
    $(test "$(stacks '{"cmd":"list","by_stack":true,"skip":["*"]}' |
      awk '$1 != "total" { print $4 }' | sort -u)" = _start; echo $?)

ok "by_stack: limit bounds the stacks, not the totals; filters apply" \
    $(stacks '{"cmd":"list","by_stack":true,"limit":1}' >"$tmp/one"
      test "$(shape "$tmp/one" 1)" = "$(printf '%s\n' "2 8000 wrap_alloc" \
	  "total 6 11500")" &&
      test "$(stacks '{"cmd":"list","by_stack":true,"older_than_ms":3600000}')" = \
	  "total 0 0" &&
      test "$(stacks '{"cmd":"list","by_stack":true,"state":"pinned"}')" = \
	  "total 0 0"; echo $?)

ok "by_stack: sort is refused, a bad skip or depth is an error" \
    $(test "$(stacks '{"cmd":"list","by_stack":true,"sort":"size","limit":2}')" = \
	  "error EINVAL" &&
      test "$(stacks '{"cmd":"list","by_stack":true,"skip":"wrap_*"}')" = \
	  "error EINVAL" &&
      test "$(stacks '{"cmd":"list","by_stack":true,"skip":[1]}')" = \
	  "error EINVAL" &&
      test "$(stacks '{"cmd":"list","by_stack":true,"depth":-1}')" = \
	  "error EINVAL"; echo $?)

ok "stack_id names the frames grouped: whole, cut, skipped stacks differ" \
    $(test "$(cat "$tmp/whole" "$tmp/d1" "$tmp/skip" | awk '$1 != "total" {
	  print $3 }' | sort -u | wc -l)" -eq 7; echo $?)

# memleasectl list --by-stack: the same stacks, as a table and as JSON
"$ctl" -p "$pid" list --by-stack >"$tmp/out" 2>"$tmp/err"
rc=$?
want=$tmp/out
ok "memleasectl list --by-stack: count, bytes, oldest and stack_id, the frames below, the totals" \
    $(test "$rc" -eq 0 && ! test -s "$tmp/err" &&
      test "$(head -n 1 "$tmp/out" | tr -s ' ')" = "COUNT BYTES OLDEST STACK" &&
      test "$(awk 'NF == 4 && $4 ~ /^[0-9a-f]+$/ { print $1, $4 }' "$tmp/out")" = \
	  "$(awk '$1 != "total" { print $1, $3 }' "$tmp/whole")" &&
      test "$(grep -c '^    #0  wrap_alloc+0x[0-9a-f]* (.*stacks\.c:[0-9]*)$' \
	  "$tmp/out")" -eq 2 &&
      test "$(tail -n 1 "$tmp/out")" = "in all: 6 leases, 11KiB"; echo $?)
"$ctl" -p "$pid" --json list --by-stack --depth 1 --skip 'nothing,wrap_*' \
    >"$tmp/out" 2>"$tmp/err"
ok "memleasectl --json list --by-stack --depth 1 --skip GLOBS: the protocol's result" \
    $($py -c '
import json, sys
r = json.load(open(sys.argv[1]))
got = [(s["count"], s["bytes"], s["stack_id"], [f["function"] for f in
       s["frames"]]) for s in r["stacks"]]
want = [l.split() for l in open(sys.argv[2]) if not l.startswith("total")]
sys.exit(not (r["count"] == 6 and r["bytes"] == 11500 and
    [(str(c), str(b), i, ",".join(f)) for c, b, i, f in got] ==
    [tuple(w) for w in want]))' "$tmp/out" "$tmp/skip"; echo $?)
id=$("$cc" "$sock" ask '{"cmd":"list","limit":1}' | $py -c '
import json, sys
l = json.load(sys.stdin)["result"]["leases"][0]
print(l["id"], l["stack_id"])')
"$ctl" -p "$pid" show "${id% *}" >"$tmp/out" 2>"$tmp/err"
ok "memleasectl show: the lease's stack_id, that of its stack in the listing" \
    $(grep -qx "stack       ${id#* }" "$tmp/out" &&
      awk '$1 != "total" { print $3 }' "$tmp/whole" | grep -qx "${id#* }"
      echo $?)
"$ctl" -p "$pid" list --depth 2 >"$tmp/out" 2>"$tmp/err"
ok "memleasectl list --depth without --by-stack: a usage error" \
    $(test $? -eq 2 && grep -q 'goes with --by-stack' "$tmp/err"; echo $?)

ips() { "$cc" "$sock" ask '{"cmd":"list","by_stack":true}' |
    sed 's/"ip":"\(0x[0-9a-f]*\)"/\n\1\n/g' | grep '^0x' | sort -u; }
ips >"$tmp/ips1"
stop
go
stacks '{"cmd":"list","by_stack":true}' >"$tmp/whole2"
ips >"$tmp/ips2"
want=$tmp/whole2
ok "stack_id is the same in another process of the same binaries, elsewhere in memory" \
    $(cmp -s "$tmp/whole" "$tmp/whole2" && ! cmp -s "$tmp/ips1" "$tmp/ips2"
      echo $?)
stop

# --- MEMLEASE_SKIP ------------------------------------------------------
go MEMLEASE_SKIP='nothing,wrap_*'
stacks '{"cmd":"list","by_stack":true}' >"$tmp/envskip"
stop
want=$tmp/envskip
ok "MEMLEASE_SKIP drops the wrapper before grouping, as a request's skip does" \
    $(test "$(shape "$tmp/envskip")" = "$(shape "$tmp/skip")" &&
      test "$(awk '{ print $3 }' "$tmp/envskip")" != \
	  "$(awk '{ print $3 }' "$tmp/whole")"; echo $?)

# --- the summary at exit -------------------------------------------------
# atexit [ENV=VALUE...]: the fixture keeps its blocks and exits, its
# live leases reported at exit to $tmp/log
atexit() {
	rm -f "$tmp/log"
	env MEMLEASE_RULES='size=500-4000 ttl=1h' MEMLEASE_LOG="$tmp/log" \
	    LD_PRELOAD="$lib" "$@" "$fx/stacks" exit >"$tmp/out" 2>"$tmp/err"
	rc=$?
}
# heads: the lines that start a group, without the pid and stack_id
heads() { sed -n 's/^memlease\[[0-9]*\]: \([0-9]* leases* live at exit, [0-9]* bytes\).*/\1/p' "$tmp/log"; }

atexit MEMLEASE_REPORT_AT_EXIT=1
want=$tmp/log
ok "MEMLEASE_REPORT_AT_EXIT=1: live leases grouped by stack, largest first, each stack once" \
    $(test "$rc" -eq 0 && test "$(heads)" = "$(printf '%s\n' \
	  "2 leases live at exit, 8000 bytes" \
	  "3 leases live at exit, 3000 bytes" "1 lease live at exit, 500 bytes")" &&
      test "$(count ']:   #0 ' "$tmp/log")" -eq 3 &&
      test "$(count 'keep_small' "$tmp/log")" -eq 1 &&
      test "$(count 'is live at exit' "$tmp/log")" -eq 0; echo $?)
ok "MEMLEASE_REPORT_AT_EXIT=1: the last line is the summary" \
    $(test "$(tail -n 1 "$tmp/log")" = \
	  "memlease: SUMMARY: 11500 bytes in 6 leases live at exit, from 3 stacks"
      echo $?)
ok "MEMLEASE_REPORT_AT_EXIT=1: the groups' stack_ids are the listing's" \
    $(test "$(sed -n 's/.*allocated at (stack \([0-9a-f]*\)):$/\1/p' "$tmp/log")" = \
	  "$(awk '$1 != "total" { print $3 }' "$tmp/whole")"; echo $?)

# the executable elsewhere: the same build-id, the same stacks
mkdir "$tmp/elsewhere"
cp "$fx/stacks" "$tmp/elsewhere/"
fx_saved=$fx fx=$tmp/elsewhere
atexit MEMLEASE_REPORT_AT_EXIT=1 MEMLEASE_LOG_FORMAT=json
fx=$fx_saved
ok "stack_id is of the objects' build-ids, not their paths: a copy of the program gives the same" \
    $(grep -q "\"object\":\"$tmp/elsewhere/stacks\"" "$tmp/log" &&
      test "$(sed -n 's/.*"event":"live_at_exit_stack".*"stack_id":"\([0-9a-f]*\)".*/\1/p' "$tmp/log")" = \
	  "$(awk '$1 != "total" { print $3 }' "$tmp/whole")"; echo $?)

atexit MEMLEASE_REPORT_AT_EXIT=yes MEMLEASE_SKIP=wrap_alloc
ok "MEMLEASE_REPORT_AT_EXIT=yes is 1; MEMLEASE_SKIP applies to its groups" \
    $(test "$(heads | wc -l)" -eq 3 &&
      test "$(sed -n 's/.*]:   #0  \([a-z_]*\)+.*/\1/p' "$tmp/log" |
	  paste -sd' ')" = "keep_large keep_small keep_direct" &&
      grep -q '^memlease: SUMMARY: 11500 bytes in 6 leases live at exit, from 3 stacks$' \
	  "$tmp/log"; echo $?)

atexit MEMLEASE_REPORT_AT_EXIT=each
ok "MEMLEASE_REPORT_AT_EXIT=each: one report a lease, no summary" \
    $(test "$(count 'is live at exit' "$tmp/log")" -eq 6 &&
      test "$(count 'SUMMARY' "$tmp/log")" -eq 0 &&
      test "$(heads | wc -l)" -eq 0; echo $?)

atexit MEMLEASE_REPORT_AT_EXIT=sometimes
ok "MEMLEASE_REPORT_AT_EXIT=sometimes: said once, and nothing at exit" \
    $(grep -q 'MEMLEASE_REPORT_AT_EXIT=sometimes: not 1 .* or each; using 0' \
	  "$tmp/err" && ! test -s "$tmp/log"; echo $?)

atexit MEMLEASE_REPORT_AT_EXIT=1 MEMLEASE_LOG_FORMAT=json
ok "MEMLEASE_REPORT_AT_EXIT=1, JSON log: an event a stack, then the totals" \
    $($py -c '
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
groups = [(e["count"], e["bytes"], e["stack_id"]) for e in ev[:-1]
          if e["event"] == "live_at_exit_stack" and e["backtrace"]]
last = ev[-1]
sys.exit(not (len(groups) == 3 == len(ev) - 1 and
    [g[:2] for g in groups] == [(2, 8000), (3, 3000), (1, 500)] and
    [g[2] for g in groups] == sys.argv[2].split() and
    last["event"] == "live_at_exit_summary" and last["bytes"] == 11500 and
    last["leases"] == 6 and last["stacks"] == 3))' "$tmp/log" \
	"$(awk '$1 != "total" { print $3 }' "$tmp/whole" | paste -sd' ')"
      echo $?)

# --- expiries in a flood ---------------------------------------------------
# flood FORMAT: 40 rounds of the three sites, 240 leases expiring at once
flood() {
	rm -f "$tmp/log"
	env MEMLEASE_RULES='size=500-4000 ttl=100ms' MEMLEASE_LOG="$tmp/log" \
	    MEMLEASE_LOG_FORMAT="$1" LD_PRELOAD="$lib" "$fx/stacks" flood 40 400 \
	    >"$tmp/out" 2>"$tmp/err"
	rc=$?
}
# accounted: reports written in full, in a line, and counted as not written
accounted() {
	full=$(count 'expired: .* allocated at (stack [0-9a-f]*):$' "$tmp/log")
	lines=$(count 'expired: .* allocated at stack [0-9a-f]*$' "$tmp/log")
	hidden=$(sed -n 's/^memlease\[[0-9]*\]: \([0-9]*\) expiry reports* (.* not written.*/\1/p' \
	    "$tmp/log" | awk '{ n += $1 } END { print n + 0 }')
	summed=$(sed -n 's/^memlease: SUMMARY: [0-9]* bytes in \([0-9]*\) leases* expired, .*/\1/p' \
	    "$tmp/log" | awk '{ n += $1 } END { print n + 0 }')
}
flood text
accounted
want=$tmp/log
ok "a flood of 240 expiries of 3 stacks: each stack in full once, then lines ($full, $lines, $hidden not written)" \
    $(test "$rc" -eq 0 && test "$full" -eq 3 && test "$lines" -ge 16 &&
      test "$lines" -le 32 && test "$((full + lines + hidden))" -eq 240 &&
      test "$(count ']:   #0 ' "$tmp/log")" -eq 3; echo $?)
ok "a flood: the summary at exit counts every expiry, by stack" \
    $(test "$summed" -eq 240 &&
      grep -q '^memlease: SUMMARY: 460000 bytes in 240 leases expired, from 3 stacks$' \
	  "$tmp/log" &&
      test "$(grep -c ']:   [0-9]* leases, [0-9]* bytes, stack [0-9a-f]*, at ' "$tmp/log")" -eq 3
      echo $?)
sed -n 's/.*allocated at (stack \([0-9a-f]*\)):$/\1/p' "$tmp/log" | sort >"$tmp/ids"
rm -f "$tmp/log"
env MEMLEASE_RULES='size=500 ttl=100ms' MEMLEASE_LOG="$tmp/log" \
    LD_PRELOAD="$lib" "$fx/stacks" flood 1 400 >"$tmp/out" 2>"$tmp/err"
ok "expiries each reported in full: no summary at exit" \
    $(test "$(count 'expired: 500 bytes' "$tmp/log")" -eq 1 &&
      test "$(count SUMMARY "$tmp/log")" -eq 0; echo $?)
flood json
ok "a flood, JSON log: every expiry in full, with the stack_id of the text's" \
    $($py -c '
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
ids = sorted(set(e["stack_id"] for e in ev))
sys.exit(not (len(ev) == 240 and all(e["event"] == "expired" and
    e["backtrace"] for e in ev) and ids == sys.argv[2].split()))' \
	"$tmp/log" "$(paste -sd' ' "$tmp/ids")"; echo $?)

# The case of the issue: a Python web server's start-up under ttl=200ms
# (thousands of expiries from hundreds of stacks).  Stopped with SIGINT a
# second after it says it serves, so that it exits as it should (and
# memlease writes its summary): a command run in the background of a
# script starts with SIGINT ignored, and Python keeps it so; the module is
# run with SIGINT's handler put back (Python's, KeyboardInterrupt).
server() {
	rm -f "$tmp/log" "$tmp/out"
	env PYTHONHASHSEED=0 MEMLEASE_RULES='ttl=200ms' MEMLEASE_LOG="$tmp/log" \
	    MEMLEASE_LOG_FORMAT="$1" LD_PRELOAD="$lib" $py -u -c '
import runpy, signal
signal.signal(signal.SIGINT, signal.default_int_handler)
runpy.run_module("http.server", run_name="__main__", alter_sys=True)' \
	    0 --bind 127.0.0.1 >"$tmp/out" 2>"$tmp/err" &
	spid=$!
	pids="$pids $spid"
	i=0
	while ! grep -q '^Serving HTTP' "$tmp/out" && [ $i -lt 600 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	sleep 1
	kill -INT "$spid"
	i=0
	while kill -0 "$spid" 2>/dev/null && [ $i -lt 300 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	kill "$spid" 2>/dev/null    # it should have ended: the test fails
	wait "$spid"
}
server text
accounted
cp "$tmp/log" "$tmp/server.txt"
server json
events=$(count '^{"event":"expired",.*"stack_id":"[0-9a-f]\{16\}"' "$tmp/log")
want=$tmp/server.txt
ok "python3 -m http.server: $(wc -l <"$tmp/server.txt") lines of text log for $summed expiries, every one counted ($full + $lines + $hidden)" \
    $(test "$(wc -l <"$tmp/server.txt")" -le 500 && test "$summed" -ge 1000 &&
      test "$((full + lines + hidden))" -eq "$summed"; echo $?)
ok "python3 -m http.server: the JSON log has every event in full ($events; the text counted $summed)" \
    $(test "$events" -eq "$(wc -l <"$tmp/log")" &&
      test "$events" -ge $((summed * 95 / 100)) &&
      test "$events" -le $((summed * 105 / 100)); echo $?)

echo "1..$n"
exit $fail
