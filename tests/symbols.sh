#!/bin/sh
# Names that are right: memlease's frames against binutils' addr2line.
# Real stacks under the preload (tests/fixtures/deep: static and inlined
# functions built with -g -O2, the C library with its debug file from
# libc6-dbg, a library of ours with DWARF, without and stripped, and the
# program stripped), every frame of its JSON reports compared with what
# `addr2line -f -i -e OBJECT OFFSET` prints: the function, file:line and
# the functions inlined there, and no name where addr2line has none;
# llvm-symbolizer settles the files where addr2line names another file of
# the same line (tests/symbols-oracle.py).
# Prints TAP.
. "${top_srcdir:=.}/tests/fixture-env.sh"

for tool in addr2line readelf nm objcopy strip llvm-symbolizer xz python3; do
	if ! command -v $tool >/dev/null; then
		echo "not ok 1 - $tool is installed (Debian: binutils, llvm, xz-utils, python3)"
		echo "1..1"
		exit 1
	fi
done
libc=$(ldd "$fx/deep" | sed -n 's/.*libc\.so\.6 => \([^ ]*\).*/\1/p')
id=$(readelf -n "$libc" | sed -n 's/.*Build ID: //p')
if ! [ -f "/usr/lib/debug/.build-id/$(echo "$id" | cut -c1-2)/$(echo "$id" | cut -c3-).debug" ]; then
	echo "not ok 1 - the C library's debug file is installed (Debian: libc6-dbg)"
	echo "1..1"
	exit 1
fi

deeplib=$top_builddir/tests/fixtures/.libs/deeplib.so
cp "$deeplib" "$tmp/deeplib.so"
strip --strip-debug -o "$tmp/deeplib-nodwarf.so" "$deeplib"
strip --strip-all -o "$tmp/deeplib-stripped.so" "$deeplib"
strip --strip-all -o "$tmp/deep-stripped" "$fx/deep"

# each in a socket folder of its own: deep-stripped has deep's build-id,
# and would be given deep's names from its cache file
for prog in "$fx/deep" "$tmp/deep-stripped"; do
	rm -f "$tmp/log"
	rm -rf "$tmp/sock" && mkdir -m 700 "$tmp/sock"
	env MEMLEASE_SOCKET_DIR="$tmp/sock" \
	    MEMLEASE_RULES='ttl=1h' MEMLEASE_REPORT_AT_EXIT=each \
	    MEMLEASE_BACKTRACE=64 MEMLEASE_LOG_FORMAT=json \
	    MEMLEASE_LOG="$tmp/log" LD_PRELOAD="$lib" "$prog" \
	    "$tmp/deeplib.so" "$tmp/deeplib-nodwarf.so" \
	    "$tmp/deeplib-stripped.so" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	cat "$tmp/log" >>"$tmp/logs"
	ok "$(basename "$prog") runs under the preload and its leases are reported in JSON" \
	    $(test "$rc" -eq 0 && grep -q '^deep: [0-9]* blocks kept' "$tmp/out" &&
	      grep -q '"event":"live_at_exit"' "$tmp/log"; echo $?)
done

rm -f "$tmp/log" "$tmp/err" "$tmp/out"
python3 "$top_srcdir/tests/symbols-oracle.py" "$tmp/logs" >"$tmp/out" 2>"$tmp/err"
rc=$?
sed 's/^/# /' "$tmp/out" | grep -v '^# agree'
ok "$(sed -n 's/^agree //p' "$tmp/out") (as addr2line -f -i prints them, at least 500 frames)" \
    $(test "$rc" -eq 0; echo $?)
ok "JSON keeps the C library's start-up frames, and no frame is memlease's own" \
    $(grep -q '"function":"__libc_start_call_main"' "$tmp/logs" &&
      grep -q '"function":"_start"' "$tmp/logs" &&
      ! grep -q '"object":"[^"]*libmemlease' "$tmp/logs"; echo $?)

