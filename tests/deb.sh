#!/bin/sh
# The Debian packages: ./dev deb builds memlease, libmemlease0 and
# libmemlease-dev from the dist; each holds what it should, lintian finds
# no error or warning, and what they hold works unpacked in a scratch
# folder, with nothing of the build tree.  Prints TAP.
#
# Run from the top of the source tree by ./dev check (not by make check:
# it installs packages and builds; about 30 s).
# Environment: top_srcdir (default .).
. "${top_srcdir:=.}/tests/fixture-env.sh"
trap 'exit 1' HUP INT TERM

src=$(cd "$top_srcdir" && pwd)
debs=$src/_build/deb
ma=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
root=$tmp/root                          # the packages, unpacked
libdir=$root/usr/lib/$ma
echo "1..11"

# 1. The symbols file is the export list's twin (preload/libmemlease.map).
sed -n '/global:/,/local:/s/^[[:space:]]*\([A-Za-z_]*\);$/\1/p' \
    "$src/preload/libmemlease.map" | sort > "$tmp/map"
sed -n 's/^ \([A-Za-z_]*\)@Base .*/\1/p' "$src/debian/libmemlease0.symbols" |
    sort > "$tmp/symbols"
diff "$tmp/map" "$tmp/symbols" > "$tmp/err"
ok "debian/libmemlease0.symbols names exactly the symbols of libmemlease.map" $?

# 2. The packages' version is the project's.
version=$(sed -n 's/^AC_INIT(\[memlease\], \[\([^]]*\)\].*/\1/p' \
    "$src/configure.ac")
deb_version=$(cd "$src" && dpkg-parsechangelog -S Version)
[ "$version" = "$deb_version" ]
st=$?
echo "debian/changelog: $deb_version, configure.ac: $version" > "$tmp/err"
ok "debian/changelog's version is configure.ac's" $st

# 3. They build.
(cd "$src" && ./dev deb) > "$tmp/out" 2>&1
st=$?
: > "$tmp/err"
for p in memlease libmemlease0 libmemlease-dev; do
	[ -f "$debs/${p}_${version}_$(dpkg --print-architecture).deb" ] ||
	    echo "no $p package in $debs" >> "$tmp/err"
done
[ -s "$tmp/err" ] && st=1
ok "./dev deb builds memlease, libmemlease0 and libmemlease-dev" $st
: > "$tmp/out"

# contents PACKAGE FILE...: the package holds exactly these files and
# links, besides its folders and its usr/share/doc/PACKAGE
contents() {
	p=$1; shift
	printf '%s\n' "$@" | sort > "$tmp/want"
	dpkg-deb --contents "$debs/${p}_${version}_"*.deb 2>"$tmp/err" |
	    awk '$1 !~ /^d/ { sub(/^\.\//, "", $6); print $6 }' |
	    grep -v "^usr/share/doc/$p/" | sort > "$tmp/got"
	diff "$tmp/want" "$tmp/got" >> "$tmp/err"
	st=$?
	[ -s "$tmp/err" ] && st=1
	dpkg-deb -x "$debs/${p}_${version}_"*.deb "$root" 2>>"$tmp/err" || st=1
	ok "$p holds $(grep -c . "$tmp/want") files, those it should" $st
}

# 4-6. What each holds ("<" missing, ">" not wanted); then unpacked.
contents memlease usr/bin/memleasectl \
    usr/share/man/man1/memleasectl.1.gz usr/share/man/man7/memlease.7.gz \
    usr/share/bash-completion/completions/memleasectl
contents libmemlease0 "usr/lib/$ma/libmemlease.so.0" \
    "usr/lib/$ma/libmemlease.so.0.0.0"
contents libmemlease-dev usr/include/memlease.h \
    "usr/lib/$ma/libmemlease.so" "usr/lib/$ma/pkgconfig/memlease.pc" \
    usr/share/man/man3/memlease.3.gz

# 7. lintian, at its default level, on the packages of the .changes.
lintian --fail-on error,warning "$debs"/memlease_*.changes \
    > "$tmp/err" 2>/dev/null
ok "lintian finds no error or warning" $?

