/*
 * test_ptrmap.c - the map of tracked blocks by address: its entries, its
 * lock-free filter in front, its 32 shards and their locks.  Addresses are
 * only keys here: nothing is allocated at them.
 */
#include <criterion/criterion.h>
#include <stdint.h>

#include "ptrmap.h"

TestSuite(ptrmap);

/* Distinct, aligned addresses that nothing owns. */
static void *
addr(uintptr_t i)
{
	return (void *)(0x7f0000000000u + i * 16);
}

static struct ml_pent *
find(const void *p)
{
	struct ml_shard *s = ml_ptrmap_lock(p);
	struct ml_pent *e = ml_ptrmap_find(s, p);

	ml_ptrmap_unlock(s);
	return e;
}

static void
put(const void *p, memlease_t h)
{
	struct ml_shard *s = ml_ptrmap_lock(p);
	struct ml_pent *e = ml_ptrmap_insert(s, p);

	cr_assert_not_null(e);
	e->h = h;
	e->state = ML_P_LIVE;
	ml_ptrmap_unlock(s);
}

static void
drop(const void *p)
{
	struct ml_shard *s = ml_ptrmap_lock(p);
	struct ml_pent *e = ml_ptrmap_find(s, p);

	cr_assert_not_null(e, "%p is not in the map", p);
	ml_ptrmap_remove(s, e);
	ml_ptrmap_unlock(s);
}

Test(ptrmap, an_empty_map_finds_nothing_and_its_filter_says_surely_not)
{
	for (uintptr_t i = 0; i < 1000; i++) {
		cr_assert_not(ml_ptrmap_maybe(addr(i)));
		cr_assert_null(find(addr(i)));
	}
}

Test(ptrmap, an_inserted_address_is_found_with_its_entry_and_passes_the_filter)
{
	put(addr(1), 42);
	cr_assert(ml_ptrmap_maybe(addr(1)));
	struct ml_pent *e = find(addr(1));
	cr_assert_not_null(e);
	cr_assert_eq(e->p, (uintptr_t)addr(1));
	cr_assert_eq(e->h, 42);
	cr_assert_eq(e->state, ML_P_LIVE);
	cr_assert_null(find(addr(2)));
}

Test(ptrmap, inserting_an_address_again_gives_its_entry_back)
{
	put(addr(7), 1);
	struct ml_shard *s = ml_ptrmap_lock(addr(7));
	struct ml_pent *e = ml_ptrmap_insert(s, addr(7));
	cr_assert_eq(e->h, 1, "the entry was not kept");
	ml_ptrmap_unlock(s);
}

Test(ptrmap, a_removed_address_is_gone_and_its_filter_counter_drops)
{
	put(addr(3), 3);
	drop(addr(3));
	cr_assert_null(find(addr(3)));
	cr_assert_not(ml_ptrmap_maybe(addr(3)));
}

Test(ptrmap, many_addresses_over_every_shard_are_kept_apart_through_growth)
{
	enum { N = 20000 };

	for (uintptr_t i = 0; i < N; i++)
		put(addr(i), i + 1);
	for (uintptr_t i = 0; i < N; i += 2)
		drop(addr(i));
	for (uintptr_t i = 0; i < N; i++) {
		struct ml_pent *e = find(addr(i));
		if (i % 2 == 0) {
			cr_assert_null(e, "%zu removed, still found", (size_t)i);
		} else {
			cr_assert_not_null(e, "%zu lost", (size_t)i);
			cr_assert_eq(e->h, i + 1, "%zu has another's entry",
			    (size_t)i);
		}
	}
}

/* Inserts and removes at random, the map checked against a plain array
 * of what it should hold: tables of 2^k and 3 * 2^k slots, runs of
 * entries that wrap past the last slot, and backward shifts across them. */
Test(ptrmap, random_inserts_and_removes_keep_exactly_what_was_put)
{
	enum { KEYS = 6000, OPS = 300000 };
	static memlease_t held[KEYS];     /* 0: not in the map */
	uint64_t rng = 0x9e3779b97f4a7c15u;

	for (int op = 1; op <= OPS; op++) {
		rng ^= rng << 13;
		rng ^= rng >> 7;
		rng ^= rng << 17;
		/* a key space that fills up over the first half, then churns */
		uintptr_t k = (uintptr_t)(rng % (op < OPS / 2 ?
		    KEYS * (uint64_t)op / (OPS / 2) + 1 : KEYS));
		if (held[k] == 0) {
			put(addr(k), (memlease_t)op);
			held[k] = (memlease_t)op;
		} else if ((rng >> 40) % 3 != 0) {
			drop(addr(k));
			held[k] = 0;
		}
	}
	for (uintptr_t k = 0; k < KEYS; k++) {
		struct ml_pent *e = find(addr(k));
		if (held[k] == 0) {
			cr_assert_null(e, "%zu removed, still found", (size_t)k);
		} else {
			cr_assert_not_null(e, "%zu lost", (size_t)k);
			cr_assert_eq(e->h, held[k], "%zu has another's entry",
			    (size_t)k);
		}
		cr_assert_eq(ml_ptrmap_maybe(addr(k)) != 0 || held[k] == 0, 1,
		    "%zu held, but the filter says surely not", (size_t)k);
	}
}

Test(ptrmap, a_taken_shard_is_refused_by_trylock_and_free_again_after)
{
	struct ml_shard *s = ml_ptrmap_lock(addr(5));
	cr_assert_null(ml_ptrmap_trylock(addr(5)));
	ml_ptrmap_unlock(s);
	s = ml_ptrmap_trylock(addr(5));
	cr_assert_not_null(s);
	ml_ptrmap_unlock(s);
}

Test(ptrmap, lock_all_takes_every_shard_as_fork_needs)
{
	ml_ptrmap_lock_all();
	for (uintptr_t i = 0; i < 256; i++)
		cr_assert_null(ml_ptrmap_trylock(addr(i)), "a shard of %p "
		    "is free", addr(i));
	ml_ptrmap_unlock_all();
	for (uintptr_t i = 0; i < 256; i++) {
		struct ml_shard *s = ml_ptrmap_trylock(addr(i));
		cr_assert_not_null(s);
		ml_ptrmap_unlock(s);
	}
}

Test(ptrmap, a_fork_child_remakes_the_locks_free_and_keeps_the_entries)
{
	put(addr(9), 9);
	ml_ptrmap_lock_all();
	ml_ptrmap_reinit_locks();
	struct ml_pent *e = find(addr(9));
	cr_assert_not_null(e);
	cr_assert_eq(e->h, 9);
}
