/*
 * runtime.c - the lease runtime of the process (see runtime.h).
 *
 * Owns: the process-wide core, its initialisation, the program's expiry
 * hook, the loop thread's start policy (when it starts, when a fork child
 * waits) and the end of every lease: the hook, the expiry observers, then
 * the end handler of the lease's kind.  Lease buffers of the API are
 * allocated by the API and freed here, outside every lock.
 *
 * Locking: the core has its own lock; `rt.hook_lock` guards the hook.  The
 * tables of end handlers and observers are filled before the first lease
 * (init.c) and only read after.  The fork order of every lock is init.c's.
 *
 * Never: call a file above it by name (api.c, the tracking layer, the
 * server); start the loop thread from ml_runtime_add(), whose callers hold
 * a lock of the map.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "core.h"
#include "guard.h"
#include "loop.h"
#include "mem.h"
#include "options.h"
#include "report.h"
#include "runtime.h"
#include "stackid.h"
#include "symbols.h"
#include "stacks.h"

__thread int ml_guard_depth __attribute__((tls_model("initial-exec")));
__thread int ml_lock_depth __attribute__((tls_model("initial-exec")));

#define EXPIRE_BATCH  64

static struct {
	pthread_once_t     once;
	int                init_err;   /* negative errno */
	struct ml_core    *core;       /* made once (init_once), kept for good */
	bool               use_thread;
	int                depth;      /* frames recorded per lease */
	pthread_mutex_t    hook_lock;
	memlease_expire_fn hook;
	void              *hook_arg;
	struct kind {
		ml_runtime_end_fn end;      /* NULL: nothing (a buffer: freed) */
		const char       *action;   /* what expiry does to the block */
		bool              reclaims; /* ...frees or gives it back */
	} kind[ML_KIND_MAX + 1];
	const struct ml_runtime_observer *obs[ML_RUNTIME_OBSERVERS];
	int                nobs;
	void             (*fork[3])(void);   /* prepare, parent, child */
	atomic_bool        start_pending;  /* the loop may have to start: in a
	                                    * fork child, or at start with
	                                    * MEMLEASE_SOCKET=on */
	atomic_bool        exiting;        /* ml_runtime_exit() ran */
	_Atomic uint64_t   forked_at;      /* a fork child's thread waits
	                                    * (child_waits): ms of the fork */
	atomic_bool        own_session;    /* this process called setsid():
	                                    * its fork children start at once
	                                    * (see "Daemons" below) */
	atomic_uint_fast64_t reclaimed;    /* expired and freed or given back */
} rt = {
	.once = PTHREAD_ONCE_INIT,
	.hook_lock = PTHREAD_MUTEX_INITIALIZER,
	.kind[ML_RUNTIME_BUFFER] = { NULL, "freed", true },
};

/* The core's own memory, and lease buffers: memlease's own (mem.h), so
 * that under the preload they are never tagged. */

static const struct ml_alloc core_alloc = { ml_mem_realloc, ml_mem_free };

/* Registration. */

void
ml_runtime_on_end(unsigned kind, ml_runtime_end_fn fn, const char *action,
    bool reclaims)
{
	if (kind <= ML_KIND_MAX && kind != ML_RUNTIME_BUFFER)
		rt.kind[kind] = (struct kind){ fn, action, reclaims };
}

void
ml_runtime_observe(const struct ml_runtime_observer *o)
{
	if (rt.nobs < ML_RUNTIME_OBSERVERS)
		rt.obs[rt.nobs++] = o;
}

void
ml_runtime_on_fork(void (*prepare)(void), void (*parent)(void),
    void (*child)(void))
{
	rt.fork[0] = prepare;
	rt.fork[1] = parent;
	rt.fork[2] = child;
}

/* Fork: the hook's lock, early in the order; the core's, last. */

void
ml_runtime_prepare(void)
{
	pthread_mutex_lock(&rt.hook_lock);
}

void
ml_runtime_parent(void)
{
	pthread_mutex_unlock(&rt.hook_lock);
}

void
ml_runtime_child(void)
{
	pthread_mutex_init(&rt.hook_lock, NULL);
	/* The child has no thread; a later call starts one for the leases
	 * it inherited (a thread cannot be started from here): after the
	 * grace of child_waits(), or at once in a daemon's child, when fork()
	 * returns (ml_runtime_forked()). */
	bool daemon = atomic_exchange(&rt.own_session, false);
	atomic_store(&rt.forked_at, daemon ? 0 : ml_clock_ms() | 1);
	atomic_store(&rt.start_pending, rt.use_thread);
}

