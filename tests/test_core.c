/*
 * test_core.c - the core alone, one suite a file of it: handles,
 * generations, entry blocks (table); deadlines, classes, rings (queue);
 * pins, labels, stats, allocation failures, a model (core).  Time is a
 * number passed in; no test sleeps.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core-private.h"

#define N ML_PER_BLOCK
#define T0 1000000          /* the epoch of the test core, in ms */

static struct ml_core core;
static int allocs_to_fail = -1;   /* fail the allocation after this many */
static int poison = -1;           /* fill new entry blocks with this byte */

static unsigned blocks_made;   /* entry blocks the allocator gave */

static void *
test_realloc(void *p, size_t n)
{
	if (allocs_to_fail == 0)
		return NULL;
	if (allocs_to_fail > 0)
		allocs_to_fail--;
	void *q = realloc(p, n);
	if (q != NULL && p == NULL && n == sizeof(struct ml_block)) {
		blocks_made++;
		if (poison >= 0)
			memset(q, poison, n);
	}
	return q;
}

static const struct ml_alloc test_alloc = { test_realloc, free };

static void
setup(void)
{
	allocs_to_fail = -1;
	poison = -1;
	cr_assert_eq(ml_core_init(&core, &test_alloc, T0), 0);
}

static void
free_buf(void *p, unsigned kind)
{
	(void)kind;
	free(p);
}

static void
teardown(void)
{
	ml_core_fini(&core, free_buf);
}

/* One suite a file of the core's, all through its calls: the entry table
 * (table.c), the deadline queue (queue.c), and the operations (core.c),
 * whose suite also checks the whole against a model. */
TestSuite(table, .init = setup, .fini = teardown);
TestSuite(queue, .init = setup, .fini = teardown);
TestSuite(core, .init = setup, .fini = teardown);

/* A lease of `size` bytes made at time `now`. */
static memlease_t
lease_at(uint64_t now, size_t size, uint64_t ttl, unsigned releases)
{
	memlease_t h = 0;
	bool wake;
	void *buf = malloc(size ? size : 1);

	cr_assert_not_null(buf);
	int r = ml_core_add(&core, now, buf, size, ttl, releases, 0, 0, &h,
	    &wake);
	cr_assert_eq(r, 0, "ml_core_add: %s", strerror(-r));
	cr_assert_neq(h, 0);
	return h;
}

static memlease_t
lease(uint64_t ttl, unsigned releases)
{
	return lease_at(T0, 16, ttl, releases);
}

/* A lease whose deadline is cut to ML_TIME_MAX: the heap's, never a
 * class's (deadlines 34 years on come in no ttl's order). */
static memlease_t
heap_lease(void)
{
	return lease(UINT64_MAX, 1);
}

/* Fill the deadline heap to its first capacity, HEAP_FIRST, then make a
 * block with free slots: a lease added next needs no new block, only the
 * heap's growth. */
#define HEAP_FIRST 64
static void
fill_heap(void)
{
	for (int i = 0; i < HEAP_FIRST; i++)
		heap_lease();
	cr_assert_eq(core.nheap, HEAP_FIRST);
	lease(0, 1);            /* no deadline: a slot of the block made */
	cr_assert_eq(core.nheap, HEAP_FIRST);
}

/* Release, freeing the buffer if that was the last release. */
static int
release(memlease_t h)
{
	struct ml_ended e;
	int r = ml_core_release(&core, h, &e);

	if (r == 1)
		free(e.buf);
	return r;
}

static int
expire(uint64_t now)
{
	struct ml_ended out[16];
	int n, total = 0;

	while ((n = ml_core_expire(&core, now, out, 16)) > 0) {
		for (int i = 0; i < n; i++)
			free(out[i].buf);
		total += n;
	}
	return total;
}

static void
assert_stale(memlease_t h)
{
	errno = 0;
	cr_assert_null(ml_core_get(&core, h, NULL));
	cr_assert_eq(errno, ESTALE);
	cr_assert_null(ml_core_pin(&core, h, NULL));
	cr_assert_eq(ml_core_release(&core, h, NULL), -ESTALE);
	bool wake;
	cr_assert_eq(ml_core_renew(&core, h, T0, 10, &wake), -ESTALE);
	cr_assert_eq(ml_core_unpin(&core, h, T0, NULL), -ESTALE);
	cr_assert_eq(ml_core_set_label(&core, h, "x"), -ESTALE);
	cr_assert_eq(ml_core_set_report(&core, h, false), -ESTALE);
	cr_assert_eq(ml_core_set_releases(&core, h, 2), -ESTALE);
}

static struct memlease_stats
stats(void)
{
	struct memlease_stats st;

	ml_core_stats(&core, &st);
	return st;
}

/* Entry blocks in the table: entry_blocks counts the spare too. */
static uint64_t
in_table(void)
{
	return stats().entry_blocks - (core.spare != NULL);
}

/* A new entry's words are made whole (ML_W_*) and read as bit-fields:
 * both must put every field at the same bits. */
Test(table, entry_words_put_each_field_where_its_bit_field_is)
{
	struct ml_entry e = { 0 };

	e.w_size = ML_W_SIZE(ML_MAX_SIZE, 1, 0);
	e.w_deadline = ML_W_DEADLINE(ML_TIME_MAX, ML_MAX_RELEASES,
	    ML_KIND_MAX);
	e.w_born = ML_W_BORN(ML_TIME_MAX - 1, (UINT32_C(1) << 24) - 1);
	cr_assert_eq(e.size, ML_MAX_SIZE);
	cr_assert_eq(e.report, 1);
	cr_assert_eq(e.pins, 0);
	cr_assert_eq(e.overdue + e.zombie + e.ringed, 0);
	cr_assert_eq(e.deadline, ML_TIME_MAX);
	cr_assert_eq(e.releases, ML_MAX_RELEASES);
	cr_assert_eq(e.kind, ML_KIND_MAX);
	cr_assert_eq(e.born, ML_TIME_MAX - 1);
	cr_assert_eq(e.origin, (UINT32_C(1) << 24) - 1);

	struct ml_entry f = { 0 };
	f.size = 12345;
	f.report = 0;
	f.deadline = ML_NO_DEADLINE;
	f.releases = 3;
	f.kind = 5;
	f.born = 77;
	f.origin = 9;
	cr_assert_eq(f.w_size, ML_W_SIZE(12345, 0, 0));
	cr_assert_eq(f.w_deadline, ML_W_DEADLINE(ML_NO_DEADLINE, 3, 5));
	cr_assert_eq(f.w_born, ML_W_BORN(77, 9));
	f.report = 1;
	cr_assert_eq(f.w_size, ML_W_SIZE(12345, 1, 0));
	f.ringed = 1;
	cr_assert_eq(f.w_size, ML_W_SIZE(12345, 1, 1));
}

