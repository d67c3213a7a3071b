#!/bin/sh
# The control socket of a running process (a fixture of ours under the
# preload), driven by a raw client that also misbehaves on purpose: the
# folder and permission rules, the protocol's commands, paging, rules set
# at run time, watch, bad and hostile clients, fork and exit.  Prints TAP.
. "${top_srcdir:=.}/tests/fixture-env.sh"

dir=$tmp/sock
mkdir -m 700 "$dir"
cc=$fx/ctlclient
ctl=$top_builddir/cli/memleasectl
pids=
trap 'for p in $pids; do kill "$p" 2>/dev/null; done; rm -rf "$tmp"' EXIT

# start RULES ARGS...: a holder under the preload, its socket on; sets
# $pid and $sock once the holder is ready and its socket is there
start() {
	rules=$1; shift
	: >"$tmp/ready"
	MEMLEASE_RULES=$rules MEMLEASE_SOCKET=on MEMLEASE_SOCKET_DIR=$dir \
	    MEMLEASE_LOG=$tmp/log LD_PRELOAD=$lib \
	    "$fx/holder" "$@" >"$tmp/ready" 2>"$tmp/err" &
	pids="$pids $!"
	pid=$!
	sock=$dir/$pid.sock
	i=0
	while { [ ! -S "$sock" ] || ! grep -q ready "$tmp/ready"; } &&
	    [ $i -lt 100 ]; do
		sleep 0.05
		i=$((i + 1))
	done
}
field() { "$cc" "$sock" ask "$1" "$2"; }
alive() { kill -0 "$pid" 2>/dev/null; }

start 'caller=hold_block ttl=1h' 2500 30
ok "the socket is PID.sock, mode 0600, in a folder of mode 0700" \
    $(test -S "$sock" && test "$(stat -c %a "$sock")" = 600 &&
      test "$(stat -c %a "$dir")" = 700; echo $?)

ok "hello gives the protocol, the pid and the program" \
    $(test "$(field '{"id":1,"cmd":"hello","proto":1}' result.proto)" = 1 &&
      test "$(field '{"id":1,"cmd":"hello"}' result.pid)" = "$pid" &&
      field '{"cmd":"hello"}' result.program | grep -q holder; echo $?)

live=$(field '{"cmd":"stats"}' result.tagged)
ok "stats counts the tagged blocks ($live)" \
    $(test "$live" -ge 2500 &&
      test "$(field '{"cmd":"stats"}' result.pid)" = "$pid"; echo $?)

ok "list comes in pages of at most 1000, every lease once" \
    $("$cc" "$sock" pages '{"cmd":"list","older_than_ms":0}' |
      awk '{ exit !($1 >= 2500 && $3 >= 3) }'; echo $?)

id=$(field '{"cmd":"list","sort":"size","limit":1}' 'result.leases' |
    sed 's/.*"id":"\([^"]*\)".*/\1/')
ok "show gives a lease's backtrace, hold_block first" \
    $(field "{\"cmd\":\"show\",\"lease\":\"$id\"}" result.backtrace |
      grep -q '^\[{[^}]*"function":"hold_block"'; echo $?)

sites=$(field '{"cmd":"list","by_site":true,"limit":1}' result.sites)
count=$(echo "$sites" | sed -n 's/^\[{"count":\([0-9]*\),"bytes":.*/\1/p')
ok "by-site counts and bytes per allocation site ($count at hold_block)" \
    $(test "${count:-0}" -ge 2500 &&
      echo "$sites" | grep -q '"function":"hold_block"'; echo $?)

ok "renew and expire act on a lease; a stale id is ESTALE" \
    $(test "$(field "{\"cmd\":\"renew\",\"lease\":\"$id\",\"ttl_ms\":60000}" ok)" = true &&
      test "$(field "{\"cmd\":\"expire\",\"lease\":\"$id\"}" ok)" = true &&
      test "$(field "{\"cmd\":\"show\",\"lease\":\"$id\"}" error.code)" = '"ESTALE"' &&
      grep -q "lease $id expired" "$tmp/log"; echo $?)

