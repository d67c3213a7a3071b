#!/bin/sh
# configure refuses a bad --with-entries-per-block, names the Debian package
# of a missing dependency, refuses --enable-fuzzers with a compiler that
# has no libFuzzer, and sets CONFIG_MEMLEASE_NUM_ENTRIES_PER_BUF.
# Prints TAP.
: "${top_srcdir:=.}"
src=$(cd "$top_srcdir" && pwd)
tmp=$(mktemp -d) || exit 99
trap 'rm -rf "$tmp"' EXIT
n=0 fail=0
result() {  # result OK DESCRIPTION
	n=$((n + 1))
	if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fail=1; fi
}
echo "1..6"
for bad in 0 -3 abc 65537; do
	(cd "$tmp" && "$src/configure" --with-entries-per-block="$bad" \
	    >out 2>&1)
	st=$?
	grep -q "with-entries-per-block=$bad: " "$tmp/out"
	said=$?
	[ "$st" -ne 0 ] && [ "$said" -eq 0 ]
	result $? "--with-entries-per-block=$bad is refused with a message"
done
# A missing library: hide libev's header from the compiler.
(cd "$tmp" && ac_cv_header_ev_h=no "$src/configure" >out 2>&1)
st=$?
[ "$st" -ne 0 ] && grep -q 'libev-dev' "$tmp/out"
result $? "a missing libev names the Debian package libev-dev"
# gcc has no libFuzzer: the message says to use clang
(cd "$tmp" && "$src/configure" CC=gcc --enable-fuzzers >out 2>&1)
st=$?
[ "$st" -ne 0 ] && grep -q 'enable-fuzzers: .*CC=clang.*libclang-rt-14-dev' \
    "$tmp/out"
result $? "--enable-fuzzers with gcc is refused, naming clang's packages"
exit $fail
