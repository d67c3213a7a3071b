/*
 * clock.c - the monotonic ms clock (see clock.h).  Never allocates, never
 * locks: callable from anywhere, signal handlers included.
 *
 * Cost: CLOCK_MONOTONIC reads the time stamp counter and scales it (about
 * 20 ns through the vDSO); CLOCK_MONOTONIC_COARSE reads a time the kernel
 * stores at its ticks (a few ns).  That time is not the tick's own: the
 * kernel advances it by whole tick lengths, so it lags the tick that
 * stored it by up to a tick, and is up to two ticks behind (1 to 6.1 ms
 * with 4 ms ticks, over 3e8 reads on a loaded machine; never more).  A
 * tick held up longer than that (a virtual CPU its host does not run)
 * would make it more: a deadline counted from it could then come early
 * by the delay.
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

/* How far CLOCK_MONOTONIC_COARSE may be behind, in ms: two of its ticks
 * (its resolution), rounded up, and 1 ms for the tick's own delay;
 * NO_COARSE if it has none.  0: not read yet (reading it twice is
 * harmless). */
#define NO_COARSE UINT64_MAX
static _Atomic uint64_t coarse_lag_ms;

static uint64_t
coarse_lag(void)
{
	struct timespec ts;

	/* a clock coarser than a second is not what this is for */
	if (clock_getres(CLOCK_MONOTONIC_COARSE, &ts) != 0 || ts.tv_sec != 0)
		return NO_COARSE;
	return (2 * (uint64_t)ts.tv_nsec + 999999) / 1000000 + 1;
}

uint64_t
ml_clock_ms_late(void)
{
	const volatile uint64_t *fake = atomic_load_explicit(&fake_now,
	    memory_order_acquire);
	struct timespec ts;

	if (fake != NULL)
		return *fake;
	uint64_t lag = atomic_load_explicit(&coarse_lag_ms,
	    memory_order_relaxed);
	if (lag == 0) {
		lag = coarse_lag();
		atomic_store_explicit(&coarse_lag_ms, lag,
		    memory_order_relaxed);
	}
	if (lag == NO_COARSE ||
	    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts) != 0)
		return read_ms(999999);
	/* the time now is at most lag after the time read */
	return (uint64_t)ts.tv_sec * 1000 +
	    ((uint64_t)ts.tv_nsec + 999999) / 1000000 + lag;
}

void
ml_clock_fake(const volatile uint64_t *fake)
{
	atomic_store_explicit(&fake_now, fake, memory_order_release);
}
