/*
 * fault.h - fault injection for tests: make memlease's own allocations fail
 * on demand.  Off unless a test turns it on; costs one load when off.
 */
#ifndef ML_FAULT_H
#define ML_FAULT_H

#include <stdbool.h>
#include <stdint.h>

extern int ml_fault_on;

/* Fail every nth allocation (n > 0), or, with n == 0 and a seed, about
 * one in `one_in` at random; ml_fault_set(0, 0, 0) turns it off. */
void ml_fault_set(unsigned every, unsigned one_in, uint64_t seed);
bool ml_fault_hit(void);

static inline bool
ml_fault_fail(void)
{
	return __builtin_expect(ml_fault_on, 0) && ml_fault_hit();
}

#endif /* ML_FAULT_H */
