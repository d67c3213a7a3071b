/*
 * api.c - the public memlease_* functions, over one process-wide core.
 *
 * Owns: the global core, the expiry hook, the configuration read from the
 * environment, and the glue to the loop thread, the stack table and the
 * reports.  Lease buffers are allocated here (never by the core) and
 * freed here, outside every lock.
 *
 * Locking: the core has its own lock; `api.hook_lock` guards the hook.
 * The fork handlers take every lock in the order the code nests them: the
 * loop's, the hook's, the server's queue, the report's and the stack
 * table's (a report being written, or a stack being stored, may free() a
 * block, and free() may take a shard of the map), the tracking layer's
 * (its shards are taken before the core's by tagged allocations), the
 * core's; the child re-makes them all.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "clock.h"
#include "core.h"
#include "guard.h"
#include "loop.h"
#include "mem.h"
#include "real.h"
#include "report.h"
#include "server.h"
#include "stacks.h"
#include "tag.h"

__thread int ml_guard_depth __attribute__((tls_model("initial-exec")));
__thread int ml_lock_depth __attribute__((tls_model("initial-exec")));

#define DEFAULT_DEPTH 16
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
	atomic_bool        start_pending;  /* the loop may have to start: in a
	                                    * fork child, or at start with
	                                    * MEMLEASE_SOCKET=on */
	atomic_bool        exiting;        /* api_fini() ran: no new thread */
	_Atomic uint64_t   forked_at;      /* a fork child's thread waits
	                                    * (child_waits): ms of the fork */
	atomic_uint_fast64_t reclaimed;    /* expired and freed or given back */
} api = {
	.once = PTHREAD_ONCE_INIT,
	.hook_lock = PTHREAD_MUTEX_INITIALIZER,
};

/* The core's own memory, and lease buffers: memlease's own (mem.h), so
 * that under the preload they are never tagged. */

static const struct ml_alloc core_alloc = { ml_mem_realloc, ml_mem_free };

/* Configuration. */

static long
env_long(const char *name, long def, long min, long max)
{
	const char *s = getenv(name);
	char *end;

	if (s == NULL || *s == '\0')
		return def;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max) {
		ml_report_diag("%s=%s: not a number from %ld to %ld; using %ld",
		    name, s, min, max, def);
		return def;
	}
	return v;
}

static void
atfork_prepare(void)
{
	ml_loop_prepare();
	pthread_mutex_lock(&api.hook_lock);
	ml_server_prepare();
	ml_report_lock();
	ml_stacks_lock();
	ml_tag_prepare();
	ml_core_lock(api.core);
}

static void
atfork_parent(void)
{
	ml_core_unlock(api.core);
	ml_tag_parent();
	ml_stacks_unlock();
	ml_report_unlock();
	ml_server_parent();
	pthread_mutex_unlock(&api.hook_lock);
	ml_loop_parent();
}

static void
atfork_child(void)
{
	ml_core_reinit_lock(api.core);
	ml_tag_child();
	ml_stacks_reinit_lock();
	ml_report_reinit_lock();
	ml_server_child();
	pthread_mutex_init(&api.hook_lock, NULL);
	ml_loop_child();
	/* The child has no thread; a later call starts one for the leases
	 * it inherited (a thread cannot be started from here). */
	atomic_store(&api.forked_at, ml_clock_ms() | 1);
	atomic_store(&api.start_pending, api.use_thread);
}

static int64_t loop_tick(void);

