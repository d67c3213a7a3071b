#!/bin/sh
# The exported symbols of libmemlease.so are a contract: exactly the
# functions of preload/libmemlease.map, nothing else.  Prints TAP.
: "${top_srcdir:=.}" "${top_builddir:=.}"
lib=$top_builddir/.libs/libmemlease.so
echo "1..2"
want=$(sed -n '/global:/,/local:/p' "$top_srcdir/preload/libmemlease.map" |
    sed -n 's/^[[:space:]]*\([A-Za-z_]*\);$/\1/p' | sort)
got=$(nm -D --defined-only "$lib" 2>/dev/null | awk '$2 ~ /^[TDBRVW]$/ { print $3 }' |
    sed 's/@.*//' | grep -v '^MEMLEASE_' | sort)
if [ "$want" = "$got" ]; then
	echo "ok 1 - libmemlease.so exports exactly the symbols of libmemlease.map"
else
	echo "not ok 1 - libmemlease.so exports exactly the symbols of libmemlease.map"
	printf '%s\n' "$want" > exports.want.tmp; printf '%s\n' "$got" > exports.got.tmp
	diff exports.want.tmp exports.got.tmp | sed 's/^/# /'
	rm -f exports.want.tmp exports.got.tmp
	fail=1
fi
hdr=$(grep -o 'memlease_[a-z_]*(' "$top_srcdir/include/memlease.h" | tr -d '(' | sort -u)
if [ "$(printf '%s\n' "$want" | grep '^memlease_')" = "$hdr" ]; then
	echo "ok 2 - memlease.h declares exactly the exported functions"
else
	echo "not ok 2 - memlease.h declares exactly the exported functions"
	fail=1
fi
exit ${fail:-0}
