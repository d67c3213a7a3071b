/*
 * core.c - the lease table (see core.h).
 *
 * Entry blocks, as designed in the original: the first block is static;
 * a new block is made when every block is full; when the most recently made
 * dynamic block becomes empty it is freed, and so is each block before it
 * that is empty and becomes the last.  Blocks are a prefix [0, nblocks) of
 * the directory, so a handle's entry is dir[idx / N]->e[idx % N]: O(1).
 * New leases go to the lowest block with a free slot, so that the last
 * blocks drain and can be freed.
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
 * Deadlines live in an 8-ary min-heap of entry indices (O(log n) insert and
 * remove; the entry keeps its heap position) while it is small, then in the
 * rings of deadline classes (core.h: the leases of one ttl, O(1) in
 * and out, wherever the others are) and, for the rest, the heap again.  The
 * earliest deadline is the least of the heap's top and the first deadline
 * of the class on top of the classes' heap.
 *
 * Every function here takes c->lock, except the static helpers, which
 * expect it held.  Nothing here calls out with the lock held but the core's
 * allocator.
 */
#include <errno.h>
#include <stdatomic.h>
#include <string.h>

#include "core.h"
#include "wordlock.h"

#define GEN_RETIRED UINT32_MAX

static inline struct ml_entry *
entry_at(const struct ml_core *c, uint32_t idx)
{
	return &c->dir[idx / ML_PER_BLOCK]->e[idx % ML_PER_BLOCK];
}

static inline memlease_t
handle_of(uint32_t idx, uint32_t gen)
{
	return (uint64_t)gen << 32 | (uint64_t)(idx + 1);
}

static inline uint64_t
rel_time(const struct ml_core *c, uint64_t now)
{
	uint64_t t = now > c->epoch ? now - c->epoch : 0;

	return t < ML_TIME_MAX ? t : ML_TIME_MAX;
}

static inline uint64_t
abs_time(const struct ml_core *c, uint64_t t)
{
	return t == ML_NO_DEADLINE ? ML_NO_DEADLINE : t + c->epoch;
}

/* The core's own memory back to its allocator. */
static void
free_if(struct ml_core *c, void *p)
{
	if (p != NULL)
		c->a.free(p);
}

/* The live entry a handle names, or NULL.  Zombies (released while pinned)
 * are found only when `zombie_ok`. */
static inline __attribute__((always_inline)) struct ml_entry *
lookup(const struct ml_core *c, memlease_t h, uint32_t *idxp, bool zombie_ok)
{
	uint32_t low = (uint32_t)h;
	uint32_t idx = low - 1;

	if (low == 0 || idx / ML_PER_BLOCK >= c->nblocks)
		return NULL;
	const struct ml_block *b = c->dir[idx / ML_PER_BLOCK];
	if (idx % ML_PER_BLOCK >= b->fresh)
		return NULL;     /* never used: its memory is not an entry */
	struct ml_entry *e = entry_at(c, idx);
	if (e->buf == NULL || e->gen != (uint32_t)(h >> 32))
		return NULL;
	if (e->zombie && !zombie_ok)
		return NULL;
	if (idxp != NULL)
		*idxp = idx;
	return e;
}

/* The lock, counted in ml_core_depth from before it is taken until after
 * it is let go: a signal may come in the middle of either. */

__thread int ml_core_depth __attribute__((tls_model("initial-exec")));

static inline void
lock(struct ml_core *c)
{
	ml_core_depth++;
	atomic_signal_fence(memory_order_seq_cst);
	ml_wordlock_lock_lone(&c->lock);
	atomic_signal_fence(memory_order_seq_cst);
}

static inline void
unlock(struct ml_core *c)
{
	atomic_signal_fence(memory_order_seq_cst);
	ml_wordlock_unlock(&c->lock);
	atomic_signal_fence(memory_order_seq_cst);
	ml_core_depth--;
}

/*
 * Heaps.  Two share this code: the deadline heap (entry indices, by
 * deadline) and the classes' heap (class indices, by their first deadline;
 * see below).  A `struct heap_of` says how to read an item's key, where to
 * note its place (index + 1) and how to start fetching it; the functions
 * are inlined with it, so each heap gets code of its own.
 *
 * 8-ary: a third of the levels of a binary heap, and a node's children side
 * by side in the array.  In a large heap each level costs cache misses on
 * the items compared, fetched together, one level after the other, so
 * fewer levels is what counts.
 */
#define HEAP_D 8u

struct heap_of {
	uint64_t (*key)(const struct ml_core *c, uint32_t x);
	void     (*place)(struct ml_core *c, uint32_t x, uint32_t pos);
	void     (*fetch)(const struct ml_core *c, uint32_t x);
};

#define HEAP_INLINE static inline __attribute__((always_inline))

HEAP_INLINE void
heap_set(struct ml_core *c, uint32_t *a, uint32_t i, uint32_t x,
    const struct heap_of *of)
{
	a[i] = x;
	of->place(c, x, i + 1);
}

/* Item x, of that key, goes up from i. */
HEAP_INLINE void
sift_up_key(struct ml_core *c, uint32_t *a, uint32_t i, uint32_t x,
    uint64_t key, const struct heap_of *of)
{
	while (i > 0) {
		uint32_t parent = (i - 1) / HEAP_D;
		if (of->key(c, a[parent]) <= key)
			break;
		heap_set(c, a, i, a[parent], of);
		i = parent;
	}
	heap_set(c, a, i, x, of);
}

HEAP_INLINE void
sift_up(struct ml_core *c, uint32_t *a, uint32_t i, const struct heap_of *of)
{
	sift_up_key(c, a, i, a[i], of->key(c, a[i]), of);
}

