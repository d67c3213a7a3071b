/*
 * clock.c - the monotonic ms clock (see clock.h).  Never allocates, never
 * locks: callable from anywhere, signal handlers included.
 */
#include <stdatomic.h>
#include <stddef.h>
#include <time.h>

#include "clock.h"

static _Atomic(const volatile uint64_t *) fake_now;

static uint64_t
read_ms(uint64_t round)
{
	const volatile uint64_t *fake = atomic_load_explicit(&fake_now,
	    memory_order_acquire);
	struct timespec ts;

	if (fake != NULL)
		return *fake;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 +
	    ((uint64_t)ts.tv_nsec + round) / 1000000;
}

uint64_t
ml_clock_ms(void)
{
	return read_ms(0);
}

uint64_t
ml_clock_ms_ceil(void)
{
	return read_ms(999999);
}

void
ml_clock_fake(const volatile uint64_t *fake)
{
	atomic_store_explicit(&fake_now, fake, memory_order_release);
}