# 8. The unpacked memleasectl runs.
: > "$tmp/err"
"$root/usr/bin/memleasectl" --version > "$tmp/out" 2>&1
st=$?
grep -q "^memleasectl (memlease) $version\$" "$tmp/out" || st=1
ok "the unpacked memleasectl runs" $st

# 9. A program built with the unpacked header, memlease.pc and library:
#    its lease expires with a report.
cat > "$tmp/lease.c" <<'EOF'
#include <memlease.h>
#include <unistd.h>

int
main(void)
{
	void *buf;
	memlease_t h = memlease_alloc(4096, 50, 1, &buf);

	if (h == 0)
		return 1;
	usleep(300 * 1000);
	memlease_expire_due();
	return memlease_get(h, NULL) == NULL ? 0 : 2;
}
EOF
flags=$(PKG_CONFIG_LIBDIR=$libdir/pkgconfig PKG_CONFIG_SYSROOT_DIR=$root \
    pkg-config --cflags --libs memlease 2>"$tmp/err")
st=0
# shellcheck disable=SC2086
${CC:-cc} -o "$tmp/lease" "$tmp/lease.c" $flags 2>>"$tmp/err" || st=1
LD_LIBRARY_PATH=$libdir ldd "$tmp/lease" > "$tmp/log" 2>&1
grep -q "libmemlease.so.0 => $libdir/libmemlease.so.0 " "$tmp/log" || st=1
LD_LIBRARY_PATH=$libdir "$tmp/lease" > "$tmp/out" 2>>"$tmp/err" || st=1
grep -q 'lease 0x1 expired: 4096 bytes' "$tmp/err" || st=1
ok "a program built with the unpacked memlease.pc: its lease expires" $st

# 10. The unpacked preload on a program that knows nothing of memlease,
#     seen by the unpacked memleasectl.
cat > "$tmp/hold.c" <<'EOF'
#include <stdlib.h>
#include <unistd.h>

/* holds 4096 bytes until the file argv[1] exists (10 s at most) */
int
main(int argc, char **argv)
{
	char *p = malloc(4096);

	p[0] = argc;
	for (int i = 0; i < 1000 && access(argv[1], F_OK) != 0; i++)
		usleep(10 * 1000);
	free(p);
	return 0;
}
EOF
: > "$tmp/err"
st=0
${CC:-cc} -fno-builtin -o "$tmp/hold" "$tmp/hold.c" 2>>"$tmp/err" || st=1
mkdir -m 700 "$tmp/sock"
MEMLEASE_SOCKET_DIR=$tmp/sock MEMLEASE_SOCKET=on \
    MEMLEASE_RULES='size=4096 ttl=50ms' LD_PRELOAD=$libdir/libmemlease.so.0 \
    "$tmp/hold" "$tmp/go" 2>"$tmp/log" &
pid=$!
# its lease expires after 50 ms, while it holds the block
for _ in $(seq 100); do
	grep -q 'lease 0x1 expired: 4096 bytes' "$tmp/log" && break
	sleep 0.1
done
MEMLEASE_SOCKET_DIR=$tmp/sock "$root/usr/bin/memleasectl" ps \
    > "$tmp/out" 2>&1
grep -q "^ *$pid " "$tmp/out" ||
    echo "memleasectl ps does not list $pid" >> "$tmp/err"
touch "$tmp/go"
wait "$pid" || echo "the program failed" >> "$tmp/err"
grep -q 'lease 0x1 expired: 4096 bytes' "$tmp/log" ||
    echo "no report of its lease" >> "$tmp/err"
[ -s "$tmp/err" ] && st=1
ok "the unpacked preload leases a program's allocation, memleasectl ps lists it" $st

# 11. libdw is not linked (the library loads it when it first names a
#     frame): dh_shlibdeps cannot see it, debian/control names it.
dpkg-deb -f "$debs/libmemlease0_${version}_"*.deb Depends >"$tmp/out" 2>"$tmp/err"
st=$?
grep -q 'libdw1' "$tmp/out" || st=1
readelf -d "$libdir/libmemlease.so.0" | grep -q 'NEEDED.*libdw' && st=1
cat "$tmp/out" >>"$tmp/err"
ok "libmemlease0 depends on libdw1, which its library loads, not links" $st

exit $fail
