/*
 * test_tag.c - the tracking layer without the shim: rules decide which
 * allocations become tracked blocks, and each block lives through the
 * states of block.c (LIVE, MOVING, ENDING, TOMB, RECLAIMED, LATE) as the
 * program
 * frees and reallocates it and as its lease ends.  The clock is fake and
 * expiry is driven by hand (MEMLEASE_THREAD=0); each test runs in a
 * process of its own.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "memlease.h"
#include "block.h"
#include "clock.h"
#include "core.h"
#include "init.h"
#include "ptrmap.h"
#include "real.h"
#include "runtime.h"
#include "tag.h"

static volatile uint64_t fake_now = 7000000;

static void
setup(void)
{
	setenv("MEMLEASE_THREAD", "0", 1);
	setenv("MEMLEASE_LOG", "/dev/null", 1);
	ml_clock_fake(&fake_now);
	cr_assert_eq(ml_init_ready(), 0);
}

TestSuite(tag, .init = setup);

static void
rules(const char *text)
{
	struct ml_rules_error err;

	cr_assert_eq(ml_decide_set_rules(text, &err), 0, "%s: %s", text,
	    err.msg);
}

static __attribute__((noinline)) void *
alloc(size_t n)
{
	return ml_tag_alloc(ML_FN_MALLOC, 0, n, __builtin_return_address(0));
}

/* p's entry in the map, copied (state 0: none). */
static struct ml_pent
entry(const void *p)
{
	struct ml_shard *s = ml_ptrmap_lock(p);
	struct ml_pent *e = ml_ptrmap_find(s, p), v = { 0 };

	if (e != NULL)
		v = *e;
	ml_ptrmap_unlock(s);
	return v;
}

static uint64_t
live(void)
{
	struct memlease_stats st;

	cr_assert_eq(memlease_stats(&st), 0);
	return st.live_leases;
}

static void
expire_all(void)
{
	fake_now += 10000;
	cr_assert_gt(memlease_expire_due(), 0);
}

Test(tag, a_size_no_rule_selects_stays_untracked)
{
	rules("size=100 ttl=1s");
	void *p = alloc(99);
	cr_assert_not_null(p);
	cr_assert_eq(entry(p).state, 0);
	cr_assert_not(ml_tag_free(p), "an untracked block was taken");
	ml_real_free(p);
	cr_assert_eq(live(), 0);
}

Test(tag, a_selected_allocation_is_tracked_live_under_a_lease_of_its_kind)
{
	rules("size=100 ttl=1s action=free label=mine");
	void *p = alloc(100);
	struct ml_pent e = entry(p);
	struct ml_info in;

	cr_assert_eq(e.state, ML_P_LIVE);
	cr_assert_eq(e.kind, ML_KIND_FREE);
	cr_assert_eq(ml_core_info(ml_runtime_core(), e.h, &in), 0);
	cr_assert_eq(in.buf, p);
	cr_assert_eq(in.size, 100);
	cr_assert_str_eq(in.label, "mine");
	cr_assert(atomic_load(&ml_tag_tracking));
}

Test(tag, free_of_a_live_block_ends_its_lease_and_forgets_it)
{
	rules("size=64 ttl=1s");
	void *p = alloc(64);
	cr_assert_eq(live(), 1);
	cr_assert(ml_tag_free(p));
	cr_assert_eq(live(), 0);
	cr_assert_eq(entry(p).state, 0);
}

Test(tag, free_of_a_pinned_block_waits_for_its_last_unpin)
{
	rules("size=64 ttl=1s");
	void *p = alloc(64);
	memlease_t h = entry(p).h;
	cr_assert_not_null(memlease_pin(h, NULL));
	cr_assert(ml_tag_free(p));
	cr_assert_eq(entry(p).state, ML_P_ENDING);
	cr_assert(ml_tag_free(p), "a second free went to the allocator");
	cr_assert_eq(entry(p).state, ML_P_ENDING);
	cr_assert_eq(memlease_unpin(h), 0);
	cr_assert_eq(entry(p).state, 0, "the ending did not free it");
	cr_assert_eq(live(), 0);
}

