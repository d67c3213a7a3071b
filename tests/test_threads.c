/*
 * test_threads.c - 8 threads doing a million mixed operations each
 * (ML_TEST_OPS changes the count) while the loop thread expires leases
 * under them.  Run under ASan+UBSan and TSan by CI: a buffer freed while
 * pinned, a torn counter or a lost lease shows up here.
 */
#define _GNU_SOURCE
#ifdef ML_STANDALONE
#include "standalone.h"
#else
#include <criterion/criterion.h>
#endif
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "memlease.h"

#define THREADS 8
#define HELD    64

static long ops_per_thread;
static _Atomic memlease_t board[THREADS * HELD];   /* every live handle */
static atomic_long hooked;
static atomic_long made, ended_by_release;

static void
on_expire(memlease_t h, void *buf, size_t size, const char *label, void *arg)
{
	(void)h;
	(void)label;
	(void)arg;
	memset(buf, 0xee, size);   /* nobody holds it any more */
	atomic_fetch_add(&hooked, 1);
}

static uint64_t
next_rand(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* One release; counts the lease as ended when that was its last. */
static void
release_counted(memlease_t h, size_t *left)
{
	if (memlease_release(h) == 0 && --*left == 0)
		atomic_fetch_add(&ended_by_release, 1);
}

static void *
worker(void *arg)
{
	_Atomic memlease_t *mine = &board[(uintptr_t)arg * HELD];
	uint64_t seed = (uintptr_t)arg * 0x9e3779b97f4a7c15u + 1;
	memlease_t held[HELD] = { 0 };
	size_t left[HELD] = { 0 };
	char label[16];

	for (long op = 0; op < ops_per_thread; op++) {
		uint64_t r = next_rand(&seed);
		int i = (int)(r % HELD);
		memlease_t h = held[i];
		size_t size;
		void *buf;

		switch ((r >> 8) % 8) {
		case 0:
		case 1:
			if (h != 0)
				break;
			/* Fill it before it has a timeout: a lease of 1 ms
			 * may expire before memlease_alloc() returns. */
			held[i] = memlease_alloc(1 + (r >> 16) % 256, 0,
			    1 + (r >> 32) % 2, &buf);
			cr_assert_neq(held[i], 0);
			left[i] = 1 + (r >> 32) % 2;
			memset(buf, 1, 1);
			/* ttl 0..3 ms: many expire under us */
			cr_assert_eq(memlease_renew(held[i], (r >> 24) % 4), 0);
			atomic_store(&mine[i], held[i]);   /* publish */
			atomic_fetch_add(&made, 1);
			break;
		case 2:
			if (h != 0) {
				release_counted(h, &left[i]);
				if (left[i] == 0)
					held[i] = 0;
				atomic_store(&mine[i], held[i]);
			}
			break;
		case 3:         /* anyone's lease: it must not vanish under us */
			h = atomic_load(&board[(r >> 16) % (THREADS * HELD)]);
			buf = memlease_pin(h, &size);
			if (buf != NULL) {
				cr_assert_eq(*(volatile char *)buf, 1);
				cr_assert_eq(memlease_unpin(h), 0);
			}
			break;
		case 4:
			memlease_renew(h, (r >> 16) % 3);
			break;
		case 5:
			snprintf(label, sizeof label, "t%d", (int)(r % 5));
			memlease_set_label(h, label);
			break;
		case 6:
			buf = memlease_get(h, &size);
			if (buf == NULL) {
				held[i] = 0;    /* it expired */
				atomic_store(&mine[i], 0);
			}
			break;
		default:
			if (r % 64 == 0)
				memlease_expire_due();
			break;
		}
	}
	for (int i = 0; i < HELD; i++)
		while (held[i] != 0 && left[i] != 0) {
			size_t was = left[i];
			release_counted(held[i], &left[i]);
			if (left[i] == was)
				break;          /* expired meanwhile */
		}
	return NULL;
}

TestSuite(threads, .timeout = 600);

Test(threads, eight_threads_of_mixed_operations_with_the_loop_expiring)
{
	const char *ops = getenv("ML_TEST_OPS");
	pthread_t t[THREADS];
	struct memlease_stats st;

	setenv("MEMLEASE_LOG", "/dev/null", 1);
	ops_per_thread = ops != NULL ? atol(ops) : 1000000;
	cr_assert_eq(memlease_on_expire(on_expire, NULL), 0);
	for (uintptr_t i = 0; i < THREADS; i++)
		cr_assert_eq(pthread_create(&t[i], NULL, worker, (void *)i), 0);
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);

	/* Whatever is left has a timeout of at most 3 ms. */
	for (int tries = 0; tries < 1000; tries++) {
		memlease_stats(&st);
		if (st.live_leases == 0)
			break;
		usleep(2000);
	}
	memlease_stats(&st);
	cr_assert_eq(st.live_leases, 0, "%llu leases left",
	    (unsigned long long)st.live_leases);
	cr_assert_eq(st.live_bytes, 0);
	cr_assert_eq(st.allocated, (uint64_t)atomic_load(&made));
	cr_assert_eq(st.allocated, st.released + st.expired);
	cr_assert_eq(st.released, (uint64_t)atomic_load(&ended_by_release));
	cr_assert_eq(st.expired, (uint64_t)atomic_load(&hooked));
	cr_assert_gt(st.expired, 0, "the loop expired some");
	cr_assert_leq(st.entry_blocks, 2, "every dynamic block went away, "
	    "but the spare");
	cr_assert_eq(memlease_trim(), (int)st.entry_blocks - 1);
	cr_assert_eq(memlease_stats(&st), 0);
	cr_assert_eq(st.entry_blocks, 1, "trimmed, the static block alone");
	cr_assert_eq(st.pinned, 0);
}
