/*
 * real.h - the next allocator: the malloc family that the shim forwards to.
 *
 * The family is resolved as one set, with dlsym(RTLD_NEXT), from the object
 * that provides malloc (the C library, or jemalloc, tcmalloc...); what that
 * object lacks is made from what it has (jemalloc has no pvalloc), so
 * that no block is allocated by one allocator and freed by another
 * (reallocarray is the shim's: a checked product, then realloc).  Until the
 * set is resolved (dlsym itself may allocate), calls are served from a
 * small static bootstrap arena whose blocks free() and realloc()
 * recognise.  If dlsym cannot name the allocator, the set is the C
 * library's own (__libc_malloc...): the arena would soon run out.
 *
 * Memlease's own thread does not call the next allocator (heap.h): on it,
 * the ml_real_* functions allocate from the heap (from the next allocator
 * only when the heap can map no more), and hand the blocks of the next
 * allocator that it frees to the program's threads, whose next
 * ml_real_malloc() or ml_real_free() frees them.  A block of the heap's is
 * the heap's to free, on any thread.
 *
 * The ml_real_* functions never return to the shim, never lock (but the
 * heap's, on memlease's thread or for its blocks), never allocate but
 * through the next allocator, the heap or the arena.
 */
#ifndef ML_REAL_H
#define ML_REAL_H

#include <stdbool.h>
#include <stddef.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "heap.h"

struct ml_real_fns {
	void  *(*next_malloc)(size_t);
	void   (*next_free)(void *);
	void  *(*next_calloc)(size_t, size_t);
	void  *(*next_realloc)(void *, size_t);
	int    (*next_posix_memalign)(void **, size_t, size_t);
	void  *(*next_aligned_alloc)(size_t, size_t);
	void  *(*next_memalign)(size_t, size_t);
	void  *(*next_valloc)(size_t);
	void  *(*next_pvalloc)(size_t);
	size_t (*next_malloc_usable_size)(void *);
};

extern struct ml_real_fns ml_real;
extern int ml_real_ready;          /* the set is resolved */

void ml_real_resolve(void);

/* Bootstrap arena; hidden, so that free() finds it without a load. */
#define ML_BOOT_SIZE (256 * 1024)
extern char ml_boot_arena[ML_BOOT_SIZE] __attribute__((visibility("hidden")));

static inline bool
ml_boot_owns(const void *p)
{
	return (uintptr_t)p - (uintptr_t)ml_boot_arena < ML_BOOT_SIZE;
}

void  *ml_boot_alloc(size_t align, size_t n);
size_t ml_boot_usable(const void *p);

/* The next allocator's functions, resolving on first use. */
static inline bool
ml_real_check(void)
{
	if (__builtin_expect(!__atomic_load_n(&ml_real_ready, __ATOMIC_ACQUIRE),
	    0))
		ml_real_resolve();
	return __atomic_load_n(&ml_real_ready, __ATOMIC_ACQUIRE);
}

/* The object the allocator came from, for diagnostics. */
const char *ml_real_object(void);

/* The C library's pthread_create(), past the preload's (threads.c): a
 * thread of memlease's own is not the program's.  0 or an error number. */
int ml_real_pthread_create(pthread_t *t, const pthread_attr_t *attr,
        void *(*fn)(void *), void *arg);

/* n * size in *total; false, with errno ENOMEM, if it overflows. */
static inline bool
ml_mul_ok(size_t n, size_t size, size_t *total)
{
	if (__builtin_mul_overflow(n, size, total)) {
		errno = ENOMEM;
		return false;
	}
	return true;
}

/* Free the blocks memlease's thread handed over (heap.h). */
void ml_real_settle_slow(void);

/* Not memlease's thread: the blocks it handed over are freed first.  Cost:
 * one relaxed load. */
static inline void
ml_real_settle(void)
{
	if (__builtin_expect(atomic_load_explicit(&ml_heap_deferred,
	    memory_order_relaxed) != NULL, 0))
		ml_real_settle_slow();
}

/* On memlease's thread: its heap's.  Cost elsewhere: a thread-local
 * load. */
static inline bool
ml_real_own(void)
{
	return __builtin_expect(ml_heap_self, 0);
}

/* Memlease's thread: n bytes aligned to align (0: the usual) from its
 * heap, or from the next allocator when the heap can map no more. */
void *ml_real_own_alloc(size_t align, size_t n);
void *ml_real_own_calloc(size_t n, size_t size);
/* A block of the heap's resized (any thread): in the heap, or moved to
 * ml_real_malloc()'s when the heap can map no more. */
void *ml_real_heap_realloc(void *p, size_t n);

/* free(p) done at once, if nothing but the next allocator has to be asked
 * (heap.h: the pass is open): true if done.  One load. */
