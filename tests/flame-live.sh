#!/bin/sh
# memleasectl flamegraph, export --format folded and report against a live
# process under the preload (tests/fixtures/stacks: three allocation sites,
# two through one wrapper): the flame graph's root frame, the folded
# lines and the by_stack listing hold the bytes and leases that list
# --json and stats count; the SVG parsed by xmllint and opened in
# chromium, headless; and report on the JSON log of a run whose leases
# expire counts every expiry once.  Prints TAP.
. "${top_srcdir:=.}/tests/fixture-env.sh"
. "$top_srcdir/tests/ctl-env.sh"
py=/usr/bin/python3
holder=$fx/stacks

start 'size=500-4000 ttl=1h' hold 60
[ -S "$dir/$pid.sock" ] || echo "# the fixture's socket is not there" >&2

# What the process counts: leases and bytes by list --json and stats, and
# by the protocol's by_stack listing, asked without memleasectl.
"$ctl" -p "$pid" --json list >"$tmp/list.json" 2>>"$tmp/err"
"$ctl" -p "$pid" --json stats >"$tmp/stats.json" 2>>"$tmp/err"
"$fx/ctlclient" "$dir/$pid.sock" ask '{"cmd":"list","by_stack":true}' \
    >"$tmp/stacks.json" 2>>"$tmp/err"
"$py" - "$tmp/list.json" "$tmp/stacks.json" "$tmp/stats.json" \
    >"$tmp/counts" 2>>"$tmp/err" <<'EOF'
import json, sys
leases = json.load(open(sys.argv[1]))["leases"]
r = json.load(open(sys.argv[2]))["result"]
st = json.load(open(sys.argv[3]))
assert len(leases) == r["count"] == st["live_leases"], "counts differ"
assert sum(l["size"] for l in leases) == r["bytes"] == st["live_bytes"], \
    "bytes differ"
print(r["count"], r["bytes"], len(r["stacks"]))
EOF
read -r leases bytes nstacks <"$tmp/counts"
ok "the fixture's leases: list --json, stats and by_stack agree" \
    $(test "${leases:-0}" -eq 6 && test "$bytes" -eq 11500 &&
      test "$nstacks" -eq 3; echo $?)

"$ctl" -p "$pid" flamegraph -o "$tmp/flame.svg" >"$tmp/out" 2>"$tmp/err"
rc=$?
xpath() { xmllint --xpath "string($1)" "$tmp/flame.svg" 2>>"$tmp/err"; }
xmllint --noout "$tmp/flame.svg" 2>>"$tmp/err"
ok "flamegraph: xmllint parses it; its root frame holds list's leases and bytes" \
    $(test "$rc" -eq 0 && test ! -s "$tmp/err" &&
      test "$(xpath "//*[@id='f0']/@data-b")" = "$bytes" &&
      test "$(xpath "//*[@id='f0']/@data-n")" = "$leases"; echo $?)

# the frames of the allocation sites, on top, hold their sites' bytes
site() {
	xpath "//*[local-name()='g'][starts-with(*[local-name()='title'], '$1
')]/@data-b"
}
ok "flamegraph: each allocation site's frame holds its blocks' bytes" \
    $(test "$(site keep_small)" = 3000 && test "$(site keep_large)" = 8000 &&
      test "$(site keep_direct)" = 500; echo $?)

"$ctl" -p "$pid" export --format folded >"$tmp/folded" 2>"$tmp/err"
rc=$?
ok "export --format folded: a line a stack, their bytes list's bytes" \
    $(test "$rc" -eq 0 && test "$(wc -l <"$tmp/folded")" -eq "$nstacks" &&
      test "$(awk '{ s += $NF } END { print s }' "$tmp/folded")" = "$bytes" &&
      grep -q '^[^ ]*main;all;keep_large;wrap_alloc 8000$' "$tmp/folded"
      echo $?)

sandbox=
[ "$(id -u)" -eq 0 ] && sandbox=--no-sandbox
HOME=$tmp timeout 60 chromium --headless $sandbox --disable-gpu \
    --no-first-run --user-data-dir="$tmp/chromium" --dump-dom \
    "file://$tmp/flame.svg" >"$tmp/dom" 2>>"$tmp/chromium.err" ||
    echo "chromium failed" >>"$tmp/err"
ok "chromium: the flame graph's script says the root frame's bytes" \
    $(xmllint --xpath "string(//*[@id='details'])" "$tmp/dom" 2>>"$tmp/err" |
      grep -q "^all: .*, $bytes bytes (100.00%), $leases leases, $nstacks stacks$"
      echo $?)
kill "$pid" 2>/dev/null
wait "$pid" 2>/dev/null

# report: a run whose leases all expire, its JSON log
MEMLEASE_RULES='size=500-4000 ttl=20ms' MEMLEASE_LOG=$tmp/log.json \
    MEMLEASE_LOG_FORMAT=json LD_PRELOAD=$lib "$fx/stacks" flood 5 100 \
    >/dev/null 2>>"$tmp/err"
"$ctl" --json report "$tmp/log.json" >"$tmp/report.json" 2>>"$tmp/err"
rc=$?
"$py" - "$tmp/log.json" "$tmp/report.json" >"$tmp/counts" 2>>"$tmp/err" <<'EOF'
import json, sys
events = [json.loads(l) for l in open(sys.argv[1])]
events = [e for e in events if e["event"] == "expired"]
r = json.load(open(sys.argv[2]))
assert r["count"] == len(events), (r["count"], len(events))
assert r["bytes"] == sum(e["size"] for e in events)
assert sum(s["count"] for s in r["stacks"]) == r["count"]
b = [s["bytes"] for s in r["stacks"]]
assert b == sorted(b, reverse=True), "not the most bytes first"
print(r["count"], r["bytes"], len(r["stacks"]))
EOF
ok "report of a real JSON log: every expiry once, by stack, most bytes first" \
    $(test "$rc" -eq 0 && test "$(cat "$tmp/counts")" = "30 57500 3"
      echo $?)

"$ctl" report "$tmp/log.json" >"$tmp/out" 2>>"$tmp/err"
ok "report of a real JSON log: the text ends with the totals" \
    $(tail -n 1 "$tmp/out" |
      grep -q '^SUMMARY: 57500 bytes in 30 leases, from 3 stacks$'
      echo $?)

echo "1..$n"
exit $fail
