#!/bin/sh
# memleasectl attach: memlease loaded into programs started without it
# (tests/fixtures/attachee).  Their output stays what it is without the
# attach; their new allocations, and those of a library they load later,
# follow the rules; blocks made before go back to the C library; the
# refusals say why.  Prints TAP.
. "${top_srcdir:=.}/tests/fixture-env.sh"
. "$top_srcdir/tests/ctl-env.sh"
plugin=$(cd "$fx" && pwd)/.libs/plugin.so
# attachee's RUNPATH finds it: given by name, as from attachee
name=plugin.so
attach() { "$ctl" attach "$@" --library "$lib"; }
# a program that ended early must fail the tests that follow, not stop
# the script as it writes to the fifo it no longer reads
trap '' PIPE
echo "1..21"

# wait_for PATTERN FILE: until FILE has a line PATTERN (10 s at most)
wait_for() {
	i=0
	while ! grep -q -- "$1" "$2" 2>/dev/null && [ $i -lt 200 ]; do
		sleep 0.05
		i=$((i + 1))
	done
}

# --- a program driven step by step, attached while it waits in read() ----
printf 'go\nmore\nquit\n' | "$fx/attachee" steps "$name" >"$tmp/want"
mkfifo "$tmp/in"
MEMLEASE_LOG=$tmp/log "$fx/attachee" steps "$name" <"$tmp/in" \
    >"$tmp/out" 2>"$tmp/err" &
pid=$!
pids="$pids $pid"
exec 3>"$tmp/in"
wait_for '^ready$' "$tmp/out"
attach "$pid" --rules 'size=777 ttl=1h; size=888 ttl=1h label=plugin' \
    >"$tmp/said" 2>>"$tmp/err"
rc=$?
ok "attach loads memlease into a running process and says where its socket is" \
    $(test "$rc" -eq 0 && grep -q "^attached to process $pid\$" "$tmp/said" &&
      grep -q "^socket: $dir/$pid.sock\$" "$tmp/said" &&
      grep -q libmemlease "/proc/$pid/maps"; echo $?)
ok "the rules of --rules are in force" \
    $("$ctl" -p "$pid" rules get 2>>"$tmp/err" | grep -q 'size=888'; echo $?)

echo go >&3
wait_for '^step done$' "$tmp/out"
"$ctl" -p "$pid" --json list >"$tmp/list" 2>>"$tmp/err"
n777=$(grep -o '"size":777' "$tmp/list" | wc -l)
n888=$(grep -o '"size":888,[^}]*"label":"plugin"' "$tmp/list" | wc -l)
ok "its new allocations are leases in list (5 of 777 bytes: $n777)" \
    $(test "$n777" -eq 5; echo $?)
ok "so are those of a library it dlopen()s after the attach, by a name its RUNPATH finds (3 of 888: $n888)" \
    $(test "$n888" -eq 3; echo $?)
ok "blocks allocated before the attach: usable size, realloc and free go to the C library" \
    $(grep -q '^usable size of an old block: ok$' "$tmp/out" &&
      grep -q '^realloc of an old block kept its bytes: yes$' "$tmp/out" &&
      grep -q '^freed 8 old blocks, their bytes back to the C library: yes$' \
          "$tmp/out" && ! grep -q . "$tmp/err"
      echo $?)
ok "errno and the signal mask of the thread it borrowed are as they were" \
    $(grep -q '^errno kept$' "$tmp/out" &&
      grep -q '^signal mask kept$' "$tmp/out"; echo $?)

attach "$pid" >"$tmp/said" 2>>"$tmp/err"
rc=$?
ok "a second attach does nothing, and says so" \
    $(test "$rc" -eq 0 &&
      grep -q "already loaded in process $pid: nothing done" "$tmp/said" &&
      test "$(awk '/libmemlease/ { print $6 }' "/proc/$pid/maps" |
          sort -u | wc -l)" -eq 1; echo $?)

"$ctl" -p "$pid" rules set 'size=555 ttl=50ms' >/dev/null 2>>"$tmp/err"
echo more >&3
wait_for '^made 4 more$' "$tmp/out"
i=0
while [ "$(count 'expired: 555 bytes' "$tmp/log")" -lt 4 ] && [ $i -lt 100 ]; do
	sleep 0.05
	i=$((i + 1))
done
ok "rules set later: a short lease expires, reported with its stack" \
    $(test "$(count 'expired: 555 bytes' "$tmp/log")" -eq 4 &&
      grep -q 'attach_buffer' "$tmp/log"; echo $?)

