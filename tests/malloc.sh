#!/bin/sh
# The preload against what hostile programs do to an allocator, in the
# spirit of the C library's and jemalloc's malloc tests: a dlsym() that
# cannot find the next allocator, fork while threads allocate, nested
# forks, fork and malloc in signal handlers, 10,000 threads, allocations
# after memlease's destructor, exit() from a thread, dlopen/dlclose in a
# loop, realloc races, out of address space, jemalloc as the next
# allocator, unshare -U, static and set-user-ID programs.  Every run has a
# time limit: a deadlock fails its test.  Prints TAP.
. "${top_srcdir:=.}/tests/fixture-env.sh"

ctl=$top_builddir/cli/memleasectl
so=$fx/.libs
# jemalloc (Debian's libjemalloc2, which ./dev check installs)
jemalloc=$(/sbin/ldconfig -p 2>/dev/null |
    sed -n 's/^[[:space:]]*libjemalloc\.so\.2 .*=> //p' | head -n 1)

# run RULES [ENV=VALUE...] -- PROGRAM ARGS: under the preload unless
# LD_PRELOAD is among the settings (time limit 20 s; reports to $tmp/log;
# sets $rc)
run() {
	rules=$1; shift
	rm -f "$tmp"/out "$tmp"/err "$tmp"/log
	case " $* " in
	*" LD_PRELOAD="*) ;;
	*) set -- LD_PRELOAD="$lib" "$@" ;;
	esac
	timeout 20 env MEMLEASE_RULES="$rules" MEMLEASE_LOG="$tmp/log" "$@" \
	    >"$tmp/out" 2>"$tmp/err" &
	wait $!
	rc=$?
}
# done_ok MODE: the hostile fixture said it succeeded, and nothing else
# (under action=free, but the diagnostics of its late frees and reallocs).
# action=free frees a block still in use once its ttl passes: such rules
# here tag only blocks the fixture no longer writes to by then.
done_ok() {
	case $rules in
	*action=free*) grep -v -e 'this late free is ignored' \
	    -e 'its contents lost' "$tmp/err" >"$tmp/err.rest" ;;
	*) cp "$tmp/err" "$tmp/err.rest" ;;
	esac
	test "$rc" -eq 0 && grep -q "^hostile $1 ok" "$tmp/out" &&
	    ! test -s "$tmp/err.rest"
}

# --- the next allocator cannot be found -------------------------------------
# nodlsym.so, preloaded first, makes dlsym() return NULL for the family
for rules in '' 'ttl=1h' 'ttl=5ms'; do
	run "$rules" LD_PRELOAD="$so/nodlsym.so $lib" "$fx/boot" early
	ok "dlsym() fails at first${rules:+ (rules '$rules')}: blocks made meanwhile are reallocated, measured and freed once it works" \
	    $(test "$rc" -eq 0 && grep -q '^boot early ok [1-9]' "$tmp/out" &&
	      ! test -s "$tmp/err"; echo $?)
	run "$rules" LD_PRELOAD="$so/nodlsym.so $lib" "$fx/boot" never
	ok "dlsym() never finds the allocator${rules:+ (rules '$rules')}: 64 MiB allocated all the same, on the C library's" \
	    $(test "$rc" -eq 0 && grep -q '^boot never ok [1-9]' "$tmp/out" &&
	      ! test -s "$tmp/err"; echo $?)
done

# --- fork --------------------------------------------------------------------
# action=free only of the fixture's own blocks (object=): a rule that tags
# everything would free the C library's own, such as a thread's TLS
# vector, while they are in use.  The fixture's threads free and
# reallocate blocks after they expired: those late calls are diagnosed.
for rules in '' 'ttl=2ms action=report' 'object=hostile ttl=2ms action=free'; do
	run "$rules" "$fx/hostile" forks 150
	ok "150 forks while 4 threads allocate${rules:+ and leases expire ('$rules')}; each child allocates and exits" \
	    $(done_ok forks && case $rules in
	      '') true ;; *) test -s "$tmp/log" ;; esac; echo $?)
done

# libunwind locks its caches as it steps through frames new to a thread;
# unwlock.so holds each such lock 20 ms while main forks again and again:
# no fork may copy one taken (each child unwinds a new frame too)
run 'ttl=1h' LD_PRELOAD="$lib $so/unwlock.so" "$fx/hostile" unwindfork
ok "forks while another thread unwinds a new stack: no child inherits a lock of libunwind's taken" \
    $(done_ok unwindfork; echo $?)

