/*
 * ptrmap.c - the blocks the preload tracks, by address (see ptrmap.h).
 *
 * Tables use linear probing with backward-shift deletion (no deleted
 * markers), and grow at two thirds full, by half and by a third in turns
 * (64, 96, 128, 192...), so that a table is between 44% and 67% full: 16
 * bytes of entry make 24 to 36 bytes a block, where doubling at half full
 * made 32 to 64.  A probe starts at the slot the hash's high half scales
 * to (a multiply, no modulo).  An address's shard is the low bits of
 * its filter counter's index, so that each counter belongs to one shard
 * and is written under that shard's lock only: a plain load and store, no
 * atomic read-modify-write (it is read without the lock, hence atomic).
 * A counter that reached 255 stays there (a false "maybe", never a false
 * "no").
 *
 * Locking: one lock per shard (wordlock.h, not a pthread mutex) guards
 * its table; the filter is lock-free.
 * Never calls the shim.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdatomic.h>
#include <string.h>

#include "guard.h"
#include "mem.h"
#include "ptrmap.h"
#include "real.h"
#include "wordlock.h"

#define NSHARDS      32   /* the fork handler holds them all: TSan tracks 64 at most */
_Static_assert(NSHARDS <= (1u << ML_PTRMAP_FILTER_BITS) &&
    (NSHARDS & (NSHARDS - 1)) == 0, "a counter belongs to one shard");
#define MIN_CAP      64

struct ml_shard {
	struct ml_wordlock lock;
	struct ml_pent *v;
	uint32_t        cap;    /* 0, or 2^k or 3 * 2^k, from MIN_CAP */
	uint32_t        n;
} __attribute__((aligned(64)));

static struct ml_shard shards[NSHARDS];
/* bss: free until used */
_Atomic uint8_t ml_ptrmap_filter[1u << ML_PTRMAP_FILTER_BITS];

static inline _Atomic uint8_t *
counter(const void *p)
{
	return &ml_ptrmap_filter[ml_ptrmap_counter(p)];
}

static inline struct ml_shard *
shard_of(const void *p)
{
	return &shards[ml_ptrmap_counter(p) % NSHARDS];
}

/* The shard's lock is held, and with it every writer of the counter. */
static void
counter_add(const void *p, int d)
{
	_Atomic uint8_t *c = counter(p);
	uint8_t v = atomic_load_explicit(c, memory_order_relaxed);

	if (v == 255 || (d < 0 && v == 0))
		return;
	atomic_store_explicit(c, (uint8_t)(v + d), memory_order_relaxed);
}

struct ml_shard *
ml_ptrmap_lock(const void *p)
{
	struct ml_shard *s = shard_of(p);

	ml_lock_counted();
	ml_wordlock_lock(&s->lock);
	return s;
}

struct ml_shard *
ml_ptrmap_trylock(const void *p)
{
	struct ml_shard *s = shard_of(p);

	ml_lock_counted();
	if (!ml_wordlock_try(&s->lock)) {
		ml_lock_uncounted();
		return NULL;
	}
	return s;
}

void
ml_ptrmap_unlock(struct ml_shard *s)
{
	ml_wordlock_unlock(&s->lock);
	ml_lock_uncounted();
}

/* The slot where a probe for p starts. */
static inline uint32_t
home(const struct ml_shard *s, uintptr_t p)
{
	return (uint32_t)((ml_ptrmap_hash((void *)p) >> 32) * s->cap >> 32);
}

/* The slot a probe looks at after slot i. */
static inline uint32_t
next(const struct ml_shard *s, uint32_t i)
{
	return i + 1 == s->cap ? 0 : i + 1;
}

/* How far slot j is past slot i, probing. */
static inline uint32_t
past(const struct ml_shard *s, uint32_t j, uint32_t i)
{
	return j >= i ? j - i : j + s->cap - i;
}

/* The slot of p, or the empty slot where it would go. */
static inline uint32_t
slot_of(const struct ml_shard *s, uintptr_t p)
{
	uint32_t i = home(s, p);

	while (s->v[i].p != 0 && s->v[i].p != p)
		i = next(s, i);
	return i;
}

struct ml_pent *
ml_ptrmap_find(struct ml_shard *s, const void *p)
{
	if (s->n == 0)
		return NULL;
	struct ml_pent *e = &s->v[slot_of(s, (uintptr_t)p)];
	return e->p != 0 ? e : NULL;
}

static bool
grow(struct ml_shard *s)
{
	uint32_t cap = s->cap == 0 ? MIN_CAP :
	    (s->cap & (s->cap - 1)) == 0 ? s->cap + s->cap / 2 : s->cap / 3 * 4;
	struct ml_pent *old = s->v, *v;

	if (cap <= s->cap)      /* 2^32 entries in one shard */
		return false;
	if ((v = ml_mem_calloc(cap, sizeof *v)) == NULL)
		return false;
	uint32_t oldcap = s->cap;
	s->v = v;
	s->cap = cap;
	for (uint32_t i = 0; i < oldcap; i++)
		if (old[i].p != 0)
			s->v[slot_of(s, old[i].p)] = old[i];
	ml_mem_free(old);
	return true;
}

struct ml_pent *
ml_ptrmap_insert(struct ml_shard *s, const void *p)
{
	struct ml_pent *e;

	if ((uintptr_t)p > ML_PTRMAP_MAX_ADDR)
		return NULL;
	if ((uint64_t)(s->n + 1) * 3 > (uint64_t)s->cap * 2) {
		if ((e = ml_ptrmap_find(s, p)) != NULL)
			return e;
		if (!grow(s))
			return NULL;
	}
	e = &s->v[slot_of(s, (uintptr_t)p)];
	if (e->p != 0)
		return e;       /* there already */
	memset(e, 0, sizeof *e);
	e->p = (uintptr_t)p;
	s->n++;
	counter_add(p, 1);
	return e;
}

void
ml_ptrmap_remove(struct ml_shard *s, struct ml_pent *e)
{
	uint32_t i = (uint32_t)(e - s->v), j = i;

	counter_add((void *)(uintptr_t)e->p, -1);
	s->v[i].p = 0;
	s->n--;
	/* Backward shift: move up every entry that the hole now separates
	 * from its home slot. */
	for (;;) {
		j = next(s, j);
		if (s->v[j].p == 0)
			return;
		if (past(s, j, home(s, s->v[j].p)) >= past(s, j, i)) {
			s->v[i] = s->v[j];
			s->v[j].p = 0;
			i = j;
		}
	}
}

void
ml_ptrmap_lock_all(void)
{
	ml_lock_counted();      /* a free() now must not wait for them */
	for (int i = 0; i < NSHARDS; i++)
		ml_wordlock_lock(&shards[i].lock);
}

void
ml_ptrmap_unlock_all(void)
{
	for (int i = NSHARDS - 1; i >= 0; i--)
		ml_wordlock_unlock(&shards[i].lock);
	ml_lock_uncounted();
}

void
ml_ptrmap_reinit_locks(void)
{
	for (int i = 0; i < NSHARDS; i++)       /* no other thread here */
		ml_wordlock_init(&shards[i].lock);
	ml_lock_depth = 0;      /* the fork handler's, in the child */
}
