/*
 * test_loop.c - the real expiry thread, on the real clock: it starts only
 * when a lease has a timeout, expires on time, keeps its descriptor high,
 * and comes back in a child after fork().
 */
#define _GNU_SOURCE
#ifdef ML_STANDALONE
#include "standalone.h"
#else
#include <criterion/criterion.h>
#endif
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "loop.h"
#include "memlease.h"

static void
setup(void)
{
	setenv("MEMLEASE_LOG", "/dev/null", 1);
}

TestSuite(loop, .init = setup, .timeout = 20);

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int
count_dir(const char *path, int below)
{
	DIR *d = opendir(path);
	struct dirent *e;
	int n = 0;

	cr_assert_not_null(d);
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.' && atoi(e->d_name) < below)
			n++;
	closedir(d);
	return n;
}

/* Threads of this process named "memlease". */
static int
memlease_threads(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	char path[300], name[32];
	int n = 0;

	cr_assert_not_null(d);
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof path, "/proc/self/task/%s/comm",
		    e->d_name);
		FILE *f = fopen(path, "r");
		if (f != NULL && fgets(name, sizeof name, f) != NULL &&
		    strcmp(name, "memlease\n") == 0)
			n++;
		if (f != NULL)
			fclose(f);
	}
	closedir(d);
	return n;
}

/* Threads named "memlease", once there are n of them, waiting up to a
 * second: the thread names itself as it starts. */
static int
memlease_threads_become(int n)
{
	for (int i = 0; i < 1000 && memlease_threads() != n; i++)
		usleep(1000);
	return memlease_threads();
}

/* Wait until h is stale; the time it took, or -1 after limit_ms. */
static double
wait_stale(memlease_t h, double start, double limit_ms)
{
	while (now_ms() - start < limit_ms) {
		if (memlease_get(h, NULL) == NULL)
			return now_ms() - start;
		usleep(200);
	}
	return -1;
}

Test(loop, lease_of_50ms_is_gone_within_a_second_and_not_before_50ms)
{
	double start = now_ms();
	memlease_t h = memlease_alloc(128, 50, 1, NULL);

	cr_assert_neq(h, 0);
	double took = wait_stale(h, start, 1000);
	cr_assert_geq(took, 0, "still live after 1 s");
	cr_assert_geq(took, 50.0, "expired after %.3f ms", took);
	struct memlease_stats st;
	memlease_stats(&st);
	cr_assert_eq(st.expired, 1);
}

Test(loop, no_thread_until_a_lease_has_a_timeout)
{
	memlease_t h = memlease_alloc(8, 0, 1, NULL);

	cr_assert_eq(memlease_threads(), 0, "a lease without timeout: none");
	memlease_release(h);
	memlease_alloc(8, 10000, 1, NULL);
	cr_assert_eq(memlease_threads_become(1), 1);
}

Test(loop, no_thread_at_all_with_memlease_thread_0)
{
	setenv("MEMLEASE_THREAD", "0", 1);
	memlease_t h = memlease_alloc(8, 20, 1, NULL);

	cr_assert_eq(memlease_threads(), 0);
	usleep(60000);
	cr_assert_not_null(memlease_get(h, NULL), "nobody expires it");
	cr_assert_eq(memlease_expire_due(), 1);
}

Test(loop, any_value_but_0_leaves_the_thread_on)
{
	setenv("MEMLEASE_THREAD", "yes", 1);
	memlease_alloc(8, 10000, 1, NULL);
	cr_assert_eq(memlease_threads_become(1), 1);
}

Test(loop, leases_inherited_by_a_child_expire_there)
{
	memlease_t h = memlease_alloc(8, 100, 1, NULL);
	pid_t pid = fork();

	cr_assert_geq(pid, 0);
	if (pid == 0) {
		struct memlease_stats st;
		double start = now_ms();
		memlease_stats(&st);        /* any call restarts the thread */
		_exit(wait_stale(h, start, 2000) >= 0 ? 0 : 1);
	}
	int status;
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "the inherited lease never expired in the child");
}

