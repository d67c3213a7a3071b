/*
 * runtime.h - the process's lease runtime, under the public API: the core,
 * its initialisation, the loop thread's start policy and the end of every
 * lease.
 *
 * Files above it (api.c, the tracking layer, the control server, init.c)
 * call in here; it calls nothing of theirs by name.  What it must do for
 * them is registered: an end handler per lease kind (the tracking layer's
 * blocks), expiry observers (the report log, the socket's watchers) and
 * the fork handlers in lock order (init.c).
 */
#ifndef ML_RUNTIME_H
#define ML_RUNTIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "memlease.h"

struct ml_core;
struct ml_ended;

/* Registration, before the first lease (init.c does it once). */

/* Lease kinds are the core's 3-bit kind.  Kind 0 is the API's buffer,
 * memlease's own memory, freed here when its lease ends. */
#define ML_RUNTIME_BUFFER 0

/* What ends the block of a lease of another kind: fn, called once its
 * lease ended (released or expired) and was observed; action, what its
 * expiry does to the block ("freed", in reports); reclaims, whether that
 * counts as reclaimed in the stats.  The block of a kind with no handler
 * is left as it is ("left to the program"). */
typedef void (*ml_runtime_end_fn)(const struct ml_ended *e, uint64_t now);
void ml_runtime_on_end(unsigned kind, ml_runtime_end_fn fn,
         const char *action, bool reclaims);

/* An expiry observer.  expired() is called, in the order of registration,
 * for every lease that expired, after the program's hook and before its
 * block ends, with the recursion guard held; action says what becomes of
 * the block.  It returns true if the loop thread must run tick() soon.
 * tick() (may be NULL) runs on the loop thread at each of its ticks. */
struct ml_runtime_observer {
	bool (*expired)(const struct ml_ended *e, uint64_t now,
	    const char *action);
	void (*tick)(void);
};
#define ML_RUNTIME_OBSERVERS 4
void ml_runtime_observe(const struct ml_runtime_observer *o);

/* The fork handlers of the whole process, in lock order, given to
 * pthread_atfork() when the runtime is initialised. */
void ml_runtime_on_fork(void (*prepare)(void), void (*parent)(void),
         void (*child)(void));

/* Initialise (once); 0 or a negative errno.  In a fork child, or with
 * MEMLEASE_SOCKET=on, it may also start the loop thread. */
int        ml_runtime_ready(void);

/* A daemon's start (runtime.c, "Daemons"): setsid() or daemon(3)
 * succeeded; fork() returned in a child. */
void       ml_runtime_session(void);
void       ml_runtime_forked(void);

/* The process-wide core, initialised; NULL if initialisation failed. */
struct ml_core *ml_runtime_core(void);

/* Frames recorded per lease (MEMLEASE_BACKTRACE), and a stack captured
 * from return address `from` with that depth. */
int        ml_runtime_depth(void);
uint32_t   ml_runtime_capture(const void *from);

/* A lease for a block, starting at now (from clock.h: ml_clock_ms_ceil()
 * or ml_clock_ms_late()), chosen by byte sampling of mean `sample` (0: not
 * sampled); 0 with errno set on failure.  Initialises, but
 * never starts the thread: callers may hold a lock of the map.  Call
 * ml_runtime_deadline(*wake) after, with no lock held, when ttl_ms is not
 * 0. */
memlease_t ml_runtime_add(uint64_t now, void *buf, size_t size,
               uint64_t ttl_ms, unsigned releases, unsigned kind,
               uint32_t stack, const char *label, uint64_t sample,
               bool *wake);
void       ml_runtime_deadline(bool wake);

/* ml_runtime_add() from now, and ml_runtime_deadline(), for the API's own
 * leases (stack: from ml_runtime_capture()). */
memlease_t ml_runtime_add_now(void *buf, size_t size, uint64_t ttl_ms,
               unsigned releases, unsigned kind, uint32_t stack);

/* A lease the core ended (released, unpinned past its deadline, expired):
 * the hook, the observers, then its kind's end handler. */
void       ml_runtime_finish(const struct ml_ended *e, uint64_t now);

/* ml_core_end() and ml_core_move() on the process-wide core. */
int        ml_runtime_end(memlease_t h, struct ml_ended *out);
int        ml_runtime_move(memlease_t h, void *buf, size_t size);

/* Expire a lease now (its kind's action applies): 0, -ESTALE, -EBUSY
 * (pinned). */
int        ml_runtime_expire(memlease_t h);

/* What memlease_renew(), memlease_expire_due(), memlease_stats() and
 * memlease_on_expire() do, on an initialised runtime. */
int        ml_runtime_renew(memlease_t h, uint64_t ttl_ms);
int        ml_runtime_expire_due(void);
void       ml_runtime_stats(struct memlease_stats *st);
/* Free the core's spare entry block: how many were freed. */
int        ml_runtime_trim(void);
void       ml_runtime_set_hook(memlease_expire_fn fn, void *arg);

/* The process is ending: no new thread starts. */
void       ml_runtime_exit(void);

/* Fork handlers: the hook's lock is taken early, the core's last (see
 * init.c's table). */
void ml_runtime_prepare(void);
void ml_runtime_parent(void);
void ml_runtime_child(void);
void ml_runtime_core_prepare(void);
void ml_runtime_core_parent(void);
void ml_runtime_core_child(void);

#endif /* ML_RUNTIME_H */
