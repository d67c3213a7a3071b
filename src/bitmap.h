/*
 * bitmap.h - a growable hierarchical bitmap with find-first-set.
 *
 * Level 0 has one bit per item; each level above has one bit per word of
 * the level below, set when that word is not zero.  Finding the lowest set
 * bit reads one word per level: O(1) for any practical size (five levels
 * cover 2^30 items).  Not thread-safe: the owner locks.
 */
#ifndef ML_BITMAP_H
#define ML_BITMAP_H

#include <stdint.h>

#define ML_BITMAP_LEVELS 5

struct ml_bitmap {
	uint64_t *lv[ML_BITMAP_LEVELS];
	uint32_t  nwords[ML_BITMAP_LEVELS];
	uint32_t  cap;      /* bits of level 0 */
	int       top;      /* the lowest level of one word: searches start
	                     * there (levels above it are made to agree when
	                     * it rises: bitmap.c) */
};

struct ml_alloc;

int      ml_bitmap_reserve(struct ml_bitmap *b, uint32_t nbits,
             const struct ml_alloc *a);
void     ml_bitmap_fini(struct ml_bitmap *b, const struct ml_alloc *a);
void     ml_bitmap_set(struct ml_bitmap *b, uint32_t i);
void     ml_bitmap_clear(struct ml_bitmap *b, uint32_t i);
size_t   ml_bitmap_bytes(const struct ml_bitmap *b);

/* The lowest set bit, UINT32_MAX: none.  Inline: the core asks at every
 * new lease. */
static inline uint32_t
ml_bitmap_first(const struct ml_bitmap *b)
{
	int top = b->top;
	uint32_t i = 0;

	if (b->lv[top] == NULL)
		return UINT32_MAX;
	for (int l = top; l >= 0; l--) {
		uint64_t w = b->lv[l][i];
		if (w == 0)
			return UINT32_MAX;
		i = i * 64 + (uint32_t)__builtin_ctzll(w);
	}
	return i;
}

#endif /* ML_BITMAP_H */
