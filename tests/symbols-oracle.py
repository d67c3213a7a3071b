#!/usr/bin/python3
"""Compare the frames of memlease's JSON reports with binutils' addr2line.

    symbols-oracle.py LOG

Each distinct return address (object, object_offset) of the backtraces in
LOG: memlease's functions there (those inlined first, with "inlined": true,
then the one whose code it is), with file:line, against what
`addr2line -f -i -e OBJECT OBJECT_OFFSET` prints.  A function memlease does
not name must be one addr2line prints as "??".  addr2line's discriminators
are left out (memlease prints none).

One difference is allowed, counted apart, and only when a second reader of
DWARF settles it: the same functions and lines in another file, where
addr2line (binutils 2.40) names a file of the compilation unit other than
the line table's (the C library's DWARF 5: `sysdeps/x86/libc-start.c:58`
for `sysdeps/nptl/libc_start_call_main.h:58`, as readelf
--debug-dump=decodedline shows it); memlease's files must then be those
llvm-symbolizer prints.

And where addr2line has no line information, its name is the nearest
symbol below the address, whatever that symbol's size: in a stripped
object, another function's (deeplib-stripped.so's lib_after is named
deeplib_run, the exported function before it).  Such a name, of a symbol
whose size does not cover the address, is no name: memlease must give none.

And the C library's start-up frames (__libc_start_call_main,
__libc_start_main, _start) memlease names by their symbols, without the
DWARF of the C library's debug file (a dozen MiB once decompressed, for
frames that text reports leave out): there the function must be
addr2line's (or another name of it), and no file:line is given.

Prints the differences, then "agree N/M frames agree"; exits 0 when all
agree and M >= 500.
"""
import collections
import json
import os
import re
import subprocess
import sys

MIN_FRAMES = 500


def memlease_frames(path):
    """{(object, offset): [(function, location), ...]} from the log.  The
    frames of one return address are those inlined there, then one that is
    not: a recursive call gives the same address twice in a row."""
    frames = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line.startswith('{'):
                continue
            ev = json.loads(line)
            chain = []
            for fr in ev.get('backtrace', []):
                chain.append(fr)
                if fr.get('inlined'):
                    continue
                if any(c['ip'] != fr['ip'] for c in chain):
                    raise SystemExit('inlined frames of another address: %s'
                                     % chain)
                if fr.get('object'):
                    key = (fr['object'], fr['object_offset'])
                    frames[key] = [(c.get('function') or '??', location(c))
                                   for c in chain]
                chain = []
            if chain:
                raise SystemExit('inlined frames with no frame after them: %s'
                                 % chain)
    return frames


def location(fr):
    """As addr2line prints it: "??:0" where it found nothing at all, "??:?"
    for a function without line information."""
    if 'file' not in fr:
        return '??:?' if 'function' in fr else '??:0'
    return '%s:%s' % (fr['file'], fr.get('line') or '?')


def same_but_file(got, a2l, llvm):
    """The same functions and lines as addr2line, in llvm-symbolizer's
    files."""
    def line(loc):
        return loc.rsplit(':', 1)[1]

    def path(loc):
        return loc.rsplit(':', 1)[0]
    return len(got) == len(a2l) == len(llvm) and all(
        g[0] == w[0] and line(g[1]) == line(w[1]) and
        path(g[1]) == path(v[1]) and line(g[1]) == line(v[1])
        for g, w, v in zip(got, a2l, llvm))


def parse(out):
    """{offset: [(function, location), ...]} from the output of
    addr2line -a -f -i (or llvm-symbolizer's GNU style, the same)."""
    lines = out.splitlines()
    res, cur, i = {}, None, 0
    while i < len(lines):
        if re.match(r'^0x[0-9a-f]+$', lines[i]):
            cur = '%#x' % int(lines[i], 16)
            res[cur] = []
            i += 1
            continue
        if lines[i] == '':
            i += 1
            continue
        loc = re.sub(r' \(discriminator \d+\)$', '', lines[i + 1])
        res[cur].append((lines[i], loc))
        i += 2
    return res


def addr2line(obj, offsets):
    return parse(subprocess.run(
        ['addr2line', '-a', '-f', '-i', '-e', obj] + offsets,
        capture_output=True, text=True, check=True).stdout)


