#!/bin/bash
# run.sh - real, unmodified Debian programs under the preload (make
# check-real).  Each program of programs.sh runs its workload in these
# modes, each in a fresh folder made by its setup:
#   base      without the preload: the reference
#   passive   LD_PRELOAD, no rules
#   tagall    every allocation tagged (a rule with no matcher), ttl=1h
#   expire    leases expiring all the time, reported to a log file, while
#             memleasectl lists every live process every 100 ms
#   reclaim   action=reclaim under rules that match nothing the program
#             allocates: it must be inert (some programs only)
# and each preloaded run must end as the base run did: the same exit
# status, the same output (stdout and stderr, after the program's norm_
# filter), within max(60 s, 4 x base), leaving no process, no core file
# and no control socket behind.  Prints a table and "N passed, N failed".
#
# usage: run.sh --lib LIBMEMLEASE.so --ctl MEMLEASECTL [PROGRAM...]
set -u

real_dir=$(cd "$(dirname "$0")" && pwd)
. "$real_dir/programs.sh"

lib= ctl=
while [ $# -gt 0 ]; do
	case $1 in
	--lib) lib=$2; shift 2 ;;
	--ctl) ctl=$2; shift 2 ;;
	-*) echo "usage: run.sh --lib LIB --ctl MEMLEASECTL [PROGRAM...]" >&2
	    exit 2 ;;
	*) break ;;
	esac
