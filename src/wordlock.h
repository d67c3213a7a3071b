/*
 * wordlock.h - a lock in two 32-bit words, for the core's lock and the
 * preload's locks taken at every tagged allocation, free and realloc:
 * inline, one atomic instruction to take it when nobody holds it, none to
 * let it go (a pthread mutex costs 60 instructions a pair, in two calls,
 * and two atomic instructions).  It spins a little, then sleeps on a
 * futex.  Calls neither the shim nor anything that allocates; keeps errno.
 *
 * Letting go is a plain store of 0 and a read of `sleepers`: an atomic
 * exchange would cost as much as the rest of a short critical section.
 * The store may wait in the store buffer while the read goes ahead, so a
 * thread about to sleep could miss the store and the store's thread miss
 * the sleeper.  That thread pays instead: it counts itself in `sleepers`,
 * then has every other thread of the process pass a full memory barrier
 * (membarrier(2), MEMBARRIER_CMD_PRIVATE_EXPEDITED), and only then looks
 * at the lock again and sleeps.  Either its look sees the store, or the
 * store's thread reads `sleepers` after that barrier and wakes it: the
 * pattern membarrier(2) was made for.  Where membarrier is refused (a
 * seccomp filter, a kernel before 4.14), a sleeper wakes every ms to look
 * again.
 */
#ifndef ML_WORDLOCK_H
#define ML_WORDLOCK_H

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <linux/futex.h>
#include <linux/membarrier.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#ifdef HAVE_SYS_SINGLE_THREADED_H
#include <sys/single_threaded.h>
#endif

#define ML_WORDLOCK_SPINS 100   /* held briefly: spin a little first */

struct ml_wordlock {
	_Atomic uint32_t word;      /* 0 free, 1 taken */
	_Atomic uint32_t sleepers;  /* threads asleep on it, or about to be */
};

static inline void
ml_wordlock_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ volatile("yield");
#endif
}

/* errno is the host's: kept (FUTEX_WAIT fails with EAGAIN, EINTR or
 * ETIMEDOUT) */
static inline void
ml_wordlock_futex(_Atomic uint32_t *w, int op, uint32_t v,
    const struct timespec *timeout)
{
	int err = errno;

	syscall(SYS_futex, w, op, v, timeout, NULL, 0);
	errno = err;
}

static inline bool
ml_wordlock_try(struct ml_wordlock *l)
{
	uint32_t free_ = 0;

	return atomic_compare_exchange_strong_explicit(&l->word, &free_, 1,
	    memory_order_acquire, memory_order_relaxed);
}

/* A full memory barrier on every thread of the process (see above); false
 * if the kernel refuses it.  The process registers for it on first use,
 * unless it did so already (ml_wordlock_prepare()). */
static bool __attribute__((noinline, unused))
ml_wordlock_barrier_all(void)
{
	int err = errno;
	bool ok = syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0,
	    0) == 0 || (errno == EPERM && syscall(SYS_membarrier,
	    MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0 &&
	    syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0,
	    0) == 0);

	errno = err;
	return ok;
}

static void __attribute__((noinline, unused))
ml_wordlock_wait(struct ml_wordlock *l)
{
	for (int i = 0; i < ML_WORDLOCK_SPINS; i++) {
		ml_wordlock_relax();
		if (atomic_load_explicit(&l->word, memory_order_relaxed) == 0 &&
		    ml_wordlock_try(l))
			return;
	}
	atomic_fetch_add_explicit(&l->sleepers, 1, memory_order_seq_cst);
	static const struct timespec ms = { 0, 1000000 };
	const struct timespec *timeout = ml_wordlock_barrier_all() ? NULL :
	    &ms;
	while (!ml_wordlock_try(l))
		ml_wordlock_futex(&l->word, FUTEX_WAIT_PRIVATE, 1, timeout);
	atomic_fetch_sub_explicit(&l->sleepers, 1, memory_order_relaxed);
}

static inline void
ml_wordlock_lock(struct ml_wordlock *l)
{
	if (!ml_wordlock_try(l))
		ml_wordlock_wait(l);
}

static inline void
ml_wordlock_unlock(struct ml_wordlock *l)
{
	atomic_store_explicit(&l->word, 0, memory_order_release);
	/* the fast side of the sleeper's membarrier: the compiler's order */
	atomic_signal_fence(memory_order_seq_cst);
	if (atomic_load_explicit(&l->sleepers, memory_order_relaxed) != 0)
		ml_wordlock_futex(&l->word, FUTEX_WAKE_PRIVATE, 1, NULL);
}

/* Free, nobody asleep on it: a new lock, or in a child after fork() (the
 * parent's sleepers are not in the child). */
static inline void
ml_wordlock_init(struct ml_wordlock *l)
{
	atomic_store_explicit(&l->word, 0, memory_order_relaxed);
	atomic_store_explicit(&l->sleepers, 0, memory_order_relaxed);
}

/*
 * Whether this thread is the process's only one (glibc 2.32 and later say
 * so; elsewhere the answer is no).  No other thread can then hold a lock
 * or wait for one: a lock can be taken with a plain store, as the C
 * library's malloc does, and spare the atomic instruction, which costs
 * more than the rest of a short critical section.  Once a thread is made
 * the answer stays no, in a child of fork() too (glibc 2.36).
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
 * Register the process for the barrier of ml_wordlock_barrier_all() while
 * it has one thread, when that costs microseconds.  With threads the
 * kernel first waits for a grace period of RCU (10 to 15 ms measured
 * here), which the first thread to sleep on a lock would pay.  It holds
 * for the life of the process and of its fork() children.
 */
static inline void
ml_wordlock_prepare(void)
{
	int err = errno;

	if (ml_wordlock_lone())
		syscall(SYS_membarrier,
		    MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0);
	errno = err;
}

/* As ml_wordlock_lock(), with a plain store while the process has one
 * thread.  ml_wordlock_unlock() lets it go: it reads `sleepers` in any
 * case, so a lock taken alone and let go once a thread was made in
 * between (the new thread may sleep on it) wakes that thread. */
static inline void
ml_wordlock_lock_lone(struct ml_wordlock *l)
{
	if (ml_wordlock_lone() &&
	    atomic_load_explicit(&l->word, memory_order_relaxed) == 0)
		atomic_store_explicit(&l->word, 1, memory_order_relaxed);
	else
		ml_wordlock_lock(l);
}

#endif /* ML_WORDLOCK_H */