void
ml_runtime_core_prepare(void)
{
	ml_core_lock(rt.core);
}

void
ml_runtime_core_parent(void)
{
	ml_core_unlock(rt.core);
}

void
ml_runtime_core_child(void)
{
	ml_core_reinit_lock(rt.core);
}

static void
init_once(void)
{
	int r;

	ml_guard_enter();
	ml_report_init(ml_options_str(ML_OPT_LOG),
	    (enum ml_log_format)ml_options_num(ML_OPT_LOG_FORMAT),
	    (uint64_t)ml_options_num(ML_OPT_LOG_MAX));
	if ((r = ml_stackid_set_skip(ml_options_str(ML_OPT_SKIP))) != 0)
		ml_report_diag("MEMLEASE_SKIP=%s: %s; no frame is skipped",
		    ml_options_str(ML_OPT_SKIP), r == -EINVAL ?
		    "more than 32 globs" : strerror(-r));
	if (ml_fault_env() != 0)
		ml_report_diag("MEMLEASE_FAULT=%s: not every:N, every:N:FIRST, "
		    "random:ONE_IN:SEED or off; no faults are made",
		    ml_options_str(ML_OPT_FAULT));
	rt.use_thread = ml_options_num(ML_OPT_THREAD);
	rt.depth = (int)ml_options_num(ML_OPT_BACKTRACE);
	if ((r = ml_core_new(&core_alloc, ml_clock_ms(), &rt.core)) != 0) {
		rt.init_err = r;
		ml_report_diag("cannot initialise: %s", strerror(-r));
	} else if (rt.fork[0] != NULL && (r = pthread_atfork(rt.fork[0],
	    rt.fork[1], rt.fork[2])) != 0) {
		rt.init_err = -r;
		ml_report_diag("cannot initialise: %s", strerror(r));
	}
	/* MEMLEASE_SOCKET=on: the thread (and its socket) start as soon as
	 * this returns, not from here: the thread's first tick calls ready(),
	 * which waits for init_once() to end, and the start waits for that
	 * first tick (every process stalled 200 ms as it started). */
	atomic_store(&rt.start_pending, rt.init_err == 0 && rt.use_thread &&
	    ml_options_socket() == ML_SOCKET_ON);
	ml_guard_leave();
}

static void start_pending(void);

static inline int
ready(void)
{
	pthread_once(&rt.once, init_once);
	if (__builtin_expect(atomic_load_explicit(&rt.start_pending,
	    memory_order_relaxed), 0))
		start_pending();
	return rt.init_err;
}

/* Ending leases. */

static void
call_hook(const struct ml_ended *e)
{
	pthread_mutex_lock(&rt.hook_lock);
	memlease_expire_fn fn = rt.hook;
	void *arg = rt.hook_arg;
	pthread_mutex_unlock(&rt.hook_lock);
	if (fn != NULL)
		fn(e->h, e->buf, e->size, e->label[0] ? e->label : NULL, arg);
}

/* What the kind of e does at its end (free, reclaim, ...). */
static void
finish_action(const struct ml_ended *e, uint64_t now)
{
	const struct kind *k = &rt.kind[e->kind & ML_KIND_MAX];

	if (k->end != NULL)
		k->end(e, now);
	else if (e->kind == ML_RUNTIME_BUFFER)
		ml_mem_free(e->buf);
}

/* The report of an expiry, and the watchers told. */
static void
finish_report(const struct ml_ended *e, uint64_t now)
{
	const struct kind *k = &rt.kind[e->kind & ML_KIND_MAX];
	const char *action = k->action != NULL ? k->action :
	    "left to the program";
	bool wake = false;

	ml_guard_enter();
	for (int i = 0; i < rt.nobs; i++)
		wake |= rt.obs[i]->expired(e, now, action);
	if (wake && !ml_loop_is_self())
		ml_loop_wake();
	ml_guard_leave();
	if (k->reclaims)
		atomic_fetch_add(&rt.reclaimed, 1);
}

/*
 * The ends of batch[n]: the program's hook first (it sees the buffer);
 * then the actions that give memory back (free, reclaim) before the
 * reports, which name their frames (the first time, tens of milliseconds
 * of reading ELF and DWARF: a block is not kept that long for it); the
 * other actions (abort, report) after their report.
 */
