#!/bin/sh
# bench/ctl.sh - what the control socket costs, and how fast it answers.
#
#   bench/ctl.sh --lib LIBMEMLEASE.SO --holder HOLDER --ctlclient CTLCLIENT
#       --churn BENCH/CHURN [--memleasectl MEMLEASECTL] [--quick]
#
# Every host runs under the preload with MEMLEASE_SOCKET=on, its socket in
# a fresh folder of mode 0700.  Three figures, each with its target:
#   list      the fixture holder holding 1M blocks of 64 bytes, each a
#             lease (caller=hold_block ttl=1h): the time of one listing of
#             them all as JSON, page by page (list, cursor, next), and the
#             host's extra memory while listing: its VmHWM (peak RSS)
#             after the listings less before them; then the time of
#             memleasectl's table of them all.  Targets: < 2 s,
#             < 32 MiB, < 2 s.
#   flood     the same host, flooded: 120 clients each send 90 list
#             requests at once and read nothing, held 3 s (--quick: 2 s);
#             the host's extra memory meanwhile, its VmHWM after less its
#             RSS before (the peak reset through /proc/PID/clear_refs),
#             and a stats request must be answered after.  Target:
#             <= 32 MiB.
#   stats     the round trip of a stats request, request to response,
#             while the host runs bench/churn 2 threads with every block
#             tagged (ttl=1h): the median of 2000 of them.  Target: < 1 ms.
#   churn     the same churn (10M operations, 10k live blocks: its
#             listing) with a client listing in a loop, full listing after
#             full listing, against the same churn with no client.
#             Target: <= 1.10x.
# The client is `memleasectl list --json` if MEMLEASECTL is there and
# lists every lease, else the fixture `ctlclient SOCKET pages`; the table
# says which.
#
# The machine may be shared and noisy: a figure is the median of its runs,
# the two churn configurations take turns (ABAB...), and the ratio is a
# ratio of medians.  --quick, the smoke run of `./dev check`: 100k leases,
# 500 stats requests a run, 1M churn operations, 2 runs each; it needs
# nothing but what the build makes.  A missed target is printed, not
# failed: the exit status is 1 only if the benchmark itself broke (a host
# or a client failing).
#
# No host outlives the script: the holder waits for its standard input, a
# pipe that this shell holds, to close, and the trap ends the others; the
# socket folder is removed with the rest.
set -eu

me=bench/ctl
# shellcheck source=bench/common.sh
. "$(dirname "$0")/common.sh"

usage() {
	echo "usage: bench/ctl.sh --lib LIBMEMLEASE.SO --holder HOLDER" \
	    "--ctlclient CTLCLIENT"
	echo "           --churn BENCH/CHURN [--memleasectl MEMLEASECTL] [--quick]"
	echo "  the control socket: listing, stats latency, churn beside a lister"
	echo "  --quick  fewer leases and operations, fewer runs"
}

lib='' holder='' ctlclient='' churn='' memleasectl='' quick=0
args "lib holder ctlclient churn memleasectl" "$@"
[ -f "$lib" ] || die "no preload library at '$lib' (--lib)"
[ -x "$holder" ] || die "no holder fixture at '$holder' (--holder)"
[ -x "$ctlclient" ] || die "no ctlclient fixture at '$ctlclient' (--ctlclient)"
[ -x "$churn" ] || die "no churn program at '$churn' (--churn)"
clean_env "a client"

if [ "$quick" -eq 1 ]; then
	runs=2 leases=100000 requests=500 ops=1000000 flood_secs=2
else
	runs=5 leases=1000000 requests=2000 ops=10000000 flood_secs=3
