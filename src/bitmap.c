/*
 * bitmap.c - hierarchical bitmap (see bitmap.h).  Owns nothing but its
 * level arrays; never locks.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "bitmap.h"
#include "alloc.h"

static uint32_t
words_for(uint32_t bits)
{
	return (bits + 63) / 64;
}

/* Level l made to agree with level l - 1. */
static void
agree(struct ml_bitmap *b, int l)
{
	memset(b->lv[l], 0, b->nwords[l] * sizeof *b->lv[l]);
	for (uint32_t j = 0; j < b->nwords[l - 1]; j++)
		if (b->lv[l - 1][j] != 0)
			b->lv[l][j / 64] |= UINT64_C(1) << (j % 64);
}

/* Make room for nbits items at least; new bits are clear. */
int
ml_bitmap_reserve(struct ml_bitmap *b, uint32_t nbits,
    const struct ml_alloc *a)
{
	uint32_t bits = nbits;

	if (nbits <= b->cap)
		return 0;
	for (int l = 0; l < ML_BITMAP_LEVELS; l++) {
		uint32_t need = words_for(bits);
		if (l == ML_BITMAP_LEVELS - 1 && need > 1)
			return -ENOMEM;   /* 2^30 items: more than a table holds */
		if (need > b->nwords[l]) {
			uint64_t *p = a->realloc_fn(b->lv[l], need * sizeof *p);
			if (p == NULL)
				return -ENOMEM;
			memset(p + b->nwords[l], 0,
			    (need - b->nwords[l]) * sizeof *p);
			b->lv[l] = p;
			b->nwords[l] = need;
		}
		bits = need;
	}
	b->cap = nbits;
	int was = b->top;
	for (b->top = 0; b->top < ML_BITMAP_LEVELS - 1 &&
	    b->nwords[b->top] > 1; b->top++)
		;
	for (int l = was + 1; l <= b->top; l++)  /* see ml_bitmap_set() */
		agree(b, l);
	return 0;
}

void
ml_bitmap_fini(struct ml_bitmap *b, const struct ml_alloc *a)
{
	for (int l = 0; l < ML_BITMAP_LEVELS; l++)
		if (b->lv[l] != NULL)
			a->free_fn(b->lv[l]);
	memset(b, 0, sizeof *b);
}

/*
 * Set and clear keep the levels up to top only: searches start there, and
 * a bitmap of a few words (the blocks of a few thousand leases) would
 * otherwise walk all five levels each time its last free block fills or
 * gets a slot back.  The levels above top are made to agree when it rises
 * (ml_bitmap_reserve()).
 */
void
ml_bitmap_set(struct ml_bitmap *b, uint32_t i)
{
	for (int l = 0; l <= b->top && b->lv[l] != NULL; l++) {
		uint64_t *w = &b->lv[l][i / 64];
		bool was_zero = *w == 0;

		*w |= UINT64_C(1) << (i % 64);
		if (!was_zero)
			break;
		i /= 64;
	}
}

void
ml_bitmap_clear(struct ml_bitmap *b, uint32_t i)
{
	for (int l = 0; l <= b->top && b->lv[l] != NULL; l++) {
		uint64_t *w = &b->lv[l][i / 64];

		*w &= ~(UINT64_C(1) << (i % 64));
		if (*w != 0)
			break;
		i /= 64;
	}
}

size_t
ml_bitmap_bytes(const struct ml_bitmap *b)
{
	size_t n = 0;

	for (int l = 0; l < ML_BITMAP_LEVELS; l++)
		n += b->nwords[l] * sizeof(uint64_t);
	return n;
}
