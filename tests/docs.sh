#!/bin/sh
# The documentation is tested: the man pages are clean under mandoc, every
# exported function is in memlease(3) (NAME, SYNOPSIS, DESCRIPTION, and
# RETURN VALUES or ERRORS), memlease(7) documents exactly the variables
# of the options table, the example of memlease(3) compiles and runs,
# every command of memleasectl is in memleasectl(1), and every page
# renders with its quotes balanced.  Prints TAP; exits 1 if a test failed.
#
# Environment: top_srcdir, top_builddir (default .), CC (default cc).
: "${top_srcdir:=.}" "${top_builddir:=.}"

man3=$top_srcdir/man/memlease.3
map=$top_srcdir/preload/libmemlease.map
fail=0
n=0

tmp=$(mktemp -d "${TMPDIR:-/tmp}/memlease-docs.XXXXXX") || {
	echo "Bail out! cannot make a temporary folder"
	exit 1
}
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' HUP INT TERM

# result OK DESCRIPTION [FILE OF DIAGNOSTICS]
result() {
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $n - $2"
	else
		echo "not ok $n - $2"
		fail=1
		[ -n "${3:-}" ] && [ -s "$3" ] && sed 's/^/# /' "$3"
	fi
	return 0
}

# section NAME FILE: the lines of one .Sh section of an mdoc page
section() {
	awk -v want="$1" '
	    /^\.Sh[ \t]/ { sub(/^\.Sh[ \t]+/, ""); gsub(/"/, ""); in_sec = ($0 == want); next }
	    in_sec' "$2"
}

echo "1..6"

# 1. mandoc -Tlint -W warning is silent on every page.
: > "$tmp/lint"
rc=0
npages=0
if ! command -v mandoc >/dev/null 2>&1; then
	echo "mandoc is not installed" > "$tmp/lint"
	rc=1
else
	for page in "$top_srcdir"/man/*.[0-9]; do
		[ -f "$page" ] || continue
		npages=$((npages + 1))
		mandoc -Tlint -W warning "$page" >> "$tmp/lint" 2>&1
	done
	[ "$npages" -eq 0 ] &&
	    echo "no man/*.[0-9] page in $top_srcdir" >> "$tmp/lint"
	[ -s "$tmp/lint" ] && rc=1
fi
result $rc "mandoc -Tlint -W warning is silent on every man page" "$tmp/lint"

# 2. Every exported function has its .Nm in NAME, its prototype (.Fn) in
#    SYNOPSIS, a paragraph of DESCRIPTION of its own (a .Pp or .Ss line
#    followed by .Fn NAME) and a .Fn in RETURN VALUES or ERRORS; NAME
#    names nothing else.
: > "$tmp/syms"
rc=0
syms=$(sed -n '/global:/,/local:/p' "$map" 2>/dev/null |
    grep -o 'memlease_[a-z0-9_]*' | sort -u)
if [ -z "$syms" ]; then
	echo "no symbol found in $map" >> "$tmp/syms"
	rc=1
elif [ ! -f "$man3" ]; then
	echo "$man3 is missing" >> "$tmp/syms"
	rc=1
else
	section NAME "$man3" > "$tmp/name"
	section SYNOPSIS "$man3" > "$tmp/synopsis"
	# The lines that open a paragraph of DESCRIPTION.
	section DESCRIPTION "$man3" |
	    awk 'open { print } { open = /^\.(Pp|Ss)([ \t]|$)/ }' \
	    > "$tmp/description"
	{ section "RETURN VALUES" "$man3"; section ERRORS "$man3"; } \
	    > "$tmp/errors"
	for s in $syms; do
		grep -Eq "^\.Nm $s( ,)?\$" "$tmp/name" ||
		    echo "$s: no .Nm $s in NAME" >> "$tmp/syms"
		grep -Eq "^\.Fn $s( |\$)" "$tmp/synopsis" ||
		    echo "$s: no .Fn $s prototype in SYNOPSIS" >> "$tmp/syms"
		grep -Eq "^\.Fn $s( |\$)" "$tmp/description" ||
		    echo "$s: no paragraph of DESCRIPTION opens with .Fn $s" \
		    >> "$tmp/syms"
		grep -Eq "^\.Fn $s( |\$)" "$tmp/errors" ||
		    echo "$s: no .Fn $s in RETURN VALUES or ERRORS" \
		    >> "$tmp/syms"
	done
	sed -n 's/^\.Nm \([^ ]*\).*/\1/p' "$tmp/name" | while read -r s; do
		echo "$syms" | grep -qx "$s" ||
		    echo "$s: in NAME but not exported" >> "$tmp/syms"
	done
	[ -s "$tmp/syms" ] && rc=1
fi
result $rc "memlease.3 documents exactly the functions of libmemlease.map" \
    "$tmp/syms"

# 3. memlease(7) and the options table (preload/options.c) agree: every
#    variable of the table is an .Ev in the ENVIRONMENT section of
#    memlease.7, and every MEMLEASE_* name the page gives as an .Ev is in
#    the table.
: > "$tmp/env"
rc=0
page7=$top_srcdir/man/memlease.7
vars=$(sed -n '/^} table\[/,/^};/p; /^static const struct option {/,/^};/p' \
    "$top_srcdir/preload/options.c" 2>/dev/null |
    grep -oE '"MEMLEASE_[A-Z0-9_]*"' | tr -d '"' | sort -u)
if [ -z "$vars" ]; then
	echo "no table of MEMLEASE_* names found in preload/options.c" \
	    >> "$tmp/env"
	rc=1
elif [ ! -f "$page7" ]; then
	echo "man/memlease.7 does not exist" >> "$tmp/env"
	rc=1
else
	section ENVIRONMENT "$page7" > "$tmp/environment"
	for v in $vars; do
		grep -Eq "^\.(Ev|.*[[:space:]]Ev)[[:space:]]+$v([^A-Z0-9_]|\$)" \
		    "$tmp/environment" ||
		    echo "$v: in the table, no .Ev $v in ENVIRONMENT of" \
		    "memlease.7" >> "$tmp/env"
	done
	for v in $(grep -oE 'Ev MEMLEASE_[A-Z0-9_]+' "$page7" |
	    sed 's/^Ev //' | sort -u); do
		printf '%s\n' "$vars" | grep -qx "$v" ||
		    echo "$v: in memlease.7, not in the table of" \
		    "preload/options.c" >> "$tmp/env"
	done
	[ -s "$tmp/env" ] && rc=1
fi
result $rc "memlease(7) documents exactly the variables of the options table" \
    "$tmp/env"

# 4. The example of memlease(3) compiles without a warning and runs: it
#    exits 0 within 10 s and its lease expires with a report in the log.
: > "$tmp/example"
rc=0
esc=$(printf '\001')
if [ -f "$man3" ]; then
	# Between the markers, without the mdoc lines; \e is a backslash,
	# \& is nothing, \- is a minus.
	sed -n '/^\.\\" example-begin/,/^\.\\" example-end/p' "$man3" |
	    sed -e '/^\./d' -e "s/\\\\e/$esc/g" -e 's/\\&//g' \
	    -e 's/\\-/-/g' -e "s/$esc/\\\\/g" > "$tmp/ex.c"
fi
libs=$top_builddir/.libs
if [ ! -s "$tmp/ex.c" ] || ! grep -q 'main(' "$tmp/ex.c"; then
	echo "no program between example-begin and example-end in $man3" \
	    >> "$tmp/example"
	rc=1
elif ! libdir=$(cd "$libs" 2>/dev/null && pwd); then
	echo "$libs: no such folder (is top_builddir=$top_builddir built?)" \
	    >> "$tmp/example"
	rc=1
else
	# A sanitizer build's library needs its runtime in the program too.
	san=$(sed -n 's/^SAN_CFLAGS = //p' "$top_builddir/Makefile" 2>/dev/null)
	# shellcheck disable=SC2086
	if ! ${CC:-cc} -std=gnu11 -Wall -Wextra -Werror -pthread $san \
	    -I"$top_srcdir/include" -o "$tmp/ex" "$tmp/ex.c" \
	    -L"$libs" -lmemlease -Wl,-rpath,"$libdir" >> "$tmp/example" 2>&1
	then
		echo "the example does not compile" >> "$tmp/example"
		rc=1
	else
		MEMLEASE_LOG=$tmp/log timeout 10 "$tmp/ex" > "$tmp/out" 2>&1
		st=$?
		if [ "$st" -ne 0 ]; then
			echo "the example exited with status $st; its output:" \
			    >> "$tmp/example"
			cat "$tmp/out" >> "$tmp/example"
			rc=1
		fi
		if ! grep -q 'expired' "$tmp/log" 2>/dev/null; then
			echo "no expiry report in MEMLEASE_LOG; the log:" \
			    >> "$tmp/example"
			cat "$tmp/log" >> "$tmp/example" 2>/dev/null
			rc=1
		fi
	fi
fi
result $rc "the example of memlease.3 compiles, runs and reports an expiry" \
    "$tmp/example"

# 5. Every command that "memleasectl --help" lists (the lines of its
#    Commands: part that open with two blanks and a word) is a .Cm of the
#    DESCRIPTION or COMMANDS section of memleasectl.1.
: > "$tmp/ctl"
rc=0
man1=$top_srcdir/man/memleasectl.1
ctl=$top_builddir/cli/memleasectl
if [ ! -x "$ctl" ]; then
	echo "$ctl is not built" >> "$tmp/ctl"
	rc=1
elif [ ! -f "$man1" ]; then
	echo "$man1 is missing" >> "$tmp/ctl"
	rc=1
else
	cmds=$("$ctl" --help | sed -n '/^Commands:/,/^$/p' |
	    sed -n 's/^  \([a-z][a-z-]*\).*/\1/p')
	{ section DESCRIPTION "$man1"; section COMMANDS "$man1"; } \
	    > "$tmp/commands"
	[ -z "$cmds" ] && echo "memleasectl --help lists no command" \
	    >> "$tmp/ctl"
	for c in $cmds; do
		grep -Eq "(^\\.|[[:space:]])Cm $c([[:space:]]|\$)" \
		    "$tmp/commands" ||
		    echo "$c: no .Cm $c in DESCRIPTION or COMMANDS of" \
		    "memleasectl.1" >> "$tmp/ctl"
	done
	[ -s "$tmp/ctl" ] && rc=1
fi
result $rc "memleasectl.1 documents every command of memleasectl" \
    "$tmp/ctl"

# 6. Every page renders, under mandoc and under groff (directly, and
#    through man -l, as a reader sees it), with its typographic quotes
#    balanced: in each paragraph of the text, every opening quote closes
#    before the next of its kind opens, and none is left open.  -Tlint is
#    silent on a quoting macro nested in another's arguments: ".Pq Ql a ,
#    Ql b" renders as (`a, `b'') in typographic quotes.  A right single
#    quote between two letters is an apostrophe.
#    Overstrikes (bold, underline) are taken out, as col -b does.
: > "$tmp/quotes"
rc=0
# unbalanced NAME: the paragraphs of standard input whose quotes do not
# balance, each named by NAME and its first line
unbalanced() {
	LC_ALL=C.UTF-8 sed 's/.\x08//g' | LC_ALL=C awk -v name="$1" '
	    BEGIN { RS = "" }
	    {
		s = $0
		gsub(/\342\200\230/, "\001", s); gsub(/\342\200\231/, "\002", s)
		gsub(/\342\200\234/, "\003", s); gsub(/\342\200\235/, "\004", s)
		single = double = bad = 0
		for (i = 1; i <= length(s) && !bad; i++) {
			c = substr(s, i, 1)
			if (c == "\001") {
				bad = single; single = 1
			} else if (c == "\002" && !single) {
				bad = !(substr(s, i - 1, 1) ~ /[A-Za-z]/ &&
				    substr(s, i + 1, 1) ~ /[A-Za-z]/)
			} else if (c == "\002") {
				single = 0
			} else if (c == "\003") {
				bad = double; double = 1
			} else if (c == "\004") {
				bad = !double; double = 0
			}
		}
		if (bad || single || double) {
			split($0, line, "\n")
			sub(/^[ \t]+/, "", line[1])
			print name ": quotes unbalanced in the paragraph: " line[1]
		}
	    }'
}
renderers="mandoc"
command -v groff >/dev/null 2>&1 && renderers="$renderers groff"
command -v man >/dev/null 2>&1 && renderers="$renderers man"
if ! command -v mandoc >/dev/null 2>&1; then
	echo "mandoc is not installed" >> "$tmp/quotes"
	rc=1
fi
for page in "$top_srcdir"/man/*.[0-9]; do
	[ -f "$page" ] && command -v mandoc >/dev/null 2>&1 || continue
	for r in $renderers; do
		case $r in
		mandoc) mandoc -Tutf8 "$page" ;;
		groff)  groff -Tutf8 -mandoc "$page" ;;
		man)    LC_ALL=C.UTF-8 MANWIDTH=80 MANPAGER=cat PAGER=cat \
			    man -l "$page" ;;
		esac > "$tmp/render" 2>> "$tmp/quotes" || {
			echo "$r: $page does not render" >> "$tmp/quotes"
			rc=1
			continue
		}
		if [ ! -s "$tmp/render" ]; then
			echo "$r: $page renders nothing" >> "$tmp/quotes"
			rc=1
		fi
		unbalanced "$r: ${page##*/}" < "$tmp/render" >> "$tmp/quotes"
	done
done
[ -s "$tmp/quotes" ] && rc=1
result $rc "every man page renders with balanced quotes ($renderers)" \
    "$tmp/quotes"

exit $fail
