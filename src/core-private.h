/*
 * core-private.h - the core's insides, for src/ and the core's own tests
 * only: the preload, the CLI and the benchmarks see core.h, where a core is
 * a pointer (tests/layers.sh checks it).
 *
 * The types first (an entry, an entry block, a deadline class, the core),
 * then, one section a file, what the core's three files give each other:
 *   table.c  the entry table: blocks, slots, handles and their generations
 *   queue.c  the deadline queue: the heaps, the deadline classes, rings
 *   core.c   the operations (ml_core_*), the lock, the stats
 * A module's fast path is here, static inline: a lease made and released
 * crosses all three files, and is made of few enough instructions that a
 * call at each crossing would show in bench/core.  What is out of line
 * stays in its file.  Nothing here allocates but through the core's
 * allocator, and nothing here may call out of the core otherwise.
 *
 * Everything here expects the core's lock held, except the init and fini
 * functions, called while no other thread can see the core.
 */
#ifndef ML_CORE_PRIVATE_H
#define ML_CORE_PRIVATE_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "bitmap.h"
#include "core.h"
#include "labels.h"
#include "wordlock.h"

/* The types. */

/*
 * One lease, 40 bytes: with the 4 bytes of its slot in the deadline heap or
 * in its class's ring, the table spends about 45 bytes a lease.  Times are
 * ms since the core's epoch.  A slot is free when buf is NULL.  `origin`
 * is a stack id below ML_LABELED, else a labelled origin (labels.h).
 * `kind` is the caller's: 3 bits it gives a lease and gets back with it
 * (what the buffer is, how to end it).
 */
struct ml_entry {
	void     *buf;
	union {
		struct {
			uint64_t size : 44, pins : 16, report : 1,
			         overdue : 1, zombie : 1,
			         ringed : 1;  /* its deadline is in a ring */
		};
		uint64_t w_size;
	};
	union {
		struct {
			uint64_t deadline : 40, releases : 21, kind : 3;
		};
		uint64_t w_deadline;
	};
	union {
		struct {
			uint64_t born : 40, origin : 24;
		};
		uint64_t w_born;
	};
	uint32_t  gen;
	uint32_t  pos;  /* live: heap index + 1 (0: none), or if ringed its
	                 * sequence number in the ring; free: next free */
};
_Static_assert(sizeof(struct ml_entry) == 40, "an entry is 40 bytes");

/*
 * The words of a new entry, made whole in registers and stored as such.
 * Bit-fields stored one by one are stored in parts of their word, and a
 * read of the whole word soon after (the deadline, as the lease is queued)
 * then waits for the store buffer to drain.  Bit-fields are laid out from
 * the least significant bit on x86-64 and every other ABI of GCC and
 * Clang for little-endian targets; the core's tests check it.
 */
#define ML_W_SIZE(size, report, ringed) \
	((uint64_t)(size) | (uint64_t)(report) << 60 | (uint64_t)(ringed) << 63)
#define ML_W_DEADLINE(deadline, releases, kind) \
	((uint64_t)(deadline) | (uint64_t)(releases) << 40 | \
	 (uint64_t)(kind) << 61)
#define ML_W_BORN(born, origin) \
	((uint64_t)(born) | (uint64_t)(origin) << 40)

/* Slots [fresh, ML_PER_BLOCK) were never used: their memory is left as
 * the allocator gave it, so that making a block costs no more than its
 * allocation (at a block boundary, one lease can make and free a block). */
struct ml_block {
	uint32_t        used;       /* live (or zombie) entries */
	uint32_t        free_head;  /* first free used-before slot + 1, 0: none */
	uint32_t        fresh;      /* slots below it have been used */
	uint32_t        max_gen;    /* the highest generation of any slot */
	struct ml_entry e[ML_PER_BLOCK];
};

