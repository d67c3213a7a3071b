#!/bin/sh
# bench/preload.sh --quick, the smoke run of the whole-program benchmark:
# it runs, and prints every cell of its table, the memory per tagged block
# and the floors.  Its figures are not judged here (a busy machine makes
# them noise at this size).  Prints TAP.
. "${top_srcdir:=.}/tests/fixture-env.sh"

b=$(cd "$top_builddir" && pwd)/bench
sh "$top_srcdir/bench/preload.sh" --quick --lib "$lib" --churn "$b/churn" \
    --shapes "$b/shapes" --floors "$b/floors" >"$tmp/out" 2>"$tmp/err"
rc=$?
ok "bench/preload.sh --quick runs (exit $rc)" "$rc"

cells=0
for w in churn-1t deep-1t manylive realloc; do
	grep -Eq "^$w +base +[0-9.]+ s \\(6\\)" "$tmp/out" || cells=1
	for c in norules tag-all sample; do
		grep -Eq "^$w +$c +[0-9.]+x \\(2\\) +([0-9]+ MiB|-) +<= [0-9.]+x.* (met|MISSED)" \
		    "$tmp/out" || cells=1
	done
done
ok "every workload and configuration has its cell: a ratio of 2 pairs, a target, met or missed" "$cells"
ok "the memory per tagged block at manylive, and a total of targets" \
    $(grep -q '^memory per tagged block, manylive (100000 live): ' "$tmp/out" &&
      grep -Eq '^1[34] targets: [0-9]+ met, [0-9]+ missed$' "$tmp/out"; echo $?)
ok "the floors: malloc+free, a 13-frame stack unwound and captured (remembered or not), the pointer map" \
    $(test "$(grep -c '^floor: .* [0-9.]* ns$' "$tmp/out")" -eq 5 &&
      grep -q '^floor: unw_backtrace, 13 frames' "$tmp/out" &&
      grep -q '^floor: stack capture, remembered' "$tmp/out" &&
      grep -q '^floor: stack capture, not remembered' "$tmp/out" &&
      grep -q '^floor: pointer map' "$tmp/out"; echo $?)

echo "1..$n"
exit $fail
