/*
 * stacks.c - the stack table and the symbol cache (see stacks.h).
 *
 * Stacks are interned: a hash index (open addressing, ids) over records in
 * fixed chunks that never move, so a stack's frames stay where they are
 * once made.  Nothing is ever removed: the table holds one record per
 * distinct stack, up to ML_LABELED - 1 of them (labels.h).
 *
 * Names are symbols.c's; ml_stacks_symbolize() gives the rules theirs.
 *
 * Locking: `stacks.lock` guards the stack table, symbols.c's lock the
 * names, capture.c's the rules of frames; a gate (stacks.h) is held while
 * unwinding.  The fork handlers take them all.  Everything here may allocate: callers under the preload
 * hold the recursion guard.
 */
#define _GNU_SOURCE
#define UNW_LOCAL_ONLY
#include <libunwind.h>
#include <limits.h>
#include <link.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "labels.h"
#include "mem.h"
#include "fd.h"
#include "got.h"
#include "stacks.h"
#include "symbols.h"

#define CHUNK_RECS   4096
#define CHUNK_FRAMES 16384
#define MAX_STACKS   (ML_LABELED - 1)

struct stack_rec {
	uint32_t   hash;
	uint32_t   n;
	uintptr_t *frames;
};

static struct {
	pthread_mutex_t    lock;
	struct stack_rec **chunks;     /* record id is chunks[id / CHUNK][..] */
	uint32_t           nchunks;
	uint32_t           count;      /* records; ids are 1..count */
	uint32_t          *index;      /* ids; 0: empty */
	uint32_t           nindex;     /* a power of two */
	uintptr_t         *arena;      /* frames of new stacks go here */
	uint32_t           arena_left;
} stacks = { .lock = PTHREAD_ADAPTIVE_MUTEX_INITIALIZER_NP };

static uint32_t
hash_frames(const uintptr_t *ips, int n)
{
	uint64_t h = 0xcbf29ce484222325u;

	for (int i = 0; i < n; i++)
		h = (h ^ ips[i]) * 0x100000001b3u;
	return (uint32_t)(h ^ h >> 32);
}

static struct stack_rec *
rec_of(uint32_t id)
{
	return &stacks.chunks[(id - 1) / CHUNK_RECS][(id - 1) % CHUNK_RECS];
}

static bool
rec_equal(const struct stack_rec *r, uint32_t h, const uintptr_t *ips, int n)
{
	return r->hash == h && r->n == (uint32_t)n &&
	    memcmp(r->frames, ips, n * sizeof *ips) == 0;
}

static int
index_grow(void)
{
	uint32_t n = stacks.nindex ? stacks.nindex * 2 : 1024;
	uint32_t *x = ml_mem_calloc(n, sizeof *x);

	if (x == NULL)
		return -1;
	for (uint32_t id = 1; id <= stacks.count; id++) {
		uint32_t k = rec_of(id)->hash & (n - 1);
		while (x[k] != 0)
			k = (k + 1) & (n - 1);
		x[k] = id;
	}
	ml_mem_free(stacks.index);
	stacks.index = x;
	stacks.nindex = n;
	return 0;
}

/* A new record for ips[0..n); the lock is held. */
static uint32_t
rec_new(uint32_t h, const uintptr_t *ips, int n)
{
	uint32_t id = stacks.count + 1;

	if (id > MAX_STACKS)
		return 0;
	if ((stacks.count + 1) * 2 > stacks.nindex && index_grow() != 0)
		return 0;
	if ((id - 1) / CHUNK_RECS == stacks.nchunks) {
		struct stack_rec **c = ml_mem_realloc(stacks.chunks,
		    (stacks.nchunks + 1) * sizeof *c);
		if (c == NULL)
			return 0;
		stacks.chunks = c;
		c[stacks.nchunks] = ml_mem_malloc(CHUNK_RECS * sizeof **c);
		if (c[stacks.nchunks] == NULL)
			return 0;
		stacks.nchunks++;
	}
	if (stacks.arena_left < (uint32_t)n) {
		stacks.arena = ml_mem_malloc(CHUNK_FRAMES *
		    sizeof *stacks.arena);
		if (stacks.arena == NULL) {
			stacks.arena_left = 0;
			return 0;
		}
		stacks.arena_left = CHUNK_FRAMES;
	}
	struct stack_rec *r = &stacks.chunks[(id - 1) / CHUNK_RECS]
	    [(id - 1) % CHUNK_RECS];
	r->hash = h;
	r->n = (uint32_t)n;
	r->frames = stacks.arena;
	memcpy(r->frames, ips, n * sizeof *ips);
	stacks.arena += n;
	stacks.arena_left -= (uint32_t)n;
	stacks.count = id;

	uint32_t k = h & (stacks.nindex - 1);
	while (stacks.index[k] != 0)
		k = (k + 1) & (stacks.nindex - 1);
	stacks.index[k] = id;
	return id;
}