echo quit >&3
exec 3>&-
wait "$pid"
rc=$?
ok "the program ends as it would have, with the same output" \
    $(test "$rc" -eq 0 && cmp -s "$tmp/want" "$tmp/out"; echo $?)

# --- a program on jemalloc: what it made before goes back to jemalloc ----
jemalloc=$(/sbin/ldconfig -p 2>/dev/null |
    sed -n 's/^[[:space:]]*libjemalloc\.so\.2 .*=> //p' | head -n 1)
if [ -z "$jemalloc" ]; then
	ok "jemalloc is installed (libjemalloc.so.2, Debian package libjemalloc2)" 1
else
	printf 'go\nquit\n' | LD_PRELOAD=$jemalloc "$fx/attachee" steps "$name" \
	    >"$tmp/want"
	rm -f "$tmp/in"
	mkfifo "$tmp/in"
	: >"$tmp/out"
	LD_PRELOAD=$jemalloc "$fx/attachee" steps "$name" <"$tmp/in" \
	    >"$tmp/out" 2>"$tmp/err" &
	pid=$!
	pids="$pids $pid"
	exec 3>"$tmp/in"
	wait_for '^ready$' "$tmp/out"
	attach "$pid" --rules 'size=777 ttl=1h' >/dev/null 2>>"$tmp/err"
	rc=$?
	printf 'go\nquit\n' >&3
	exec 3>&-
	wait "$pid"
	src=$?
	ok "a program on jemalloc: its blocks from before go back to jemalloc, its output unchanged" \
	    $(test "$rc" -eq 0 && test "$src" -eq 0 && cmp -s "$tmp/want" "$tmp/out"
	      echo $?)
fi

# --- attached while it sleeps or computes, several times over ------------
"$fx/attachee" sleep 30 >"$tmp/want"
bad=
for delay in 0.1 0.33 0.62 0.9 1.2; do
	: >"$tmp/out"    # not the last run's "ready"
	"$fx/attachee" sleep 30 >"$tmp/out" 2>"$tmp/err" &
	pid=$!
	pids="$pids $pid"
	wait_for '^ready$' "$tmp/out"
	sleep "$delay"
	attach "$pid" >/dev/null 2>>"$tmp/err" || bad="$bad attach@$delay"
	wait "$pid" || bad="$bad rc@$delay"
	cmp -s "$tmp/want" "$tmp/out" || bad="$bad output@$delay"
done
ok "a program attached in nanosleep() or in a loop of sums runs on unchanged${bad:+:$bad}" \
    $(test -z "$bad"; echo $?)

# a thread that makes no system call is taken where it is, in its sums
: >"$tmp/out"
"$fx/attachee" spin 150 >"$tmp/out" &
pid=$!
pids="$pids $pid"
wait_for '^ready$' "$tmp/out"
attach "$pid" >/dev/null 2>>"$tmp/err"
rc=$?
wait "$pid"
src=$?
ok "a program attached in a loop that makes no system call runs on unchanged" \
    $(test "$rc" -eq 0 && test "$src" -eq 0 && grep -q '^sums agree$' "$tmp/out"
      echo $?)

# --- threads allocating, freeing and passing blocks while it attaches, and
# the main thread forking children that allocate and exit ---------------
MEMLEASE_LOG=$tmp/log "$fx/churn" 3 4000000 20 >"$tmp/out" 2>"$tmp/err" &
pid=$!
pids="$pids $pid"
rm -f "$tmp/log"
sleep 0.3
attach "$pid" --rules 'size=64-4096 every=7 ttl=20ms' >/dev/null 2>>"$tmp/err"
rc=$?
# the leases made since: its threads may not have run yet on a busy
# machine, so asked again for up to 5 s
made= i=0
while [ "${made:-0}" -eq 0 ] && [ $i -lt 50 ] && kill -0 "$pid" 2>/dev/null
do
	made=$("$ctl" -p "$pid" --json stats 2>/dev/null |
	    sed -n 's/.*"allocated":\([0-9]*\).*/\1/p')
	[ "${made:-0}" -eq 0 ] && sleep 0.1
	i=$((i + 1))
done
wait "$pid"
crc=$?
ok "threads churning blocks and forks across the attach run on, some of theirs tagged (${made:-no} leases)" \
    $(test "$rc" -eq 0 && test "$crc" -eq 0 && test "${made:-0}" -gt 0 &&
      grep -q '^churn ok$' "$tmp/out"; echo $?)

