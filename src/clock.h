/*
 * clock.h - CLOCK_MONOTONIC in ms, replaceable for tests.
 *
 * Deadlines are set from ml_clock_ms_ceil() and compared against
 * ml_clock_ms(), so a lease never expires a fraction of a ms early.
 */
#ifndef ML_CLOCK_H
#define ML_CLOCK_H

#include <stdint.h>

uint64_t ml_clock_ms(void);        /* rounded down */
uint64_t ml_clock_ms_ceil(void);   /* rounded up */
/* A start for deadlines that may be a little late but never early: at or
 * after ml_clock_ms_ceil(), by up to two ticks of CLOCK_MONOTONIC_COARSE
 * and 1 ms (3 to 21 ms, as the kernel was built), for a fraction of its
 * cost. */
uint64_t ml_clock_ms_late(void);

/* Tests: make both return *fake (read at each call); NULL restores the
 * real clock. */
void     ml_clock_fake(const volatile uint64_t *fake);

#endif /* ML_CLOCK_H */
