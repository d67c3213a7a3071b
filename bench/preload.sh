#!/bin/sh
# bench/preload.sh - what the preload costs the programs it runs under,
# beside the tools it is compared with.
#
#   bench/preload.sh --lib LIBMEMLEASE.SO --churn BENCH/CHURN
#                    --shapes BENCH/SHAPES --floors BENCH/FLOORS [--quick]
#                    [--workloads 'NAME...'] [--configs 'NAME...']
#
# --workloads and --configs run some of them only (the base always).
#
# Workloads, each a whole process, timed from outside (date +%s%N), its
# peak RSS from GNU time (%M):
#   churn-1t  bench/churn 1 3M 10k: malloc/free/realloc, sizes 16..4096,
#             called from a shallow loop
#   churn-2t  the same with 2 threads handing blocks to each other
#   deep-1t   bench/churn 1 1M 10k deep: each allocation made through 8
#             real, non-inlined frames (about 13 to unwind), a free and a
#             malloc an operation, 16..4096 bytes, 10k live
#   deep-2t   the same on 2 threads, about 6% of the frees by the thread
#             that did not allocate the block
#   manylive  bench/shapes manylive 1M: 1M blocks of 16..256 bytes live at
#             once (8 frames deep), freed in a random order
#   realloc   bench/shapes realloc 8: 64 buffers grown by realloc from 16
#             bytes to 64 KiB, 8 times
#   python3   PYTHONMALLOC=malloc python3 (every object through malloc)
#             building and dropping dicts, lists and strings
#   sqlite3   the CLI: 100k inserts into a table with 2 indexes (3
#             b-trees), a GROUP BY, an UPDATE and a DELETE, in a new file
# under each configuration:
#   base      no preload
#   norules   libmemlease.so, no rules (the untagged path)
#   tag-all   libmemlease.so, every allocation tagged (ttl=1h, reports to
#             /dev/null)
#   sample    libmemlease.so, sample=512k, otherwise as tag-all
#   heaptrack heaptrack -o FILE, recording and interpreting (its default)
#   lsan      the LeakSanitizer runtime preloaded, leaks checked at exit
#             but not failing the run (exitcode=0)
#   jeprof    jemalloc's profiler, every allocation sampled:
#             LD_PRELOAD=libjemalloc.so.2 MALLOC_CONF=prof:true,
#             lg_prof_sample:0 (jemalloc in the base too would change the
#             allocator, not the tool: its ratio says both)
# Targets: norules <= 1.02x; tag-all <= 2.5x and below heaptrack and
# jeprof; sample <= 1.05x; the memory memlease adds per tagged block at 1M
# live (manylive: the peak RSS of tag-all less that of base, over 1M)
# <= 64 bytes.  And the floors (bench/floors), in the same run: a 13-frame
# stack captured alone, the pointer map alone, each per tagged allocation.
#
# The machine may be shared and noisy, so runs are paired: each round
# runs every configuration right after (or, every other round, right
# before) a base run of its own, and a cell is the median of its pairs'
# ratios (7 pairs; 15 for norules, whose target is the finest).  Peak RSS
# is the median of a cell's runs.  --quick, the smoke run of `./dev
# check` and of tests/bench.sh: smaller churn, deep-1t, manylive and
# realloc, base, norules, tag-all and sample, 2 pairs; it needs nothing
# but the C library (and GNU time for the peak RSS, else "-").  In a
# full run a tool that is missing is a column of "n/a (install PACKAGE)";
# a run that fails under heaptrack, LSan or jemalloc is "crashed" (GCC
# 12's LSan, preloaded, crashes some programs at start-up).  A missed
# target is printed, not failed: the exit status is 1 only if the
# benchmark itself broke (a workload failing without a tool, or under the
# preload).
#
# python3 is PYTHON if set, else /usr/bin/python3, else the python3 of
# PATH (resolved to the interpreter itself, so that a wrapper script is not
# what runs under the preload).
set -eu

me=bench/preload
# shellcheck source=bench/common.sh
. "$(dirname "$0")/common.sh"

usage() {
	echo "usage: bench/preload.sh --lib LIBMEMLEASE.SO --churn BENCH/CHURN"
	echo "           --shapes BENCH/SHAPES --floors BENCH/FLOORS [--quick]"
	echo "  the preload's overhead beside heaptrack, LSan and jemalloc's"
	echo "  profiler; prints a table"
	echo "  --quick  fewer workloads and tools, smaller, 2 pairs"
	echo "  --workloads 'NAME...', --configs 'NAME...'  some of them only"
}