static void
init_once(void)
{
	int r;

	ml_guard_enter();
	ml_report_init();
	if (ml_fault_env() != 0)
		ml_report_diag("MEMLEASE_FAULT=%s: not every:N, every:N:FIRST, "
		    "random:ONE_IN:SEED or off; no faults are made",
		    getenv("MEMLEASE_FAULT"));
	const char *thread = getenv("MEMLEASE_THREAD");
	api.use_thread = thread == NULL || strcmp(thread, "0") != 0;
	api.depth = (int)env_long("MEMLEASE_BACKTRACE", DEFAULT_DEPTH, 0,
	    ML_STACK_MAX_DEPTH);
	if ((r = ml_core_new(&core_alloc, ml_clock_ms(), &api.core)) != 0) {
		api.init_err = r;
		ml_report_diag("cannot initialise: %s", strerror(-r));
	} else if ((r = pthread_atfork(atfork_prepare, atfork_parent,
	    atfork_child)) != 0) {
		api.init_err = -r;
		ml_report_diag("cannot initialise: %s", strerror(r));
	}
	ml_loop_hooks(ml_server_start, ml_server_stop);
	/* MEMLEASE_SOCKET=on: the thread (and its socket) start as soon as
	 * this returns, not from here: the thread's first tick calls ready(),
	 * which waits for init_once() to end, and the start waits for that
	 * first tick (every process stalled 200 ms as it started). */
	atomic_store(&api.start_pending, api.init_err == 0 && api.use_thread &&
	    ml_server_mode() == ML_SOCKET_ON);
	ml_guard_leave();
}

static void start_pending(void);

static inline int
ready(void)
{
	pthread_once(&api.once, init_once);
	if (__builtin_expect(atomic_load_explicit(&api.start_pending,
	    memory_order_relaxed), 0))
		start_pending();
	return api.init_err;
}

/* Ending leases. */

static void
call_hook(const struct ml_ended *e)
{
	pthread_mutex_lock(&api.hook_lock);
	memlease_expire_fn fn = api.hook;
	void *arg = api.hook_arg;
	pthread_mutex_unlock(&api.hook_lock);
	if (fn != NULL)
		fn(e->h, e->buf, e->size, e->label[0] ? e->label : NULL, arg);
}

/* What became of the block of an expired lease, for its report. */
static const char *
action_of(unsigned kind)
{
	switch (kind) {
	case ML_KIND_BUFFER:
	case ML_KIND_FREE:      return "freed";
	case ML_KIND_RECLAIM:   return "reclaimed";
	case ML_KIND_ABORT:     return "aborting";
	default:                return "left to the program";
	}
}

/* After the core ended a lease: hook and report for expiries, then the
 * block's end: freed here, or by the tracking layer for kinds of its own. */
static void
finish(const struct ml_ended *e, uint64_t now)
{
	if (e->why == ML_END_EXPIRED) {
		call_hook(e);
		ml_guard_enter();
		if (e->report)
			ml_report_lease(e, now, ML_EV_EXPIRED,
			    action_of(e->kind));
		if (ml_server_event(e, now, action_of(e->kind)) &&
		    !ml_loop_is_self())
			ml_loop_wake();
		ml_guard_leave();
		if (e->kind == ML_KIND_BUFFER || e->kind == ML_KIND_FREE ||
		    e->kind == ML_KIND_RECLAIM)
			atomic_fetch_add(&api.reclaimed, 1);
	}
	if (e->kind == ML_KIND_BUFFER)
		ml_mem_free(e->buf);
	else
		ml_tag_ended(e, now);
}

/* The loop thread looks at the deadlines: it sleeps until the next one,
 * or ML_LOOP_MAX_SLEEP_MS, and a lease made meanwhile wakes it only if it
 * is due before then (ml_core_arm). */
static int64_t
loop_tick(void)
{
	memlease_expire_due();
	ml_server_flush();
	return ml_core_arm(api.core, ml_clock_ms(), ML_LOOP_MAX_SLEEP_MS);
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
	uint64_t at = atomic_load_explicit(&api.forked_at,
	    memory_order_relaxed);

	if (at == 0)
		return false;
	uint64_t now = ml_clock_ms();
	int64_t due = ml_core_next_deadline(api.core, now);
	if (now < at + CHILD_GRACE_MS && (due < 0 || due >= CHILD_SOON_MS)) {
		atomic_store(&api.start_pending, true);
		return true;
	}
	atomic_store(&api.forked_at, 0);
	return false;
}

/* A lease with a deadline exists: the loop thread must run, and learn of
 * a new earliest deadline. */