/*
 * A deadline class: the leases whose deadline is their birth plus one same
 * ttl.  Made at a clock that does not go back, such leases come in deadline
 * order, so a ring in the order they came (a FIFO) keeps them sorted: O(1)
 * in and out, without the heap's compares on other leases.  A lease that
 * left early leaves a gap, skipped at the ends and squeezed out when the
 * ring is full.  The heap keeps the rest: a lease that finds it empty
 * (alone there, it costs least), and leases of a ttl that found no class
 * (ML_CLASSES at most, for as many ttls), that came out of order (another
 * thread's earlier clock), whose ring could not grow, or whose deadline
 * was cut to ML_TIME_MAX.
 */
#define ML_CLASSES 1024

struct ml_class {
	uint64_t  key;     /* deadline - born of its leases */
	uint64_t  first;   /* the deadline at the head, if not empty */
	uint64_t  last;    /* the deadline at the tail */
	uint32_t *ring;    /* entry indices, or ML_RING_GAP */
	uint32_t  cap;     /* a power of two, or 0 */
	uint32_t  head;    /* sequence number of the first (seq is at */
	uint32_t  tail;    /* ring[seq & (cap-1)]); one past the last; */
	                   /* neither end is a gap */
	uint32_t  count;   /* leases in the ring */
	uint64_t  hkey;    /* its key in cheap: at most first (queue.c) */
	uint32_t  hpos;    /* in cheap: index + 1; 0: not in it */
};

#define ML_RING_GAP UINT32_MAX

struct ml_core {
	struct ml_wordlock lock;
	struct ml_alloc  a;
	uint64_t         epoch;    /* the `now` of ml_core_init */

	/* the entry table (table.c) */
	struct ml_block **dir;     /* block i is dir[i]; dir[0] is &first */
	uint32_t        *dir_gen;  /* generation block i's slots start at */
	uint32_t         nblocks;  /* blocks [0, nblocks) exist */
	uint32_t         dircap;
	struct ml_bitmap nonfull;  /* blocks with a free slot; the bits of
	                            * blocks freed, from nblocks on, say
	                            * nothing (a block made and freed at each
	                            * lease, at a boundary, would walk its
	                            * levels up and down twice) */
	uint32_t         low;      /* no block below it has a free slot;
	                            * nblocks: none has (the block made next
	                            * will) */
	struct ml_block *low_b;    /* block low, if it has one; NULL: not
	                            * known (ask nonfull) */
	struct ml_block *spare;    /* an empty dynamic block kept for the
	                            * next one made, or NULL: at most one */

	/* the deadline queue (queue.c) */
	uint32_t        *heap;     /* entry indices, earliest deadline first */
	uint32_t         nheap;
	uint32_t         heapcap;
	struct ml_class *cls;      /* deadline classes: [0, nclasses) in use */
	uint32_t         nclasses;
	uint32_t         clscap;   /* at most ML_CLASSES */
	uint32_t        *chash;    /* their index by key (queue.c) */
	uint32_t         chint;    /* the class last found */
	uint32_t        *cheap;    /* those not empty, earliest first, kept
	                            * lazily (queue.c: ml_queue_cheap_fix) */
	uint32_t         ncheap;
	uint32_t         nbusy;    /* classes not empty */
	uint64_t         nringed;  /* leases in the classes' rings */
	uint64_t         told;     /* the expiring thread looks again by then
	                            * (ml_core_arm); an earlier new deadline
	                            * wakes it */

	struct ml_labels labels;

	uint64_t         live, live_bytes, allocated, released, expired;
	uint64_t         pinned, overdue;
	uint64_t         live_kind[ML_KIND_MAX + 1];   /* live leases a kind */
	/* live leases chosen by byte sampling (sample.h): how many, their
	 * bytes, and the sums of their weights (bytes; allocations in
	 * ML_SAMPLE_ONE ths) */
	uint64_t         sampled, sampled_bytes, est_bytes, est_count;

	struct ml_block  first;    /* the static block */
};

/* core.c: a core in memory of the caller's (ml_core_new() allocates it);
 * the tests of the core keep theirs in a static. */

