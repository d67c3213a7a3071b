/*
 * core.h - the lease table: entry blocks, handles, deadlines, stats.
 *
 * The core is pure C: no libev, jansson or libunwind, no clock of its own
 * (every call that needs the time takes `now`, in ms), and no allocation of
 * lease buffers (callers hand buffers in and get them back when a lease
 * ends, so that they are freed outside the lock).  Its own memory (dynamic
 * entry blocks, the block directory, the deadline heap, labels) comes from
 * the allocator given to ml_core_new().
 *
 * Locking: one lock per core (wordlock.h) guards all of its state.
 * No call holds it while it calls out, except to the core's allocator.
 * It is let go with a plain store, and while the process has one thread
 * it is taken with one too.
 */
#ifndef ML_CORE_H
#define ML_CORE_H

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "memlease.h"
#include "bitmap.h"
#include "labels.h"
#include "wordlock.h"

#ifndef CONFIG_MEMLEASE_NUM_ENTRIES_PER_BUF
#define CONFIG_MEMLEASE_NUM_ENTRIES_PER_BUF 32
#endif
#define ML_PER_BLOCK ((uint32_t)CONFIG_MEMLEASE_NUM_ENTRIES_PER_BUF)

#define ML_MAX_SIZE     ((UINT64_C(1) << 44) - 1)  /* 16 TiB */
#define ML_MAX_PINS     ((1u << 16) - 1)
#define ML_MAX_RELEASES ((1u << 21) - 1)
#define ML_KIND_MAX     7u                        /* 3 bits */
#define ML_TIME_MAX     ((UINT64_C(1) << 40) - 2)  /* 34 years of ms */
#define ML_NO_DEADLINE  ((UINT64_C(1) << 40) - 1)

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
	uint64_t  hkey;    /* its key in cheap: at most first (core.c) */
	uint32_t  hpos;    /* in cheap: index + 1; 0: not in it */
};

#define ML_RING_GAP UINT32_MAX

/* Allocator for the core's own memory; realloc(NULL, n) allocates and
 * realloc(p, 0) is never called. */
struct ml_alloc {
	void *(*realloc)(void *p, size_t n);
	void  (*free)(void *p);
};

/* What a caller needs of a lease that has just ended: the buffer to free
 * and, for expiries, what to report.  Every end fills h, buf, size, why
 * and kind; only an expiry fills the rest. */
enum ml_end { ML_END_RELEASED = 1, ML_END_EXPIRED };

struct ml_ended {
	memlease_t h;
	void      *buf;
	size_t     size;
	uint64_t   born;       /* ms since the epoch of the core */
	uint64_t   deadline;   /* ML_NO_DEADLINE if none */
	uint32_t   stack;      /* the stack id given to ml_core_add */
	uint8_t    why;        /* enum ml_end */
	bool       report;
	uint8_t    kind;
	char       label[ML_LABEL_MAX + 1];
};

/* A copy of one live lease, for listings. */
struct ml_info {
	memlease_t h;
	void      *buf;
	size_t     size;
	uint64_t   born;
	uint64_t   deadline;
	uint32_t   stack;
	uint32_t   pins;
	uint32_t   releases;
	bool       report;
	bool       overdue;
	bool       released;   /* released while pinned: freed at last unpin */
	uint8_t    kind;
	char       label[ML_LABEL_MAX + 1];
};

struct ml_core {
	struct ml_wordlock lock;
	struct ml_alloc  a;
	uint64_t         epoch;    /* the `now` of ml_core_init */

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

	uint32_t        *heap;     /* entry indices, earliest deadline first */
	uint32_t         nheap;
	uint32_t         heapcap;
	struct ml_class *cls;      /* deadline classes: [0, nclasses) in use */
	uint32_t         nclasses;
	uint32_t         clscap;   /* at most ML_CLASSES */
	uint32_t        *chash;    /* their index by key (core.c) */
	uint32_t         chint;    /* the class last found */
	uint32_t        *cheap;    /* those not empty, earliest first, kept
	                            * lazily (core.c: cheap_update) */
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

