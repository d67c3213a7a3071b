#!/bin/sh
# configure refuses a bad --with-entries-per-block, names the Debian package
# of a missing dependency, and sets CONFIG_MEMLEASE_NUM_ENTRIES_PER_BUF.
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
echo "1..5"
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
exit $fail
