/*
 * loop.h - memlease's own thread: a private libev loop with one timer at
 * the earliest deadline and a wake-up descriptor.
 */
#ifndef ML_LOOP_H
#define ML_LOOP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* The longest the loop thread sleeps while it runs. */
#define ML_LOOP_MAX_SLEEP_MS 1000

/* Expire what is due; return ms until the next deadline (at most
 * ML_LOOP_MAX_SLEEP_MS), -1 if none.  Called on the loop thread. */
typedef int64_t (*ml_loop_tick_fn)(void);

/* Start the thread if it is not running (in this process).  Returns 0 or
 * a negative errno; the first failure is reported on stderr. */
int  ml_loop_ensure(ml_loop_tick_fn tick);

/* on_start is called when the loop is made, by the thread that starts it,
 * before the loop runs; on_stop on the loop thread when it stops.  The
 * control server's watchers live on that loop. */
struct ev_loop;
void ml_loop_hooks(void (*on_start)(struct ev_loop *),
         void (*on_stop)(struct ev_loop *));

/* Tell a running loop that the earliest deadline changed. */
void ml_loop_wake(void);

/* Stop and join the thread (not from the loop thread itself). */
void ml_loop_stop(void);

bool ml_loop_running(void);
bool ml_loop_is_self(void);
/* The thread's kernel thread id while it runs (waiting, a moment, for
 * a thread just made to say it), else 0. */
pid_t ml_loop_task(void);

/* Times the loop thread has looked at the deadlines, for tests. */
uint64_t ml_loop_ticks(void);

/* Fork handlers. */
void ml_loop_prepare(void);
void ml_loop_parent(void);
void ml_loop_child(void);

#endif /* ML_LOOP_H */
