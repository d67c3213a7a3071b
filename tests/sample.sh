#!/bin/sh
# Byte sampling (sample=) under the preload, on a program that keeps a
# known pattern of live blocks (tests/fixtures/sampled: 10,000 of 4 KiB
# and 1,000,000 of 32 B, 72,960,000 bytes): the estimates of the exit
# report, of stats, list --by-site, export, export --format folded and
# flamegraph, each marked as estimates;
# bad values refused with their position.  The sampler draws from the
# kernel's random source here, so the estimates are held to a generous
# bound: 5 standard deviations of the estimator (tests/test_sample.c
# derives them: 2.167e6 bytes, 45,250 blocks at sample=64k; the fixed
# seeds are tested there).  Prints TAP.
. "${top_srcdir:=.}/tests/fixture-env.sh"
. "$top_srcdir/tests/ctl-env.sh"

bytes=72960000 blocks=1010000
# within LIMIT of WANT, the program's own few other blocks aside
near() { awk -v x="$1" -v w="$2" -v d="$3" 'BEGIN { exit !(x - w <= d + 65536 && w - x <= d) }'; }

# --- the exit report (each lease, then one line of estimates) ----------------
rm -f "$tmp/log"
env MEMLEASE_RULES='sample=64k ttl=1h' MEMLEASE_REPORT_AT_EXIT=each \
    MEMLEASE_LOG="$tmp/log" MEMLEASE_LOG_FORMAT=json LD_PRELOAD="$lib" \
    "$fx/sampled" >"$tmp/out" 2>"$tmp/err"
rc=$?
grep '"event":"estimate_at_exit"' "$tmp/log" >"$tmp/est"
eb=$("$jf" estimated_bytes <"$tmp/est") el=$("$jf" estimated_leases <"$tmp/est")
ok "exit report: estimate_at_exit gives $eb bytes ($bytes within 5 sd, 10.8e6) and $el blocks ($blocks within 226,000)" \
    $(test "$rc" -eq 0 && test "$(wc -l <"$tmp/est")" -eq 1 &&
      test "$("$jf" estimated <"$tmp/est")" = true &&
      near "$eb" $bytes 10835000 && near "$el" $blocks 226250; echo $?)
sampled=$("$jf" sampled <"$tmp/est")
ok "exit report: about one block a 64 KiB is sampled ($sampled; 1094 expected, sd 33) and each reported" \
    $(test "$sampled" -gt 930 && test "$sampled" -lt 1260 &&
      test "$(count '"event":"live_at_exit"' "$tmp/log")" -eq "$sampled"; echo $?)

env MEMLEASE_RULES='sample=64k ttl=1h' MEMLEASE_REPORT_AT_EXIT=1 \
    MEMLEASE_LOG="$tmp/log2" LD_PRELOAD="$lib" "$fx/sampled" 1000 10 \
    >"$tmp/out" 2>"$tmp/err"
ok "exit report, text, grouped by stack: its last line says its figures are estimated" \
    $(tail -n 1 "$tmp/log2" | grep -q '^memlease: at exit: .* chosen by sample=; estimated: [0-9]* leases, [0-9]* bytes$'
      echo $?)

# --- memleasectl: stats, list --by-site, export -----------------------------
holder=$fx/sampled
start 'sample=64k ttl=1h' 10000 1000000 --wait
"$ctl" -p "$pid" --json stats >"$tmp/out" 2>"$tmp/err"
eb=$("$jf" estimated_bytes <"$tmp/out")
ok "stats --json: estimated true, $eb estimated bytes within 5 sd, sampled leases counted" \
    $(test "$("$jf" estimated <"$tmp/out")" = true &&
      test "$("$jf" sampled <"$tmp/out")" -gt 900 &&
      near "$eb" $bytes 10835000 &&
      near "$("$jf" estimated_leases <"$tmp/out")" $blocks 226250; echo $?)
"$ctl" -p "$pid" stats >"$tmp/out" 2>"$tmp/err"
ok "stats: the estimates are named so" \
    $(grep -q '^estimated bytes ' "$tmp/out" &&
      grep -q '^estimated leases ' "$tmp/out" && grep -q '^sampled ' "$tmp/out"
      echo $?)
"$ctl" -p "$pid" list --by-site >"$tmp/out" 2>"$tmp/err"
ok "list --by-site: headings say SAMPLED and EST.; make_big first, about 41 MB" \
    $(head -1 "$tmp/out" | grep -q '^ *SAMPLED  *SAMPLED BYTES  *EST. COUNT  *EST. BYTES  *SITE' &&
      sed -n 2p "$tmp/out" | grep -q 'make_big'; echo $?)
"$ctl" -p "$pid" --json list --by-site >"$tmp/out" 2>"$tmp/err"
ok "list --by-site --json: estimated true, each site its estimated_count and estimated_bytes" \
    $(test "$("$jf" estimated <"$tmp/out")" = true &&
      near "$("$jf" sites 0 estimated_bytes <"$tmp/out")" 40960000 10000000 &&
      test "$("$jf" sites 0 estimated_count <"$tmp/out")" != missing; echo $?)
"$ctl" -p "$pid" --json list --by-stack >"$tmp/out" 2>"$tmp/err"
ok "list --by-stack --json: estimated true, make_big's stack first with its estimates" \
    $(test "$("$jf" estimated <"$tmp/out")" = true &&
      near "$("$jf" stacks 0 estimated_bytes <"$tmp/out")" 40960000 10000000 &&
      "$jf" stacks 0 frames 0 function <"$tmp/out" | grep -q make_big
      echo $?)
