/*
 * block.c - the life of a tracked block (see block.h): its entry in the
 * pointer map (ptrmap.h) beside its lease in the core, from the tagged
 * allocation or memlease_adopt() that tracks it to the free() that ends
 * it, through realloc() and its lease's expiry.
 *
 * An entry's states (enum ml_pstate), and what moves it:
 *
 *   from       event                                 to
 *   (none)     tagged allocation, memlease_adopt()   LIVE
 *   LIVE       free(), or the lease released         (none)  block freed
 *   LIVE       free() while the lease is pinned or   ENDING
 *              expiring on another thread, or from
 *              a signal handler
 *   LIVE       realloc()                             MOVING
 *   LIVE       expiry, action=report                 (none)  the program's
 *   LIVE       expiry, action=free                   TOMB
 *   LIVE       expiry, action=reclaim                RECLAIMED
 *   LIVE       expiry, action=abort                  (the process aborts)
 *   MOVING     realloc() done, the lease moved       LIVE    at the new address
 *   MOVING     realloc() done, expired meanwhile     (none)  untracked
 *              (kind reclaim: LIVE, without lease)
 *   MOVING     expiry meanwhile                      MOVING  its handle cleared
 *   ENDING     the lease ends                        (none)  block freed
 *   ENDING     free() or realloc() again             ENDING  said, ignored
 *   TOMB       free() or realloc() (late)            LATE    said; address held
 *   RECLAIMED  free() or realloc() (late)            LATE    said; address held
 *   LATE       free() or realloc() again             LATE    said, ignored
 *   LATE       ML_BLOCK_QUARANTINE later late frees  (none)  remnant freed,
 *                                                    or unmapped
 *
 * A MOVING entry is not the program's block at that address (see move()):
 * free() and realloc() pass such an address to the next allocator.
 * An expired block's address is not handed out again while its entry
 * lives, so that no free() of it is a new block's: a second late free
 * of the program's is told from the free of another block that was given
 * the address (the pointers are equal: only holding the address tells
 * them apart).  The quarantine bounds what late-freed blocks hold.
 * Whoever removes a block's entry decides its fate.
 *
 * Locking: a map shard is taken before the core's lock (a tracked block's
 * lease is made under its shard's lock, so that its expiry cannot overtake
 * it).  Callers hold the recursion guard.  Never: take a shard while
 * holding the core's lock, or wait for one in a signal handler that
 * interrupted memlease (the *_nested functions only try).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#endif

#include "block.h"
#include "clock.h"
#include "core.h"
#include "guard.h"
#include "heap.h"
#include "mem.h"
#include "ptrmap.h"
#include "real.h"
#include "reclaim.h"
#include "report.h"
#include "runtime.h"
#include "wire.h"

#define LATE_SHOWN   16      /* late frees diagnosed one by one */

/* A kind is a number to the runtime and to the protocol (json.c writes
 * wire.h's name of it). */
_Static_assert(ML_KIND_BUFFER == ML_RUNTIME_BUFFER &&
    ML_KIND_BUFFER == (int)ML_WIRE_BUFFER &&
    ML_KIND_REPORT == (int)ML_WIRE_TAGGED &&
    ML_KIND_FREE == (int)ML_WIRE_TAGGED_FREE &&
    ML_KIND_RECLAIM == (int)ML_WIRE_TAGGED_RECLAIM &&
    ML_KIND_ABORT == (int)ML_WIRE_TAGGED_ABORT, "kinds agree");

#define LATER 1024              /* tombs waiting to be shrunk, at most */

static struct {
	atomic_uint late;               /* late frees and reallocs */
	atomic_uint next;               /* the quarantine's next slot */
	_Atomic uintptr_t held[ML_BLOCK_QUARANTINE];    /* LATE, or 0 */
	/* tombs memlease's thread made, to be shrunk (shrink_later()): a
	 * ring it fills, a program's thread empties under `drain` */
	_Atomic uintptr_t later[LATER];
	atomic_uint       later_in, later_out;
	pthread_mutex_t   drain;
} bk = { .drain = PTHREAD_MUTEX_INITIALIZER };

atomic_uint ml_block_later;     /* in the ring */

/* Diagnostics of late frees: the first LATE_SHOWN, then a count. */
static void
late(const char *fmt, ...) __attribute__((cold, format(printf, 1, 2)));