# The same stacks in text
rm -rf "$tmp/sock" && mkdir -m 700 "$tmp/sock"
rm -f "$tmp/log"
env MEMLEASE_SOCKET_DIR="$tmp/sock" MEMLEASE_RULES='ttl=1h' \
    MEMLEASE_REPORT_AT_EXIT=each MEMLEASE_LOG="$tmp/log" LD_PRELOAD="$lib" \
    "$tmp/deep-stripped" "$tmp/deeplib.so" "$tmp/deeplib-stripped.so" \
    >"$tmp/out" 2>"$tmp/err"
rc=$?
ok "text: name+0xOFF (file:line), inlined functions marked, OBJECT+0xOFFSET without a name, the start-up frames folded, none of memlease's" \
    $(test "$rc" -eq 0 &&
      grep -q '#[0-9]*  *lib_inlined (.*deeplib\.c:[0-9]*) \[inlined\]$' "$tmp/log" &&
      grep -q '#[0-9]*  *lib_static+0x[0-9a-f]* (.*deeplib\.c:[0-9]*)$' "$tmp/log" &&
      grep -q '#[0-9]*  */[^ ]*/deep-stripped+0x[0-9a-f]*$' "$tmp/log" &&
      grep -q '#[0-9]*  */[^ ]*/deeplib-stripped\.so+0x[0-9a-f]*$' "$tmp/log" &&
      ! grep -Eq '__libc_start|[^a-z_]_start|libmemlease' "$tmp/log"; echo $?)

# MiniDebugInfo: deeplib stripped, with the symbols of its static functions
# in an xz-compressed .gnu_debugdata (as Fedora's find-debuginfo makes it)
m=$tmp/mini
mkdir "$m"
nm -D "$deeplib" --format=posix --defined-only | awk '{ print $1 }' |
    sort >"$m/dynsyms"
nm "$deeplib" --format=posix --defined-only |
    awk '$2 == "T" || $2 == "t" { print $1 }' | sort >"$m/funcsyms"
comm -13 "$m/dynsyms" "$m/funcsyms" >"$m/keep"
objcopy --only-keep-debug "$deeplib" "$m/debug" &&
    objcopy -S --remove-section .gdb_index --remove-section .comment \
    --keep-symbols="$m/keep" "$m/debug" "$m/mini" && xz "$m/mini" &&
    objcopy --add-section .gnu_debugdata="$m/mini.xz" \
    "$tmp/deeplib-stripped.so" "$tmp/deeplib-minidebug.so"
rm -rf "$tmp/sock" && mkdir -m 700 "$tmp/sock"
rm -f "$tmp/log"
env MEMLEASE_SOCKET_DIR="$tmp/sock" MEMLEASE_RULES='ttl=1h' \
    MEMLEASE_REPORT_AT_EXIT=each MEMLEASE_LOG_FORMAT=json \
    MEMLEASE_LOG="$tmp/log" LD_PRELOAD="$lib" \
    "$fx/deep" "$tmp/deeplib-minidebug.so" >"$tmp/out" 2>"$tmp/err"