# --- a program under the preload, with no socket yet: one opens -----------
: >"$tmp/out"
LD_PRELOAD=$lib "$fx/attachee" sleep 100000 >"$tmp/out" 2>"$tmp/err" &
pid=$!
pids="$pids $pid"
wait_for '^ready$' "$tmp/out"
test -S "$dir/$pid.sock"
before=$?
attach "$pid" --rules 'size=4242 ttl=1h' >"$tmp/said" 2>>"$tmp/err"
rc=$?
ok "a program under the preload without a socket: attach opens it and sets the rules" \
    $(test "$before" -ne 0 && test "$rc" -eq 0 &&
      grep -q "without a control socket: it has one now" "$tmp/said" &&
      "$ctl" -p "$pid" rules get 2>>"$tmp/err" | grep -q 'size=4242' &&
      test "$(awk '/libmemlease/ { print $6 }' "/proc/$pid/maps" |
          sort -u | wc -l)" -eq 1; echo $?)
kill "$pid"

# --- refusals -------------------------------------------------------------
"$fx/attachee" sleep 100000 >/dev/null &
pid=$!
pids="$pids $pid"
: >"$tmp/out"
true &
gone=$!
wait "$gone"
attach "$gone" >/dev/null 2>"$tmp/err"
rc=$?
ok "a process that is gone: said" \
    $(test "$rc" -eq 1 && grep -q "there is no process $gone" "$tmp/err"; echo $?)

mkfifo "$tmp/static.in"
"$fx/maps-static" <"$tmp/static.in" >"$tmp/static" &
spid=$!
pids="$pids $spid"
exec 4>"$tmp/static.in"
wait_for 'maps ready' "$tmp/static"
attach "$spid" >/dev/null 2>"$tmp/err"
rc=$?
ok "a statically linked program: said" \
    $(test "$rc" -eq 1 && grep -q "process $spid runs a statically linked program" "$tmp/err"
      echo $?)

cp "$fx/attachee" "$tmp/setuid"
chmod u+s "$tmp/setuid"
"$tmp/setuid" sleep 100000 >"$tmp/setuid.out" &
upid=$!
pids="$pids $upid"
wait_for '^ready$' "$tmp/setuid.out"
attach "$upid" >/dev/null 2>"$tmp/err"
rc=$?
ok "a set-user-ID program: said" \
    $(test "$rc" -eq 1 && grep -q "process $upid runs a set-user-ID" "$tmp/err" &&
      ! grep -q libmemlease "/proc/$upid/maps"; echo $?)

kill -STOP "$pid"
# the signal is delivered a moment later: wait until the process shows it
for i in $(seq 100); do
	grep -q '^State:[[:space:]]*T' "/proc/$pid/status" && break
	sleep 0.05
done
attach "$pid" >/dev/null 2>"$tmp/err"
rc=$?
kill -CONT "$pid"
ok "a stopped process: said, and left alone" \
    $(test "$rc" -eq 1 && grep -q "process $pid is stopped" "$tmp/err" &&
      ! grep -q libmemlease "/proc/$pid/maps"; echo $?)

"$ctl" attach "$pid" --library /nonexistent/libmemlease.so >/dev/null 2>"$tmp/err"
rc=$?
ok "a library that is not there: said, before the process is touched" \
    $(test "$rc" -eq 1 && grep -q 'nonexistent/libmemlease.so: No such file' "$tmp/err" &&
      ! grep -q libmemlease "/proc/$pid/maps"; echo $?)

"$ctl" attach "$pid" --library "$plugin" >/dev/null 2>"$tmp/err"
rc=$?
ok "a library that is not memlease's: said, before the process is touched" \
    $(test "$rc" -eq 1 && grep -q 'has no memleasectl_attach' "$tmp/err" &&
      ! grep -q plugin.so "/proc/$pid/maps"; echo $?)

# another user's process: memleasectl run as nobody, the program as us
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null; then
	setpriv --reuid=65534 --regid=65534 --clear-groups \
	    "$ctl" attach "$pid" --library "$lib" >/dev/null 2>"$tmp/err"
	rc=$?
	ok "another user's process: says whose it is and who may attach" \
	    $(test "$rc" -eq 1 &&
	      grep -q "process $pid belongs to user root; only root may attach to it (you are nobody)" "$tmp/err" &&
	      ! grep -q libmemlease "/proc/$pid/maps"; echo $?)
else
	n=$((n + 1))
	echo "ok $n # SKIP another user's process: needs root and setpriv"
fi

# Yama's ptrace_scope: each value's message is tested in test_ctl, with the
# values given (CI's kernels may have no Yama to refuse anything).
exec 4>&-
exit $fail
