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

ok "show --json: every frame with ip, object, object_offset, build_id; hold_block's file:line; the C library's start-up frames kept" \
    $(get backtrace 0 file | grep -q 'holder\.c"$' &&
      get backtrace 0 line | grep -q '^[1-9][0-9]*$' &&
      get backtrace 0 object_offset | grep -q '^"0x[0-9a-f]*"$' &&
      get backtrace 0 build_id | grep -q '^"[0-9a-f]\{40\}"$' &&
      grep -q '"function": *"__libc_start_call_main"' "$tmp/out" &&
      grep -q '"function": *"_start"' "$tmp/out"; echo $?)

"$ctl" -p "$pid" show "$id" >"$tmp/out" 2>&1
ok "show: the backtrace in text, hold_block+0xOFF (holder.c:LINE) first, the start-up frames folded" \
    $(grep -q '^ *#0  *hold_block+0x[0-9a-f]* (.*holder\.c:[1-9][0-9]*)$' \
      "$tmp/out" && ! grep -Eq '__libc_start|[^a-z_]_start' "$tmp/out"
      echo $?)

"$ctl" -p "$pid" list --by-site >"$tmp/out" 2>&1
ok "list --by-site: the site's file:line in the table" \
    $(grep -q 'hold_block+0x[0-9a-f]* (.*holder\.c:[1-9][0-9]*)' "$tmp/out"
      echo $?)

# The names show learned are written for the next process while this one
# runs (within a second or so), not only at its exit
holder_id=$(readelf -n "$fx/holder" | sed -n 's/.*Build ID: //p')
holder_file() { ls "$dir" | grep "^symbols-$holder_id-[0-9a-f]*$"; }
i=0
while [ -z "$(holder_file)" ] && [ $i -lt 60 ]; do
	sleep 0.05
	i=$((i + 1))
done
ok "the names of the holder's frames are in its cache file while it runs (after $((i * 50)) ms), mode 0600" \
    $(kill -0 "$pid" && test -n "$(holder_file)" &&
      test "$(stat -c %a "$dir/$(holder_file)")" = 600; echo $?)

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

cp "$tmp/err" "$tmp/show.err"
"$ctl" -p "$pid" renew "$id" 1m >/dev/null 2>"$tmp/renew.err"
"$ctl" -p "$pid" expire "$id" >/dev/null 2>"$tmp/err"
ok "renew and expire of an ended lease say what show says: no such lease" \
    $(grep -q "^memleasectl: process $pid: ESTALE: lease $id: no such lease" \
	"$tmp/show.err" && cmp -s "$tmp/show.err" "$tmp/renew.err" &&
      cmp -s "$tmp/show.err" "$tmp/err"; echo $?)

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
start '' 5 30
dead=$pid
kill -9 "$dead"
wait "$dead" 2>/dev/null
pid=$second
sh -c 'exit 0' &
gone=$!
wait $gone
: >"$dir/$gone.sock"
"$ctl" ps >"$tmp/out" 2>&1
ok "ps lists both processes and removes the socket of a dead one" \
    $(grep -q "^ *$first " "$tmp/out" && grep -q "^ *$second " "$tmp/out" &&
      test ! -e "$dir/$dead.sock"; echo $?)
ok "ps leaves a file named like a dead process's socket alone" \
    $(test -f "$dir/$gone.sock"; echo $?)
rm -f "$dir/$gone.sock"

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

# --- MEMLEASE_LOG_MAX: reports beyond it counted, not written -----------------
rm -f "$tmp/log"
export MEMLEASE_LOG_MAX=1
start 'caller=hold_block ttl=50ms' 200 30
unset MEMLEASE_LOG_MAX
sleep 0.5
json stats
ok "MEMLEASE_LOG_MAX=1: one report written, then one line saying so; the other $(get reports_dropped) counted in stats' reports_dropped" \
    $(test "$(get expired)" -ge 200 &&
      test "$(get reports_dropped)" = $(($(get expired) - 1)) &&
      test "$(grep -c 'expired:' "$tmp/log")" = 1 &&
      test "$(grep -c 'the log reached MEMLEASE_LOG_MAX=1:' "$tmp/log")" = 1
      echo $?)
"$ctl" export >"$tmp/out" 2>&1
ok "export: memlease_reports_dropped_total" \
    $(grep -q "^memlease_reports_dropped_total{pid=\"$pid\"[^}]*} [1-9][0-9]*$" "$tmp/out"
      echo $?)
kill "$pid" 2>/dev/null

# --- where memleasectl finds nothing: what it says ---------------------------
sleep 60 &
plain=$!
pids="$pids $plain"
"$ctl" -p "$plain" stats >/dev/null 2>"$tmp/err"
rc=$?
ok "-p of a process started without the preload: most likely not started with LD_PRELOAD=libmemlease.so, said first; exit 1" \
    $(test "$rc" -eq 1 &&
      grep -q "^memleasectl: process $plain does not have memlease loaded: most likely it was not started with LD_PRELOAD=libmemlease.so" \
	"$tmp/err"; echo $?)

