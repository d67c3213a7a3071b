# fixture-env.sh - sourced by the scripts that run fixture programs under
# the preload: where things are, a scratch folder, and TAP results.
#   $lib   libmemlease.so of the build     $fx   the fixture programs
#   $tmp   a scratch folder, removed at exit; runs leave out, err, log there
#   ok DESCRIPTION STATUS   one TAP line (STATUS 0: ok); on failure, the
#                           first lines of err, log, out and of $want
#   count PATTERN FILE      matching lines of FILE, 0 if it does not exist
: "${top_srcdir:=.}" "${top_builddir:=.}"
lib=$(cd "$top_builddir" && pwd)/.libs/libmemlease.so
fx=$top_builddir/tests/fixtures
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0 fail=0 want=

ok() {
	n=$((n + 1))
	if [ "$2" -eq 0 ]; then
		echo "ok $n - $1"
	else
		echo "not ok $n - $1"
		for f in "$tmp"/err "$tmp"/log "$tmp"/out ${want:+"$want"}; do
			[ -s "$f" ] && awk 'NR <= 30 { print "# " $0 }' "$f"
		done
		fail=1
	fi
}

count() { if [ -f "$2" ]; then grep -c -- "$1" "$2"; else echo 0; fi; }
