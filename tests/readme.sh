#!/bin/sh
# The README is tested: its examples run against the build tree, and a
# block that no longer works fails make check.  Prints TAP.
#
# Which blocks run is said in README.md itself, by an HTML comment on the
# line before the block's opening fence:
#   <!-- test -->           a shell block: run it, with sh -e
#   <!-- test: FILE -->     any block: its text is saved as FILE (a C
#                           program, say), for the blocks after it to use
#   <!-- output -->         the output of the run block before it, stdout
#                           and stderr together; "..." matches any text,
#                           within a line or as whole lines
#   <!-- not run: REASON --> a shell block that is not run, and why
# A ```sh or ```c block with none of these is an error, so that no command
# is left untested by oversight.  Blocks of another language, or none, are
# illustrations (the layout's tree) and are not run.
#
# The blocks run in order, as a reader would type them, in one scratch
# folder that looks like the top of a built tree: _build/default is the
# build tree (top_builddir), include/, examples/ and man/ those of
# top_srcdir.  memleasectl of the build is first on the PATH, the control
# sockets go to a private folder (MEMLEASE_SOCKET_DIR), the caller's
# MEMLEASE_* variables and LD_PRELOAD are cleared, and LC_ALL is C.  Each
# block has 60 s; what it leaves running is killed (its process group).
#
# The quick start's two commands, ./dev demo and ./dev check, are not run
# here: they install packages and build, and ./dev check runs make check,
# which runs this test.  CI runs ./dev check itself (.ci/run); this test
# checks that the quick start names both and that .ci/run runs the second.
#
# Also: every relative link of README.md, bench/README.md and
# tests/README.md names a file of the source tree.
#
# Environment: top_srcdir, top_builddir (default .).
. "${top_srcdir:=.}/tests/fixture-env.sh"
trap 'exit 1' HUP INT TERM

src=$(cd "$top_srcdir" && pwd)
build=$(cd "$top_builddir" && pwd)
readme=$src/README.md
[ -f "$readme" ] || {
	echo "Bail out! $readme is missing"
	exit 1
}

# check DESCRIPTION: one TAP line, ok if $tmp/err, the diagnostics, is
# empty (fixture-env.sh's ok prints it, and $want if set, on failure)
check() {
	rc=0
	[ -s "$tmp/err" ] && rc=1
	ok "$1" "$rc"
	: > "$tmp/err"
	want=
}