Test(table, handle_names_its_buffer_and_size)
{
	void *buf = malloc(100);
	memlease_t h;
	bool wake;
	size_t size = 0;

	cr_assert_eq(ml_core_add(&core, T0, buf, 100, 0, 1, 0, 0, &h,
	    &wake), 0);
	cr_assert_neq(h, 0);
	cr_assert_eq(ml_core_get(&core, h, &size), buf);
	cr_assert_eq(size, 100);
	cr_assert_eq(release(h), 1);
}

Test(table, bogus_handles_are_stale)
{
	assert_stale(0);
	assert_stale(1);                          /* slot 0, generation 0, free */
	assert_stale(UINT64_MAX);
	assert_stale((uint64_t)7 << 32 | 5);
	memlease_t h = lease(0, 1);
	assert_stale(h + ((uint64_t)1 << 32));     /* right slot, later gen */
	assert_stale(h ^ 0xffff);                  /* another slot */
}

/* A block's never-used slots hold whatever its allocator left there: a
 * handle naming one is stale even when those bytes look like a live
 * entry of the same generation. */
Test(table, never_used_slot_is_stale_whatever_its_memory_holds)
{
	for (uint32_t i = 0; i < N; i++)
		lease(0, 1);
	poison = 0x11;
	memlease_t h = lease(0, 1);              /* slot 0 of a new block */
	poison = -1;
	memlease_t forged = (uint64_t)0x11111111 << 32 | (uint64_t)(N + 2);
	struct ml_info in;

	cr_assert_eq((uint32_t)h, N + 1);
	assert_stale(forged);
	cr_assert_eq(ml_core_info(&core, forged, &in), -ESTALE);
	cr_assert_eq(ml_core_expire_one(&core, forged, NULL), -ESTALE);
	cr_assert_eq(ml_core_move(&core, forged, &in, 1), -ESTALE);

	struct ml_info page[2 * N];
	uint32_t cursor = 0;
	cr_assert_eq(ml_core_list(&core, &cursor, page, 2 * N), N + 1,
	    "list shows the leases made, and no never-used slot");
}

Test(core, release_count_of_one_ends_at_first_release)
{
	memlease_t h = lease(0, 1);
	struct ml_ended e;

	cr_assert_eq(ml_core_release(&core, h, &e), 1);
	cr_assert_eq(e.h, h);
	cr_assert_eq(e.why, ML_END_RELEASED);
	free(e.buf);
	assert_stale(h);
}

Test(core, zero_releases_count_as_one)
{
	memlease_t h = lease(0, 0);

	cr_assert_eq(release(h), 1);
	assert_stale(h);
}

Test(core, release_count_of_n_ends_at_nth_release)
{
	memlease_t h = lease(0, 5);

	for (int i = 0; i < 4; i++) {
		cr_assert_eq(release(h), 0);
		cr_assert_not_null(ml_core_get(&core, h, NULL));
	}
	cr_assert_eq(release(h), 1);
	assert_stale(h);
	cr_assert_eq(stats().released, 1);
	cr_assert_eq(stats().live_leases, 0);
}

Test(core, too_many_releases_are_refused)
{
	memlease_t h;
	bool wake;
	char buf[1];

	cr_assert_eq(ml_core_add(&core, T0, buf, 1, 0, ML_MAX_RELEASES + 1, 0,
	    false, &h, &wake), -EINVAL);
	cr_assert_eq(ml_core_add(&core, T0, NULL, 1, 0, 1, 0, 0, &h,
	    &wake), -EINVAL);
	cr_assert_eq(stats().live_leases, 0);
}

Test(table, stale_after_expiry)
{
	memlease_t h = lease(100, 3);

	cr_assert_eq(expire(T0 + 99), 0);
	cr_assert_not_null(ml_core_get(&core, h, NULL));
	cr_assert_eq(expire(T0 + 100), 1);
	assert_stale(h);
	cr_assert_eq(stats().expired, 1);
}

Test(table, stale_after_slot_reuse)
{
	memlease_t old = lease(0, 1);

	cr_assert_eq(release(old), 1);
	memlease_t h = lease(0, 1);
	cr_assert_eq((uint32_t)h, (uint32_t)old, "the slot is reused");
	cr_assert_neq(h, old);
	assert_stale(old);
	cr_assert_not_null(ml_core_get(&core, h, NULL));
}

Test(table, stale_after_block_freed_and_recreated)
{
	memlease_t h[N + 1];

	for (uint32_t i = 0; i <= N; i++)
		h[i] = lease(0, 1);
	memlease_t in_second = h[N];
	cr_assert_eq(in_table(), 2);
	cr_assert_eq(release(in_second), 1);
	cr_assert_eq(in_table(), 1, "the empty last block is freed");
	memlease_t again = lease(0, 1);
	cr_assert_eq(in_table(), 2, "and made again");
	cr_assert_eq((uint32_t)again, (uint32_t)in_second, "same index");
	cr_assert_neq(again, in_second);
	assert_stale(in_second);
	cr_assert_not_null(ml_core_get(&core, again, NULL));
	for (uint32_t i = 0; i < N; i++)
		cr_assert_not_null(ml_core_get(&core, h[i], NULL));
}

Test(table, lease_past_first_block_makes_a_block_and_its_release_frees_it)
{
	memlease_t h[N];

	for (uint32_t i = 0; i < N; i++)
		h[i] = lease(0, 1);
	cr_assert_eq(in_table(), 1, "%u leases fit the static block",
	    N);
	memlease_t extra = lease(0, 1);
	cr_assert_eq(in_table(), 2);
	cr_assert_eq(release(extra), 1);
	cr_assert_eq(in_table(), 1);
	for (uint32_t i = 0; i < N; i++)
		cr_assert_eq(release(h[i]), 1);
	cr_assert_eq(in_table(), 1, "the static block stays");
}

Test(table, lease_count_hovering_at_a_block_boundary_allocates_one_block)
{
	memlease_t h[N];

	for (uint32_t i = 0; i < N; i++)
		h[i] = lease(0, 1);
	unsigned before = blocks_made;
	for (int i = 0; i < 1000; i++) {
		memlease_t past = lease(0, 1);  /* a second block */
		cr_assert_eq(release(past), 1); /* empty: the spare */
	}
	cr_assert_eq(blocks_made - before, 1, "%u blocks made for 1000 "
	    "crossings", blocks_made - before);
	cr_assert_eq(stats().entry_blocks, 2, "the static block and the spare");
	(void)h;        /* live: teardown frees them */
}