static void
late(const char *fmt, ...)
{
	unsigned n = atomic_fetch_add(&bk.late, 1) + 1;
	char line[512];
	va_list ap;

	if (n > LATE_SHOWN)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	ml_report_error("%s%s", line, n == LATE_SHOWN ?
	    " (further ones are not shown)" : "");
}

/* A block of an ended lease goes back where it came from. */
static void
release_block(const struct ml_pent *v)
{
	if (v->kind == ML_KIND_RECLAIM)
		ml_reclaim_free((void *)(uintptr_t)v->p);
	else
		ml_real_free((void *)(uintptr_t)v->p);
}

/*
 * A LATE entry's address joins the quarantine; the one it replaces there
 * (the ML_BLOCK_QUARANTINE-th late free before) leaves: its entry goes and
 * its remnant is freed, or its mapping unmapped: the address may come
 * back.
 * Lock-free: each address is taken out by the one exchange that replaces
 * it.  An entry that is no longer LATE was made another block's (see
 * tomb(): a remnant that moved does not hold its address) and is left.
 */
static void
quarantine(void *p)
{
	unsigned i = atomic_fetch_add(&bk.next, 1) % ML_BLOCK_QUARANTINE;
	void *a = (void *)atomic_exchange(&bk.held[i], (uintptr_t)p);

	if (a == NULL)
		return;
	struct ml_shard *s = ml_ptrmap_lock(a);
	struct ml_pent *e = ml_ptrmap_find(s, a);
	if (e == NULL || e->state != ML_P_LATE) {
		ml_ptrmap_unlock(s);
		return;
	}
	struct ml_pent v = *e;
	ml_ptrmap_remove(s, e);
	ml_ptrmap_unlock(s);
	if (v.kind == ML_KIND_RECLAIM)          /* was RECLAIMED */
		ml_reclaim_free(a);
	else if (v.held)
		ml_real_free(a);
}

/* Tracking. */