Test(loop, earlier_deadline_wakes_the_thread)
{
	double start = now_ms();

	memlease_alloc(8, 60000, 1, NULL);      /* the thread sleeps 60 s */
	usleep(20000);
	memlease_t h = memlease_alloc(8, 30, 1, NULL);
	double took = wait_stale(h, now_ms(), 1000);
	cr_assert_geq(took, 0, "the new earliest deadline was missed");
	cr_assert_lt(now_ms() - start, 5000);
}

/* The thread idle, sleeping until it looks again in up to 1 s: a lease
 * due before then wakes it, well before that second is out. */
Test(loop, lease_due_before_the_idle_thread_looks_again_wakes_it)
{
	memlease_release(memlease_alloc(8, 60000, 1, NULL));
	usleep(50000);          /* the thread looked: nothing, sleeps 1 s */
	double start = now_ms();        /* before: the lease's birth is in */
	memlease_t h = memlease_alloc(8, 30, 1, NULL);
	double took = wait_stale(h, start, 2000);
	cr_assert_geq(took, 30.0, "expired after %.3f ms", took);
	cr_assert_lt(took, 600.0, "expired after %.3f ms: no wake-up", took);
}

/* A lease due after the thread looks again does not wake it, and is
 * expired on time all the same: the thread looks, then sleeps for the
 * rest. */
Test(loop, lease_due_after_the_thread_looks_again_expires_on_time)
{
	memlease_release(memlease_alloc(8, 60000, 1, NULL));
	usleep(50000);
	double start = now_ms();
	memlease_t h = memlease_alloc(8, 1300, 1, NULL);
	double took = wait_stale(h, start, 4000);
	cr_assert_geq(took, 1300.0, "expired after %.3f ms", took);
	cr_assert_lt(took, 2200.0, "expired after %.3f ms", took);
}

/* Leases made and released one after the other, each the only one, do
 * not wake the thread each time: it looks again when it said it would. */
Test(loop, short_leases_one_at_a_time_do_not_wake_the_thread_each)
{
	void *buf;

	memlease_release(memlease_alloc(8, 30000, 1, NULL));
	usleep(50000);
	uint64_t before = ml_loop_ticks();
	for (int i = 0; i < 10000; i++) {
		memlease_t h = memlease_alloc(64, 30000, 1, &buf);
		cr_assert_neq(h, 0);
		cr_assert_eq(memlease_release(h), 0);
	}
	uint64_t looks = ml_loop_ticks() - before;
	cr_assert_leq(looks, 3, "the thread looked %llu times",
	    (unsigned long long)looks);
}

Test(loop, renew_keeps_a_lease_alive_past_its_first_deadline)
{
	/* renewed every 250 ms for 1.5 s, with a ttl of 1 s: the slack is
	 * for a loaded machine (TSan, valgrind, a busy CI) */
	memlease_t h = memlease_alloc(8, 1000, 1, NULL);

	for (int i = 0; i < 6; i++) {
		usleep(250000);
		cr_assert_eq(memlease_renew(h, 1000), 0, "renewal %d", i);
	}
	cr_assert_eq(memlease_release(h), 0);
}

Test(loop, thread_descriptor_is_high_and_close_on_exec)
{
	int low_before = count_dir("/proc/self/fd", 100);

	memlease_alloc(8, 10000, 1, NULL);
	cr_assert_eq(count_dir("/proc/self/fd", 100), low_before,
	    "no descriptor below 100 taken");
}

Test(loop, child_after_fork_gets_its_own_thread)
{
	memlease_alloc(8, 10000, 1, NULL);     /* the parent's thread runs */
	pid_t pid = fork();

	cr_assert_geq(pid, 0);
	if (pid == 0) {
		double start = now_ms();
		memlease_t h = memlease_alloc(8, 30, 1, NULL);
		double took = wait_stale(h, start, 2000);
		_exit(took >= 30 ? 0 : 1);
	}
	int status;
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "the child's lease did not expire on time");
	memlease_t h = memlease_alloc(8, 30, 1, NULL);
	cr_assert_geq(wait_stale(h, now_ms(), 2000), 0,
	    "the parent's thread still works");
}

Test(loop, exit_with_the_thread_running_is_clean)
{
	pid_t pid = fork();

	cr_assert_geq(pid, 0);
	if (pid == 0) {
		for (int i = 0; i < 1000; i++)
			memlease_alloc(8, (uint64_t)(i % 5), 1, NULL);
		exit(0);
	}
	int status;
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}