/* Each thread remembers the stacks it interned last: a record never moves
 * or changes once made, so a hit needs no lock.  Initial-exec TLS, small. */
#define TCACHE 16
static __thread struct {
	const struct stack_rec *rec;
	uint32_t                id;
} tcache[TCACHE] __attribute__((tls_model("initial-exec")));

static uint32_t
intern(const uintptr_t *ips, int n)
{
	uint32_t h = hash_frames(ips, n);
	uint32_t id = 0;
	unsigned slot = h % TCACHE;

	if (tcache[slot].rec != NULL && rec_equal(tcache[slot].rec, h, ips, n))
		return tcache[slot].id;
	pthread_mutex_lock(&stacks.lock);
	if (stacks.nindex != 0) {
		for (uint32_t k = h & (stacks.nindex - 1);
		    stacks.index[k] != 0; k = (k + 1) & (stacks.nindex - 1)) {
			if (rec_equal(rec_of(stacks.index[k]), h, ips, n)) {
				id = stacks.index[k];
				goto out;
			}
		}
	}
	id = rec_new(h, ips, n);
out:
	if (id != 0) {
		tcache[slot].rec = rec_of(id);
		tcache[slot].id = id;
	}
	pthread_mutex_unlock(&stacks.lock);
	return id;
}

/* libunwind opens a pipe the first time it runs, at the lowest free
 * descriptors (3 and 4 in most programs), which programs and their test
 * suites expect to be free: make it open high instead. */
static void
unwind_first(void)
{
	unw_context_t uc;
	unw_cursor_t cur;

	if (unw_getcontext(&uc) == 0)
		unw_init_local(&cur, &uc);
}

bool ml_stacks_mask_ours;
__thread struct ml_stacks_mask ml_stacks_mask
    __attribute__((tls_model("initial-exec")));
sigset_t ml_stacks_every;

/* Whether set blocks every signal the kernel has (the first 64), but
 * for the two the C library keeps for itself, 32 and 33 (sigfillset()
 * leaves them out; a set may have them or not). */
static bool
every_signal(const sigset_t *set)
{
	uint64_t w;

	memcpy(&w, set, sizeof w);
	return (w | UINT64_C(3) << 31) == UINT64_MAX;
}

/* libunwind's sigprocmask() (stacks.h), counted in a capture; in one that
 * blocked every signal, blocking them all again or setting the mask back
 * to all changes nothing, and is not made. */
static int
unwind_sigprocmask(int how, const sigset_t *set, sigset_t *old)
{
	struct ml_stacks_mask *m = &ml_stacks_mask;

	if (m->in)
		m->calls++;
	if (!m->masked || how != SIG_SETMASK || set == NULL ||
	    !every_signal(set))
		return sigprocmask(how, set, old);
	if (old != NULL)
		*old = ml_stacks_every;
	return 0;
}

/* Its pipe2() call, through its own GOT, is pointed at memlease's, which
 * moves the pipe high: a few system calls, where taking every free low
 * number first (ml_fd_run_high(), if the slot is not found) takes a
 * thousand, in every process that tags.  Its sigprocmask() is
 * unwind_sigprocmask(). */
static void
unwind_init(void)
{
	static const struct ml_got_hook pipe_hook = {
		"pipe2", (void *)ml_fd_pipe2_high
	}, mask_hook = {
		"sigprocmask", (void *)unwind_sigprocmask
	};
	const void *in = (const void *)unw_init_local;

	sigfillset(&ml_stacks_every);
	ml_stacks_mask_ours = ml_got_patch_object(in, &mask_hook, 1) > 0;
	if (ml_got_patch_object(in, &pipe_hook, 1) > 0)
		unwind_first();
	else
		ml_fd_run_high(unwind_first);
}

