/*
 * real.h - the next allocator: the malloc family that the shim forwards to.
 *
 * The family is resolved as one set, with dlsym(RTLD_NEXT), from the object
 * that provides malloc (the C library, or jemalloc, tcmalloc...); what that
 * object lacks is made from what it has (jemalloc has no pvalloc or
 * reallocarray), so that no block is allocated by one allocator and freed
 * by another.  Until the set is resolved (dlsym itself may allocate), calls
 * are served from a small static bootstrap arena whose blocks free() and
 * realloc() recognise.
 *
 * The ml_real_* functions never return to the shim, never lock, never
 * allocate but through the next allocator or the arena.
 */
#ifndef ML_REAL_H
#define ML_REAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ml_real_fns {
	void  *(*malloc)(size_t);
	void   (*free)(void *);
	void  *(*calloc)(size_t, size_t);
	void  *(*realloc)(void *, size_t);
	void  *(*reallocarray)(void *, size_t, size_t);
	int    (*posix_memalign)(void **, size_t, size_t);
	void  *(*aligned_alloc)(size_t, size_t);
	void  *(*memalign)(size_t, size_t);
	void  *(*valloc)(size_t);
	void  *(*pvalloc)(size_t);
	size_t (*malloc_usable_size)(void *);
};

extern struct ml_real_fns ml_real;
extern int ml_real_ready;          /* the set is resolved */

void ml_real_resolve(void);

/* Bootstrap arena. */
extern char ml_boot_arena[];
extern const size_t ml_boot_size;

static inline bool
ml_boot_owns(const void *p)
{
	return (uintptr_t)p - (uintptr_t)ml_boot_arena < ml_boot_size;
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

void  *ml_real_malloc(size_t n);
void   ml_real_free(void *p);
void  *ml_real_calloc(size_t n, size_t size);
void  *ml_real_realloc(void *p, size_t n);
void  *ml_real_reallocarray(void *p, size_t n, size_t size);
int    ml_real_posix_memalign(void **pp, size_t align, size_t n);
void  *ml_real_aligned_alloc(size_t align, size_t n);
void  *ml_real_memalign(size_t align, size_t n);
void  *ml_real_valloc(size_t n);
void  *ml_real_pvalloc(size_t n);
size_t ml_real_usable_size(void *p);

/* The object the allocator came from, for diagnostics. */
const char *ml_real_object(void);

#endif /* ML_REAL_H */