int   ml_core_init(struct ml_core *c, const struct ml_alloc *a, uint64_t now);
void  ml_core_fini(struct ml_core *c, void (*free_buf)(void *, unsigned kind));

/* The core's own memory back to its allocator. */
static inline void
ml_core_free_if(struct ml_core *c, void *p)
{
	if (p != NULL)
		c->a.free_fn(p);
}

/* table.c: the entry table.  A handle is (generation << 32) | (index + 1);
 * entry idx is dir[idx / ML_PER_BLOCK]->e[idx % ML_PER_BLOCK]. */

#define ML_GEN_RETIRED UINT32_MAX

int    ml_table_init(struct ml_core *c);
void   ml_table_fini(struct ml_core *c, void (*free_buf)(void *, unsigned));
int    ml_table_block_new(struct ml_core *c);
void   ml_table_trim(struct ml_core *c);
int    ml_table_free_spare(struct ml_core *c);
size_t ml_table_bytes(const struct ml_core *c);

/* The block of entry idx. */
static inline struct ml_block *
ml_table_block(const struct ml_core *c, uint32_t idx)
{
	return c->dir[idx / ML_PER_BLOCK];
}

static inline struct ml_entry *
ml_table_entry(const struct ml_core *c, uint32_t idx)
{
	return &ml_table_block(c, idx)->e[idx % ML_PER_BLOCK];
}

static inline memlease_t
ml_table_handle(uint32_t idx, uint32_t gen)
{
	return (uint64_t)gen << 32 | (uint64_t)(idx + 1);
}

/* The live entry a handle names, or NULL.  Zombies (released while pinned)
 * are found only when `zombie_ok`. */
static inline __attribute__((always_inline)) struct ml_entry *
ml_table_lookup(const struct ml_core *c, memlease_t h, uint32_t *idxp,
    bool zombie_ok)
{
	uint32_t low = (uint32_t)h;
	uint32_t idx = low - 1;

	if (low == 0 || idx / ML_PER_BLOCK >= c->nblocks)
		return NULL;
	const struct ml_block *b = ml_table_block(c, idx);
	if (idx % ML_PER_BLOCK >= b->fresh)
		return NULL;     /* never used: its memory is not an entry */
	struct ml_entry *e = ml_table_entry(c, idx);
	if (e->buf == NULL || e->gen != (uint32_t)(h >> 32))
		return NULL;
	if (e->zombie && !zombie_ok)
		return NULL;
	if (idxp != NULL)
		*idxp = idx;
	return e;
}

/* The slot at idx holds a live entry (or a zombie). */
static inline bool
ml_table_live(const struct ml_core *c, uint32_t idx)
{
	return idx % ML_PER_BLOCK < ml_table_block(c, idx)->fresh &&
	    ml_table_entry(c, idx)->buf != NULL;
}

/* A free slot for a new lease, in the lowest block with one, a block made
 * if none has: its entry, zeroed but for its generation, and its index in
 * *idxp.  NULL: no block could be made (out of memory), nothing changed. */
static inline __attribute__((always_inline)) struct ml_entry *
ml_table_take(struct ml_core *c, uint32_t *idxp)
{
	uint32_t bi = c->low, s;

	if (c->low_b == NULL && bi < c->nblocks &&
	    (bi = ml_bitmap_first(&c->nonfull)) < c->nblocks) {
		c->low = bi;
		c->low_b = c->dir[bi];
	}
	if (bi >= c->nblocks) {         /* UINT32_MAX too */
		if (ml_table_block_new(c) != 0)
			return NULL;
		bi = c->nblocks - 1;
	}
	struct ml_block *b = c->low_b;
	if (b->free_head != 0) {
		s = b->free_head - 1;
		b->free_head = b->e[s].pos;
		b->e[s].pos = 0;
	} else {
		s = b->fresh++;
		memset(&b->e[s], 0, sizeof b->e[s]);
		b->e[s].gen = c->dir_gen[bi];
	}
	b->used++;
	if (b->free_head == 0 && b->fresh == ML_PER_BLOCK) {
		ml_bitmap_clear(&c->nonfull, bi);
		c->low = bi + 1;        /* those up to it are full */
		c->low_b = NULL;
	}
	*idxp = bi * ML_PER_BLOCK + s;
	return &b->e[s];
}

