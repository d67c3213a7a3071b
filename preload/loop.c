/*
 * loop.c - memlease's own thread (see loop.h).
 *
 * A private libev loop (never the default one: the host may use libev) on
 * the select backend, which opens no descriptor of its own and survives
 * the program closing ours: select() fails with EBADF and libev stops the
 * watchers of the closed numbers (EV_ERROR), where the poll backend of a
 * libev built with assertions (Debian's) aborts the process on POLLNVAL.
 * libev's select keeps bitmaps of its own, with no FD_SETSIZE limit.  The
 * only descriptor of the loop is our eventfd, moved high and
 * close-on-exec, watched by an ev_io.  Wake-ups cost one write(2) at most per loop iteration: a flag
 * says one is already pending.  The thread starts with every signal
 * blocked and holds the recursion guard for life.
 *
 * After fork() the child has no thread: the child handler forgets it, and
 * the next ml_loop_ensure() makes a new loop (freeing the dead one).
 *
 * Programs close descriptors they do not own (daemons close them all), and
 * the number of ours may then be reused for a file of theirs: the eventfd
 * is checked to be still ours (device and inode) before every write and
 * read, never closed unless it is, and made again on the loop thread when
 * it is gone.  A wake-up lost that way is made up by the timer, which never
 * sleeps longer than MAX_SLEEP_MS while the thread runs.
 *
 * Locking: `lp.lock` serializes start and stop; `running`, `stopping` and
 * `wake_pending` are atomics read without it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <ev.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "guard.h"
#include "loop.h"
#include "report.h"

static struct {
	pthread_mutex_t  lock;
	atomic_bool      running;
	atomic_bool      started;       /* the thread is in its loop */
	atomic_bool      stopping;
	atomic_int       wake_pending;
	pthread_t        tid;
	struct ev_loop  *loop;
	atomic_int       efd;
	_Atomic uint64_t efd_dev, efd_ino;   /* what efd must still be */
	ev_io            wake_w;
	ev_timer         timer_w;
	ml_loop_tick_fn  tick;
	void           (*on_start)(struct ev_loop *);
	void           (*on_stop)(struct ev_loop *);
	bool             abandoned; /* a stop timed out: the thread may still
	                             * run on lp.loop, never free or restart */
	bool             said;
} lp = { .lock = PTHREAD_MUTEX_INITIALIZER, .efd = -1 };

#define MAX_SLEEP_MS 1000

/* Whether fd is still the eventfd that was made. */
static bool
efd_ours(int fd)
{
	struct stat st;

	return fd >= 0 && fstat(fd, &st) == 0 &&
	    (uint64_t)st.st_dev == atomic_load(&lp.efd_dev) &&
	    (uint64_t)st.st_ino == atomic_load(&lp.efd_ino);
}

/* A new eventfd, high and close-on-exec; -errno on failure. */
static int
efd_make(void)
{
	struct stat st;
	int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

	if (fd < 0)
		return -errno;
	fd = ml_fd_high(fd);
	if (fstat(fd, &st) != 0) {
		int err = errno;
		close(fd);
		return -err;
	}
	atomic_store(&lp.efd_dev, (uint64_t)st.st_dev);
	atomic_store(&lp.efd_ino, (uint64_t)st.st_ino);
	atomic_store(&lp.efd, fd);
	return fd;
}

static void wake_cb(struct ev_loop *loop, ev_io *w, int revents);

/* Loop thread: watch a new eventfd in place of one the program closed. */
static void
efd_renew(struct ev_loop *loop)
{
	ev_io_stop(loop, &lp.wake_w);
	if (efd_make() < 0)
		return;         /* the timer goes on; try again next time */
	ev_io_set(&lp.wake_w, atomic_load(&lp.efd), EV_READ);
	ev_io_start(loop, &lp.wake_w);
	atomic_store(&lp.wake_pending, 0);
}

static void
rearm(struct ev_loop *loop)
{
	if (atomic_load(&lp.stopping)) {
		ev_break(loop, EVBREAK_ALL);
		return;
	}
	if (!ev_is_active(&lp.wake_w) || !efd_ours(lp.wake_w.fd))
		efd_renew(loop);
	int64_t next = lp.tick();

	ev_timer_stop(loop, &lp.timer_w);
	if (next < 0 || next > MAX_SLEEP_MS)
		next = MAX_SLEEP_MS;
	ev_now_update(loop);
	ev_timer_set(&lp.timer_w, (double)next / 1000.0, 0.);
	ev_timer_start(loop, &lp.timer_w);
}

static void
timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)w;
	(void)revents;
	rearm(loop);
}

static void
wake_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	uint64_t n;

	if ((revents & EV_ERROR) || !efd_ours(w->fd)) {
		ev_io_stop(loop, w);    /* closed by the program: see rearm */
	} else {
		while (read(w->fd, &n, sizeof n) < 0 && errno == EINTR)
			;
		atomic_store(&lp.wake_pending, 0);
	}
	rearm(loop);
}

static void *
loop_main(void *arg)
{
	struct ev_loop *loop = arg;

	ml_guard_enter();
	rearm(loop);
	ev_run(loop, EVRUN_NOWAIT);     /* libev sizes its arrays here */
	atomic_store(&lp.started, true);
	ev_run(loop, 0);
	if (lp.on_stop != NULL)
		lp.on_stop(loop);
	return NULL;
}

