/*
 * table.c - the core's entry table: entry blocks, their slots, and the
 * handles that name them (core-private.h: struct ml_block, ml_table_*).
 *
 * Entry blocks, as designed in the original: the first block is static;
 * a new block is made when every block is full; when the most recently made
 * dynamic block becomes empty it is freed, and so is each block before it
 * that is empty and becomes the last.  One of them is kept, empty, as the
 * spare (SPEC, "Entry blocks"): the next block made is the spare, so a
 * lease count that hovers at a block boundary allocates nothing after the
 * first time; the spare is freed when another block empties (never more
 * than one empty block held) and by memlease_trim().  Blocks are a prefix [0, nblocks) of
 * the directory, so a handle's entry is dir[idx / N]->e[idx % N]: O(1).
 * New leases go to the lowest block with a free slot (c->low, else the
 * bitmap of blocks with room), so that the last blocks drain and can be
 * freed.
 *
 * A handle is (generation << 32) | (index + 1).  A slot's generation moves
 * on when its lease ends; a freed block leaves its highest generation
 * (kept as slots end, not searched for) in dir_gen, and a block re-created
 * at that index starts its slots from there, so a handle never names a
 * later lease.  A block reuses its freed slots first, then hands out its
 * never-used ones in order; a slot is written only once handed out, so a
 * block is made in O(1), and lookups ignore the slots not yet handed out.
 * A slot whose generation would wrap is retired (kept busy for good): one
 * slot per 2^32 leases in it.
 *
 * The fast path (a lookup, a slot taken and given back) is inline in
 * core-private.h: a few loads and stores, no loop but the bitmap's walk
 * when the lowest block with room is not known.  Here: making and freeing
 * blocks, which call the core's allocator.  Every function expects the
 * core's lock held (or the core not yet shared); none knows of deadlines.
 */
#include <errno.h>
#include <string.h>

#include "core-private.h"

static void
block_init(struct ml_block *b, uint32_t gen)
{
	b->used = 0;
	b->free_head = 0;
	b->fresh = 0;
	b->max_gen = gen;
}

/* The directory, with the static block in it. */
int
ml_table_init(struct ml_core *c)
{
	c->dircap = 16;
	c->dir = c->a.realloc_fn(NULL, c->dircap * sizeof *c->dir);
	c->dir_gen = c->a.realloc_fn(NULL, c->dircap * sizeof *c->dir_gen);
	if (c->dir == NULL || c->dir_gen == NULL ||
	    ml_bitmap_reserve(&c->nonfull, c->dircap, &c->a) != 0)
		return -ENOMEM;
	memset(c->dir_gen, 0, c->dircap * sizeof *c->dir_gen);
	block_init(&c->first, 0);
	c->dir[0] = &c->first;
	c->nblocks = 1;
	ml_bitmap_set(&c->nonfull, 0);
	c->low = 0;
	c->low_b = &c->first;
	return 0;
}

/* Free the blocks and the directory; live buffers go to free_buf when it
 * is not NULL. */
void
ml_table_fini(struct ml_core *c, void (*free_buf)(void *, unsigned))
{
	for (uint32_t i = 0; c->dir != NULL && i < c->nblocks; i++) {
		struct ml_block *b = c->dir[i];
		for (uint32_t s = 0; free_buf != NULL && s < b->fresh; s++)
			if (b->e[s].buf != NULL)
				free_buf(b->e[s].buf, b->e[s].kind);
		if (b != &c->first)
			c->a.free_fn(b);
	}
	ml_table_free_spare(c);
	ml_core_free_if(c, c->dir);
	ml_core_free_if(c, c->dir_gen);
	ml_bitmap_fini(&c->nonfull, &c->a);
	c->dir = NULL;
	c->dir_gen = NULL;
	c->nblocks = 0;
}

/* Make block nblocks; the directory and bitmap grow as needed. */
int
ml_table_block_new(struct ml_core *c)
{
	uint32_t i = c->nblocks;

	if ((uint64_t)(i + 1) * ML_PER_BLOCK >= UINT32_MAX)
		return -ENOMEM;
	if (i == c->dircap) {
		uint32_t cap = c->dircap * 2;
		struct ml_block **d = c->a.realloc_fn(c->dir, cap * sizeof *d);
		if (d == NULL)
			return -ENOMEM;
		c->dir = d;
		uint32_t *g = c->a.realloc_fn(c->dir_gen, cap * sizeof *g);
		if (g == NULL)
			return -ENOMEM;
		memset(g + c->dircap, 0, (cap - c->dircap) * sizeof *g);
		c->dir_gen = g;
		c->dircap = cap;
	}
	if (ml_bitmap_reserve(&c->nonfull, i + 1, &c->a) != 0)
		return -ENOMEM;
	struct ml_block *b = c->spare;
	if (b != NULL)
		c->spare = NULL;
	else if ((b = c->a.realloc_fn(NULL, sizeof *b)) == NULL)
		return -ENOMEM;
	block_init(b, c->dir_gen[i]);
	c->dir[i] = b;
	c->nblocks++;
	ml_bitmap_set(&c->nonfull, i);
	c->low = i;     /* made when no block had room */
	c->low_b = b;
	return 0;
}

/* Take the trailing empty dynamic blocks out of the table; the last one
 * taken is kept as the spare, in place of the spare before it. */
void
ml_table_trim(struct ml_core *c)
{
	while (c->nblocks > 1 && c->dir[c->nblocks - 1]->used == 0) {
		uint32_t i = c->nblocks - 1;
		struct ml_block *b = c->dir[i];

		c->dir_gen[i] = b->max_gen;
		c->dir[i] = NULL;       /* its bit in nonfull stays: see there */
		c->nblocks--;           /* low == i: now nblocks, as it should */
		if (c->low_b == b)
			c->low_b = NULL;
		ml_table_free_spare(c);
		c->spare = b;
	}
}

/* Free the spare block, if one is kept: how many were freed (0 or 1). */
int
ml_table_free_spare(struct ml_core *c)
{
	if (c->spare == NULL)
		return 0;
	c->a.free_fn(c->spare);
	c->spare = NULL;
	return 1;
}

/* The table's memory beyond the core itself (its static block is in it). */
size_t
ml_table_bytes(const struct ml_core *c)
{
	return (size_t)(c->nblocks - 1 + (c->spare != NULL)) *
	    sizeof(struct ml_block) +
	    (size_t)c->dircap * (sizeof *c->dir + sizeof *c->dir_gen) +
	    ml_bitmap_bytes(&c->nonfull);
}
