/*
 * tag.h - the tracking layer of the preload: which allocations become
 * leases (decide.h: rules, decided once per call site), and what becomes
 * of their blocks (block.h: free, realloc, expiry actions, late frees).
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

#include "block.h"
#include "decide.h"
#include "ptrmap.h"
#include "memlease.h"

/* The sizes that some rule in force may tag (decide.h): two relaxed
 * loads, on every allocation. */
static inline bool
ml_tag_may(size_t n)
{
	return ml_decide_may(n);
}
/* With sample= in every rule: an allocation of n bytes that byte sampling
 * passes by (decide.h), its bytes counted down. */
static inline bool
ml_tag_unsampled(size_t n)
{
	return ml_decide_unsampled(n);
}
/* Some block was ever tracked: free() must look (a relaxed load). */
extern atomic_bool ml_tag_tracking;

/* Whether free(p) or realloc(p) must call in (ml_tag_free(),
 * ml_tag_realloc()): p may be tracked, or tombs wait to be shrunk
 * (block.h).  Inline, so that the free() of a block never tracked costs no
 * call once something is tracked (under sample=, most blocks): two
 * relaxed loads and the filter's hash. */
static inline bool
ml_tag_may_hold(const void *p)
{
	return atomic_load_explicit(&ml_block_later,
	    memory_order_relaxed) != 0 || ml_ptrmap_maybe(p);
}

/* The preload's start (init.c): rules from MEMLEASE_RULES and
 * MEMLEASE_CONFIG, MEMLEASE_INHERIT, MEMLEASE_REPORT_AT_EXIT.  Never
 * fails: a bad configuration is reported and nothing is tagged. */
void  ml_tag_init(void);
/* At exit: report live tagged leases if asked to. */
void  ml_tag_exit(void);

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

#endif /* ML_TAG_H */