static void
finish_all(const struct ml_ended *batch, int n, uint64_t now)
{
	for (int i = 0; i < n; i++) {
		const struct kind *k = &rt.kind[batch[i].kind & ML_KIND_MAX];
		if (batch[i].why == ML_END_EXPIRED)
			call_hook(&batch[i]);
		if (k->reclaims || batch[i].why != ML_END_EXPIRED)
			finish_action(&batch[i], now);
	}
	for (int i = 0; i < n; i++) {
		const struct kind *k = &rt.kind[batch[i].kind & ML_KIND_MAX];
		if (batch[i].why != ML_END_EXPIRED)
			continue;
		finish_report(&batch[i], now);
		if (!k->reclaims)
			finish_action(&batch[i], now);
	}
}

void
ml_runtime_finish(const struct ml_ended *e, uint64_t now)
{
	finish_all(e, 1, now);
}

int
ml_runtime_expire_due(void)
{
	struct ml_ended batch[EXPIRE_BATCH];
	int n, total = 0;

	do {
		uint64_t now = ml_clock_ms();
		n = ml_core_expire(rt.core, now, batch, EXPIRE_BATCH);
		finish_all(batch, n, now);
		total += n;
	} while (n == EXPIRE_BATCH);
	return total;
}

/* The loop thread looks at the deadlines: it sleeps until the next one,
 * or ML_LOOP_MAX_SLEEP_MS, and a lease made meanwhile wakes it only if it
 * is due before then (ml_core_arm). */
static int64_t
loop_tick(void)
{
	if (ready() == 0)
		ml_runtime_expire_due();
	for (int i = 0; i < rt.nobs; i++)
		if (rt.obs[i]->tick != NULL)
			rt.obs[i]->tick();
	ml_symbols_flush();     /* names for the processes beside this one */
	return ml_core_arm(rt.core, ml_clock_ms(), ML_LOOP_MAX_SLEEP_MS);
}

/*
 * In a child just made by fork(), the thread waits: most children execute
 * another program or exit within milliseconds (a shell's subshells, fork
 * and exec), and for them a thread, its wake-up descriptor and its socket
 * are all cost, their descriptors taken for a moment at the lowest free
 * numbers while the child closes its own.  The thread starts at the first
 * call CHILD_GRACE_MS after the fork, or at once for a deadline due within
 * CHILD_SOON_MS (a child that makes short leases and then waits, as a
 * daemon may, still sees them expire).  True (and the start left pending)
 * while it waits.
 */
#define CHILD_GRACE_MS 50
#define CHILD_SOON_MS  1000

static bool
child_waits(void)
{
	uint64_t at = atomic_load_explicit(&rt.forked_at,
	    memory_order_relaxed);

	if (at == 0)
		return false;
	uint64_t now = ml_clock_ms();
	int64_t due = ml_core_next_deadline(rt.core, now);
	if (now < at + CHILD_GRACE_MS && (due < 0 || due >= CHILD_SOON_MS)) {
		atomic_store(&rt.start_pending, true);
		return true;
	}
	atomic_store(&rt.forked_at, 0);
	return false;
}

/* A lease with a deadline exists: the loop thread must run, and learn of
 * a new earliest deadline. */
static void
deadline_set(bool wake)
{
	if (!rt.use_thread || atomic_load(&rt.exiting))
		return;
	if (!ml_loop_running()) {
		if (child_waits())
			return;
		ml_loop_ensure(loop_tick);
	}
	if (wake)       /* also when another thread just started the loop */
		ml_loop_wake();
}

static void
start_pending(void)
{
	struct memlease_stats st;

	if (!atomic_exchange(&rt.start_pending, false))
		return;
	ml_core_stats(rt.core, &st);
	if (st.with_deadline != 0 || ml_options_socket() == ML_SOCKET_ON)
		deadline_set(true);
}

/*
 * Daemons.  A program that goes to the background (redis --daemonize, a
 * double fork) runs on in a fork child, which starts no thread in its
 * grace and after it only at its first lease or API call: with no rules,
 * never, and with MEMLEASE_SOCKET=on it would have no socket.  Waiting
 * for the parent's exit cannot be seen from the child without a thread,
 * and the child may sleep without allocating.  What a daemon does, and a
 * short-lived child (fork and exec, a shell's subshell) does not, is make
 * a session of its own: setsid(), or daemon(3), which calls it.  So
 * (preload.c interposes them and fork()):
 *
 *  - a process that made its own session starts its thread at once, in
 *    setsid() or daemon(), if a start is pending (a fork child's);
 *  - the children it forks start theirs as fork() returns in them, with
 *    no grace: the second fork of a double fork, and the workers a daemon
 *    forks, are long-lived.  Their own children have the grace again.
 *
 * A child that outlives its parent but never calls setsid() keeps the
 * rule above (memlease(7), CAVEATS).
 */