HEAP_INLINE void
sift_down(struct ml_core *c, uint32_t *a, uint32_t n, uint32_t i,
    const struct heap_of *of)
{
	uint32_t x = a[i];
	uint64_t key = of->key(c, x);

	for (;;) {
		uint32_t first = HEAP_D * i + 1, best = first;
		if (first >= n)
			break;
		uint32_t end = first + HEAP_D < n ? first + HEAP_D : n;
		/* the children are fetched together, not one miss after
		 * the other */
		for (uint32_t k = first; k < end; k++)
			of->fetch(c, a[k]);
		uint64_t bk = of->key(c, a[first]);
		for (uint32_t k = first + 1; k < end; k++) {
			uint64_t kk = of->key(c, a[k]);
			if (kk < bk) {
				best = k;
				bk = kk;
			}
		}
		if (bk >= key)
			break;
		heap_set(c, a, i, a[best], of);
		i = best;
	}
	heap_set(c, a, i, x, of);
}

/* Take out the item at i of a[0, *n). */
HEAP_INLINE void
sift_out(struct ml_core *c, uint32_t *a, uint32_t *n, uint32_t i,
    const struct heap_of *of)
{
	uint32_t last = a[--*n];

	if (i == *n)
		return;
	heap_set(c, a, i, last, of);
	if (i > 0 && of->key(c, a[(i - 1) / HEAP_D]) > of->key(c, last))
		sift_up(c, a, i, of);
	else
		sift_down(c, a, *n, i, of);
}

/* The deadline heap. */

static inline uint64_t
entry_key(const struct ml_core *c, uint32_t idx)
{
	return entry_at(c, idx)->deadline;
}

static inline void
entry_place(struct ml_core *c, uint32_t idx, uint32_t pos)
{
	entry_at(c, idx)->pos = pos;
}

static inline void
entry_fetch(const struct ml_core *c, uint32_t idx)
{
	__builtin_prefetch(entry_at(c, idx));
}

static const struct heap_of entries = { entry_key, entry_place, entry_fetch };

static int
heap_reserve(struct ml_core *c)
{
	if (c->nheap < c->heapcap)
		return 0;
	uint32_t cap = c->heapcap ? c->heapcap * 2 : 64;
	uint32_t *h = c->a.realloc(c->heap, (size_t)cap * sizeof *h);
	if (h == NULL)
		return -ENOMEM;
	c->heap = h;
	c->heapcap = cap;
	return 0;
}

/* Entry idx, of that deadline, goes in; needs heap_reserve() first. */
static void
heap_insert(struct ml_core *c, uint32_t idx, uint64_t deadline)
{
	sift_up_key(c, c->heap, c->nheap++, idx, deadline, &entries);
}

static void
heap_remove(struct ml_core *c, struct ml_entry *e)
{
	uint32_t i = e->pos - 1;

	e->pos = 0;
	sift_out(c, c->heap, &c->nheap, i, &entries);
}

/* Deadline classes. */

static inline uint32_t
ring_at(const struct ml_class *k, uint32_t seq)
{
	return k->ring[seq & (k->cap - 1)];
}

static inline uint64_t
deadline_of(const struct ml_core *c, uint32_t idx)
{
	return entry_at(c, idx)->deadline;
}

/*
 * The classes in use are cls[0, nclasses), found by key through chash (open
 * addressing, linear probing: class index + 1, 0 free, at most half full);
 * those with leases are also in cheap, a min-heap by their first deadline
 * (kept lazily: cheap_update()), so that the earliest of them all is at
 * hand.
 */

static inline uint32_t
chash_slot(const struct ml_core *c, uint64_t key)
{
	return (uint32_t)((key * UINT64_C(0x9e3779b97f4a7c15)) >> 32) &
	    (2 * c->clscap - 1);
}

static void
chash_put(struct ml_core *c, uint32_t ci)
{
	uint32_t i = chash_slot(c, c->cls[ci].key);

	while (c->chash[i] != 0)
		i = (i + 1) & (2 * c->clscap - 1);
	c->chash[i] = ci + 1;
}

/* The class of the leases with this key (deadline - born), if any, by its
 * hash; class_find() tries the last one found first. */
static struct ml_class *
class_search(struct ml_core *c, uint64_t key)
{
	if (c->nclasses == 0)
		return NULL;
	for (uint32_t i = chash_slot(c, key); c->chash[i] != 0;
	    i = (i + 1) & (2 * c->clscap - 1))
		if (c->cls[c->chash[i] - 1].key == key) {
			c->chint = c->chash[i] - 1;
			return &c->cls[c->chint];
		}
	return NULL;
}

/* As class_search(), the class last found tried first, inline: most
 * leases are made and ended among few ttls. */
static inline __attribute__((always_inline)) struct ml_class *
class_find(struct ml_core *c, uint64_t key)
{
	if (c->chint < c->nclasses && c->cls[c->chint].key == key)
		return &c->cls[c->chint];
	return class_search(c, key);
}

static inline uint64_t
class_key(const struct ml_core *c, uint32_t ci)
{
	return c->cls[ci].hkey;
}

static inline void
class_place(struct ml_core *c, uint32_t ci, uint32_t pos)
{
	c->cls[ci].hpos = pos;
}

static inline void
class_fetch(const struct ml_core *c, uint32_t ci)
{
	(void)c;
	(void)ci;
}

static const struct heap_of classes = { class_key, class_place, class_fetch };

/*
 * Class ci got a first deadline after being empty, or classes_squeeze()
 * puts it back, or its first deadline moved earlier.  cheap is kept
 * lazily: a class's key there (hkey) is at most its first deadline, and
 * an empty class may stay in it, until it comes to the top, where
 * cheap_settle() sets it right or takes it out.  A first deadline that
 * moves later (the head leaves, or an empty class still in cheap gets a
 * lease) then costs nothing, and leases of one ttl made and ended one at
 * a time do not move their class in and out of cheap at each.
 */