fi
live=10000              # churn's live blocks
stats_ops=1000000000    # churn for the stats figure: ended when done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/memlease-bench.XXXXXX")
dir=$tmp/sock
mkdir -m 700 "$dir"
pids=
cleanup() {
	exec 9>&-       # the holder's standard input: it exits
	for p in $pids; do
		kill "$p" 2>/dev/null || :
	done
	wait 2>/dev/null || :
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

broken=0

# --- the hosts and the clients ----------------------------------------------

# await PID [READY]: until PID's socket is there (and the file READY says
# "ready"); 1 if PID ends first, or after 2 minutes
await() {
	tries=0
	until [ -S "$dir/$1.sock" ] && { [ $# -lt 2 ] || grep -q ready "$2"; }
	do
		kill -0 "$1" 2>/dev/null && [ "$tries" -lt 2400 ] || return 1
		sleep 0.05
		tries=$((tries + 1))
	done
}

# start_churn OPS: the churn under the preload, every block tagged; $cpid
start_churn() {
	MEMLEASE_RULES='ttl=1h' MEMLEASE_LOG=/dev/null MEMLEASE_SOCKET=on \
	    MEMLEASE_SOCKET_DIR=$dir LD_PRELOAD=$lib \
	    "$churn" 2 "$1" "$live" 9>&- 2>"$tmp/churn.err" &
	cpid=$!
	pids="$pids $cpid"
}

# list_all SOCKET: one full listing with the client chosen, on stdout
list_all() {
	if [ "$client" = memleasectl ]; then
		"$memleasectl" -S "$1" list --json 9>&-
	else
		"$ctlclient" "$1" pages '{"cmd":"list"}' 9>&-
	fi
}

# count_leases: the leases in list_all's output
count_leases() {
	if [ "$client" = memleasectl ]; then
		tr ',' '\n' | grep -c '{"id":"' || :
	else
		awk '{ n = $1 } END { print n + 0 }'
	fi
}

# count N: 1000 as 1k, 1000000 as 1M
count() {
	awk -v n="$1" 'BEGIN {
		print n % 1e6 == 0 ? n / 1e6 "M" : n % 1e3 == 0 ? n / 1e3 "k" : n
	}'
}

# hwm PID: its peak resident set, in KiB
hwm() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status"; }

# cpu PID: its user and system time so far, in clock ticks
cpu() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

# --- the table --------------------------------------------------------------

median() {
	tr ' ' '\n' | awk 'NF' | sort -g | awk '{ v[NR] = $1 } END {
		print NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
	}'
}

# row FIGURE VALUE [BASE RATIO TARGET RESULT]: a line of the table, kept
# for the end
row() {
	printf '%-32s %-26s %-9s %-6s %-9s %s\n' "$@" | sed 's/ *$//' \
	    >>"$tmp/rows"
}

# verdict CONDITION: PASS or MISS; CONDITION is awk's
verdict() {
	if awk "BEGIN { exit !($1) }"; then echo PASS; else echo MISS; fi
}

# failed FIGURE WHY: a figure the benchmark could not measure
failed() {
	echo "$me: $1: $2" >&2
	row "$1" "not measured: $2"
	broken=1
}

# --- list: the holder of many leases ------------------------------------------

# stop_holder: close its standard input; it exits
stop_holder() {
	exec 9>&-
	wait "$hpid"
}

fig_list() {
	mkfifo "$tmp/stop"
	MEMLEASE_RULES='caller=hold_block ttl=1h' MEMLEASE_LOG=/dev/null \
	    MEMLEASE_SOCKET=on MEMLEASE_SOCKET_DIR=$dir LD_PRELOAD=$lib \
	    "$holder" "$leases" 0 --size 64 --stdin <"$tmp/stop" \
	    >"$tmp/ready" 2>"$tmp/holder.err" &
	hpid=$!
	pids="$pids $hpid"
	exec 9>"$tmp/stop"
	if ! await "$hpid" "$tmp/ready"; then
		failed "list" "the holder has no socket"
		cat "$tmp/holder.err" >&2
		stop_holder || :
		return
	fi
	sock=$dir/$hpid.sock
	n=$("$ctlclient" "$sock" ask '{"cmd":"stats"}' result.live_leases)

	# the client: memleasectl if it lists them all; its first listing,
	# or ctlclient's, warms up (and is in the peak)
	before=$(hwm "$hpid")
	client=ctlclient why="not built"
	if [ -n "$memleasectl" ] && [ -x "$memleasectl" ]; then
		client=memleasectl
		if ! "$memleasectl" --version >/dev/null 2>&1; then
			why="--version failed"
		elif got=$(list_all "$sock" 2>"$tmp/ctl.err" | count_leases) &&
		    [ "$got" = "$n" ]; then
			why=
		else
			why="listed ${got:-no} leases of $n"
		fi
		[ -z "$why" ] || client=ctlclient
	fi
	if [ "$client" = memleasectl ]; then
		echo "client: $memleasectl -S SOCKET list --json"
	else
		echo "client: $ctlclient SOCKET pages '{\"cmd\":\"list\"}'" \
		    "(memleasectl: $why)"
		got=$(list_all "$sock" | count_leases)
		if [ "$got" != "$n" ]; then
			failed "list" "ctlclient listed $got leases of $n"
			stop_holder || :
			return
		fi
	fi

	times='' c0=$(cpu "$hpid") i=0
	while [ "$i" -lt "$runs" ]; do
		t0=$(date +%s%N)
		if ! list_all "$sock" >/dev/null; then
			failed "list" "the client failed"
			stop_holder || :
			return
		fi
		t1=$(date +%s%N)
		times="$times $(((t1 - t0) / 1000))"
		i=$((i + 1))
	done
	c1=$(cpu "$hpid")
	after=$(hwm "$hpid")
	# the same leases as memleasectl's table, with the same host
	tables='' i=0
	while [ "$client" = memleasectl ] && [ "$i" -lt "$runs" ]; do
		t0=$(date +%s%N)
		if ! "$memleasectl" -S "$sock" list >/dev/null 9>&-; then
			failed "list, table" "memleasectl failed"
			break
		fi
		t1=$(date +%s%N)
		tables="$tables $(((t1 - t0) / 1000))"
		i=$((i + 1))
	done
	flooded=0
	fig_flood
	stop_holder || { failed "list" "the holder failed"; return; }
	[ ! -e "$sock" ] || echo "$me: the holder left its socket" >&2

	us=$(echo "$times" | median)
	row "list $(count "$n") leases, JSON" "$(awk -v u="$us" -v n="$n" \
	    'BEGIN { printf "%.2f s (%.1f us a lease)", u / 1e6, u / n }')" \
	    "" "" "< 2 s" "$(verdict "$us < 2e6")"
	row "  of which the host's CPU" "$(awk -v t="$((c1 - c0))" \
	    -v hz="$(getconf CLK_TCK)" -v r="$runs" \
	    'BEGIN { printf "%.2f s", t / hz / r }')"
	if [ -n "$tables" ]; then
		us=$(echo "$tables" | median)
		row "list $(count "$n") leases, table" "$(awk -v u="$us" \
		    -v n="$n" 'BEGIN { printf "%.2f s (%.1f us a lease)",
		    u / 1e6, u / n }')" "" "" "< 2 s" "$(verdict "$us < 2e6")"
	fi
	row "host's extra peak RSS (VmHWM)" "$(awk -v a="$after" -v b="$before" \
	    'BEGIN { printf "%.1f MiB (%.0f -> %.0f)", (a - b) / 1024,
	    b / 1024, a / 1024 }')" "" "" "< 32 MiB" \
	    "$(verdict "$((after - before)) < 32 * 1024")"
	[ "$flooded" -eq 0 ] || flood_row
}

