/*
 * core.h - the lease table: entry blocks, handles, deadlines, stats.
 *
 * The core is pure C: no libev, jansson or libunwind, no clock of its own
 * (every call that needs the time takes `now`, in ms), and no allocation of
 * lease buffers (callers hand buffers in and get them back when a lease
 * ends, so that they are freed outside the lock).  Its own memory (the core
 * itself, dynamic entry blocks, the block directory, the deadline heap,
 * labels) comes from the allocator given to ml_core_new().
 *
 * Locking: one lock per core (wordlock.h) guards all of its state.
 * No call holds it while it calls out, except to the core's allocator.
 * It is let go with a plain store, and while the process has one thread
 * it is taken with one too.
 *
 * A core is a pointer here: its insides (core-private.h) are for the
 * core's files alone, core.c (these calls), table.c (entry blocks and
 * handles) and queue.c (the deadline queue), and for the core's tests.
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

#include "alloc.h"
#include "labels.h"
#include "memlease.h"

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
	uint64_t   sample;     /* sample=BYTES that chose it, 0: not sampled;
	                        * its weights: ml_sample_bytes(size, sample),
	                        * ml_sample_count(size, sample) (sample.h) */
	uint32_t   pins;
	uint32_t   releases;
	bool       report;
	bool       overdue;
	bool       released;   /* released while pinned: freed at last unpin */
	uint8_t    kind;
	char       label[ML_LABEL_MAX + 1];
};

/* A core: its insides are the core's own (core-private.h). */
struct ml_core;

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
int   ml_core_add_sampled(struct ml_core *c, uint64_t now, void *buf,
          size_t size, uint64_t ttl_ms, unsigned releases, uint32_t stack,
          unsigned kind, const char *label, uint64_t sample, memlease_t *hp,
          bool *wake);
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
/* Free the spare entry block, if one is kept: how many were freed. */
int   ml_core_trim(struct ml_core *c);
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
