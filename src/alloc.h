/*
 * alloc.h - the allocator the core is given for its own memory: the core,
 * its bitmap and its label table take it, and call nothing else to
 * allocate (the preload gives memlease's own, the tests one that fails on
 * demand).
 */
#ifndef ML_ALLOC_H
#define ML_ALLOC_H

#include <stddef.h>

/* Allocator for the core's own memory; realloc(NULL, n) allocates and
 * realloc(p, 0) is never called. */
struct ml_alloc {
	void *(*realloc_fn)(void *p, size_t n);
	void  (*free_fn)(void *p);
};

#endif /* ML_ALLOC_H */
