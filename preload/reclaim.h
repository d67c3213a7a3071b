/*
 * reclaim.h - blocks on pages of their own, for action=reclaim.
 *
 * Such a block is an anonymous mapping.  When its lease expires its pages
 * go back to the kernel and become inaccessible, the addresses staying
 * reserved until the program frees the block: a late access faults, and
 * a SIGSEGV handler names the lease (a diagnostic rendered at expiry)
 * before the program's own handler, or the default action, runs.
 */
#ifndef ML_RECLAIM_H
#define ML_RECLAIM_H

#include <stdbool.h>
#include <stddef.h>

/* A block of n bytes aligned to align (0 or a power of two), zero-filled;
 * *maplen gets the bytes mapped.  NULL (errno set) if it cannot be. */
void *ml_reclaim_alloc(size_t align, size_t n, size_t *maplen);

/* Resize a live block; returns the block (maybe moved) or NULL. */
void *ml_reclaim_realloc(void *p, size_t maplen, size_t n, size_t *newlen);

/* Give the pages back and make them inaccessible; `diag` (a string from
 * the next allocator, now owned here) is written on stderr if the program
 * touches the block again. */
void  ml_reclaim_expire(void *p, size_t maplen, char *diag);

/* Unmap a block, live or (reclaimed true) reclaimed. */
void  ml_reclaim_free(void *p, size_t maplen, bool reclaimed);

/* Fork handlers. */
void  ml_reclaim_prepare(void);
void  ml_reclaim_parent(void);
void  ml_reclaim_child(void);

/* Page size, and whether an alignment can be served. */
size_t ml_reclaim_page(void);

#endif /* ML_RECLAIM_H */
