/*
 * decide.c - which allocations become leases (see decide.h).
 *
 * The rules in force are one immutable snapshot, swapped whole when they
 * change (old snapshots are never freed: another thread may still read
 * one).  A size range read from the snapshot rejects most allocations with
 * two compares; byte sampling (sample=, one countdown a thread) then
 * rejects most of the rest with one more when every rule samples; then
 * the verdict of the call site (object=, cached per
 * return address) and, for rules with caller=, of the allocation's stack
 * (cached per stack id) pick the first rule that accepts it; every=
 * samples last.  Unwinding happens only for allocations that a rule may
 * tag.
 *
 * Locking: `dc.lock` serialises rule changes; readers take none (an
 * acquire load of the snapshot).  Never: free a snapshot, or decide
 * without the recursion guard held (symbolizing allocates).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>
#include <time.h>

#include "decide.h"
#include "guard.h"
#include "mem.h"
#include "runtime.h"
#include "sites.h"
#include "symbols.h"

_Atomic size_t ml_decide_min = SIZE_MAX, ml_decide_span;
_Atomic(struct ml_ruleset *) ml_decide_rs;

static struct {
	struct ml_ruleset *retired;  /* kept (still read, maybe), not leaked */
	pthread_mutex_t    lock;
	uint32_t           gen;
	_Atomic uint64_t   seed;     /* of the samplers: entropy, then one */
	atomic_uint        seeds;    /* per thread seeded */
	atomic_uint        epoch;    /* of the seeds: a fork child's is new */
} dc = { .lock = PTHREAD_MUTEX_INITIALIZER, .epoch = 1 };

__thread struct ml_sampler ml_decide_sampler
    __attribute__((tls_model("initial-exec")));
atomic_bool ml_decide_sampling;

/* Rules. */

int
ml_decide_install(struct ml_rules *r)
{
	struct ml_ruleset *rs = NULL;

	if (r->n > 0) {
		int err = ml_runtime_ready();
		if (err != 0) {
			ml_rules_free(r);
			return err;
		}
		if ((rs = ml_mem_calloc(1, sizeof *rs)) == NULL) {
			ml_rules_free(r);
			return -ENOMEM;
		}
		rs->r = *r;
		rs->size_min = UINT64_MAX;
		rs->depth = ml_runtime_depth();
		rs->sampled_only = true;
		for (int i = 0; i < r->n; i++) {
			const struct ml_rule *x = &r->v[i];
			if (x->sample != 0)
				rs->sample = x->sample;  /* the same in all */
			else
				rs->sampled_only = false;
			if (x->size_min < rs->size_min)
				rs->size_min = x->size_min;
			if (x->size_max > rs->size_max)
				rs->size_max = x->size_max;
			if (x->caller != NULL) {
				rs->callers |= 1u << i;
				if ((int)x->depth > rs->depth)
					rs->depth = (int)x->depth;
			}
		}
	} else {
		ml_rules_free(r);
	}
	pthread_mutex_lock(&dc.lock);
	if (rs != NULL)
		rs->gen = ++dc.gen;
	struct ml_ruleset *old = atomic_exchange_explicit(&ml_decide_rs, rs,
	    memory_order_acq_rel);
	if (old != NULL) {
		old->older = dc.retired;
		dc.retired = old;
	}
	atomic_store_explicit(&ml_decide_min, rs != NULL ? rs->size_min :
	    SIZE_MAX, memory_order_relaxed);
	atomic_store_explicit(&ml_decide_span, rs != NULL ? rs->size_max -
	    rs->size_min : 0, memory_order_relaxed);
	atomic_store_explicit(&ml_decide_sampling, rs != NULL &&
	    rs->sampled_only, memory_order_relaxed);
	pthread_mutex_unlock(&dc.lock);
	return 0;
}

int
ml_decide_set_rules(const char *text, struct ml_rules_error *err)
{
	struct ml_rules r;
	int rc;

	ml_guard_enter();
	rc = ml_rules_parse(text, &r, err);
	ml_guard_leave();
	if (rc != 0)
		return -1;
	if ((rc = ml_decide_install(&r)) != 0) {
		err->line = err->column = 0;
		err->nomem = rc == -ENOMEM;
		snprintf(err->msg, sizeof err->msg, "%s", strerror(-rc));
		return -1;
	}
	return 0;
}

char *
ml_decide_rules_text(void)
{
	struct ml_ruleset *rs = atomic_load(&ml_decide_rs);
	struct ml_rules none = { NULL, 0 };
	const struct ml_rules *r = rs != NULL ? &rs->r : &none;
	size_t len = ml_rules_format(r, NULL, 0) + 1;
	char *text = ml_mem_malloc(len);

	if (text != NULL)
		ml_rules_format(r, text, len);
	return text;
}

