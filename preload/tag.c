/*
 * tag.c - the tracking layer's front (see tag.h): what the shim asks of
 * it.  An allocation a rule may tag is decided (decide.h), allocated and
 * tracked (block.h); free(), realloc() and malloc_usable_size() of a block
 * that may be tracked go to block.h; memlease_adopt() tracks a block of
 * the program's.  The start (the rules of the configuration, conf.h)
 * and, at exit, the report of the live tagged leases.
 *
 * Locking: none of its own (decide.h and block.h say theirs).  Code that
 * may allocate runs with the recursion guard held.  Never: wait for a lock
 * in a signal handler that interrupted memlease (interrupted()).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "block.h"
#include "bystack.h"
#include "clock.h"
#include "conf.h"
#include "core.h"
#include "decide.h"
#include "fault.h"
#include "options.h"
#include "guard.h"
#include "heap.h"
#include "ptrmap.h"
#include "real.h"
#include "reclaim.h"
#include "report.h"
#include "runtime.h"
#include "tag.h"

atomic_bool ml_tag_tracking;

static struct {
	enum ml_at_exit at_exit;        /* MEMLEASE_REPORT_AT_EXIT */
} tg;

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

/* A block is about to be tracked, the first: from now on free() asks the
 * map's filter (shim.c), and no longer passes straight to the next
 * allocator (heap.h).  Before the block is: a free() of it comes after. */
static void
start_tracking(void)
{
	atomic_store(&ml_tag_tracking, true);
	ml_heap_pass_close(false);
}

/* The tombs memlease's thread made are shrunk by the program's next free()
 * or tagged allocation (block.h).  Cost: one relaxed load. */
