/*
 * tag.h - the tracking layer of the preload: which allocations become
 * leases (rules, decided once per call site), and what becomes of their
 * blocks (free, realloc, expiry actions, late frees).
 *
 * The shim (shim.c) calls in here only when tagging is on and the recursion
 * guard is not held; everything here returns a result with the C library's
 * contract (errno included).
 */
#ifndef ML_TAG_H
#define ML_TAG_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "memlease.h"
#include "rules.h"

struct ml_ended;

/* Lease kinds (the core's 3-bit `kind`): how a lease's block ends. */
enum ml_kind {
	ML_KIND_BUFFER = 0,     /* memlease_alloc(): ML_RUNTIME_BUFFER */
	ML_KIND_REPORT,         /* tagged, action=report */
	ML_KIND_FREE,           /* tagged action=free, or memlease_adopt() */
	ML_KIND_RECLAIM,        /* tagged, action=reclaim: on its own pages */
	ML_KIND_ABORT,          /* tagged, action=abort */
};

/* The sizes that some rule in force may tag: n is one of them when
 * n - ml_tag_min <= ml_tag_span (unsigned).  With no rules in force, only
 * SIZE_MAX is, and ml_tag_alloc() leaves it untagged.  Read on every
 * allocation (relaxed loads); while rules are being replaced the two may
 * be of different rule sets: ml_tag_alloc() decides with the rules. */
extern _Atomic size_t ml_tag_min, ml_tag_span;

static inline bool
ml_tag_may(size_t n)
{
	return n - atomic_load_explicit(&ml_tag_min, memory_order_relaxed) <=
	    atomic_load_explicit(&ml_tag_span, memory_order_relaxed);
}
/* Some block was ever tracked: free() must look (a relaxed load). */
extern atomic_bool ml_tag_tracking;

/* The preload's start (init.c): rules from MEMLEASE_RULES and
 * MEMLEASE_CONFIG, MEMLEASE_INHERIT, MEMLEASE_REPORT_AT_EXIT.  Never fails: a bad
 * configuration is reported and nothing is tagged. */
void  ml_tag_init(void);
/* At exit: report live tagged leases if asked to. */
void  ml_tag_exit(void);

/* The rules in force: parse text and put it in force (0), or keep the
 * current rules and return -1 with *err set. */
int   ml_tag_set_rules(const char *text, struct ml_rules_error *err);
/* The rules in force as text, from ml_real_malloc(): free it with
 * ml_real_free(), which is not free() where the C library's allocator is
 * not the first (an ASan linked into the program); NULL if out of memory. */
char *ml_tag_rules_text(void);

/* The allocation functions, for the allocations that stay untagged. */
enum ml_alloc_fn {
	ML_FN_MALLOC, ML_FN_CALLOC, ML_FN_MEMALIGN, ML_FN_ALIGNED_ALLOC,
	ML_FN_VALLOC, ML_FN_PVALLOC,
};

/* An allocation that may be tagged: n bytes (calloc: already multiplied
 * and checked), aligned to `align` (the memalign family; checked by the
 * caller where the function has to), from return address ra.  Returns the
 * block, or NULL with errno set: the contract of the function `fn`. */
void  *ml_tag_alloc(enum ml_alloc_fn fn, size_t align, size_t n,
          const void *ra);

/* free(p) of a block that may be tracked: true if it was (handled). */
bool   ml_tag_free(void *p);

/* realloc(p, n) of a block that may be tracked: true if it was, with the
 * result in *out. */
bool   ml_tag_realloc(void *p, size_t n, void **out);

/* malloc_usable_size(p) of a block that may be tracked. */
bool   ml_tag_usable_size(void *p, size_t *out);

/* memlease_adopt(): p under a new lease, *hp; 0, or -EEXIST (p is
 * tracked already), -ENOMEM, -EINVAL. */
int    ml_tag_adopt(void *p, uint64_t ttl_ms, unsigned releases,
           uint32_t stack, memlease_t *hp);

/* Register ml_tag_ended() with the runtime for the kinds of ours. */
void   ml_tag_register(void);

/* After the core ended a lease of a kind of ours (not ML_KIND_BUFFER):
 * free its block if released, apply its kind's action if expired. */
void   ml_tag_ended(const struct ml_ended *e, uint64_t now);

/* Fork handlers. */
void   ml_tag_prepare(void);
void   ml_tag_parent(void);
void   ml_tag_child(void);

#endif /* ML_TAG_H */