lib='' churn='' shapes='' floors='' quick=0 workloads='' configs=''
args "lib churn shapes floors workloads configs" "$@"
only_w=$workloads only_c=$configs
[ -f "$lib" ] || die "no preload library at '$lib' (--lib)"
[ -x "$churn" ] || die "no churn program at '$churn' (--churn)"
[ -x "$shapes" ] || die "no shapes program at '$shapes' (--shapes)"
[ -x "$floors" ] || die "no floors program at '$floors' (--floors)"
clean_env "the base"

scratch

if [ "$quick" -eq 1 ]; then
	pairs=2 pairs_norules=2 ops=300000 deep_ops=200000 live=10000
	many=100000 grows=1
	workloads="churn-1t deep-1t manylive realloc"
	configs="norules tag-all sample"
else
	pairs=7 pairs_norules=15 ops=3000000 deep_ops=1000000 live=10000
	many=1000000 grows=8 py_rounds=120 inserts=100000
	workloads="churn-1t churn-2t deep-1t deep-2t manylive realloc python3
	    sqlite3"
	configs="norules tag-all sample heaptrack lsan jeprof"
fi
workloads=${only_w:-$workloads} configs=${only_c:-$configs}

# --- the tools: what a missing one leaves ---------------------------------

# missing_WORKLOAD or missing_CONFIG: empty, or the cells' text
missing_python3='' missing_sqlite3='' missing_heaptrack='' missing_lsan=''
missing_jeprof=''
if [ "$quick" -eq 0 ]; then
	py=${PYTHON:-$(command -v /usr/bin/python3 python3 | head -n 1)}
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
	# jemalloc's build says whether it can profile (config.prof)
	jeconf=$(LD_PRELOAD=libjemalloc.so.2 MALLOC_CONF=stats_print:true \
	    "$churn" 1 0 1 2>&1 || true)
	case $jeconf in
	*'cannot be preloaded'*) missing_jeprof="n/a (install libjemalloc2)" ;;
	*'config.prof: true'*) ;;
	*) missing_jeprof="n/a (jemalloc built without profiling)" ;;
	esac
fi

# --- the workloads --------------------------------------------------------

# timed COMMAND...: COMMAND run by GNU time, its peak RSS (KiB) on the
# last line of $tmp/rss ("-" without GNU time: install time).  The
# configurations reach their command through env, the base too, so that
# each runs the same chain of programs; but heaptrack, which traces the
# program it starts and none that this one executes.
if [ -x /usr/bin/time ] && /usr/bin/time -f %M -o /dev/null true 2>/dev/null
then
	timed() {
		/usr/bin/time -f %M -o "$tmp/rss" "$@"
	}
else
	timed() {
		echo - >"$tmp/rss"
		"$@"
	}
fi

# under CONFIG COMMAND...: run COMMAND as CONFIG says
under() {
	cfg=$1
	shift
	case $cfg in
	base) timed env "$@" ;;
	norules) timed env LD_PRELOAD="$lib" "$@" ;;
	tag-all) timed env LD_PRELOAD="$lib" MEMLEASE_RULES='ttl=1h' \
	    MEMLEASE_LOG=/dev/null "$@" ;;
	sample) timed env LD_PRELOAD="$lib" \
	    MEMLEASE_RULES='sample=512k ttl=1h' MEMLEASE_LOG=/dev/null "$@" ;;
	heaptrack) timed heaptrack -o "$tmp/heaptrack" "$@" ;;
	lsan) timed env LD_PRELOAD=liblsan.so.0 LSAN_OPTIONS=exitcode=0 "$@" ;;
	jeprof) timed env LD_PRELOAD=libjemalloc.so.2 \
	    MALLOC_CONF=prof:true,lg_prof_sample:0 "$@" ;;
	esac
}

# workload NAME CONFIG: one run
workload() {
	case $1 in
	churn-1t) under "$2" "$churn" 1 "$ops" "$live" ;;
	churn-2t) under "$2" "$churn" 2 "$ops" "$live" ;;
	deep-1t) under "$2" "$churn" 1 "$deep_ops" "$live" deep ;;
	deep-2t) under "$2" "$churn" 2 "$deep_ops" "$live" deep ;;
	manylive) under "$2" "$shapes" manylive "$many" ;;
	realloc) under "$2" "$shapes" realloc "$grows" ;;
	python3) (export PYTHONMALLOC=malloc
	    under "$2" "$py" "$tmp/work.py" "$py_rounds") ;;
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
		print "CREATE INDEX t_v ON t(v);"
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
		print "SELECT v % 10, count(*), sum(length(pad)) FROM t GROUP BY v % 10;"
		print "UPDATE t SET pad = pad || " q "-updated" q " WHERE v < 300;"
		print "DELETE FROM t WHERE k < " q "4" q ";"
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
	jeprof) echo "$missing_jeprof" ;;
	esac
}