"$ctl" -S /etc/passwd stats >/dev/null 2>"$tmp/err"
rc=$?
ok "-S of a file: not a socket, exit 1" \
    $(test "$rc" -eq 1 &&
      grep -q '^memleasectl: /etc/passwd: not a socket' "$tmp/err"; echo $?)

mkdir -m 700 "$tmp/empty"
MEMLEASE_SOCKET_DIR=$tmp/empty "$ctl" ps >"$tmp/out" 2>"$tmp/err"
rc=$?
ok "ps with no process: names the socket folder it looked in" \
    $(test "$rc" -eq 0 && test ! -s "$tmp/out" &&
      grep -qx "memleasectl: no process has a memlease control socket in $tmp/empty" \
	"$tmp/err"; echo $?)

# another user's process: a client of nobody's at root's and at daemon's
# processes; root's at daemon's
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null &&
    id daemon >/dev/null 2>&1 && id nobody >/dev/null 2>&1; then
	as() {
		u=$1; shift
		setpriv --reuid="$u" --regid="$(id -g "$u")" --clear-groups "$@"
	}
	chmod 711 "$tmp"        # for daemon's socket folder; root's stays 0700
	start 'caller=hold_block ttl=1h' 3 60
	as nobody "$ctl" -p "$pid" stats >/dev/null 2>"$tmp/err"
	rc=$?
	ok "memleasectl as nobody, -p of a process of root's: only root may look" \
	    $(test "$rc" -eq 1 &&
	      grep -qx "memleasectl: process $pid belongs to user root: only root may look at it" \
		"$tmp/err"; echo $?)
	as nobody "$ctl" -S "$dir/$pid.sock" stats >/dev/null 2>"$tmp/err"
	ok "memleasectl as nobody, -S of root's socket: only root may look" \
	    $(grep -qx "memleasectl: $dir/$pid.sock belongs to user root: only root may look at it" \
		"$tmp/err"; echo $?)

	root_dir=$dir
	dir=$tmp/daemon
	mkdir -m 700 "$dir"
	chown daemon "$dir"
	runner="setpriv --reuid=daemon --regid=$(id -g daemon) --clear-groups"
	start 'caller=hold_block ttl=1h' 3 60
	runner=
	as nobody env MEMLEASE_SOCKET_DIR="$tmp/empty" "$ctl" -p "$pid" stats \
	    >/dev/null 2>"$tmp/err"
	ok "memleasectl as nobody, -p of a process of daemon's: only daemon or root may look" \
	    $(grep -qx "memleasectl: process $pid belongs to user daemon: only daemon or root may look at it" \
		"$tmp/err"; echo $?)
	MEMLEASE_SOCKET_DIR=$root_dir "$ctl" -p "$pid" stats >/dev/null \
	    2>"$tmp/err"
	ok "root, -p of a process of daemon's in root's folder: its socket is in daemon's folder" \
	    $(grep -q "^memleasectl: process $pid has memlease loaded but no control socket at $root_dir/$pid.sock: .*it belongs to user daemon" \
		"$tmp/err"; echo $?)
	MEMLEASE_SOCKET_DIR=$dir "$ctl" -p "$pid" --json stats >"$tmp/out" \
	    2>"$tmp/err"
	ok "root, -p of a process of daemon's with daemon's folder: root may look" \
	    $(test "$(get pid)" = "$pid"; echo $?)
	dir=$root_dir
fi

# --- a daemon's socket --------------------------------------------------------
# A program that goes to the background and then sleeps without allocating:
# with MEMLEASE_SOCKET=on the process that stays answers within a second.
for how in double setsid daemon; do
	rm -f "$tmp/bg"
	MEMLEASE_SOCKET=on MEMLEASE_LOG=$tmp/log LD_PRELOAD=$lib \
	    "$fx/background" "$how" "$tmp/bg" 3 2>>"$tmp/err"
	i=0
	while [ ! -s "$tmp/bg" ] && [ $i -lt 40 ]; do sleep 0.05; i=$((i + 1)); done
	bg=$(cat "$tmp/bg" 2>/dev/null)
	pids="$pids $bg"
	t0=$(date +%s%N)
	i=0
	until "$ctl" -p "${bg:-0}" --json stats >"$tmp/out" 2>/dev/null ||
	    [ $i -ge 20 ]; do
		sleep 0.05
		i=$((i + 1))
	done
	ms=$((($(date +%s%N) - t0) / 1000000))
	ok "a daemon ($how) that sleeps without allocating answers stats within a second ($ms ms)" \
	    $(test -n "$bg" && test "$(get pid)" = "$bg" && test "$ms" -lt 1000
	      echo $?)
	kill "$bg" 2>/dev/null
done

echo "1..$n"
exit $fail
