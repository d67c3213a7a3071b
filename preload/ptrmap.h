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

struct ml_pent {
	uintptr_t p;
	memlease_t h;
	uint64_t  size : 56, state : 4, kind : 3, held : 1;
	size_t    maplen;      /* kind reclaim: the bytes mapped */
};

struct ml_shard;

/* Whether p may be tracked (false: surely not).  Lock-free. */
bool             ml_ptrmap_maybe(const void *p);

struct ml_shard *ml_ptrmap_lock(const void *p);
/* As ml_ptrmap_lock(), or NULL at once if the shard is taken. */
struct ml_shard *ml_ptrmap_trylock(const void *p);
void             ml_ptrmap_unlock(struct ml_shard *s);
struct ml_pent  *ml_ptrmap_find(struct ml_shard *s, const void *p);
/* The entry of p, made empty (p set, the rest zero) if there was none;
 * NULL if out of memory. */
struct ml_pent  *ml_ptrmap_insert(struct ml_shard *s, const void *p);
void             ml_ptrmap_remove(struct ml_shard *s, struct ml_pent *e);

void             ml_ptrmap_lock_all(void);
void             ml_ptrmap_unlock_all(void);
void             ml_ptrmap_reinit_locks(void);

#endif /* ML_PTRMAP_H */