static inline void
settle(void)
{
	if (__builtin_expect(atomic_load_explicit(&ml_block_later,
	    memory_order_relaxed) != 0, 0) && !interrupted() &&
	    !ml_guard_held()) {
		ml_guard_enter();
		ml_block_settle_slow();
		ml_guard_leave();
	}
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

static void *
tagged(const struct ml_rule *r, enum ml_alloc_fn fn, size_t align, size_t n,
    uint32_t stack)
{
	enum ml_kind kind = kind_of(r->action);
	memlease_t h;
	bool wake = false;
	void *p;

	if (kind == ML_KIND_RECLAIM) {
		if ((align & (align - 1)) != 0)  /* an odd alignment: plain */
			return plain(fn, align, n);
		if (fn == ML_FN_VALLOC || fn == ML_FN_PVALLOC)
			align = 0;                /* pages are page-aligned */
		/* no mapping (or no record of one left): untagged */
		if ((p = ml_reclaim_alloc(align, n)) == NULL)
			return plain(fn, align, n);
	} else {
		p = plain(fn, align, n);
	}
	if (p == NULL)
		return NULL;
	/* stored once: a store each time would take the line from every
	 * other thread's free() */
	if (!atomic_load_explicit(&ml_tag_tracking, memory_order_relaxed))
		start_tracking();
	/* tagged blocks are many: their deadlines are counted from the
	 * coarse clock, two ticks late at most (memlease(7)) */
	if (ml_block_track(p, n, kind, ml_clock_ms_late(), r->ttl_ms,
	    1, stack, r->label, r->sample, &wake, &h) != 0) {
		/* no lease: the block stays untagged */
		if (kind != ML_KIND_RECLAIM)
			return p;
		ml_reclaim_free(p);
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
alloc_ruled(struct ml_ruleset *rs, enum ml_alloc_fn fn, size_t align, size_t n,
    const void *ra, bool sampled)
{
	uint32_t stack = 0;

	/* The guard is held throughout: what memlease allocates here is
	 * not tagged, and a signal handler that allocates while this thread
	 * holds a lock of ours passes straight through. */
	int err = errno;
	void *p;
	ml_guard_enter();
	int i = ml_decide_choose(rs, n, ra, sampled, &stack);
	if (i < 0) {
		errno = err;
		p = plain(fn, align, n);
	} else {
		if (stack == 0)
			stack = ml_decide_capture(rs, ra);
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
	struct ml_ruleset *rs = ml_decide_rules();

	settle();
	/* in a signal handler (see interrupted()): a lease would wait for a
	 * lock this thread holds; untagged */
	if (rs == NULL || n < rs->size_min || n > rs->size_max ||
	    interrupted())
		return plain(fn, align, n);
	/* byte sampling: the bytes of every allocation in the rules' sizes
	 * count down this thread's sampler; with sample= in every rule, the
	 * shim passed by those that do not cross it (ml_tag_unsampled()),
	 * and one that comes here anyway (the rules changed meanwhile) goes
	 * no further */
	bool sampled = false;
	if (rs->sample != 0 && !(sampled = ml_decide_sampled(rs, n)) &&
	    rs->sampled_only)
		return plain(fn, align, n);
	return alloc_ruled(rs, fn, align, n, ra, sampled);
}

/* Freeing. */

bool
ml_tag_free(void *p)
{
	settle();
	if (!ml_ptrmap_maybe(p))
		return false;
	if (interrupted())
		return ml_block_free_nested(p);
	ml_guard_enter();
	bool done = ml_block_free(p);
	ml_guard_leave();
	return done;
}

bool
ml_tag_realloc(void *p, size_t n, void **out)
{
	if (!ml_ptrmap_maybe(p))
		return false;
	if (interrupted())
		return ml_block_realloc_nested(p, out);
	ml_guard_enter();
	bool done = ml_block_realloc(p, n, out);
	ml_guard_leave();
	return done;
}

bool
ml_tag_usable_size(void *p, size_t *out)
{
	return ml_ptrmap_maybe(p) && ml_block_usable_size(p, out);
}

int
ml_tag_adopt(void *p, uint64_t ttl_ms, unsigned releases, uint32_t stack,
    memlease_t *hp)
{
	bool wake = false;

	start_tracking();
	ml_guard_enter();
	int r = ml_block_track(p, ml_real_usable_size(p), ML_KIND_FREE,
	    ml_clock_ms_ceil(), ttl_ms, releases, stack, NULL, 0, &wake, hp);
	ml_guard_leave();
	if (r == 0 && ttl_ms != 0)
		ml_runtime_deadline(wake);
	return r;
}

/* The preload's start and end. */

void
ml_tag_init(void)
{
	struct ml_rules r;

	ml_guard_enter();
	ml_fault_env();         /* the rules read here are memlease's too */
	if (!ml_options_num(ML_OPT_INHERIT))
		ml_conf_uninherit();
	tg.at_exit = (enum ml_at_exit)ml_options_num(ML_OPT_REPORT_AT_EXIT);
	if (ml_conf_rules(&r)) {
		int err = ml_decide_install(&r);
		if (err != 0)
			ml_report_diag("cannot tag: %s; nothing is tagged",
			    strerror(-err));
	}
	ml_guard_leave();
}

/* At exit, when byte sampling chose leases: what the live ones stand
 * for, one line that says it is an estimate. */
static void
exit_estimates(struct ml_core *c)
{
	struct memlease_stats st;
	char text[300], json[300];

	ml_core_stats(c, &st);
	if (st.sampled == 0)
		return;
	snprintf(text, sizeof text, "memlease: at exit: %" PRIu64 " live "
	    "leases, %" PRIu64 " bytes, %" PRIu64 " of them chosen by sample=; "
	    "estimated: %" PRIu64 " leases, %" PRIu64 " bytes",
	    st.live_leases, st.live_bytes, st.sampled, st.estimated_leases,
	    st.estimated_bytes);
	snprintf(json, sizeof json, "{\"event\":\"estimate_at_exit\",\"pid\":"
	    "%d,\"sampled\":%" PRIu64 ",\"live_leases\":%" PRIu64
	    ",\"live_bytes\":%" PRIu64 ",\"estimated\":true,"
	    "\"estimated_leases\":%" PRIu64 ",\"estimated_bytes\":%" PRIu64
	    "}", (int)getpid(), st.sampled, st.live_leases, st.live_bytes,
	    st.estimated_leases, st.estimated_bytes);
	ml_report_line(text, json);
}

/* A lease of the program's: tagged, not memlease_alloc()'s buffer. */
static bool
exit_tagged(const struct ml_info *in, const void *arg)
{
	(void)arg;
	return in->kind != ML_KIND_BUFFER;
}

/* The live tagged leases, grouped by stack, reported. */
static void
exit_grouped(struct ml_core *c, uint64_t now)
{
	const struct ml_bystack_how how = { .key = ML_BYSTACK_STACK,
	    .keep = exit_tagged };
	struct ml_bystack groups;

	if (ml_bystack_collect(c, &how, &groups, NULL) != 0) {
		ml_report_diag("MEMLEASE_REPORT_AT_EXIT: out of memory; no "
		    "summary");
		return;
	}
	ml_report_groups(&groups, now);
	ml_bystack_free(&groups);
}

/* The live tagged leases, one report each. */
static void
exit_each(struct ml_core *c, uint64_t now)
{
	struct ml_info info[64];
	uint32_t cursor = 0;
	int n;

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
}

void
ml_tag_exit(void)
{
	struct ml_core *c;

	if (tg.at_exit == ML_AT_EXIT_OFF)
		return;
	/* decided at exit: rules may be set at run time (memleasectl) */
	if (!atomic_load(&ml_tag_tracking)) {
		ml_report_diag("MEMLEASE_REPORT_AT_EXIT: nothing was tagged (no "
		    "rule of MEMLEASE_RULES or MEMLEASE_CONFIG matched an "
		    "allocation): nothing to report");
		return;
	}
	if ((c = ml_runtime_core()) == NULL)
		return;
	uint64_t now = ml_clock_ms();
	ml_guard_enter();
	if (tg.at_exit == ML_AT_EXIT_EACH)
		exit_each(c, now);
	else
		exit_grouped(c, now);
	exit_estimates(c);
	ml_guard_leave();
}