/* Entry e, at idx in block b, its lease ended and out of the queue, goes
 * back to its block under its next generation; the trailing empty blocks
 * are freed.  The caller names the block as it reads the entry, before it
 * calls out: read again here, after the calls, it would cost the release
 * two dependent loads. */
static inline __attribute__((always_inline)) void
ml_table_give(struct ml_core *c, struct ml_block *b, uint32_t idx,
    struct ml_entry *e)
{
	uint32_t bi = idx / ML_PER_BLOCK;
	uint32_t gen = e->gen + 1;

	memset(e, 0, sizeof *e);
	e->gen = gen;
	if (gen > b->max_gen)
		b->max_gen = gen;
	if (gen == ML_GEN_RETIRED)
		return;
	e->pos = b->free_head;
	if (b->free_head == 0 && b->fresh == ML_PER_BLOCK) {
		ml_bitmap_set(&c->nonfull, bi);
		if (bi <= c->low) {     /* == : block low was full */
			c->low = bi;
			c->low_b = b;
		}
	}
	b->free_head = idx % ML_PER_BLOCK + 1;
	if (--b->used == 0 && bi != 0 && bi == c->nblocks - 1)
		ml_table_trim(c);       /* the static block stays */
}

/* queue.c: the deadline queue.  A queued entry is in the deadline heap
 * (pos: its index + 1) or in the ring of its class (ringed; pos: its
 * sequence number there). */

int      ml_queue_heap_grow(struct ml_core *c);
void     ml_queue_heap_sift_in(struct ml_core *c, uint32_t idx,
             uint64_t deadline);
void     ml_queue_heap_fill(struct ml_core *c, uint32_t i);
struct ml_class *ml_queue_class_search(struct ml_core *c, uint64_t key);
struct ml_class *ml_queue_class_new(struct ml_core *c, uint64_t key);
int      ml_queue_ring_room(struct ml_core *c, struct ml_class *k);
void     ml_queue_cheap_fix(struct ml_core *c, uint32_t ci);
uint32_t ml_queue_first(struct ml_core *c, uint64_t *dp);
void     ml_queue_fini(struct ml_core *c);
size_t   ml_queue_bytes(const struct ml_core *c);

static inline uint32_t
ml_queue_ring_at(const struct ml_class *k, uint32_t seq)
{
	return k->ring[seq & (k->cap - 1)];
}

static inline bool
ml_queue_queued(const struct ml_entry *e)
{
	return e->ringed || e->pos != 0;
}

/*
 * Entry idx, of that deadline, into the deadline heap, and out of it.  A
 * lease alone there, the heap's first and last, comes and goes inline, as
 * at each lease made and ended while no other lease has a deadline (the
 * heap takes a lease when it is empty: ml_queue_prepare()); the others
 * are sifted out of line.
 */
static inline void
ml_queue_heap_insert(struct ml_core *c, uint32_t idx, uint64_t deadline)
{
	if (c->nheap != 0) {
		ml_queue_heap_sift_in(c, idx, deadline);
		return;
	}
	c->heap[c->nheap++] = idx;
	ml_table_entry(c, idx)->pos = 1;
}

static inline __attribute__((always_inline)) void
ml_queue_heap_remove(struct ml_core *c, struct ml_entry *e)
{
	uint32_t i = e->pos - 1;

	e->pos = 0;
	if (i != --c->nheap)
		ml_queue_heap_fill(c, i);
}

/* As ml_queue_class_search(), the class last found tried first, inline:
 * most leases are made and ended among few ttls. */
