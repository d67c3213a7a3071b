/*
 * test_sample.c - byte sampling (src/sample.c) and its estimates in the
 * core: the weights, and the estimate of a known pattern of allocations
 * within an error derived from the estimator's variance.
 *
 * The pattern: 10,000 blocks of 4 KiB and 1,000,000 of 32 B at sample=64k,
 * 72,960,000 bytes in 1,010,000 blocks.  Byte sampling picks a block of s
 * bytes with probability p(s) = 1 - exp(-s/T), independently of the others
 * (the Poisson process over bytes), and weighs a picked one s/p(s) bytes
 * and 1/p(s) blocks.  The estimate of the bytes, B = sum of X_i s_i / p_i
 * (X_i: picked or not), is unbiased, of variance
 *   Var B = sum s_i^2 (1 - p_i) / p_i
 *         = 10^4 * 4096^2 * 15.505 + 10^6 * 32^2 * 2047.5
 *         = 2.601e12 + 2.097e12 = 4.698e12,
 * a standard deviation of 2.167e6 bytes, 2.97 % of the total; that of the
 * count, Var N = sum (1 - p_i) / p_i = 2.048e9, is 45,250 blocks (4.48 %).
 * The fixed seeds are held to 3 standard deviations each, and their mean to
 * 3 standard deviations of a mean; the real random source, which a test
 * cannot pin, to 5 (false alarm: 6e-7 a run).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <sys/random.h>

#include "core.h"
#include "sample.h"

#define T       65536
#define BIG     10000
#define SMALL   1000000
#define BYTES   ((double)BIG * 4096 + (double)SMALL * 32)
#define COUNT   ((double)BIG + SMALL)

/* The standard deviations of the estimates, from the variance above. */
static double
sd_bytes(void)
{
	double pb = -expm1(-4096.0 / T), ps = -expm1(-32.0 / T);

	return sqrt(BIG * 4096.0 * 4096 * (1 - pb) / pb +
	    SMALL * 32.0 * 32 * (1 - ps) / ps);
}

static double
sd_count(void)
{
	double pb = -expm1(-4096.0 / T), ps = -expm1(-32.0 / T);

	return sqrt(BIG * (1 - pb) / pb + SMALL * (1 - ps) / ps);
}

static const struct ml_alloc plain_alloc = { realloc, free };

/* The pattern through a sampler seeded with seed, each picked block a
 * lease of a core (as the preload makes them): the core's estimates. */
static void
estimate(uint64_t seed, double *bytes, double *count, uint64_t *picked)
{
	struct ml_sampler s = { 0 };
	struct memlease_stats st;
	struct ml_core *c;
	uintptr_t fake = 16;            /* the core never reads a buffer */
	long small = 0;

	cr_assert_eq(ml_core_new(&plain_alloc, 0, &c), 0);
	ml_sample_seed(&s, T, seed);
	for (long b = 0; b < BIG; b++) {
		size_t sizes[1 + SMALL / BIG + 1];
		int n = 0;
		sizes[n++] = 4096;
		for (long due = (b + 1) * SMALL / BIG; small < due; small++)
			sizes[n++] = 32;
		for (int i = 0; i < n; i++) {
			memlease_t h;
			bool wake;
			if (!ml_sample_take(&s, T, sizes[i]))
				continue;
			cr_assert_eq(ml_core_add_sampled(c, 0, (void *)fake,
			    sizes[i], 0, 1, 0, 1, NULL, T, &h, &wake), 0);
			fake += 16;
		}
	}
	ml_core_stats(c, &st);
	*bytes = (double)st.estimated_bytes;
	*count = (double)st.estimated_leases;
	*picked = st.sampled;
	cr_assert_eq(st.sampled, st.live_leases);
	ml_core_free(c, NULL);
}

Test(sample, weights_are_size_over_the_probability_of_a_pick)
{
	double p = -expm1(-4096.0 / 65536);

	cr_assert_float_eq(ml_sample_bytes(4096, 65536), 4096 / p, 1e-6);
	cr_assert_float_eq(ml_sample_count(4096, 65536), 1 / p, 1e-9);
	/* far above the mean: always picked, stands for itself */
	cr_assert_float_eq(ml_sample_bytes(1 << 30, 65536), 1 << 30, 1e-3);
	cr_assert_float_eq(ml_sample_count(1 << 30, 65536), 1, 1e-9);
	/* far below: stands for about mean / size blocks */
	cr_assert(fabs(ml_sample_count(1, 65536) - 65536.5) < 0.01);
	/* not sampled: itself */
	cr_assert_float_eq(ml_sample_bytes(100, 0), 100, 1e-9);
	cr_assert_float_eq(ml_sample_count(100, 0), 1, 1e-9);
}

Test(sample, the_countdown_picks_one_allocation_per_mean_bytes)
{
	struct ml_sampler s = { 0 };
	long picked = 0, n = 4000000;

	ml_sample_seed(&s, 1000, 7);
	for (long i = 0; i < n; i++)
		picked += ml_sample_take(&s, 1000, 1);
	/* 4,000 expected, Poisson: standard deviation 63 */
	cr_assert(labs(picked - n / 1000) < 4 * 63, "%ld picked", picked);
	for (long i = 0; i < 100000; i++)
		cr_assert(!ml_sample_take(&s, 1000, 0), "a 0-byte pick");
}

