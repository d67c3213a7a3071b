#!/bin/sh
# The end of a process under the preload: when the program's last thread
# leaves with pthread_exit(), the process exits with status 0 (POSIX), its
# atexit handlers run once, and memlease's thread, which the C library
# counts too, never keeps it alive; a SIGTERM still ends a process whose
# main thread left.  In every mode: no rules (no thread of memlease's),
# rules whose leases expire, leases of an hour, and the control socket
# open from the start.  tests/fixtures/lastexit.c.  Prints TAP.
. "${top_srcdir:=.}/tests/fixture-env.sh"

sock=$tmp/sock
mkdir -m 700 "$sock"

# run SECONDS [ENV=VALUE...] -- PROGRAM ARGS: under the preload, killed
# after SECONDS; sets $rc and $ms (how long it took)
run() {
	limit=$1; shift
	rm -f "$tmp"/out "$tmp"/err "$tmp"/log
	t0=$(date +%s%N)
	timeout -s KILL "$limit" env LD_PRELOAD="$lib" MEMLEASE_LOG="$tmp/log" \
	    MEMLEASE_SOCKET_DIR="$sock" "$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	ms=$((($(date +%s%N) - t0) / 1000000))
}

# The four modes: what each sets beside LD_PRELOAD.
modes="none expiring hour socket"
mode_env() {
	case $1 in
	none)     echo "MEMLEASE_RULES=" ;;
	expiring) echo "MEMLEASE_RULES=size=4096-8191 ttl=100ms" ;;
	hour)     echo "MEMLEASE_RULES=size=4096-8191 ttl=1h" ;;
	socket)   echo "MEMLEASE_SOCKET=on" ;;
	esac
}

# exits0 MODE CASE: exit status 0, within the limit, atexit once, stderr
# empty, and no socket left behind (the names' cache files, symbols-*,
# stay)
exits0() {
	test "$rc" -eq 0 && test "$(count '^atexit$' "$tmp/out")" -eq "${2:-1}" &&
	    ! test -s "$tmp/err" && test -z "$(ls "$sock" | grep -v '^symbols-')"
}

for m in $modes; do
	e=$(mode_env "$m")
	run 10 "$e" "$fx/lastexit" main
	ok "$m: main() calls pthread_exit(): status 0, atexit once ($ms ms)" \
	    $(exits0; echo $?)

	run 10 "$e" "$fx/lastexit" worker
	ok "$m: a worker that outlives main() returns last: status 0 ($ms ms)" \
	    $(exits0; echo $?)

	run 10 "$e" "$fx/lastexit" spawn
	ok "$m: the last thread is started as main() leaves: status 0 ($ms ms)" \
	    $(exits0 && test "$ms" -ge 100; echo $?)

	run 10 "$e" "$fx/lastexit" pair
	ok "$m: two workers return at once, after main(): status 0 ($ms ms)" \
	    $(exits0; echo $?)

	run 10 "$e" "$fx/lastexit" timer
	ok "$m: a thread the C library made for a timer keeps the process alive, as without memlease" \
	    $(test "$rc" -eq 7 && grep -q '^timer$' "$tmp/out"; echo $?)

	run 10 "$e" "$fx/lastexit" fork
	ok "$m: a fork child's main() calls pthread_exit(): the child exits 0 ($ms ms)" \
	    $(exits0 && grep -q '^child: 0$' "$tmp/out"; echo $?)

	run 10 "$e" "$fx/lastexit" forked
	ok "$m: a thread forks, the child's only thread returns: status 0 ($ms ms)" \
	    $(exits0 "" 2 && grep -q '^child: 0$' "$tmp/out"; echo $?)

	# SIGTERM to a process whose main thread left, its worker waiting:
	# timeout(1) sends it after 0.5 s and exits with the program's status
	rm -f "$tmp"/out "$tmp"/err
	timeout --preserve-status -k 10 0.5 env LD_PRELOAD="$lib" \
	    MEMLEASE_SOCKET_DIR="$sock" "$e" "$fx/lastexit" stay \
	    >"$tmp/out" 2>"$tmp/err"
	rc=$?
	ok "$m: SIGTERM ends a process whose main thread left, as without memlease (status $rc)" \
	    $(test "$rc" -eq 143 && grep -q '^ready$' "$tmp/out"; echo $?)
	# a process killed leaves its socket, to the sweep of the next one
	# that opens its own (or of memleasectl ps): the next runs here are
	# too short to open one
	rm -f "$sock"/*.sock
done

# memlease's own end runs once, on the last thread: the exit summary
run 10 "MEMLEASE_RULES=size=4096-8191 ttl=1h" MEMLEASE_REPORT_AT_EXIT=1 \
    "$fx/lastexit" main
ok "MEMLEASE_REPORT_AT_EXIT=1: the live lease is reported once at exit (status $rc)" \
    $(test "$rc" -eq 0 &&
      test "$(count '1 lease live at exit, 5000 bytes' "$tmp/log")" -eq 1 &&
      test "$(count '^memlease: SUMMARY: .* live at exit, from' "$tmp/log")" \
      -eq 1; echo $?)

echo "1..$n"
exit $fail
