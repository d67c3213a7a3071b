/*
 * stacks.h - allocation backtraces: captured with libunwind, stored once per
 * distinct stack; named by symbols.h.
 */
#ifndef ML_STACKS_H
#define ML_STACKS_H

#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

#define UNW_LOCAL_ONLY
#include <libunwind.h>

#include "capture.h"
#include "wordlock.h"

#define ML_STACK_MAX_DEPTH 64
#define ML_STACK_SLACK     8    /* memlease's own frames, above `from` */

/* A frame as the rules see it (caller=, object=); the strings live as long
 * as the process. */
struct ml_frame {
	uintptr_t   ip;
	const char *function;   /* "??" when unknown */
	uintptr_t   offset;     /* from the function's start */
	const char *object;     /* path of the shared object, "??" if unknown */
};

/* For ml_stacks_capture() only. */
extern atomic_bool ml_stacks_unwinding;
void     ml_stacks_unwind_first(void);

/*
 * libunwind blocks every signal around each lookup of a frame new to it
 * and each use of its cache, a sigprocmask() pair each: 4 pairs a capture
 * in a compiler's pass under make check-real's expiring rules, 21,000
 * system calls in one `gcc -c`.  Its own GOT's sigprocmask() is
 * memlease's (stacks.c), which counts them.  A capture blocks every
 * signal once around unw_backtrace() instead, and libunwind's calls
 * meanwhile change nothing: the same signals blocked over a longer
 * stretch, in two system calls.  After ML_STACKS_QUIET captures in a row
 * where libunwind would have made fewer than two pairs (the stacks it
 * knows: none), the next are left to libunwind, until one where it makes
 * two pairs or more, or a fork.  Its calls outside memlease's captures (the
 * program's own use of libunwind) are made as they come.  One `gcc -c`:
 * 4,453 calls; a python3 run: 52,464 instead of 122,000.
 */
#define ML_STACKS_QUIET 8
struct ml_stacks_mask {
	bool     in;            /* in unw_backtrace() */
	bool     masked;        /* every signal blocked around it */
	uint8_t  quiet;         /* captures in a row that had no need */
	unsigned calls;         /* libunwind's sigprocmask() calls in it */
};
extern bool ml_stacks_mask_ours;        /* libunwind's sigprocmask() is */
extern __thread struct ml_stacks_mask ml_stacks_mask
    __attribute__((tls_model("initial-exec")));
extern sigset_t ml_stacks_every;        /* sigfillset()'s */

static inline bool
ml_stacks_mask_begin(sigset_t *saved)
{
	struct ml_stacks_mask *m = &ml_stacks_mask;

	if (!ml_stacks_mask_ours || m->in)
		return false;
	m->in = true;
	m->calls = 0;
	m->masked = m->quiet < ML_STACKS_QUIET &&
	    pthread_sigmask(SIG_SETMASK, &ml_stacks_every, saved) == 0;
	return true;
}

static inline void
ml_stacks_mask_end(const sigset_t *saved)
{
	struct ml_stacks_mask *m = &ml_stacks_mask;

	if (m->masked)
		pthread_sigmask(SIG_SETMASK, saved, NULL);
	if (m->calls >= 4)
		m->quiet = 0;
	else if (m->quiet < ML_STACKS_QUIET)
		m->quiet++;
	m->masked = false;
	m->in = false;
}
uint32_t ml_stacks_intern(void *const *frames, int n, const void *from,
             int depth);

/*
 * The gates: a thread unwinds holding one, and the fork handlers take them
 * all (ml_stacks_lock()).  libunwind locks its caches as it steps through
 * frames new to a thread, and fork() copies a lock as it is: taken by a
 * thread of the parent's, it would stay taken in the child, whose first
 * unwind of a new frame would wait for it forever.  A gate per group of
 * threads, not one for all: taken at every tagged allocation, a gate is a
 * lock that stays in its threads' caches.
 */
#define ML_STACKS_GATES 32      /* threads beyond share them */
struct ml_stacks_gate {
	struct ml_wordlock lock;
} __attribute__((aligned(64)));
extern struct ml_stacks_gate ml_stacks_gates[ML_STACKS_GATES];
extern __thread unsigned ml_stacks_gate_of
    __attribute__((tls_model("initial-exec")));
struct ml_wordlock *ml_stacks_gate_first(void);

/* This thread's gate (1 + its index in ml_stacks_gate_of, 0 until the
 * first unwind). */
static inline struct ml_wordlock *
ml_stacks_gate(void)
{
	unsigned g = ml_stacks_gate_of;

	if (__builtin_expect(g == 0, 0))
		return ml_stacks_gate_first();
	return &ml_stacks_gates[g - 1].lock;
}

/*
 * The id (never 0) of the stack of the current call, from the frame that
 * returns to `from` (the caller of memlease) up to `depth` frames; 0 if
 * depth is 0 or the table is full or out of memory.
 *
 * Inline: the unwinding starts in its caller's frame, not in a frame of
 * its own.  A chain this thread unwound before from the same place, proven
 * the same, gives its id without unwinding (capture.h: a load and a
 * compare a frame); else unw_backtrace() (each frame a lookup in
 * libunwind's cache), and the chain is learnt.
 */
static inline __attribute__((always_inline)) uint32_t
ml_stacks_capture(const void *from, int depth)
{
	void *frames[ML_STACK_MAX_DEPTH + ML_STACK_SLACK];
	struct ml_capture_regs regs;
	uint32_t known, id;
	int n = 0;

	if (depth > ML_STACK_MAX_DEPTH)
		depth = ML_STACK_MAX_DEPTH;
	if (depth <= 1)
		return ml_stacks_intern(NULL, 0, from, depth);
	ML_CAPTURE_REGS(regs);
	known = ml_capture_find(&regs, from, depth);
	if (known != 0 && !ml_capture_verify)
		return known;
	struct ml_wordlock *gate = ml_stacks_gate();
	ml_wordlock_lock(gate);
	if (!atomic_load_explicit(&ml_stacks_unwinding, memory_order_acquire))
		ml_stacks_unwind_first();
	sigset_t saved;
	bool counted = ml_stacks_mask_begin(&saved);
	n = unw_backtrace(frames, depth + ML_STACK_SLACK);
	if (counted)
		ml_stacks_mask_end(&saved);
	ml_wordlock_unlock(gate);
	id = ml_stacks_intern(frames, n, from, depth);
	if (known != 0)         /* test-only: the hit checked (capture.h) */
		ml_capture_checked(known == id);
	else
		ml_capture_learn(&regs, frames, n, depth + ML_STACK_SLACK, from,
		    depth, id);
	return id;
}

/* Copy the frames of a stack into ips[]; returns how many. */
int      ml_stacks_get(uint32_t id, uintptr_t *ips, int max);

/* The function whose code holds return address ip (not those inlined
 * there), and its object (cached, symbols.h).  False when out of memory:
 * the names are "??" this once, and must not be taken for the code's. */
bool     ml_stacks_symbolize(uintptr_t ip, struct ml_frame *f);

/* Distinct stacks stored. */
uint32_t ml_stacks_count(void);

void     ml_stacks_lock(void);
void     ml_stacks_unlock(void);
void     ml_stacks_reinit_lock(void);

#endif /* ML_STACKS_H */