done
[ -f "$lib" ] && [ -x "$ctl" ] || {
	echo "run.sh: need --lib LIBMEMLEASE.so and --ctl MEMLEASECTL" >&2
	exit 2
}
[ $# -gt 0 ] && programs=$*

modes="base passive tagall expire"
reclaim_programs="perl sqlite3 python3 redis"
expire_rules='size=4096-8191 ttl=100ms; every=5 ttl=20ms'
# Sizes nobody asks for and an object nobody has: reclaim is never taken.
reclaim_rules='size=3G- ttl=10ms action=reclaim; object=libnothing.so* ttl=10ms action=reclaim'

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
failures=

now_ms() { date +%s%3N; }

# A process still running with our token in its environment, wherever it
# went (a new session or process group escapes `timeout`'s kill).
leftovers() {
	grep -lsa "REAL_RUN_TOKEN=$1" /proc/[0-9]*/environ 2>/dev/null |
	    sed 's|/proc/\([0-9]*\)/environ|\1|'
}

# poll SOCKDIR STOPFILE COUNTFILE: memleasectl list on every live socket
# every 100 ms until STOPFILE exists; counts the answers it got.
# Through the socket files, not `memleasectl ps`, which would clean away
# the stale sockets this suite must see.
poll() {
	local got=0 s
	while [ ! -e "$2" ]; do
		for s in "$1"/*.sock; do
			[ -S "$s" ] || continue
			"$ctl" -S "$s" list --limit 20 >/dev/null 2>&1 &&
			    got=$((got + 1))
		done
		sleep 0.1
	done
	echo "$got" >"$3"
}

# run_mode PROGRAM MODE LIMIT_S: one run; sets $rc, $ms, $why
run_mode() {
	local prog=$1 mode=$2 limit=$3 dir=$tmp/$1.$2 token=$$.$1.$2
	local sock=$tmp/$1.$2.sock pid start left cores stale
	why=
	mkdir -p "$dir/w" && mkdir -m 700 "$sock"
	(cd "$dir/w" && "setup_$prog") >"$dir/setup.out" 2>&1 || {
		rc=255 ms=0 why="setup failed: $(head -c 300 "$dir/setup.out")"
		return
	}
	set --
	case $mode in
	base) ;;
	passive) set -- LD_PRELOAD="$lib" ;;
	tagall) set -- LD_PRELOAD="$lib" MEMLEASE_RULES='ttl=1h' ;;
	expire) set -- LD_PRELOAD="$lib" MEMLEASE_RULES="$expire_rules" \
	    MEMLEASE_SOCKET=on ;;
	reclaim) set -- LD_PRELOAD="$lib" MEMLEASE_RULES="$reclaim_rules" ;;
	esac
	[ "$mode" = expire ] && { poll "$sock" "$dir/stop" "$dir/polls" & }
	start=$(now_ms)
	# timeout makes a process group of its own: what the program leaves
	# there is killed below.  Cores land in the working folder.
	(
		cd "$dir/w" && ulimit -c unlimited &&
		exec timeout -k 5 "$limit" env -i \
		    PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME="$dir/w" \
		    LC_ALL=C TZ=UTC TERM=dumb REAL_RUN_TOKEN="$token" \
		    MEMLEASE_SOCKET_DIR="$sock" MEMLEASE_LOG="$dir/log" \
		    real_dir="$real_dir" ctl="$ctl" "$@" \
		    bash -c ". \"\$real_dir/programs.sh\" && run_$prog"
	) >"$dir/out" 2>"$dir/err" </dev/null &
	pid=$!
	wait $pid
	rc=$?
	ms=$(($(now_ms) - start))
	[ "$mode" = expire ] && { touch "$dir/stop"; wait; }
	left=$(pgrep -g "$pid"; leftovers "$token")
	if [ -n "$left" ]; then
		why="processes left: $(echo "$left" | sort -u | tr '\n' ' ')"
		kill -KILL -- "-$pid" $left 2>/dev/null
	fi
	[ "$rc" -eq 124 ] && why="timed out after ${limit}s $why"
	cores=$(find "$dir/w" -name core -o -name 'core.[0-9]*' | head -n 3)
	[ -n "$cores" ] && why="core files: $cores $why"
	stale=$(ls -A "$sock" | grep -v '^symbols-')     # names' cache files
	[ -n "$stale" ] && why="sockets left: $(echo "$stale" | head -n 5 |
	    tr '\n' ' ')$why"
	# ttl=1h outlives every run, and the reclaim rules match nothing
	case $mode in tagall|reclaim)
		[ -s "$dir/log" ] && why="a lease expired: $(head -n 1 "$dir/log") $why"
	esac
	if [ "$mode" = expire ]; then
		[ "$(cat "$dir/polls")" -gt 0 ] ||
		    why="memleasectl never got an answer $why"
		grep -q ' expired: ' "$dir/log" 2>/dev/null ||
		    why="no lease expired $why"
	fi
}

# compare PROGRAM MODE: the output of MODE against base's; sets $why
compare() {
	local b=$tmp/$1.base m=$tmp/$1.$2 f
	f=cat
	type "norm_$1" >/dev/null 2>&1 && f=norm_$1
	for s in out err; do
		$f <"$b/$s" >"$b/$s.norm"
		$f <"$m/$s" >"$m/$s.norm"
		cmp -s "$b/$s.norm" "$m/$s.norm" ||
		    why="$why$s differs: $(diff "$b/$s.norm" "$m/$s.norm" |
		    head -n 6 | tr '\n' '|' | cut -c1-400) "
	done
}

row() { printf '%-10s %-8s %-6s %8s %7s  %s\n' "$@"; }

result() {
	local prog=$1 mode=$2 ratio=$3
	if [ -z "$why" ]; then
		pass=$((pass + 1))
		row "$prog" "$mode" ok "$ms" "$ratio"
	else
		fail=$((fail + 1))
		row "$prog" "$mode" FAIL "$ms" "$ratio" "$why"
		failures="$failures $prog/$mode"
		for s in err out log; do
			[ -s "$tmp/$prog.$mode/$s" ] &&
			    tail -n 8 "$tmp/$prog.$mode/$s" | sed "s/^/    $s: /"
		done
	fi
}

row program mode result ms ratio
for prog in $programs; do
	run_mode "$prog" base 120
	base_ms=$ms base_rc=$rc
	[ "$rc" -eq 0 ] || why="base run exited $rc $why"
	result "$prog" base 1.00
	[ -z "$why" ] || continue       # nothing to compare with
	limit=$(( (4 * base_ms + 999) / 1000 ))
	[ "$limit" -ge 60 ] || limit=60
	m=$modes
	case " $reclaim_programs " in *" $prog "*) m="$m reclaim" ;; esac
	for mode in ${m#base }; do
		run_mode "$prog" "$mode" "$limit"
		[ "$rc" -eq "$base_rc" ] || why="exit status $rc, not $base_rc $why"
		compare "$prog" "$mode"
		result "$prog" "$mode" "$(awk -v a="$ms" -v b="$base_ms" \
		    'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')"
	done
	rm -rf "$tmp/$prog".*
done
echo
[ -z "$failures" ] || echo "failed:$failures"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
