# programs.sh - the programs of make check-real and their workloads,
# sourced by run.sh.  For each PROGRAM in $programs:
#   setup_PROGRAM      make the workload's input in the current (empty)
#                      folder; runs without the preload, once a mode
#   run_PROGRAM        the workload itself, in that folder, under the mode
#                      (its shell too); prints what is compared
#   norm_PROGRAM       (optional) a filter of stdout and stderr before they
#                      are compared, for what is nondeterministic by nature
# Inputs are generated, and every output a function of its input alone:
# fixed dates and names for git, sorted output where work runs in
# parallel.  $real_dir is this folder.

programs="perl sqlite3 bash git make python3 pytests redis redisd redisattach"
programs="$programs xz zstd"

# --- perl: a big hash, 200 forks, signal handlers that allocate ----------
setup_perl() { :; }
run_perl() { perl "$real_dir/work.pl"; }

# --- sqlite3: inserts, indexes, updates, VACUUM, integrity_check ---------
setup_sqlite3() {
	{
		echo "create table t(id integer primary key, k text, v real, b blob);"
		echo "begin;"
		i=0
		while [ $i -lt 40 ]; do
			echo "with recursive n(x) as (select 1 union all select x + 1 from n where x < 2500)"
			echo "insert into t(k, v, b) select 'k' || ($i * 2500 + x) || '-' || (x % 97), x * $i / 7.0, zeroblob(x % 900) from n;"
			i=$((i + 1))
		done
		echo "commit;"
		echo "create index t_k on t(k);"
		echo "create index t_v on t(v, k);"
		echo "update t set v = v * 2 where id % 3 = 0;"
		echo "delete from t where id % 5 = 0;"
		echo "select count(*), sum(v), sum(length(b)), max(k) from t;"
		echo "select k, v from t where k like 'k1234%' order by k;"
		echo "vacuum;"
		echo "pragma integrity_check;"
		echo "select count(*) from t indexed by t_v where v > 1000;"
	} >work.sql
}
run_sqlite3() { sqlite3 work.db <work.sql; }

# --- bash: subshells, command substitutions, xargs -P2 ------------------
setup_bash() { :; }
run_bash() {
	bash -c '
	sum=0
	for i in $(seq 1 300); do
		v=$( echo $((i * i)) )
		( exit $((i % 3)) ); sum=$((sum + v + $?))
		a[i]=$(printf "%0${i}d" 0 | tr 0 x)
	done
	echo "subshells: $sum, ${#a[@]} strings, ${#a[300]} long"
	# two at a time, so the order of the lines is sorted away
	seq 1 400 | xargs -P2 -n 8 bash -c '\''for x; do echo $((x * 3)); done'\'' - |
	    sort -n | md5sum
	f() { local s; s=$(declare -p a | wc -c); echo "$s"; }
	echo "declare: $(f)"
	'
}

# --- git: a generated history; gc, repack, fsck -------------------------
setup_git() { :; }
run_git() {
	export GIT_CONFIG_NOSYSTEM=1 GIT_AUTHOR_NAME=real GIT_AUTHOR_EMAIL=r@x \
	    GIT_COMMITTER_NAME=real GIT_COMMITTER_EMAIL=r@x
	git init -q -b main repo && cd repo || return 1
	git config gc.autoDetach false      # gc in the foreground: waited for
	i=1
	while [ $i -le 120 ]; do
		export GIT_AUTHOR_DATE="@$((1700000000 + i)) +0000"
		export GIT_COMMITTER_DATE=$GIT_AUTHOR_DATE
		seq $i $((i * 20)) >"f$((i % 7))"
		printf 'line %s\n' $(seq 1 $((i % 40))) >>notes
		git add -A && git commit -q -m "commit $i" || return 1
		[ $((i % 30)) -eq 0 ] && { git checkout -q -b "b$i" &&
		    echo "$i" >branch && git add branch &&
		    git commit -q -m "branch $i" && git checkout -q main &&
		    git merge -q --no-edit "b$i" || return 1; }
		i=$((i + 1))
	done
	git gc -q && git repack -q -adf && git fsck --full --strict &&
	git rev-list --count HEAD && git log --format='%H %s' | md5sum &&
	git cat-file -p HEAD:f3 | md5sum
}