static void __attribute__((noinline))
cheap_fix(struct ml_core *c, uint32_t ci)
{
	struct ml_class *k = &c->cls[ci];

	if (k->hpos == 0) {
		k->hkey = k->first;
		c->cheap[c->ncheap] = ci;
		sift_up(c, c->cheap, c->ncheap++, &classes);
	} else if (k->first < k->hkey) {  /* another thread's earlier clock */
		k->hkey = k->first;
		sift_up(c, c->cheap, k->hpos - 1, &classes);
	}
}

/* Inline: a class emptied and filled again at each lease, still in cheap
 * under the same key, needs nothing there. */
static inline __attribute__((always_inline)) void
cheap_update(struct ml_core *c, uint32_t ci)
{
	const struct ml_class *k = &c->cls[ci];

	if (k->hpos == 0 || k->first < k->hkey)
		cheap_fix(c, ci);
}

/* Make the class on top of cheap the one with the earliest deadline: the
 * empty ones taken out, the keys that are behind set right. */
static void
cheap_settle(struct ml_core *c)
{
	while (c->ncheap > 0) {
		struct ml_class *k = &c->cls[c->cheap[0]];
		if (k->count == 0) {
			k->hpos = 0;
			sift_out(c, c->cheap, &c->ncheap, 0, &classes);
		} else if (k->hkey < k->first) {
			k->hkey = k->first;
			sift_down(c, c->cheap, c->ncheap, 0, &classes);
		} else {
			break;
		}
	}
}

/* Twice the classes (at most ML_CLASSES), the hash made anew. */
static int
classes_grow(struct ml_core *c)
{
	uint32_t cap = c->clscap ? c->clscap * 2 : 8;
	struct ml_class *k = c->a.realloc(c->cls, cap * sizeof *k);

	if (k == NULL)
		return -ENOMEM;
	c->cls = k;
	memset(k + c->clscap, 0, (cap - c->clscap) * sizeof *k);
	uint32_t *heap = c->a.realloc(c->cheap, cap * sizeof *heap);
	if (heap == NULL)
		return -ENOMEM;
	c->cheap = heap;
	uint32_t *hash = c->a.realloc(NULL, 2 * cap * sizeof *hash);
	if (hash == NULL)
		return -ENOMEM;
	free_if(c, c->chash);
	c->chash = hash;
	c->clscap = cap;
	memset(hash, 0, 2 * cap * sizeof *hash);
	for (uint32_t i = 0; i < c->nclasses; i++)
		chash_put(c, i);
	return 0;
}

/* Drop the empty classes (their rings stay, for the classes made next in
 * their places), the hash and cheap made anew. */
static void
classes_squeeze(struct ml_core *c)
{
	uint32_t w = 0;

	for (uint32_t i = 0; i < c->nclasses; i++) {
		c->cls[i].hpos = 0;
		if (c->cls[i].count == 0)
			continue;
		struct ml_class t = c->cls[w];
		c->cls[w] = c->cls[i];
		c->cls[i] = t;
		w++;
	}
	c->nclasses = w;
	c->ncheap = 0;
	memset(c->chash, 0, 2 * c->clscap * sizeof *c->chash);
	for (uint32_t i = 0; i < c->nclasses; i++) {
		chash_put(c, i);
		cheap_update(c, i);
	}
}

/*
 * A new class for that key; NULL: none to be had (the heap then takes the
 * lease).  A class stays when it empties, so that the leases of one ttl
 * made and ended one at a time do not make and end a class each time; the
 * empty ones are dropped when ML_CLASSES are in use and half of them are
 * empty (amortized O(1) a new class).  Classes move only here.
 */
static struct ml_class *
class_new(struct ml_core *c, uint64_t key)
{
	struct ml_class *k;

	if (c->nclasses == c->clscap && c->clscap < ML_CLASSES &&
	    classes_grow(c) != 0)
		return NULL;
	if (c->nclasses == ML_CLASSES && c->nbusy <= ML_CLASSES / 2)
		classes_squeeze(c);
	if (c->nclasses == c->clscap)
		return NULL;
	k = &c->cls[c->nclasses];
	k->key = key;
	c->chint = c->nclasses;         /* its lease ends here too */
	chash_put(c, c->nclasses++);
	return k;
}

/* The class of that key, else a new one (class_new()). */
static inline __attribute__((always_inline)) struct ml_class *
class_for(struct ml_core *c, uint64_t key)
{
	struct ml_class *k = class_find(c, key);

	return k != NULL ? k : class_new(c, key);
}

/* Make room for one more in a full ring (queue_prepare() asks): squeeze
 * its gaps out if they are a quarter of it or more (amortized O(1) a
 * lease, as the sequence numbers of the leases moved change), else double
 * it. */
static int
ring_room(struct ml_core *c, struct ml_class *k)
{
	if (k->cap != 0 && k->count <= k->cap - k->cap / 4) {
		uint32_t w = k->head;
		for (uint32_t seq = k->head; seq != k->tail; seq++) {
			uint32_t idx = ring_at(k, seq);
			if (idx == ML_RING_GAP)
				continue;
			k->ring[w & (k->cap - 1)] = idx;
			entry_at(c, idx)->pos = w++;
		}
		k->tail = w;
		return 0;
	}
	uint32_t cap = k->cap ? k->cap * 2 : 64;
	uint32_t *r = c->a.realloc(NULL, (size_t)cap * sizeof *r);
	if (r == NULL)
		return -ENOMEM;
	for (uint32_t seq = k->head; seq != k->tail; seq++)
		r[seq & (cap - 1)] = ring_at(k, seq);
	free_if(c, k->ring);
	k->ring = r;
	k->cap = cap;
	return 0;
}

