/*
 * test_lone.c - the core's lock while the process has one thread, when it
 * is taken with plain stores (wordlock.h), and as threads are made.
 *
 * Criterion's runner starts threads of its own, and glibc does not say
 * "one thread" again in a child after fork(), so these tests run without
 * it (standalone.h): each in a child of a process that never made a
 * thread.  Each checks first that it runs alone, so that a C library that
 * stops saying so fails them instead of leaving the plain path untried.
 * Not built under TSan, whose runtime has a thread of its own.
 */
#define _GNU_SOURCE
#include "standalone.h"

#include <errno.h>
#include <linux/membarrier.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "core-private.h"
#include "wordlock.h"

TestSuite(lone, .timeout = 60);

static struct ml_core core;

static void *
std_realloc(void *p, size_t n)
{
	return realloc(p, n);
}

static const struct ml_alloc std_alloc = { std_realloc, free };

static void
start_alone(void)
{
	cr_assert(ml_wordlock_lone(), "the process must have one thread");
	cr_assert_eq(ml_core_init(&core, &std_alloc, 1000), 0);
}

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, ms % 1000 * 1000000L };

	nanosleep(&ts, NULL);
}

static atomic_int waiter_done;

static void *
waiter(void *arg)
{
	memlease_t h = *(memlease_t *)arg;

	/* waits for the lock main holds */
	cr_assert_not_null(ml_core_get(&core, h, NULL));
	atomic_store(&waiter_done, 1);
	return NULL;
}

/* Taken alone, let go with threads: the thread made meanwhile sleeps on
 * the lock, and the release must wake it. */
Test(lone, a_lock_taken_alone_wakes_a_thread_made_while_it_was_held)
{
	memlease_t h;
	bool wake;
	char buf[16];
	pthread_t t;

	start_alone();
	cr_assert_eq(ml_core_add(&core, 1000, buf, sizeof buf, 0, 1, 0, 0, &h,
	    &wake), 0);
	ml_core_lock(&core);
	cr_assert_eq(atomic_load(&core.lock.word), 1);
	cr_assert_eq(pthread_create(&t, NULL, waiter, &h), 0);
	cr_assert_not(ml_wordlock_lone());
	/* the waiter counts itself a sleeper before it sleeps */
	for (int i = 0; i < 2000 && atomic_load(&core.lock.sleepers) == 0; i++)
		sleep_ms(1);
	cr_assert_eq(atomic_load(&core.lock.sleepers), 1,
	    "the thread never waited");
	sleep_ms(20);    /* and is asleep by now, as a rule */
	cr_assert_eq(atomic_load(&waiter_done), 0);
	ml_core_unlock(&core);
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 10;
	cr_assert_eq(pthread_timedjoin_np(t, NULL, &until), 0,
	    "the thread waiting for the lock was never woken");
	cr_assert_eq(atomic_load(&waiter_done), 1);
	cr_assert_eq(atomic_load(&core.lock.word), 0);
	cr_assert_eq(atomic_load(&core.lock.sleepers), 0);
}

struct churn {
	memlease_t h[64];
	int        n;
};

static void *
releaser(void *arg)
{
	struct churn *ch = arg;
	struct ml_ended out;

	for (int i = 0; i < ch->n; i++)
		cr_assert_eq(ml_core_release(&core, ch->h[i], &out), 1);
	return NULL;
}

/* Leases made alone stay whole once threads come: another thread ends
 * them and the table agrees. */
Test(lone, leases_made_alone_are_ended_by_another_thread)
{
	static char bufs[64][8];
	struct churn ch = { .n = 64 };
	struct memlease_stats st;
	bool wake;
	pthread_t t;

	start_alone();
	for (int i = 0; i < ch.n; i++)
		cr_assert_eq(ml_core_add(&core, 1000, bufs[i], 8, 5000, 1, 0,
		    0, &ch.h[i], &wake), 0);
	ml_core_stats(&core, &st);
	cr_assert_eq(st.live_leases, 64);
	cr_assert_eq(st.entry_blocks, (64 + ML_PER_BLOCK - 1) / ML_PER_BLOCK);
	cr_assert_eq(pthread_create(&t, NULL, releaser, &ch), 0);
	cr_assert_eq(pthread_join(t, NULL), 0);
	ml_core_stats(&core, &st);
	cr_assert_eq(st.live_leases, 0);
	cr_assert_eq(st.released, 64);
	/* the dynamic blocks went, but for the one kept as the spare */
	cr_assert_eq(st.entry_blocks - (uint64_t)ml_core_trim(&core), 1);
	for (int i = 0; i < ch.n; i++)
		cr_assert_null(ml_core_get(&core, ch.h[i], NULL));
	cr_assert_eq(errno, ESTALE);
}

/* A core made while the process is alone registers the process for
 * membarrier(2) then, while that is cheap (wordlock.h): the barrier works
 * at once, with no registration left for a thread about to sleep. */
Test(lone, a_core_made_alone_registers_the_process_for_membarrier)
{
	cr_assert(ml_wordlock_lone(), "the process must have one thread");
	cr_assert_eq(syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED,
	    0, 0), -1, "registered before the core was made");
	cr_assert_eq(errno, EPERM);
	start_alone();
	cr_assert_eq(syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED,
	    0, 0), 0, "not registered: %s", strerror(errno));
}