static inline bool
ml_real_pass_free(void *p)
{
	void (*pass)(void *) = atomic_load_explicit(&ml_heap_pass_free,
	    memory_order_relaxed);

	if (__builtin_expect(pass == NULL, 0))
		return false;
	pass(p);
	return true;
}

/* The entry points: the next allocator once resolved, else the arena (on
 * memlease's thread, its heap).  Inline: under the preload they are the
 * whole cost of an untagged call. */
static inline void *
ml_real_malloc(size_t n)
{
	void *(*pass)(size_t) = atomic_load_explicit(&ml_heap_pass_malloc,
	    memory_order_relaxed);

	if (__builtin_expect(pass != NULL, 1))
		return pass(n);
	if (ml_real_own())
		return ml_real_own_alloc(0, n);
	ml_real_settle();
	return ml_real_check() ? ml_real.next_malloc(n) : ml_boot_alloc(16, n);
}

/* free(p) of a block not the arena's, the pass found shut (the shim's
 * free() looked already). */
static inline void
ml_real_free_unpassed(void *p)
{
	if (ml_heap_owns(p))
		ml_heap_free(p);
	else if (ml_real_own())
		ml_heap_defer(p);
	else if (ml_real_check()) {
		ml_real_settle();
		ml_real.next_free(p);
	}
}

static inline void
ml_real_free(void *p)
{
	if (p == NULL || ml_boot_owns(p) || ml_real_pass_free(p))
		return;
	ml_real_free_unpassed(p);
}

/* Memlease's thread: a block of the next allocator's resized, into the
 * heap. */
void *ml_real_move(void *p, size_t n);

static inline void *
ml_real_calloc(size_t n, size_t size)
{
	size_t total;

	if (ml_real_own())
		return ml_real_own_calloc(n, size);
	if (ml_real_check())
		return ml_real.next_calloc(n, size);
	if (!ml_mul_ok(n, size, &total))
		return NULL;
	return ml_boot_alloc(16, total);
}

static inline void *
ml_real_realloc(void *p, size_t n)
{
	if (p != NULL && ml_boot_owns(p)) {
		size_t old = ml_boot_usable(p);
		void *q = ml_real_malloc(n);
		if (q != NULL)
			memcpy(q, p, old < n ? old : n);
		return q;
	}
	if (p != NULL && ml_heap_owns(p))
		return ml_real_heap_realloc(p, n);
	if (ml_real_own())
		return p == NULL ? ml_real_own_alloc(0, n) :
		    ml_real_move(p, n);
	return ml_real_check() ? ml_real.next_realloc(p, n) : ml_boot_alloc(16, n);
}

static inline int
ml_real_posix_memalign(void **pp, size_t align, size_t n)
{
	void *p;

	if (!ml_real_own() && ml_real_check())
		return ml_real.next_posix_memalign(pp, align, n);
	if (align < sizeof(void *) || (align & (align - 1)) != 0)
		return EINVAL;
	if ((p = ml_real_own() ? ml_real_own_alloc(align, n) :
	    ml_boot_alloc(align, n)) == NULL)
		return ENOMEM;
	*pp = p;
	return 0;
}

/* From the bootstrap arena, aligned to a power of two. */
static inline void *
ml_boot_aligned(size_t align, size_t n)
{
	if (align == 0 || (align & (align - 1)) != 0) {
		errno = EINVAL;
		return NULL;
	}
	return ml_real_own() ? ml_real_own_alloc(align, n) : ml_boot_alloc(align, n);
}

static inline void *
ml_real_aligned_alloc(size_t align, size_t n)
{
	if (!ml_real_own() && ml_real_check())
		return ml_real.next_aligned_alloc(align, n);
	return ml_boot_aligned(align, n);
}

static inline void *
ml_real_memalign(size_t align, size_t n)
{
	if (!ml_real_own() && ml_real_check())
		return ml_real.next_memalign(align, n);
	return ml_boot_aligned(align, n);
}

static inline void *
ml_real_valloc(size_t n)
{
	if (ml_real_own())
		return ml_real_own_alloc(4096, n);
	return ml_real_check() ? ml_real.next_valloc(n) :
	    ml_boot_alloc(4096, n);
}

static inline void *
ml_real_pvalloc(size_t n)
{
	if (ml_real_own())
		return ml_real_own_alloc(4096, (n + 4095) & ~(size_t)4095);
	return ml_real_check() ? ml_real.next_pvalloc(n) :
	    ml_boot_alloc(4096, (n + 4095) & ~(size_t)4095);
}

static inline size_t
ml_real_usable_size(void *p)
{
	if (p == NULL)
		return 0;
	if (ml_boot_owns(p))
		return ml_boot_usable(p);
	if (ml_heap_owns(p))
		return ml_heap_usable(p);
	return ml_real_check() ? ml_real.next_malloc_usable_size(p) : 0;
}

#endif /* ML_REAL_H */