Test(table, no_more_than_one_empty_block_is_held_and_trim_frees_it)
{
	memlease_t h[4 * N];

	for (uint32_t i = 0; i < 4 * N; i++)
		h[i] = lease(0, 1);
	cr_assert_eq(stats().entry_blocks, 4);
	for (uint32_t i = 4 * N; i-- > N; )     /* the last three empty */
		cr_assert_eq(release(h[i]), 1);
	cr_assert_eq(in_table(), 1);
	cr_assert_eq(stats().entry_blocks, 2, "one empty block kept, not 3");
	cr_assert_eq(ml_core_trim(&core), 1);
	cr_assert_eq(stats().entry_blocks, 1);
	cr_assert_eq(ml_core_trim(&core), 0, "nothing left to trim");
	unsigned before = blocks_made;
	memlease_t past = lease(0, 1);
	cr_assert_eq(blocks_made - before, 1, "trimmed: a block is made");
	cr_assert_eq(release(past), 1);
}

Test(table, empty_block_that_is_not_last_is_kept)
{
	memlease_t h[3 * N];

	for (uint32_t i = 0; i < 3 * N; i++)
		h[i] = lease(0, 1);
	cr_assert_eq(in_table(), 3);
	for (uint32_t i = N; i < 2 * N; i++)       /* empty the middle block */
		cr_assert_eq(release(h[i]), 1);
	cr_assert_eq(in_table(), 3);
	for (uint32_t i = 2 * N; i < 3 * N - 1; i++)
		cr_assert_eq(release(h[i]), 1);
	cr_assert_eq(in_table(), 3, "the last still has one lease");
	cr_assert_eq(release(h[3 * N - 1]), 1);
	cr_assert_eq(in_table(), 1,
	    "the last emptied, and the empty one before it went too");
	for (uint32_t i = 0; i < N; i++)
		cr_assert_not_null(ml_core_get(&core, h[i], NULL));
}

Test(table, new_leases_fill_the_lowest_block_first)
{
	memlease_t h[2 * N];

	for (uint32_t i = 0; i < 2 * N; i++)
		h[i] = lease(0, 1);
	cr_assert_eq(release(h[3]), 1);            /* a hole in block 0 */
	memlease_t again = lease(0, 1);
	cr_assert_eq((uint32_t)again, (uint32_t)h[3]);
	for (uint32_t i = N; i < 2 * N; i++)
		cr_assert_eq(release(h[i]), 1);
	cr_assert_eq(in_table(), 1);
}

/* The lowest block with room is remembered between leases: a hole made
 * below it must take the next lease, so that the last blocks drain. */
Test(table, a_hole_below_the_block_being_filled_is_filled_first)
{
	memlease_t h[4 * N];

	if (N < 2)
		cr_skip_test("needs two entries a block");
	for (uint32_t i = 0; i < 4 * N; i++)
		h[i] = lease(0, 1);
	cr_assert_eq(release(h[2 * N]), 1);        /* two holes in block 2 */
	cr_assert_eq(release(h[2 * N + 1]), 1);
	memlease_t in2 = lease(0, 1);
	cr_assert_eq(((uint32_t)in2 - 1) / N, 2);
	cr_assert_eq(release(h[1]), 1);            /* a hole in block 0 */
	memlease_t in0 = lease(0, 1);
	cr_assert_eq((uint32_t)in0, (uint32_t)h[1],
	    "the new lease went to block %u", ((uint32_t)in0 - 1) / N);
}

/* Every block full, a block made and freed again (the table now knows no
 * block has room): a slot freed below is then used before a block is made
 * again, and a new block's old slots are not taken for free ones. */
Test(table, a_slot_freed_after_the_last_block_went_is_used_first)
{
	memlease_t h[2 * N];

	for (uint32_t i = 0; i < 2 * N; i++)
		h[i] = lease(0, 1);
	for (int round = 0; round < 3; round++) {
		memlease_t past = lease(0, 1);   /* a third block, and gone */
		cr_assert_eq(in_table(), 3);
		cr_assert_eq(release(past), 1);
		cr_assert_eq(in_table(), 2);
	}
	cr_assert_eq(release(h[N + 3]), 1);
	memlease_t again = lease(0, 1);
	cr_assert_eq((uint32_t)again, (uint32_t)h[N + 3],
	    "the new lease went to block %u", ((uint32_t)again - 1) / N);
	cr_assert_eq(in_table(), 2);
	memlease_t third = lease(0, 1);
	cr_assert_eq(((uint32_t)third - 1) / N, 2);
	cr_assert_eq(in_table(), 3);
}

/* A new lease takes a slot of the lowest block with one, also right after
 * it filled the one below. */
Test(table, the_lowest_block_with_room_is_used_first)
{
	memlease_t h[3 * N];

	for (uint32_t i = 0; i < 3 * N; i++)
		h[i] = lease(0, 1);
	cr_assert_eq(release(h[N + 1]), 1);     /* a slot in block 1 */
	cr_assert_eq(release(h[2 * N + 2]), 1); /* and one in block 2 */
	memlease_t a = lease(0, 1);             /* block 1 is full again */
	cr_assert_eq((uint32_t)a, (uint32_t)h[N + 1]);
	memlease_t b = lease(0, 1);
	cr_assert_eq((uint32_t)b, (uint32_t)h[2 * N + 2],
	    "the new lease went to block %u", ((uint32_t)b - 1) / N);
	cr_assert_eq(in_table(), 3);
	memlease_t c = lease(0, 1);             /* all full: a new block */
	cr_assert_eq(((uint32_t)c - 1) / N, 3);
	cr_assert_eq(release(h[1]), 1);
	cr_assert_eq(release(h[N]), 1);
	memlease_t d = lease(0, 1);
	cr_assert_eq((uint32_t)d, (uint32_t)h[1], "block 0's slot first");
	memlease_t e = lease(0, 1);
	cr_assert_eq((uint32_t)e, (uint32_t)h[N]);
	memlease_t f = lease(0, 1);
	cr_assert_eq(((uint32_t)f - 1) / N, 3);
}

Test(table, many_blocks_and_every_handle_still_resolves)
{
	enum { COUNT = 20000 };
	static memlease_t h[COUNT];

	for (int i = 0; i < COUNT; i++)
		h[i] = lease_at(T0, (size_t)i % 50, 0, 1);
	cr_assert_eq(in_table(), (COUNT + N - 1) / N);
	for (int i = 0; i < COUNT; i++) {
		size_t size;
		cr_assert_not_null(ml_core_get(&core, h[i], &size));
		cr_assert_eq(size, (size_t)i % 50);
	}
	for (int i = COUNT - 1; i >= 0; i--)
		cr_assert_eq(release(h[i]), 1);
	cr_assert_eq(in_table(), 1);
	cr_assert_eq(stats().live_bytes, 0);
}

