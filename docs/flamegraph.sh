#!/bin/sh
# docs/flamegraph.sh - make docs/flamegraph.png, the README's flame graph,
# from a real run: perl under the preload, every block of 1 KiB or more
# tagged, drawn by memleasectl flamegraph and photographed by chromium,
# headless (Debian's chromium; python3 crops the picture to the graph).
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
/usr/bin/python3 - "$tmp/shot.png" "$height" "$top/docs/flamegraph.png" <<'EOF'
import struct, sys, zlib

def chunks(data):
    pos = 8
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        yield kind, data[pos + 8:pos + 8 + n]
        pos += 12 + n

data = open(sys.argv[1], "rb").read()
idat = b""
for kind, body in chunks(data):
    if kind == b"IHDR":
        w, h, depth, colour = struct.unpack(">IIBB", body[:10])
        bpp = {2: 3, 6: 4}[colour]
    elif kind == b"IDAT":
        idat += body
raw, rows, prev, i = zlib.decompress(idat), [], bytearray(w * bpp), 0
for y in range(h):
    f, line = raw[i], bytearray(raw[i + 1:i + 1 + w * bpp])
    i += 1 + w * bpp
    for x in range(len(line)):
        a = line[x - bpp] if x >= bpp else 0
        b, c = prev[x], prev[x - bpp] if x >= bpp else 0
        if f == 1: line[x] = (line[x] + a) & 255
        elif f == 2: line[x] = (line[x] + b) & 255
        elif f == 3: line[x] = (line[x] + (a + b) // 2) & 255
        elif f == 4:
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[x] = (line[x] + (a if pa <= pb and pa <= pc else
                                  b if pb <= pc else c)) & 255
    rows.append(line)
    prev = line
height = min(int(sys.argv[2]), h)
out = b"".join(b"\0" + bytes(r[x] for x in range(w * bpp) if x % bpp < 3)
               for r in rows[:height])
def chunk(kind, body):
    return (struct.pack(">I", len(body)) + kind + body +
            struct.pack(">I", zlib.crc32(kind + body) & 0xffffffff))
open(sys.argv[3], "wb").write(b"\x89PNG\r\n\x1a\n" +
    chunk(b"IHDR", struct.pack(">IIBBBBB", w, height, 8, 2, 0, 0, 0)) +
    chunk(b"IDAT", zlib.compress(out, 9)) + chunk(b"IEND", b""))
EOF
echo "docs/flamegraph.png: 1200x$height"
