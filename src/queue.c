/*
 * queue.c - the core's deadline queue: the deadline heap, the deadline
 * classes and their rings, and the classes' heap (core-private.h: struct
 * ml_class, ml_queue_*).
 *
 * Deadlines live in an 8-ary min-heap of entry indices (O(log n) insert and
 * remove; the entry keeps its heap position) while it is small, then in the
 * rings of deadline classes (core-private.h: the leases of one ttl, O(1) in
 * and out, wherever the others are) and, for the rest, the heap again.  The
 * earliest deadline is the least of the heap's top and the first deadline
 * of the class on top of the classes' heap (ml_queue_first()).
 *
 * The fast path (where a deadline goes, a lease into and out of its ring,
 * and into and out of the heap when it is alone there) is inline in
 * core-private.h: O(1), no call but for a new class, a ring that is full,
 * a heap with other leases to sift among, or the classes' heap to be set
 * right.  Here: the heaps' sifts, the classes' hash, and whatever grows.  Every function expects the core's
 * lock held; the queue reads an entry's deadline and keeps its position,
 * and never makes or ends a lease.
 */
#include <errno.h>
#include <string.h>

#include "core-private.h"

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

/* The item at i of a[0, n) has left: a[n], the last before, takes its
 * place. */
HEAP_INLINE void
sift_fill(struct ml_core *c, uint32_t *a, uint32_t n, uint32_t i,
    const struct heap_of *of)
{
	uint32_t last = a[n];

	heap_set(c, a, i, last, of);
	if (i > 0 && of->key(c, a[(i - 1) / HEAP_D]) > of->key(c, last))
		sift_up(c, a, i, of);
	else
		sift_down(c, a, n, i, of);
}

/* Take out the item at i of a[0, *n). */
HEAP_INLINE void
sift_out(struct ml_core *c, uint32_t *a, uint32_t *n, uint32_t i,
    const struct heap_of *of)
{
	if (i != --*n)
		sift_fill(c, a, *n, i, of);
}

/* The deadline heap. */

static inline uint64_t
entry_key(const struct ml_core *c, uint32_t idx)
{
	return ml_table_entry(c, idx)->deadline;
}

static inline void
entry_place(struct ml_core *c, uint32_t idx, uint32_t pos)
{
	ml_table_entry(c, idx)->pos = pos;
}

static inline void
entry_fetch(const struct ml_core *c, uint32_t idx)
{
	__builtin_prefetch(ml_table_entry(c, idx));
}

static const struct heap_of entries = { entry_key, entry_place, entry_fetch };

/* Room for one more in the deadline heap, which is full: twice the room. */
int
ml_queue_heap_grow(struct ml_core *c)
{
	uint32_t cap = c->heapcap ? c->heapcap * 2 : 64;
	uint32_t *h = c->a.realloc_fn(c->heap, (size_t)cap * sizeof *h);

	if (h == NULL)
		return -ENOMEM;
	c->heap = h;
	c->heapcap = cap;
	return 0;
}

/* Entry idx, of that deadline, goes into the deadline heap, not empty
 * (ml_queue_heap_insert() puts the first in); needs the room
 * ml_queue_prepare() made. */
void
ml_queue_heap_sift_in(struct ml_core *c, uint32_t idx, uint64_t deadline)
{
	sift_up_key(c, c->heap, c->nheap++, idx, deadline, &entries);
}

/* The entry at i has left the deadline heap, and not as its last
 * (ml_queue_heap_remove()): the last takes its place. */
void
ml_queue_heap_fill(struct ml_core *c, uint32_t i)
{
	sift_fill(c, c->heap, c->nheap, i, &entries);
}

/*
 * Deadline classes.  The classes in use are cls[0, nclasses), found by key
 * through chash (open addressing, linear probing: class index + 1, 0 free,
 * at most half full); those with leases are also in cheap, a min-heap by
 * their first deadline (kept lazily: ml_queue_cheap_fix()), so that the
 * earliest of them all is at hand.
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
 * hash; ml_queue_class_find() tries the last one found first. */
struct ml_class *
ml_queue_class_search(struct ml_core *c, uint64_t key)
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
 * a time do not move their class in and out of cheap at each.  Called
 * through ml_queue_cheap_update(), which checks inline that there is
 * something to do.
 */
