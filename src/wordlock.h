/*
 * wordlock.h - a lock in one 32-bit word, for the core's lock and the
 * preload's locks taken at every tagged allocation, free and realloc:
 * inline, one atomic instruction each way when nobody waits (a pthread
 * mutex costs 60 instructions a pair, in two calls, for the same two).  It
 * spins a little, then sleeps on a futex.  Calls neither the shim nor
 * anything that allocates; keeps errno.
 *
 * The word: 0 free, 1 taken, 2 taken and waited for.
 */
#ifndef ML_WORDLOCK_H
#define ML_WORDLOCK_H

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <linux/futex.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>
#ifdef HAVE_SYS_SINGLE_THREADED_H
#include <sys/single_threaded.h>
#endif

#define ML_WORDLOCK_SPINS 100   /* held briefly: spin a little first */

static inline void
ml_wordlock_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ volatile("yield");
#endif
}

/* errno is the host's: kept (FUTEX_WAIT fails with EAGAIN or EINTR) */
static inline void
ml_wordlock_futex(_Atomic uint32_t *w, int op, uint32_t v)
{
	int err = errno;

	syscall(SYS_futex, w, op, v, NULL, NULL, 0);
	errno = err;
}

static inline bool
ml_wordlock_try(_Atomic uint32_t *w)
{
	uint32_t free_ = 0;

	return atomic_compare_exchange_strong_explicit(w, &free_, 1,
	    memory_order_acquire, memory_order_relaxed);
}

static void __attribute__((noinline, unused))
ml_wordlock_wait(_Atomic uint32_t *w)
{
	for (int i = 0; i < ML_WORDLOCK_SPINS; i++) {
		ml_wordlock_relax();
		if (atomic_load_explicit(w, memory_order_relaxed) == 0 &&
		    ml_wordlock_try(w))
			return;
	}
	/* 2: whoever lets it go wakes a sleeper */
	while (atomic_exchange_explicit(w, 2, memory_order_acquire) != 0)
		ml_wordlock_futex(w, FUTEX_WAIT_PRIVATE, 2);
}

static inline void
ml_wordlock_lock(_Atomic uint32_t *w)
{
	if (!ml_wordlock_try(w))
		ml_wordlock_wait(w);
}

static inline void
ml_wordlock_unlock(_Atomic uint32_t *w)
{
	if (atomic_exchange_explicit(w, 0, memory_order_release) == 2)
		ml_wordlock_futex(w, FUTEX_WAKE_PRIVATE, 1);
}

/*
 * Whether this thread is the process's only one (glibc 2.32 and later say
 * so; elsewhere the answer is no).  No other thread can then hold a lock
 * or wait for one: a lock can be taken and let go with plain stores, as
 * the C library's malloc does, and spare the two atomic instructions, which
 * cost more than the rest of a short critical section.  Once a thread is
 * made the answer stays no, in a child of fork() too (glibc 2.36).
 */
static inline bool
ml_wordlock_lone(void)
{
#ifdef HAVE_SYS_SINGLE_THREADED_H
	return __libc_single_threaded != 0;
#else
	return false;
#endif
}

/*
 * As ml_wordlock_lock() and ml_wordlock_unlock(), with plain stores while
 * the process has one thread.  Each asks again: a lock taken alone and let
 * go once a thread was made in between (the new thread may wait for it)
 * is let go by the atomic exchange, which wakes it.
 */
static inline void
ml_wordlock_lock_lone(_Atomic uint32_t *w)
{
	if (ml_wordlock_lone() &&
	    atomic_load_explicit(w, memory_order_relaxed) == 0)
		atomic_store_explicit(w, 1, memory_order_relaxed);
	else
		ml_wordlock_lock(w);
}

static inline void
ml_wordlock_unlock_lone(_Atomic uint32_t *w)
{
	if (ml_wordlock_lone())
		atomic_store_explicit(w, 0, memory_order_release);
	else
		ml_wordlock_unlock(w);
}

#endif /* ML_WORDLOCK_H */
