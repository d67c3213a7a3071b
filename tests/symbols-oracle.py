#!/usr/bin/python3
"""Compare the frames of memlease's JSON reports with binutils' addr2line.

    symbols-oracle.py LOG

Each distinct return address (object, object_offset) of the backtraces in
LOG: memlease's functions there (those inlined first, with "inlined": true,
then the one whose code it is), with file:line, against what
`addr2line -f -i -e OBJECT OBJECT_OFFSET` prints.  A function memlease does
not name must be one addr2line prints as "??".  addr2line's discriminators
are left out (memlease prints none).  One difference is allowed, and
counted apart: the same functions and lines in another file, where
addr2line (binutils 2.40) names the file that #includes the one holding the
code (the C library's DWARF 5: `sysdeps/x86_64/l10nflist.c:166` for
`intl/l10nflist.c:166`, a file of a few lines).  Prints the differences, then
"agree N/M frames agree"; exits 0 when all agree and M >= 500.
"""
import collections
import json
import os
import re
import subprocess
import sys

MIN_FRAMES = 500


def memlease_frames(path):
    """{(object, offset): [(function, location), ...]} from the log."""
    frames = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line.startswith('{'):
                continue
            ev = json.loads(line)
            chain, ip = [], None
            for fr in ev.get('backtrace', []) + [None]:
                if fr is None or fr['ip'] != ip:
                    if chain and chain[0].get('object'):
                        key = (chain[0]['object'], chain[0]['object_offset'])
                        frames[key] = [(c.get('function') or '??',
                                        location(c)) for c in chain]
                    chain = []
                if fr is None:
                    break
                ip = fr['ip']
                chain.append(fr)
    return frames


def location(fr):
    """As addr2line prints it: "??:0" where it found nothing at all, "??:?"
    for a function without line information."""
    if 'file' not in fr:
        return '??:?' if 'function' in fr else '??:0'
    return '%s:%s' % (fr['file'], fr.get('line') or '?')


def same_but_file(got, a2l):
    return len(got) == len(a2l) and all(
        g[0] == w[0] and g[1].rsplit(':', 1)[1] == w[1].rsplit(':', 1)[1]
        for g, w in zip(got, a2l))


def addr2line(obj, offsets):
    """{offset: [(function, location), ...]} as addr2line prints them."""
    out = subprocess.run(['addr2line', '-a', '-f', '-i', '-e', obj] + offsets,
                         capture_output=True, text=True, check=True).stdout
    lines = out.splitlines()
    res, cur, i = {}, None, 0
    while i < len(lines):
        if re.match(r'^0x[0-9a-f]+$', lines[i]):
            cur = '%#x' % int(lines[i], 16)
            res[cur] = []
            i += 1
            continue
        loc = re.sub(r' \(discriminator \d+\)$', '', lines[i + 1])
        res[cur].append((lines[i], loc))
        i += 2
    return res


def main():
    frames = memlease_frames(sys.argv[1])
    by_obj = collections.defaultdict(list)
    for obj, off in frames:
        if os.path.isfile(obj):
            by_obj[obj].append(off)
    total = agree = file_only = 0
    for obj, offs in sorted(by_obj.items()):
        want = addr2line(obj, offs)
        n_obj = ok_obj = 0
        for off in offs:
            got = frames[(obj, off)]
            n_obj += 1
            a2l = want.get('%#x' % int(off, 16)) or []
            if got == a2l:
                ok_obj += 1
            elif same_but_file(got, a2l):
                file_only += 1
                ok_obj += 1
                print('file only: %s %s: memlease %s, addr2line %s'
                      % (obj, off, got, a2l))
            else:
                print('differ: %s %s: memlease %s, addr2line %s'
                      % (obj, off, got, want.get('%#x' % int(off, 16))))
        named = sum(1 for off in offs if frames[(obj, off)][0][0] != '??')
        inl = sum(1 for off in offs if len(frames[(obj, off)]) > 1)
        print('%s: %d/%d agree (%d named, %d with inlined functions)'
              % (obj, ok_obj, n_obj, named, inl))
        total += n_obj
        agree += ok_obj
    print('agree %d/%d frames agree (%d of them in another file of the '
          'same line)' % (agree, total, file_only))
    return 0 if agree == total and total >= MIN_FRAMES else 1


sys.exit(main())