/* Byte sampling. */

/* A thread's first crossing seeds its sampler (and again in a fork
 * child, whose samplers would repeat the parent's): from the process's
 * seed, drawn once from the kernel, and how many threads were seeded. */
bool
ml_decide_cross(const struct ml_ruleset *rs, size_t n)
{
	struct ml_sampler *s = &ml_decide_sampler;
	unsigned epoch = atomic_load_explicit(&dc.epoch, memory_order_relaxed);

	if (s->epoch != epoch) {
		uint64_t seed = atomic_load(&dc.seed);
		if (seed == 0) {
			struct timespec ts;
			int err = errno;        /* malloc keeps the program's */
			if (getrandom(&seed, sizeof seed, GRND_NONBLOCK) !=
			    sizeof seed) {
				clock_gettime(CLOCK_MONOTONIC, &ts);
				seed = (uint64_t)ts.tv_nsec ^ (uint64_t)ts.tv_sec
				    << 32 ^ (uint64_t)getpid() << 16;
			}
			errno = err;
			seed |= 1;
			uint64_t none = 0;
			if (!atomic_compare_exchange_strong(&dc.seed, &none,
			    seed))
				seed = none;
		}
		/* a thread's seed: the process's, plus an odd multiple of its
		 * number (splitmix64 mixes it) */
		seed += (uint64_t)(atomic_fetch_add(&dc.seeds, 1) + 1) *
		    UINT64_C(0xd1342543de82ef95);
		ml_sample_seed(s, rs->sample, seed);
		s->epoch = epoch;
	}
	return ml_sample_cross(s, rs->sample, n);
}

/* The rules whose object= accepts the code at ra (its object only: no
 * function is named on the allocation path). */
static uint32_t
site_verdict(const struct ml_ruleset *rs, const void *ra)
{
	const char *object = ml_symbols_object((uintptr_t)ra);
	uint32_t mask = 0;

	for (int i = 0; i < rs->r.n; i++)
		if (ml_rule_object_ok(&rs->r.v[i], object))
			mask |= 1u << i;
	return mask;
}

/* The rules with caller= that accept a stack. */
static uint32_t
stack_verdict(const struct ml_ruleset *rs, uint32_t stack, bool *whole)
{
	uintptr_t ips[ML_STACK_MAX_DEPTH];
	const char *fn[ML_STACK_MAX_DEPTH];
	struct ml_frame f;
	uint32_t mask = 0;
	int n = ml_stacks_get(stack, ips, ML_STACK_MAX_DEPTH);

	for (int i = 0; i < n; i++) {
		if (!ml_stacks_symbolize(ips[i], &f))
			*whole = false;
		fn[i] = f.function;
	}
	for (int i = 0; i < rs->r.n; i++)
		if ((rs->callers & 1u << i) &&
		    ml_rule_caller_ok(&rs->r.v[i], fn, n))
			mask |= 1u << i;
	return mask;
}

int
ml_decide_choose(struct ml_ruleset *rs, size_t n, const void *ra,
    bool sampled, uint32_t *stack)
{
	uint32_t cand = 0, site, callers;

	for (int i = 0; i < rs->r.n; i++)
		if (ml_rule_size_ok(&rs->r.v[i], n) &&
		    (sampled || rs->r.v[i].sample == 0))
			cand |= 1u << i;
	if (cand == 0)
		return -1;
	if (!ml_sites_get(ra, rs->gen, &site)) {
		site = site_verdict(rs, ra);
		ml_sites_put(ra, rs->gen, site);
	}
	cand &= site;
	if (cand & rs->callers) {
		*stack = ml_decide_capture(rs, ra);
		if (!ml_sites_stack_get(*stack, rs->gen, &callers)) {
			bool whole = true;
			callers = stack_verdict(rs, *stack, &whole);
			if (whole)
				ml_sites_stack_put(*stack, rs->gen, callers);
		}
		cand &= ~rs->callers | callers;
	}
	for (; cand != 0; cand &= cand - 1) {
		int i = __builtin_ctz(cand);
		uint32_t every = rs->r.v[i].every;
		if (every <= 1 || atomic_fetch_add_explicit(&rs->hits[i], 1,
		    memory_order_relaxed) % every == 0)
			return i;
	}
	return -1;
}

/* Fork. */

void
ml_decide_prepare(void)
{
	pthread_mutex_lock(&dc.lock);
}

void
ml_decide_parent(void)
{
	pthread_mutex_unlock(&dc.lock);
}

void
ml_decide_child(void)
{
	pthread_mutex_init(&dc.lock, NULL);
	atomic_store(&dc.seed, 0);
	atomic_fetch_add(&dc.epoch, 1);
}