/*
 * Where a deadline made at born will go, room made: *kp gets its class,
 * or NULL for the heap.  Called before anything else changes, so that a
 * failure (-ENOMEM) changes nothing that can be seen; taking a lease out
 * of the queue in between leaves the room made.
 */
static inline int
queue_prepare(struct ml_core *c, uint64_t born, uint64_t deadline,
    bool in_heap, struct ml_class **kp)
{
	*kp = NULL;
	if (deadline == ML_NO_DEADLINE)
		return 0;
	/* an empty heap takes it: alone there, it costs least; so does a
	 * heap with room when the ring has none to be had (out of memory) */
	if (c->nheap != 0 && deadline < ML_TIME_MAX) {
		struct ml_class *k = class_for(c, deadline - born);
		if (k != NULL && (k->count == 0 || k->last <= deadline) &&
		    (k->tail - k->head < k->cap || ring_room(c, k) == 0)) {
			*kp = k;
			return 0;
		}
	}
	return in_heap ? 0 : heap_reserve(c);
}

/* Queue entry idx under its deadline (given, not read back from the entry
 * just written), where queue_prepare() said; its ringed bit is already set
 * if k is not NULL (in a new entry, with the rest of its word: see
 * ML_W_SIZE()). */
static inline void
queue_insert(struct ml_core *c, uint32_t idx, uint64_t deadline,
    struct ml_class *k)
{
	if (k == NULL) {
		heap_insert(c, idx, deadline);
		return;
	}
	uint32_t seq = k->tail++;
	k->ring[seq & (k->cap - 1)] = idx;
	entry_at(c, idx)->pos = seq;
	k->last = deadline;
	c->nringed++;
	if (k->count++ == 0) {
		k->head = seq;
		k->first = deadline;
		c->nbusy++;
		cheap_update(c, (uint32_t)(k - c->cls));
	}
}

static inline bool
queued(const struct ml_entry *e)
{
	return e->ringed || e->pos != 0;
}

/* Take a queued entry out of its ring or the heap. */
static inline __attribute__((always_inline)) void
queue_remove(struct ml_core *c, struct ml_entry *e)
{
	if (!e->ringed) {
		heap_remove(c, e);
		return;
	}
	struct ml_class *k = class_find(c, e->deadline - e->born);
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
	if (seq == k->head) {           /* later: cheap_update() */
		while (ring_at(k, k->head) == ML_RING_GAP)
			k->head++;
		k->first = deadline_of(c, ring_at(k, k->head));
	}
	if (seq == k->tail - 1) {
		while (ring_at(k, k->tail - 1) == ML_RING_GAP)
			k->tail--;
		k->last = deadline_of(c, ring_at(k, k->tail - 1));
	}
}

/* The queued entry with the earliest deadline (*dp), or UINT32_MAX. */
static inline uint32_t
queue_first(struct ml_core *c, uint64_t *dp)
{
	uint32_t idx = UINT32_MAX;
	uint64_t d = ML_NO_DEADLINE;

	cheap_settle(c);
	if (c->nheap > 0) {
		idx = c->heap[0];
		d = deadline_of(c, idx);
	}
	if (c->ncheap > 0 && c->cls[c->cheap[0]].first < d) {
		const struct ml_class *k = &c->cls[c->cheap[0]];
		d = k->first;
		idx = ring_at(k, k->head);
	}
	*dp = d;
	return idx;
}

/* Blocks. */

static void
block_init(struct ml_block *b, uint32_t gen)
{
	b->used = 0;
	b->free_head = 0;
	b->fresh = 0;
	b->max_gen = gen;
}

/* The slot at idx holds a live entry (or a zombie). */
static inline bool
slot_live(const struct ml_core *c, uint32_t idx)
{
	return idx % ML_PER_BLOCK < c->dir[idx / ML_PER_BLOCK]->fresh &&
	    entry_at(c, idx)->buf != NULL;
}

/* Make block nblocks; the directory and bitmap grow as needed. */
static int
block_new(struct ml_core *c)
{
	uint32_t i = c->nblocks;

	if ((uint64_t)(i + 1) * ML_PER_BLOCK >= UINT32_MAX)
		return -ENOMEM;
	if (i == c->dircap) {
		uint32_t cap = c->dircap * 2;
		struct ml_block **d = c->a.realloc(c->dir, cap * sizeof *d);
		if (d == NULL)
			return -ENOMEM;
		c->dir = d;
		uint32_t *g = c->a.realloc(c->dir_gen, cap * sizeof *g);
		if (g == NULL)
			return -ENOMEM;
		memset(g + c->dircap, 0, (cap - c->dircap) * sizeof *g);
		c->dir_gen = g;
		c->dircap = cap;
	}
	if (ml_bitmap_reserve(&c->nonfull, i + 1, &c->a) != 0)
		return -ENOMEM;
	struct ml_block *b = c->a.realloc(NULL, sizeof *b);
	if (b == NULL)
		return -ENOMEM;
	block_init(b, c->dir_gen[i]);
	c->dir[i] = b;
	c->nblocks++;
	ml_bitmap_set(&c->nonfull, i);
	c->low = i;     /* made when no block had room */
	c->low_b = b;
	return 0;
}

/* Free the trailing empty dynamic blocks. */
static void
blocks_trim(struct ml_core *c)
{
	while (c->nblocks > 1 && c->dir[c->nblocks - 1]->used == 0) {
		uint32_t i = c->nblocks - 1;
		struct ml_block *b = c->dir[i];

		c->dir_gen[i] = b->max_gen;
		c->dir[i] = NULL;       /* its bit in nonfull stays: see there */
		c->nblocks--;           /* low == i: now nblocks, as it should */
		if (c->low_b == b)
			c->low_b = NULL;
		c->a.free(b);
	}
}