# Split README.md into its fenced blocks: block N's text in $tmp/b/N, and
# one line of $tmp/blocks per block: N LINE LANG KIND ARG, KIND being
# test, file, output, skip or none.  Markers that no fence follows go to
# $tmp/stray.
mkdir "$tmp/b"
awk -v dir="$tmp/b" -v stray="$tmp/stray" '
	function marker(s) {
		if (s !~ /^<!-- (test|test: [^ ]+|output|not run: .+) -->$/)
			return ""
		sub(/^<!-- /, "", s)
		sub(/ -->$/, "", s)
		return s
	}
	infence && /^```[ \t]*$/ { infence = 0; close(file); next }
	infence { print > file; next }
	/^```/ {
		nb++
		lang = $0
		sub(/^```[ \t]*/, "", lang)
		sub(/[ \t].*/, "", lang)
		if (lang == "") lang = "-"
		kind = "none"; arg = "-"
		if (pending != "") {
			if (pending == "test") kind = "test"
			else if (pending == "output") kind = "output"
			else if (pending ~ /^test: /) {
				kind = "file"; arg = substr(pending, 7)
			} else kind = "skip"
		}
		pending = ""
		print nb, NR, lang, kind, arg
		file = dir "/" nb
		printf "" > file
		infence = 1
		next
	}
	pending != "" { print "line " pendline ": " pending " is not on the line before a fence" > stray; pending = "" }
	{ m = marker($0); if (m != "") { pending = m; pendline = NR } }
	END { if (infence) print "a fence opened is never closed" > stray }
' "$readme" > "$tmp/blocks"

runs=$(awk '$4 == "test"' "$tmp/blocks" | wc -l)
echo "1..$((runs + 3))"

# 1. Every shell or C block says whether it runs; markers sit on a fence;
#    an output block follows a run block.
[ -s "$tmp/stray" ] && cat "$tmp/stray" >> "$tmp/err"
awk '
	($3 == "sh" || $3 == "c" || $3 == "shell" || $3 == "bash") &&
	    $4 == "none" {
		print "line " $2 ": a ```" $3 " block with no <!-- test -->," \
		    " <!-- test: FILE --> or <!-- not run: REASON --> before it"
	}
	$4 == "test" && $3 != "sh" {
		print "line " $2 ": <!-- test --> runs ```sh blocks only"
	}
	$4 == "output" && prev != "test" {
		print "line " $2 ": <!-- output --> not right after a run block"
	}
	{ prev = $4 }
' "$tmp/blocks" >> "$tmp/err"
[ "$runs" -gt 0 ] || echo "no block marked <!-- test -->" >> "$tmp/err"
check "README.md: every sh and c block is marked run, saved or not run"

# 2. The quick start is ./dev demo and ./dev check, not run here; CI runs
#    ./dev check; no block that runs calls ./dev.
skipped=$(awk '$4 == "skip" { print $1 }' "$tmp/blocks")
found=
for b in $skipped; do
	grep -q '^\./dev demo\([ \t]\|$\)' "$tmp/b/$b" &&
	    grep -q '^\./dev check\([ \t]\|$\)' "$tmp/b/$b" && found=$b
done
[ -n "$found" ] ||
    echo "no block marked not run holds ./dev demo and ./dev check" \
    >> "$tmp/err"
grep -q '^exec \./dev check$' "$src/.ci/run" 2>/dev/null ||
    echo ".ci/run does not run ./dev check" >> "$tmp/err"
for b in $(awk '$4 == "test" { print $1 }' "$tmp/blocks"); do
	grep -q '\./dev\([ \t]\|$\)' "$tmp/b/$b" &&
	    echo "block $b runs ./dev" >> "$tmp/err"
done
check "README.md: the quick start is ./dev demo and ./dev check, which CI runs"

# 3. Relative links name files of the source tree.
for doc in README.md bench/README.md tests/README.md; do
	[ -f "$src/$doc" ] || {
		echo "$doc is missing" >> "$tmp/err"
		continue
	}
	docdir=$(dirname "$src/$doc")
	grep -o '](\([^)#: ]*\)[#)]' "$src/$doc" |
	    sed 's/^](//; s/[#)]$//' | sort -u | while read -r link; do
		[ -n "$link" ] || continue
		[ -e "$docdir/$link" ] ||
		    echo "$doc: link to $link: no such file" >> "$tmp/err"
	done
done
check "README.md, bench/README.md, tests/README.md: relative links resolve"

# glob_match EXPECTED ACTUAL: the whole of ACTUAL is EXPECTED, where each
# "..." of EXPECTED matches any text (lines included)
glob_match() {
	awk '
		FILENAME == ARGV[1] { want = want $0 "\n"; next }
		{ got = got $0 "\n" }
		END {
			np = split(want, part, /\.\.\./)
			if (np <= 1) exit !(got == want)
			if (substr(got, 1, length(part[1])) != part[1]) exit 1
			pos = length(part[1]) + 1
			for (i = 2; i < np; i++) {
				k = index(substr(got, pos), part[i])
				if (k == 0) exit 1
				pos += k - 1 + length(part[i])
			}
			rest = substr(got, pos)
			last = part[np]
			if (length(rest) < length(last)) exit 1
			exit !(substr(rest, length(rest) - length(last) + 1) == last)
		}
	' "$1" "$2"
}

# The scratch folder, as the top of a built tree.
work=$tmp/work
mkdir -p "$work/_build" "$tmp/sock"
chmod 700 "$tmp/sock"
ln -s "$build" "$work/_build/default"
for d in include examples man; do ln -s "$src/$d" "$work/$d"; done
for v in $(env | sed -n 's/^\(MEMLEASE_[A-Za-z0-9_]*\)=.*/\1/p'); do
	unset "$v"
done
unset LD_PRELOAD
MEMLEASE_SOCKET_DIR=$tmp/sock
PATH=$work/_build/default/cli:$PATH
LC_ALL=C
export MEMLEASE_SOCKET_DIR PATH LC_ALL
# no core files from the abort example (dash and bash know -c)
# shellcheck disable=SC3045
ulimit -c 0 2>/dev/null

# 4... Each run block, in order, with the saved files before it.
lastline=
while read -r b line _ kind arg; do
	case $kind in
	file)
		cp "$tmp/b/$b" "$work/$arg" ;;
	test)
		(cd "$work" && exec timeout 60 sh -e "$tmp/b/$b") \
		    >"$tmp/out.$b" 2>&1 &
		pid=$!
		wait "$pid"
		echo $? > "$tmp/rc.$b"
		kill -KILL -- "-$pid" 2>/dev/null
		lastline=$line ;;
	output)
		echo "$lastline $b" >> "$tmp/outputs" ;;
	esac
done < "$tmp/blocks"

# Their results, in the same order.
while read -r b line _ kind _; do
	[ "$kind" = test ] || continue
	st=$(cat "$tmp/rc.$b")
	shown=$(awk -v l="$line" '$1 == l { print $2 }' "$tmp/outputs" 2>/dev/null)
	desc="README.md:$line: the block runs"
	[ "$st" -eq 0 ] || echo "it exited with status $st" >> "$tmp/err"
	if [ -n "$shown" ]; then
		desc="$desc and prints what the README shows"
		glob_match "$tmp/b/$shown" "$tmp/out.$b" ||
		    echo "its output is not what the README shows" >> "$tmp/err"
	fi
	if [ -s "$tmp/err" ]; then
		# the output, then (as $want) what the README shows
		if [ -n "$shown" ]; then
			echo "its output (>), then what the README shows:"
		else
			echo "its output (>):"
		fi >> "$tmp/err"
		head -n 25 "$tmp/out.$b" | sed 's/^/> /' >> "$tmp/err"
		[ -n "$shown" ] && want=$tmp/b/$shown
	fi
	check "$desc"
done < "$tmp/blocks"

exit $fail
