#!/usr/bin/python3
"""Make a cache file of names (preload/symcache.c's format) for
tests/symbols.sh: well made, or broken in one way.

    symcache.py FILE BUILD_ID OFFSET NAME [FLAW]

One record: at OFFSET (hex, of the object), the function NAME in file
planted.c line 7.  FLAW: none, truncated (its last byte cut), string (a
string index past the strings), order (a second record before the
first), count (a record's count past the functions), id (another
build-id in the file), magic, huge (a count of 2^32-1), unterminated (the
strings without their last NUL).
"""
import struct
import sys

path, build_id, offset, name = sys.argv[1:5]
flaw = sys.argv[5] if len(sys.argv) > 5 else 'none'
offset = int(offset, 16)
NO_STR = 0xffffffff

strings = name.encode() + b'\0' + b'planted.c\0'
recs = [(offset, 0, 1)]
fns = [(0x10, 0, len(name) + 1, 7, 2)]          # with_offset
if flaw == 'order':
    recs.append((offset - 16, 0, 1))
if flaw == 'count':
    recs[0] = (offset, 0, 2)
if flaw == 'string':
    fns[0] = (0x10, len(strings) + 5, NO_STR, 7, 2)
if flaw == 'unterminated':
    strings = strings[:-1]
file_id = build_id.encode()
if flaw == 'id':
    file_id = ('0' * len(build_id)).encode()
nrecs = len(recs) if flaw != 'huge' else 0xffffffff
head = struct.pack('=8s4I', b'MLSYMS1\n' if flaw != 'magic' else b'MLSYMS9\n',
                   len(file_id), nrecs, len(fns), len(strings))
body = file_id + b'\0' * (-len(file_id) % 8)
body += b''.join(struct.pack('=Q2I', *r) for r in recs)
body += b''.join(struct.pack('=Q4I', *f) for f in fns)
body += strings
data = head + body
if flaw == 'truncated':
    data = data[:-1]
with open(path, 'wb') as f:
    f.write(data)