int
ml_block_track(void *p, size_t size, unsigned kind,
    uint64_t now, uint64_t ttl_ms, unsigned releases, uint32_t stack,
    const char *label, uint64_t sample, bool *wake, memlease_t *hp)
{
	int r = 0;
	struct ml_shard *s = ml_ptrmap_lock(p);
	/* a new entry, or the one there (one look: at every tagged
	 * allocation); a new one's state is 0 */
	struct ml_pent *e = ml_ptrmap_insert(s, p);

	*wake = false;
	if (e == NULL) {
		r = -ENOMEM;
	} else if (e->state == ML_P_LIVE || e->state == ML_P_ENDING ||
	    e->state == ML_P_LATE) {     /* MOVING: see move() */
		r = -EEXIST;    /* a LATE address is held, never handed out:
		                 * only memlease_adopt() can name it */
	} else {
		/* the lease is made under the shard's lock: its expiry
		 * cannot come before its entry */
		*hp = ml_runtime_add(now, p, size, ttl_ms, releases, kind,
		    stack, label, sample, wake);
		if (*hp == 0) {
			r = -errno;
			ml_ptrmap_remove(s, e);
		} else {
			*e = (struct ml_pent){ .p = (uintptr_t)p, .h = *hp,
			    .state = ML_P_LIVE, .kind = kind };
		}
	}
	ml_ptrmap_unlock(s);
	return r;
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
bool
ml_block_free_nested(void *p)
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

/*
 * The entry that a free() or realloc() of the program finds at p, when the
 * program may act on it: LIVE, or expired (TOMB, RECLAIMED), its shard
 * locked in *sp.  Otherwise NULL, the shard unlocked, and *tracked says
 * whether p is ours: false for no entry or a MOVING one (the block at p is
 * not the entry's: see move()), true for ENDING and LATE (the program
 * freed it already: "op(p): why" is said).  Inline: it is on every free().
 */
static inline __attribute__((always_inline)) struct ml_pent *
take(void *p, struct ml_shard **sp, const char *op, const char *why,
    bool *tracked)
{
	struct ml_shard *s = ml_ptrmap_lock(p);
	struct ml_pent *e = ml_ptrmap_find(s, p);

	*tracked = e != NULL && e->state != ML_P_MOVING;
	if (*tracked && e->state != ML_P_ENDING && e->state != ML_P_LATE) {
		*sp = s;
		return e;
	}
	ml_ptrmap_unlock(s);
	if (*tracked)
		late("%s(%p): %s", op, p, why);
	return NULL;
}

bool
ml_block_free(void *p)
{
	struct ml_ended end;
	struct ml_shard *s;
	bool tracked;
	struct ml_pent *e = take(p, &s, "free", "freed twice; ignored",
	    &tracked);

	if (e == NULL)
		return tracked;
	struct ml_pent v = *e;
	if (v.state == ML_P_LIVE) {
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
	}
	/* expired: freed or reclaimed by memlease; its address stays held
	 * for a while yet (see quarantine()) */
	e->state = ML_P_LATE;
	ml_ptrmap_unlock(s);
	late("free(%p): lease %#llx expired and memlease %s its block; "
	    "this late free is ignored", p, (unsigned long long)v.h,
	    v.state == ML_P_RECLAIMED ? "reclaimed" : "freed");
	quarantine(p);
	return true;
}

/*
 * A mapping of memlease's own (action=reclaim) that the map has no room
 * for: free() would not know it and hand it to the next allocator.  Its n
 * bytes go to a plain block instead.  NULL (ENOMEM) if there is none: the
 * contents are lost, as the realloc() moved them already.
 */
static void *
unmapped(void *q, size_t n)
{
	void *b = ml_real_malloc(n);

	if (b != NULL)
		memcpy(b, q, n);
	ml_reclaim_free(q);
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
	void *p = (void *)(uintptr_t)v.p, *q;

	e->state = ML_P_MOVING;
	ml_ptrmap_unlock(s);
	if (v.kind == ML_KIND_RECLAIM)
		q = ml_reclaim_realloc(p, n);
	else
		q = ml_real_realloc(p, n);
	int err = errno;
	s = ml_ptrmap_lock(p);
	e = ml_ptrmap_find(s, p);
	bool mine = e != NULL && e->state == ML_P_MOVING &&
	    (e->h == v.h || e->h == 0);
	bool expired = mine && e->h == 0;       /* see ml_block_ended() */
	if (mine && (q == NULL || q == p)) {    /* failed, or in place */
		e->state = ML_P_LIVE;
		if (q != NULL && !expired && ml_runtime_move(v.h, q, n) != 0)
			e->h = 0;
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
		return unmapped(q, n);
	errno = err;
	return q;
}

bool
ml_block_realloc(void *p, size_t n, void **out)
{
	struct ml_shard *s;
	bool tracked;

	if (n == 0 && ml_block_free(p)) {  /* realloc(p, 0) frees p */
		*out = NULL;
		return true;
	}
	struct ml_pent *e = take(p, &s, "realloc",
	    "the block was freed; refused", &tracked);
	if (e == NULL) {
		if (tracked) {
			errno = ENOMEM;
			*out = NULL;
		}
		return tracked;
	}
	if (e->state == ML_P_LIVE) {
		*out = move(s, e, n);
		return true;
	}
	ml_ptrmap_unlock(s);
	late("realloc(%p): its lease expired and memlease took the "
	    "block; a new block is returned, its contents lost", p);
	ml_block_free(p);
	*out = ml_real_calloc(1, n);
	return true;
}

/* realloc() in a signal handler: refused (ENOMEM) for a block of ours. */
bool
ml_block_realloc_nested(void *p, void **out)
{
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

bool
ml_block_usable_size(void *p, size_t *out)
{
	bool ours = false, in_handler = ml_lock_depth > 0;
	struct ml_shard *s;
	struct ml_pent *e;
	if (in_handler) {               /* see nested() */
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
	    e->state == ML_P_TOMB || e->state == ML_P_RECLAIMED ||
	    e->state == ML_P_LATE)) {
		ours = true;
		/* reclaim.c's lock may be this thread's, in a handler */
		*out = e->state == ML_P_LIVE && !in_handler ?
		    ml_reclaim_len((void *)(uintptr_t)e->p) : 0;
	}
	ml_ptrmap_unlock(s);
	return ours;
}


/* Ends of leases. */

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
give_pages(uintptr_t p, size_t size)
{
	size_t page = ml_reclaim_page();
	uintptr_t a = (p + page - 1) & ~(uintptr_t)(page - 1);
	uintptr_t b = (p + size) & ~(uintptr_t)(page - 1);

	if (b > a)
		madvise((void *)a, b - a, MADV_DONTNEED);
}

/* Shrink a held block to its remnant; the shard is locked. */
static void
shrink(struct ml_pent *e)
{
	void *q = ml_real_realloc((void *)(uintptr_t)e->p, 1);
	if (q != (void *)(uintptr_t)e->p && q != NULL) {
		e->held = 0;    /* moved after all: the address may come back */
		ml_real_free(q);
	}
}

/*
 * Memlease's thread does not call the next allocator (heap.h): a tomb it
 * makes keeps its block whole, its whole pages given back, and is shrunk
 * by the program's next thread through here (tag.c's settle()); when
 * LATER tombs wait already, it stays whole.
 */
static void
shrink_later(const struct ml_pent *e, size_t size)
{
	unsigned in = atomic_load(&bk.later_in);

	give_pages(e->p, size);
	if (in - atomic_load(&bk.later_out) == LATER)
		return;         /* full: this one stays whole */
	atomic_store(&bk.later[in % LATER], e->p);
	atomic_store(&bk.later_in, in + 1);
	atomic_fetch_add(&ml_block_later, 1);
}

/* Never waits for another thread that drains (nor, so, for itself in a
 * signal handler): that one drains. */
void
ml_block_settle_slow(void)
{
	if (pthread_mutex_trylock(&bk.drain) != 0)
		return;
	unsigned out = atomic_load(&bk.later_out), in = atomic_load(&bk.later_in);
	for (; out != in; out++) {
		void *p = (void *)atomic_load(&bk.later[out % LATER]);
		struct ml_shard *s = ml_ptrmap_lock(p);
		struct ml_pent *e = ml_ptrmap_find(s, p);
		/* still a held tomb (late-freed or not); a block of the
		 * program's there now is not one */
		if (e != NULL && e->held && e->kind == ML_KIND_FREE &&
		    (e->state == ML_P_TOMB || e->state == ML_P_LATE))
			shrink(e);
		ml_ptrmap_unlock(s);
		atomic_store(&bk.later_out, out + 1);
		atomic_fetch_sub(&ml_block_later, 1);
	}
	pthread_mutex_unlock(&bk.drain);
}

/* A tomb's block is memlease's to hold, by design.  LeakSanitizer finds
 * the map's entries no reference to it (they pack the address with their
 * state), and is told so. */
static inline void
held(const struct ml_pent *e)
{
#if defined(__SANITIZE_ADDRESS__)
	__lsan_ignore_object((void *)(uintptr_t)e->p);
#else
	(void)e;
#endif
}

static void
tomb(struct ml_pent *e, size_t size)
{
	e->state = ML_P_TOMB;
	e->held = 1;
	held(e);
	if (!shrinks_in_place())
		give_pages(e->p, size);
	else if (ml_heap_self)
		shrink_later(e, size);
	else
		shrink(e);
}

void
ml_block_ended(const struct ml_ended *end, uint64_t now)
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
		tomb(e, end->size);
		break;
	case ML_KIND_RECLAIM:
		e->state = ML_P_RECLAIMED;
		ml_reclaim_expire(end->buf, diag);
		diag = NULL;
		break;
	case ML_KIND_ABORT:
		ml_report_error("lease %#llx expired under action=abort; "
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
ml_block_register(void)
{
	ml_runtime_on_end(ML_KIND_REPORT, ml_block_ended,
	    "left to the program", false);
	ml_runtime_on_end(ML_KIND_FREE, ml_block_ended, "freed", true);
	ml_runtime_on_end(ML_KIND_RECLAIM, ml_block_ended, "reclaimed", true);
	ml_runtime_on_end(ML_KIND_ABORT, ml_block_ended, "aborting", false);
}

/* Fork: the map's shards are taken before the reclaim records' lock (an
 * expiry holds a shard while it records a reclaimed block). */
void
ml_block_prepare(void)
{
	ml_ptrmap_lock_all();
	ml_reclaim_prepare();
}

void
ml_block_parent(void)
{
	ml_reclaim_parent();
	ml_ptrmap_unlock_all();
}

void
ml_block_child(void)
{
	pthread_mutex_init(&bk.drain, NULL);
	ml_reclaim_child();
	ml_ptrmap_reinit_locks();
}