	struct ml_block  first;    /* the static block */
};

/* A core in memory of the caller's; ml_core_new() allocates one. */
int   ml_core_init(struct ml_core *c, const struct ml_alloc *a, uint64_t now);
void  ml_core_fini(struct ml_core *c, void (*free_buf)(void *, unsigned kind));
/* A core whose own memory comes from `a`, its epoch `now`: 0, or -ENOMEM.
 * ml_core_free() frees it, and the buffers of the leases still live to
 * free_buf if it is not NULL. */
int   ml_core_new(const struct ml_alloc *a, uint64_t now, struct ml_core **cp);
void  ml_core_free(struct ml_core *c, void (*free_buf)(void *, unsigned kind));

int   ml_core_add(struct ml_core *c, uint64_t now, void *buf, size_t size,
          uint64_t ttl_ms, unsigned releases, uint32_t stack, unsigned kind,
          memlease_t *hp, bool *wake);
int   ml_core_add_labeled(struct ml_core *c, uint64_t now, void *buf,
          size_t size, uint64_t ttl_ms, unsigned releases, uint32_t stack,
          unsigned kind, const char *label, memlease_t *hp, bool *wake);
void *ml_core_get(struct ml_core *c, memlease_t h, size_t *sizep);
void *ml_core_pin(struct ml_core *c, memlease_t h, size_t *sizep);
int   ml_core_unpin(struct ml_core *c, memlease_t h, uint64_t now,
          struct ml_ended *out);
int   ml_core_release(struct ml_core *c, memlease_t h, struct ml_ended *out);
int   ml_core_end(struct ml_core *c, memlease_t h, struct ml_ended *out);
int   ml_core_move(struct ml_core *c, memlease_t h, void *buf, size_t size);
int   ml_core_renew(struct ml_core *c, memlease_t h, uint64_t now,
          uint64_t ttl_ms, bool *wake);
int   ml_core_set_releases(struct ml_core *c, memlease_t h, unsigned n);
int   ml_core_set_label(struct ml_core *c, memlease_t h, const char *label);
int   ml_core_set_report(struct ml_core *c, memlease_t h, bool on);
int   ml_core_expire(struct ml_core *c, uint64_t now, struct ml_ended *out,
          int max);
int   ml_core_expire_one(struct ml_core *c, memlease_t h,
          struct ml_ended *out);
int64_t ml_core_next_deadline(struct ml_core *c, uint64_t now);
/* For the expiring thread, as it goes to sleep: ms until the next deadline,
 * at most max_ms, and the time it will look again, after which a new
 * lease or renewal wakes it only if its deadline comes first. */
int64_t ml_core_arm(struct ml_core *c, uint64_t now, int64_t max_ms);
void  ml_core_stats(struct ml_core *c, struct memlease_stats *st);
/* Live leases of each kind (ML_KIND_MAX + 1 counts). */
void  ml_core_live_kinds(struct ml_core *c, uint64_t *out);
int   ml_core_info(struct ml_core *c, memlease_t h, struct ml_info *out);
int   ml_core_list(struct ml_core *c, uint32_t *cursor,
          struct ml_info *out, int max);

/*
 * Core locks this thread holds.  A signal handler that allocates or frees
 * while its thread is inside the core must not wait for the core's lock:
 * the preload reads this to pass such calls by (tag.c).
 */
extern __thread int ml_core_depth __attribute__((tls_model("initial-exec")));

void  ml_core_lock(struct ml_core *c);
void  ml_core_unlock(struct ml_core *c);
void  ml_core_reinit_lock(struct ml_core *c);

/* The bytes of an entry block, as the core asks its allocator for one
 * (for a benchmark that serves them apart). */
size_t ml_core_block_bytes(void);

#endif /* ML_CORE_H */