# run NAME CONFIG: one run, its output in $tmp/out and $tmp/err
run() {
	rm -f "$tmp/db" "$tmp"/heaptrack.*
	workload "$1" "$2" >"$tmp/out" 2>"$tmp/err"
}

# time_run NAME CONFIG: one run, timed; prints "NANOSECONDS RSS_KIB", or
# says that it failed and returns 1
time_run() {
	t0=$(date +%s%N)
	if run "$1" "$2"; then
		t1=$(date +%s%N)
		echo "$((t1 - t0)) $(tail -n 1 "$tmp/rss")"
		return 0
	fi
	echo "$me: $1 under $2 failed:" >&2
	tail -n 5 "$tmp/err" >&2
	return 1
}

# pair NAME CONFIG ROUND (its variables: pb, pc): a base run and a CONFIG
# run, the base first in even rounds, second in odd ones.  Adds "NAME base
# SECONDS RSS" and "NAME CONFIG RATIO RSS" to $tmp/pairs, or "NAME CONFIG
# crashed" and returns 1 (2: the base failed)
pair() {
	pb='' pc=''
	if [ $(($3 % 2)) -eq 0 ]; then
		pb=$(time_run "$1" base) && pc=$(time_run "$1" "$2") || :
	else
		pc=$(time_run "$1" "$2") || :
		pb=$(time_run "$1" base) || :
	fi
	[ -n "$pb" ] || return 2
	# shellcheck disable=SC2086
	set -- "$1" "$2" $pb $pc
	echo "$1 base $(awk -v b="$3" 'BEGIN { printf "%.4f", b / 1e9 }') $4" \
	    >>"$tmp/pairs"
	if [ $# -lt 6 ]; then
		echo "$1 $2 crashed" >>"$tmp/pairs"
		return 1
	fi
	echo "$1 $2 $(awk -v b="$3" -v c="$5" 'BEGIN { printf "%.4f", c / b }') $6" \
	    >>"$tmp/pairs"
}

printf '%s%s: paired runs (base then the configuration, or the other way\n' \
    "$me" "$([ "$quick" -eq 1 ] && echo ' --quick')"
printf 'round, in turns), medians of %d pairs (%d for norules); %s CPUs\n' \
    "$pairs" "$pairs_norules" "$(nproc 2>/dev/null || echo '?')"
echo "churn: $ops operations, $live live blocks, sizes 16..4096 (fixed seed)"
echo "deep: $deep_ops operations, $live live; manylive: $many blocks; realloc: $grows rounds"
if [ "$quick" -eq 0 ]; then
	[ -n "$missing_python3" ] ||
	    echo "python3: $py ($("$py" -V 2>&1)), PYTHONMALLOC=malloc, $py_rounds rounds"
	[ -n "$missing_sqlite3" ] ||
	    echo "sqlite3: $sqlite $("$sqlite" -version | cut -d' ' -f1), $inserts inserts"
	[ -n "$missing_heaptrack" ] || echo "heaptrack: $(heaptrack --version)"
	if [ -n "$missing_jeprof" ]; then
		echo "jeprof: $missing_jeprof"
	else
		echo "jeprof: libjemalloc.so.2, built with profiling (config.prof: true)"
	fi
	write_inputs
fi
echo

: >"$tmp/pairs"
broken=0
for w in $workloads; do
	# "n/a" for the cells of a missing tool; the others take turns
	active=
	for c in $configs; do
		gone=$(missing "$w")
		[ -n "$gone" ] || gone=$(missing "$c")
		if [ -n "$gone" ]; then
			echo "$w $c $gone" >>"$tmp/pairs"
		else
			active="$active $c"
		fi
	done
	[ -n "$active" ] || continue
	echo "$me: $w, pairs of base and:$active" >&2
	# a first run, untimed: files in the page cache, the workload works
	run "$w" base || {
		echo "$me: $w failed:" >&2
		tail -n 5 "$tmp/err" >&2
		for c in $active; do echo "$w $c not run" >>"$tmp/pairs"; done
		broken=1
		continue
	}
	r=0
	while [ "$r" -lt "$pairs_norules" ] && [ -n "$active" ]; do
		next=
		for c in $active; do
			if [ "$c" != norules ] && [ "$r" -ge "$pairs" ]; then
				continue
			fi
			if pair "$w" "$c" "$r"; then
				next="$next $c"
			else    # not again; only the tools may fail
				case $c in heaptrack|lsan|jeprof) ;; *) broken=1 ;; esac
			fi
		done
		active=$next
		r=$((r + 1))
	done
