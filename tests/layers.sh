#!/bin/sh
# Layers point one way: the core (src/) and the protocol's common ground
# (wire/) include only the C library and themselves; the preload may
# include the core and wire/, never the CLI; the CLI includes only system
# headers, its own, wire/ and the public one; inside the preload, by the
# ranks below, no file includes the header of, or calls a function
# ml_PREFIX_* of, a file of a higher rank.  Prints TAP.
: "${top_srcdir:=.}"
n=0 fail=0
check() {   # check DESCRIPTION FILES... : every #include must pass `allowed`
	desc=$1; shift
	n=$((n + 1))
	bad=$(grep -Hn '^#include' "$@" 2>/dev/null | grep -Ev "$allowed")
	if [ -z "$bad" ]; then
		echo "ok $n - $desc"
	else
		echo "not ok $n - $desc"
		printf '%s\n' "$bad" | sed 's/^/# /'
		fail=1
	fi
}
echo "1..5"
allowed='#include <(assert|errno|inttypes|linux/futex|linux/membarrier|pthread|stdatomic|stdbool|stddef|stdint|stdio|stdlib|string|sys/single_threaded|sys/syscall|time|unistd)\.h>|#include "(bitmap|clock|config|core|fault|labels|memlease|wordlock)\.h"'
check "src/ includes only the C library and itself" "$top_srcdir"/src/*.[ch]
allowed='#include <(errno|limits|stdbool|stddef|stdio|stdlib|string|sys/stat|sys/types|unistd)\.h>|#include "wire\.h"'
check "wire/ includes only the C library and itself" "$top_srcdir"/wire/*.[ch]
# the preload's own headers, the core's, wire/, the public one
own=$(cd "$top_srcdir" && ls preload/*.h src/*.h wire/*.h |
    sed 's|.*/||; s|\.h$||' | paste -sd'|')
allowed="#include <|#include \"($own|config|memlease)\\.h\""
check "preload/ includes the core and wire/, never the CLI" "$top_srcdir"/preload/*.[ch]
# the CLI's own headers, wire/, the public one
own=$(cd "$top_srcdir" && ls cli/*.h wire/*.h | sed 's|.*/||; s|\.h$||' | paste -sd'|')
allowed="#include <|#include \"($own|memlease)\\.h\""
check "cli/ includes wire/, neither the core nor the preload" "$top_srcdir"/cli/*.[ch]

# The preload's files by rank, lowest first.  A file may include the
# headers of, and call the functions of, files of its rank or a lower one;
# a module's prefix is its name (ml_tag_* in tag.c and tag.h).  Every file
# of preload/ has a rank: a new one fails the test until it is given one.
ranks='
0 guard mem real fd
1 sites ptrmap rules reclaim stacks
2 json
3 report
4 options
5 conf loop
6 runtime threads
7 decide block
8 tag
9 listing
10 proto lines
11 server
12 init
13 api shim preload
'
rank_of() {
	printf '%s\n' "$ranks" | awk -v m="$1" '
	    { for (i = 2; i <= NF; i++) if ($i == m) { print $1; exit } }'
}
n=$((n + 1))
bad=
for f in "$top_srcdir"/preload/*.[ch]; do
	m=$(basename "$f"); m=${m%.?}
	r=$(rank_of "$m")
	if [ -z "$r" ]; then
		bad="$bad
$f: no rank in tests/layers.sh"
		continue
	fi
	for up in $(printf '%s\n' "$ranks" | awk -v r="$r" '
	    NF && $1 > r { for (i = 2; i <= NF; i++) print $i }'); do
		hit=$(grep -Hn -e "^#include \"$up\\.h\"" \
		    -e "ml_${up}_[a-z_0-9]*(" "$f")
		[ -n "$hit" ] && bad="$bad
$hit  (rank $r calls up to $up, rank $(rank_of "$up"))"
	done
done
if [ -z "$bad" ]; then
	echo "ok $n - preload/: no file includes or calls a file of a higher rank"
else
	echo "not ok $n - preload/: no file includes or calls a file of a higher rank"
	printf '%s\n' "$bad" | sed '/^$/d; s/^/# /'
	fail=1
fi
exit $fail