/* A slot of block bi (b, not full: block low) for a new lease: its index
 * there. */
static inline __attribute__((always_inline)) uint32_t
slot_take(struct ml_core *c, uint32_t bi, struct ml_block *b)
{
	uint32_t s;

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
	return s;
}

/* End the lease in entry idx: out (if not NULL) gets what the caller
 * needs; the slot goes back to its block.  Inline in the release, out of
 * line (slot_end) elsewhere. */
static inline __attribute__((always_inline)) void
slot_end_inline(struct ml_core *c, uint32_t idx, enum ml_end why,
    struct ml_ended *out)
{
	struct ml_entry *e = entry_at(c, idx);
	uint32_t bi = idx / ML_PER_BLOCK;
	struct ml_block *b = c->dir[bi];

	bool labeled = e->origin >= ML_LABELED;

	if (out != NULL) {
		out->h = handle_of(idx, e->gen);
		out->buf = e->buf;
		out->size = e->size;
		out->why = (uint8_t)why;
		out->kind = (uint8_t)e->kind;
	}
	if (out != NULL && why == ML_END_EXPIRED) {     /* for the report */
		const char *name = labeled ?
		    ml_labels_name(&c->labels, e->origin) : NULL;
		out->born = abs_time(c, e->born);
		out->deadline = abs_time(c, e->deadline);
		out->stack = labeled ?
		    ml_labels_stack(&c->labels, e->origin) : e->origin;
		out->report = e->report;
		if (name != NULL)
			memcpy(out->label, name, sizeof out->label);
		else
			out->label[0] = '\0';
	}
	if (e->overdue)
		c->overdue--;
	if (e->pins != 0)
		c->pinned--;
	c->live--;
	c->live_kind[e->kind]--;
	c->live_bytes -= e->size;
	if (why == ML_END_RELEASED)
		c->released++;
	else
		c->expired++;
	if (labeled)
		ml_labels_put(&c->labels, e->origin);
	/* after the reads of its words: the ring's clears a bit of one, and a
	 * wider read soon after would wait for that store to drain */
	if (queued(e))
		queue_remove(c, e);

	uint32_t gen = e->gen + 1;
	memset(e, 0, sizeof *e);
	e->gen = gen;
	if (gen > b->max_gen)
		b->max_gen = gen;
	if (gen == GEN_RETIRED)
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
		blocks_trim(c);     /* the static block stays */
}

static void __attribute__((noinline))
slot_end(struct ml_core *c, uint32_t idx, enum ml_end why,
    struct ml_ended *out)
{
	slot_end_inline(c, idx, why, out);
}

/* The deadline of a lease given ttl_ms at relative time t. */
static inline uint64_t
deadline_at(uint64_t t, uint64_t ttl_ms)
{
	if (ttl_ms == 0)
		return ML_NO_DEADLINE;
	return ttl_ms < ML_TIME_MAX - t ? t + ttl_ms : ML_TIME_MAX;
}

/* Entry idx, not queued, that has its deadline, is queued where
 * queue_prepare() said (its ringed bit set to match: queue_insert()).
 * *wake: the deadline comes before the expiring thread would look again
 * (c->told), so it must be woken; it will look again by then. */
static inline __attribute__((always_inline)) void
queue_deadline(struct ml_core *c, uint32_t idx, uint64_t deadline,
    struct ml_class *k, bool *wake)
{
	if (deadline == ML_NO_DEADLINE)
		return;
	if ((*wake = deadline < c->told))
		c->told = deadline;
	queue_insert(c, idx, deadline, k);
}

/* The API. */

int
ml_core_init(struct ml_core *c, const struct ml_alloc *a, uint64_t now)
{
	memset(c, 0, sizeof *c);
	ml_wordlock_init(&c->lock);
	ml_wordlock_prepare();
	c->a = *a;
	c->epoch = now;
	c->dircap = 16;
	c->dir = a->realloc(NULL, c->dircap * sizeof *c->dir);
	c->dir_gen = a->realloc(NULL, c->dircap * sizeof *c->dir_gen);
	if (c->dir == NULL || c->dir_gen == NULL ||
	    ml_bitmap_reserve(&c->nonfull, c->dircap, a) != 0) {
		ml_core_fini(c, NULL);
		return -ENOMEM;
	}
	memset(c->dir_gen, 0, c->dircap * sizeof *c->dir_gen);
	block_init(&c->first, 0);
	c->dir[0] = &c->first;
	c->nblocks = 1;
	ml_bitmap_set(&c->nonfull, 0);
	c->low = 0;
	c->low_b = &c->first;
	c->told = ML_NO_DEADLINE;       /* nobody has looked yet */
	return 0;
}

/* Free everything; live buffers go to free_buf when it is not NULL. */
void
ml_core_fini(struct ml_core *c, void (*free_buf)(void *, unsigned))
{
	for (uint32_t i = 0; c->dir != NULL && i < c->nblocks; i++) {
		struct ml_block *b = c->dir[i];
		for (uint32_t s = 0; free_buf != NULL && s < b->fresh; s++)
			if (b->e[s].buf != NULL)
				free_buf(b->e[s].buf, b->e[s].kind);
		if (b != &c->first)
			c->a.free(b);
	}
	free_if(c, c->dir);
	free_if(c, c->dir_gen);
	free_if(c, c->heap);
	for (uint32_t i = 0; i < c->clscap; i++)
		free_if(c, c->cls[i].ring);
	free_if(c, c->cls);
	free_if(c, c->cheap);
	free_if(c, c->chash);
	ml_bitmap_fini(&c->nonfull, &c->a);
	ml_labels_fini(&c->labels, &c->a);
	c->dir = NULL;
	c->dir_gen = NULL;
	c->heap = NULL;
	c->cls = NULL;
	c->cheap = NULL;
	c->chash = NULL;
	c->nclasses = c->clscap = c->ncheap = c->nbusy = 0;
	c->nblocks = 0;
}

