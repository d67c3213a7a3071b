/*
 * guard.h - the recursion guard: set while memlease runs code that may
 * allocate (libunwind, libev, jansson, stdio), and for life on memlease's
 * own thread, so that nothing memlease allocates is ever tagged.
 *
 * Initial-exec TLS: reading or writing it never allocates, even on the
 * first touch in a new thread.
 */
#ifndef ML_GUARD_H
#define ML_GUARD_H

#include <stdatomic.h>

extern __thread int ml_guard_depth __attribute__((tls_model("initial-exec")));
/* Locks of memlease's this thread holds (the pointer map's, reclaim.c's):
 * a free() or realloc() made while it is not 0 (a signal handler that
 * interrupted memlease) must not wait for any lock of memlease's. */
extern __thread int ml_lock_depth __attribute__((tls_model("initial-exec")));

/* Such a lock counted from before it is taken until after it is let go:
 * a signal may come in the middle of either. */
static inline void
ml_lock_counted(void)
{
	ml_lock_depth++;
	atomic_signal_fence(memory_order_seq_cst);
}

static inline void
ml_lock_uncounted(void)
{
	atomic_signal_fence(memory_order_seq_cst);
	ml_lock_depth--;
}

static inline void
ml_guard_enter(void)
{
	ml_guard_depth++;
}

static inline void
ml_guard_leave(void)
{
	ml_guard_depth--;
}

static inline int
ml_guard_held(void)
{
	return ml_guard_depth != 0;
}

#endif /* ML_GUARD_H */