# --- make -j2: a generated tree of C files built with gcc ---------------
setup_make() {
	mkdir src
	i=0
	while [ $i -lt 40 ]; do
		{
			echo "#include <stdlib.h>"
			echo "#include <string.h>"
			echo "long f$i(long x);"
			echo "long f$i(long x) {"
			echo "	char *p = malloc($i + 64); long s = 0;"
			echo "	memset(p, $i, $i + 64);"
			echo "	for (int k = 0; k < $i + 64; k++) s += p[k] * (x + k);"
			echo "	free(p); return s;"
			echo "}"
		} >src/f$i.c
		i=$((i + 1))
	done
	{
		echo "#include <stdio.h>"
		i=0
		while [ $i -lt 40 ]; do echo "long f$i(long);"; i=$((i + 1)); done
		echo "int main(void) { long s = 0;"
		i=0
		while [ $i -lt 40 ]; do echo "	s += f$i($i);"; i=$((i + 1)); done
		echo "	printf(\"%ld\\n\", s); return 0; }"
	} >src/main.c
	{
		echo "objs = \$(patsubst %.c,%.o,\$(wildcard src/*.c))"
		echo "prog: \$(objs)"
		printf '\t@gcc -o $@ $(objs)\n'
		echo "src/%.o: src/%.c"
		printf '\t@gcc -O2 -Wall -Werror -c -o $@ $<\n'
		echo "clean:"
		printf '\t@rm -f prog $(objs)\n'
	} >Makefile
}
run_make() {
	make -j2 && ./prog && make -j2 && make clean && ls src | wc -l
}

# --- python3: threads that allocate --------------------------------------
setup_python3() { :; }
run_python3() { python3 "$real_dir/threads.py"; }

# --- python3's own tests (libpython3.11-testsuite), one after another ---
# Whole, test_signal and test_subprocess take over a minute; the classes
# below take 15 s, among them the tests whose children list the
# descriptors they inherit (fd_status.py: test_close_fds*, test_pass_fds*)
# or check that a descriptor is closed (test_posix's test_close_file):
# memlease's thread opens its descriptors in a table of its own, and takes
# no number of the program's, not even for a moment.  Two of test_threading
# end a fork child by its only thread's exit: memlease's thread must not
# keep the child alive.  Left out:
#  - test_pass_fds_redirected and test_close_fds_when_max_fd_is_lowered
#    (their docstring: "may fail under valgrind"): their child lists every
#    descriptor it has, up to the limit, and must have none but those it
#    was given.  A process that tags has descriptors of memlease's, which
#    its threads use by number (the pipe that wakes memlease's thread,
#    libunwind's pipe): high and close-on-exec, never inherited, but there.
#  - test_run_with_shell_timeout_and_capture_output: it kills a shell
#    whose `sleep 3` outlives the test (a leftover process, and a killed
#    process cannot remove its control socket).
#  - test_stress_modifying_handlers: CPython's own race (bpo-43406): its
#    counts of signals sent and received are compared across threads
#    without a lock, and it failed once in passive mode, where memlease
#    runs no thread and tags nothing, on a loaded machine.
setup_pytests() { mkdir tmp; }
run_pytests() {
	TMPDIR=$PWD/tmp python3 -m test -v test_json test_gc test_weakref \
	    test_posix test_os test_subprocess test_signal test_threading \
	    -m '*.test_json.*' -m '*.test_gc.*' -m '*.test_weakref.*' \
	    -m '*.test_3_join_in_forked_from_thread' \
	    -m '*.test_main_thread_after_fork_from_nonmain_thread' \
	    -m '*.test_posix.*' -m '*.test_os.*' \
	    -m '*.POSIXProcessTestCase.*' -m '*.ContextManagerTests.*' \
	    -m '*.PosixTests.*' -m '*.WakeupFDTests.*' \
	    -m '*.WakeupSignalTests.*' -m '*.StressTest.*' \
	    -i test_pass_fds_redirected \
	    -i test_close_fds_when_max_fd_is_lowered \
	    -i test_run_with_shell_timeout_and_capture_output \
	    -i test_stress_modifying_handlers &&
	[ "$(ls tmp)" = "" ]    # and the tests cleaned up after themselves
}
# Timings, the load average and the test folder's name (a pid) are the
# run's.  A child that takes another uid (test_subprocess's user= tests,
# run as root) can reach neither its parent's socket folder nor its log
# file, and says so once each, as it should (memlease.7: the folder must
# be the process's own).
norm_pytests() {
	sed -e 's/^[0-9]*:[0-9][0-9]:[0-9][0-9] load avg: [0-9.]* //' \
	    -e 's/ in [0-9.]* *m*sec\b/ in TIME/' \
	    -e 's/^Ran \([0-9]*\) tests in .*/Ran \1 tests/' \
	    -e 's/\(itimer() resolution:\) [0-9.]* s/\1 TIME/' \
	    -e '/^Total duration: /d' -e '/^== cwd: /d' \
	    -e '/^memlease: socket folder .*; no control socket$/d' \
	    -e '/^memlease: cannot open MEMLEASE_LOG .*: Permission denied; reporting to stderr$/d'
}

