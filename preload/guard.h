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

extern __thread int ml_guard_depth __attribute__((tls_model("initial-exec")));
/* Locks of the pointer map this thread holds: a free() or realloc() made
 * while it is not 0 (a signal handler that interrupted memlease) must not
 * wait for any lock of memlease's. */
extern __thread int ml_lock_depth __attribute__((tls_model("initial-exec")));

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
