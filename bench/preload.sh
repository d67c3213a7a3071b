#!/bin/sh
# bench/preload.sh - what the preload costs the programs it runs under.
#
#   bench/preload.sh --lib LIBMEMLEASE.SO --churn BENCH/CHURN [--quick]
#
# Workloads, each a whole process, timed from outside (date +%s%N):
#   churn-1t  bench/churn 1 10M 10k: malloc/free/realloc, sizes 16..4096
#   churn-2t  the same with 2 threads handing blocks to each other
#   python3   a script that builds and drops dicts, lists and strings
#   sqlite3   the CLI running 300k inserts (3 transactions, an index) into
#             a new database file
# under each configuration:
#   baseline  no preload
#   passive   libmemlease.so, a rule that tags nothing (size=1G- ttl=1h)
#   tag-all   libmemlease.so, every allocation tagged (ttl=1h, reports to
#             /dev/null)
#   heaptrack heaptrack -o FILE, recording and interpreting (its default)
#   lsan      the LeakSanitizer runtime preloaded, leaks checked at exit
#             but not failing the run (exitcode=0)
# Targets: passive <= 1.05x baseline; tag-all <= 3x baseline and faster
# than heaptrack.
#
# The machine may be shared and noisy: the configurations of a workload
# take turns (ABCDE ABCDE ...), a figure is the median of its runs and a
# ratio a ratio of medians.  --quick, the smoke run of `./dev check`: the
# churn workloads only, 1M operations, baseline, passive and tag-all, 2
# runs each; it needs nothing but the C library.  In a full run a tool that
# is missing is a column of "n/a (install PACKAGE)"; a run that fails under
# heaptrack or LSan is "crashed" (GCC 12's LSan, preloaded, crashes some
# programs at start-up).  A missed target is printed, not failed: the exit
# status is 1 only if the benchmark itself broke (a workload failing
# without a tool, or under the preload).
#
# python3 is PYTHON if set, else the python3 of PATH (resolved to the
# interpreter itself, so that a wrapper script is not what runs under the
# preload).
set -eu

me=bench/preload
# shellcheck source=bench/common.sh
. "$(dirname "$0")/common.sh"

usage() {
	echo "usage: bench/preload.sh --lib LIBMEMLEASE.SO --churn BENCH/CHURN [--quick]"
	echo "  the preload's overhead beside heaptrack and LSan; prints a table"
	echo "  --quick  the churn workloads only, smaller, fewer runs"
}

lib='' churn='' quick=0
args "lib churn" "$@"
[ -f "$lib" ] || die "no preload library at '$lib' (--lib)"
[ -x "$churn" ] || die "no churn program at '$churn' (--churn)"
clean_env "the baseline"

scratch

if [ "$quick" -eq 1 ]; then
	runs=2 ops=1000000 live=10000
	workloads="churn-1t churn-2t"
	configs="baseline passive tag-all"
else
	runs=5 ops=10000000 live=10000 py_rounds=2500 inserts=300000
	workloads="churn-1t churn-2t python3 sqlite3"
	configs="baseline passive tag-all heaptrack lsan"
fi

# --- the tools: what a missing one leaves ---------------------------------

# missing_WORKLOAD or missing_CONFIG: empty, or the cells' text
missing_python3='' missing_sqlite3='' missing_heaptrack='' missing_lsan=''
if [ "$quick" -eq 0 ]; then
	py=${PYTHON:-$(command -v python3 || true)}
	if [ -n "$py" ] &&
	    py=$("$py" -c 'import sys; print(sys.executable)' 2>/dev/null) &&
	    [ -x "$py" ]; then
		:
	else
		missing_python3="n/a (install python3)"
	fi
	sqlite=$(command -v sqlite3 || true)
	[ -n "$sqlite" ] || missing_sqlite3="n/a (install sqlite3)"
	command -v heaptrack >/dev/null ||
	    missing_heaptrack="n/a (install heaptrack)"
	# The loader searches for a bare name as for a needed library, in
	# the directories of this machine's architecture.
	if LD_PRELOAD=liblsan.so.0 LSAN_OPTIONS=detect_leaks=0 \
	    "$churn" 1 0 1 2>&1 | grep -q 'cannot be preloaded'; then
		missing_lsan="n/a (install liblsan0)"
	fi
fi

# --- the workloads --------------------------------------------------------

