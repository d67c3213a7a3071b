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

/* Tests: make both return *fake (read at each call); NULL restores the
 * real clock. */
void     ml_clock_fake(const volatile uint64_t *fake);

#endif /* ML_CLOCK_H */