static inline __attribute__((always_inline)) struct ml_class *
ml_queue_class_find(struct ml_core *c, uint64_t key)
{
	if (c->chint < c->nclasses && c->cls[c->chint].key == key)
		return &c->cls[c->chint];
	return ml_queue_class_search(c, key);
}

/* Inline: a class emptied and filled again at each lease, still in cheap
 * under the same key, needs nothing there (ml_queue_cheap_fix). */
static inline __attribute__((always_inline)) void
ml_queue_cheap_update(struct ml_core *c, uint32_t ci)
{
	const struct ml_class *k = &c->cls[ci];

	if (k->hpos == 0 || k->first < k->hkey)
		ml_queue_cheap_fix(c, ci);
}

/*
 * Where a deadline made at born will go, room made: *kp gets its class,
 * or NULL for the heap.  Called before anything else changes, so that a
 * failure (-ENOMEM) changes nothing that can be seen; taking a lease out
 * of the queue in between leaves the room made.
 */
static inline int
ml_queue_prepare(struct ml_core *c, uint64_t born, uint64_t deadline,
    bool in_heap, struct ml_class **kp)
{
	*kp = NULL;
	if (deadline == ML_NO_DEADLINE)
		return 0;
	/* an empty heap takes it: alone there, it costs least; so does a
	 * heap with room when the ring has none to be had (out of memory) */
	if (c->nheap != 0 && deadline < ML_TIME_MAX) {
		struct ml_class *k = ml_queue_class_find(c, deadline - born);
		if (k == NULL)
			k = ml_queue_class_new(c, deadline - born);
		if (k != NULL && (k->count == 0 || k->last <= deadline) &&
		    (k->tail - k->head < k->cap ||
		    ml_queue_ring_room(c, k) == 0)) {
			*kp = k;
			return 0;
		}
	}
	if (in_heap || c->nheap < c->heapcap)
		return 0;
	return ml_queue_heap_grow(c);
}

/* Queue entry idx under its deadline (given, not read back from the entry
 * just written), where ml_queue_prepare() said; its ringed bit is already
 * set if k is not NULL (in a new entry, with the rest of its word: see
 * ML_W_SIZE()). */
static inline void
ml_queue_insert(struct ml_core *c, uint32_t idx, uint64_t deadline,
    struct ml_class *k)
{
	if (k == NULL) {
		ml_queue_heap_insert(c, idx, deadline);
		return;
	}
	uint32_t seq = k->tail++;
	k->ring[seq & (k->cap - 1)] = idx;
	ml_table_entry(c, idx)->pos = seq;
	k->last = deadline;
	c->nringed++;
	if (k->count++ == 0) {
		k->head = seq;
		k->first = deadline;
		c->nbusy++;
		ml_queue_cheap_update(c, (uint32_t)(k - c->cls));
	}
}

/* Take a queued entry out of its ring or the heap. */
static inline __attribute__((always_inline)) void
ml_queue_remove(struct ml_core *c, struct ml_entry *e)
{
	if (!e->ringed) {
		ml_queue_heap_remove(c, e);
		return;
	}
	struct ml_class *k = ml_queue_class_find(c, e->deadline - e->born);
	uint32_t seq = e->pos;

	k->ring[seq & (k->cap - 1)] = ML_RING_GAP;
	e->ringed = 0;
	e->pos = 0;
	c->nringed--;
	if (--k->count == 0) {          /* it may stay in cheap */
		k->head = k->tail;
		c->nbusy--;
		return;
	}
	if (seq == k->head) {           /* later: ml_queue_cheap_update() */
		while (ml_queue_ring_at(k, k->head) == ML_RING_GAP)
			k->head++;
		k->first = ml_table_entry(c,
		    ml_queue_ring_at(k, k->head))->deadline;
	}
	if (seq == k->tail - 1) {
		while (ml_queue_ring_at(k, k->tail - 1) == ML_RING_GAP)
			k->tail--;
		k->last = ml_table_entry(c,
		    ml_queue_ring_at(k, k->tail - 1))->deadline;
	}
}

#endif /* ML_CORE_PRIVATE_H */
