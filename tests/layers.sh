#!/bin/sh
# Layers point one way: the core (src/) and the protocol's common ground
# (wire/) include only the C library and themselves; the preload may
# include the core and wire/, never the CLI; the CLI includes only system
# headers, its own, wire/ and the public one.  The core's insides
# (src/core-private.h) are seen by the core and its own tests alone: the
# preload, the CLI, the benchmarks and the other tests know a core by
# core.h.  Prints TAP.
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
echo "1..5"
allowed='#include <(assert|errno|inttypes|linux/futex|linux/membarrier|pthread|stdatomic|stdbool|stddef|stdint|stdio|stdlib|string|sys/single_threaded|sys/syscall|time|unistd)\.h>|#include "(bitmap|clock|config|core|core-private|fault|labels|memlease|wordlock)\.h"'
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
# everything but src/ and the core's own tests
report "only src/ and the core's tests include core-private.h" "$(
    cd "$top_srcdir" && grep -Hn '^#include "core-private\.h"' \
    preload/*.[ch] cli/*.[ch] bench/*.c examples/*.c include/*.h \
    tests/*.[ch] tests/fuzz/*.[ch] 2>/dev/null |
    grep -Ev '^tests/test_(core|lone)\.c:')"
exit $fail
