#!/bin/sh
# A fork child reuses the names of frames its parent made: the names made
# before the fork are the child's too (fork copies them), and a child
# reads no object, no debug file and no cache file to name them again.
# tests/fixtures/forkname, under a rule on its lease_me() with a TTL of
# 50 ms, has one block's expiry reported (its frames named from its ELF and
# DWARF), then forks once its names are saved in their cache file, and the
# child has a block of the same stack expire.  Observed with strace (the
# files each process opens, in any of its threads), not by timing: the
# parent opens forkname's ELF to name its frames; the child opens no
# object, no debug file and no cache file, and writes none (a process
# writes the names it learned), and its report gives the parent's names.
# Prints TAP.
. "${top_srcdir:=.}/tests/fixture-env.sh"

if ! command -v strace >/dev/null || ! command -v readelf >/dev/null ||
    ! command -v python3 >/dev/null; then
	echo "not ok 1 - strace, readelf and python3 are installed (Debian: strace, binutils, python3)"
	echo "1..1"
	exit 1
fi

prog=$(readlink -f "$fx/forkname")
id=$(readelf -n "$prog" | sed -n 's/.*Build ID: //p')
mkdir -m 700 "$tmp/sock"
mkfifo "$tmp/go"
env MEMLEASE_SOCKET_DIR="$tmp/sock" MEMLEASE_RULES='caller=lease_me ttl=50ms' \
    MEMLEASE_LOG="$tmp/log" MEMLEASE_LOG_FORMAT=json \
    strace -f -qq -e trace=openat,open,clone,clone3 -o "$tmp/strace" \
    -E LD_PRELOAD="$lib" "$prog" "$tmp/log" <"$tmp/go" >"$tmp/out" \
    2>"$tmp/err" &
run=$!
exec 3>"$tmp/go"
# the parent's names saved in forkname's cache file (at most 10 s), then
# the fork: the child has nothing left to write of them
i=0
while ! ls "$tmp/sock" | grep -q "^symbols-$id-[0-9a-f]*\$" &&
    [ $i -lt 200 ]; do
	sleep 0.05
	i=$((i + 1))
done
saved=$(ls "$tmp/sock" | grep -c "^symbols-$id-[0-9a-f]*\$")
echo go >&3
exec 3>&-
wait "$run"
rc=$?
parent=$(sed -n 's/^parent //p' "$tmp/out")
child=$(sed -n 's/^child //p' "$tmp/out")

# opens PID: the files that process PID opened, by any of its threads
# (strace -f names a thread by its own id: memlease's thread, which names
# frames for reports, is one); a thread is a process's when one of its
# threads made it (clone with CLONE_THREAD)
opens() {
	python3 -c 'import re, sys
lines = [l.split(None, 1) for l in open(sys.argv[1]) if l[:1].isdigit()]
threads, pending = [], {}
for tid, rest in lines:             # made by: (maker, made) of each thread
    if not rest.startswith("<..."):
        pending[tid] = "CLONE_THREAD" in rest and \
            re.match(r"clone3?\(", rest) is not None
    made = re.search(r"= ([0-9]+)$", rest.strip())
    if pending.get(tid) and made:
        threads.append((tid, made.group(1)))
ours, grown = {sys.argv[2]}, True
while grown:
    grown = False
    for maker, made in threads:
        if maker in ours and made not in ours:
            ours.add(made)
            grown = True
for tid, rest in lines:
    if tid in ours and re.match(r"(openat|open)\(", rest):
        print(rest.rstrip())' "$tmp/strace" "$1"
}

# each report: PID STACK_ID FUNCTION;FUNCTION;...
python3 -c 'import json, sys
for l in open(sys.argv[1]):
    e = json.loads(l)
    if e.get("event") == "expired":
        print(e["pid"], e["stack_id"],
              ";".join(f.get("function", "??") for f in e["backtrace"]))' \
    "$tmp/log" >"$tmp/reports" 2>>"$tmp/err"
ours=$(awk -v p="$parent" '$1 == p { print $2, $3 }' "$tmp/reports")
theirs=$(awk -v p="$child" '$1 == p { print $2, $3 }' "$tmp/reports")
ok "parent $parent and child $child: one expiry each, of one stack, named alike ($theirs)" \
    $(test "$rc" -eq 0 && test -n "$child" &&
      test "$(wc -l <"$tmp/reports")" -eq 2 && test "$ours" = "$theirs" &&
      echo "$theirs" | grep -q ' lease_me;round_of;main;'; echo $?)

opens "$parent" >"$tmp/parent"
ok "the parent opens forkname's ELF to name its frames (what strace is to see)" \
    $(grep -q "^open.*\"$prog\", O_RDONLY" "$tmp/parent"; echo $?)

opens "$child" >"$tmp/child"
ok "the child opens no object, no debug file, no cache file: it names nothing again" \
    $(test "$saved" -eq 1 && test -s "$tmp/child" &&
      ! grep -q "\"$prog\"" "$tmp/child" &&
      ! grep -q '"/usr/lib/debug/' "$tmp/child" &&
      ! grep -q '\.so[.0-9]*"' "$tmp/child" &&
      ! grep -q "\"$tmp/sock/symbols-" "$tmp/child"; echo $?)

echo "1..$n"
exit $fail