void __attribute__((noinline))
ml_queue_cheap_fix(struct ml_core *c, uint32_t ci)
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
	struct ml_class *k = c->a.realloc_fn(c->cls, cap * sizeof *k);

	if (k == NULL)
		return -ENOMEM;
	c->cls = k;
	memset(k + c->clscap, 0, (cap - c->clscap) * sizeof *k);
	uint32_t *heap = c->a.realloc_fn(c->cheap, cap * sizeof *heap);
	if (heap == NULL)
		return -ENOMEM;
	c->cheap = heap;
	uint32_t *hash = c->a.realloc_fn(NULL, 2 * cap * sizeof *hash);
	if (hash == NULL)
		return -ENOMEM;
	ml_core_free_if(c, c->chash);
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
		ml_queue_cheap_update(c, i);
	}
}

/*
 * A new class for that key; NULL: none to be had (the heap then takes the
 * lease).  A class stays when it empties, so that the leases of one ttl
 * made and ended one at a time do not make and end a class each time; the
 * empty ones are dropped when ML_CLASSES are in use and half of them are
 * empty (amortized O(1) a new class).  Classes move only here.
 */
struct ml_class *
ml_queue_class_new(struct ml_core *c, uint64_t key)
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

/* Make room for one more in a full ring (ml_queue_prepare() asks): squeeze
 * its gaps out if they are a quarter of it or more (amortized O(1) a
 * lease, as the sequence numbers of the leases moved change), else double
 * it. */
int
ml_queue_ring_room(struct ml_core *c, struct ml_class *k)
{
	if (k->cap != 0 && k->count <= k->cap - k->cap / 4) {
		uint32_t w = k->head;
		for (uint32_t seq = k->head; seq != k->tail; seq++) {
			uint32_t idx = ml_queue_ring_at(k, seq);
			if (idx == ML_RING_GAP)
				continue;
			k->ring[w & (k->cap - 1)] = idx;
			ml_table_entry(c, idx)->pos = w++;
		}
		k->tail = w;
		return 0;
	}
	uint32_t cap = k->cap ? k->cap * 2 : 64;
	uint32_t *r = c->a.realloc_fn(NULL, (size_t)cap * sizeof *r);
	if (r == NULL)
		return -ENOMEM;
	for (uint32_t seq = k->head; seq != k->tail; seq++)
		r[seq & (cap - 1)] = ml_queue_ring_at(k, seq);
	ml_core_free_if(c, k->ring);
	k->ring = r;
	k->cap = cap;
	return 0;
}

/* The queued entry with the earliest deadline (*dp), or UINT32_MAX. */
uint32_t
ml_queue_first(struct ml_core *c, uint64_t *dp)
{
	uint32_t idx = UINT32_MAX;
	uint64_t d = ML_NO_DEADLINE;

	cheap_settle(c);
	if (c->nheap > 0) {
		idx = c->heap[0];
		d = ml_table_entry(c, idx)->deadline;
	}
	if (c->ncheap > 0 && c->cls[c->cheap[0]].first < d) {
		const struct ml_class *k = &c->cls[c->cheap[0]];
		d = k->first;
		idx = ml_queue_ring_at(k, k->head);
	}
	*dp = d;
	return idx;
}

/* Free the heaps, the classes and their rings. */
void
ml_queue_fini(struct ml_core *c)
{
	ml_core_free_if(c, c->heap);
	for (uint32_t i = 0; i < c->clscap; i++)
		ml_core_free_if(c, c->cls[i].ring);
	ml_core_free_if(c, c->cls);
	ml_core_free_if(c, c->cheap);
	ml_core_free_if(c, c->chash);
	c->heap = NULL;
	c->cls = NULL;
	c->cheap = NULL;
	c->chash = NULL;
	c->nclasses = c->clscap = c->ncheap = c->nbusy = 0;
}

/* The queue's memory. */
size_t
ml_queue_bytes(const struct ml_core *c)
{
	size_t rings = 0;

	for (uint32_t i = 0; i < c->clscap; i++)
		rings += (size_t)c->cls[i].cap * sizeof *c->cls[i].ring;
	rings += (size_t)c->clscap * (sizeof *c->cls + sizeof *c->cheap +
	    2 * sizeof *c->chash);
	return rings + (size_t)c->heapcap * sizeof *c->heap;
}
