#!/bin/sh
# The preload in front of fixture programs of ours that know nothing of
# memlease: expiry actions, late frees and accesses, the whole malloc
# family compared with a run without the preload, threads, fork, exec,
# bad rules, the environment.  Prints TAP.
. "${top_srcdir:=.}/tests/fixture-env.sh"

# under RULES [ENV=VALUE...] -- PROGRAM ARGS: run it under the preload
# (time limit 120 s), reports to $tmp/log; sets $rc.
under() {
	rules=$1; shift
	rm -f "$tmp"/out "$tmp"/err "$tmp"/log
	timeout 120 env MEMLEASE_RULES="$rules" MEMLEASE_LOG="$tmp/log" "$@" \
	    >"$tmp/out" 2>"$tmp/err" &
	wait $!
	rc=$?
}
pre() { echo "LD_PRELOAD=$lib"; }
value() { sed -n "s/^$1: //p" "$tmp/out"; }

# --- expiry actions on a program that leaks 64 KiB log buffers -------------
# The names of the reports' frames come from the cache files of a first
# run, as for any program run again: no ELF or DWARF is read into the
# memory these runs measure.
mkdir -m 700 "$tmp/names"
under 'caller=make_log_buffer ttl=50ms' "$(pre)" \
    MEMLEASE_SOCKET_DIR="$tmp/names" "$fx/leaky" 8
under 'caller=make_log_buffer ttl=50ms action=free' "$(pre)" \
    MEMLEASE_SOCKET_DIR="$tmp/names" "$fx/leaky" 8
before=$(value 'in use before') after=$(value 'in use after')
ok "action=free: the 8 leaked buffers are reported, the first in full naming their allocator" \
    $(test "$rc" -eq 0 && test "$(count 'expired: 65536 bytes' "$tmp/log")" -eq 8 &&
      test "$(count '#0  make_log_buffer+' "$tmp/log")" -eq 1 &&
      test "$(count ', freed, allocated at' "$tmp/log")" -eq 8; echo $?)
ok "action=free: the C library's in-use bytes fall back (from $before to $after)" \
    $(test -n "$after" && test $((before - after)) -ge $((8 * 60000)); echo $?)
ok "action=free: the late frees are recognised and ignored, with a diagnostic" \
    $(test "$(count 'this late free is ignored' "$tmp/err")" -eq 8 &&
      grep -q '^done$' "$tmp/out"; echo $?)

under 'caller=make_log_buffer ttl=50ms' "$(pre)" \
    MEMLEASE_SOCKET_DIR="$tmp/names" "$fx/leaky" 8
before=$(value 'in use before') after=$(value 'in use after')
ok "action=report (the default) reports and changes nothing" \
    $(test "$rc" -eq 0 && test "$(count 'left to the program' "$tmp/log")" -eq 8 &&
      test "$((before - after))" -lt 65536 && ! test -s "$tmp/err" &&
      grep -q '^done$' "$tmp/out"; echo $?)

under 'caller=make_log_buffer ttl=50ms action=reclaim' "$(pre)" \
    "$fx/leaky" 8 read
ok "action=reclaim: a late read is diagnosed, naming the lease's allocator, then SIGSEGV" \
    $(test "$rc" -eq 139 &&
      grep -q 'was touched after it expired: 65536 bytes' "$tmp/err" &&
      grep -q 'make_log_buffer' "$tmp/err" && ! grep -q 'late read' "$tmp/out"
      echo $?)

under 'caller=make_log_buffer ttl=50ms action=reclaim' "$(pre)" \
    "$fx/leaky" 8
ok "action=reclaim: late frees are recognised and the program runs on" \
    $(test "$rc" -eq 0 && test "$(count 'reclaimed its block' "$tmp/err")" -eq 8 &&
      test "$(count ', reclaimed, allocated at' "$tmp/log")" -eq 8 &&
      grep -q '^done$' "$tmp/out"; echo $?)