# under CONFIG COMMAND...: run COMMAND as CONFIG says
under() {
	case $1 in
	baseline) shift; "$@" ;;
	passive) shift; LD_PRELOAD=$lib MEMLEASE_RULES='size=1G- ttl=1h' "$@" ;;
	tag-all) shift; LD_PRELOAD=$lib MEMLEASE_RULES='ttl=1h' \
	    MEMLEASE_LOG=/dev/null "$@" ;;
	heaptrack) shift; heaptrack -o "$tmp/heaptrack" "$@" ;;
	lsan) shift; LD_PRELOAD=liblsan.so.0 LSAN_OPTIONS=exitcode=0 "$@" ;;
	esac
}

# workload NAME CONFIG: one run
workload() {
	case $1 in
	churn-1t) under "$2" "$churn" 1 "$ops" "$live" ;;
	churn-2t) under "$2" "$churn" 2 "$ops" "$live" ;;
	python3) under "$2" "$py" "$tmp/work.py" "$py_rounds" ;;
	sqlite3) under "$2" "$sqlite" -batch -init /dev/null "$tmp/db" \
	    <"$tmp/inserts.sql" ;;
	esac
}

write_inputs() {
	cat >"$tmp/work.py" <<'EOF'
import sys
total = 0
for r in range(int(sys.argv[1])):
    objs = []
    for i in range(2000):
        objs.append({"id": i, "name": "item-%d-%d" % (r, i),
                     "tags": [str(i), str(i * 2), str(r)],
                     "blob": "x" * ((i * 37) % 1500)})
    index = {d["name"]: d for d in objs}
    text = ",".join(d["name"] for d in objs)
    total += len(index) + len(text)
    del objs, index, text
print(total)
EOF
	# keys from a Park-Miller generator: exact in any awk's doubles
	awk -v n="$inserts" -v tx=3 'BEGIN {
		q = sprintf("%c", 39)
		print "CREATE TABLE t(id INTEGER PRIMARY KEY, k TEXT, v INTEGER, pad TEXT);"
		print "CREATE INDEX t_k ON t(k);"
		pad = "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz"
		x = 42
		for (i = 0; i < n; i++) {
			if (i % int(n / tx) == 0)
				print (i ? "COMMIT;\n" : "") "BEGIN;"
			x = (x * 16807) % 2147483647
			printf "INSERT INTO t(k, v, pad) VALUES (%s%08x%s, %d, %s%s%s);\n",
			    q, x, q, x % 1000, q, substr(pad, 1, 10 + x % 40), q
		}
		print "COMMIT;"
		print "SELECT count(*), sum(v) FROM t WHERE k > " q "4" q ";"
	}' >"$tmp/inserts.sql"
}

# --- timing ---------------------------------------------------------------

# missing NAME: what a workload's or a configuration's cells say when its
# tool is missing; empty if it is there
missing() {
	case $1 in
	python3) echo "$missing_python3" ;;
	sqlite3) echo "$missing_sqlite3" ;;
	heaptrack) echo "$missing_heaptrack" ;;
	lsan) echo "$missing_lsan" ;;
	esac
}

# run NAME CONFIG: one run, its output in $tmp/out and $tmp/err
run() {
	rm -f "$tmp/db" "$tmp"/heaptrack.*
	workload "$1" "$2" >"$tmp/out" 2>"$tmp/err"
}

# time_run NAME CONFIG: one run timed, its seconds added to $tmp/times,
# or "crashed"; returns 1 if it failed
time_run() {
	t0=$(date +%s%N)
	if run "$1" "$2"; then
		t1=$(date +%s%N)
		echo "$1 $2 $((t1 - t0))" >>"$tmp/times"
		return 0
	fi
	echo "$1 $2 crashed" >>"$tmp/times"
	echo "$me: $1 under $2 failed:" >&2
	tail -n 5 "$tmp/err" >&2
	return 1
}

printf '%s%s: medians of %d runs, alternating; %s CPUs; whole processes\n' \
    "$me" "$([ "$quick" -eq 1 ] && echo ' --quick')" "$runs" \
    "$(nproc 2>/dev/null || echo '?')"
