# ctl-env.sh - sourced, after fixture-env.sh, by the scripts that drive
# memleasectl against holders (tests/fixtures/holder) under the preload:
#   $ctl    memleasectl of the build    $jf   the jfield fixture
#   $dir    the socket folder of this run, $MEMLEASE_SOCKET_DIR
#   start RULES ARGS...   $holder (default: the holder fixture) under the
#                         preload with RULES and its socket open in $dir,
#                         ARGS its, run by $runner if set (setpriv ...);
#                         $pid once its socket is there; killed at exit,
#                         as every pid of $pids
ctl=$top_builddir/cli/memleasectl
jf=$fx/jfield
dir=$tmp/sock
mkdir -m 700 "$dir"
MEMLEASE_SOCKET_DIR=$dir
export MEMLEASE_SOCKET_DIR
pids=
trap 'for p in $pids; do kill "$p" 2>/dev/null; done; rm -rf "$tmp"' EXIT

start() {
	rules=$1; shift
	: >"$tmp/ready"
	# the runner itself not under the preload
	# shellcheck disable=SC2086
	$runner env MEMLEASE_RULES="$rules" MEMLEASE_SOCKET=on \
	    MEMLEASE_LOG="$tmp/log" MEMLEASE_SOCKET_DIR="$dir" LD_PRELOAD="$lib" \
	    "${holder:-$fx/holder}" "$@" >"$tmp/ready" 2>>"$tmp/err" &
	pid=$!
	pids="$pids $pid"
	i=0
	while { [ ! -S "$dir/$pid.sock" ] || ! grep -q ready "$tmp/ready"; } &&
	    [ $i -lt 100 ]; do
		sleep 0.05
		i=$((i + 1))
	done
}
