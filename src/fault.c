/*
 * fault.c - allocation fault injection (see fault.h).  Never allocates;
 * its state is atomic so that threads may share it.  Empty unless the
 * build is configured for fault injection.
 */
#include "fault.h"

#ifdef ML_FAULT_INJECTION
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

int ml_fault_on;
static _Atomic unsigned long count, failed;
static unsigned long skip;      /* allocations that never fail, first */
static unsigned every, one_in;
static _Atomic uint64_t rng;

void
ml_fault_set(unsigned n, unsigned one_in_n, uint64_t seed)
{
	every = n;
	one_in = one_in_n;
	atomic_store(&rng, seed | 1);
	atomic_store(&count, 0);
	atomic_store(&failed, 0);
	skip = 0;
	ml_fault_on = n != 0 || one_in_n != 0;
}

static bool
hit(void)
{
	if (every != 0) {
		unsigned long c = atomic_fetch_add(&count, 1);
		return c >= skip && (c - skip) % every == every - 1;
	}
	uint64_t x = atomic_load(&rng), y;
	do {            /* xorshift64 */
		y = x ^ x << 13;
		y ^= y >> 7;
		y ^= y << 17;
	} while (!atomic_compare_exchange_weak(&rng, &x, y));
	return y % one_in == 0;
}

bool
ml_fault_hit(void)
{
	if (!hit())
		return false;
	atomic_fetch_add(&failed, 1);
	return true;
}

unsigned long
ml_fault_count(void)
{
	return atomic_load(&failed);
}

/* A whole number from 1 to UINT32_MAX at *s, up to `end`; 0 if not. */
static unsigned long long
number(const char **s, char end, unsigned long long max)
{
	char *e;

	if (**s < '0' || **s > '9')
		return 0;
	errno = 0;
	unsigned long long v = strtoull(*s, &e, 10);
	if (errno != 0 || *e != end || v > max)
		return 0;
	*s = e + (end != '\0');
	return v;
}

static int env_result;

static void
env_read(void)
{
	const char *v = getenv("MEMLEASE_FAULT");
	unsigned long long n, seed;

	if (v == NULL || *v == '\0' || strcmp(v, "off") == 0)
		return;
	if (strncmp(v, "every:", 6) == 0) {
		v += 6;
		unsigned long long first = 0;
		const char *colon = strchr(v, ':');
		if ((n = number(&v, colon ? ':' : '\0', UINT32_MAX)) != 0 &&
		    (colon == NULL || (first = number(&v, '\0', UINT32_MAX))
		    != 0)) {
			ml_fault_set((unsigned)n, 0, 0);
			skip = first;
			return;
		}
	} else if (strncmp(v, "random:", 7) == 0) {
		v += 7;
		if ((n = number(&v, ':', UINT32_MAX)) != 0 &&
		    (seed = number(&v, '\0', UINT64_MAX)) != 0) {
			ml_fault_set(0, (unsigned)n, seed);
			return;
		}
	}
	env_result = -EINVAL;
}

int
ml_fault_env(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, env_read);
	return env_result;
}
#endif /* ML_FAULT_INJECTION */