# --- redis-server (on jemalloc) under redis-benchmark ---------------------
# On a Unix socket of the folder's, not a TCP port: two runs at once never
# collide.
setup_redis() { :; }
run_redis() {
	redis-server --port 0 --unixsocket "$PWD/redis.sock" --save '' \
	    --appendonly no --logfile "$PWD/redis.log" --dir "$PWD" &
	server=$!
	redis_up && redis_work && redis_down
}
# redis_up: wait for redis-server ($server) to answer on redis.sock
redis_up() {
	i=0
	until redis-cli -s redis.sock ping >/dev/null 2>&1; do
		i=$((i + 1))
		[ $i -lt 100 ] || { kill $server; return 1; }
		sleep 0.1
	done
}
# redis_work: the benchmark and what it left, then the server's end
redis_work() {
	redis-benchmark -s redis.sock -n 20000 -c 8 -d 200 --csv \
	    -t set,get,incr,lpush,rpop,sadd,hset,spop,zadd,lrange_100,mset ||
	    return 1
	for k in counter:__rand_int__ key:__rand_int__ mylist myset myhash; do
		redis-cli -s redis.sock type "$k"
	done
	redis-cli -s redis.sock dbsize
	redis-cli -s redis.sock llen mylist
	redis-cli -s redis.sock get counter:__rand_int__
	redis-cli -s redis.sock debug digest-value key:__rand_int__
}
redis_down() {
	redis-cli -s redis.sock shutdown nosave
	wait $server
}
# The figures are the machine's: the tests' names (in order) remain.
norm_redis() { sed -e 's/^\("[^"]*"\),.*/\1/'; }

# --- redis-server started without memlease, attached to ------------------
# In every mode but base, memleasectl attach loads the mode's preload into
# a redis-server started without it, its rules those of the environment
# (MEMLEASE_RULES), before the same benchmark: the same output, and with
# rules, leases made of the benchmark's allocations.
setup_redisattach() { :; }
run_redisattach() {
	env -u LD_PRELOAD redis-server --port 0 --unixsocket "$PWD/redis.sock" \
	    --save '' --appendonly no --logfile "$PWD/redis.log" --dir "$PWD" &
	server=$!
	redis_up || return 1
	if [ -n "${LD_PRELOAD-}" ] && ! "$ctl" attach "$server" \
	    --library "$LD_PRELOAD" >attach.out 2>&1; then
		echo "attach failed:"
		cat attach.out
	fi
	redis_work || return 1
	if [ -n "${LD_PRELOAD-}" ] && [ -n "${MEMLEASE_RULES-}" ] &&
	    ! "$ctl" -p "$server" --json stats 2>&1 |
	    grep -q '"allocated":[1-9]'; then
		echo "attached, but nothing tagged"
	fi
	redis_down
}
norm_redisattach() { norm_redis; }

# --- redis-server --daemonize yes: a daemon's control socket -------------
# Asked for with MEMLEASE_SOCKET=on, it must answer memleasectl ($ctl)
# within a second of the daemon's answering ping, though the daemon runs
# on in a fork child of the process started (memlease.7, CAVEATS).
setup_redisd() { :; }
run_redisd() {
	MEMLEASE_SOCKET=on redis-server --daemonize yes --port 0 \
	    --unixsocket "$PWD/redis.sock" --save '' --appendonly no \
	    --logfile "$PWD/redis.log" --dir "$PWD" \
	    --pidfile "$PWD/redis.pid" || return 1
	i=0
	until redis-cli -s redis.sock ping >/dev/null 2>&1; do
		i=$((i + 1))
		[ $i -lt 100 ] || return 1
		sleep 0.1
	done
	pid=$(cat redis.pid) || return 1
	if [ -n "${LD_PRELOAD-}" ]; then
		i=0
		until "$ctl" -p "$pid" stats >/dev/null 2>ctl.err; do
			i=$((i + 1))
			[ $i -lt 10 ] || { echo "no control socket:"; cat ctl.err; break; }
			sleep 0.1
		done
	fi
	redis-cli -s redis.sock set k v && redis-cli -s redis.sock get k &&
	redis-cli -s redis.sock dbsize
	redis-cli -s redis.sock shutdown nosave
	while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
}

# --- xz -T2 and zstd -T2: multi-threaded compression ------------------
setup_xz() {
	# 24 MB of text that compresses, some of it well
	perl -e 'for (1 .. 400000) { print $_ * 7919 % 100003, " ",
	    "x" x ($_ % 37), " line $_\n" }' >data
}
run_xz() {
	xz -T2 --block-size=1MiB -6 -k data && sha256sum data.xz &&
	xz -d -T2 -c data.xz | sha256sum && xz -t -T2 data.xz
}
setup_zstd() { setup_xz; }
run_zstd() {
	zstd -q -T2 -9 -o data.zst data && sha256sum data.zst &&
	zstd -q -d -T2 -c data.zst | sha256sum
}
