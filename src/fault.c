/*
 * fault.c - allocation fault injection (see fault.h).  Never allocates;
 * its state is atomic so that threads may share it.
 */
#include <stdatomic.h>

#include "fault.h"

int ml_fault_on;
static _Atomic unsigned long count;
static unsigned every, one_in;
static _Atomic uint64_t rng;

void
ml_fault_set(unsigned n, unsigned one_in_n, uint64_t seed)
{
	every = n;
	one_in = one_in_n;
	atomic_store(&rng, seed | 1);
	atomic_store(&count, 0);
	ml_fault_on = n != 0 || one_in_n != 0;
}

bool
ml_fault_hit(void)
{
	if (every != 0)
		return atomic_fetch_add(&count, 1) % every == every - 1;
	uint64_t x = atomic_load(&rng), y;
	do {            /* xorshift64 */
		y = x ^ x << 13;
		y ^= y >> 7;
		y ^= y << 17;
	} while (!atomic_compare_exchange_weak(&rng, &x, y));
	return y % one_in == 0;
}
