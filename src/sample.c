/*
 * sample.c - byte sampling (see sample.h): the countdown's draws and the
 * weights of a sampled allocation.
 */
#include <math.h>

#include "sample.h"

/* splitmix64: a fast generator, good enough to draw countdowns. */
static uint64_t
next(uint64_t *state)
{
	uint64_t z = (*state += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

/* A countdown: -ln(U) * mean for U uniform in (0, 1], at least 1 (so that
 * an allocation of 0 bytes never crosses it). */
static uint64_t
draw(struct ml_sampler *s, uint64_t mean)
{
	double u = (double)((next(&s->rng) >> 11) + 1) * 0x1p-53;
	double x = -log(u) * (double)mean;

	if (x < 1)
		return 1;
	if (x >= 0x1p63)
		return UINT64_C(1) << 63;
	return (uint64_t)x;
}

void
ml_sample_seed(struct ml_sampler *s, uint64_t mean, uint64_t seed)
{
	/* mixed: seeds a step of the generator apart would otherwise give
	 * the same sequence, a draw apart */
	s->rng = seed;
	s->rng = next(&s->rng);
	s->left = draw(s, mean);
}

bool
ml_sample_cross(struct ml_sampler *s, uint64_t mean, size_t n)
{
	if (s->left == 0)               /* no countdown yet: draw the first */
		s->left = draw(s, mean);
	if (n < s->left) {
		s->left -= n;
		return false;
	}
	/* the bytes after the crossing are a process of their own: the
	 * remainder of this allocation is not carried over (memoryless) */
	s->left = draw(s, mean);
	return true;
}

/* 1 - exp(-size/mean), exact for small ratios. */
static double
prob(uint64_t size, uint64_t mean)
{
	return -expm1(-(double)size / (double)mean);
}

double
ml_sample_bytes(uint64_t size, uint64_t mean)
{
	return size == 0 || mean == 0 ? (double)size :
	    (double)size / prob(size, mean);
}

double
ml_sample_count(uint64_t size, uint64_t mean)
{
	if (mean == 0)
		return 1;
	return size == 0 ? 0 : 1 / prob(size, mean);
}

void
ml_sample_weights(uint64_t size, uint64_t mean, uint64_t *bytes,
    uint64_t *count)
{
	*bytes = (uint64_t)llround(ml_sample_bytes(size, mean));
	*count = (uint64_t)llround(ml_sample_count(size, mean) * ML_SAMPLE_ONE);
}
