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

/* A block of n bytes aligned to align (0 or a power of two), zero-filled.
 * NULL (errno set) if it cannot be. */
void  *ml_reclaim_alloc(size_t align, size_t n);

/* The bytes mapped for the block at p (whole pages), 0 if p is none. */
size_t ml_reclaim_len(const void *p);

/* Resize a live block; returns the block (maybe moved) or NULL. */
void  *ml_reclaim_realloc(void *p, size_t n);

/* Give the pages back and make them inaccessible; `diag` (a string from
 * memlease's memory, now owned here) is written on stderr if the program
 * touches the block again. */
void   ml_reclaim_expire(void *p, char *diag);

/* Unmap a block, live or reclaimed. */
void   ml_reclaim_free(void *p);

/* Fork handlers. */
void  ml_reclaim_prepare(void);
void  ml_reclaim_parent(void);
void  ml_reclaim_child(void);

/* Page size, and whether an alignment can be served. */
size_t ml_reclaim_page(void);

#endif /* ML_RECLAIM_H */
