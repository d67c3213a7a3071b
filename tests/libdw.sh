#!/bin/sh
# libdw is loaded when the first frame must be named, never before:
# libmemlease.so does not link it, a process under the preload that names
# no frame (no rules; leases never reported; names all found in the cache
# files) never maps it, and one whose report names frames does.  When
# libdw.so.1 cannot be loaded (an empty file, or an object without its
# functions, first on LD_LIBRARY_PATH), frames are OBJECT+0xOFFSET and
# memlease says why once.  The program is the holder, held on a FIFO while
# its mappings are read.  Prints TAP.
. "${top_srcdir:=.}/tests/fixture-env.sh"
echo "1..7"

needed=$(readelf -d "$lib" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
ok "libmemlease.so needs neither libdw nor libelf ($(echo $needed))" \
    $(echo "$needed" | grep -Eq '^lib(dw|elf)[.-]'; test $? -eq 1; echo $?)

# start DIR [ENV=VALUE...]: the holder under the preload, its socket
# folder DIR, its log $tmp/log, until stop; waits for its first blocks
start() {
	dir=$1
	shift
	rm -f "$tmp/fifo" "$tmp/out" "$tmp/err" "$tmp/log"
	mkfifo "$tmp/fifo"
	env LD_PRELOAD="$lib" MEMLEASE_SOCKET_DIR="$dir" MEMLEASE_LOG="$tmp/log" \
	    "$@" "$fx/holder" 10 1 --stdin <"$tmp/fifo" >"$tmp/out" \
	    2>"$tmp/err" &
	pid=$!
	exec 3>"$tmp/fifo"
	until_true 'grep -q "^holder ready" "$tmp/out"'
}
stop() { exec 3>&-; wait "$pid"; }
# until_true COMMAND: until COMMAND succeeds, 10 s at most
until_true() {
	i=0
	while ! eval "$1" && [ $i -lt 200 ]; do
		sleep 0.05
		i=$((i + 1))
	done
}
# mapped: whether the holder maps libdw or libelf
mapped() { grep -Eq '/lib(dw|elf)[.-]' "/proc/$pid/maps"; }
# reported: whether the log has the holder's leases reported, their
# frames named (wait for them first)
reported() {
	until_true 'grep -q "hold_block+" "$tmp/log" 2>/dev/null'
	sleep 0.2       # the reports of the moment written
	grep -q "hold_block+" "$tmp/log" 2>/dev/null
}

mkdir -m 700 "$tmp/c1" "$tmp/c2"
start "$tmp/c1"
sleep 0.3
ok "no rules: libdw is not mapped" $(! mapped; echo $?)
stop

start "$tmp/c1" MEMLEASE_RULES='ttl=1h'
sleep 0.3
ok "leases that are never reported: libdw is not mapped" \
    $(! mapped; echo $?)
stop

start "$tmp/c1" MEMLEASE_RULES='ttl=50ms'
ok "leases reported: libdw is mapped, and names their frames" \
    $(reported && mapped; echo $?)
stop

start "$tmp/c1" MEMLEASE_RULES='ttl=50ms'
ok "leases reported again: named from the cache files, libdw not mapped" \
    $(reported && ! mapped && ls "$tmp/c1" | grep -q '^symbols-'; echo $?)
stop

# unloadable LIBDW WHAT: the holder with LIBDW as libdw.so.1
unloadable() {
	mkdir -p "$tmp/lib" && cp "$1" "$tmp/lib/libdw.so.1"
	rm -rf "$tmp/c2" && mkdir -m 700 "$tmp/c2"
	start "$tmp/c2" MEMLEASE_RULES='ttl=50ms' LD_LIBRARY_PATH="$tmp/lib"
	until_true 'grep -q "#1  [^ ]*/holder+0x" "$tmp/log" 2>/dev/null'
	stop
	ok "libdw.so.1 $2: frames are OBJECT+0xOFFSET, memlease says why once" \
	    $(test "$(count "#1  [^ ]*/holder+0x" "$tmp/log")" -gt 0 &&
	      test "$(count "hold_block" "$tmp/log")" -eq 0 &&
	      test "$(count "^memlease: cannot load libdw.so.1 (.*$3.*): frames are not named$" "$tmp/err")" -eq 1 &&
	      test "$(wc -l <"$tmp/err")" -eq 1; echo $?)
}
: >"$tmp/empty"
unloadable "$tmp/empty" "cannot be loaded (an empty file)" "too short"
unloadable "$top_builddir/tests/fixtures/.libs/deeplib.so" \
    "without libdw's functions" "undefined symbol"

exit $fail