Test(core, pins_nest)
{
	memlease_t h = lease(100, 1);

	cr_assert_not_null(ml_core_pin(&core, h, NULL));
	cr_assert_not_null(ml_core_pin(&core, h, NULL));
	cr_assert_eq(stats().pinned, 1);
	cr_assert_eq(expire(T0 + 1000), 0, "a pinned lease never expires");
	cr_assert_eq(stats().overdue, 1);
	cr_assert_eq(ml_core_unpin(&core, h, T0 + 1000, NULL), 0);
	cr_assert_not_null(ml_core_get(&core, h, NULL), "still pinned once");
	struct ml_ended e;
	cr_assert_eq(ml_core_unpin(&core, h, T0 + 1001, &e), 1,
	    "the last unpin after the deadline expires it now");
	cr_assert_eq(e.why, ML_END_EXPIRED);
	free(e.buf);
	assert_stale(h);
	cr_assert_eq(stats().pinned, 0);
	cr_assert_eq(stats().overdue, 0);
	cr_assert_eq(stats().expired, 1);
}

Test(core, unpin_past_deadline_expires_even_if_never_overdue)
{
	memlease_t h = lease(100, 1);
	struct ml_ended e;

	cr_assert_not_null(ml_core_pin(&core, h, NULL));
	cr_assert_eq(ml_core_unpin(&core, h, T0 + 100, &e), 1);
	cr_assert_eq(e.why, ML_END_EXPIRED);
	free(e.buf);
}

Test(core, unpin_before_deadline_keeps_the_lease)
{
	memlease_t h = lease(100, 1);

	cr_assert_not_null(ml_core_pin(&core, h, NULL));
	cr_assert_eq(ml_core_unpin(&core, h, T0 + 50, NULL), 0);
	cr_assert_eq(ml_core_unpin(&core, h, T0 + 50, NULL), -EINVAL,
	    "not pinned");
	cr_assert_eq(expire(T0 + 100), 1);
}

Test(core, last_release_of_pinned_lease_frees_at_last_unpin)
{
	memlease_t h = lease(100, 1);
	struct ml_ended e;

	cr_assert_not_null(ml_core_pin(&core, h, NULL));
	cr_assert_eq(ml_core_release(&core, h, NULL), 0, "deferred");
	cr_assert_null(ml_core_get(&core, h, NULL), "released: gone for get");
	cr_assert_eq(ml_core_release(&core, h, NULL), -ESTALE, "no 2nd time");
	cr_assert_eq(expire(T0 + 1000), 0, "and it cannot expire");
	cr_assert_eq(stats().live_leases, 1, "the buffer is still there");
	cr_assert_eq(ml_core_unpin(&core, h, T0 + 1000, &e), 1);
	cr_assert_eq(e.why, ML_END_RELEASED);
	free(e.buf);
	assert_stale(h);
	cr_assert_eq(stats().released, 1);
	cr_assert_eq(stats().expired, 0);
}

Test(core, renew_restarts_the_timeout)
{
	memlease_t h = lease(100, 1);
	bool wake;

	cr_assert_eq(ml_core_renew(&core, h, T0 + 90, 100, &wake), 0);
	cr_assert_eq(expire(T0 + 189), 0);
	cr_assert_eq(ml_core_next_deadline(&core, T0 + 189), 1);
	cr_assert_eq(expire(T0 + 190), 1);
}

Test(core, renew_with_zero_removes_the_timeout)
{
	memlease_t h = lease(100, 1);
	bool wake;

	cr_assert_eq(ml_core_renew(&core, h, T0, 0, &wake), 0);
	cr_assert_eq(ml_core_next_deadline(&core, T0), -1);
	cr_assert_eq(expire(UINT64_C(1) << 50), 0);
	cr_assert_eq(ml_core_renew(&core, h, T0 + 5, 10, &wake), 0);
	cr_assert(wake, "the only deadline is the earliest");
	cr_assert_eq(expire(T0 + 15), 1);
}

Test(core, renew_clears_overdue)
{
	memlease_t h = lease(10, 1);
	bool wake;

	cr_assert_not_null(ml_core_pin(&core, h, NULL));
	cr_assert_eq(expire(T0 + 20), 0);
	cr_assert_eq(stats().overdue, 1);
	cr_assert_eq(ml_core_renew(&core, h, T0 + 20, 10, &wake), 0);
	cr_assert_eq(stats().overdue, 0);
	cr_assert_eq(ml_core_unpin(&core, h, T0 + 25, NULL), 0);
	cr_assert_eq(expire(T0 + 30), 1);
}

Test(queue, next_deadline_is_exact)
{
	cr_assert_eq(ml_core_next_deadline(&core, T0), -1);
	lease(500, 1);
	lease(300, 1);
	lease(0, 1);
	cr_assert_eq(ml_core_next_deadline(&core, T0), 300);
	cr_assert_eq(ml_core_next_deadline(&core, T0 + 299), 1);
	cr_assert_eq(ml_core_next_deadline(&core, T0 + 400), 0, "overdue: 0");
	cr_assert_eq(expire(T0 + 300), 1);
	cr_assert_eq(ml_core_next_deadline(&core, T0 + 300), 200);
}

static bool
add_wakes(uint64_t ttl)
{
	memlease_t h;
	bool wake;

	cr_assert_eq(ml_core_add(&core, T0, malloc(1), 1, ttl, 1, 0, 0, &h,
	    &wake), 0);
	return wake;
}

Test(core, wake_is_set_only_for_a_new_earliest_deadline)
{
	cr_assert(add_wakes(100));
	cr_assert_not(add_wakes(200));
	cr_assert_not(add_wakes(0));
	cr_assert(add_wakes(50));
}

/* The expiring thread says when it looks again (ml_core_arm): a new
 * deadline wakes it only if it comes first. */
Test(core, wake_is_set_only_before_the_thread_looks_again)
{
	memlease_t h = lease(100, 1);       /* told: T0 + 100 */

	cr_assert_eq(release(h), 1);
	cr_assert_not(add_wakes(200), "it looks at T0 + 100 anyway");
	cr_assert_eq(ml_core_arm(&core, T0 + 100, 1000), 100);
	cr_assert_not(add_wakes(200), "the same deadline: no");
	cr_assert(add_wakes(150), "before T0 + 200: yes");
	cr_assert_eq(expire(T0 + 200), 3);
	cr_assert_eq(ml_core_arm(&core, T0 + 200, 1000), 1000, "none: max");
	cr_assert_not(add_wakes(1300), "after T0 + 1200: no");
	cr_assert(add_wakes(1100), "before: yes");
	cr_assert_eq(ml_core_arm(&core, T0 + 2000, 1000), 0, "overdue: 0");
}

