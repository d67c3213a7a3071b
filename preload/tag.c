/*
 * tag.c - the tracking layer of the preload (see tag.h).
 *
 * Deciding: the rules in force are one immutable snapshot, swapped whole
 * when they change (old snapshots are never freed: another thread may still
 * read one).  A size range read from the snapshot rejects most allocations
 * with two compares; then the verdict of the call site (object=, cached per
 * return address) and, for rules with caller=, of the allocation's stack
 * (cached per stack id) pick the first rule that accepts it; every= samples
 * last.  Unwinding happens only for allocations that a rule may tag.
 *
 * Tracking: a tagged block is an entry in the pointer map (ptrmap.h) and a
 * lease in the core.  Whoever removes a block's entry decides its fate; an
 * entry the program freed while its lease was ending (pinned, or expiring
 * on another thread) is marked ENDING and freed by that ending.
 *
 * Locking: a map shard is taken before the core's lock (a tagged
 * allocation adds its lease under the shard lock, so that its expiry cannot
 * overtake it); nothing here takes a shard while holding the core's lock.
 * `tg.lock` serialises rule changes.  Code that may allocate runs with the
 * recursion guard held, and never under a shard lock.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "clock.h"
#include "core.h"
#include "fault.h"
#include "guard.h"
#include "mem.h"
#include "ptrmap.h"
#include "real.h"
#include "reclaim.h"
#include "report.h"
#include "runtime.h"
#include "sites.h"
#include "stacks.h"
#include "tag.h"

#define LATE_SHOWN   16      /* late frees diagnosed one by one */
#define CONFIG_MAX   (1 << 20)

_Atomic size_t ml_tag_min = SIZE_MAX, ml_tag_span;
atomic_bool ml_tag_tracking;

struct ruleset {
	struct ml_rules r;
	uint32_t        gen;
	uint64_t        size_min, size_max;  /* of all rules together */
	uint32_t        callers;             /* rules with caller= */
	int             depth;               /* frames to capture */
	atomic_uint     hits[ML_RULES_MAX];  /* every= counters */
	struct ruleset *older;               /* retired before this one */
};

