#!/bin/sh
# Run one Criterion test program; print its results as TAP on stdout (for
# automake's tap-driver), its own messages as TAP comments.
tap=$(mktemp) && log=$(mktemp) || exit 99
"$@" --tap="$tap" --ascii -S >"$log" 2>&1
status=$?
sed 's/^/# /' "$log"
grep -v '^TAP version' "$tap"
rm -f "$tap" "$log"
exit $status