# A program that frees a block twice, late: the second free must not free
# another block that was given the address meanwhile.
for action in free reclaim; do
	for size in 64 4096 200000; do
		# only the old blocks are leases: a block the program keeps
		# using must not expire under it on a busy machine
		under "caller=old_block size=$size ttl=100ms action=$action" \
		    "$(pre)" "$fx/twice" "$size" 1000
		ok "action=$action, $size bytes: a second late free is recognised and ignored, the address never handed out again meanwhile" \
		    $(test "$rc" -eq 0 && grep -qx 'address held' "$tmp/out" &&
		      grep -qx 'done' "$tmp/out" &&
		      test "$(count 'this late free is ignored' "$tmp/err")" -eq 8 &&
		      test "$(count 'freed twice; ignored' "$tmp/err")" -eq 1
		      echo $?)
	done
done

under 'caller=make_log_buffer ttl=50ms action=abort' "$(pre)" \
    "$fx/leaky" 8
ok "action=abort: the lease is reported, then the program aborts" \
    $(test "$rc" -eq 134 && grep -q 'make_log_buffer' "$tmp/log"; echo $?)

under 'caller=make_log_buffer ttl=50ms action=free' "$(pre)" \
    MEMLEASE_LOG_FORMAT=json "$fx/leaky" 2
ok "MEMLEASE_LOG_FORMAT=json: one JSON object a line, with the action and frames" \
    $(test "$rc" -eq 0 && test "$(count '^{"event":"expired",.*"size":65536,.*"action":"freed".*"function":"make_log_buffer".*}$' "$tmp/log")" -eq 2
      echo $?)

under 'caller=no_such_function ttl=10ms action=free' "$(pre)" \
    "$fx/leaky" 8
ok "caller= that matches no frame tags nothing" \
    $(test "$rc" -eq 0 && ! test -s "$tmp/log" && ! test -s "$tmp/err"; echo $?)

under 'object=leaky size=65536 ttl=50ms' "$(pre)" "$fx/leaky" 3
ok "object= and size= select the leaked buffers" \
    $(test "$rc" -eq 0 && test "$(count 'expired: 65536 bytes' "$tmp/log")" -eq 3
      echo $?)

under 'object=libc.so* ttl=50ms' "$(pre)" "$fx/leaky" 3
ok "object= of another object tags none of the program's own calls" \
    $(test "$rc" -eq 0 && test "$(count 'make_log_buffer' "$tmp/log")" -eq 0
      echo $?)

under 'caller=make_log_buffer every=4 ttl=50ms' "$(pre)" \
    "$fx/leaky" 8
ok "every=4 tags one allocation in four" \
    $(test "$rc" -eq 0 && test "$(count 'expired: 65536' "$tmp/log")" -eq 2
      echo $?)

# --- the whole family, tagged or not, gives what the C library gives -------
"$fx/family" >"$tmp/family.want" 2>&1
for rules in '' 'ttl=1h' 'ttl=1h action=free' 'ttl=1h action=reclaim' \
    'ttl=1h action=abort' 'size=100-5000 every=2 ttl=1h'; do
	under "$rules" "$(pre)" MEMLEASE_REPORT_AT_EXIT=each \
	    "$fx/family"
	live=$(count 'is live at exit' "$tmp/log")
	# the fixture keeps 9 blocks; every=2 tags about half of them
	case $rules in
	'') lo=0 hi=0 ;;
	*every=2*) lo=3 hi=8 ;;
	*) lo=9 hi=99 ;;
	esac
	# with no rules, MEMLEASE_REPORT_AT_EXIT says nothing was tagged
	ok "malloc family${rules:+ under '$rules'}: same results as without the preload; $live live at exit" \
	    $(test "$rc" -eq 0 && cmp -s "$tmp/out" "$tmp/family.want" &&
	      test "$(grep -cv '^memlease: MEMLEASE_REPORT_AT_EXIT: nothing was tagged' \
	      "$tmp/err")" -eq 0 && test "$live" -ge "$lo" &&
	      test "$live" -le "$hi"; echo $?)