void
ml_runtime_session(void)
{
	if (!rt.use_thread || rt.init_err != 0)
		return;         /* not initialised, or no thread wanted */
	atomic_store(&rt.own_session, true);
	atomic_store(&rt.forked_at, 0);
	ready();
}

void
ml_runtime_forked(void)
{
	if (atomic_load(&rt.start_pending) && atomic_load(&rt.forked_at) == 0)
		ready();
}

/* Leases. */

int
ml_runtime_ready(void)
{
	return ready();
}

struct ml_core *
ml_runtime_core(void)
{
	return ready() == 0 ? rt.core : NULL;
}

int
ml_runtime_depth(void)
{
	return rt.depth;
}

uint32_t
ml_runtime_capture(const void *from)
{
	ml_guard_enter();
	uint32_t stack = ml_stacks_capture(from, rt.depth);
	ml_guard_leave();
	return stack;
}

/* A lease for buf; 0 with errno set on failure.  *wake: the loop thread
 * must learn of a new earliest deadline (ml_runtime_deadline). */
static memlease_t
add(uint64_t now, void *buf, size_t size, uint64_t ttl_ms, unsigned releases,
    unsigned kind, uint32_t stack, const char *label, uint64_t sample,
    bool *wake)
{
	memlease_t h;
	int r = ml_core_add_sampled(rt.core, now, buf, size, ttl_ms,
	    releases, stack, kind, label, sample, &h, wake);

	if (r != 0) {
		errno = -r;
		return 0;
	}
	return h;
}

memlease_t
ml_runtime_add(uint64_t now, void *buf, size_t size, uint64_t ttl_ms,
    unsigned releases, unsigned kind, uint32_t stack, const char *label,
    uint64_t sample, bool *wake)
{
	*wake = false;
	/* Initialised, but not restarted in a fork child: callers hold a
	 * lock of the map (ml_runtime_deadline() does that, unlocked). */
	pthread_once(&rt.once, init_once);
	if (rt.init_err != 0) {
		errno = -rt.init_err;
		return 0;
	}
	return add(now, buf, size, ttl_ms, releases, kind, stack, label, sample,
	    wake);
}

memlease_t
ml_runtime_add_now(void *buf, size_t size, uint64_t ttl_ms,
    unsigned releases, unsigned kind, uint32_t stack)
{
	bool wake;
	memlease_t h = add(ml_clock_ms_ceil(), buf, size, ttl_ms, releases,
	    kind, stack, NULL, 0, &wake);

	if (h != 0 && ttl_ms != 0)
		deadline_set(wake);
	return h;
}

void
ml_runtime_deadline(bool wake)
{
	/* at almost every tagged allocation: the thread runs, and the
	 * deadline is not its next one */
	if (!wake && ml_loop_running())
		return;
	if (ready() == 0)
		deadline_set(wake);
}

int
ml_runtime_end(memlease_t h, struct ml_ended *out)
{
	return ml_core_end(rt.core, h, out);
}

int
ml_runtime_move(memlease_t h, void *buf, size_t size)
{
	return ml_core_move(rt.core, h, buf, size);
}

int
ml_runtime_expire(memlease_t h)
{
	struct ml_ended e;
	int r;

	if ((r = ready()) != 0)
		return r;
	if ((r = ml_core_expire_one(rt.core, h, &e)) != 0)
		return r;
	ml_runtime_finish(&e, ml_clock_ms());
	return 0;
}

int
ml_runtime_renew(memlease_t h, uint64_t ttl_ms)
{
	bool wake;
	int r;

	if ((r = ready()) != 0)
		return r;
	r = ml_core_renew(rt.core, h, ml_clock_ms_ceil(), ttl_ms, &wake);
	if (r == 0 && ttl_ms != 0)
		deadline_set(wake);
	return r;
}

void
ml_runtime_stats(struct memlease_stats *st)
{
	ml_core_stats(rt.core, st);
	st->reclaimed = atomic_load(&rt.reclaimed);
}

int
ml_runtime_trim(void)
{
	return ml_core_trim(rt.core);
}

void
ml_runtime_set_hook(memlease_expire_fn fn, void *arg)
{
	pthread_mutex_lock(&rt.hook_lock);
	rt.hook = fn;
	rt.hook_arg = fn != NULL ? arg : NULL;
	pthread_mutex_unlock(&rt.hook_lock);
}

/*
 * The process is ending.  Destructors of objects finalised after this one
 * and atexit handlers of theirs may still allocate, tagged: their leases
 * are kept but never expire, for a thread started now would run on while
 * the libraries under it (libev, libunwind) are finalised.
 */
void
ml_runtime_exit(void)
{
	atomic_store(&rt.exiting, true);
}