int
ml_core_new(const struct ml_alloc *a, uint64_t now, struct ml_core **cp)
{
	struct ml_core *c = a->realloc(NULL, sizeof *c);
	int r;

	if (c == NULL)
		return -ENOMEM;
	if ((r = ml_core_init(c, a, now)) != 0) {
		a->free(c);
		return r;
	}
	*cp = c;
	return 0;
}

void
ml_core_free(struct ml_core *c, void (*free_buf)(void *, unsigned))
{
	void (*free_core)(void *) = c->a.free;

	ml_core_fini(c, free_buf);
	free_core(c);
}

size_t
ml_core_block_bytes(void)
{
	return sizeof(struct ml_block);
}

/*
 * Put buf under a new lease, with a label (NULL or empty: none): the lease
 * is made with it or not at all.  *wake is set when the expiring thread
 * must be woken for its deadline (queue_deadline).  On failure nothing
 * changes and buf is still the caller's.  Inline in both callers: a new
 * lease is the core's most frequent call, with the release.
 */
static inline __attribute__((always_inline)) int
add(struct ml_core *c, uint64_t now, void *buf, size_t size,
    uint64_t ttl_ms, unsigned releases, uint32_t stack, unsigned kind,
    const char *label, memlease_t *hp, bool *wake)
{
	uint32_t origin = stack;
	struct ml_class *k;
	int r = 0;

	*wake = false;
	if (buf == NULL || stack >= ML_LABELED || kind > ML_KIND_MAX)
		return -EINVAL;
	if (size > ML_MAX_SIZE)
		return -ENOMEM;
	if (releases == 0)
		releases = 1;
	if (releases > ML_MAX_RELEASES)
		return -EINVAL;

	lock(c);
	if (label != NULL && *label != '\0' && (r = ml_labels_intern(
	    &c->labels, stack, label, &origin, &c->a)) != 0)
		goto out;
	uint64_t t = rel_time(c, now);
	uint64_t deadline = deadline_at(t, ttl_ms);
	if ((r = queue_prepare(c, t, deadline, false, &k)) != 0)
		goto undo;
	uint32_t bi = c->low;
	if (c->low_b == NULL && bi < c->nblocks &&
	    (bi = ml_bitmap_first(&c->nonfull)) < c->nblocks) {
		c->low = bi;
		c->low_b = c->dir[bi];
	}
	if (bi >= c->nblocks) {         /* UINT32_MAX too */
		if ((r = block_new(c)) != 0)
			goto undo;
		bi = c->nblocks - 1;
	}
	struct ml_block *b = c->low_b;
	uint32_t s = slot_take(c, bi, b);
	uint32_t idx = bi * ML_PER_BLOCK + s;
	struct ml_entry *e = &b->e[s];
	e->buf = buf;
	e->w_size = ML_W_SIZE(size, 1, k != NULL);
	e->w_deadline = ML_W_DEADLINE(deadline, releases, kind);
	e->w_born = ML_W_BORN(t, origin);
	queue_deadline(c, idx, deadline, k, wake);
	c->live++;
	c->live_kind[kind]++;
	c->live_bytes += size;
	c->allocated++;
	*hp = handle_of(idx, e->gen);
	goto out;
undo:
	ml_labels_put(&c->labels, origin);
out:
	unlock(c);
	return r;
}

int
ml_core_add(struct ml_core *c, uint64_t now, void *buf, size_t size,
    uint64_t ttl_ms, unsigned releases, uint32_t stack, unsigned kind,
    memlease_t *hp, bool *wake)
{
	return add(c, now, buf, size, ttl_ms, releases, stack, kind, NULL, hp,
	    wake);
}

/* As ml_core_add(), with a label. */
int
ml_core_add_labeled(struct ml_core *c, uint64_t now, void *buf, size_t size,
    uint64_t ttl_ms, unsigned releases, uint32_t stack, unsigned kind,
    const char *label, memlease_t *hp, bool *wake)
{
	return add(c, now, buf, size, ttl_ms, releases, stack, kind, label, hp,
	    wake);
}

void *
ml_core_get(struct ml_core *c, memlease_t h, size_t *sizep)
{
	void *buf = NULL;

	lock(c);
	struct ml_entry *e = lookup(c, h, NULL, false);
	if (e != NULL) {
		buf = e->buf;
		if (sizep != NULL)
			*sizep = e->size;
	}
	unlock(c);
	if (buf == NULL)
		errno = ESTALE;
	return buf;
}

void *
ml_core_pin(struct ml_core *c, memlease_t h, size_t *sizep)
{
	void *buf = NULL;
	int err = ESTALE;

	lock(c);
	struct ml_entry *e = lookup(c, h, NULL, false);
	if (e != NULL && e->pins == ML_MAX_PINS) {
		err = EOVERFLOW;
	} else if (e != NULL) {
		if (e->pins++ == 0)
			c->pinned++;
		buf = e->buf;
		if (sizep != NULL)
			*sizep = e->size;
	}
	unlock(c);
	if (buf == NULL)
		errno = err;
	return buf;
}

/*
 * Undo a pin.  Returns 1 when that ended the lease (out filled: it was
 * released while pinned, or its deadline passed), 0 if it lives on, or a
 * negative errno.
 */
int
ml_core_unpin(struct ml_core *c, memlease_t h, uint64_t now,
    struct ml_ended *out)
{
	uint32_t idx;
	int r = 0;

