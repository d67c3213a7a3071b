#!/bin/sh
# memleasectl report on logs written here in the shape of the preload's
# JSON reports (preload/json.c): grouped by stack, the most bytes first, a
# lease counted once, the totals line; --json read by python3; stdin and
# several files; and logs that are not well made (a line cut short, not
# JSON, of 2 MiB, of binary bytes, an event without its size, a file that
# is not there): each said with its file and line, the rest reported, exit
# status 1, never a crash.  Needs no preload, so that it runs in the
# sanitizer builds too.  Prints TAP.
. "${top_srcdir:=.}/tests/fixture-env.sh"
ctl=$top_builddir/cli/memleasectl
py=/usr/bin/python3

# ev PID ID SIZE AGE FUNCTION [STACK_ID]: an expiry report of a lease
# allocated by FUNCTION called from main
ev() {
	printf '{"event":"expired","pid":%s,"id":"%s","label":null,' "$1" "$2"
	printf '"size":%s,"addr":"0x5000","age_ms":%s,' "$3" "$4"
	printf '"action":"left to the program",'
	[ -n "${6:-}" ] && printf '"stack_id":"%s",' "$6"
	printf '"backtrace":[{"function":"%s","offset":19,' "$5"
	printf '"object":"/x/prog","ip":"0x%x"},' "$(printf '%s' "$5" | cksum |
	    cut -d' ' -f1)"
	printf '{"function":"main","offset":84,"object":"/x/prog",'
	printf '"ip":"0x1124"}]}\n'
}

{
	ev 7 0x1 100 200 small
	ev 7 0x2 4096 300 big
	ev 7 0x3 100 900 small
	ev 7 0x4 4096 250 big
	# the first lease again: touched after it expired
	ev 7 0x1 100 1500 small | sed 's/"expired"/"late_access"/'
	echo '{"event":"log_full","log_max":4096}'
	ev 8 0x1 100 50 small           # another process's lease 0x1
} >"$tmp/log.json"

"$ctl" report "$tmp/log.json" >"$tmp/out" 2>"$tmp/err"
rc=$?
cat >"$tmp/want" <<'EOF'
2 leases, 8.0KiB (8192 bytes), oldest 300ms:
  #0  big+0x13
  #1  main+0x54

3 leases, 300B (300 bytes), oldest 1.5s:
  #0  small+0x13
  #1  main+0x54

SUMMARY: 8492 bytes in 5 leases, from 2 stacks
EOF
want=$tmp/want
ok "report FILE: each stack once, the most bytes first, a lease once, totals" \
    $(test "$rc" -eq 0 && test ! -s "$tmp/err" &&
      sed 's/\[0x[0-9a-f]*\]$/[0x...]/' "$tmp/out" | cmp -s - "$tmp/want"
      echo $?)
want=

"$ctl" report <"$tmp/log.json" >"$tmp/stdin.out" 2>"$tmp/err"
rc=$?
"$ctl" report - <"$tmp/log.json" >"$tmp/dash.out" 2>>"$tmp/err"
ok "report, report -: standard input, read as a file is" \
    $(test "$rc" -eq 0 && cmp -s "$tmp/stdin.out" "$tmp/out" &&
      cmp -s "$tmp/dash.out" "$tmp/out"; echo $?)

# json: the --json result, as "COUNT BYTES OLDEST FIRST-FUNCTION [ID]"
# lines and a "total COUNT BYTES" line
json() {
	"$py" -c '
import json, sys
r = json.load(sys.stdin)
for s in r["stacks"]:
    print(s["count"], s["bytes"], s["oldest_ms"],
          s["frames"][0]["function"], s.get("stack_id", "-"))
print("total", r["count"], r["bytes"])'
}
"$ctl" --json report "$tmp/log.json" >"$tmp/out" 2>"$tmp/err"
rc=$?
ok "report --json: list --by-stack's shape, the same stacks and totals" \
    $(test "$rc" -eq 0 && test "$(wc -l <"$tmp/out")" -eq 1 &&
      test "$(json <"$tmp/out")" = "$(printf '%s\n' "2 8192 300 big -" \
	  "3 300 1500 small -" "total 5 8492")"; echo $?)

