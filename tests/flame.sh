#!/bin/sh
# memleasectl flamegraph and export --format folded against a stand-in for
# a process: a python3 server of the protocol that answers "hello" and
# "list" by_stack with stacks written here, some of their names hostile
# (markup, quotes, ampersands, a ';', a program name of markup).  The SVG
# is read by a real XML parser (xmllint, Debian's libxml2-utils), its
# totals checked against the listing, and opened in a real browser
# (Debian's chromium, headless): the DOM after its script ran
# (--dump-dom: the root frame's bytes as the script says them, a zoom),
# and a screenshot whose pixels are counted.  Needs no preload, so that it
# runs in the sanitizer builds too.  Prints TAP.
. "${top_srcdir:=.}/tests/fixture-env.sh"
. "$top_srcdir/tests/ctl-env.sh"
py=/usr/bin/python3
sock=$dir/fake.sock

for tool in xmllint chromium; do
	command -v "$tool" >/dev/null 2>&1 ||
	    echo "# $tool is not installed: install libxml2-utils and" \
	        "chromium (./dev check does)"
done

# The stacks the stand-in lists: 400050 bytes in 6 leases, of 3 stacks;
# the first with the C library's start-up frames, the second with a frame
# without a name and one whose name is markup, the third without frames.
cat >"$tmp/stacks.json" <<'EOF'
[
 {"stack_id":"00000000000000a1","count":3,"bytes":300000,"oldest_ms":5,
  "frames":[
   {"function":"keep_for_peer","offset":19,"object":"/x/bootlog",
    "object_offset":4000,"ip":"0x1"},
   {"function":"main","offset":84,"object":"/x/bootlog",
    "object_offset":4100,"ip":"0x2"},
   {"function":"__libc_start_call_main","offset":1,
    "object":"/lib/libc.so.6","object_offset":1,"ip":"0x3"},
   {"function":"__libc_start_main","offset":1,"object":"/lib/libc.so.6",
    "object_offset":2,"ip":"0x4"},
   {"function":"_start","offset":1,"object":"/x/bootlog",
    "object_offset":3,"ip":"0x5"}]},
 {"stack_id":"00000000000000a2","count":2,"bytes":100000,"oldest_ms":5,
  "frames":[
   {"object":"/usr/lib/libz.so.1","object_offset":4660,"ip":"0x6"},
   {"function":"<script>alert(\"x\")</script> & 'q';b","offset":1,
    "object":"/x/a b/bootlog","object_offset":17,"ip":"0x7",
    "inlined":true},
   {"function":"main","offset":80,"object":"/x/bootlog",
    "object_offset":4096,"ip":"0x8"}]},
 {"stack_id":"00000000000000a3","count":1,"bytes":50,"oldest_ms":5,
  "frames":[]}
]
EOF

# The stand-in: one connection at a time, a JSON line each way.
"$py" - "$sock" "$tmp/stacks.json" >"$tmp/fake.out" 2>&1 <<'EOF' &
import json, os, socket, sys
path, data = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(path)
s.listen(4)
while True:
    c, _ = s.accept()
    f = c.makefile("rwb")
    for line in f:
        req = json.loads(line)
        res = None
        if req.get("cmd") == "hello":
            res = {"proto": 1, "pid": os.getpid(), "version": "0",
                   "program": "/usr/bin/<fake&>"}
        elif req.get("cmd") == "list" and req.get("by_stack") is True:
            stacks = json.load(open(data))
            res = {"stacks": stacks,
                   "count": sum(x["count"] for x in stacks),
                   "bytes": sum(x["bytes"] for x in stacks)}
        out = {"id": req["id"], "ok": res is not None}
        if res is None:
            out["error"] = {"code": "EINVAL", "message": "not here"}
        else:
            out["result"] = res
        f.write((json.dumps(out) + "\n").encode())
        f.flush()
    c.close()