void
ml_loop_hooks(void (*on_start)(struct ev_loop *),
    void (*on_stop)(struct ev_loop *))
{
	pthread_mutex_lock(&lp.lock);
	lp.on_start = on_start;
	lp.on_stop = on_stop;
	pthread_mutex_unlock(&lp.lock);
}

static void
fail_once(const char *what, int err)
{
	if (!lp.said)
		ml_report_diag("cannot start the expiry thread (%s: %s); "
		    "leases expire only through memlease_expire_due()",
		    what, strerror(err));
	lp.said = true;
}

/* Make the loop and its watchers; the lock is held. */
static int
loop_make(void)
{
	int fd = efd_make();

	if (fd < 0)
		return fd;
	lp.loop = ev_loop_new(EVBACKEND_SELECT | EVFLAG_NOENV |
	    EVFLAG_NOSIGMASK);
	if (lp.loop == NULL) {
		close(fd);
		atomic_store(&lp.efd, -1);
		return -ENOMEM;
	}
	ev_io_init(&lp.wake_w, wake_cb, fd, EV_READ);
	ev_io_start(lp.loop, &lp.wake_w);
	ev_timer_init(&lp.timer_w, timer_cb, 0., 0.);
	return 0;
}

static void
loop_free(void)
{
	int fd = atomic_exchange(&lp.efd, -1);

	if (lp.loop != NULL)
		ev_loop_destroy(lp.loop);
	if (efd_ours(fd))
		close(fd);
	lp.loop = NULL;
}

int
ml_loop_ensure(ml_loop_tick_fn tick)
{
	sigset_t all, old;
	int r = 0;

	if (atomic_load_explicit(&lp.running, memory_order_acquire))
		return 0;
	ml_guard_enter();
	pthread_mutex_lock(&lp.lock);
	if (atomic_load(&lp.running))
		goto out;
	if (lp.abandoned) {
		r = -EBUSY;
		goto out;
	}
	loop_free();            /* a loop left over from before fork() */
	lp.tick = tick;
	if ((r = loop_make()) != 0) {
		fail_once("libev", -r);
		goto out;
	}
	atomic_store(&lp.stopping, false);
	atomic_store(&lp.wake_pending, 0);
	atomic_store(&lp.started, false);
	/* Its watchers join the loop before the thread runs it: what they
	 * open is open when this call returns. */
	if (lp.on_start != NULL)
		lp.on_start(lp.loop);
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r = -pthread_create(&lp.tid, NULL, loop_main, lp.loop);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r != 0) {
		fail_once("pthread_create", -r);
		loop_free();
		goto out;
	}
	pthread_setname_np(lp.tid, "memlease");   /* named before we return */
	/* Wait (a little) until the thread is in its loop: what it does as it
	 * starts (the C library and sanitizers allocate) is over before the
	 * caller can fork(), so a child never inherits an allocator lock that
	 * the new thread held. */
	for (int i = 0; i < 2000 && !atomic_load(&lp.started); i++) {
		struct timespec ts = { 0, 100 * 1000 };
		nanosleep(&ts, NULL);
	}
	atomic_store_explicit(&lp.running, true, memory_order_release);
out:
	pthread_mutex_unlock(&lp.lock);
	ml_guard_leave();
	return r;
}

static void
kick(void)
{
	uint64_t one = 1;
	int fd = atomic_load(&lp.efd);

	if (atomic_exchange(&lp.wake_pending, 1) != 0)
		return;
	if (!efd_ours(fd))
		return;         /* lost: the timer makes up for it */
	while (write(fd, &one, sizeof one) < 0 && errno == EINTR)
		;
}

void
ml_loop_wake(void)
{
	if (atomic_load_explicit(&lp.running, memory_order_acquire))
		kick();
}

bool
ml_loop_running(void)
{
	return atomic_load(&lp.running);
}

bool
ml_loop_is_self(void)
{
	return atomic_load(&lp.running) && pthread_equal(lp.tid,
	    pthread_self());
}

void
ml_loop_stop(void)
{
	struct timespec until;

	pthread_mutex_lock(&lp.lock);
	if (!atomic_load(&lp.running) || pthread_equal(lp.tid,
	    pthread_self())) {
		pthread_mutex_unlock(&lp.lock);
		return;
	}
	atomic_store(&lp.stopping, true);
	atomic_store(&lp.wake_pending, 0);
	kick();
	/* An expiry hook may be stuck, or the wake-up lost (MAX_SLEEP_MS):
	 * wait a while, then leave it be. */
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 2;
	if (pthread_timedjoin_np(lp.tid, NULL, &until) == 0) {
		ml_guard_enter();
		loop_free();
		ml_guard_leave();
	} else {
		pthread_detach(lp.tid);
		lp.abandoned = true;
	}
	atomic_store(&lp.running, false);
	pthread_mutex_unlock(&lp.lock);
}

void
ml_loop_prepare(void)
{
	pthread_mutex_lock(&lp.lock);
}

void
ml_loop_parent(void)
{
	pthread_mutex_unlock(&lp.lock);
}

void
ml_loop_child(void)
{
	pthread_mutex_init(&lp.lock, NULL);
	lp.abandoned = false;   /* no thread of the parent's runs here */
	atomic_store(&lp.started, false);
	atomic_store(&lp.running, false);
	atomic_store(&lp.stopping, false);
	atomic_store(&lp.wake_pending, 0);
}