# stack_id: one stack across processes, whatever their addresses
{
	ev 1 0x1 10 5 a 00000000000000aa
	ev 2 0x1 10 7 b 00000000000000aa
	ev 2 0x2 1 1 c 00000000000000bb
} >"$tmp/ids.json"
"$ctl" report "$tmp/log.json" "$tmp/ids.json" >"$tmp/out" 2>"$tmp/err"
rc=$?
"$ctl" --json report "$tmp/ids.json" >"$tmp/ids.out" 2>>"$tmp/err"
ok "report FILE FILE: both read; a stack_id groups stacks of other frames" \
    $(test "$rc" -eq 0 &&
      grep -q '^SUMMARY: 8513 bytes in 8 leases, from 4 stacks$' \
	  "$tmp/out" &&
      grep -q '^2 leases, 20B (20 bytes), oldest 7ms, stack 00000000000000aa:$' \
	  "$tmp/out" &&
      test "$(json <"$tmp/ids.out")" = "$(printf '%s\n' \
	  "2 20 7 a 00000000000000aa" "1 1 1 c 00000000000000bb" \
	  "total 3 21")"; echo $?)

: >"$tmp/empty.json"
"$ctl" report "$tmp/empty.json" >"$tmp/out" 2>"$tmp/err"
rc=$?
ok "report of an empty log: no stack, the totals line, exit 0" \
    $(test "$rc" -eq 0 && test ! -s "$tmp/err" &&
      test "$(cat "$tmp/out")" = "SUMMARY: 0 bytes in 0 leases, from 0 stacks"
      echo $?)

# A log that is not well made: line 2 not JSON, 3 of 2 MiB, 4 of binary
# bytes with a NUL, 5 an event without a size, 6 JSON but not an object,
# 8 cut short at the end of the file; 1 and 7 good.
{
	ev 7 0x1 100 200 small
	echo 'memlease[7]: lease 0x2 expired: 64 bytes'
	head -c 2097152 /dev/zero | tr '\0' 'x'
	echo
	printf 'ab\001\000\377\376cd\n'
	echo '{"event":"expired","pid":7,"id":"0x9"}'
	echo '[1,2,3]'
	ev 7 0x3 100 900 small
	ev 7 0x4 4096 250 big | head -c 60
} >"$tmp/bad.json"
"$ctl" report "$tmp/bad.json" >"$tmp/out" 2>"$tmp/err"
rc=$?
# said FILE LINE TEXT: the message of a line left out
said() { grep -q "^memleasectl: report: $1:$2: $3.*; left out$" "$tmp/err"; }
bad=$tmp/bad.json
ok "report of a broken log: each bad line said with its line number" \
    $(said "$bad" 2 'not JSON: ' && said "$bad" 3 'a line of more than 1 MiB' &&
      said "$bad" 4 'not JSON: ' &&
      said "$bad" 5 'an event without a "size"' &&
      said "$bad" 6 'an event is not a JSON object' &&
      said "$bad" 8 'a line cut short (the file ends inside it)' &&
      test "$(wc -l <"$tmp/err")" -eq 6; echo $?)
ok "report of a broken log: the good lines reported, exit status 1" \
    $(test "$rc" -eq 1 &&
      grep -q '^SUMMARY: 200 bytes in 2 leases, from 1 stack$' "$tmp/out"
      echo $?)

# the messages are clean: no byte of the file reaches the terminal as is
ok "report of a broken log: messages hold no control character" \
    $(! LC_ALL=C grep -q "$(printf '[\001-\010\016-\037\177-\377]')" \
	"$tmp/err"; echo $?)

# many bad lines: the first ten said, then how many more; a missing file
# said, the others read
{
	i=0
	while [ $i -lt 25 ]; do echo "garbage $i"; i=$((i + 1)); done
	ev 7 0x1 100 200 small
} >"$tmp/many.json"
"$ctl" report "$tmp/many.json" "$tmp/none.json" "$tmp/empty.json" \
    >"$tmp/out" 2>"$tmp/err"
rc=$?
ok "report: ten bad lines said a file, then how many more; a missing file said" \
    $(test "$rc" -eq 1 && test "$(grep -c 'left out$' "$tmp/err")" -eq 11 &&
      grep -q "^memleasectl: report: $tmp/many.json: 15 more lines left out$" \
	  "$tmp/err" &&
      grep -q "^memleasectl: report: $tmp/none.json: No such file or directory$" \
	  "$tmp/err" &&
      grep -q '^SUMMARY: 100 bytes in 1 lease, from 1 stack$' "$tmp/out"
      echo $?)

# random bytes and random cuts of a real-shaped log: never a crash
crashed=0
i=0
while [ $i -lt 20 ]; do
	head -c $((i * 997 + 13)) /dev/urandom >"$tmp/rand.json"
	head -c $((i * 131 + 7)) "$tmp/log.json" >>"$tmp/rand.json"
	"$ctl" report "$tmp/rand.json" >/dev/null 2>&1
	st=$?
	[ "$st" -le 1 ] || { crashed=1; echo "# exit status $st" >>"$tmp/err"; }
	i=$((i + 1))
done
ok "report of random bytes and cut logs: exit status 0 or 1, never a crash" \
    "$crashed"

echo "1..$n"
exit $fail
