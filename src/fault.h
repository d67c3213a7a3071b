/*
 * fault.h - fault injection for tests: make memlease's own allocations fail
 * on demand.
 *
 * Only in a build configured with --enable-fault-injection
 * (ML_FAULT_INJECTION): there every allocation memlease makes for itself is
 * a fault point, off until a test or MEMLEASE_FAULT turns it on, and costs
 * one load while off.  In any other build ml_fault_fail() is the constant
 * false and the fault points compile to nothing.
 */
#ifndef ML_FAULT_H
#define ML_FAULT_H

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdbool.h>
#include <stdint.h>

#ifdef ML_FAULT_INJECTION

extern int ml_fault_on;

/* Fail every nth allocation (n > 0), or, with n == 0 and a seed, about
 * one in `one_in` at random; ml_fault_set(0, 0, 0) turns it off. */
void ml_fault_set(unsigned every, unsigned one_in, uint64_t seed);
bool ml_fault_hit(void);
/* Allocations that failed since the last ml_fault_set(). */
unsigned long ml_fault_count(void);
/* MEMLEASE_FAULT, read once ("every:N", "every:N:FIRST" (the first FIRST
 * never fail), "random:ONE_IN:SEED" or "off"):
 * 0, or -EINVAL (and faults stay off) if the value is not one of those. */
int  ml_fault_env(void);

static inline bool
ml_fault_fail(void)
{
	return __builtin_expect(ml_fault_on, 0) && ml_fault_hit();
}

#else

static inline bool
ml_fault_fail(void)
{
	return false;
}

static inline int
ml_fault_env(void)
{
	return 0;
}

#endif /* ML_FAULT_INJECTION */

#endif /* ML_FAULT_H */
