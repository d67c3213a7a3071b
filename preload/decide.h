/*
 * decide.h - which allocations become leases: the rules in force, and the
 * verdict for one allocation (decided once per call site and per stack,
 * then cached).
 */
#ifndef ML_DECIDE_H
#define ML_DECIDE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rules.h"
#include "sample.h"
#include "stacks.h"

/* The rules in force, one immutable snapshot. */
struct ml_ruleset {
	struct ml_rules    r;
	uint32_t           gen;
	uint64_t           size_min, size_max;  /* of all rules together */
	uint32_t           callers;             /* rules with caller= */
	int                depth;               /* frames to capture */
	uint64_t           sample;              /* sample= of its rules, or 0 */
	bool               sampled_only;        /* every rule has sample= */
	atomic_uint        hits[ML_RULES_MAX];  /* every= counters */
	struct ml_ruleset *older;               /* retired before this one */
};

extern _Atomic(struct ml_ruleset *) ml_decide_rs;

/* The rules in force (NULL: none); an acquire load. */
static inline struct ml_ruleset *
ml_decide_rules(void)
{
	return atomic_load_explicit(&ml_decide_rs, memory_order_acquire);
}

/* The sizes that some rule in force may tag: n is one of them when
 * n - ml_decide_min <= ml_decide_span (unsigned).  With no rules in force,
 * only SIZE_MAX is, and the tracking layer leaves it untagged.  Read on
 * every allocation (relaxed loads); while rules are being replaced the two
 * may be of different rule sets: the tracking layer decides with the
 * rules. */
extern _Atomic size_t ml_decide_min, ml_decide_span;

static inline bool
ml_decide_may(size_t n)
{
	return n - atomic_load_explicit(&ml_decide_min, memory_order_relaxed) <=
	    atomic_load_explicit(&ml_decide_span, memory_order_relaxed);
}

/* Byte sampling (sample.h): this thread's sampler.  Initial-exec: the
 * allocation path reads it without a call. */
extern __thread struct ml_sampler ml_decide_sampler
    __attribute__((tls_model("initial-exec")));

/* Every rule in force has sample= (a relaxed load, on every allocation of
 * their sizes). */
extern atomic_bool ml_decide_sampling;

/* With sample= in every rule in force: whether an allocation of n bytes
 * stays before this thread's countdown (n is taken off it), and so is not
 * sampled; false otherwise (the tracking layer decides).  One relaxed
 * load, a compare and a subtraction on a thread-local. */
static inline bool
ml_decide_unsampled(size_t n)
{
	return atomic_load_explicit(&ml_decide_sampling,
	    memory_order_relaxed) && ml_sample_skip(&ml_decide_sampler, n);
}

/* The crossing of this thread's countdown (seeded at its first). */
bool  ml_decide_cross(const struct ml_ruleset *rs, size_t n);

/* Whether an allocation of n bytes is sampled, when rs->sample is not 0.
 * One not sampled costs a compare and a subtraction on a thread-local. */
static inline bool
ml_decide_sampled(const struct ml_ruleset *rs, size_t n)
{
	return !ml_sample_skip(&ml_decide_sampler, n) &&
	    ml_decide_cross(rs, n);
}

/* Put r in force (taken, whatever the result): 0 or a negative errno. */
int   ml_decide_install(struct ml_rules *r);

/* The rules in force: parse text and put it in force (0), or keep the
 * current rules and return -1 with *err set. */
int   ml_decide_set_rules(const char *text, struct ml_rules_error *err);
/* The rules in force as text, from ml_real_malloc(): free it with
 * ml_real_free(), which is not free() where the C library's allocator is
 * not the first (an ASan linked into the program); NULL if out of memory. */
char *ml_decide_rules_text(void);

/* A stack from return address ra, of rs's depth.  Inline, as
 * ml_stacks_capture() is: no frame of its own to unwind. */
static inline __attribute__((always_inline)) uint32_t
ml_decide_capture(const struct ml_ruleset *rs, const void *ra)
{
	return ml_stacks_capture(ra, rs->depth > 0 ? rs->depth : 1);
}

/* The rule of rs that tags an allocation of n bytes from ra, or -1;
 * `sampled`: byte sampling chose it (ml_decide_sampled()), as a rule with
 * sample= needs.  *stack is captured when a caller= rule needs it.  The
 * guard is held. */
int   ml_decide_choose(struct ml_ruleset *rs, size_t n, const void *ra,
          bool sampled, uint32_t *stack);

/* Fork handlers: the lock that serialises rule changes. */
void  ml_decide_prepare(void);
void  ml_decide_parent(void);
void  ml_decide_child(void);

#endif /* ML_DECIDE_H */