rc=$?
mini_names=$(python3 -c 'import json, sys
names = set()
for l in open(sys.argv[1]):
    for f in json.loads(l).get("backtrace", []):
        if f["object"].endswith("/deeplib-minidebug.so"):
            names.add(f.get("function", "??"))
print(" ".join(sorted(names)))' "$tmp/log")
ok "names from .gnu_debugdata (MiniDebugInfo): static functions of a stripped library (${mini_names:-none})" \
    $(test "$rc" -eq 0 && grep -q 'gnu_debugdata' "$m/../deeplib-minidebug.so" &&
      test "$mini_names" = "deeplib_run lib_after lib_static"; echo $?)

# --- the cache files: names for the next process of the same binaries ---

# run_deep DIR LOG: deep under the preload, its socket folder DIR
run_deep() {
	rm -f "$2"      # the log is appended to
	env MEMLEASE_SOCKET_DIR="$1" MEMLEASE_RULES='ttl=1h' \
	    MEMLEASE_REPORT_AT_EXIT=each MEMLEASE_BACKTRACE=64 \
	    MEMLEASE_LOG_FORMAT=json MEMLEASE_LOG="$2" LD_PRELOAD="$lib" \
	    "$fx/deep" >"$tmp/out" 2>"$tmp/err"
}
# names LOG: each frame of LOG, without its ip (the load addresses
# change from run to run), one a line
names() {
	python3 -c 'import json, sys
for l in open(sys.argv[1]):
    for f in json.loads(l).get("backtrace", []):
        f.pop("ip")
        print(json.dumps(f, sort_keys=True))' "$1"
}
# named_at LOG OFFSET: the function of deep's frame at OFFSET in LOG
named_at() {
	python3 -c 'import json, sys
for l in open(sys.argv[1]):
    for f in json.loads(l).get("backtrace", []):
        if f.get("object_offset") == sys.argv[2] and \
           f["object"].endswith("/deep") and not f.get("inlined"):
            print(f.get("function", "??")); sys.exit(0)' "$1" "$2"
}

mkdir -m 700 "$tmp/c1"
run_deep "$tmp/c1" "$tmp/ref"; rc1=$?
run_deep "$tmp/c1" "$tmp/again"; rc2=$?
names "$tmp/ref" >"$tmp/ref.names"
names "$tmp/again" >"$tmp/again.names"
deep_id=$(readelf -n "$fx/deep" | sed -n 's/.*Build ID: //p')
# its key: the build-id, and a hash of the files the names come from
key=$(cd "$tmp/c1" && ls | sed -n "s/^symbols-\($deep_id-[0-9a-f]*\)$/\1/p")
ok "a second run of deep names its frames from the cache files, as the first named them" \
    $(test "$rc1" -eq 0 && test "$rc2" -eq 0 &&
      test "$(wc -l <"$tmp/ref.names")" -gt 1000 &&
      cmp -s "$tmp/ref.names" "$tmp/again.names" &&
      test "$(stat -c %a "$tmp/c1/symbols-$key")" = 600 &&
      test -z "$(ls "$tmp/c1" | grep -v '^symbols-[0-9a-f]*-[0-9a-f]*$')"
      echo $?)

# deep stripped has deep's build-id: the names (none) of the one are not
# the other's
mkdir -m 700 "$tmp/c4"
cp "$tmp/deep-stripped" "$tmp/c4/deep"
env MEMLEASE_SOCKET_DIR="$tmp/c4" MEMLEASE_RULES='ttl=1h' \
    MEMLEASE_REPORT_AT_EXIT=each MEMLEASE_LOG=/dev/null LD_PRELOAD="$lib" \
    "$tmp/c4/deep" >/dev/null 2>&1
run_deep "$tmp/c4" "$tmp/log"; rc=$?
names "$tmp/log" >"$tmp/log.names"
ok "after deep stripped, which has its build-id, deep's frames have their names, not the stripped copy's none" \
    $(test "$rc" -eq 0 && test "$(ls "$tmp/c4" | grep -c "^symbols-$deep_id-")" -eq 2 &&
      cmp -s "$tmp/ref.names" "$tmp/log.names"; echo $?)

# A read marks a file used; a folder keeps 256 cache files at most, a
# write removing the least recently used beyond that, and nothing else
touch -d @1000000000 "$tmp/c1/symbols-$key"
run_deep "$tmp/c1" "$tmp/log"
used=$(stat -c %Y "$tmp/c1/symbols-$key")
ok "a cache file read is marked used (its time: $used)" \
    $(test "$used" -gt 1000000000; echo $?)
mkdir -m 700 "$tmp/c6"
python3 -c 'import os, sys
for i in range(300):            # the older, the smaller i
    f = os.path.join(sys.argv[1], "symbols-%040x-%016x" % (i, i))
    with open(f, "w") as o:
        o.write("x")
    os.chmod(f, 0o600)
    os.utime(f, (1000000000 + i, 1000000000 + i))
for f in ("symbols-other.1.tmp", "1.sock", "notes"):
    with open(os.path.join(sys.argv[1], f), "w") as o:
        o.write("x")
    os.utime(os.path.join(sys.argv[1], f), (1, 1))' "$tmp/c6"
run_deep "$tmp/c6" "$tmp/log"; rc=$?
left=$(ls "$tmp/c6" | grep -c '^symbols-[0-9a-f]*-[0-9a-f]*$')
ok "300 cache files planted, deep's written: 256 left ($left), the least recently used gone, deep's and the others kept" \
    $(test "$rc" -eq 0 && test "$left" -eq 256 &&
      test -f "$tmp/c6/symbols-$key" &&
      test -f "$tmp/c6/$(printf 'symbols-%040x-%016x' 299 299)" &&
      ! test -e "$tmp/c6/$(printf 'symbols-%040x-%016x' 0 0)" &&
      test -f "$tmp/c6/symbols-other.1.tmp" && test -f "$tmp/c6/1.sock" &&
      test -f "$tmp/c6/notes"; echo $?)

# A file that is trusted is read: a name planted in it is given
at=$(python3 -c 'import json, sys
for l in open(sys.argv[1]):
    for f in json.loads(l).get("backtrace", []):
        if f["object"].endswith("/deep") and not f.get("inlined"):
            print(f["object_offset"]); sys.exit(0)' "$tmp/ref")
real_name=$(named_at "$tmp/ref" "$at")
mkdir -m 700 "$tmp/c2"
python3 "$top_srcdir/tests/symcache.py" "$tmp/c2/symbols-$key" \
    "$key" "$at" planted_fn && chmod 600 "$tmp/c2/symbols-$key"
run_deep "$tmp/c2" "$tmp/log"; rc=$?
ok "a cache file of this user's, 0600 and well made, is read (a name planted at $at is given)" \
    $(test "$rc" -eq 0 && test "$(named_at "$tmp/log" "$at")" = planted_fn; echo $?)

# plant DIR FLAW: the planted file of deep in DIR, with FLAW
plant() {
	rm -rf "$1" && mkdir -m 700 "$1"
	python3 "$top_srcdir/tests/symcache.py" "$1/symbols-$key" \
	    "$key" "$at" planted_fn "$2" && chmod 600 "$1/symbols-$key"
}
# ignored WHAT: deep runs, and its frame at $at has its real name
ignored() {
	run_deep "$tmp/c3" "$tmp/log"
	rc=$?
	ok "a cache file $1 is not read (deep's frame at $at is $real_name)" \
	    $(test "$rc" -eq 0 && test -n "$real_name" &&
	      test "$(named_at "$tmp/log" "$at")" = "$real_name"; echo $?)
}
for flaw in truncated string order count id magic huge unterminated; do
	plant "$tmp/c3" "$flaw"
	ignored "with a flaw ($flaw)"
done
plant "$tmp/c3" none
chmod 644 "$tmp/c3/symbols-$key"
ignored "that others may read (0644)"
plant "$tmp/c3" none
chmod 620 "$tmp/c3/symbols-$key"
ignored "that the group may write (0620)"
plant "$tmp/c2" none
plant "$tmp/c3" none
rm "$tmp/c3/symbols-$key"
ln -s "$tmp/c2/symbols-$key" "$tmp/c3/symbols-$key"
ignored "that is a symbolic link"
if [ "$(id -u)" -eq 0 ] && id nobody >/dev/null 2>&1; then
	plant "$tmp/c3" none
	chown nobody "$tmp/c3/symbols-$key"
	ignored "of another user"
fi
plant "$tmp/c3" none
chmod 755 "$tmp/c3"
ignored "in a socket folder that others may enter (0755)"

echo "1..$n"
exit $fail