r=$("$cc" "$sock" big 1048576)
ok "a 1 MiB line is refused (E2BIG), and the connection still answers" \
    $(echo "$r" | sed -n 1p | grep -q '"code":"E2BIG"' &&
      echo "$r" | sed -n 2p | grep -q '"id":2,"ok":true'; echo $?)

ok "malformed JSON gets an error, and the next request an answer" \
    $(test "$(field 'this is not json' error.code)" = '"EINVAL"' &&
      test "$(field '{"cmd":"stats"}' ok)" = true; echo $?)

ok "64 clients at once are all answered" \
    $(test "$("$cc" "$sock" many 64)" -eq 64; echo $?)

ok "300 list requests pipelined on one connection are all answered" \
    $(test "$("$cc" "$sock" pipeline 300 '{"cmd":"list"}')" -eq 300; echo $?)

"$cc" "$sock" hold 128 3 >/dev/null &
hold=$!
sleep 0.5
MEMLEASE_SOCKET_DIR=$dir "$top_builddir/cli/memleasectl" -p "$pid" stats \
    >/dev/null 2>"$tmp/busy"
ok "every slot taken: memleasectl says the process is busy, with the count" \
    $(grep -q "^memleasectl: process $pid: EBUSY: busy: 128 clients connected" \
	"$tmp/busy"; echo $?)
wait $hold

"$cc" "$sock" hangup
"$cc" "$sock" stall 2 &
stall=$!
sleep 0.5
ok "a client that hangs up mid-response and one that never reads: the host runs on and still answers" \
    $(test "$(field '{"cmd":"stats"}' ok)" = true && alive; echo $?)
wait $stall
kill "$pid"     # killed: its socket stays, for the next process to remove

start 'ttl=1h' 5 1
wait "$pid"
ok "the socket is removed at exit" $(test ! -e "$sock"; echo $?)

MEMLEASE_SOCKET_IDLE=1
export MEMLEASE_SOCKET_IDLE
start 'ttl=1h' 5 10
closed=$("$cc" "$sock" hold 128 5)
ok "MEMLEASE_SOCKET_IDLE=1: 128 idle connections are closed, and their slots serve again ($closed closed)" \
    $(test "$closed" -eq 128 && test "$(field '{"cmd":"stats"}' ok)" = true
      echo $?)
kill "$pid"
# the first expiry 2 s after the watcher subscribes: twice the timeout
start 'size=444 ttl=2s' 0 10 --every 444
"$cc" "$sock" watch 4 >"$tmp/watch"
ok "MEMLEASE_SOCKET_IDLE=1: a watcher with nothing queued is not idle: it gets the events of 2 s later" \
    $(grep -q '^{"event":"expired",.*"size":444' "$tmp/watch"; echo $?)
unset MEMLEASE_SOCKET_IDLE
kill "$pid"

# --- rules at run time, watch ----------------------------------------------
start '' 10 10 --every 444
before=$(field '{"cmd":"stats"}' result.tagged)
ok "MEMLEASE_SOCKET=on: a process with no rules has its socket, and tags nothing" \
    $(test "$before" = 0; echo $?)
"$cc" "$sock" watch 2 >"$tmp/watch" &
watch=$!
sleep 0.3
ok "rules set on a running process: new allocations are tagged" \
    $(field '{"cmd":"rules","op":"set","rules":"size=444 ttl=100ms label=late"}' result.rules |
      grep -q 'size=444' && sleep 0.5 &&
      test "$(field '{"cmd":"stats"}' result.expired)" -gt 0; echo $?)
wait $watch
ok "watch streams expiry events as they happen" \
    $(sed -n 1p "$tmp/watch" | grep -q '"watching":true' &&
      grep -q '^{"event":"expired",.*"label":"late","size":444' "$tmp/watch"
      echo $?)
kill "$pid"

# Before, every such process waited out the thread's start (2000 naps of
# 100 us at least, 0.2 s) as it started; five of them now take far less.
t0=$(date +%s%N)
for i in 1 2 3 4 5; do
	MEMLEASE_SOCKET=on MEMLEASE_SOCKET_DIR=$dir LD_PRELOAD=$lib "$fx/holder" 0 0 >/dev/null
