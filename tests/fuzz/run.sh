#!/bin/sh
# run.sh --seconds N --src DIR --out DIR NAME PROGRAM: run the libFuzzer
# target PROGRAM for N seconds from its seeds (DIR/corpus/NAME, with the
# dictionary DIR/NAME.dict).  What it finds stays in the build tree:
# OUT/NAME/corpus (new inputs), OUT/NAME/crash-* (failing inputs),
# OUT/NAME/log.  Prints one line, "fuzz NAME: passed: ..." with the run's
# figures, or "fuzz NAME: FAILED ..." with the end of the log; exits 1 if
# the target failed or did not run its time.
set -u
seconds=45 src= out=
while [ $# -gt 2 ]; do
	case $1 in
	--seconds) seconds=$2; shift 2 ;;
	--src) src=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	*) echo "run.sh: unknown option $1" >&2; exit 2 ;;
	esac
done
name=$1 prog=$2
dir=$out/$name
mkdir -p "$dir/corpus"
rm -f "$dir/log"
# -timeout: an input taking 10 s is a hang; -rss_limit_mb: a leak that
# grows for ever; leaks of one input are found by LSan (detect_leaks)
leaks=
case $name in
proto)
	# An input that changes the rules keeps the old ones (preload/decide.c),
	# and libFuzzer runs a whole leak check after each input that kept
	# memory: a tenth of the speed.  Leaks are looked for at exit (LSan,
	# all inputs together), then input by input over the corpus.
	leaks=-detect_leaks=0 ;;
esac
"$prog" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 $leaks \
    -print_final_stats=1 -dict="$src/$name.dict" \
    -artifact_prefix="$dir/" "$dir/corpus" "$src/corpus/$name" \
    >"$dir/log" 2>&1
status=$?
# the last status line: "#N DONE cov: C ft: F corp: ... exec/s: E rss: R"
last=$(grep -E '^#[0-9]+' "$dir/log" | tail -n 1)
field() { printf '%s\n' "$last" | sed -n "s/.* $1: \([^ ]*\).*/\1/p"; }
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/log" | head -n 1)
rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$dir/log" | head -n 1)
ran=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$dir/log" | head -n 1)
# the corpus again, each input with a leak check
if [ "$status" -eq 0 ] && [ -n "$leaks" ]; then
	"$prog" -runs=0 -detect_leaks=1 -artifact_prefix="$dir/" \
	    "$dir/corpus" "$src/corpus/$name" >"$dir/leaks.log" 2>&1 || {
		status=$?
		cat "$dir/leaks.log" >>"$dir/log"
	}
fi
crashes=$(find "$dir" -maxdepth 1 -type f \( -name 'crash-*' -o \
    -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) | wc -l)
figures="${execs:-?} execs in ${ran:-?} s, ${rate:-?} exec/s, cov $(field cov), ft $(field ft), corpus $(field corp), $crashes crashes"
if [ "$status" -eq 0 ] && [ -n "$ran" ] && [ "$crashes" -eq 0 ]; then
	echo "fuzz $name: passed: $figures"
	exit 0
fi
echo "fuzz $name: FAILED (status $status): $figures"
tail -n 60 "$dir/log" | sed 's/^/  /'
for f in $(find "$dir" -maxdepth 1 -type f -name '*-*' ! -name log); do
	echo "  failing input: $f (replay: $prog $f; keep it as a seed" \
	    "under tests/fuzz/corpus/$name/ with a name saying what it was)"
done
exit 1
