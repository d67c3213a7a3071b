#!/bin/sh
# memleasectl against live processes of ours under the preload: its --json
# output parsed with jansson (the jfield fixture) and checked field by
# field, its tables, watch, rules set at run time, ps and stale sockets,
# exit statuses.  Prints TAP.
. "${top_srcdir:=.}/tests/fixture-env.sh"
. "$top_srcdir/tests/ctl-env.sh"

json() { "$ctl" -p "$pid" --json "$@" >"$tmp/out" 2>"$tmp/err"; rc=$?; }
get() { "$jf" "$@" <"$tmp/out"; }

start 'caller=hold_block ttl=1h label=boot' 1500 30
json stats
ok "stats --json: the fields scripts rely on" \
    $(test "$rc" -eq 0 && test "$(get pid)" = "$pid" &&
      test "$(get live_leases)" -ge 1500 && test "$(get tagged)" -ge 1500 &&
      test "$(get released)" = 0 && test "$(get expired)" = 0 &&
      test "$(get reclaimed)" = 0 && test "$(get live_bytes)" -gt 0
      echo $?)

json list
ok "list --json: every lease, all pages, each with id, size, age_ms, expires_in_ms, label, state" \
    $(test "$rc" -eq 0 && test "$(get leases length)" -ge 1500 &&
      get leases 0 id | grep -q '^"0x[0-9a-f]*"$' &&
      test "$(get leases 0 size)" = 100 &&
      test "$(get leases 0 label)" = '"boot"' &&
      test "$(get leases 0 state)" = '"live"' &&
      test "$(get leases 0 expires_in_ms)" -gt 3500000 &&
      test "$(get leases 0 age_ms)" -ge 0; echo $?)

all=$(get leases length)
json list --limit 1200
ok "list --json --limit 1200: a page and a part of the next, in table order" \
    $(test "$rc" -eq 0 && test "$(get leases length)" = 1200 &&
      test "$(get leases 1199 size)" -ge 100 &&
      "$ctl" -p "$pid" --json list --limit "$all" | "$jf" leases length |
      grep -qx "$all"; echo $?)

json list --sort size --limit 3
id=$(get leases 0 id | tr -d '"')
ok "list --sort size --limit 3: the three biggest, biggest first" \
    $(test "$(get leases length)" = 3 &&
      test "$(get leases 0 size)" -ge "$(get leases 1 size)" &&
      test "$(get leases 0 size)" = 1599; echo $?)

json show "$id"
ok "show --json: the lease and its backtrace of function, offset, object" \
    $(test "$rc" -eq 0 && test "$(get id)" = "\"$id\"" &&
      test "$(get backtrace 0 function)" = '"hold_block"' &&
      get backtrace 0 object | grep -q 'fixtures/.*holder"$' &&
      get backtrace 0 offset | grep -q '^[0-9][0-9]*$'; echo $?)

"$ctl" -p "$pid" list --older-than 1h >"$tmp/out" 2>&1
rc=$?
ok "list --older-than 1h: none that old" \
    $(test "$rc" -eq 0 && test "$(grep -c '^0x' "$tmp/out")" -eq 0; echo $?)

"$ctl" -p "$pid" list --limit 3 >"$tmp/out" 2>&1
ok "list: an aligned table with a header" \
    $(sed -n 1p "$tmp/out" | grep -q '^ID  *SIZE  *AGE  *EXPIRES  *STATE' &&
      test "$(grep -c '^0x' "$tmp/out")" -eq 3; echo $?)

"$ctl" -p "$pid" renew "$id" 10s >/dev/null 2>&1 &&
json show "$id"
ok "renew ID 10s: the lease now expires within 10 s" \
    $(test "$(get expires_in_ms)" -le 10000; echo $?)

"$ctl" -p "$pid" expire "$id" >/dev/null 2>&1
json show "$id"
ok "expire ID, then show: the lease is gone, exit status 1, a message" \
    $(test "$rc" -eq 1 && grep -q '^memleasectl: ' "$tmp/err" &&
      grep -q "lease $id .*expired" "$tmp/log"; echo $?)

"$ctl" -p "$pid" frobnicate >/dev/null 2>&1
unknown=$?
"$ctl" -p "$pid" list --sort sideways >/dev/null 2>&1
badarg=$?
ok "usage errors exit 2 (an unknown command, a bad option value)" \
    $(test "$unknown" -eq 2 && test "$badarg" -eq 2; echo $?)

# --- ps, and more than one process -------------------------------------------
first=$pid
start '' 5 30 --every 777
second=$pid
sh -c 'exit 0' &
dead=$!
wait $dead
: >"$dir/$dead.sock"
"$ctl" ps >"$tmp/out" 2>&1
ok "ps lists both processes and removes the socket of a dead one" \
    $(grep -q "^ *$first " "$tmp/out" && grep -q "^ *$second " "$tmp/out" &&
      test ! -e "$dir/$dead.sock"; echo $?)

"$ctl" stats >/dev/null 2>"$tmp/err"
rc=$?
ok "without -p, two candidates: an error naming them, exit 1" \
    $(test "$rc" -eq 1 && grep -q "$first" "$tmp/err" &&
      grep -q "$second" "$tmp/err"; echo $?)

# --- rules at run time, watch --------------------------------------------------
pid=$second
json stats
before=$(get tagged)
"$ctl" -p "$pid" watch >"$tmp/watch" 2>&1 &
watch=$!
sleep 0.3
"$ctl" -p "$pid" rules set 'size=777 ttl=100ms label=late' >/dev/null
sleep 0.8
kill "$watch"
wait "$watch" 2>/dev/null
json stats
ok "rules set on a running process starts tagging (tagged $before, then expiries)" \
    $(test "$before" = 0 && test "$(get expired)" -gt 0; echo $?)
ok "watch sees the expiries" \
    $(grep -q 'late' "$tmp/watch" && grep -q '777' "$tmp/watch"; echo $?)

json rules
ok "rules --json: the rules in force, as text" \
    $(get rules | grep -q 'size=777'; echo $?)

"$ctl" export >"$tmp/out" 2>&1
ok "export: counters of every process in the text exposition format" \
    $(grep -q "^memlease_live_leases{pid=\"$second\"" "$tmp/out" &&
      grep -q '^# TYPE memlease_expired_total counter' "$tmp/out"; echo $?)

for p in $pids; do kill "$p" 2>/dev/null; done
"$ctl" -p $$ stats >/dev/null 2>"$tmp/err"
rc=$?
ok "-p of a process without memlease: says so, exit 1" \
    $(test "$rc" -eq 1 && grep -q 'does not have memlease loaded' "$tmp/err"
      echo $?)

echo "1..$n"
exit $fail