# rss PID: its resident set now, in KiB
rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

# fig_flood: the holder of fig_list ($hpid, $sock), flooded by clients
# that ask and never read
fig_flood() {
	f_before=$(rss "$hpid")
	if ! echo 5 >"/proc/$hpid/clear_refs" 2>/dev/null; then
		failed "flood" "its peak RSS cannot be reset (clear_refs)"
		return
	fi
	took=$("$ctlclient" "$sock" flood 120 90 "$flood_secs" 9>&-) || took=0
	f_after=$(hwm "$hpid")
	if [ "$took" -ne 120 ] || [ "$("$ctlclient" "$sock" ask \
	    '{"cmd":"stats"}' ok 9>&-)" != true ]; then
		failed "flood" "$took clients of 120 connected, or no answer after"
		return
	fi
	flooded=1
}

# flood_row: fig_flood's figure, in the table after the listing's
flood_row() {
	row "host's extra RSS, 120x90 flood" "$(awk -v a="$f_after" \
	    -v b="$f_before" 'BEGIN { printf "%.1f MiB (%.0f -> %.0f)",
	    (a - b) / 1024, b / 1024, a / 1024 }')" "" "" "<= 32 MiB" \
	    "$(verdict "$((f_after - f_before)) <= 32 * 1024")"
}

# --- stats: latency under churn -----------------------------------------------