static void
deadline_set(bool wake)
{
	if (!api.use_thread || atomic_load(&api.exiting))
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

	if (!atomic_exchange(&api.start_pending, false))
		return;
	ml_core_stats(api.core, &st);
	if (st.with_deadline != 0 || ml_server_mode() == ML_SOCKET_ON)
		deadline_set(true);
}

/* A lease for buf; 0 with errno set on failure.  *wake: the loop thread
 * must learn of a new earliest deadline (ml_api_deadline). */
static memlease_t
add(uint64_t now, void *buf, size_t size, uint64_t ttl_ms, unsigned releases,
    enum ml_kind kind, uint32_t stack, const char *label, bool *wake)
{
	memlease_t h;
	int r = ml_core_add_labeled(api.core, now, buf, size, ttl_ms,
	    releases, stack, kind, label, &h, wake);

	if (r != 0) {
		errno = -r;
		return 0;
	}
	return h;
}

static uint32_t
capture(const void *from)
{
	ml_guard_enter();
	uint32_t stack = ml_stacks_capture(from, api.depth);
	ml_guard_leave();
	return stack;
}

/* add() for the API's own calls, from return address `from`. */
static memlease_t
add_here(void *buf, size_t size, uint64_t ttl_ms, unsigned releases,
    enum ml_kind kind, const void *from)
{
	bool wake;
	memlease_t h = add(ml_clock_ms_ceil(), buf, size, ttl_ms, releases,
	    kind, capture(from), NULL, &wake);

	if (h != 0 && ttl_ms != 0)
		deadline_set(wake);
	return h;
}

/* The API. */

memlease_t
memlease_alloc(size_t size, uint64_t ttl_ms, unsigned releases, void **bufp)
{
	void *buf;
	int r;

	if ((r = ready()) != 0) {
		errno = -r;
		return 0;
	}
	if (size > ML_MAX_SIZE || (buf = ml_mem_malloc(size ? size : 1)) == NULL) {
		errno = ENOMEM;
		return 0;
	}
	memlease_t h = add_here(buf, size, ttl_ms, releases, ML_KIND_BUFFER,
	    __builtin_return_address(0));
	if (h == 0) {
		int err = errno;
		ml_mem_free(buf);
		errno = err;
		return 0;
	}
	if (bufp != NULL)
		*bufp = buf;
	return h;
}

memlease_t
memlease_adopt(void *p, uint64_t ttl_ms, unsigned releases)
{
	memlease_t h;
	int r;

	if ((r = ready()) != 0) {
		errno = -r;
		return 0;
	}
	if (p == NULL || ml_boot_owns(p)) {
		errno = EINVAL;
		return 0;
	}
	r = ml_tag_adopt(p, ttl_ms, releases,
	    capture(__builtin_return_address(0)), &h);
	if (r != 0) {
		errno = -r;
		return 0;
	}
	return h;
}

void *
memlease_get(memlease_t h, size_t *sizep)
{
	if (ready() != 0) {
		errno = ESTALE;
		return NULL;
	}
	return ml_core_get(api.core, h, sizep);
}

void *
memlease_pin(memlease_t h, size_t *sizep)
{
	if (ready() != 0) {
		errno = ESTALE;
		return NULL;
	}
	return ml_core_pin(api.core, h, sizep);
}

int
memlease_unpin(memlease_t h)
{
	struct ml_ended e;
	uint64_t now = ml_clock_ms();
	int r;

	if ((r = ready()) != 0)
		return r;
	if ((r = ml_core_unpin(api.core, h, now, &e)) != 1)
		return r;
	finish(&e, now);
	return 0;
}

int
memlease_release(memlease_t h)
{
	struct ml_ended e;
	int r;

	if ((r = ready()) != 0)
		return r;
	if ((r = ml_core_release(api.core, h, &e)) != 1)
		return r;
	finish(&e, 0);
	return 0;
}

int
memlease_renew(memlease_t h, uint64_t ttl_ms)
{
	bool wake;
	int r;

	if ((r = ready()) != 0)
		return r;
	r = ml_core_renew(api.core, h, ml_clock_ms_ceil(), ttl_ms, &wake);
	if (r == 0 && ttl_ms != 0)
		deadline_set(wake);
	return r;
}