	lock(c);
	struct ml_entry *e = lookup(c, h, &idx, true);
	if (e == NULL) {
		r = -ESTALE;
	} else if (e->pins == 0) {
		r = -EINVAL;
	} else if (--e->pins == 0) {
		c->pinned--;
		if (e->zombie) {
			slot_end(c, idx, ML_END_RELEASED, out);
			r = 1;
		} else if (e->overdue || (e->deadline != ML_NO_DEADLINE &&
		    e->deadline <= rel_time(c, now))) {
			slot_end(c, idx, ML_END_EXPIRED, out);
			r = 1;
		}
	}
	unlock(c);
	return r;
}

/* The last release of entry idx: end it, or, if it is pinned, make it a
 * zombie that its last unpin ends.  Returns 1 if it ended. */
static inline __attribute__((always_inline)) int
last_release(struct ml_core *c, uint32_t idx, struct ml_ended *out)
{
	struct ml_entry *e = entry_at(c, idx);

	if (e->pins == 0) {
		slot_end_inline(c, idx, ML_END_RELEASED, out);
		return 1;
	}
	e->releases = 0;
	e->zombie = 1;
	if (queued(e))
		queue_remove(c, e);
	if (e->overdue) {
		e->overdue = 0;
		c->overdue--;
	}
	return 0;
}

/*
 * One release.  Returns 1 when it was the last (out filled), 0 if more are
 * due, or a negative errno.  The last release of a pinned lease ends it at
 * its last unpin: a pinned buffer is never freed under its pinner.
 */
int
ml_core_release(struct ml_core *c, memlease_t h, struct ml_ended *out)
{
	uint32_t idx;
	int r = 0;

	lock(c);
	struct ml_entry *e = lookup(c, h, &idx, false);
	if (e == NULL)
		r = -ESTALE;
	else if (e->releases > 1)
		e->releases--;
	else    /* not stored first: slot_end_inline() reads its word whole */
		r = last_release(c, idx, out);
	unlock(c);
	return r;
}

/* End a lease now, whatever releases remain (its block was freed by the
 * program); as ml_core_release() otherwise. */
int
ml_core_end(struct ml_core *c, memlease_t h, struct ml_ended *out)
{
	uint32_t idx;
	int r;

	lock(c);
	struct ml_entry *e = lookup(c, h, &idx, false);
	if (e == NULL)
		r = -ESTALE;
	else
		r = last_release(c, idx, out);
	unlock(c);
	return r;
}

/* The lease's block moved (realloc). */
int
ml_core_move(struct ml_core *c, memlease_t h, void *buf, size_t size)
{
	int r = 0;

	if (buf == NULL || size > ML_MAX_SIZE)
		return -EINVAL;
	lock(c);
	struct ml_entry *e = lookup(c, h, NULL, true);
	if (e == NULL) {
		r = -ESTALE;
	} else {
		c->live_bytes += size - e->size;
		e->buf = buf;
		e->size = size;
	}
	unlock(c);
	return r;
}

int
ml_core_renew(struct ml_core *c, memlease_t h, uint64_t now, uint64_t ttl_ms,
    bool *wake)
{
	struct ml_class *k;
	uint32_t idx;
	int r = 0;

	*wake = false;
	lock(c);
	struct ml_entry *e = lookup(c, h, &idx, false);
	uint64_t deadline = deadline_at(rel_time(c, now), ttl_ms);
	if (e == NULL) {
		r = -ESTALE;
	} else if ((r = queue_prepare(c, e->born, deadline,
	    !e->ringed && e->pos != 0, &k)) != 0) {
		/* -ENOMEM: the old deadline stands */
	} else {
		if (queued(e))
			queue_remove(c, e);
		if (e->overdue) {
			e->overdue = 0;
			c->overdue--;
		}
		e->ringed = k != NULL;
		e->deadline = deadline;
		queue_deadline(c, idx, deadline, k, wake);
	}
	unlock(c);
	return r;
}

int
ml_core_set_releases(struct ml_core *c, memlease_t h, unsigned n)
{
	int r = 0;

	if (n == 0 || n > ML_MAX_RELEASES)
		return -EINVAL;
	lock(c);
	struct ml_entry *e = lookup(c, h, NULL, false);
	if (e == NULL)
		r = -ESTALE;
	else
		e->releases = n;
	unlock(c);
	return r;
}

/* A NULL or empty label removes it. */
int
ml_core_set_label(struct ml_core *c, memlease_t h, const char *label)
{
	uint32_t origin;
	int r = 0;

	lock(c);
	struct ml_entry *e = lookup(c, h, NULL, false);
	if (e == NULL) {
		r = -ESTALE;
		goto out;
	}
	uint32_t stack = ml_labels_stack(&c->labels, e->origin);
	if (label == NULL || *label == '\0')
		origin = stack;
	else if ((r = ml_labels_intern(&c->labels, stack, label, &origin,
	    &c->a)) != 0)
		goto out;
	ml_labels_put(&c->labels, e->origin);
	e->origin = origin;
out:
	unlock(c);
	return r;
}

int
ml_core_set_report(struct ml_core *c, memlease_t h, bool on)
{
	int r = 0;

	lock(c);
	struct ml_entry *e = lookup(c, h, NULL, false);
	if (e == NULL)
		r = -ESTALE;
	else
		e->report = on;
	unlock(c);
	return r;
}

/*
 * End up to max leases whose deadline is at or before now, earliest first,
 * into out[]; returns how many.  A pinned lease leaves the heap and is
 * marked overdue (its last unpin expires it).  Callers loop until fewer
 * than max come back, so that the lock is never held for long.
 */
