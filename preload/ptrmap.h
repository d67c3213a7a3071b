/*
 * ptrmap.h - the blocks the preload tracks, by address.
 *
 * free() must tell a tracked block from an ordinary one without a lock: a
 * filter of saturating counters (one byte per hash bucket) answers "surely
 * not" for almost every untracked address with one load.  Behind it, 32
 * shards, each a mutex over an open-addressing table, hold one entry per
 * tracked address: a live lease, or what is left of an expired one.
 *
 * Memory is memlease's own (mem.h), never from the shim.
 * An entry pointer is valid while its shard stays locked and until the
 * next insert or remove in that shard.
 */
#ifndef ML_PTRMAP_H
#define ML_PTRMAP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "memlease.h"

enum ml_pstate {
	ML_P_LIVE = 1,       /* a live lease */
	ML_P_ENDING,         /* freed by the program while pinned */
	ML_P_TOMB,           /* expired and freed by memlease; see `held` */
	ML_P_RECLAIMED,      /* expired, pages given back, addresses kept */
	ML_P_MOVING,         /* in realloc(); h is 0 if it expired meanwhile */
	ML_P_LATE,           /* TOMB or RECLAIMED, then freed late by the
	                      * program: its address held (block.c) */
};

/* 16 bytes: in tables 44% to 67% full, 24 to 36 bytes a block tracked.  A block's size is its lease's (the core's), the length
 * of a mapping of kind reclaim reclaim.c's. */
struct ml_pent {
	uint64_t   p : 48,      /* 0: an empty slot */
	           state : 4, kind : 3, held : 1;
	memlease_t h;
};
_Static_assert(sizeof(struct ml_pent) == 16, "a map entry is 16 bytes");

/* The addresses a map entry can hold: user space below 2^48 (x86-64 and
 * arm64 hand out none above unless asked to). */
#define ML_PTRMAP_MAX_ADDR ((UINT64_C(1) << 48) - 1)

struct ml_shard;

#define ML_PTRMAP_FILTER_BITS 16        /* 64 KiB: stays in cache */

/* The filter's counters: ptrmap.c's, read here so that free() of a block
 * never tracked costs no call. */
extern _Atomic uint8_t ml_ptrmap_filter[1u << ML_PTRMAP_FILTER_BITS];

/* fmix64 of murmur3: every bit of p reaches every bit of the hash (where
 * a probe starts, under the shard's lock). */
static inline uint64_t
ml_ptrmap_hash(const void *p)
{
	uint64_t h = (uintptr_t)p;

	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdu;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53u;
	h ^= h >> 33;
	return h;
}

/* p's counter in the filter: the high bits of p times 2^64 / phi
 * (Fibonacci hashing, one multiply).  It is on every free() once anything
 * was tracked, in programs whose free() loops wait on memory: each
 * instruction there is one fewer of the next free()'s in flight (with
 * fmix64 here manylive took 2.4% longer under sample=128k). */
static inline uint32_t
ml_ptrmap_counter(const void *p)
{
	return (uint32_t)((uintptr_t)p * UINT64_C(0x9e3779b97f4a7c15) >>
	    (64 - ML_PTRMAP_FILTER_BITS));
}

/* Whether p may be tracked (false: surely not).  Lock-free: a multiply
 * and one relaxed load. */
static inline bool
ml_ptrmap_maybe(const void *p)
{
	return atomic_load_explicit(&ml_ptrmap_filter[ml_ptrmap_counter(p)],
	    memory_order_relaxed);
}

struct ml_shard *ml_ptrmap_lock(const void *p);
/* As ml_ptrmap_lock(), or NULL at once if the shard is taken. */
struct ml_shard *ml_ptrmap_trylock(const void *p);
void             ml_ptrmap_unlock(struct ml_shard *s);
struct ml_pent  *ml_ptrmap_find(struct ml_shard *s, const void *p);
/* The entry of p, made empty (p set, the rest zero) if there was none;
 * NULL if out of memory or p is above ML_PTRMAP_MAX_ADDR. */
struct ml_pent  *ml_ptrmap_insert(struct ml_shard *s, const void *p);
void             ml_ptrmap_remove(struct ml_shard *s, struct ml_pent *e);

void             ml_ptrmap_lock_all(void);
void             ml_ptrmap_unlock_all(void);
void             ml_ptrmap_reinit_locks(void);

#endif /* ML_PTRMAP_H */