Test(tag, realloc_moves_the_lease_with_the_block)
{
	rules("size=32-40000 ttl=1s");
	char *p = alloc(32), *q;
	memlease_t h = entry(p).h;
	struct ml_info in;

	strcpy(p, "kept");
	cr_assert(ml_tag_realloc(p, 40000, (void **)&q));
	cr_assert_not_null(q);
	cr_assert_str_eq(q, "kept");
	cr_assert_eq(entry(q).state, ML_P_LIVE);
	cr_assert_eq(entry(q).h, h);
	if (q != p)
		cr_assert_eq(entry(p).state, 0);
	cr_assert_eq(ml_core_info(ml_runtime_core(), h, &in), 0);
	cr_assert_eq(in.buf, q);
	cr_assert_eq(in.size, 40000);
	cr_assert(ml_tag_free(q));
	cr_assert_eq(live(), 0);
}

Test(tag, realloc_to_zero_frees_the_block)
{
	rules("size=64 ttl=1s");
	void *p = alloc(64), *q = p;
	cr_assert(ml_tag_realloc(p, 0, &q));
	cr_assert_null(q);
	cr_assert_eq(live(), 0);
}

Test(tag, release_of_a_tagged_lease_frees_its_block)
{
	rules("size=64 ttl=1s");
	void *p = alloc(64);
	cr_assert_eq(memlease_release(entry(p).h), 0);
	cr_assert_eq(entry(p).state, 0);
	cr_assert_not(ml_tag_free(p), "a released block is still tracked");
}

Test(tag, an_expired_report_block_stays_the_programs)
{
	rules("size=64 ttl=1s action=report");
	void *p = alloc(64);
	expire_all();
	cr_assert_eq(entry(p).state, 0);
	cr_assert_not(ml_tag_free(p));
	ml_real_free(p);
}

Test(tag, an_expired_free_block_is_a_tomb_and_a_second_free_is_recognised)
{
	rules("size=64 ttl=1s action=free");
	void *p = alloc(64);
	expire_all();
	cr_assert_eq(entry(p).state, ML_P_TOMB);
	cr_assert(ml_tag_free(p), "the late free went to the allocator: a "
	    "double free");
	cr_assert_eq(entry(p).state, ML_P_LATE);
	struct memlease_stats st;
	memlease_stats(&st);
	cr_assert_eq(st.expired, 1);
	cr_assert_eq(st.reclaimed, 1);
}

Test(tag, realloc_of_a_tomb_gives_a_new_zeroed_block)
{
	rules("size=64 ttl=1s action=free");
	void *p = alloc(64), *q = NULL;
	expire_all();
	cr_assert(ml_tag_realloc(p, 16, &q));
	cr_assert_not_null(q);
	cr_assert_eq(((char *)q)[0], 0);
	cr_assert_eq(entry(p).state, ML_P_LATE);
	ml_real_free(q);
}

/* The program's second late free of p could be taken for the free of a
 * new block at p: p's address is held, so that there is none. */
static void
second_late_free_is_ignored(const char *rule, size_t n)
{
	rules(rule);
	void *p = alloc(n), *q = NULL;
	expire_all();
	cr_assert(ml_tag_free(p));
	cr_assert(ml_tag_free(p), "the second late free went to the "
	    "allocator");
	cr_assert_eq(entry(p).state, ML_P_LATE);
	cr_assert(ml_tag_realloc(p, 16, &q), "a realloc() after the late "
	    "free went to the allocator");
	cr_assert_null(q);
	cr_assert_eq(errno, ENOMEM);
	cr_assert_eq(entry(p).state, ML_P_LATE);
}

Test(tag, a_second_late_free_of_a_tomb_is_recognised_and_ignored)
{
	second_late_free_is_ignored("size=64 ttl=1s action=free", 64);
}

Test(tag, a_second_late_free_of_a_reclaimed_block_is_recognised_and_ignored)
{
	second_late_free_is_ignored("size=5000 ttl=1s action=reclaim", 5000);
}

