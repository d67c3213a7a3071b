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

for tool in addr2line llvm-symbolizer python3; do
	if ! command -v $tool >/dev/null; then
		echo "not ok 1 - $tool is installed (Debian: binutils, llvm, python3)"
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

for prog in "$fx/deep" "$tmp/deep-stripped"; do
	rm -f "$tmp/log"
	env MEMLEASE_RULES='ttl=1h' MEMLEASE_REPORT_AT_EXIT=1 \
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
echo "1..$n"
exit $fail
