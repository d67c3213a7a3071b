/*
 * block.h - the life of a tracked block: its entry in the pointer map and
 * its lease, from the allocation that tracks it to the free() that ends
 * it (the states and their transitions: block.c).
 *
 * Callers hold the recursion guard (but for the *_nested functions, which
 * a signal handler calls while this thread holds a lock of memlease's);
 * every function keeps the C library's contract of the call it serves.
 */
#ifndef ML_BLOCK_H
#define ML_BLOCK_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "memlease.h"

struct ml_ended;

/* Lease kinds (the core's 3-bit `kind`): how a lease's block ends. */
enum ml_kind {
	ML_KIND_BUFFER = 0,     /* memlease_alloc(): ML_RUNTIME_BUFFER */
	ML_KIND_REPORT,         /* tagged, action=report */
	ML_KIND_FREE,           /* tagged action=free, or memlease_adopt() */
	ML_KIND_RECLAIM,        /* tagged, action=reclaim: on its own pages */
	ML_KIND_ABORT,          /* tagged, action=abort */
};

/* The late-freed blocks whose address stays held (block.c): a later free
 * of one is told from the free of a new block at its address. */
#define ML_BLOCK_QUARANTINE 1024

/* Track block p (size bytes; maplen: its mapping, kind reclaim) under a
 * new lease of the runtime's, *hp, from now (sample: the mean of the byte
 * sampling that chose it, 0: none): 0, -EEXIST (p is tracked and
 * live), -ENOMEM (no room in the map), or the lease's failure.  Call
 * ml_runtime_deadline(*wake) after when ttl_ms is not 0. */
int  ml_block_track(void *p, size_t size, unsigned kind,
         uint64_t now, uint64_t ttl_ms, unsigned releases, uint32_t stack,
         const char *label, uint64_t sample, bool *wake, memlease_t *hp);

/* free(p): true if p was ours (handled). */
bool ml_block_free(void *p);
bool ml_block_free_nested(void *p);

/* realloc(p, n): true if p was ours, with the result in *out. */
bool ml_block_realloc(void *p, size_t n, void **out);
bool ml_block_realloc_nested(void *p, void **out);

/* malloc_usable_size(p): true if p is ours, the size in *out. */
bool ml_block_usable_size(void *p, size_t *out);

/* After the core ended a lease of a kind of ours (not ML_KIND_BUFFER):
 * free its block if released, apply its kind's action if expired.
 * ml_block_register() makes it the runtime's end handler of those kinds. */
void ml_block_ended(const struct ml_ended *e, uint64_t now);
void ml_block_register(void);

/* Fork handlers: the map's shards, then the reclaim records. */
/* Tombs that memlease's thread made, which a thread of the program's
 * shrinks (see block.c): ml_block_settle_slow() when ml_block_later is
 * not 0, with the guard held and no lock of memlease's. */
extern atomic_uint ml_block_later;
void ml_block_settle_slow(void);

void ml_block_prepare(void);
void ml_block_parent(void);
void ml_block_child(void);

#endif /* ML_BLOCK_H */
