/*
 * sample.h - byte sampling: which allocations a rule's sample=BYTES picks,
 * and what a picked one stands for.
 *
 * The bytes a thread allocates are a Poisson process of mean BYTES (as
 * tcmalloc, jemalloc and heapprofd sample): a countdown drawn from an
 * exponential distribution of mean BYTES is decremented by each
 * allocation's size, and the allocation that crosses it is sampled and a
 * new countdown drawn.  An allocation of s bytes is then sampled with
 * probability p(s) = 1 - exp(-s/BYTES), independently of every other, so a
 * sampled one stands for 1/p(s) allocations and s/p(s) bytes: its weights,
 * which make sums over the sampled an unbiased estimate of the sums over
 * all.
 *
 * Pure: no lock, no allocation, no global state; a sampler is one
 * thread's (the preload keeps one in thread-local storage).
 */
#ifndef ML_SAMPLE_H
#define ML_SAMPLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ML_SAMPLE_MAX (UINT64_C(1) << 40)   /* sample= at most 1 TiB */

/* Fixed point of the count weights summed by the core: 1/1024ths. */
#define ML_SAMPLE_ONE 1024

struct ml_sampler {
	uint64_t left;   /* bytes until the next sample; 0: not drawn yet */
	uint64_t rng;    /* splitmix64's state */
	uint32_t epoch;  /* the seed's, for its owner (0: not seeded) */
};

/* Start a sampler of mean bytes from seed (the tests' fixed seeds). */
void ml_sample_seed(struct ml_sampler *s, uint64_t mean, uint64_t seed);

/* The crossing of the countdown, out of line: whether an allocation of n
 * bytes is sampled, with mean bytes between samples; a new countdown is
 * drawn after a sample. */
bool ml_sample_cross(struct ml_sampler *s, uint64_t mean, size_t n);

/* Whether an allocation of n bytes stays before the countdown (and is
 * not sampled): the cost of all but about one allocation per `mean`
 * bytes, a compare and a subtraction.  false: ask ml_sample_cross(). */
static inline bool
ml_sample_skip(struct ml_sampler *s, size_t n)
{
	if (__builtin_expect(n < s->left, 1)) {
		s->left -= n;
		return true;
	}
	return false;
}

/* Whether an allocation of n bytes is sampled. */
static inline bool
ml_sample_take(struct ml_sampler *s, uint64_t mean, size_t n)
{
	return !ml_sample_skip(s, n) && ml_sample_cross(s, mean, n);
}

/* The weights of a sampled allocation of size bytes at mean bytes: the
 * bytes (size / p) and the allocations (1 / p) it stands for.  size 0 is
 * never sampled; its weights are 0. */
double ml_sample_bytes(uint64_t size, uint64_t mean);
double ml_sample_count(uint64_t size, uint64_t mean);

/* The same, as the core sums them: bytes rounded, allocations in
 * ML_SAMPLE_ONE ths. */
void   ml_sample_weights(uint64_t size, uint64_t mean, uint64_t *bytes,
           uint64_t *count);

#endif /* ML_SAMPLE_H */