for rules in '' 'ttl=1ms'; do
	run "$rules" "$fx/hostile" nested 30
	ok "30 nested forks, each leaving through exit()${rules:+ under '$rules'}" \
	    $(done_ok nested; echo $?)
	run "$rules" "$fx/hostile" sigfork 200
	ok "200 forks from a 1 kHz SIGALRM handler${rules:+ under '$rules'}; each child allocates" \
	    $(done_ok sigfork; echo $?)
done

# --- signal handlers, threads, the process's end ---------------------------
for rules in '' 'ttl=1h' 'object=hostile ttl=1ms'; do
	run "$rules" "$fx/hostile" sigalrm 1500
	ok "a 1 kHz SIGALRM handler that allocates and frees, 1.5 s, interrupting malloc_usable_size()${rules:+ (rules '$rules')}" \
	    $(done_ok sigalrm; echo $?)
done

for rules in '' 'ttl=5ms' 'object=hostile ttl=5ms action=free'; do
	run "$rules" "$fx/hostile" threads 10000
	ok "10,000 short-lived threads whose key destructors free${rules:+ (rules '$rules')}" \
	    $(done_ok threads; echo $?)
	run "$rules" "$fx/hostile" thread-exit
	ok "exit() from a thread while main allocates${rules:+ (rules '$rules')}" \
	    $(done_ok thread-exit; echo $?)
done

# late.so, initialised before libmemlease.so, is finalised after it: its
# atexit handler (registered before main) and its destructor run after
# memlease's destructor, which reports the live leases at exit and stops
# memlease's thread; their leases must not start it again
for rules in 'ttl=1h' 'object=late.so ttl=1ms action=free' \
    'object=late.so ttl=1h action=reclaim'; do
	run "$rules" LD_PRELOAD="$lib $so/late.so" MEMLEASE_LOG= \
	    MEMLEASE_REPORT_AT_EXIT=each "$fx/hostile" nested 0
	first_late=$(grep -n '^late ' "$tmp/err" | head -n 1 | cut -d: -f1)
	last_report=$(grep -n 'is live at exit' "$tmp/err" | tail -n 1 |
	    cut -d: -f1)
	ok "allocations in an atexit handler and a destructor that run after memlease's destructor: no thread started again (rules '$rules')" \
	    $(test "$rc" -eq 0 &&
	      grep -q '^late atexit ok, 1 threads$' "$tmp/err" &&
	      grep -q '^late destructor ok, 1 threads$' "$tmp/err" &&
	      case $rules in ttl=1h)
	        test -n "$last_report" && test -n "$first_late" &&
	        test "$first_late" -gt "$last_report" ;; esac; echo $?)
done

# --- dlopen ---------------------------------------------------------------------
for rules in '' 'object=plugin.so ttl=50ms action=free'; do
	run "$rules" "$fx/hostile" dlopen 1000 "$so/plugin.so"
	ok "1,000 dlopen/dlclose of an object that allocates${rules:+; its blocks tagged ('$rules') expire after it is gone}" \
	    $(done_ok dlopen && case $rules in
	      '') true ;; *) test "$(count 'expired: ' "$tmp/log")" -gt 0 ;;
	      esac; echo $?)
done
run 'ttl=1ms' "$fx/hostile" dlopen 1000 libm.so.6
ok "1,000 dlopen/dlclose of libm under 'ttl=1ms'" $(done_ok dlopen; echo $?)

# --- realloc, out of memory ---------------------------------------------------
# every=2: blocks tagged and not side by side; the address a tagged
# block leaves as realloc() moves it is soon an untagged block's
# (reclaimed blocks are mappings of their own: 10 times slower)
for rules in '' 'ttl=1h' 'ttl=1ms' 'ttl=1h action=reclaim' 'ttl=1h every=2'; do
	case $rules in *reclaim) rounds=100000 ;; *) rounds=1000000 ;; esac
	run "$rules" "$fx/hostile" realloc $rounds
	ok "two threads grow, shrink, fail, zero and swap the same blocks with realloc $rounds times${rules:+ (rules '$rules')}" \
	    $(done_ok realloc; echo $?)
done