EOF
fake=$!
pids="$pids $fake"
i=0
while [ ! -S "$sock" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done

# 1. folded lines
"$ctl" -S "$sock" export --format folded >"$tmp/out" 2>"$tmp/err"
rc=$?
printf '%s\n' "main;keep_for_peer 300000" \
    "main;<script>alert(\"x\")</script> & 'q':b;libz.so.1+0x1234 100000" \
    "[no backtrace] 50" >"$tmp/want"
want=$tmp/want
ok "export --format folded: a line a stack, outermost first, bytes last" \
    $(test "$rc" -eq 0 && cmp -s "$tmp/out" "$tmp/want"; echo $?)
want=

"$ctl" -S "$sock" export --format folded -o "$tmp/stacks.folded" \
    >"$tmp/out" 2>"$tmp/err"
ok "export --format folded -o FILE: the file holds the same lines" \
    $(test ! -s "$tmp/out" && cmp -s "$tmp/stacks.folded" "$tmp/want"
      echo $?)

# 2. the SVG, read by xmllint: well-formed, its root frame all the bytes
"$ctl" -S "$sock" flamegraph -o "$tmp/flame.svg" >"$tmp/out" 2>"$tmp/err"
rc=$?
# xpath EXPR: its string value in the SVG
xpath() {
	xmllint --xpath "string($1)" "$tmp/flame.svg" 2>>"$tmp/err"
}
g() { echo "//*[local-name()='g'][@class='f' or @class='f under']$1"; }
xmllint --noout "$tmp/flame.svg" 2>>"$tmp/err"
ok "flamegraph -o FILE: an SVG document xmllint parses" \
    $(test "$rc" -eq 0 && test ! -s "$tmp/err" && test ! -s "$tmp/out" &&
      test "$(xpath 'namespace-uri(/*)')" = http://www.w3.org/2000/svg
      echo $?)

frames=$(xpath "count($(g ''))")
root=$(xpath "$(g "[@id='f0']/@data-b")")
leases=$(xpath "$(g "[@id='f0']/@data-n")")
ok "flamegraph: the root frame holds the listing's 400050 bytes in 6 leases" \
    $(test "$root" = 400050 && test "$leases" = 6 &&
      xpath "$(g "[@id='f0']")/*[local-name()='title']" |
      grep -q '^all$' && test "$frames" -ge 5; echo $?)

"$ctl" -S "$sock" flamegraph >"$tmp/stdout.svg" 2>"$tmp/err"
ok "flamegraph without -o: the same document on standard output" \
    $(cmp -s "$tmp/stdout.svg" "$tmp/flame.svg"; echo $?)

hostile=$(xpath "$(g "[starts-with(*[local-name()='title'], '<script>')]/@data-b")")
title=$(xpath "//*[@id='title']")
ok "flamegraph: names of markup are text: escaped, read back as they were" \
    $(test "$hostile" = 100000 &&
      test "$title" = "Live bytes by allocation stack: /usr/bin/<fake&>[$fake]" &&
      test "$(xpath "count(//*[local-name()='script'])")" = 1 &&
      ! grep -q '<script>alert' "$tmp/flame.svg"; echo $?)

ok "flamegraph: the C library's start-up frames are left out" \
    $(test "$(xpath "count($(g "[starts-with(*[local-name()='title'], '__libc')]"))")" = 0 &&
      test "$(xpath "count($(g "[starts-with(*[local-name()='title'], '_start')]"))")" = 0
      echo $?)

ok "flamegraph: self-contained, nothing to load (no href, no src)" \
    $(! grep -q 'href\|src=\|@import\|url(' "$tmp/flame.svg"; echo $?)

# 3. in a browser: the DOM after the script ran, and a screenshot
# chrome ARGS...: chromium headless on the SVG, its own profile folder
chrome() {
	sandbox=
	[ "$(id -u)" -eq 0 ] && sandbox=--no-sandbox
	HOME=$tmp timeout 60 chromium --headless $sandbox --disable-gpu \
	    --no-first-run --hide-scrollbars --user-data-dir="$tmp/chromium" \
	    "$@" 2>>"$tmp/chromium.err"
}
height=$(xpath '/*/@height')
url="file://$tmp/flame.svg"
chrome --dump-dom "$url" >"$tmp/dom" || echo "chromium failed" >>"$tmp/err"
# dom EXPR: its string value in the DOM chromium dumped
dom() { xmllint --xpath "string($1)" "$tmp/dom" 2>>"$tmp/err"; }
details=$(dom "//*[@id='details']")
ok "chromium: the script ran and says the root frame's 400050 bytes" \
    $(echo "$details" |
      grep -q '^all: 391KiB, 400050 bytes (100.00%), 6 leases, 3 stacks$'
      echo $?)

# zoomed on keep_for_peer: it is the whole width, the frames beside it
# are hidden, those below it faded
keep=$(xpath "$(g "[starts-with(*[local-name()='title'], 'keep_for_peer')]/@id")")
other=$(xpath "$(g "[starts-with(*[local-name()='title'], 'libz')]/@id")")
chrome --dump-dom "$url#zoom=$keep" >"$tmp/dom" ||
    echo "chromium failed" >>"$tmp/err"
ok "chromium: a zoom on a frame widens it to the graph, hides the others" \
    $(test -n "$keep" && test -n "$other" &&
      test "$(dom "$(g "[@id='$keep']")/*[local-name()='rect']/@width")" = 1180.0 &&
      test "$(dom "$(g "[@id='$other']/@display")")" = none &&
      test "$(dom "$(g "[@id='f0']/@class")")" = "f under" &&
      test "$(dom "//*[@id='reset']/@display")" = inline; echo $?)

# the window holds more than the page: headless chromium's page is
# smaller than its window
chrome --screenshot="$tmp/shot.png" --window-size="1200,$((height + 400))" "$url" \
    >/dev/null || echo "chromium failed" >>"$tmp/err"
# pixels: of the whole, those not of the background, and the root frame's
# colour in its middle
"$py" "$top_srcdir/tests/png.py" pixels "$tmp/shot.png" "$height" \
    >"$tmp/pixels" 2>>"$tmp/err"
read -r pw ph painted rootpx <"$tmp/pixels"
ok "chromium: the picture is drawn, the root frame grey across the width" \
    $(test "${pw:-0}" -eq 1200 && test "${painted:-0}" -ge 50000 &&
      test "$rootpx" = "200,200,200"; echo $?)
[ -n "${painted:-}" ] && echo "# $painted pixels painted of 1200x$height"

# 4. stacks that are not well made are said, and -o's file is left
cp "$tmp/flame.svg" "$tmp/before.svg"
printf '[{"count":1,"bytes":-1}]' >"$tmp/stacks.json"
"$ctl" -S "$sock" flamegraph -o "$tmp/flame.svg" >"$tmp/out" 2>"$tmp/err"
rc=$?
ok "flamegraph: a malformed listing is said, exit 1, -o's file untouched" \
    $(test "$rc" -eq 1 && cmp -s "$tmp/flame.svg" "$tmp/before.svg" &&
      grep -q "^memleasectl: process $fake: a malformed response: \"bytes\" is not a whole number$" "$tmp/err" &&
      test "$(ls -a "$tmp" | grep -c '^\.flame')" -eq 0; echo $?)
"$ctl" -S "$sock" export --format folded >"$tmp/out" 2>"$tmp/err"
rc=$?
ok "export --format folded: the same, nothing on standard output" \
    $(test "$rc" -eq 1 && test ! -s "$tmp/out" && test -s "$tmp/err"
      echo $?)

echo "1..$n"
exit $fail
