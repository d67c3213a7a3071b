# shellcheck shell=sh disable=SC2034,SC2154
# bench/common.sh - sourced by the benchmark scripts: their command line,
# and what they check and clear before they measure anything.  The script
# sets $me, its name for messages, and usage() before.
#   args NAMES ARGS...  the command line: --NAME PATH sets the variable
#                    NAME, for each NAME of NAMES; --quick sets quick=1;
#                    --help calls usage
#   die MESSAGE...   says it on stderr, exits 1
#   clean_env WHAT   clears the MEMLEASE_* variables, LSAN_OPTIONS and
#                    LD_PRELOAD (saying so: WHAT runs without it), and
#                    checks that date +%s%N gives nanoseconds
#   scratch          $tmp, a scratch folder removed at exit (an interrupt
#                    exits 130)

die() {
	echo "$me: $*" >&2
	exit 1
}

args() {
	names=$1
	shift
	while [ $# -gt 0 ]; do
		case $1 in
		--quick) quick=1 ;;
		--help) usage; exit 0 ;;
		--*)
			n=${1#--}
			case " $names " in
			*" $n "*) ;;
			*) usage >&2; exit 2 ;;
			esac
			[ $# -ge 2 ] || die "$1 needs a path"
			eval "$n=\$2"
			shift ;;
		*) usage >&2; exit 2 ;;
		esac
		shift
	done
}

clean_env() {
	case $(date +%s%N) in
	*[!0-9]*) die "date +%s%N does not give nanoseconds" ;;
	esac
	# What the environment would otherwise add to every run.
	unset MEMLEASE_RULES MEMLEASE_CONFIG MEMLEASE_LOG MEMLEASE_LOG_FORMAT \
	    MEMLEASE_REPORT_AT_EXIT MEMLEASE_INHERIT MEMLEASE_THREAD \
	    MEMLEASE_BACKTRACE MEMLEASE_SOCKET MEMLEASE_SOCKET_DIR LSAN_OPTIONS
	if [ -n "${LD_PRELOAD:-}" ]; then
		echo "$me: LD_PRELOAD is set; $1 runs without it" >&2
		unset LD_PRELOAD
	fi
}

scratch() {
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/memlease-bench.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	trap 'exit 130' INT TERM
}