done
ms=$((($(date +%s%N) - t0) / 1000000))
ok "MEMLEASE_SOCKET=on: a process does not stall as it starts (5 in $ms ms)" \
    $(test "$ms" -lt 1000; echo $?)

# Nor does it wait for memlease's thread at all, made before main() with
# the socket on: the main thread never sleeps before main() writes its
# first line (it used to nap until the thread was in its loop).  strace
# -f: every thread's sleeps and writes, each line led by its thread id.
strace -f -qq -e trace=nanosleep,clock_nanosleep,write -o "$tmp/strace" \
    env MEMLEASE_SOCKET=on MEMLEASE_SOCKET_DIR="$dir" LD_PRELOAD="$lib" \
    "$fx/holder" 0 0 >/dev/null 2>"$tmp/err"
slept=$(awk '/write\(1, "holder ready/ { main = $1; exit } { line[NR] = $0 }
    END { n = 0; for (i in line) { split(line[i], f, " ")
        if (f[1] == main && line[i] ~ /nanosleep\(/) n++ }; print main ? n : -1 }' \
    "$tmp/strace")
ok "MEMLEASE_SOCKET=on: the program's main thread waits for nothing before main() ($slept sleeps)" \
    $(test "$slept" = 0; echo $?)

# and memleasectl -p PID, run as the process starts, finds its socket
# (opened a moment later) rather than saying it has none
MEMLEASE_SOCKET=on MEMLEASE_SOCKET_DIR=$dir LD_PRELOAD=$lib "$fx/holder" 0 1 \
    >/dev/null &
started=$!
MEMLEASE_SOCKET_DIR=$dir "$ctl" -p "$started" stats >"$tmp/out" 2>"$tmp/err"
rc=$?
wait "$started"
ok "memleasectl -p PID of a process that has just started connects to it" \
    $(test "$rc" -eq 0 && grep -q "^pid  *$started" "$tmp/out"; echo $?)

# --- fork --------------------------------------------------------------------
rm -f "$dir"/*.sock     # of the processes killed above
start 'ttl=1h' 5 2 --fork
sleep 0.5
nsock=$(ls "$dir" | grep -c '\.sock$')
ok "after fork the child makes a socket of its own ($nsock sockets)" \
    $(test "$nsock" -eq 2; echo $?)
wait "$pid"
ok "and both are removed when they exit" \
    $(test "$(ls "$dir" | grep -c '\.sock$')" -eq 0; echo $?)

start 'ttl=1h' 5 1 --fork-exit
sleep 0.5
nsock=$(ls "$dir" | grep -c '\.sock$')
wait "$pid"
ok "a fork child that ends in _exit() removes its socket too ($nsock before)" \
    $(test "$nsock" -eq 2 && test "$(ls "$dir" | grep -c '\.sock$')" -eq 0
      echo $?)

# The shell tags what it allocates, and has its socket once its thread
# has run a tenth of a second; true allocates nothing, so it has no thread
# and no socket of its own to remove.
MEMLEASE_RULES='ttl=1h' MEMLEASE_SOCKET_DIR=$dir LD_PRELOAD=$lib \
    sh -c 'sleep 0.5; ls "$1" >"$2"; exec true' - "$dir" "$tmp/before"
ok "a process that executes another program leaves no socket behind" \
    $(grep -q '\.sock$' "$tmp/before" &&
      test "$(ls "$dir" | grep -c '\.sock$')" -eq 0; echo $?)

# A process shorter than that makes no socket (a subshell, a compiler's
# pass): its thread binds the socket a tenth of a second after it is made
# (strace's clock: no timing of ours); with MEMLEASE_SOCKET=on, asked for
# at once, it binds it without waiting
for on in auto on; do
	strace -f -ttt -qq -e trace=clone,clone3,bind -o "$tmp/binds" env \
	    MEMLEASE_RULES='ttl=1h' MEMLEASE_SOCKET=$on \
	    MEMLEASE_SOCKET_DIR="$dir" LD_PRELOAD="$lib" "$fx/holder" 1 1 \
	    >/dev/null
	# the thread's making (the time clone was called, by the thread
	# that called it; its result names the new thread), and its bind().
	# The new thread may run, and bind, before clone returns to its
	# caller: strace then splits the call in "unfinished" and "resumed"
	# lines, and the bind may come first in the log.
	delay=$(awk '
	    /clone3?\(.*<unfinished \.\.\.>/ { called[$1] = $2; next }
	    /<\.\.\. clone3? resumed>/ { made[$NF] = called[$1]; next }
	    /clone3?\(/ { made[$NF] = $2; next }
	    /bind\(/ { bound[$1] = $2 }
	    END { for (tid in bound) if (tid in made) {
	        printf "%.3f", bound[tid] - made[tid]; exit } }' "$tmp/binds")
	eval "delay_$on=\${delay:-none}"
done
ok "MEMLEASE_SOCKET=auto: the socket is bound 0.1 s after the thread starts ($delay_auto s), with on without waiting ($delay_on s)" \
    $(test "$delay_auto" != none && test "$delay_on" != none &&
      awk -v a="$delay_auto" 'BEGIN { exit !(a >= 0.095) }' &&
      test "$(ls "$dir" | grep -c '\.sock$')" -eq 0; echo $?)

# --- the folder and who may connect -----------------------------------------
# a socket left by a process killed, and files of pids that are gone
# named like sockets: only the socket is the sweep's to remove
start 'ttl=1h' 5 30
kill -9 "$pid"
wait "$pid" 2>/dev/null
dead=$pid
for f in file fifo link; do
	sh -c 'exit 0' &
	eval "$f=\$!"
	wait $!
done
: >"$dir/$file.sock"
mkfifo "$dir/$fifo.sock"
ln -s "$dir/$dead.sock" "$dir/$link.sock"
start 'ttl=1h' 5 2
ok "the socket of a dead process is removed by the next one" \
    $(test ! -e "$dir/$dead.sock" && test ! -L "$dir/$dead.sock"; echo $?)
ok "a file, a FIFO and a link named like a dead process's socket are left alone" \
    $(test -f "$dir/$file.sock" && test -p "$dir/$fifo.sock" &&
      test -L "$dir/$link.sock"; echo $?)
rm -f "$dir/$file.sock" "$dir/$fifo.sock" "$dir/$link.sock"
if command -v setpriv >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ]; then
	chmod 755 "$tmp" "$fx" "$fx/.libs" 2>/dev/null
	setpriv --reuid=nobody --regid=nogroup --clear-groups \
	    "$cc" "$sock" ask '{"cmd":"stats"}' >"$tmp/nobody" 2>&1
	ok "a client of another uid is refused" \
	    $(! grep -q '"ok":true' "$tmp/nobody" && alive; echo $?)
else
	ok "a client of another uid is refused (needs root and setpriv)" 1
fi
kill "$pid"

# PID.sock there already, and answering (as a process of another PID
# namespace's would): neither removed nor replaced, said once
"$fx/bindexec" "$dir" env MEMLEASE_SOCKET=on MEMLEASE_SOCKET_DIR="$dir" \
    LD_PRELOAD="$lib" "$fx/holder" 1 1 >/dev/null 2>"$tmp/err"
bound=$(sed -n 's/^bound \(.*\) \([0-9]*\)$/\1 \2/p' "$tmp/err")
ok "a live socket at the path of the process's own PID.sock is not replaced" \
    $(test -n "$bound" && test -S "${bound% *}" &&
      test "$(stat -c %i "${bound% *}")" = "${bound#* }" &&
      test "$(grep -c 'a socket there answers' "$tmp/err")" -eq 1; echo $?)
rm -f "${bound% *}"

open=$tmp/open
mkdir -m 755 "$open"
MEMLEASE_SOCKET=on MEMLEASE_SOCKET_DIR=$open LD_PRELOAD=$lib \
    "$fx/holder" 1 1 >/dev/null 2>"$tmp/err"
ok "a socket folder open to others is refused, said once on stderr" \
    $(test "$(ls "$open" | wc -l)" -eq 0 &&
      test "$(grep -c 'open to others' "$tmp/err")" -eq 1; echo $?)

echo "1..$n"
exit $fail
