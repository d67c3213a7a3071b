/*
 * test_wordlock.c - the lock of the core and of the preload's tables
 * (src/wordlock.h): one holder at a time, and no thread left asleep by
 * the plain store that lets it go, with membarrier(2) and without it.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#ifdef ML_STANDALONE
#include "standalone.h"
#else
#include <criterion/criterion.h>
#endif

#include "wordlock.h"

TestSuite(wordlock, .timeout = 120);

static struct ml_wordlock lk;
static uint64_t counter;                /* guarded by lk */
static _Atomic long sleeps;             /* the takers' voluntary switches */

static uint64_t
now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

enum { THREADS = 4, ITERS = 40000, HOLD_EVERY = 200, HOLD_NS = 100000 };

/* Takes the lock ITERS times; one time in HOLD_EVERY it holds it long
 * enough that the others stop spinning and go to sleep.  Then counts its
 * voluntary context switches: nothing but the lock's futex can have put
 * it to sleep. */
static void *
taker(void *arg)
{
	struct rusage ru;

	(void)arg;
	for (int i = 0; i < ITERS; i++) {
		ml_wordlock_lock(&lk);
		counter++;
		if (i % HOLD_EVERY == 0) {
			uint64_t until = now_ns() + HOLD_NS;
			while (now_ns() < until)
				;
		}
		ml_wordlock_unlock(&lk);
	}
	if (getrusage(RUSAGE_THREAD, &ru) == 0)
		atomic_fetch_add(&sleeps, ru.ru_nvcsw);
	return NULL;
}

static void
join_within(pthread_t t, int seconds, const char *what)
{
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += seconds;
	cr_assert_eq(pthread_timedjoin_np(t, NULL, &until), 0, "%s", what);
}

/* THREADS takers; every update counted, every taker done in time (a
 * sleeper never woken would hang its thread), and the lock free with
 * nobody asleep at the end. */
static void
contend(void)
{
	pthread_t t[THREADS];

	ml_wordlock_init(&lk);
	counter = 0;
	atomic_store(&sleeps, 0);
	for (int i = 0; i < THREADS; i++)
		cr_assert_eq(pthread_create(&t[i], NULL, taker, NULL), 0);
	for (int i = 0; i < THREADS; i++)
		join_within(t[i], 60, "a thread waiting for the lock was never "
		    "woken");
	cr_assert_eq(counter, (uint64_t)THREADS * ITERS);
	cr_assert_eq(atomic_load(&lk.word), 0);
	cr_assert_eq(atomic_load(&lk.sleepers), 0);
	cr_assert_geq(atomic_load(&sleeps), 1,
	    "no thread ever slept: the test did not test the wake-up");
}

Test(wordlock, threads_in_turn_lose_no_update_and_no_sleeper)
{
	cr_assert(ml_wordlock_barrier_all(), "membarrier(2) refused here");
	contend();
}

static void *
sleeper(void *arg)
{
	(void)arg;
	ml_wordlock_lock(&lk);
	ml_wordlock_unlock(&lk);
	return NULL;
}

/* The plain store that lets it go must be followed by the wake-up. */
Test(wordlock, a_sleeper_is_woken_when_the_lock_is_let_go)
{
	pthread_t t;

	ml_wordlock_init(&lk);
	ml_wordlock_lock(&lk);
	cr_assert_eq(pthread_create(&t, NULL, sleeper, NULL), 0);
	for (int i = 0; i < 2000 && atomic_load(&lk.sleepers) == 0; i++)
		usleep(1000);
	cr_assert_eq(atomic_load(&lk.sleepers), 1, "the thread never slept");
	usleep(20000);          /* asleep in the futex by now, as a rule */
	ml_wordlock_unlock(&lk);
	join_within(t, 10, "the sleeper was never woken");
	cr_assert_eq(atomic_load(&lk.sleepers), 0);
}

/* membarrier(2) refused, as a seccomp filter or an old kernel may:
 * sleepers then look again every ms, and still get the lock. */
Test(wordlock, without_membarrier_sleepers_still_get_the_lock)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
		    offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_membarrier, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { sizeof f / sizeof f[0], f };

	cr_assert_eq(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), 0);
	cr_assert_eq(prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog), 0);
	errno = 0;
	cr_assert_not(ml_wordlock_barrier_all());
	cr_assert_eq(errno, 0, "errno is the caller's");
	contend();
}
