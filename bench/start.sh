#!/bin/sh
# bench/start.sh - what the preload adds to a program's start, and the
# address space it takes.
#
#   bench/start.sh --lib LIBMEMLEASE.SO --holder TESTS/FIXTURES/HOLDER
#                  --space TESTS/FIXTURES/SPACE [--quick]
#
# Start-up: the holder fixture with no block and no pause (holder 0 0: it
# starts, prints a line from main(), exits), run RUNS times in a row under
# each configuration, the mean time from its start to its line (the same
# date(1) on both sides of each):
#   baseline  no preload
#   passive   libmemlease.so, no rules: no thread
#   socket    libmemlease.so, MEMLEASE_SOCKET=on: memlease's thread and its
#             socket made before main()
# The configurations take turns, in rounds (the machine may be shared).
# Address space: the space fixture under RLIMIT_AS of 512 MiB, how much it
# can still map without the preload, and with it, its thread running
# (leases of 50 ms reported) and not: the difference is what memlease took
# (tests/space.sh fails it above 16 MiB).
# --quick: fewer runs.  Prints a table; exits 1 only if a run fails.
set -eu

me=bench/start
# shellcheck source=bench/common.sh
. "$(dirname "$0")/common.sh"

usage() {
	echo "usage: bench/start.sh --lib LIBMEMLEASE.SO --holder HOLDER --space SPACE [--quick]"
	echo "  a program's start and its address space, with and without the preload"
}

lib='' holder='' space='' quick=0
args "lib holder space" "$@"
[ -f "$lib" ] || die "no preload library at '$lib' (--lib)"
[ -x "$holder" ] || die "no holder fixture at '$holder' (--holder)"
[ -x "$space" ] || die "no space fixture at '$space' (--space)"
clean_env "the baseline"

scratch
mkdir -m 700 "$tmp/sock"

rounds=5 runs=40
[ "$quick" -eq 1 ] && rounds=2 runs=10
configs="baseline passive socket"

# run CONFIG: RUNS starts of holder 0 0 under CONFIG; nanoseconds from
# each start to its line, in all
run() {
	case $1 in
	baseline) set -- ;;
	passive)  set -- LD_PRELOAD="$lib" ;;
	socket)   set -- LD_PRELOAD="$lib" MEMLEASE_SOCKET=on \
	              MEMLEASE_SOCKET_DIR="$tmp/sock" ;;
	esac
	i=0 ns=0
	while [ $i -lt $runs ]; do
		t0=$(date +%s%N)
		t1=$(env "$@" "$holder" 0 0 | { read -r _ && date +%s%N; }) ||
		    die "holder failed: $*"
		ns=$((ns + t1 - t0))
		i=$((i + 1))
	done
	echo "$ns"
}

for c in $configs; do eval "total_$c=0"; done
r=0
while [ $r -lt $rounds ]; do
	for c in $configs; do
		ns=$(run "$c")
		eval "total_$c=\$((total_$c + ns))"
	done
	r=$((r + 1))
done

echo "start-up: holder 0 0, $((rounds * runs)) starts each, mean time to main()"
for c in $configs; do
	eval "t=\$total_$c"
	printf '  %-9s %6d us\n' "$c" $((t / (rounds * runs) / 1000))
done

# free [ENV...]: KiB the space fixture can still map
free() {
	env "$@" "$space" 512 | awk '{ print $3 }'
}
plain=$(free)
echo "address space under RLIMIT_AS of 512 MiB: KiB memlease takes"
printf '  %-9s %6d KiB\n' passive $((plain - $(free LD_PRELOAD="$lib")))
printf '  %-9s %6d KiB\n' thread $((plain - $(free LD_PRELOAD="$lib" \
    MEMLEASE_LOG=/dev/null MEMLEASE_RULES='size=100 ttl=50ms')))
