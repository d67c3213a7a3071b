#!/bin/sh
# docs/flamegraph.sh - make docs/flamegraph.png, the README's flame graph,
# from a real run: perl under the preload, every block of 1 KiB or more
# tagged, drawn by memleasectl flamegraph and photographed by chromium,
# headless (Debian's chromium; tests/png.py crops the picture to the
# graph).
#
#   sh docs/flamegraph.sh [BUILD]   BUILD: the build tree (_build/default)
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$top/_build/default}" && pwd)
tmp=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT
mkdir -m 700 "$tmp/sock"
export MEMLEASE_SOCKET_DIR="$tmp/sock"

# a hash of strings, lists, a module loaded: a few stacks worth seeing
MEMLEASE_SOCKET=on MEMLEASE_BACKTRACE=64 MEMLEASE_RULES='size=1k- ttl=1h' \
LD_PRELOAD=$build/.libs/libmemlease.so perl -MPOSIX -e '
	$| = 1;
	$h{$_} = "x" x 2000 for 1 .. 300;
	@a = map { [1 .. 100] } 1 .. 50;
	$s = join ",", map { POSIX::floor($_ * 1.5) } 1 .. 5000;
	print "ready\n";
	sleep 30' >"$tmp/perl.out" &
pid=$!
until grep -qs ready "$tmp/perl.out"; do sleep 0.1; done
"$build/cli/memleasectl" -p "$pid" flamegraph -o "$tmp/perl.svg"
height=$(sed -n 's/.*<svg [^>]* height="\([0-9]*\)".*/\1/p' "$tmp/perl.svg")
sandbox=
[ "$(id -u)" -eq 0 ] && sandbox=--no-sandbox
HOME=$tmp chromium --headless $sandbox --disable-gpu --no-first-run \
    --hide-scrollbars --user-data-dir="$tmp/chromium" \
    --window-size="1200,$((height + 400))" --screenshot="$tmp/shot.png" \
    "file://$tmp/perl.svg" 2>/dev/null

# the top 1200 x height pixels, as an RGB PNG
/usr/bin/python3 "$top/tests/png.py" crop "$tmp/shot.png" "$height" \
    "$top/docs/flamegraph.png"
echo "docs/flamegraph.png: 1200x$height"