echo "churn: $ops operations, $live live blocks, sizes 16..4096 (fixed seed)"
if [ "$quick" -eq 0 ]; then
	[ -n "$missing_python3" ] ||
	    echo "python3: $py ($("$py" -V 2>&1)), $py_rounds rounds"
	[ -n "$missing_sqlite3" ] ||
	    echo "sqlite3: $sqlite $("$sqlite" -version | cut -d' ' -f1), $inserts inserts"
	[ -n "$missing_heaptrack" ] || echo "heaptrack: $(heaptrack --version)"
	write_inputs
fi
echo

: >"$tmp/times"
broken=0
for w in $workloads; do
	# "n/a" for the cells of a missing tool; the others take turns
	active=
	for c in $configs; do
		gone=$(missing "$w")
		[ -n "$gone" ] || gone=$(missing "$c")
		if [ -n "$gone" ]; then
			echo "$w $c $gone" >>"$tmp/times"
		else
			active="$active $c"
		fi
	done
	[ -n "$active" ] || continue
	echo "$me: $w, $runs runs of:$active" >&2
	# a first run, untimed: files in the page cache, the workload works
	run "$w" baseline || {
		echo "$me: $w failed:" >&2
		tail -n 5 "$tmp/err" >&2
		for c in $active; do echo "$w $c not run" >>"$tmp/times"; done
		broken=1
		continue
	}
	i=0
	while [ "$i" -lt "$runs" ]; do
		next=
		for c in $active; do
			if time_run "$w" "$c"; then
				next="$next $c"
			else   # not again; only the tools may fail
				case $c in heaptrack|lsan) ;; *) broken=1 ;; esac
			fi
		done
		active=$next
		i=$((i + 1))
	done
done

# --- the table ------------------------------------------------------------

awk -v configs="$configs" -v broken="$broken" '
function median(key,    n, i, j, v, s) {
	n = split(times[key], v, " ")
	for (i = 2; i <= n; i++)        # insertion sort: a few values
		for (j = i; j > 1 && v[j - 1] + 0 > v[j] + 0; j--) {
			s = v[j]; v[j] = v[j - 1]; v[j - 1] = s
		}
	return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
}
function row(w, c, value, ratio, target, result,    line) {
	line = sprintf("%-10s %-10s %-24s %-8s %-20s %s", w, c, value, ratio,
	    target, result)
	sub(/ +$/, "", line)
	print line
}
function verdict(ok, why) {
	targets++
	if (ok)
		return "PASS"
	missed++
	return "MISS" why
}
{
	key = $1 " " $2
	if (!(key in seen)) {
		seen[key] = 1
		if (!($1 in wseen)) { wseen[$1] = 1; wl[++nw] = $1 }
	}
	if ($3 ~ /^[0-9]+$/)
		times[key] = times[key] " " $3 / 1e9
	else {
		text = $3; for (i = 4; i <= NF; i++) text = text " " $i
		status[key] = text
	}
}
END {
	nc = split(configs, cl, " ")
	row("workload", "config", "median", "ratio", "target", "result")
	for (k = 1; k <= nw; k++) {
		w = wl[k]
		for (j = 1; j <= nc; j++) {
			key = w " " cl[j]
			med[key] = (key in status) ? -1 : median(key)
		}
		base = med[w " baseline"]
		ht = (w " heaptrack") in med ? med[w " heaptrack"] : -1
		for (j = 1; j <= nc; j++) {
			c = cl[j]; key = w " " c; m = med[key]
			target = result = ""
			if (m < 0) {
				row(w, c, status[key])
				continue
			}
			# targets on the ratio as printed: 1.05x is <= 1.05x
			r = base > 0 ? sprintf("%.2f", m / base) + 0 : -1
			ratio = r < 0 ? "" : sprintf("%.2fx", r)
			if (c == "passive" && r >= 0) {
				target = "<= 1.05x"
				result = verdict(r <= 1.05, "")
			} else if (c == "tag-all" && r >= 0) {
				target = ht > 0 ? "<= 3x, < heaptrack" : "<= 3x"
				why = (r > 3 ? ": > 3x" : "")
				if (ht > 0 && m >= ht)
					why = why (why ? "," : ":") " >= heaptrack"
				result = verdict(why == "", why)
			}
			row(w, c, sprintf("%.3f s", m), ratio, target, result)
		}
	}
	printf "\n%d targets: %d passed, %d missed%s\n", targets,
	    targets - missed, missed, broken ? "; the benchmark FAILED" : ""
}' "$tmp/times"
exit "$broken"
