#!/bin/sh
# Layers point one way: the core (src/) and the protocol's common ground
# (wire/) include only the C library and themselves; the preload may
# include the core and wire/, never the CLI; the CLI includes only system
# headers, its own, wire/ and the public one.  The core's insides
# (src/core-private.h) are seen by the core and its own tests alone: the
# preload, the CLI, the benchmarks and the other tests know a core by
# core.h.  Inside the preload, by the ranks below, no file includes the
# header of, or calls a function ml_PREFIX_* of, a file of its rank or a
# higher one.  Prints TAP.
: "${top_srcdir:=.}"
n=0 fail=0
check() {   # check DESCRIPTION FILES... : every #include must pass `allowed`
	desc=$1; shift
	report "$desc" "$(grep -Hn '^#include' "$@" 2>/dev/null |
	    grep -Ev "$allowed")"
}
report() {  # report DESCRIPTION BAD-LINES
	desc=$1 bad=$2
	n=$((n + 1))
	if [ -z "$bad" ]; then
		echo "ok $n - $desc"
	else
		echo "not ok $n - $desc"
		printf '%s\n' "$bad" | sed 's/^/# /'
		fail=1
	fi
}
echo "1..6"
allowed='#include <(assert|errno|inttypes|linux/futex|linux/membarrier|math|pthread|stdatomic|stdbool|stddef|stdint|stdio|stdlib|string|sys/single_threaded|sys/syscall|time|unistd)\.h>|#include "(alloc|bitmap|clock|config|core|core-private|fault|labels|memlease|sample|wordlock)\.h"'
check "src/ includes only the C library and itself" "$top_srcdir"/src/*.[ch]
allowed='#include <(errno|limits|signal|stdbool|stddef|stdio|stdlib|string|sys/socket|sys/stat|sys/types|sys/un|unistd)\.h>|#include "wire\.h"'
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
# everything but src/ and the core's own tests
report "only src/ and the core's tests include core-private.h" "$(
    cd "$top_srcdir" && grep -Hn '^#include "core-private\.h"' \
    preload/*.[ch] cli/*.[ch] bench/*.c examples/*.c include/*.h \
    tests/*.[ch] tests/fuzz/*.[ch] 2>/dev/null |
    grep -Ev '^tests/test_(core|lone)\.c:')"

# The preload's files by rank, lowest first.  A file may include the
# headers of, and call the functions of, files of a lower rank only (and
# its own: tag.c includes tag.h), so that no two files call each other,
# however far round; a module's prefix is its name (ml_tag_* in tag.c and
# tag.h).  Every file of preload/ has a rank: a new one fails the test
# until it is given one.
ranks='
0 guard heap object
1 real fd got
2 mem
3 symcache dw
4 symbols capture
5 sites ptrmap rules reclaim stacks
6 stackid
7 json bystack
8 report
9 options
10 conf loop
11 runtime threads
12 decide block
13 tag
14 listing
15 proto
16 lines
17 server
18 init
19 api shim preload
20 attach
'
rank_of() {
	printf '%s\n' "$ranks" | awk -v m="$1" '
	    { for (i = 2; i <= NF; i++) if ($i == m) { print $1; exit } }'
}
bad=
for f in "$top_srcdir"/preload/*.[ch]; do
	m=$(basename "$f"); m=${m%.?}
	r=$(rank_of "$m")
	if [ -z "$r" ]; then
		bad="$bad
$f: no rank in tests/layers.sh"
		continue
	fi
	for up in $(printf '%s\n' "$ranks" | awk -v r="$r" -v m="$m" '
	    NF && $1 >= r { for (i = 2; i <= NF; i++) if ($i != m) print $i }'); do
		hit=$(grep -Hn -e "^#include \"$up\\.h\"" \
		    -e "ml_${up}_[a-z_0-9]*(" "$f")
		[ -n "$hit" ] && bad="$bad
$hit  (rank $r calls $up, rank $(rank_of "$up"))"
	done
done
report "preload/: no file includes or calls a file of its rank or a higher one" \
    "$(printf '%s\n' "$bad" | sed '/^$/d')"
exit $fail
