"""png.py - the screenshots of chromium, read with python3's standard
library alone (8-bit RGB or RGBA, not interlaced, as chromium writes them).

  python3 png.py pixels FILE HEIGHT
      "WIDTH HEIGHT PAINTED R,G,B": the picture's size, how many pixels of
      its top HEIGHT rows are neither white nor the colour of its corner,
      and the colour at the middle of the row HEIGHT - 39 (tests/flame.sh:
      the root frame of a flame graph)
  python3 png.py crop FILE HEIGHT OUT
      the top HEIGHT rows of FILE written to OUT, as RGB (docs/flamegraph.sh)
"""
import struct
import sys
import zlib


def read(path):
    """(width, height, rows), each row a bytearray of RGB triples."""
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        sys.exit("%s: not a PNG" % path)
    pos, idat = 8, b""
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h, depth, colour, _, _, interlace = struct.unpack(
                ">IIBBBBB", body)
            if depth != 8 or colour not in (2, 6) or interlace:
                sys.exit("%s: not 8-bit RGB(A)" % path)
            bpp = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    raw, rows, prev, i = zlib.decompress(idat), [], bytearray(w * bpp), 0
    for _ in range(h):
        f, line = raw[i], bytearray(raw[i + 1:i + 1 + w * bpp])
        i += 1 + w * bpp
        for x in range(len(line)):
            a = line[x - bpp] if x >= bpp else 0
            b, c = prev[x], prev[x - bpp] if x >= bpp else 0
            if f == 1:
                line[x] = (line[x] + a) & 255
            elif f == 2:
                line[x] = (line[x] + b) & 255
            elif f == 3:
                line[x] = (line[x] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pr = a if pa <= pb and pa <= pc else b if pb <= pc else c
                line[x] = (line[x] + pr) & 255
        rows.append(line)
        prev = line
    rgb = [bytearray(r[x] for x in range(w * bpp) if x % bpp < 3)
           for r in rows]
    return w, h, rgb


def write(path, w, rows):
    def chunk(kind, body):
        return (struct.pack(">I", len(body)) + kind + body +
                struct.pack(">I", zlib.crc32(kind + body) & 0xffffffff))
    raw = b"".join(b"\0" + bytes(r) for r in rows)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" +
                chunk(b"IHDR", struct.pack(">IIBBBBB", w, len(rows), 8, 2,
                                           0, 0, 0)) +
                chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def main():
    cmd, path, height = sys.argv[1], sys.argv[2], int(sys.argv[3])
    w, h, rows = read(path)
    height = min(height, h)
    if cmd == "crop":
        write(sys.argv[4], w, rows[:height])
        return
    px = lambda x, y: tuple(rows[y][3 * x:3 * x + 3])
    corner = px(2, 2)
    painted = sum(1 for y in range(height) for x in range(w)
                  if px(x, y) not in (corner, (255, 255, 255)))
    print(w, h, painted, "%d,%d,%d" % px(w // 2, max(height - 39, 0)))


main()