int
ml_core_expire(struct ml_core *c, uint64_t now, struct ml_ended *out, int max)
{
	uint64_t t = rel_time(c, now);
	int n = 0;

	lock(c);
	while (n < max) {
		uint64_t d;
		uint32_t idx = queue_first(c, &d);
		if (idx == UINT32_MAX || d > t)
			break;
		struct ml_entry *e = entry_at(c, idx);
		if (e->pins != 0) {
			queue_remove(c, e);
			e->overdue = 1;
			c->overdue++;
			continue;
		}
		slot_end(c, idx, ML_END_EXPIRED, &out[n++]);
	}
	unlock(c);
	return n;
}

/* Expire one lease now, whatever its deadline; -EBUSY if pinned. */
int
ml_core_expire_one(struct ml_core *c, memlease_t h, struct ml_ended *out)
{
	uint32_t idx;
	int r = 0;

	lock(c);
	struct ml_entry *e = lookup(c, h, &idx, false);
	if (e == NULL)
		r = -ESTALE;
	else if (e->pins != 0)
		r = -EBUSY;
	else
		slot_end(c, idx, ML_END_EXPIRED, out);
	unlock(c);
	return r;
}

/* ms from relative time t until the earliest deadline (0: passed), -1 if
 * none. */
static int64_t
until_first(struct ml_core *c, uint64_t t)
{
	uint64_t d;

	if (queue_first(c, &d) == UINT32_MAX)
		return -1;
	return d > t ? (int64_t)(d - t) : 0;
}

int64_t
ml_core_next_deadline(struct ml_core *c, uint64_t now)
{
	lock(c);
	int64_t r = until_first(c, rel_time(c, now));
	unlock(c);
	return r;
}

int64_t
ml_core_arm(struct ml_core *c, uint64_t now, int64_t max_ms)
{
	lock(c);
	uint64_t t = rel_time(c, now);
	int64_t ms = until_first(c, t);
	if (ms < 0 || ms > max_ms)
		ms = max_ms;
	c->told = t + (uint64_t)ms;
	unlock(c);
	return ms;
}

static size_t
bookkeeping(const struct ml_core *c)
{
	size_t rings = 0;

	for (uint32_t i = 0; i < c->clscap; i++)
		rings += (size_t)c->cls[i].cap * sizeof *c->cls[i].ring;
	rings += (size_t)c->clscap * (sizeof *c->cls + sizeof *c->cheap +
	    2 * sizeof *c->chash);
	return rings + sizeof *c + (size_t)(c->nblocks - 1) * sizeof(struct ml_block) +
	    (size_t)c->dircap * (sizeof *c->dir + sizeof *c->dir_gen) +
	    (size_t)c->heapcap * sizeof *c->heap +
	    ml_bitmap_bytes(&c->nonfull) + ml_labels_bytes(&c->labels);
}

void
ml_core_stats(struct ml_core *c, struct memlease_stats *st)
{
	memset(st, 0, sizeof *st);
	lock(c);
	st->live_leases = c->live;
	st->live_bytes = c->live_bytes;
	st->allocated = c->allocated;
	st->released = c->released;
	st->expired = c->expired;
	st->reclaimed = c->expired;
	st->entry_blocks = c->nblocks;
	st->entries_per_block = ML_PER_BLOCK;
	st->pinned = c->pinned;
	st->overdue = c->overdue;
	st->with_deadline = c->nheap + c->nringed;
	st->bookkeeping_bytes = bookkeeping(c);
	unlock(c);
}

static void
info_fill(const struct ml_core *c, uint32_t idx, struct ml_info *out)
{
	const struct ml_entry *e = entry_at(c, idx);
	const char *name = ml_labels_name(&c->labels, e->origin);

	out->h = handle_of(idx, e->gen);
	out->buf = e->buf;
	out->size = e->size;
	out->born = abs_time(c, e->born);
	out->deadline = e->zombie ? ML_NO_DEADLINE : abs_time(c, e->deadline);
	out->stack = ml_labels_stack(&c->labels, e->origin);
	out->pins = e->pins;
	out->releases = e->zombie ? 0 : e->releases;
	out->report = e->report;
	out->overdue = e->overdue;
	out->released = e->zombie;
	out->kind = (uint8_t)e->kind;
	if (name != NULL)
		memcpy(out->label, name, sizeof out->label);
	else
		out->label[0] = '\0';
}

int
ml_core_info(struct ml_core *c, memlease_t h, struct ml_info *out)
{
	uint32_t idx;
	int r = 0;

	lock(c);
	if (lookup(c, h, &idx, true) == NULL)
		r = -ESTALE;
	else
		info_fill(c, idx, out);
	unlock(c);
	return r;
}

/*
 * Copy up to max live leases, starting at entry *cursor (0 at first), and
 * move the cursor past them.  Returns how many; 0 at the end.  Leases made
 * or ended between calls may be missed or seen, never torn.
 */
int
ml_core_list(struct ml_core *c, uint32_t *cursor, struct ml_info *out,
    int max)
{
	int n = 0;

	lock(c);
	uint32_t end = c->nblocks * ML_PER_BLOCK;
	uint32_t idx = *cursor;
	for (; idx < end && n < max; idx++)
		if (slot_live(c, idx))
			info_fill(c, idx, &out[n++]);
	*cursor = idx;
	unlock(c);
	return n;
}

void
ml_core_live_kinds(struct ml_core *c, uint64_t *out)
{
	lock(c);
	memcpy(out, c->live_kind, sizeof c->live_kind);
	unlock(c);
}

void
ml_core_lock(struct ml_core *c)
{
	lock(c);
}

void
ml_core_unlock(struct ml_core *c)
{
	unlock(c);
}

/* In a child after fork(): the lock was taken by the parent's handler,
 * on the thread that forked, the child's only one. */
void
ml_core_reinit_lock(struct ml_core *c)
{
	ml_wordlock_init(&c->lock);
	ml_core_depth--;
}