int
memlease_set_releases(memlease_t h, unsigned releases)
{
	int r;

	if ((r = ready()) != 0)
		return r;
	return ml_core_set_releases(api.core, h, releases);
}

int
memlease_set_label(memlease_t h, const char *label)
{
	int r;

	if ((r = ready()) != 0)
		return r;
	return ml_core_set_label(api.core, h, label);
}

int
memlease_set_report(memlease_t h, bool on)
{
	int r;

	if ((r = ready()) != 0)
		return r;
	return ml_core_set_report(api.core, h, on);
}

int
memlease_on_expire(memlease_expire_fn fn, void *arg)
{
	int r;

	if ((r = ready()) != 0)
		return r;
	pthread_mutex_lock(&api.hook_lock);
	api.hook = fn;
	api.hook_arg = fn != NULL ? arg : NULL;
	pthread_mutex_unlock(&api.hook_lock);
	return 0;
}

int
memlease_expire_due(void)
{
	struct ml_ended batch[EXPIRE_BATCH];
	int n, total = 0;

	if ((n = ready()) != 0)
		return n;
	do {
		uint64_t now = ml_clock_ms();
		n = ml_core_expire(api.core, now, batch, EXPIRE_BATCH);
		for (int i = 0; i < n; i++)
			finish(&batch[i], now);
		total += n;
	} while (n == EXPIRE_BATCH);
	return total;
}

int64_t
memlease_next_deadline_ms(void)
{
	if (ready() != 0)
		return -1;
	return ml_core_next_deadline(api.core, ml_clock_ms());
}

int
memlease_stats(struct memlease_stats *st)
{
	int r;

	if (st == NULL)
		return -EINVAL;
	if ((r = ready()) != 0)
		return r;
	ml_core_stats(api.core, st);
	st->reclaimed = atomic_load(&api.reclaimed);
	return 0;
}

/* Internal: for the tracking layer, the loop and the tests (api.h). */

struct ml_core *
ml_api_core(void)
{
	return ready() == 0 ? api.core : NULL;
}

int
ml_api_ready(void)
{
	return ready();
}

int
ml_api_depth(void)
{
	return api.depth;
}

memlease_t
ml_api_add(uint64_t now, void *buf, size_t size, uint64_t ttl_ms,
    unsigned releases, unsigned kind, uint32_t stack, const char *label,
    bool *wake)
{
	*wake = false;
	/* Initialised, but not restarted in a fork child: callers hold a
	 * lock of the map (ml_api_deadline() does that, unlocked). */
	pthread_once(&api.once, init_once);
	if (api.init_err != 0) {
		errno = -api.init_err;
		return 0;
	}
	return add(now, buf, size, ttl_ms, releases, kind, stack, label, wake);
}

void
ml_api_deadline(bool wake)
{
	/* at almost every tagged allocation: the thread runs, and the
	 * deadline is not its next one */
	if (!wake && ml_loop_running())
		return;
	if (ready() == 0)
		deadline_set(wake);
}

int
ml_api_end(memlease_t h, struct ml_ended *out)
{
	return ml_core_end(api.core, h, out);
}

int
ml_api_expire(memlease_t h)
{
	struct ml_ended e;
	int r;

	if ((r = ready()) != 0)
		return r;
	if ((r = ml_core_expire_one(api.core, h, &e)) != 0)
		return r;
	finish(&e, ml_clock_ms());
	return 0;
}

int
ml_api_move(memlease_t h, void *buf, size_t size)
{
	return ml_core_move(api.core, h, buf, size);
}

/*
 * The process is ending.  Destructors of objects finalised after this one
 * and atexit handlers of theirs may still allocate, tagged: their leases
 * are kept but never expire, for a thread started now would run on while
 * the libraries under it (libev, libunwind) are finalised.
 */
__attribute__((destructor)) static void
api_fini(void)
{
	atomic_store(&api.exiting, true);
	ml_tag_exit();
	ml_loop_stop();
}