static pthread_once_t unwind_once = PTHREAD_ONCE_INIT;
atomic_bool ml_stacks_unwinding;
struct ml_stacks_gate ml_stacks_gates[ML_STACKS_GATES];
__thread unsigned ml_stacks_gate_of __attribute__((tls_model("initial-exec")));

/* Threads take the gates in turn, as they first unwind. */
struct ml_wordlock *
ml_stacks_gate_first(void)
{
	static atomic_uint next;
	unsigned g = atomic_fetch_add_explicit(&next, 1,
	    memory_order_relaxed) % ML_STACKS_GATES;

	ml_stacks_gate_of = g + 1;
	return &ml_stacks_gates[g].lock;
}

void
ml_stacks_unwind_first(void)
{
	pthread_once(&unwind_once, unwind_init);
	atomic_store_explicit(&ml_stacks_unwinding, true, memory_order_release);
}

/* The frames ml_stacks_capture() unwound (n of them, depth > 1), or none
 * (depth 0 or 1). */
uint32_t
ml_stacks_intern(void *const *frames, int n, const void *from, int depth)
{
	int skip = 0;

	if (depth <= 0)
		return 0;
	if (depth == 1) {
		uintptr_t ip = (uintptr_t)from;
		return intern(&ip, 1);
	}
	while (skip < n && frames[skip] != from)
		skip++;
	if (skip == n) {    /* `from` not seen (tail call?): all but ours */
		skip = 0;
		while (skip < n && ml_symbols_own((uintptr_t)frames[skip]))
			skip++;
	}
	n -= skip;
	if (n > depth)
		n = depth;
	if (n <= 0)
		return 0;
	return intern((const uintptr_t *)(frames + skip), n);
}

int
ml_stacks_get(uint32_t id, uintptr_t *ips, int max)
{
	int n = 0;

	pthread_mutex_lock(&stacks.lock);
	if (id != 0 && id <= stacks.count) {
		struct stack_rec *r = rec_of(id);
		n = (int)r->n < max ? (int)r->n : max;
		memcpy(ips, r->frames, n * sizeof *ips);
	}
	pthread_mutex_unlock(&stacks.lock);
	return n;
}

uint32_t
ml_stacks_count(void)
{
	pthread_mutex_lock(&stacks.lock);
	uint32_t n = stacks.count;
	pthread_mutex_unlock(&stacks.lock);
	return n;
}

/* The function of a frame by its symbol (the one whose code it is; the
 * rules read no DWARF), and its object, "??" when unknown. */
bool
ml_stacks_symbolize(uintptr_t ip, struct ml_frame *f)
{
	static const char unknown[] = "??";
	const char *fn, *object;
	bool whole = ml_symbols_symbol(ip, &fn, &object);

	f->ip = ip;
	f->function = fn != NULL ? fn : unknown;
	f->offset = 0;
	f->object = object != NULL ? object : unknown;
	return whole;
}

/* Gates are taken with no other lock of memlease's held, and nothing else
 * is taken while one is held: they go before or after any other lock. */
void
ml_stacks_lock(void)
{
	for (int i = 0; i < ML_STACKS_GATES; i++)
		ml_wordlock_lock(&ml_stacks_gates[i].lock);
	ml_capture_lock();
	pthread_mutex_lock(&stacks.lock);
	ml_symbols_lock();
}

void
ml_stacks_unlock(void)
{
	ml_symbols_unlock();
	pthread_mutex_unlock(&stacks.lock);
	ml_capture_unlock();
	for (int i = ML_STACKS_GATES - 1; i >= 0; i--)
		ml_wordlock_unlock(&ml_stacks_gates[i].lock);
}

void
ml_stacks_reinit_lock(void)
{
	/* a fork child goes new ways (a subshell), where libunwind looks
	 * frames up: its first capture blocks signals once (stacks.h) */
	ml_stacks_mask.quiet = 0;
	pthread_mutex_init(&stacks.lock, NULL);
	ml_capture_reinit_lock();
	ml_symbols_reinit_lock();
	for (int i = 0; i < ML_STACKS_GATES; i++)       /* one thread now */
		ml_wordlock_init(&ml_stacks_gates[i].lock);
}