Test(queue, expiry_goes_earliest_first_in_batches)
{
	enum { COUNT = 500 };
	struct ml_ended out[7];
	uint64_t last = 0;
	int seen = 0, n;

	srand(42);
	for (int i = 0; i < COUNT; i++)
		lease(1 + (uint64_t)(rand() % 10000), 1);
	while ((n = ml_core_expire(&core, T0 + 20000, out, 7)) > 0) {
		cr_assert_leq(n, 7);
		for (int i = 0; i < n; i++) {
			cr_assert_geq(out[i].deadline, last);
			last = out[i].deadline;
			cr_assert_eq(out[i].why, ML_END_EXPIRED);
			free(out[i].buf);
		}
		seen += n;
	}
	cr_assert_eq(seen, COUNT);
	cr_assert_eq(stats().live_leases, 0);
	cr_assert_eq(in_table(), 1);
}

Test(core, expire_one_ends_a_lease_now_unless_pinned)
{
	memlease_t h = lease(0, 3);
	struct ml_ended e;

	cr_assert_not_null(ml_core_pin(&core, h, NULL));
	cr_assert_eq(ml_core_expire_one(&core, h, &e), -EBUSY);
	cr_assert_eq(ml_core_unpin(&core, h, T0, NULL), 0);
	cr_assert_eq(ml_core_expire_one(&core, h, &e), 0);
	cr_assert_eq(e.why, ML_END_EXPIRED);
	free(e.buf);
	assert_stale(h);
	cr_assert_eq(ml_core_expire_one(&core, h, &e), -ESTALE);
}

Test(core, set_releases_changes_what_remains)
{
	memlease_t h = lease(0, 1);

	cr_assert_eq(ml_core_set_releases(&core, h, 0), -EINVAL);
	cr_assert_eq(ml_core_set_releases(&core, h, 3), 0);
	cr_assert_eq(release(h), 0);
	cr_assert_eq(release(h), 0);
	cr_assert_eq(release(h), 1);
}

Test(core, labels_are_copied_cut_and_shared)
{
	memlease_t a = lease(10, 1), b = lease(10, 1);
	char name[] = "queue-buffer";
	struct ml_info info;
	struct ml_ended out[2];

	cr_assert_eq(ml_core_set_label(&core, a, name), 0);
	name[0] = 'X';                     /* the core keeps its own copy */
	cr_assert_eq(ml_core_set_label(&core, b,
	    "a label much longer than thirty-one bytes"), 0);
	cr_assert_eq(ml_core_info(&core, a, &info), 0);
	cr_assert_str_eq(info.label, "queue-buffer");
	cr_assert_eq(ml_core_info(&core, b, &info), 0);
	cr_assert_eq(strlen(info.label), ML_LABEL_MAX);
	cr_assert_str_eq(info.label, "a label much longer than thirty");
	cr_assert_eq(ml_core_set_label(&core, b, "queue-buffer"), 0);
	cr_assert_eq(core.labels.nrecs, 2, "two records ever made");
	cr_assert_eq(ml_core_set_label(&core, a, NULL), 0);
	cr_assert_eq(ml_core_info(&core, a, &info), 0);
	cr_assert_str_eq(info.label, "");
	cr_assert_eq(ml_core_expire(&core, T0 + 10, out, 2), 2);
	cr_assert_str_eq(out[0].label[0] ? out[0].label : out[1].label,
	    "queue-buffer", "the label is reported at expiry");
	free(out[0].buf);
	free(out[1].buf);
}

Test(core, label_cut_never_splits_a_utf8_character)
{
	char dst[ML_LABEL_MAX + 1];
	/* 30 ASCII bytes, then a 3-byte character across the limit */
	const char *src = "123456789012345678901234567890\xe2\x82\xac";

	cr_assert_eq(ml_label_copy(dst, src), 30);
	cr_assert_str_eq(dst, "123456789012345678901234567890");
}

Test(core, report_flag_travels_to_the_expiry)
{
	memlease_t h = lease(10, 1);
	struct ml_ended e;

	cr_assert_eq(ml_core_set_report(&core, h, false), 0);
	cr_assert_eq(ml_core_expire(&core, T0 + 10, &e, 1), 1);
	cr_assert_not(e.report);
	free(e.buf);
}

Test(core, stats_count_everything)
{
	memlease_t a = lease_at(T0, 100, 10, 1);
	memlease_t b = lease_at(T0, 50, 0, 2);
	lease_at(T0, 7, 0, 1);
	struct memlease_stats st = stats();

	cr_assert_eq(st.live_leases, 3);
	cr_assert_eq(st.live_bytes, 157);
	cr_assert_eq(st.allocated, 3);
	cr_assert_eq(st.with_deadline, 1);
	cr_assert_eq(st.entries_per_block, N);
	cr_assert_gt(st.bookkeeping_bytes, N * sizeof(struct ml_entry));
	cr_assert_eq(expire(T0 + 10), 1);
	cr_assert_eq(release(b), 0);
	cr_assert_eq(release(b), 1);
	st = stats();
	cr_assert_eq(st.live_leases, 1);
	cr_assert_eq(st.live_bytes, 7);
	cr_assert_eq(st.expired, 1);
	cr_assert_eq(st.reclaimed, 1);
	cr_assert_eq(st.released, 1);
	cr_assert_eq(st.allocated, 3);
	assert_stale(a);
}

Test(table, failed_block_allocation_gives_enomem_and_changes_nothing)
{
	memlease_t h[N];
	char *extra = malloc(1);
	memlease_t x = 0;
	bool wake;

	for (uint32_t i = 0; i < N; i++)
		h[i] = lease(100, 1);
	struct memlease_stats before = stats();
	for (int fail_after = 0; fail_after < 4; fail_after++) {
		allocs_to_fail = fail_after;
		int r = ml_core_add(&core, T0, extra, 1, 0, 1, 0, 0, &x,
		    &wake);
		allocs_to_fail = -1;
		if (r == 0) {
			cr_assert_eq(in_table(), 2);
			cr_assert_eq(stats().live_leases, N + 1);
			break;
		}
		cr_assert_eq(r, -ENOMEM);
		struct memlease_stats now = stats();
		cr_assert_eq(now.live_leases, before.live_leases);
		cr_assert_eq(now.entry_blocks - (core.spare != NULL), 1);
		cr_assert_eq(now.allocated, before.allocated);
	}
	for (uint32_t i = 0; i < N; i++)
		cr_assert_not_null(ml_core_get(&core, h[i], NULL));
	cr_assert_eq(expire(T0 + 100), N, "the static block's leases expire");
	cr_assert_eq(release(x), 1);
	cr_assert_eq(in_table(), 1);
}