Test(sample, a_known_pattern_within_three_deviations, .timeout = 60)
{
	double sb = sd_bytes(), sc = sd_count(), mb = 0, mc = 0;
	const int seeds = 20;

	cr_assert(fabs(sb - 2.167e6) < 0.01e6, "%f", sb);
	cr_assert(fabs(sc - 45250) < 100, "%f", sc);
	for (int k = 1; k <= seeds; k++) {
		double b, c;
		uint64_t picked;
		estimate((uint64_t)k * 0x9e3779b97f4a7c15u, &b, &c, &picked);
		cr_log_info("seed %d: %" PRIu64 " picked, %.0f bytes (%+.2f "
		    "sd), %.0f blocks (%+.2f sd)", k, picked, b,
		    (b - BYTES) / sb, c, (c - COUNT) / sc);
		cr_assert(fabs(b - BYTES) <= 3 * sb, "seed %d: %.0f bytes, not "
		    "%.0f within %.0f", k, b, BYTES, 3 * sb);
		cr_assert(fabs(c - COUNT) <= 3 * sc, "seed %d: %.0f blocks", k,
		    c);
		/* 606 + 488 picks expected, sd 33 */
		cr_assert(picked > 1094 - 4 * 33 && picked < 1094 + 4 * 33,
		    "seed %d: %" PRIu64 " picked", k, picked);
		mb += b / seeds;
		mc += c / seeds;
	}
	/* unbiased: the mean of the estimates is nearer still */
	cr_assert(fabs(mb - BYTES) <= 3 * sb / sqrt(seeds), "mean %.0f", mb);
	cr_assert(fabs(mc - COUNT) <= 3 * sc / sqrt(seeds), "mean %.0f", mc);
}

Test(sample, the_real_random_source_within_five_deviations)
{
	uint64_t seed, picked;
	double b, c;

	cr_assert_eq(getrandom(&seed, sizeof seed, 0), sizeof seed);
	estimate(seed, &b, &c, &picked);
	cr_assert(fabs(b - BYTES) <= 5 * sd_bytes(), "seed %#" PRIx64 ": %.0f "
	    "bytes", seed, b);
	cr_assert(fabs(c - COUNT) <= 5 * sd_count(), "seed %#" PRIx64 ": %.0f "
	    "blocks", seed, c);
}

Test(sample, ended_moved_and_relabelled_leases_keep_the_estimates_right)
{
	struct memlease_stats st;
	struct ml_info in;
	struct ml_core *c;
	memlease_t a, b, d;
	bool wake;

	cr_assert_eq(ml_core_new(&plain_alloc, 0, &c), 0);
	cr_assert_eq(ml_core_add_sampled(c, 0, (void *)16, 32, 0, 1, 3, 1,
	    NULL, T, &a, &wake), 0);
	cr_assert_eq(ml_core_add_sampled(c, 0, (void *)32, 4096, 0, 1, 3, 1,
	    "lbl", T, &b, &wake), 0);
	cr_assert_eq(ml_core_add(c, 0, (void *)48, 100, 0, 1, 3, 1, &d,
	    &wake), 0);
	ml_core_stats(c, &st);
	cr_assert_eq(st.sampled, 2);
	cr_assert_eq(st.live_bytes, 32 + 4096 + 100);
	cr_assert_eq(st.estimated_bytes, (uint64_t)llround(
	    ml_sample_bytes(32, T)) + (uint64_t)llround(ml_sample_bytes(4096,
	    T)) + 100);
	cr_assert_eq(st.estimated_leases, (uint64_t)llround(ml_sample_count(
	    32, T) + ml_sample_count(4096, T)) + 1);
	/* a listing gives each lease's weight: its sample */
	cr_assert_eq(ml_core_info(c, b, &in), 0);
	cr_assert_eq(in.sample, T);
	cr_assert_str_eq(in.label, "lbl");
	cr_assert_eq(in.stack, 3);
	cr_assert_eq(ml_core_info(c, d, &in), 0);
	cr_assert_eq(in.sample, 0);
	/* a label set or taken away keeps the sample */
	cr_assert_eq(ml_core_set_label(c, a, "x"), 0);
	cr_assert_eq(ml_core_set_label(c, b, NULL), 0);
	cr_assert_eq(ml_core_info(c, a, &in), 0);
	cr_assert_eq(in.sample, T);
	cr_assert_eq(ml_core_info(c, b, &in), 0);
	cr_assert_eq(in.sample, T);
	cr_assert_str_eq(in.label, "");
	/* realloc: weighed at its new size */
	cr_assert_eq(ml_core_move(c, a, (void *)64, 8192), 0);
	ml_core_stats(c, &st);
	cr_assert_eq(st.estimated_bytes, (uint64_t)llround(
	    ml_sample_bytes(8192, T)) + (uint64_t)llround(ml_sample_bytes(4096,
	    T)) + 100);
	/* ended: out of the estimates, which are exact again */
	struct ml_ended e;
	cr_assert_eq(ml_core_release(c, a, &e), 1, "ended");
	cr_assert_geq(ml_core_end(c, b, &e), 0);
	ml_core_stats(c, &st);
	cr_assert_eq(st.sampled, 0);
	cr_assert_eq(st.estimated_bytes, 100);
	cr_assert_eq(st.estimated_leases, 1);
	cr_assert_eq(ml_core_add_sampled(c, 0, (void *)16, 32, 0, 1, 3, 1,
	    NULL, ML_SAMPLE_MAX + 1, &a, &wake), -EINVAL);
	ml_core_free(c, NULL);
}