eb=$("$jf" estimated_bytes <"$tmp/out")
ok "list --by-stack --json: the totals' estimated_bytes ($eb) within 5 sd" \
    $(near "$eb" $bytes 10835000; echo $?)
"$ctl" -p "$pid" list --by-stack >"$tmp/out" 2>"$tmp/err"
ok "list --by-stack: headings say SAMPLED and EST.; the totals line gives the estimates" \
    $(head -1 "$tmp/out" | grep -q '^ *SAMPLED  *SAMPLED BYTES  *EST. COUNT  *EST. BYTES  *OLDEST  *STACK' &&
      tail -n 1 "$tmp/out" | grep -q '^in all: .* sampled; estimated: .* leases, '
      echo $?)
"$ctl" -p "$pid" --json list --limit 1 >"$tmp/out" 2>"$tmp/err"
ok "list --json: a sampled lease gives its sample and weights" \
    $(test "$("$jf" leases 0 sample <"$tmp/out")" = 65536 &&
      test "$("$jf" leases 0 estimated_bytes <"$tmp/out")" != missing; echo $?)
"$ctl" -p "$pid" export >"$tmp/out" 2>"$tmp/err"
ok "export: memlease_estimated_bytes, its HELP saying it is an estimate" \
    $(grep -q "^memlease_estimated_bytes{pid=\"$pid\"" "$tmp/out" &&
      grep -q '^# HELP memlease_estimated_bytes An estimate' "$tmp/out" &&
      grep -q "^memlease_sampled{pid=\"$pid\"" "$tmp/out"; echo $?)

# --- flamegraph and export --format folded: estimated bytes ------------------
"$ctl" -p "$pid" --json list --by-stack >"$tmp/stacks" 2>"$tmp/err"
raw=$("$jf" bytes <"$tmp/stacks")
"$ctl" -p "$pid" flamegraph -o "$tmp/flame.svg" >"$tmp/out" 2>"$tmp/err"
rc=$?
xpath() { xmllint --xpath "string($1)" "$tmp/flame.svg" 2>>"$tmp/err"; }
root=$(xpath "//*[@id='f0']/@data-b")
ok "flamegraph: the root frame holds the estimated bytes ($root; $bytes within 5 sd, 10.8e6), not the $raw bytes sampled" \
    $(test "$rc" -eq 0 && test ! -s "$tmp/err" &&
      near "$root" $bytes 10835000 && test "$root" != "$raw" &&
      test "$raw" -lt $((bytes / 4)); echo $?)
est=$(xmllint --xpath "count(//*[local-name()='title'][contains(., '
est. ')])" "$tmp/flame.svg" 2>>"$tmp/err")
titles=$(xmllint --xpath "count(//*[local-name()='g']/*[local-name()='title'])" \
    "$tmp/flame.svg" 2>>"$tmp/err")
ok "flamegraph: title and subtitle say estimated bytes, each of its $titles frames' hover titles est." \
    $(xpath "//*[@id='title']" | grep -q '^Estimated live bytes by allocation stack: ' &&
      xpath "//*[@id='subtitle']" | grep -q '^estimated bytes and leases: of the [0-9]* leases listed, those byte sampling (sample=) chose' &&
      test "${titles:-0}" -ge 3 && test "$est" = "$titles"; echo $?)

"$ctl" -p "$pid" export --format folded >"$tmp/folded" 2>"$tmp/err"
rc=$?
sum=$(awk '{ s += $NF } END { print s }' "$tmp/folded")
ok "export --format folded: the lines' bytes are estimated ($sum; $bytes within 5 sd), not the $raw sampled" \
    $(test "$rc" -eq 0 && near "$sum" $bytes 10835000 && test "$sum" != "$raw"
      echo $?)
ok "export --format folded: stdout is folded lines alone, a note on stderr says the bytes are estimates" \
    $(! grep -qv '^[^ ].* [0-9][0-9]*$' "$tmp/folded" &&
      test "$(wc -l <"$tmp/err")" -eq 1 &&
      grep -q "^memleasectl: process $pid: estimated bytes: the leases byte sampling (sample=) chose" "$tmp/err"
      echo $?)
kill "$pid"

# --- without sample=: the bytes as they are, no note -------------------------
start 'ttl=1h caller=make_big' 100 100 --wait
"$ctl" -p "$pid" export --format folded >"$tmp/folded" 2>"$tmp/err"
rc=$?
"$ctl" -p "$pid" flamegraph -o "$tmp/flame.svg" >"$tmp/out" 2>>"$tmp/err"
ok "without sample=: folded lines and the flame graph give the bytes listed, unmarked" \
    $(test "$rc" -eq 0 && test ! -s "$tmp/err" &&
      test "$(awk '{ s += $NF } END { print s }' "$tmp/folded")" = 409600 &&
      test "$(xpath "//*[@id='f0']/@data-b")" = 409600 &&
      ! grep -q 'est\.\|estimated\|id="subtitle"' "$tmp/flame.svg"; echo $?)
kill "$pid"

# --- bad values: refused with their position, nothing tagged -----------------
for v in 0 -64k lots 64q 2048G 99999999999999999999; do
	env MEMLEASE_RULES="ttl=1h sample=$v" MEMLEASE_REPORT_AT_EXIT=1 \
	    MEMLEASE_LOG="$tmp/log" LD_PRELOAD="$lib" "$fx/sampled" 10 10 \
	    >"$tmp/out" 2>"$tmp/err"
	ok "sample=$v: refused at 1:8, the program runs on untagged" \
	    $(grep -q "1:8: sample=$v" "$tmp/err" &&
	      grep -q 'nothing was tagged' "$tmp/err" && grep -q ready "$tmp/out"
	      echo $?)
done

echo "1..$n"
exit $fail
