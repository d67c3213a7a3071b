/*
 * timing.h - what the benchmark programs that time themselves share
 * (bench/core.c, bench/floors.c): the monotonic clock in ns, and the
 * median of a few passes.
 */
#ifndef BENCH_TIMING_H
#define BENCH_TIMING_H

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BENCH_MAX_PASSES 64

static inline double
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static inline int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* The median of v[0..n), n from 1 to BENCH_MAX_PASSES; v is left as it
 * is. */
static inline double
median(const double *v, int n)
{
	double s[BENCH_MAX_PASSES];

	memcpy(s, v, (size_t)n * sizeof *s);
	qsort(s, (size_t)n, sizeof *s, cmp_double);
	return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

#endif /* BENCH_TIMING_H */
