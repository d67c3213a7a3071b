/*
 * heap.h - the memory of memlease's own thread: every block that thread
 * allocates comes from here, never from the next allocator (real.h).
 *
 * Why: glibc gives each thread that first calls malloc(), free() or
 * realloc() an arena of its own, 64 MiB of address space reserved at once
 * (counted by RLIMIT_AS): that was nearly all the address space memlease
 * took.  So memlease's thread (the loop, the control server, libev,
 * jansson and the C library on it) allocates from a few mappings of its
 * own, made as they are needed (256 KiB first), and does not call the
 * next allocator (but when the heap can map no more: real.h): a block of
 * the next allocator's that it frees is handed to the program's threads
 * (ml_heap_defer()), whose next call to the allocator frees it (real.h).
 * The program's own allocations, and its arenas, are untouched.
 *
 * Blocks of this heap are freed, reallocated and measured by any thread
 * (real.h asks ml_heap_owns(), a range check on the mappings, which are
 * never unmapped).  Only ml_heap_enable()d processes use it (the
 * preload's): a test program's memlease thread allocates as before, so
 * that sanitizers see its blocks.
 *
 * Locking: one mutex around the free lists and the mappings, a leaf (taken
 * under any of memlease's locks, never around one), in the fork table.
 * The mappings' table is read without it.  Never: call the next
 * allocator, or anything that may.
 */
#ifndef ML_HEAP_H
#define ML_HEAP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ML_HEAP_MAPS 64         /* mappings at most */
#define ML_HEAP_KEEP (4u << 20) /* free bytes whose pages stay, at most */

/* This thread allocates from the heap (memlease's thread, once it ran
 * ml_heap_thread(); a thread inside ml_heap_claim()). */
extern __thread bool ml_heap_self __attribute__((tls_model("initial-exec")));
/*
 * The next allocator's malloc() and free(), for real.h to call at once
 * while the heap was never used (it has no block, no mapping, nothing
 * handed over) and, for free(), while no block was ever tracked: one load
 * in front of the next allocator instead of five.  real.c opens them once
 * it resolved the next allocator; they close for good (NULL) when a
 * thread first uses the heap, and free()'s when the tag layer first
 * tracks a block (ml_heap_pass_close()).
 */
extern void *(*_Atomic ml_heap_pass_malloc)(size_t);
extern void (*_Atomic ml_heap_pass_free)(void *);
void ml_heap_pass_open(void *(*malloc_fn)(size_t), void (*free_fn)(void *));
/* Closes free()'s, and malloc()'s too when malloc_too.  Cost when closed
 * already: a load. */
void ml_heap_pass_close(bool malloc_too);

struct ml_heap_map {
	uintptr_t base;
	size_t    size;
};
/* Published in order: an entry is written, then the count raised. */
extern struct ml_heap_map ml_heap_maps[ML_HEAP_MAPS];
extern atomic_uint ml_heap_nmaps;
/* Blocks of the next allocator that memlease's thread freed, linked
 * through their first word, for a thread of the program's to free. */
extern void *_Atomic ml_heap_deferred;

/* Whether p is a block of this heap.  Cost: one load when memlease's
 * thread never ran, a compare for each mapping (one or two) after. */
static inline bool
ml_heap_owns(const void *p)
{
	unsigned n = atomic_load_explicit(&ml_heap_nmaps, memory_order_acquire);

	for (unsigned i = 0; i < n; i++)
		if ((uintptr_t)p - ml_heap_maps[i].base < ml_heap_maps[i].size)
			return true;
	return false;
}

/* The preload: memlease's thread allocates from the heap. */
void   ml_heap_enable(void);
bool   ml_heap_on(void);
/* Memlease's thread, as it starts: from now on, it allocates here. */
void   ml_heap_thread(void);

/* This thread allocates from the heap when on (and the heap is enabled)
 * until given its previous answer back; returns that answer. */
static inline bool
ml_heap_claim(bool on)
{
	bool was = ml_heap_self;

	if (on)
		ml_heap_pass_close(true);
	ml_heap_self = on;
	return was;
}

/* As malloc() with the alignment align (a power of two; 0 or up to 16:
 * the usual 16); NULL and ENOMEM when out of memory. */
void  *ml_heap_alloc(size_t align, size_t n);
void  *ml_heap_calloc(size_t n, size_t size);
/* p is the heap's (or NULL); on failure p is left as it was. */
void  *ml_heap_realloc(void *p, size_t n);
void   ml_heap_free(void *p);
size_t ml_heap_usable(const void *p);

/* p, a block of the next allocator's that memlease's thread frees: kept
 * for a thread of the program's to free (ml_heap_take()). */
void   ml_heap_defer(void *p);
/* The blocks deferred so far (a list through their first word), taken. */
void  *ml_heap_take(void);

/* What the heap holds: address space mapped, and bytes in live blocks. */
void   ml_heap_usage(size_t *mapped, size_t *live);

void   ml_heap_prepare(void);
void   ml_heap_parent(void);
void   ml_heap_child(void);

#endif /* ML_HEAP_H */
