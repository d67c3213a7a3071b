/*
 * test_bitmap.c - the core's hierarchical bitmap (src/bitmap.h): the
 * lowest set bit found at any size, also after it grew past the levels
 * its sets and clears kept.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "bitmap.h"
#include "core.h"

static void *
std_realloc(void *p, size_t n)
{
	return realloc(p, n);
}

static const struct ml_alloc std_alloc = { std_realloc, free };
static struct ml_bitmap bm;

static void
setup(void)
{
	memset(&bm, 0, sizeof bm);
}

static void
teardown(void)
{
	ml_bitmap_fini(&bm, &std_alloc);
}

TestSuite(bitmap, .init = setup, .fini = teardown);

static void
reserve(uint32_t nbits)
{
	cr_assert_eq(ml_bitmap_reserve(&bm, nbits, &std_alloc), 0);
}

Test(bitmap, empty_has_no_first)
{
	cr_assert_eq(ml_bitmap_first(&bm), UINT32_MAX, "never reserved");
	reserve(100);
	cr_assert_eq(ml_bitmap_first(&bm), UINT32_MAX);
}

/* Bits set and cleared while the bitmap had one level of use are found
 * once it has two, then three: the levels above are made to agree. */
Test(bitmap, bits_set_before_it_grows_are_found_after)
{
	reserve(64);
	ml_bitmap_set(&bm, 40);
	ml_bitmap_set(&bm, 5);
	ml_bitmap_clear(&bm, 5);
	cr_assert_eq(ml_bitmap_first(&bm), 40);
	reserve(64 * 64 + 1);                   /* a second level in use */
	cr_assert_eq(bm.top, 2);
	cr_assert_eq(ml_bitmap_first(&bm), 40);
	ml_bitmap_clear(&bm, 40);
	cr_assert_eq(ml_bitmap_first(&bm), UINT32_MAX);
	ml_bitmap_set(&bm, 64 * 64);
	ml_bitmap_set(&bm, 3000);
	reserve(64 * 64 * 64 + 1);              /* and a third */
	cr_assert_eq(ml_bitmap_first(&bm), 3000);
	ml_bitmap_clear(&bm, 3000);
	cr_assert_eq(ml_bitmap_first(&bm), 64 * 64);
	ml_bitmap_clear(&bm, 64 * 64);
	cr_assert_eq(ml_bitmap_first(&bm), UINT32_MAX);
}

/* Random sets, clears and growth against a plain array of bools. */
Test(bitmap, first_agrees_with_a_model)
{
	enum { MAX = 300000 };
	static bool model[MAX];
	uint32_t cap = 1;

	srand(5);
	reserve(cap);
	for (int step = 0; step < 200000; step++) {
		int op = rand() % 100;
		if (op == 0 && cap < MAX) {
			cap = cap * 4 < MAX ? cap * 4 : MAX;
			reserve(cap);
			continue;
		}
		/* mostly near the lowest set bit, where the search looks */
		uint32_t i = (uint32_t)rand() % (op < 50 ? (cap < 70 ? cap :
		    70) : cap);
		if (op % 2 == 0) {
			ml_bitmap_set(&bm, i);
			model[i] = true;
		} else {
			ml_bitmap_clear(&bm, i);
			model[i] = false;
		}
		uint32_t want = UINT32_MAX;
		for (uint32_t j = 0; j < cap && want == UINT32_MAX; j++)
			if (model[j])
				want = j;
		cr_assert_eq(ml_bitmap_first(&bm), want, "step %d, %u bits",
		    step, cap);
	}
}
