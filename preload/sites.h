/*
 * sites.h - verdicts cached per call site and per stack, so that symbol
 * lookups and glob matches run once per site (or stack), not per call.
 *
 * A verdict is the mask of rules (bit i: rule i) that accept a site, for
 * one generation of the rules; a verdict of another generation reads as
 * absent.  Lock-free, never allocates through the shim; a full table just
 * stops caching (the caller computes the verdict each time).
 */
#ifndef ML_SITES_H
#define ML_SITES_H

#include <stdbool.h>
#include <stdint.h>

/* By return address into the code that called the allocator. */
bool ml_sites_get(const void *ra, uint32_t gen, uint32_t *mask);
void ml_sites_put(const void *ra, uint32_t gen, uint32_t mask);

/* By stack id (stacks.h). */
bool ml_sites_stack_get(uint32_t stack, uint32_t gen, uint32_t *mask);
void ml_sites_stack_put(uint32_t stack, uint32_t gen, uint32_t mask);

#endif /* ML_SITES_H */