done

# --- the table ------------------------------------------------------------

awk -v configs="base $configs" -v broken="$broken" -v many="$many" '
function median(list,    n, i, j, v, s) {
	n = split(list, v, " ")
	for (i = 2; i <= n; i++)        # insertion sort: a few values
		for (j = i; j > 1 && v[j - 1] + 0 > v[j] + 0; j--) {
			s = v[j]; v[j] = v[j - 1]; v[j - 1] = s
		}
	return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
}
function row(w, c, value, mem, target, result,    line) {
	line = sprintf("%-9s %-9s %-17s %-8s %-26s %s", w, c, value, mem,
	    target, result)
	sub(/ +$/, "", line)
	print line
}
function verdict(ok, why) {
	targets++
	if (ok)
		return "met"
	missed++
	return "MISSED" why
}
{
	key = $1 " " $2
	if (!($1 in wseen)) { wseen[$1] = 1; wl[++nw] = $1 }
	if ($3 ~ /^[0-9.]+$/) {
		vals[key] = vals[key] " " $3
		rss[key] = rss[key] " " $4
		n[key]++
	} else {
		text = $3; for (i = 4; i <= NF; i++) text = text " " $i
		status[key] = text
	}
}
END {
	nc = split(configs, cl, " ")
	row("workload", "config", "ratio (pairs)", "peak RSS", "target",
	    "result")
	for (k = 1; k <= nw; k++) {
		w = wl[k]
		for (j = 1; j <= nc; j++) {
			key = w " " cl[j]
			ok = (key in vals) && !(key in status)
			med[key] = ok ? median(vals[key]) : -1
			mrss[key] = (key in rss) ? median(rss[key]) : -1
		}
		ht = med[w " heaptrack"]; jp = med[w " jeprof"]
		for (j = 1; j <= nc; j++) {
			c = cl[j]; key = w " " c; m = med[key]
			target = result = ""
			if (m < 0) {
				row(w, c, (key in status) ? status[key] : "-")
				continue
			}
			mem = mrss[key] > 0 ? sprintf("%.0f MiB", mrss[key] / 1024) : "-"
			if (c == "base") {
				row(w, c, sprintf("%.3f s (%d)", m, n[key]), mem)
				continue
			}
			# targets on the ratio as printed: 1.02x is <= 1.02x
			r = sprintf("%.2f", m) + 0
			if (c == "norules") {
				target = "<= 1.02x"
				result = verdict(r <= 1.02, "")
			} else if (c == "sample") {
				target = "<= 1.05x"
				result = verdict(r <= 1.05, "")
			} else if (c == "tag-all") {
				target = "<= 2.5x"
				why = (r > 2.5 ? ": > 2.5x" : "")
				if (ht > 0) {
					target = target ", < heaptrack"
					if (m >= ht)
						why = why (why ? "," : ":") " >= heaptrack"
				}
				if (jp > 0) {
					target = target ", < jeprof"
					if (m >= jp)
						why = why (why ? "," : ":") " >= jeprof"
				}
				result = verdict(why == "", why)
			}
			row(w, c, sprintf("%.2fx (%d)", r, n[key]), mem, target,
			    result)
		}
	}
	b = mrss["manylive base"]; t = mrss["manylive tag-all"]
	if (b > 0 && t > 0) {
		per = (t - b) * 1024 / many
		printf "\nmemory per tagged block, manylive (%d live): %.0f MiB " \
		    "tag-all - %.0f MiB base = %.1f bytes a block, target " \
		    "<= 64: %s\n", many, t / 1024, b / 1024, per,
		    verdict(per <= 64, "")
	}
	printf "\n%d targets: %d met, %d missed%s\n", targets,
	    targets - missed, missed, broken ? "; the benchmark FAILED" : ""
}' "$tmp/pairs"

echo
echo "floors (bench/floors, this run), per tagged allocation:"
# shellcheck disable=SC2046
"$floors" $([ "$quick" -eq 1 ] && echo --quick) || broken=1
exit "$broken"
