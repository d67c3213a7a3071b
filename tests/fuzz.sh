#!/bin/sh
# The seed corpora of the fuzz targets (tests/fuzz/corpus/NAME), crash
# regressions among them, replayed through each target built without
# libFuzzer (tests/fuzz/replay.c): a test a seed.  Prints TAP.
: "${top_srcdir:=.}" "${top_builddir:=.}"
n=0 fail=0
plan=$(find "$top_srcdir/tests/fuzz/corpus" -type f ! -name '.*' | wc -l)
echo "1..$plan"
for name in rules proto args reply stacks; do
	for seed in "$top_srcdir/tests/fuzz/corpus/$name"/*; do
		[ -f "$seed" ] || continue
		n=$((n + 1))
		if out=$("$top_builddir/tests/fuzz/replay-$name" "$seed" 2>&1)
		then
			echo "ok $n - $name: ${seed##*/}"
		else
			echo "not ok $n - $name: ${seed##*/}"
			printf '%s\n' "$out" | tail -n 30 | sed 's/^/# /'
			fail=1
		fi
	done
done
[ "$n" -gt 0 ] || { echo "not ok 1 - no seeds found"; exit 1; }
exit $fail
