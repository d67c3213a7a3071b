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
	  "3 3000 wrap_alloc,keep_small" "1 500 keep_direct,main" \
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

echo "1..$n"
exit $fail