done

# --- threads, fork, exec ---------------------------------------------------
under 'ttl=1h' "$(pre)" "$fx/churn" 2 1000000
ok "2 threads x 1M mixed operations with everything tagged" \
    $(test "$rc" -eq 0 && grep -q 'churn ok' "$tmp/out"; echo $?)

under 'ttl=5ms action=report' "$(pre)" "$fx/churn" 4 100000 50
ok "50 forks from a 4-thread program while leases expire" \
    $(test "$rc" -eq 0 && grep -q 'churn ok' "$tmp/out" && test -s "$tmp/log"
      echo $?)

for rules in 'ttl=1h' 'ttl=10ms'; do
	under "$rules" "$(pre)" bash -c \
	    'for i in $(seq 50); do x=$(echo $i); /bin/true; done; echo "bash $x"'
	ok "bash -c spawning 50 children under '$rules'" \
	    $(test "$rc" -eq 0 && grep -q '^bash 50$' "$tmp/out"; echo $?)
done

under '' "$(pre)" sh -c 'echo "[$LD_PRELOAD]"'
inherited=$(cat "$tmp/out")
under '' "$(pre)" MEMLEASE_INHERIT=off sh -c 'echo "[$LD_PRELOAD]"'
ok "MEMLEASE_INHERIT=off: programs it runs start without the preload" \
    $(test "$inherited" = "[$lib]" && test "$(cat "$tmp/out")" = "[]"; echo $?)

# with a descriptor table of its own for memlease's thread, and without:
# unshare(2) refused, as a container's seccomp profile refuses it
for wrap in '' "$fx/noshare"; do
	how=${wrap:+" (unshare refused: one table)"}
	under 'size=100 ttl=1h; size=200 ttl=50ms' "$(pre)" $wrap "$fx/closefds" "$tmp/file"
	cpu=$(sed -n 's/^closefds ok 0 //p' "$tmp/out")
	ok "a program that closes every descriptor and reuses their numbers$how: nothing written to its file, its 6 later leases expire, ${cpu:-?} ms of CPU in 2.4 s (no spinning)" \
	    $(test "$rc" -eq 0 && test -n "$cpu" && test "$cpu" -lt 400 &&
	      test "$(count 'expired: 200 bytes' "$tmp/log")" -eq 6; echo $?)

	under 'size=100 ttl=1h; size=200 ttl=50ms' "$(pre)" MEMLEASE_SOCKET=on \
	    MEMLEASE_SOCKET_DIR="$tmp/sock" $wrap "$fx/closefds" "$tmp/file" --closed
	ok "a program that closes every descriptor, its socket's too, and leaves them closed$how: it runs on, and leases still expire" \
	    $(test "$rc" -eq 0 && grep -q '^closefds ok 0 [0-9]*$' "$tmp/out" &&
	      test "$(count 'expired: 200 bytes' "$tmp/log")" -eq 6; echo $?)

	# the wake-up pipe closed with the rest: each new deadline must still
	# wake the thread (it slept ML_LOOP_MAX_SLEEP_MS, 1 s, meanwhile)
	under 'size=150 ttl=5ms' "$(pre)" MEMLEASE_SOCKET=on \
	    MEMLEASE_SOCKET_DIR="$tmp/sock" $wrap "$fx/daemonize" "$tmp/file"
	late=$(sed -n 's/^daemonize ok 500 //p' "$tmp/file")
	ok "a program that closes descriptors 0 to 1023, then makes 500 leases of 5 ms$how: all expire on time (the latest ${late:-?} ms late, at most 250)" \
	    $(test "$rc" -eq 0 && test -n "$late" && test "$late" -le 250; echo $?)
done
ok "noshare makes unshare(2) fail" \
    $("$fx/noshare" unshare -U true 2>/dev/null; test $? -ne 0; echo $?)