def llvm_symbolizer(obj, offsets):
    return parse(subprocess.run(
        ['llvm-symbolizer', '--obj=' + obj, '--addresses', '--inlining',
         '--functions=linkage', '--output-style=GNU'] + offsets,
        capture_output=True, text=True, check=True).stdout)


def covering(obj):
    """{name: [(start, end), ...]} of the function symbols of obj (.symtab
    and .dynsym) and of its debug file found by build-id, by their size."""
    paths = [obj]
    note = subprocess.run(['readelf', '-n', obj], capture_output=True,
                          text=True).stdout
    m = re.search(r'Build ID: ([0-9a-f]{2})([0-9a-f]+)', note)
    if m:
        debug = '/usr/lib/debug/.build-id/%s/%s.debug' % m.groups()
        if os.path.isfile(debug):
            paths.append(debug)
    syms = collections.defaultdict(list)
    for path in paths:
        out = subprocess.run(['readelf', '-sW', path], capture_output=True,
                             text=True).stdout
        for line in out.splitlines():
            f = line.split()
            if len(f) >= 8 and f[3] in ('FUNC', 'IFUNC') and f[6] != 'UND':
                start, size = int(f[1], 16), int(f[2], 0)
                syms[f[7].split('@')[0]].append((start, start + size))
    return syms


def right_name(a2l, off, syms):
    """addr2line's frames, its name taken away where it has no line
    information and no symbol of that name covers the address."""
    if len(a2l) != 1 or not a2l[0][1].startswith('??:') or a2l[0][0] == '??':
        return a2l, False
    if any(lo <= off < hi for lo, hi in syms.get(a2l[0][0], [])):
        return a2l, False
    return [('??', '??:0')], True


STARTUP = ('__libc_start_call_main', '__libc_start_main',
           '__libc_start_main_impl', '__libc_start_main_alias_1',
           '__libc_start_main_alias_2', '_start')


def startup_ok(got, a2l):
    """A start-up frame named by its symbol, no file:line: addr2line's
    outermost function, or another name of it (__libc_start_main has four
    symbols at its address, and DWARF calls it __libc_start_main_impl)."""
    return (len(got) == 1 and got[0][0] in STARTUP and bool(a2l) and
            a2l[-1][0] in STARTUP and got[0][1] == '??:?')


def main():
    frames = memlease_frames(sys.argv[1])
    by_obj = collections.defaultdict(list)
    for obj, off in frames:
        if os.path.isfile(obj):
            by_obj[obj].append(off)
    total = agree = file_only = neighbour = startup = 0
    for obj, offs in sorted(by_obj.items()):
        want = addr2line(obj, offs)
        syms = covering(obj)
        n_obj = ok_obj = 0
        for off in offs:
            got = frames[(obj, off)]
            n_obj += 1
            a2l = want.get('%#x' % int(off, 16)) or []
            a2l, guessed = right_name(a2l, int(off, 16), syms)
            if got == a2l:
                ok_obj += 1
                if guessed:
                    neighbour += 1
                    print('no name: %s %s: memlease none, addr2line the '
                          'symbol below, %s, whose size does not cover it'
                          % (obj, off, want.get('%#x' % int(off, 16))))
            elif startup_ok(got, a2l):
                startup += 1
                ok_obj += 1
            elif same_but_file(got, a2l, llvm_symbolizer(obj, [off]).get(
                    '%#x' % int(off, 16)) or []):
                file_only += 1
                ok_obj += 1
                print('file only: %s %s: memlease and llvm-symbolizer %s, addr2line %s'
                      % (obj, off, got, a2l))
            else:
                print('differ: %s %s: memlease %s, expected %s (addr2line %s)'
                      % (obj, off, got, a2l, want.get('%#x' % int(off, 16))))
        named = sum(1 for off in offs if frames[(obj, off)][0][0] != '??')
        inl = sum(1 for off in offs if len(frames[(obj, off)]) > 1)
        print('%s: %d/%d agree (%d named, %d with inlined functions)'
              % (obj, ok_obj, n_obj, named, inl))
        total += n_obj
        agree += ok_obj
    print('agree %d/%d frames agree (%d of them in another file of the '
          'same line, as llvm-symbolizer has it; %d unnamed, where '
          'addr2line names the symbol below; %d start-up frames by their '
          'symbols)' % (agree, total, file_only, neighbour, startup))
    return 0 if agree == total and total >= MIN_FRAMES else 1


sys.exit(main())