fig_stats() {
	medians='' p99s='' i=0
	while [ "$i" -lt "$runs" ]; do
		start_churn "$stats_ops"
		r=''
		if await "$cpid"; then
			sleep 0.2       # its threads at work
			r=$("$ctlclient" "$dir/$cpid.sock" latency "$requests" \
			    '{"cmd":"stats"}' 9>&-) &&
			    kill -0 "$cpid" 2>/dev/null || r=''
		fi
		kill "$cpid" 2>/dev/null || :
		wait "$cpid" 2>/dev/null || :
		rm -f "$dir/$cpid.sock"     # killed: it stays
		if [ -z "$r" ]; then
			failed "stats" "no answers from the churn's socket"
			cat "$tmp/churn.err" >&2
			return
		fi
		medians="$medians ${r% *}"
		p99s="$p99s ${r#* }"
		i=$((i + 1))
	done
	m=$(echo "$medians" | median)
	row "stats round trip, under churn" "$(awk -v m="$m" \
	    -v p="$(echo "$p99s" | median)" \
	    'BEGIN { printf "%.1f us (p99 %.0f us)", m, p }')" "" "" \
	    "< 1 ms" "$(verdict "$m < 1000")"
}

# --- churn: beside a lister ---------------------------------------------------

# churn_run CONFIG: one run of the churn, alone or with a lister; its ns
# added to $tmp/CONFIG, the listings made to $tmp/listings
churn_run() {
	t0=$(date +%s%N)
	start_churn "$ops"
	if [ "$1" = lister ]; then
		(
			n=0
			while kill -0 "$cpid" 2>/dev/null; do
				if [ ! -S "$dir/$cpid.sock" ]; then
					sleep 0.001
				elif list_all "$dir/$cpid.sock" >/dev/null \
				    2>&1; then
					n=$((n + 1))
				fi
			done
			echo "$n" >>"$tmp/listings"
		) &
		lpid=$!
		pids="$pids $lpid"
	fi
	wait "$cpid" || return 1
	t1=$(date +%s%N)
	[ "$1" != lister ] || wait "$lpid"
	echo "$((t1 - t0))" >>"$tmp/$1"
}

fig_churn() {
	: >"$tmp/none"
	: >"$tmp/lister"
	: >"$tmp/listings"
	churn_run none || { failed "churn" "the churn failed"; return; }
	: >"$tmp/none"
	i=0
	while [ "$i" -lt "$runs" ]; do
		for c in none lister; do
			churn_run "$c" || {
				failed "churn with $c" "the churn failed"
				cat "$tmp/churn.err" >&2
				return
			}
		done
		i=$((i + 1))
	done
	base=$(median <"$tmp/none")
	with=$(median <"$tmp/lister")
	# the target on the ratio as printed: 1.10x is <= 1.10x
	ratio=$(awk -v a="$with" -v b="$base" 'BEGIN { printf "%.2f", a / b }')
	row "churn, a lister beside it" "$(awk -v t="$with" \
	    'BEGIN { printf "%.3f s", t / 1e9 }')" "$(awk -v t="$base" \
	    'BEGIN { printf "%.3f s", t / 1e9 }')" "${ratio}x" "<= 1.10x" \
	    "$(verdict "$ratio <= 1.10")"
	row "  full listings per run" "$(median <"$tmp/listings")"
}

printf '%s%s: medians of %d runs; %s CPUs; hosts under the preload, socket on\n' \
    "$me" "$([ "$quick" -eq 1 ] && echo ' --quick')" "$runs" \
    "$(nproc 2>/dev/null || echo '?')"
echo "list: holder, $(count "$leases") blocks of 64 bytes" \
    "(caller=hold_block ttl=1h)"
echo "stats: $requests requests a run, one at a time"
echo "churn: bench/churn 2 threads, $(count "$ops") operations," \
    "$(count "$live") live blocks," \
    "every block tagged (ttl=1h)"
: >"$tmp/rows"
echo "$me: list, $runs runs" >&2
fig_list
echo "$me: stats, $runs runs" >&2
fig_stats
echo "$me: churn, $runs runs of: none lister" >&2
fig_churn
echo
printf '%-32s %-26s %-9s %-6s %-9s %s\n' figure value base ratio target result
cat "$tmp/rows"
awk -v broken="$broken" '
$NF == "PASS" { n++ } $NF == "MISS" { n++; missed++ }
END { printf "\n%d targets: %d passed, %d missed%s\n", n, n - missed, missed,
    broken ? "; the benchmark FAILED" : "" }' "$tmp/rows"
exit "$broken"
