#!/bin/sh
# memleasectl export against live processes of ours under the preload, its
# whole output read by a real parser, Debian's python3-prometheus-client
# (its text-format parser, and its OpenMetrics parser, strict and in need
# of the "# EOF" line); and export -o, the file of node_exporter's textfile
# collector, written whole or not at all.  Prints TAP.
. "${top_srcdir:=.}/tests/fixture-env.sh"
. "$top_srcdir/tests/ctl-env.sh"
rules='caller=hold_block size=-200 ttl=1h'

# parse FORMAT FILE: FILE read by the parser of FORMAT (prometheus or
# openmetrics), which must take all of it; each family must have a HELP
# and a TYPE.  Prints a sample a line, "family type sample labels value",
# in $tmp/samples; the parser's complaint in $tmp/err.
py=/usr/bin/python3
parse() {
	"$py" - "$1" "$2" >"$tmp/samples" 2>"$tmp/err" <<'EOF'
import sys
fmt, path = sys.argv[1], sys.argv[2]
if fmt == "openmetrics":
    from prometheus_client.openmetrics.parser import \
        text_string_to_metric_families as families
else:
    from prometheus_client.parser import \
        text_string_to_metric_families as families
with open(path, encoding="utf-8") as f:
    text = f.read()
n = 0
for fam in families(text):
    n += 1
    if not fam.documentation:
        sys.exit("%s: no HELP" % fam.name)
    if fam.type in ("unknown", "untyped"):
        sys.exit("%s: no TYPE (or one of another name)" % fam.name)
    for s in fam.samples:
        labels = ",".join("%s=%s" % kv for kv in sorted(s.labels.items()))
        print(fam.name, fam.type, s.name, labels, int(s.value))
if n == 0:
    sys.exit("no metric family")
EOF
}

# what: the samples of $tmp/samples, without their family and type
samples() { cut -d' ' -f3- "$tmp/samples" | sort; }

if ! "$py" -c 'import prometheus_client' 2>"$tmp/err"; then
	echo "# $py cannot import prometheus_client: install" \
	    "python3-prometheus-client (./dev check does)"
fi

# Three processes, one of a program whose path needs escaping in a label.
start "$rules" 20 60
first=$pid
start "$rules" 5 60
second=$pid
holder="$tmp/bin/a \"quoted\\ holder"
mkdir "$tmp/bin" && cp "$fx/holder" "$holder"
start "$rules" 3 60
third=$pid

"$ctl" export >"$tmp/prom" 2>"$tmp/err"
rc=$?
cp "$tmp/prom" "$tmp/out"
parse prometheus "$tmp/prom"
ok "export: the text format, all of it taken by prometheus_client's parser" \
    $(test "$rc" -eq 0 && test -s "$tmp/samples"; echo $?)
samples >"$tmp/prom.samples"

ok "export: memlease_info of each process, a gauge of 1 with pid, program, version" \
    $(for p in $first $second $third; do
	grep -q "^memlease_info gauge memlease_info pid=$p,program=.*,version=[0-9].* 1\$" \
	    "$tmp/samples" || exit 1
      done; grep -qF "program=$holder," "$tmp/samples"; echo $?)

live=$("$ctl" -p "$first" --json stats | "$jf" live_leases)
ok "export: counters with _total, gauges as they are, the values of stats" \
    $(grep -q "^memlease_allocated counter memlease_allocated_total pid=$first," \
	"$tmp/samples" &&
      grep -q "^memlease_live_leases gauge memlease_live_leases pid=$first,.* $live\$" \
	"$tmp/samples"; echo $?)

"$ctl" export --format openmetrics >"$tmp/om" 2>"$tmp/err"
rc=$?
cp "$tmp/om" "$tmp/out"
parse openmetrics "$tmp/om"
ok "export --format openmetrics: all of it taken by prometheus_client's OpenMetrics parser" \
    $(test "$rc" -eq 0 && test -s "$tmp/samples" &&
      test "$(tail -n 1 "$tmp/om")" = "# EOF"; echo $?)

ok "export --format openmetrics: memlease, an info family of memlease_info samples" \
    $(grep -q "^memlease info memlease_info pid=$third,program=.*,version=" \
	"$tmp/samples"; echo $?)

samples >"$tmp/om.samples"
ok "both formats: the same samples (names and labels)" \
    $(cut -d' ' -f1,2 "$tmp/prom.samples" >"$tmp/a"
      cut -d' ' -f1,2 "$tmp/om.samples" >"$tmp/b"
      cmp -s "$tmp/a" "$tmp/b"; echo $?)

# --- export -o: node_exporter's textfile collector --------------------------
prom=$tmp/textfile/memlease.prom
mkdir "$tmp/textfile"
echo 'old 1' >"$prom"
ino=$(stat -c %i "$prom")
(umask 022 && "$ctl" export -o "$prom") >"$tmp/out" 2>"$tmp/err"
rc=$?
parse prometheus "$prom"
ok "export -o FILE: the file, in the text format, nothing on stdout" \
    $(test "$rc" -eq 0 && test ! -s "$tmp/out" &&
      grep -q "^memlease_info gauge memlease_info pid=$first," "$tmp/samples"
      echo $?)
ok "export -o FILE: a new file renamed over the old one, readable by all, no temporary file left" \
    $(test "$(stat -c %i "$prom")" != "$ino" &&
      test "$(stat -c %a "$prom")" = 644 &&
      test "$(ls -A "$tmp/textfile")" = memlease.prom; echo $?)

"$ctl" export --format openmetrics --output="$prom" >"$tmp/out" 2>"$tmp/err"
rc=$?
parse openmetrics "$prom"
ok "export --format openmetrics --output=FILE" \
    $(test "$rc" -eq 0 && test -s "$tmp/samples"; echo $?)

"$ctl" export -o "$tmp/nowhere/memlease.prom" >"$tmp/out" 2>"$tmp/err"
rc=$?
ok "export -o into a missing folder: exit 1, the folder named" \
    $(test "$rc" -eq 1 &&
      grep -q "^memleasectl: export: .*$tmp/nowhere.*No such file or directory" \
	"$tmp/err"; echo $?)

mkdir "$tmp/textfile/taken.prom"
"$ctl" export -o "$tmp/textfile/taken.prom" >"$tmp/out" 2>"$tmp/err"
rc=$?
ok "export -o onto a folder: exit 1, said, the folder untouched and no temporary file left" \
    $(test "$rc" -eq 1 && grep -q "taken.prom: Is a directory" "$tmp/err" &&
      test -d "$tmp/textfile/taken.prom" &&
      test "$(ls -A "$tmp/textfile" | tr '\n' ' ')" = \
	"memlease.prom taken.prom "; echo $?)

"$ctl" export -o "$prom/memlease.prom" >"$tmp/out" 2>"$tmp/err"
rc=$?
ok "export -o under a file that is not a folder: exit 1, said" \
    $(test "$rc" -eq 1 && grep -q "Not a directory" "$tmp/err"; echo $?)

for p in $pids; do kill "$p" 2>/dev/null; done
echo "1..$n"
exit $fail