Test(tag, a_late_freed_address_is_held_for_the_quarantines_later_late_frees)
{
	enum { N = ML_BLOCK_QUARANTINE + 1 };
	static void *p[N];

	rules("size=64 ttl=1s action=free");
	for (int i = 0; i < N; i++)
		p[i] = alloc(64);
	expire_all();
	for (int i = 0; i < N - 1; i++)
		cr_assert(ml_tag_free(p[i]));
	cr_assert_eq(entry(p[0]).state, ML_P_LATE);
	cr_assert(ml_tag_free(p[N - 1]));
	cr_assert_eq(entry(p[0]).state, 0, "the oldest is still held");
	cr_assert_eq(entry(p[1]).state, ML_P_LATE);
	cr_assert_eq(entry(p[N - 1]).state, ML_P_LATE);
}

Test(tag, a_reclaim_block_lives_on_its_own_pages_and_is_reclaimed_at_expiry)
{
	rules("size=5000 ttl=1s action=reclaim");
	void *p = alloc(5000);
	size_t n = 0;
	cr_assert_eq(entry(p).kind, ML_KIND_RECLAIM);
	cr_assert(ml_tag_usable_size(p, &n));
	cr_assert_geq(n, 5000);
	expire_all();
	cr_assert_eq(entry(p).state, ML_P_RECLAIMED);
	cr_assert(ml_tag_usable_size(p, &n));
	cr_assert_eq(n, 0);
	cr_assert(ml_tag_free(p));
	cr_assert_eq(entry(p).state, ML_P_LATE);
}

static size_t
whole_pages(size_t n)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);

	return (n + page - 1) / page * page;
}

Test(tag, a_reclaim_block_keeps_its_length_through_realloc_and_free_unmaps_it)
{
	rules("size=5000- ttl=1s action=reclaim");
	char *p = alloc(5000), *q;
	size_t n = 0;
	unsigned char in_core;

	cr_assert(ml_tag_usable_size(p, &n));
	cr_assert_eq(n, whole_pages(5000));
	strcpy(p, "kept");
	cr_assert(ml_tag_realloc(p, 100000, (void **)&q));
	cr_assert_str_eq(q, "kept");
	cr_assert(ml_tag_usable_size(q, &n));
	cr_assert_eq(n, whole_pages(100000), "the length did not follow");
	cr_assert(ml_tag_free(q));
	errno = 0;
	int r = mincore(q + whole_pages(100000) - whole_pages(1), 1, &in_core);
	int err = errno;
	cr_assert_eq(r, -1, "its last page is still mapped");
	cr_assert_eq(err, ENOMEM);
	cr_assert_eq(live(), 0);
}

Test(tag, adopt_tracks_a_block_once)
{
	void *p = ml_real_malloc(10);
	memlease_t h;
	cr_assert_eq(ml_tag_adopt(p, 0, 1, 0, &h), 0);
	cr_assert_eq(entry(p).state, ML_P_LIVE);
	cr_assert_eq(entry(p).kind, ML_KIND_FREE);
	cr_assert_eq(ml_tag_adopt(p, 0, 1, 0, &h), -EEXIST);
	cr_assert(ml_tag_free(p));
	cr_assert_eq(live(), 0);
}

Test(tag, new_rules_replace_the_old_and_read_back_as_text)
{
	rules("size=64 ttl=1s");
	rules("size=128 ttl=2s action=free");
	char *text = ml_decide_rules_text();
	cr_assert_not_null(text);
	cr_assert(strstr(text, "size=128") != NULL, "%s", text);
	cr_assert(strstr(text, "size=64") == NULL, "%s", text);
	ml_real_free(text);
	void *p = alloc(64);
	cr_assert_eq(entry(p).state, 0);
	ml_real_free(p);
	cr_assert(ml_tag_may(128));
	cr_assert_not(ml_tag_may(64));
}

Test(tag, every_samples_one_allocation_in_n)
{
	rules("size=64 every=4 ttl=1s");
	int tracked = 0;
	void *p[16];
	for (int i = 0; i < 16; i++) {
		p[i] = alloc(64);
		tracked += entry(p[i]).state == ML_P_LIVE;
	}
	cr_assert_eq(tracked, 4);
	for (int i = 0; i < 16; i++)
		if (!ml_tag_free(p[i]))
			ml_real_free(p[i]);
}