static struct {
	_Atomic(struct ruleset *) rs;
	struct ruleset *retired;   /* kept (still read, maybe), not leaked */
	pthread_mutex_t lock;
	uint32_t        gen;
	bool            at_exit;
	atomic_uint     late;                /* late frees and reallocs */
} tg = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* Diagnostics of late frees: the first LATE_SHOWN, then a count. */
static void
late(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
late(const char *fmt, ...)
{
	unsigned n = atomic_fetch_add(&tg.late, 1) + 1;
	char line[512];
	va_list ap;

	if (n > LATE_SHOWN)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	ml_report_diag("%s%s", line, n == LATE_SHOWN ?
	    " (further ones are not shown)" : "");
}

/* Rules. */

static int
install(struct ml_rules *r)
{
	struct ruleset *rs = NULL;

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
		for (int i = 0; i < r->n; i++) {
			const struct ml_rule *x = &r->v[i];
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
	pthread_mutex_lock(&tg.lock);
	if (rs != NULL)
		rs->gen = ++tg.gen;
	struct ruleset *old = atomic_exchange_explicit(&tg.rs, rs,
	    memory_order_acq_rel);
	if (old != NULL) {
		old->older = tg.retired;
		tg.retired = old;
	}
	atomic_store_explicit(&ml_tag_min, rs != NULL ? rs->size_min :
	    SIZE_MAX, memory_order_relaxed);
	atomic_store_explicit(&ml_tag_span, rs != NULL ? rs->size_max -
	    rs->size_min : 0, memory_order_relaxed);
	pthread_mutex_unlock(&tg.lock);
	return 0;
}

int
ml_tag_set_rules(const char *text, struct ml_rules_error *err)
{
	struct ml_rules r;
	int rc;

	ml_guard_enter();
	rc = ml_rules_parse(text, &r, err);
	ml_guard_leave();
	if (rc != 0)
		return -1;
	if ((rc = install(&r)) != 0) {
		err->line = err->column = 0;
		err->nomem = rc == -ENOMEM;
		snprintf(err->msg, sizeof err->msg, "%s", strerror(-rc));
		return -1;
	}
	return 0;
}

char *
ml_tag_rules_text(void)
{
	struct ruleset *rs = atomic_load(&tg.rs);
	struct ml_rules none = { NULL, 0 };
	const struct ml_rules *r = rs != NULL ? &rs->r : &none;
	size_t len = ml_rules_format(r, NULL, 0) + 1;
	char *text = ml_mem_malloc(len);

	if (text != NULL)
		ml_rules_format(r, text, len);
	return text;
}

/* Deciding. */

/* Inline, as ml_stacks_capture() is: no frame of its own to unwind. */
static inline __attribute__((always_inline)) uint32_t
capture(const void *ra, int depth)
{
	return ml_stacks_capture(ra, depth > 0 ? depth : 1);
}

/* The rules whose object= accepts the code at ra; *whole is cleared if
 * a name was not known (out of memory): the verdict is not to be kept. */
static uint32_t
site_verdict(const struct ruleset *rs, const void *ra, bool *whole)
{
	struct ml_frame f;
	uint32_t mask = 0;

	if (!ml_stacks_symbolize((uintptr_t)ra, &f))
		*whole = false;
	for (int i = 0; i < rs->r.n; i++)
		if (ml_rule_object_ok(&rs->r.v[i], f.object))
			mask |= 1u << i;
	return mask;
}

/* The rules with caller= that accept a stack. */
static uint32_t
stack_verdict(const struct ruleset *rs, uint32_t stack, bool *whole)
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

/* The rule that tags an allocation of n bytes from ra, or -1.  *stack is
 * captured when a caller= rule needs it.  The guard is held. */
static int
choose(struct ruleset *rs, size_t n, const void *ra, uint32_t *stack)
{
	uint32_t cand = 0, site, callers;

	for (int i = 0; i < rs->r.n; i++)
		if (ml_rule_size_ok(&rs->r.v[i], n))
			cand |= 1u << i;
	if (cand == 0)
		return -1;
	bool whole = true;
	if (!ml_sites_get(ra, rs->gen, &site)) {
		site = site_verdict(rs, ra, &whole);
		if (whole)
			ml_sites_put(ra, rs->gen, site);
	}
	cand &= site;
	if (cand & rs->callers) {
		*stack = capture(ra, rs->depth);
		if (!ml_sites_stack_get(*stack, rs->gen, &callers)) {
			whole = true;
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

/*
 * Whether this thread holds a lock of memlease's: a shard of the map
 * (malloc_usable_size() takes one without the guard) or the core's
 * (inside memlease_alloc()...).  A call that finds it so comes from a
 * signal handler that interrupted memlease, and must not wait.
 */
static inline bool
interrupted(void)
{
	return ml_lock_depth > 0 || ml_core_depth > 0;
}

/* Allocating. */

static void *
plain(enum ml_alloc_fn fn, size_t align, size_t n)
{
	switch (fn) {
	case ML_FN_CALLOC:        return ml_real_calloc(1, n);
	case ML_FN_MEMALIGN:      return ml_real_memalign(align, n);
	case ML_FN_ALIGNED_ALLOC: return ml_real_aligned_alloc(align, n);
	case ML_FN_VALLOC:        return ml_real_valloc(n);
	case ML_FN_PVALLOC:       return ml_real_pvalloc(n);
	case ML_FN_MALLOC:
	default:                  return ml_real_malloc(n);
	}
}

static enum ml_kind
kind_of(enum ml_action a)
{
	switch (a) {
	case ML_ACT_FREE:    return ML_KIND_FREE;
	case ML_ACT_RECLAIM: return ML_KIND_RECLAIM;
	case ML_ACT_ABORT:   return ML_KIND_ABORT;
	case ML_ACT_REPORT:
	default:             return ML_KIND_REPORT;
	}
}

/* A block of an ended lease goes back where it came from. */
static void
release_block(const struct ml_pent *v)
{
	if (v->kind == ML_KIND_RECLAIM)
		ml_reclaim_free((void *)v->p, v->maplen, false);
	else
		ml_real_free((void *)v->p);
}

static void *
tagged(const struct ml_rule *r, enum ml_alloc_fn fn, size_t align, size_t n,
    uint32_t stack)
{
	enum ml_kind kind = kind_of(r->action);
	size_t maplen = 0;
	memlease_t h = 0;
	bool wake = false;
	void *p;

	if (kind == ML_KIND_RECLAIM) {
		if ((align & (align - 1)) != 0)  /* an odd alignment: plain */
			return plain(fn, align, n);
		if (fn == ML_FN_VALLOC || fn == ML_FN_PVALLOC)
			align = 0;                /* pages are page-aligned */
		p = ml_reclaim_alloc(align, n, &maplen);
	} else {
		p = plain(fn, align, n);
	}
	if (p == NULL)
		return NULL;
	/* stored once: a store each time would take the line from every
	 * other thread's free() */
	if (!atomic_load_explicit(&ml_tag_tracking, memory_order_relaxed))
		atomic_store_explicit(&ml_tag_tracking, true,
		    memory_order_relaxed);
	struct ml_shard *s = ml_ptrmap_lock(p);
	struct ml_pent *e = ml_ptrmap_insert(s, p);
	if (e != NULL) {
		/* tagged blocks are many: their deadlines are counted from
		 * the coarse clock, two ticks late at most (memlease(7)) */
		h = ml_runtime_add(ml_clock_ms_late(), p, n, r->ttl_ms, 1, kind,
		    stack, r->label, &wake);
		if (h == 0) {
			ml_ptrmap_remove(s, e);
		} else {
			e->h = h;
			e->size = n;
			e->state = ML_P_LIVE;
			e->kind = kind;
			e->held = 0;
			e->maplen = maplen;
		}
	}
	ml_ptrmap_unlock(s);
	if (h == 0) {           /* no lease: the block stays untagged */
		if (kind != ML_KIND_RECLAIM)
			return p;
		ml_reclaim_free(p, maplen, false);
		return plain(fn, align, n);
	}
	if (r->ttl_ms != 0)
		ml_runtime_deadline(wake);
	return p;
}

/* The part of ml_tag_alloc() for an allocation a rule of rs may tag: out
 * of line, so that the others (most allocations) do not pay for its stack
 * frame, a backtrace's frames and saved registers. */
static __attribute__((noinline)) void *
alloc_ruled(struct ruleset *rs, enum ml_alloc_fn fn, size_t align, size_t n,
    const void *ra)
{
	uint32_t stack = 0;

	/* The guard is held throughout: what memlease allocates here is
	 * not tagged, and a signal handler that allocates while this thread
	 * holds a lock of ours passes straight through. */
	int err = errno;
	void *p;
	ml_guard_enter();
	int i = choose(rs, n, ra, &stack);
	if (i < 0) {
		errno = err;
		p = plain(fn, align, n);
	} else {
		if (stack == 0)
			stack = capture(ra, rs->depth);
		errno = err;
		p = tagged(&rs->r.v[i], fn, align, n, stack);
		if (p != NULL)
			errno = err;
	}
	ml_guard_leave();
	return p;
}

void *
ml_tag_alloc(enum ml_alloc_fn fn, size_t align, size_t n, const void *ra)
{
	struct ruleset *rs = atomic_load_explicit(&tg.rs,
	    memory_order_acquire);

	/* in a signal handler (see interrupted()): a lease would wait for a
	 * lock this thread holds; untagged */
	if (rs == NULL || n < rs->size_min || n > rs->size_max ||
	    interrupted())
		return plain(fn, align, n);
	return alloc_ruled(rs, fn, align, n, ra);
}

/* Freeing. */

/*
 * free() or realloc() of p while this thread holds a lock of the map or
 * the core's: a signal handler that interrupted memlease.  Nothing may
 * wait.  Returns
 * the entry's shard locked, or NULL: p is not tracked (*tracked false) or
 * its shard is taken (*tracked true: it may be tracked, and must not go
 * to the next allocator).
 */
static struct ml_shard *
nested(void *p, struct ml_pent **ep, bool *tracked)
{
	struct ml_shard *s = ml_ptrmap_trylock(p);

	*tracked = true;
	if (s == NULL)
		return NULL;
	if ((*ep = ml_ptrmap_find(s, p)) == NULL) {
		ml_ptrmap_unlock(s);
		*tracked = false;
		return NULL;
	}
	return s;
}

/* A free() in a signal handler: a live block is freed when its lease
 * ends (it may leak), anything else of ours is left as it is. */
static bool
free_nested(void *p)
{
	struct ml_pent *e;
	bool tracked;
	struct ml_shard *s = nested(p, &e, &tracked);

	if (s != NULL) {
		if (e->state == ML_P_MOVING)    /* see move() */
			tracked = false;
		if (e->state == ML_P_LIVE)
			e->state = ML_P_ENDING;
		ml_ptrmap_unlock(s);
	}
	return tracked;
}

static bool
free_tracked(void *p)
{
	struct ml_ended end;
	struct ml_shard *s = ml_ptrmap_lock(p);
	struct ml_pent *e = ml_ptrmap_find(s, p);
	if (e == NULL) {
		ml_ptrmap_unlock(s);
		return false;
	}
	struct ml_pent v = *e;
	switch (v.state) {
	case ML_P_LIVE:
		if (v.h != 0 && ml_runtime_end(v.h, &end) != 1) {
			/* pinned, or expiring on another thread: that
			 * ending frees the block */
			e->state = ML_P_ENDING;
			ml_ptrmap_unlock(s);
			return true;
		}
		ml_ptrmap_remove(s, e);
		ml_ptrmap_unlock(s);
		release_block(&v);
		return true;
	case ML_P_MOVING:               /* see move() */
		ml_ptrmap_unlock(s);
		return false;
	case ML_P_ENDING:
		ml_ptrmap_unlock(s);
		late("free(%p): freed twice; ignored", p);
		return true;
	default:                /* expired: freed or reclaimed by memlease */
		ml_ptrmap_remove(s, e);
		ml_ptrmap_unlock(s);
		if (v.state == ML_P_RECLAIMED)
			ml_reclaim_free(p, v.maplen, true);
		else if (v.held)
			ml_real_free(p);
		late("free(%p): lease %#llx expired and memlease %s its block; "
		    "this late free is ignored", p, (unsigned long long)v.h,
		    v.state == ML_P_RECLAIMED ? "reclaimed" : "freed");
		return true;
	}
}

bool
ml_tag_free(void *p)
{
	if (!ml_ptrmap_maybe(p))
		return false;
	if (interrupted())
		return free_nested(p);
	ml_guard_enter();
	bool done = free_tracked(p);
	ml_guard_leave();
	return done;
}

/*
 * A mapping of memlease's own (action=reclaim) that the map has no room
 * for: free() would not know it and hand it to the next allocator.  Its n
 * bytes go to a plain block instead.  NULL (ENOMEM) if there is none: the
 * contents are lost, as the realloc() moved them already.
 */
static void *
unmapped(void *q, size_t maplen, size_t n)
{
	void *b = ml_real_malloc(n);

	if (b != NULL)
		memcpy(b, q, n);
	ml_reclaim_free(q, maplen, false);
	if (b == NULL)
		errno = ENOMEM;
	return b;
}

/*
 * realloc() of a live tracked block: the lease moves with it.  The entry
 * stays in the map, marked MOVING, during the real call: an expiry that
 * comes meanwhile only clears its handle (the block is not the expiry's to
 * act on), and a thread that gets the old address from the allocator
 * (once it is freed, before this thread takes the shard again) makes the
 * entry its own if its block is tagged, and otherwise frees, reallocates
 * or adopts its block as an untracked one: the entry is not its block's.
 * (A free() or realloc() of p itself meanwhile would be the program's
 * race on one block, and is not told from that.)  The shard is locked.
 */
static void *
move(struct ml_shard *s, struct ml_pent *e, size_t n)
{
	struct ml_pent v = *e;
	size_t newlen = v.maplen;
	void *p = (void *)v.p, *q;

	e->state = ML_P_MOVING;
	ml_ptrmap_unlock(s);
	if (v.kind == ML_KIND_RECLAIM)
		q = ml_reclaim_realloc(p, v.maplen, n, &newlen);
	else
		q = ml_real_realloc(p, n);
	int err = errno;
	s = ml_ptrmap_lock(p);
	e = ml_ptrmap_find(s, p);
	bool mine = e != NULL && e->state == ML_P_MOVING &&
	    (e->h == v.h || e->h == 0);
	bool expired = mine && e->h == 0;       /* see ml_tag_ended() */
	if (mine && (q == NULL || q == p)) {    /* failed, or in place */
		e->state = ML_P_LIVE;
		if (q != NULL) {
			e->size = n;
			e->maplen = newlen;
			if (!expired && ml_runtime_move(v.h, q, n) != 0)
				e->h = 0;
		}
		if (e->h == 0 && v.kind != ML_KIND_RECLAIM)
			ml_ptrmap_remove(s, e);         /* plain: untracked */
		ml_ptrmap_unlock(s);
		errno = err;
		return q;
	}
	if (mine)
		ml_ptrmap_remove(s, e);
	ml_ptrmap_unlock(s);
	if (q == NULL) {        /* failed, and p's entry was taken: gone */
		errno = err;
		return NULL;
	}
	/* Moved (or p's entry was made another block's): q takes the lease.
	 * A block without a lease (it expired meanwhile) stays tracked only
	 * if it is memlease's own mapping, for free() to unmap it. */
	s = ml_ptrmap_lock(q);
	e = ml_ptrmap_insert(s, q);
	if (e != NULL) {
		*e = v;
		e->p = (uintptr_t)q;
		e->size = n;
		e->maplen = newlen;
		e->state = ML_P_LIVE;
		if (expired || ml_runtime_move(v.h, q, n) != 0)
			e->h = 0;
		if (e->h == 0 && v.kind != ML_KIND_RECLAIM)
			ml_ptrmap_remove(s, e);
	}
	ml_ptrmap_unlock(s);
	if (e == NULL && !expired) {    /* no room in the map: end it */
		struct ml_ended end;
		ml_runtime_end(v.h, &end);
	}
	if (e == NULL && v.kind == ML_KIND_RECLAIM)
		return unmapped(q, newlen, n);
	errno = err;
	return q;
}

static bool
realloc_tracked(void *p, size_t n, void **out)
{
	if (n == 0 && free_tracked(p)) {   /* realloc(p, 0) frees p */
		*out = NULL;
		return true;
	}
	struct ml_shard *s = ml_ptrmap_lock(p);
	struct ml_pent *e = ml_ptrmap_find(s, p);
	if (e == NULL) {
		ml_ptrmap_unlock(s);
		return false;
	}
	switch (e->state) {
	case ML_P_LIVE:
		*out = move(s, e, n);
		return true;
	case ML_P_MOVING:               /* see move() */
		ml_ptrmap_unlock(s);
		return false;
	case ML_P_ENDING:
		ml_ptrmap_unlock(s);
		late("realloc(%p): the block was freed; refused", p);
		errno = ENOMEM;
		*out = NULL;
		return true;
	default:
		ml_ptrmap_unlock(s);
		late("realloc(%p): its lease expired and memlease took the "
		    "block; a new block is returned, its contents lost", p);
		free_tracked(p);
		*out = ml_real_calloc(1, n);
		return true;
	}
}

bool
ml_tag_realloc(void *p, size_t n, void **out)
{
	if (!ml_ptrmap_maybe(p))
		return false;
	if (interrupted()) {            /* see nested() */
		struct ml_pent *e;
		bool tracked;
		struct ml_shard *s = nested(p, &e, &tracked);
		if (s != NULL)
			ml_ptrmap_unlock(s);
		if (!tracked)
			return false;
		*out = NULL;
		errno = ENOMEM;
		return true;
	}
	ml_guard_enter();
	bool done = realloc_tracked(p, n, out);
	ml_guard_leave();
	return done;
}

bool
ml_tag_usable_size(void *p, size_t *out)
{
	bool ours = false;

	if (!ml_ptrmap_maybe(p))
		return false;
	struct ml_shard *s;
	struct ml_pent *e;
	if (ml_lock_depth > 0) {        /* in a signal handler: see nested() */
		bool tracked;
		if ((s = nested(p, &e, &tracked)) == NULL) {
			*out = 0;       /* its shard is taken: cannot tell */
			return tracked;
		}
	} else {
		s = ml_ptrmap_lock(p);
		e = ml_ptrmap_find(s, p);
	}
	if (e != NULL && (e->kind == ML_KIND_RECLAIM ||
	    e->state == ML_P_TOMB || e->state == ML_P_RECLAIMED)) {
		ours = true;
		*out = e->state == ML_P_LIVE ? e->maplen : 0;
	}
	ml_ptrmap_unlock(s);
	return ours;
}

int
ml_tag_adopt(void *p, uint64_t ttl_ms, unsigned releases, uint32_t stack,
    memlease_t *hp)
{
	bool wake = false;
	int r = 0;

	atomic_store(&ml_tag_tracking, true);
	ml_guard_enter();
	struct ml_shard *s = ml_ptrmap_lock(p);
	struct ml_pent *e = ml_ptrmap_find(s, p);
	if (e != NULL && (e->state == ML_P_LIVE ||
	    e->state == ML_P_ENDING)) {  /* MOVING: see move() */
		r = -EEXIST;
	} else if ((e = ml_ptrmap_insert(s, p)) == NULL) {
		r = -ENOMEM;
	} else {
		/* the lease is made under the shard's lock, as in tagged():
		 * its expiry cannot come before its entry */
		size_t size = ml_real_usable_size(p);
		*hp = ml_runtime_add(ml_clock_ms_ceil(), p, size, ttl_ms,
		    releases, ML_KIND_FREE, stack, NULL, &wake);
		if (*hp == 0) {
			r = -errno;
			ml_ptrmap_remove(s, e);
		} else {
			*e = (struct ml_pent){ .p = (uintptr_t)p, .h = *hp,
			    .size = size, .state = ML_P_LIVE,
			    .kind = ML_KIND_FREE };
		}
	}
	ml_ptrmap_unlock(s);
	ml_guard_leave();
	if (r == 0 && ttl_ms != 0)
		ml_runtime_deadline(wake);
	return r;
}

/* Expiry actions. */

/* Whether the next allocator shrinks a block in place (glibc's does). */
static bool
shrinks_in_place(void)
{
	static atomic_int known;        /* 0: not yet, 1: yes, 2: no */

	if (known == 0)
		known = strstr(ml_real_object(), "/libc.so") != NULL ? 1 : 2;
	return known == 1;
}

/*
 * action=free: give the block back, keeping its address out of reuse so
 * that a late free() is told from the free of a new block there.  glibc
 * shrinks it in place to a remnant that is kept (held); an allocator that
 * would move it keeps it whole, its whole pages given back to the kernel.
 * The shard is locked.
 */
static void
tomb(struct ml_pent *e)
{
	e->state = ML_P_TOMB;
	e->held = 1;
	if (!shrinks_in_place()) {
		size_t page = ml_reclaim_page();
		uintptr_t a = (e->p + page - 1) & ~(uintptr_t)(page - 1);
		uintptr_t b = (e->p + e->size) & ~(uintptr_t)(page - 1);
		if (b > a)
			madvise((void *)a, b - a, MADV_DONTNEED);
		return;
	}
	void *q = ml_real_realloc((void *)e->p, 1);
	if (q != (void *)e->p && q != NULL) {
		e->held = 0;    /* moved after all: the address may come back */
		ml_real_free(q);
	}
}

void
ml_tag_ended(const struct ml_ended *end, uint64_t now)
{
	char *diag = NULL;

	if (end->why == ML_END_EXPIRED && end->kind == ML_KIND_RECLAIM) {
		ml_guard_enter();
		diag = ml_report_text(end, now, ML_EV_LATE_ACCESS,
		    "its pages were reclaimed", ml_mem_malloc, ML_LOG_TEXT);
		ml_guard_leave();
	}
	struct ml_shard *s = ml_ptrmap_lock(end->buf);
	struct ml_pent *e = ml_ptrmap_find(s, end->buf);
	if (e == NULL || e->h != end->h) {      /* the program took it */
		ml_ptrmap_unlock(s);
		ml_mem_free(diag);
		return;
	}
	struct ml_pent v = *e;
	if (v.state == ML_P_MOVING) {   /* realloc() in progress: see move() */
		e->h = 0;
		ml_ptrmap_unlock(s);
		ml_mem_free(diag);
		return;
	}
	if (v.state == ML_P_ENDING || end->why == ML_END_RELEASED) {
		ml_ptrmap_remove(s, e);
		ml_ptrmap_unlock(s);
		ml_mem_free(diag);
		release_block(&v);
		return;
	}
	switch (v.kind) {
	case ML_KIND_FREE:
		tomb(e);
		break;
	case ML_KIND_RECLAIM:
		e->state = ML_P_RECLAIMED;
		ml_reclaim_expire(end->buf, v.maplen, diag);
		diag = NULL;
		break;
	case ML_KIND_ABORT:
		ml_report_diag("lease %#llx expired under action=abort; "
		    "aborting", (unsigned long long)v.h);
		abort();
	default:                /* report: the block stays the program's */
		ml_ptrmap_remove(s, e);
		break;
	}
	ml_ptrmap_unlock(s);
	ml_mem_free(diag);
}

/* The end handler of the kinds of ours, and what their expiry does. */
void
ml_tag_register(void)
{
	ml_runtime_on_end(ML_KIND_REPORT, ml_tag_ended,
	    "left to the program", false);
	ml_runtime_on_end(ML_KIND_FREE, ml_tag_ended, "freed", true);
	ml_runtime_on_end(ML_KIND_RECLAIM, ml_tag_ended, "reclaimed", true);
	ml_runtime_on_end(ML_KIND_ABORT, ml_tag_ended, "aborting", false);
}

/* The preload's start and end. */

/* The contents of a file, NUL-terminated, from the next allocator. */
static char *
slurp(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t len = 0;
	char *text;

	if (fd < 0)
		return NULL;
	if ((text = ml_mem_malloc(CONFIG_MAX + 1)) != NULL) {
		ssize_t n;
		while (len < CONFIG_MAX && (n = read(fd, text + len,
		    CONFIG_MAX - len)) != 0) {
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0) {
				ml_mem_free(text);
				text = NULL;
				break;
			}
			len += (size_t)n;
		}
	}
	int err = errno;
	close(fd);
	errno = err;
	if (text != NULL)
		text[len] = '\0';
	return text;
}

/* Parse one source of rules; report an error on one line. */
static bool
parse_source(const char *what, const char *text, struct ml_rules *out)
{
	struct ml_rules_error err;

	if (ml_rules_parse(text, out, &err) == 0)
		return true;
	ml_report_diag("%s:%d:%d: %s; nothing is tagged", what, err.line,
	    err.column, err.msg);
	return false;
}

/* The rules of MEMLEASE_RULES, then those of MEMLEASE_CONFIG. */
static bool
read_rules(struct ml_rules *out)
{
	const char *env = getenv("MEMLEASE_RULES");
	const char *path = getenv("MEMLEASE_CONFIG");
	struct ml_rules a = { NULL, 0 }, b = { NULL, 0 };
	char *text = NULL;

	if (env != NULL && !parse_source("MEMLEASE_RULES", env, &a))
		return false;
	if (path != NULL && *path != '\0') {
		if ((text = slurp(path)) == NULL) {
			ml_report_diag("MEMLEASE_CONFIG=%s: %s; nothing is "
			    "tagged", path, strerror(errno));
			ml_rules_free(&a);
			return false;
		}
		bool ok = parse_source(path, text, &b);
		ml_mem_free(text);
		if (!ok) {
			ml_rules_free(&a);
			return false;
		}
	}
	if (a.n + b.n > ML_RULES_MAX) {
		ml_report_diag("MEMLEASE_RULES and MEMLEASE_CONFIG: more than "
		    "%d rules; nothing is tagged", ML_RULES_MAX);
		ml_rules_free(&a);
		ml_rules_free(&b);
		return false;
	}
	out->n = a.n + b.n;
	out->v = out->n ? ml_mem_malloc(out->n * sizeof *out->v) : NULL;
	if (out->n != 0 && out->v == NULL) {
		ml_report_diag("out of memory reading the rules; nothing is "
		    "tagged");
		ml_rules_free(&a);
		ml_rules_free(&b);
		return false;
	}
	if (a.n)
		memcpy(out->v, a.v, a.n * sizeof *a.v);
	if (b.n)
		memcpy(out->v + a.n, b.v, b.n * sizeof *b.v);
	ml_mem_free(a.v);       /* the strings now belong to out */
	ml_mem_free(b.v);
	return true;
}

/* MEMLEASE_INHERIT=off: programs this one runs start without memlease. */
static void
drop_from_preload(void)
{
	const char *pre = getenv("LD_PRELOAD");
	char *keep, *w, *save = NULL;
	size_t used = 0;

	if (pre == NULL || (keep = ml_mem_malloc(strlen(pre) + 1)) == NULL)
		return;
	char *copy = ml_mem_strdup(pre);
	if (copy == NULL) {
		ml_mem_free(keep);
		return;
	}
	for (w = strtok_r(copy, " :", &save); w != NULL;
	    w = strtok_r(NULL, " :", &save)) {
		const char *base = strrchr(w, '/');
		base = base != NULL ? base + 1 : w;
		if (strncmp(base, "libmemlease.so", 14) == 0)
			continue;
		used += (size_t)sprintf(keep + used, "%s%s", used ? " " : "",
		    w);
	}
	if (used == 0)
		unsetenv("LD_PRELOAD");
	else
		setenv("LD_PRELOAD", keep, 1);
	ml_mem_free(copy);
	ml_mem_free(keep);
}

void
ml_tag_init(void)
{
	struct ml_rules r;
	const char *v;

	ml_guard_enter();
	ml_fault_env();         /* the rules read here are memlease's too */
	if ((v = getenv("MEMLEASE_INHERIT")) != NULL && strcmp(v, "off") == 0)
		drop_from_preload();
	v = getenv("MEMLEASE_REPORT_AT_EXIT");
	tg.at_exit = v != NULL && strcmp(v, "1") == 0;
	if (read_rules(&r)) {
		int err = install(&r);
		if (err != 0)
			ml_report_diag("cannot tag: %s; nothing is tagged",
			    strerror(-err));
	}
	ml_guard_leave();
}

void
ml_tag_exit(void)
{
	struct ml_core *c;
	struct ml_info info[64];
	uint32_t cursor = 0;
	int n;

	if (!tg.at_exit || !atomic_load(&ml_tag_tracking) ||
	    (c = ml_runtime_core()) == NULL)
		return;
	uint64_t now = ml_clock_ms();
	ml_guard_enter();
	while ((n = ml_core_list(c, &cursor, info, 64)) > 0) {
		for (int i = 0; i < n; i++) {
			if (info[i].kind == ML_KIND_BUFFER)
				continue;
			struct ml_ended e = {
				.h = info[i].h, .buf = info[i].buf,
				.size = info[i].size, .born = info[i].born,
				.deadline = info[i].deadline,
				.stack = info[i].stack, .kind = info[i].kind,
				.report = true,
			};
			memcpy(e.label, info[i].label, sizeof e.label);
			ml_report_lease(&e, now, ML_EV_AT_EXIT, NULL);
		}
	}
	ml_guard_leave();
}

/* Fork. */

/* The map's shards are taken before the reclaim records' lock (an expiry
 * holds a shard while it records a reclaimed block). */
void
ml_tag_prepare(void)
{
	pthread_mutex_lock(&tg.lock);
	ml_ptrmap_lock_all();
	ml_reclaim_prepare();
}

void
ml_tag_parent(void)
{
	ml_reclaim_parent();
	ml_ptrmap_unlock_all();
	pthread_mutex_unlock(&tg.lock);
}

void
ml_tag_child(void)
{
	ml_reclaim_child();
	ml_ptrmap_reinit_locks();
	pthread_mutex_init(&tg.lock, NULL);
}