Test(queue, failed_heap_growth_gives_enomem_and_changes_nothing)
{
	char extra[1];
	memlease_t h;
	bool wake;

	fill_heap();
	allocs_to_fail = 0;
	cr_assert_eq(ml_core_add(&core, T0, extra, 1, UINT64_MAX, 1, 0, 0,
	    &h, &wake), -ENOMEM);
	allocs_to_fail = -1;
	cr_assert_eq(stats().live_leases, HEAP_FIRST + 1);
	cr_assert_eq(core.nheap, HEAP_FIRST);
	cr_assert_eq(stats().allocated, HEAP_FIRST + 1);
	struct ml_ended out[HEAP_FIRST];
	cr_assert_eq(ml_core_expire(&core, T0 + ML_TIME_MAX, out, HEAP_FIRST),
	    HEAP_FIRST);
	for (int i = 0; i < HEAP_FIRST; i++)
		free(out[i].buf);
	cr_assert_eq(stats().live_leases, 1, "the one with no deadline");
}

/* A full heap and every deadline class taken: a lease of another ttl
 * needs the heap to grow, and is refused if it cannot. */
Test(queue, failed_heap_growth_past_the_classes_gives_enomem)
{
	char *extra = malloc(1);            /* expire() frees it */
	memlease_t h;
	bool wake;

	fill_heap();
	for (int i = 0; i < ML_CLASSES; i++)    /* a class for each ttl */
		lease(10 + (uint64_t)i, 1);
	cr_assert_eq(core.nringed, ML_CLASSES);
	for (uint32_t i = 0; i < ML_PER_BLOCK; i++)  /* room in a block */
		lease(0, 1);
	uint64_t live = stats().live_leases;
	allocs_to_fail = 0;
	cr_assert_eq(ml_core_add(&core, T0, extra, 1, 5, 1, 0, 0, &h, &wake),
	    -ENOMEM);
	allocs_to_fail = -1;
	cr_assert_eq(stats().live_leases, live);
	cr_assert_eq(core.nheap, HEAP_FIRST);
	cr_assert_eq(ml_core_next_deadline(&core, T0), 10);
	cr_assert_eq(ml_core_add(&core, T0, extra, 1, 5, 1, 0, 0, &h, &wake),
	    0);
	cr_assert(wake);
	cr_assert_eq(ml_core_next_deadline(&core, T0), 5);
	cr_assert_eq(expire(T0 + 10 + ML_CLASSES), ML_CLASSES + 1);
}

/* A full ring that cannot grow leaves the lease to the heap, which has
 * room: out of memory, a lease is refused only if neither can take it. */
Test(queue, a_ring_that_cannot_grow_leaves_the_lease_to_the_heap)
{
	enum { RING_FIRST = 64 };   /* a ring's first capacity */
	memlease_t h;
	bool wake;

	heap_lease();                           /* the heap's, with room */
	for (int i = 0; i < RING_FIRST; i++)
		lease(1000, 1);
	cr_assert_eq(core.nringed, RING_FIRST);
	for (uint32_t i = 0; i < ML_PER_BLOCK; i++)  /* room in a block */
		lease(0, 1);
	allocs_to_fail = 0;
	int r = ml_core_add(&core, T0 + 1, malloc(1), 1, 1000, 1, 0, 0, &h,
	    &wake);
	allocs_to_fail = -1;
	cr_assert_eq(r, 0, "ml_core_add: %s", strerror(-r));
	cr_assert_eq(core.nheap, 2);
	memlease_t renewed = lease(1000, 1);    /* the ring may grow now */
	cr_assert_eq(core.nringed, RING_FIRST + 1);
	allocs_to_fail = 0;                     /* to a new class: none */
	cr_assert_eq(ml_core_renew(&core, renewed, T0 + 2, 1000, &wake), 0);
	allocs_to_fail = -1;
	cr_assert_eq(core.nringed, RING_FIRST);
	cr_assert_eq(core.nheap, 3);
	cr_assert_eq(expire(T0 + 1000), RING_FIRST);
	cr_assert_eq(expire(T0 + 1001), 1, "the one in the heap");
	cr_assert_eq(expire(T0 + 1002), 1, "the one renewed");
}

Test(core, labeled_add_makes_the_lease_with_its_label_or_not_at_all)
{
	char *a = malloc(1), b[1];
	struct ml_info in;
	memlease_t h, first;
	bool wake;

	allocs_to_fail = 0;             /* the label's table cannot grow */
	cr_assert_eq(ml_core_add_labeled(&core, T0, a, 1, 0, 1, 0, 0, "tag",
	    &h, &wake), -ENOMEM);
	allocs_to_fail = -1;
	cr_assert_eq(stats().live_leases, 0);
	cr_assert_eq(stats().allocated, 0);
	cr_assert_eq(ml_core_add_labeled(&core, T0, a, 1, 0, 1, 0, 0, "tag",
	    &first, &wake), 0);
	cr_assert_eq(ml_core_info(&core, first, &in), 0);
	cr_assert_str_eq(in.label, "tag");
	/* a label interned, then the heap cannot grow: the label's
	 * reference is given back */
	fill_heap();
	allocs_to_fail = 0;
	cr_assert_eq(ml_core_add_labeled(&core, T0, b, 1, UINT64_MAX, 1, 0,
	    0, "tag", &h, &wake), -ENOMEM);
	allocs_to_fail = -1;
	cr_assert_eq(stats().live_leases, HEAP_FIRST + 2);
	cr_assert_eq(release(first), 1);
	cr_assert_eq(core.labels.recs[0].refs, 0, "no reference is left");
}

Test(table, slot_whose_generation_would_wrap_is_retired)
{
	/* white box: the generation the block's slots start at, as if it
	 * had been freed and made again many times */
	core.dir_gen[0] = UINT32_MAX - 1;
	memlease_t h = lease(0, 1);

	cr_assert_eq((uint32_t)h, 1, "slot 0");
	cr_assert_eq(h >> 32, UINT32_MAX - 1);
	cr_assert_eq(release(h), 1);
	assert_stale(h);
	memlease_t next = lease(0, 1);
	cr_assert_neq((uint32_t)next, 1, "slot 0 is never handed out again");
	assert_stale(h);
}