"$fx/hostile" oom >"$tmp/oom.want" 2>&1
for rules in '' 'ttl=1h' 'ttl=1h action=reclaim'; do
	run "$rules" "$fx/hostile" oom
	ok "out of address space (RLIMIT_AS): NULL and ENOMEM as without the preload, no abort${rules:+ (rules '$rules')}" \
	    $(done_ok oom && cmp -s "$tmp/out" "$tmp/oom.want" &&
	      grep -q '^malloc: NULL errno=ENOMEM' "$tmp/out"; echo $?)
done

# an expired block's late free is diagnosed on standard error, which the
# program closed: the write that fails there must not reach errno
run 'size=100 ttl=10ms action=free; size=101 ttl=1h' "$fx/hostile" errno
ok "free() keeps errno: an expired block (its diagnostic's stderr closed), a live tagged one, an untagged one, NULL" \
    $(test "$rc" -eq 0 && grep -q '^hostile errno ok' "$tmp/out"; echo $?)

# libunwind's own sigprocmask() pairs are skipped inside a capture, which
# blocks every signal once around its unwinding: the program's mask is
# its own again after every tagged allocation, and a signal is handled
for rules in '' 'ttl=1h' 'every=3 ttl=1ms action=free'; do
	run "$rules" "$fx/hostile" sigmask 20000
	ok "the signal mask is the program's after each of 20,000 allocations from new stacks, SIGUSR1 handled at once (rules '$rules')" \
	    $(done_ok sigmask; echo $?)
done

# --- jemalloc as the next allocator --------------------------------------------
# Its results differ from the C library's (memalign() of an alignment that
# is not a power of two fails; blocks of 0 or 1 byte are aligned to 8
# only, even by memalign(64, 0)): the untagged run is the reference, the
# lines of those sizes left out.  Without memlease the fixture cannot run on jemalloc at all:
# jemalloc has no pvalloc, and the C library's block reaches jemalloc's
# free().
if [ -z "$jemalloc" ]; then
	ok "jemalloc is installed (libjemalloc.so.2, Debian package libjemalloc2)" 1
fi
nonzero() {
	awk '/\((0|1)\)|, (0|1)\)/ { skip = 1; next }
	     /^  block:/ && skip { skip = 0; next }
	     { skip = 0; print }' "$1"
}
pair="$lib $jemalloc"
run '' LD_PRELOAD="$pair" "$fx/family"
nonzero "$tmp/out" >"$tmp/jemalloc.want"
ok "jemalloc after memlease, nothing tagged: the family runs, on jemalloc" \
    $(test "$rc" -eq 0 && ! test -s "$tmp/err" &&
      grep -q '^kept: 9$' "$tmp/out" &&
      LD_PRELOAD="$pair" cat /proc/self/maps | grep -q libjemalloc; echo $?)
for rules in 'ttl=1h' 'ttl=1h action=free' 'ttl=1h action=reclaim' \
    'size=100-5000 every=2 ttl=1h'; do
	run "$rules" LD_PRELOAD="$pair" MEMLEASE_REPORT_AT_EXIT=each "$fx/family"
	ok "jemalloc after memlease, the family under '$rules': same results as untagged; $(count 'is live at exit' "$tmp/log") live at exit" \
	    $(test "$rc" -eq 0 && ! test -s "$tmp/err" &&
	      nonzero "$tmp/out" | cmp -s - "$tmp/jemalloc.want" &&
	      test "$(count 'is live at exit' "$tmp/log")" -ge 3; echo $?)
done
run 'ttl=2ms' LD_PRELOAD="$pair" "$fx/hostile" realloc 100000
ok "jemalloc after memlease: realloc races while leases expire" \
    $(done_ok realloc; echo $?)
run 'object=hostile ttl=2ms action=free' LD_PRELOAD="$pair" "$fx/hostile" \
    forks 50
ok "jemalloc after memlease: 50 forks while 4 threads allocate and action=free takes their blocks" \
    $(done_ok forks && test -s "$tmp/log"; echo $?)