under 'size=100 ttl=1h; size=200 ttl=50ms' "$(pre)" "$fx/daemon" "$tmp/status"
i=0
while [ ! -s "$tmp/status" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
pid=$(sed -n 's/^daemon ok //p' "$tmp/status" 2>/dev/null)
ok "a daemon (fork, setsid, fork, every descriptor closed): its leases expire, reported to the log" \
    $(test "$rc" -eq 0 && test -n "$pid" &&
      test "$(count "^memlease\[$pid\]: .* expired: 200 bytes" "$tmp/log")" -eq 3
      echo $?)

under 'size=90k-200k ttl=1h action=reclaim' "$fx/hookfree"
ok "an expiry hook frees a tracked block (on its own pages): it is unmapped, no abort" \
    $(test "$rc" -eq 0 && grep -q '^hookfree ok$' "$tmp/out"; echo $?)

# --- the preload costs nothing it need not -----------------------------------
# threads, and descriptors below 512 (ours live above); no pipeline in
# the probe: its pipe would show among the shell's descriptors
probe='grep ^Threads: /proc/$$/status; ls /proc/$$/fd'
low() { awk '/^Threads:/ || $1 < 512' "$1" | sort; }
sh -c "$probe" >"$tmp/probe.raw"
low "$tmp/probe.raw" >"$tmp/probe.want"
want=$tmp/probe.want
for rules in '' 'size=1G- ttl=1h'; do
	# reports to stderr (the default): memlease keeps a duplicate of it
	env MEMLEASE_RULES="$rules" "$(pre)" sh -c "$probe" >"$tmp/out"
	ok "no thread and no low descriptor in a process that tags nothing${rules:+ (rules '$rules')}" \
	    $(grep -q '^Threads:.1$' "$tmp/out" &&
	      low "$tmp/out" | cmp -s - "$tmp/probe.want"; echo $?)
done
want=

# libunwind opens a pipe as it first unwinds: it lands above 512 too, and
# costs a few system calls (taking every free low number first, the way
# kept for a libunwind whose pipe2() is not found, took a thousand)
awk '$1 < 512' "$tmp/probe.raw" | sort >"$tmp/probe.fds"
env MEMLEASE_RULES='ttl=1h' "$(pre)" sh -c "$probe" >"$tmp/out"
ok "a process that tags every allocation: no low descriptor of memlease's or libunwind's" \
    $(awk '$1 < 512' "$tmp/out" | sort | cmp -s - "$tmp/probe.fds"; echo $?)
calls=$(strace -f -c -e trace=fcntl,close -o "$tmp/strace" \
    env MEMLEASE_RULES='ttl=1h' "$(pre)" sh -c 'exec true' 2>/dev/null &&
    awk '$NF == "total" { print $(NF - 2) }' "$tmp/strace")
ok "and its start takes few fcntl() and close() calls (${calls:-?}, at most 100)" \
    $(test -n "$calls" && test "$calls" -le 100; echo $?)

# --- configuration errors ----------------------------------------------------
under 'ttl=5x' "$(pre)" "$fx/family"
ok "a malformed rule: one line naming its position; the program runs on untagged" \
    $(test "$rc" -eq 0 && cmp -s "$tmp/out" "$tmp/family.want" &&
      test "$(wc -l <"$tmp/err")" -eq 1 &&
      grep -q '^memlease: MEMLEASE_RULES:1:1: ttl=5x: .*nothing is tagged$' "$tmp/err"
      echo $?)

printf '# boot logs\ncaller=make_log_buffer ttl=50ms action=free\n' \
    >"$tmp/rules.conf"
under '' "$(pre)" MEMLEASE_CONFIG="$tmp/rules.conf" "$fx/leaky" 2
ok "MEMLEASE_CONFIG: rules from a file, with comments" \
    $(test "$rc" -eq 0 && test "$(count 'make_log_buffer' "$tmp/log")" -eq 2
      echo $?)

printf 'ttl=1h\nbogus=1 ttl=1h\n' >"$tmp/bad.conf"
under '' "$(pre)" MEMLEASE_CONFIG="$tmp/bad.conf" "$fx/family"
ok "MEMLEASE_CONFIG: an error names the file, line and column" \
    $(test "$rc" -eq 0 && test "$(wc -l <"$tmp/err")" -eq 1 &&
      grep -q "^memlease: $tmp/bad.conf:2:1: " "$tmp/err"; echo $?)

under '' "$(pre)" MEMLEASE_CONFIG="$tmp/none.conf" "$fx/family"
ok "MEMLEASE_CONFIG: a missing file is one line, and the program runs on" \
    $(test "$rc" -eq 0 && cmp -s "$tmp/out" "$tmp/family.want" &&
      grep -q 'none.conf: No such file' "$tmp/err"; echo $?)

# MEMLEASE_CONFIG is read before main(), where nothing may wait: only a
# regular file of at most 1 MiB; anything else is said once, and the
# program runs on untagged (a FIFO's open waited for a writer forever)
mkfifo "$tmp/fifo.conf"
truncate -s 2M "$tmp/huge.conf"
for conf in "$tmp/fifo.conf:not a regular file" "$tmp:not a regular file" \
    "/dev/zero:not a regular file" "$tmp/huge.conf:larger than 1 MiB"; do
	path=${conf%%:*} why=${conf#*:}
	under 'ttl=1h' MEMLEASE_CONFIG="$path" timeout 10 env "$(pre)" "$fx/family"
	ok "MEMLEASE_CONFIG=${path#$tmp/}: $why, said once; the program runs on, untagged" \
	    $(test "$rc" -eq 0 && cmp -s "$tmp/out" "$tmp/family.want" &&
	      test "$(wc -l <"$tmp/err")" -eq 1 &&
	      grep -q "^memlease: MEMLEASE_CONFIG=$path: $why; nothing is tagged$" "$tmp/err" &&
	      ! test -s "$tmp/log"; echo $?)
done

rm -f "$tmp/err"
MEMLEASE_RULES='caller=make_log_buffer ttl=50ms' MEMLEASE_LOG="$tmp/fifo.conf" \
    timeout 10 env "$(pre)" "$fx/leaky" 8 >"$tmp/out" 2>"$tmp/err"
ok "MEMLEASE_LOG naming a FIFO no one reads: said once, waiting for no reader; the reports go to stderr" \
    $(test "$?" -eq 0 && grep -q '^done$' "$tmp/out" &&
      test "$(count '^memlease: cannot open MEMLEASE_LOG' "$tmp/err")" -eq 1 &&
      grep -q "^memlease: cannot open MEMLEASE_LOG $tmp/fifo.conf: .*; reporting to stderr$" "$tmp/err" &&
      test "$(count 'expired: 65536 bytes' "$tmp/err")" -eq 8
      echo $?)

# a bad rule's bytes quoted escaped: no escape sequence reaches a terminal
printf 'ttl=1h\nsize=2 ttl=\033[2J\377\302\233x\n' >"$tmp/bad.conf"
under '' "$(pre)" MEMLEASE_CONFIG="$tmp/bad.conf" "$fx/family"
ok "MEMLEASE_CONFIG: a bad rule's control characters and invalid UTF-8 are written escaped (\\x1b, \\xff)" \
    $(test "$rc" -eq 0 && test "$(wc -l <"$tmp/err")" -eq 1 &&
      grep -qF 'ttl=\x1b[2J\xff\xc2\x9bx: ' "$tmp/err" &&
      ! LC_ALL=C grep -q "$(printf '[\033\377\302]')" "$tmp/err"; echo $?)

# --- fork children: the thread waits for those that live ------------------
under 'ttl=1h' "$(pre)" "$fx/forkwait"
ok "a fork child that exits at once starts no thread; one that allocates 200 ms after the fork has its own" \
    $(test "$rc" -eq 0 && grep -qx 'quick 1' "$tmp/out" &&
      grep -qx 'later 2' "$tmp/out"; echo $?)

# --- a signal handler that allocates while its thread is inside memlease ---
under 'ttl=1h' "$(pre)" MEMLEASE_THREAD=0 timeout 20 "$fx/sigapi" 1500
ok "a 1 kHz signal handler allocates and frees tagged blocks while its thread is in the core: no deadlock" \
    $(test "$rc" -eq 0 && grep -q '^sigapi ok' "$tmp/out"; echo $?)

# --- memlease_adopt() in a program linked with the library -----------------
under '' "$fx/adopt"
ok "memlease_adopt: ended by releases, by free(), by expiry; late free ignored" \
    $(test "$rc" -eq 0 && grep -q 'adopt ok' "$tmp/out" &&
      grep -q 'this late free is ignored' "$tmp/err"; echo $?)

# --- the journal -------------------------------------------------------------
# journal RULES [ENV=VALUE...]: leaky's 2 buffers under RULES, stderr to
# $tmp/j, with JOURNAL_STREAM naming that file as systemd names its stream
journal() {
	rules=$1; shift
	rm -f "$tmp/j"; : >"$tmp/j"
	env MEMLEASE_RULES="$rules" MEMLEASE_LOG=stderr \
	    JOURNAL_STREAM="$(stat -c %d:%i "$tmp/j")" "$@" "$(pre)" \
	    "$fx/leaky" 2 >/dev/null 2>>"$tmp/j"
}
journal 'caller=make_log_buffer ttl=50ms action=free'
ok "stderr is the journal: report lines start with <4>, late frees with <3>" \
    $(test "$(count '^<4>memlease\[[0-9]*\]: ' "$tmp/j")" -ge 4 &&
      test "$(count '^<3>memlease: .*late free is ignored' "$tmp/j")" -eq 2 &&
      test "$(grep -vc '^<[34]>memlease' "$tmp/j")" -eq 0; echo $?)
journal 'caller=make_log_buffer ttl=50ms action=abort'
ok "stderr is the journal: an abort's line starts with <3>" \
    $(grep -q '^<3>memlease: lease .* action=abort; aborting' "$tmp/j"; echo $?)
journal 'caller=make_log_buffer ttl=50ms' MEMLEASE_LOG="$tmp/jlog"
ok "a MEMLEASE_LOG file gets no priorities, though stderr is the journal" \
    $(test "$(count 'memlease\[' "$tmp/jlog")" -ge 4 &&
      test "$(count '^<' "$tmp/jlog")" -eq 0; echo $?)
journal 'caller=make_log_buffer ttl=50ms' JOURNAL_STREAM=1:2
ok "stderr that is not JOURNAL_STREAM's gets no priorities" \
    $(test "$(count 'memlease\[' "$tmp/j")" -ge 4 &&
      test "$(count '^<' "$tmp/j")" -eq 0; echo $?)

# --- messages ------------------------------------------------------------------
under 'caller=make_log_buffer ttl=50ms' "$(pre)" MEMLEASE_LOG=/nonexistent/log \
    "$fx/leaky" 2
ok "a MEMLEASE_LOG that cannot be opened: reports on stderr, said once" \
    $(test "$(count 'expired: 65536 bytes' "$tmp/err")" -eq 2 &&
      test "$(count '^memlease: cannot open MEMLEASE_LOG /nonexistent/log: .*; reporting to stderr$' "$tmp/err")" -eq 1
      echo $?)
under '' "$(pre)" MEMLEASE_REPORT_AT_EXIT=1 "$fx/leaky" 2
ok "MEMLEASE_REPORT_AT_EXIT=1 with no rules: says at exit that nothing was tagged" \
    $(test "$rc" -eq 0 &&
      test "$(count '^memlease: MEMLEASE_REPORT_AT_EXIT: nothing was tagged' "$tmp/err")" -eq 1
      echo $?)

echo "1..$n"
exit $fail