Test(core, list_visits_every_live_lease_once)
{
	enum { COUNT = 3 * N + 5 };
	memlease_t h[COUNT];
	struct ml_info page[10];
	uint32_t cursor = 0;
	int n, seen = 0;

	for (int i = 0; i < COUNT; i++)
		h[i] = lease_at(T0, (size_t)i, i % 2 ? 100 : 0, 1);
	cr_assert_eq(release(h[4]), 1);
	while ((n = ml_core_list(&core, &cursor, page, 10)) > 0) {
		for (int i = 0; i < n; i++) {
			cr_assert_neq(page[i].h, h[4]);
			cr_assert_eq(page[i].deadline, page[i].size % 2 ?
			    T0 + 100 : ML_NO_DEADLINE);
		}
		seen += n;
	}
	cr_assert_eq(seen, COUNT - 1);
}

/*
 * A random walk against a model: every handle and deadline checked, and
 * each batch of expiries in deadline order.  ttl_of() gives a new lease's
 * ttl (0: none) and renew_of() a renewal's; a lease is made up to `back`
 * ms before now, as by a thread whose clock was read a little earlier.
 */
static void
model_walk(int slots, int steps, uint64_t (*ttl_of)(void),
    uint64_t (*renew_of)(void), int back)
{
	static struct { memlease_t h; uint64_t deadline; unsigned rel; }
	    m[2000];
	uint64_t now = T0 + 1000;
	int live = 0;

	cr_assert_leq(slots, 2000);
	memset(m, 0, sizeof m);
	for (int step = 0; step < steps; step++) {
		int i = rand() % slots;
		int op = rand() % 10;
		if (m[i].h == 0 && op < 6) {
			uint64_t ttl = ttl_of();
			uint64_t made = now - (uint64_t)(back ? rand() % back : 0);
			m[i].rel = 1 + (unsigned)(rand() % 3);
			m[i].h = lease_at(made, (size_t)i, ttl, m[i].rel);
			m[i].deadline = ttl ? made + ttl : 0;
			live++;
		} else if (m[i].h != 0 && op < 8) {
			int r = release(m[i].h);
			if (--m[i].rel == 0) {
				cr_assert_eq(r, 1);
				m[i].h = 0;
				live--;
			} else {
				cr_assert_eq(r, 0);
			}
		} else if (op == 8) {
			now += (uint64_t)(rand() % 50);
			struct ml_ended out[8];
			int n;
			while ((n = ml_core_expire(&core, now, out, 8)) > 0) {
				for (int k = 0; k < n; k++) {
					int j = (int)out[k].size;
					cr_assert_eq(out[k].h, m[j].h);
					cr_assert_neq(m[j].deadline, 0);
					cr_assert_leq(m[j].deadline, now);
					cr_assert(k == 0 || out[k - 1].deadline <=
					    out[k].deadline, "earliest first");
					free(out[k].buf);
					m[j].h = 0;
					live--;
				}
			}
		} else if (m[i].h != 0) {
			bool wake;
			uint64_t ttl = renew_of();
			cr_assert_eq(ml_core_renew(&core, m[i].h, now, ttl,
			    &wake), 0);
			m[i].deadline = ttl ? now + ttl : 0;
		}
		uint64_t next = UINT64_MAX;
		for (int j = 0; j < slots; j++)
			if (m[j].h != 0 && m[j].deadline != 0 &&
			    m[j].deadline < next)
				next = m[j].deadline;
		cr_assert_eq(ml_core_next_deadline(&core, now), next ==
		    UINT64_MAX ? -1 : (int64_t)(next - now), "exact");
		for (int j = 0; j < slots; j += 37) {
			if (m[j].h == 0)
				continue;
			size_t size;
			cr_assert_not_null(ml_core_get(&core, m[j].h, &size));
			cr_assert_eq(size, (size_t)j);
			cr_assert(m[j].deadline == 0 || m[j].deadline > now,
			    "lease %d should have expired", j);
		}
		cr_assert_eq(stats().live_leases, (uint64_t)live);
	}
}

static uint64_t
any_ttl(void)
{
	return (uint64_t)(rand() % 3) * (uint64_t)(rand() % 500);
}

static uint64_t
any_renewal(void)
{
	return (uint64_t)(rand() % 300);
}

Test(core, random_operations_agree_with_a_model)
{
	srand(7);
	model_walk(300, 60000, any_ttl, any_renewal, 0);
}

/* A few ttls, many leases each: the deadline classes' rings grow, fill
 * with the gaps of leases released early and are squeezed; renewals and
 * leases made at an earlier clock go to the heap beside them. */
static uint64_t
few_ttls(void)
{
	static const uint64_t ttl[] = { 0, 20000, 20000, 20000, 45000, 45000,
	    90000 };

	return ttl[rand() % 7];
}

Test(core, random_operations_with_few_ttls_agree_with_a_model)
{
	srand(11);
	model_walk(2000, 40000, few_ttls, few_ttls, 0);
}

/* A lease that finds the heap empty goes there, alone; once the heap
 * holds one, leases go to their ttl's ring (O(1) in and out), where the
 * heap would sift each earlier deadline up to its top and back down. */
Test(queue, a_lease_goes_to_the_heap_only_when_it_is_empty)
{
	memlease_t late = lease(5000, 1);

	cr_assert_eq(core.nheap, 1);
	memlease_t a = lease(1000, 1);
	memlease_t b = lease(1000, 1);
	cr_assert_eq(core.nheap, 1);
	cr_assert_eq(core.nringed, 2);
	cr_assert_eq(ml_core_next_deadline(&core, T0), 1000);
	cr_assert_eq(release(late), 1);
	cr_assert_eq(core.nheap, 0);
	lease(3000, 1);
	cr_assert_eq(core.nheap, 1, "the heap was empty");
	cr_assert_eq(core.nringed, 2);
	cr_assert_eq(release(a), 1);
	cr_assert_eq(release(b), 1);
	cr_assert_eq(ml_core_next_deadline(&core, T0), 3000);
}

/* Leases released early leave gaps in their class's ring: a ring full of
 * them is squeezed, not grown, so that its memory follows the leases
 * live, not those made. */