# --- descriptors closed under memlease (see also tests/preload.sh) -----------
# closefds closes every descriptor 0.1 s in, and fills the low numbers with
# a file of its own.  memlease's thread has a table of its own, where its
# socket is safe; with unshare(2) refused (noshare) it shares the
# program's, loses its socket with the rest and listens again.  With
# --sweep, closefds closes them all and fills them again and again for
# 0.5 s: each socket memlease makes meanwhile is soon closed or taken,
# and memlease makes one again once the program is done.
mkdir -m 700 "$tmp/cfsock"
for how in : "$fx/noshare": "$fx/noshare:--sweep"; do
	wrap=${how%:*} sweep=${how#*:}
	rm -f "$tmp/out" "$tmp/err" "$tmp/log"
	MEMLEASE_SOCKET_DIR=$tmp/cfsock MEMLEASE_RULES='size=100 ttl=1h; size=200 ttl=50ms' \
	    MEMLEASE_LOG=$tmp/log LD_PRELOAD=$lib $wrap "$fx/closefds" "$tmp/file" \
	    $sweep >"$tmp/out" 2>"$tmp/err" &
	cfpid=$!
	# without a table of its own, the loop notices the socket is gone
	# when it next wakes: within 1 s (the process lives 2.6 s)
	sleep 0.3
	i=0 crc=1
	while [ $i -lt 19 ]; do
		if MEMLEASE_SOCKET_DIR=$tmp/cfsock "$ctl" -p "$cfpid" stats \
		    >"$tmp/ctl.out" 2>"$tmp/ctl.err"; then
			crc=0
			break
		fi
		sleep 0.1
		i=$((i + 1))
	done
	wait $cfpid
	rc=$?
	cpu=$(sed -n 's/^closefds ok 0 //p' "$tmp/out")
	want=$tmp/ctl.err
	ok "a program closes every descriptor${wrap:+ (unshare refused: its control socket with them)}${sweep:+, and again and again for 0.5 s}: memlease listens (memleasectl -p works after $((300 + i * 100)) ms), and does not spin (${cpu:-?} ms of CPU in 2.4 s)" \
	    $(test "$rc" -eq 0 && test "$crc" -eq 0 && test -n "$cpu" &&
	      test "$cpu" -lt 400 && grep -q '^live leases' "$tmp/ctl.out"; echo $?)
	want=
done

# --- the lowest free descriptor is the program's ----------------------------
# hostile lowfd opens and closes /dev/null (it must get the same number
# each time) and forks children (they must inherit nothing below 512) while
# memleasectl connects again and again and leaked blocks expire: memlease's
# thread accepts clients and names frames in a descriptor table of its own
mkdir -m 700 "$tmp/lowsock"
rm -f "$tmp/out" "$tmp/err" "$tmp/log"
env MEMLEASE_SOCKET_DIR="$tmp/lowsock" MEMLEASE_RULES='size=200 ttl=1ms action=free' \
    MEMLEASE_LOG="$tmp/log" LD_PRELOAD="$lib" "$fx/hostile" lowfd 3000 \
    >"$tmp/out" 2>"$tmp/err" &
lowpid=$!
conns=0 i=0
while [ $i -lt 1000 ] && kill -0 $lowpid 2>/dev/null; do
	MEMLEASE_SOCKET_DIR=$tmp/lowsock "$ctl" -p $lowpid stats \
	    >/dev/null 2>&1 && conns=$((conns + 1))
	i=$((i + 1))
done
wait $lowpid
rc=$?
ok "open() keeps giving the lowest free number and fork children inherit nothing while memlease's thread accepts $conns clients and reports $(count 'expired: 200 bytes' "$tmp/log") expiries ($(sed -n 's/^hostile lowfd ok //p' "$tmp/out"))" \
    $(test "$rc" -eq 0 && grep -q '^hostile lowfd ok' "$tmp/out" &&
      test "$conns" -ge 20 && test "$(count 'expired: 200 bytes' "$tmp/log")" -ge 20 &&
      ! test -s "$tmp/err"; echo $?)

# --- unshare -U: a process that tags nothing has no thread -------------------
for rules in '' 'size=1G- ttl=1h'; do
	run "$rules" unshare -U true
	ok "unshare -U succeeds under the preload${rules:+ with rules that tag nothing ('$rules')}: memlease started no thread" \
	    $(test "$rc" -eq 0 && ! test -s "$tmp/err"; echo $?)
done
# the check can fail: with the control socket on at start, there is a thread
run '' MEMLEASE_SOCKET=on MEMLEASE_SOCKET_DIR="$tmp" unshare -U true
ok "unshare -U fails when memlease's thread runs (MEMLEASE_SOCKET=on): the check above can fail" \
    $(test "$rc" -ne 0 && grep -q 'unshare failed' "$tmp/err"; echo $?)

# --- programs LD_PRELOAD cannot reach: memlease absent, memleasectl says so --
want=$tmp/ctl.err       # shown when a test fails
dir=$tmp/sock
mkdir -m 700 "$dir"
# maps PROGRAM [RUNNER...]: run it under the preload with the control socket
# on, until asked; $pid, and its first line in $tmp/out
maps() {
	exec 3>&-
	rm -f "$tmp/fifo" "$tmp/out" "$tmp/err"
	mkfifo "$tmp/fifo"
	prog=$1; shift
	# the fifo last: opening it lets the script go on
	"$@" env LD_PRELOAD="$lib" MEMLEASE_SOCKET=on \
	    MEMLEASE_SOCKET_DIR="$dir" MEMLEASE_RULES=ttl=1h "$prog" \
	    >"$tmp/out" 2>"$tmp/err" <"$tmp/fifo" &
	exec 3>"$tmp/fifo"      # its standard input, until closed
	i=0
	while ! grep -q '^maps ready' "$tmp/out" 2>/dev/null &&
	    [ $i -lt 200 ]; do
		sleep 0.05
		i=$((i + 1))
	done
	pid=$(sed -n 's/^maps ready //p' "$tmp/out")
}
stop_maps() { exec 3>&-; wait; }
# ctl_says [RUNNER...]: memleasectl -p $pid stats; its status in $crc
ctl_says() {
	"$@" env MEMLEASE_SOCKET_DIR="$dir" "$ctl" -p "$pid" stats \
	    >"$tmp/ctl.out" 2>"$tmp/ctl.err"
	crc=$?
}
# not_loaded WHY: memleasectl said memlease is not loaded, and why
not_loaded() {
	grep -qF "memleasectl: process $pid does not have memlease loaded: $1" \
	    "$tmp/ctl.err"
}

maps "$fx/maps"
ok "a dynamically linked program under the preload: memlease loaded, its socket there" \
    $(grep -q '^memlease loaded: yes' "$tmp/out" &&
      test -S "$dir/$pid.sock"; echo $?)
stop_maps

maps "$fx/maps-static"
ctl_says
ok "a statically linked program: LD_PRELOAD has no effect, and memleasectl -p PID says memlease is not loaded, as it is static" \
    $(grep -q '^memlease loaded: no' "$tmp/out" && test "$crc" -eq 1 &&
      not_loaded "it is statically linked"; echo $?)
stop_maps

# a set-user-ID copy (owned by root, run as nobody) in a folder that
# nobody may read, on a file system without nosuid
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null; then
	suid=$(mktemp -d)
	chmod 755 "$suid"
	cp "$fx/maps" "$suid/maps"
	chmod 4755 "$suid/maps"
	cp "$fx/maps" "$suid/maps-plain"
	chmod 755 "$suid/maps-plain"
	as_nobody="setpriv --reuid=nobody --regid=nogroup --clear-groups"
	root_dir=$dir
	dir=$suid/sock          # nobody's socket folder
	mkdir -m 700 "$dir"
	chown nobody "$dir"
	maps "$suid/maps-plain" $as_nobody
	ok "the same program, not set-user-ID, run as nobody: memlease loaded, its socket there" \
	    $(grep -q '^memlease loaded: yes' "$tmp/out" &&
	      test -S "$dir/$pid.sock"; echo $?)
	stop_maps
	maps "$suid/maps" $as_nobody
	ctl_says
	ok "a set-user-ID program: the loader ignores LD_PRELOAD, and memleasectl -p PID (as root) says memlease is not loaded, as it is set-user-ID" \
	    $(grep -q '^memlease loaded: no' "$tmp/out" && test "$crc" -eq 1 &&
	      not_loaded "its program is set-user-ID"; echo $?)
	ctl_says $as_nobody
	ok "memleasectl -p PID of a set-user-ID process it may not inspect: only root may look" \
	    $(test "$crc" -eq 1 &&
	      grep -qx "memleasectl: process $pid belongs to user root: only root may look at it" "$tmp/ctl.err"
	      echo $?)
	stop_maps
	rm -rf "$suid"
	dir=$root_dir
else
	echo "# not root, or no setpriv: the set-user-ID case is not run"
fi

echo "1..$n"
exit $fail