Test(queue, ring_of_gaps_is_squeezed_not_grown)
{
	lease(5000, 1);                 /* the heap's: a class is used after */
	memlease_t first = lease(1000, 1);
	memlease_t prev = lease(1000, 1);
	size_t before = stats().bookkeeping_bytes;

	for (int i = 0; i < 100000; i++) {     /* a gap between the two */
		memlease_t h = lease(1000, 1);
		cr_assert_eq(release(prev), 1);
		prev = h;
	}
	cr_assert_eq(release(prev), 1);
	cr_assert_leq(stats().bookkeeping_bytes, before + 1024,
	    "%zu bytes, %zu at first", (size_t)stats().bookkeeping_bytes,
	    before);
	cr_assert_eq(ml_core_next_deadline(&core, T0), 1000);
	cr_assert_eq(release(first), 1);
	cr_assert_eq(ml_core_next_deadline(&core, T0), 5000);
}

/* The classes emptied are dropped for new ones once all ML_CLASSES are in
 * use, also while they still wait in the classes' heap, which takes them
 * out only when they come to its top. */
Test(queue, emptied_classes_make_room_for_a_new_ttl)
{
	static memlease_t h[ML_CLASSES];

	heap_lease();                   /* classes are used after */
	for (int i = 0; i < ML_CLASSES; i++)
		h[i] = lease(1000 + (uint64_t)i, 1);
	cr_assert_eq(core.nringed, ML_CLASSES);
	for (int i = 0; i < ML_CLASSES - 10; i++)
		cr_assert_eq(release(h[i]), 1);
	cr_assert_eq(core.nringed, 10);
	memlease_t late = lease(5000, 1);
	cr_assert_eq(core.nringed, 11, "the new ttl's lease is in a class "
	    "(%u classes, %u busy)", core.nclasses, core.nbusy);
	cr_assert_eq(core.nheap, 1);
	cr_assert_eq(ml_core_next_deadline(&core, T0), 1000 + ML_CLASSES - 10);
	for (int i = ML_CLASSES - 10; i < ML_CLASSES; i++)
		cr_assert_eq(release(h[i]), 1);
	cr_assert_eq(ml_core_next_deadline(&core, T0), 5000);
	cr_assert_eq(release(late), 1);
	cr_assert_eq(ml_core_next_deadline(&core, T0), ML_TIME_MAX);
}

/* More ttls than there can be classes: the classes fill, the heap takes
 * the rest, and the classes emptied are dropped for new ones. */
static uint64_t
many_ttls(void)
{
	return (uint64_t)(rand() % 4) * (uint64_t)(1 + rand() % 3000);
}

Test(core, random_operations_with_many_ttls_agree_with_a_model)
{
	srand(13);
	model_walk(2000, 60000, many_ttls, many_ttls, 0);
}

Test(core, random_operations_with_clocks_read_earlier_agree_with_a_model)
{
	srand(12);
	model_walk(2000, 40000, few_ttls, few_ttls, 3);
}

Test(core, kind_travels_with_the_lease_to_its_end)
{
	memlease_t h;
	bool wake;
	struct ml_ended e;
	struct ml_info info;

	cr_assert_eq(ml_core_add(&core, T0, malloc(8), 8, 10, 1, 0, 5, &h,
	    &wake), 0);
	cr_assert_eq(ml_core_info(&core, h, &info), 0);
	cr_assert_eq(info.kind, 5);
	cr_assert_eq(ml_core_expire(&core, T0 + 10, &e, 1), 1);
	cr_assert_eq(e.kind, 5);
	free(e.buf);
	char refused[8];        /* not taken: not the allocator's */
	cr_assert_eq(ml_core_add(&core, T0, refused, 8, 0, 1, 0,
	    ML_KIND_MAX + 1, &h, &wake), -EINVAL, "a kind wider than 3 bits");
}

Test(core, end_ends_a_lease_whatever_releases_remain)
{
	memlease_t h = lease(0, 5);
	struct ml_ended e;

	cr_assert_eq(ml_core_end(&core, h, &e), 1);
	cr_assert_eq(e.why, ML_END_RELEASED);
	free(e.buf);
	assert_stale(h);
	cr_assert_eq(ml_core_end(&core, h, &e), -ESTALE);
	cr_assert_eq(stats().live_leases, 0);
}

Test(core, end_of_a_pinned_lease_waits_for_its_last_unpin)
{
	memlease_t h = lease(10, 3);
	struct ml_ended e;
	struct ml_info info;

	cr_assert_not_null(ml_core_pin(&core, h, NULL));
	cr_assert_eq(ml_core_end(&core, h, &e), 0);
	cr_assert_eq(ml_core_info(&core, h, &info), 0);
	cr_assert(info.released);
	cr_assert_eq(expire(T0 + 100), 0, "ended: no longer expires");
	cr_assert_eq(ml_core_unpin(&core, h, T0 + 100, &e), 1);
	cr_assert_eq(e.why, ML_END_RELEASED);
	free(e.buf);
	assert_stale(h);
}

Test(core, move_changes_buffer_and_size_and_live_bytes)
{
	memlease_t h = lease_at(T0, 16, 0, 1);
	void *old = ml_core_get(&core, h, NULL);
	void *buf = realloc(old, 4000);
	size_t size = 0;

	cr_assert_eq(ml_core_move(&core, h, buf, 4000), 0);
	cr_assert_eq(ml_core_get(&core, h, &size), buf);
	cr_assert_eq(size, 4000);
	cr_assert_eq(stats().live_bytes, 4000);
	cr_assert_eq(ml_core_move(&core, h, NULL, 1), -EINVAL);
	cr_assert_eq(release(h), 1);
	cr_assert_eq(ml_core_move(&core, h, buf, 1), -ESTALE);
	cr_assert_eq(stats().live_bytes, 0);
}

Test(core, live_leases_are_counted_by_kind)
{
	memlease_t a, b, c2;
	bool wake;
	uint64_t kinds[ML_KIND_MAX + 1];
	struct ml_ended e;

	cr_assert_eq(ml_core_add(&core, T0, malloc(8), 8, 0, 1, 0, 0, &a,
	    &wake), 0);
	cr_assert_eq(ml_core_add(&core, T0, malloc(8), 8, 10, 1, 0, 3, &b,
	    &wake), 0);
	cr_assert_eq(ml_core_add(&core, T0, malloc(8), 8, 0, 1, 0, 3, &c2,
	    &wake), 0);
	ml_core_live_kinds(&core, kinds);
	cr_assert_eq(kinds[0], 1);
	cr_assert_eq(kinds[3], 2);
	cr_assert_eq(expire(T0 + 10), 1, "b expires");
	cr_assert_eq(ml_core_release(&core, c2, &e), 1);
	free(e.buf);
	ml_core_live_kinds(&core, kinds);
	cr_assert_eq(kinds[0], 1);
	cr_assert_eq(kinds[3], 0);
	cr_assert_eq(release(a), 1);
}
