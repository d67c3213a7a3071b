/*
 * loop.c - memlease's own thread (see loop.h).
 *
 * A private libev loop (never the default one: the host may use libev) on
 * the select backend, which opens no descriptor of its own (libev sizes
 * its fd sets to the highest descriptor, above FD_SETSIZE too) and takes a
 * descriptor the program closed in its set as EBADF, stopping that
 * descriptor's watchers, where the poll backend asserts and aborts the
 * process.  The program's threads wake it through a pipe (an ev_io on its
 * read end), both ends moved high and close-on-exec; a wake-up costs one
 * write(2) at most per loop iteration: a flag says one is already pending.  The thread starts with every signal
 * blocked and holds the recursion guard for life.
 *
 * After fork() the child has no thread: the child handler forgets it, and
 * the next ml_loop_ensure() makes a new loop (freeing the dead one).
 *
 * The thread has a descriptor table of its own (fd.h: what it opens takes
 * no number of the program's), in which it keeps a copy of the pipe's read
 * end; its watchers (the control socket: the on_start hook) start there.
 *
 * Programs close descriptors they do not own (daemons close them all), and
 * the number of ours may then be reused for a file of theirs: the pipe's
 * ends are checked to be still ours (device and inode) before every write
 * and read, and never closed unless they are.  The loop thread keeps both
 * ends in its own table, so the pipe outlives the program's close: when
 * the write end is gone from the process's table, a thread of the
 * program's opens that same pipe again as it wakes the loop thread
 * (pipe_again: /proc/self/task/TID/fd/N of the loop thread's read end), and
 * the wake-up arrives at once.  Without /proc, it makes another pipe, and
 * the loop thread takes a copy of its ends when it next wakes
 * (wake_renew); without a table of its own, the loop thread makes it.  A
 * wake-up lost that way is made up by the timer, which never sleeps longer
 * than ML_LOOP_MAX_SLEEP_MS while the thread runs.
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
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fault.h"
#include "guard.h"
#include "heap.h"
#include "loop.h"
#include "fd.h"
#include "real.h"
#include "report.h"

/*
 * The thread's stack: 1 MiB, where the default is RLIMIT_STACK's (8 MiB,
 * address space reserved for nothing, counted by RLIMIT_AS).  Its deepest
 * path is a report: libunwind stepping and reading DWARF (a few tens of
 * KiB), symbolizing, the report's diagnostics (5 KiB of buffers); the test
 * suite passes with 128 KiB: eight times that, for libraries and
 * sanitizers that use more.
 */
#define LOOP_STACK (1 << 20)

/* How long the thread sleeps at most while it has no wake-up pipe. */
#define LOST_SLEEP_MS 10

static struct {
	pthread_mutex_t  lock;
	atomic_bool      running;
	atomic_bool      started;       /* the thread is in its loop */
	atomic_bool      stopping;
	atomic_int       wake_pending;
	pthread_t        tid;
	atomic_int       task;          /* its kernel thread id */
	struct ev_loop  *loop;
	atomic_int       rfd, wfd;      /* the wake-up pipe's ends */
	_Atomic uint64_t pipe_dev, pipe_ino;  /* what they must still be */
	struct ml_fd_id  watched;       /* loop thread: the pipe of wake_w */
	atomic_int       watch_fd;      /* wake_w's descriptor, in the loop
	                                 * thread's table */
	int              keep_w;        /* loop thread, own table: a copy of
	                                 * the watched pipe's write end */
	atomic_bool      own;           /* the thread has a table of its own */
	atomic_bool      remaking;      /* a thread makes the pipe (kick) */
	ev_io            wake_w;
	ev_timer         timer_w;
	ml_loop_tick_fn  tick;
	void           (*on_start)(struct ev_loop *);
	void           (*on_stop)(struct ev_loop *);
	bool             abandoned; /* a stop timed out: the thread may still
	                             * run on lp.loop, never free or restart */
	bool             said;
} lp = { .lock = PTHREAD_MUTEX_INITIALIZER, .rfd = -1, .wfd = -1,
	  .watch_fd = -1, .keep_w = -1 };

/* The wake-up pipe that was made. */
static struct ml_fd_id
pipe_id(void)
{
	return (struct ml_fd_id){ atomic_load(&lp.pipe_dev),
	    atomic_load(&lp.pipe_ino) };
}

/* Whether fd is still an end of that pipe.  A pipe has an inode of its
 * own, where every eventfd shares one and could not be told from the
 * program's. */
static bool
pipe_ours(int fd)
{
	struct ml_fd_id id = pipe_id();

	return ml_fd_still(fd, &id);
}

/* A new wake-up pipe, both ends high, close-on-exec and non-blocking; the
 * ends of the pipe before it are closed if they are still ours.  Its read
 * end, or -errno. */
static int
pipe_make(void)
{
	struct ml_fd_id old = pipe_id(), id;
	int oldr = atomic_load(&lp.rfd), oldw = atomic_load(&lp.wfd);
	int p[2];

	if (pipe2(p, O_CLOEXEC | O_NONBLOCK) != 0)
		return -errno;
	p[0] = ml_fd_high(p[0]);
	p[1] = ml_fd_high(p[1]);
	/* both ends still the pipe's (in a table shared with a program that
	 * dup2()s over every number, either may be the program's by now:
	 * then neither is touched again) */
	struct ml_fd_id wid;
	if (!ml_fd_id_is(p[0], S_IFIFO, &id) ||
	    !ml_fd_id_is(p[1], S_IFIFO, &wid) || id.dev != wid.dev ||
	    id.ino != wid.ino)
		return -EBADF;
	atomic_store(&lp.pipe_dev, id.dev);
	atomic_store(&lp.pipe_ino, id.ino);
	atomic_store(&lp.rfd, p[0]);
	atomic_store(&lp.wfd, p[1]);
	if (ml_fd_still(oldr, &old))
		close(oldr);
	if (ml_fd_still(oldw, &old))
		close(oldw);
	return p[0];
}

static void wake_cb(struct ev_loop *loop, ev_io *w, int revents);

/* Loop thread, in a table of its own: keep fd, a copy of the write end of
 * the pipe it watches, so that the pipe lives on (and its read end sees no
 * end of file) when the program closes its ends, for pipe_again() to open
 * it again. */
static void
keep_write_end(int fd)
{
	if (fd >= 0 && !pipe_ours(fd)) {
		close(fd);
		fd = -1;
	}
	if (lp.keep_w >= 0 && lp.keep_w != fd)
		close(lp.keep_w);
	lp.keep_w = fd;
}

/* Watch fd, a read end of the wake-up pipe, in the loop thread's table. */
static void
watch(struct ev_loop *loop, int fd)
{
	ml_fd_id(fd, &lp.watched);
	ev_io_set(&lp.wake_w, fd, EV_READ);
	ev_io_start(loop, &lp.wake_w);
	atomic_store(&lp.watch_fd, fd);
}

/* Loop thread, in a table of its own: a copy of the read end of the pipe
 * a program's thread made again (pipe_again), checked to be that one. */
static int
pipe_adopt(void)
{
	struct ml_fd_id id = pipe_id();

	if (id.dev == lp.watched.dev && id.ino == lp.watched.ino)
		return -EAGAIN;         /* not made again (yet) */
	int fd = ml_fd_fetch(atomic_load(&lp.rfd));
	if (fd >= 0 && !pipe_ours(fd)) {
		close(fd);              /* made again meanwhile: next time */
		return -ESTALE;
	}
	if (fd >= 0)
		keep_write_end(ml_fd_fetch(atomic_load(&lp.wfd)));
	return fd;
}

/*
 * Loop thread: watch a new pipe in place of one the program closed: made
 * here, or in a table of its own (where it cannot be made for the
 * program's threads to write to), the copy of the one a program's thread
 * made.
 */
static void
wake_renew(struct ev_loop *loop)
{
	int old = lp.wake_w.fd, fd;

	ev_io_stop(loop, &lp.wake_w);
	fd = ml_fd_own ? pipe_adopt() : pipe_make();
	if (fd < 0)
		return;         /* the timer goes on; try again next time */
	if (ml_fd_own && old >= 0 && old != fd)
		close(old);     /* our copy: nobody else reads it */
	watch(loop, fd);
	atomic_store(&lp.wake_pending, 0);
}

static _Atomic uint64_t ticks;

uint64_t
ml_loop_ticks(void)
{
	return atomic_load_explicit(&ticks, memory_order_relaxed);
}

static void
rearm(struct ev_loop *loop)
{
	if (atomic_load(&lp.stopping)) {
		ev_break(loop, EVBREAK_ALL);
		return;
	}
	if (!ev_is_active(&lp.wake_w) || !pipe_ours(lp.wake_w.fd))
		wake_renew(loop);
	atomic_fetch_add_explicit(&ticks, 1, memory_order_relaxed);
	int64_t next = lp.tick();

	ev_timer_stop(loop, &lp.timer_w);
	if (next < 0 || next > ML_LOOP_MAX_SLEEP_MS)
		next = ML_LOOP_MAX_SLEEP_MS;
	if (!ev_is_active(&lp.wake_w)) {
		/* no pipe to be woken through (the program closed it, maybe
		 * before this thread took its copy as it started): the next
		 * wake-up makes one (kick), and this thread looks for it
		 * soon */
		atomic_store(&lp.wake_pending, 0);
		if (next > LOST_SLEEP_MS)
			next = LOST_SLEEP_MS;
	}
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
	char buf[64];
	ssize_t n;

	if ((revents & EV_ERROR) || !pipe_ours(w->fd)) {
		ev_io_stop(loop, w);    /* closed by the program: see rearm */
	} else {
		while ((n = read(w->fd, buf, sizeof buf)) > 0 ||
		    (n < 0 && errno == EINTR))
			;
		if (n == 0)     /* every write end closed, by the program */
			ev_io_stop(loop, w);
		atomic_store(&lp.wake_pending, 0);
	}
	rearm(loop);
}

static void *
loop_main(void *arg)
{
	struct ev_loop *loop = arg;
	int keep[] = { atomic_load(&lp.rfd), atomic_load(&lp.wfd),
	    ml_report_fd() };

	ml_guard_enter();
	ml_heap_thread();       /* before anything allocates */
	/* named by itself, with prctl(): named by its creator, the C library
	 * writes /proc/self/task/TID/comm, and the dentries that makes cost
	 * the kernel more at the thread's exit than a short process's whole
	 * run under memlease */
	pthread_setname_np(pthread_self(), "memlease");
	atomic_store(&lp.task, (int)gettid());
	if (ml_fd_unshare(keep, sizeof keep / sizeof *keep)) {
		ml_report_own_table();
		keep_write_end(atomic_load(&lp.wfd));
	}
	atomic_store(&lp.own, ml_fd_own);
	if (lp.on_start != NULL)
		lp.on_start(loop);
	rearm(loop);
	ev_run(loop, EVRUN_NOWAIT);     /* libev sizes its arrays here */
	atomic_store(&lp.started, true);
	/* asked to stop already (the process ends as the thread starts): an
	 * ev_break() before ev_run() is forgotten; one after comes through
	 * the pipe */
	if (!atomic_load(&lp.stopping))
		ev_run(loop, 0);
	if (lp.on_stop != NULL)
		lp.on_stop(loop);
	keep_write_end(-1);
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

/* Close the pipe's ends that are still ours. */
static void
pipe_close(void)
{
	int r = atomic_exchange(&lp.rfd, -1), w = atomic_exchange(&lp.wfd, -1);

	if (pipe_ours(r))
		close(r);
	if (pipe_ours(w))
		close(w);
}

/* Make the loop and its watchers; the lock is held. */
static int
loop_make(void)
{
	int fd = pipe_make();

	if (fd < 0)
		return fd;
	ml_fd_id(fd, &lp.watched);
	atomic_store(&lp.watch_fd, fd);
	lp.keep_w = -1;
	/* libev aborts when its own allocator fails, and its allocator is
	 * process-wide (the host may use libev): its allocations are not
	 * fault points, but the loop's making is. */
	lp.loop = ml_fault_fail() ? NULL : ev_loop_new(EVBACKEND_SELECT |
	    EVFLAG_NOENV | EVFLAG_NOSIGMASK);
	if (lp.loop == NULL) {
		pipe_close();
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
	if (lp.loop != NULL)
		ev_loop_destroy(lp.loop);
	pipe_close();
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
	atomic_store(&lp.own, false);
	atomic_store(&lp.task, 0);
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, LOOP_STACK);
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r = -ml_real_pthread_create(&lp.tid, &attr, loop_main, lp.loop);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	if (r != 0) {
		fail_once("pthread_create", -r);
		loop_free();
		goto out;
	}
	/*
	 * No waiting for the thread, so that a program that starts it before
	 * main() (MEMLEASE_SOCKET=on) does not wait: its socket opens a moment
	 * later (memleasectl retries), and a fork() meanwhile copies no lock
	 * the thread holds, for the thread takes only memlease's locks, which
	 * the fork takes first, and allocates only from its heap, whose lock
	 * is one of them (heap.h).  Where it allocates from the next allocator
	 * (a test program's thread, under a sanitizer maybe, whose allocator
	 * a fork may copy locked), this waits, a little, until the thread is
	 * in its loop.
	 */
	for (int i = 0; i < 2000 && !ml_heap_on() &&
	    !atomic_load(&lp.started); i++) {
		struct timespec ts = { 0, 100 * 1000 };
		nanosleep(&ts, NULL);
	}
	atomic_store_explicit(&lp.running, true, memory_order_release);
out:
	pthread_mutex_unlock(&lp.lock);
	ml_guard_leave();
	return r;
}

/* Put the decimal digits of n at the end of buf (no stdio: this runs in
 * an allocation); where they start. */
static char *
put_decimal(char *end, unsigned n)
{
	*--end = '\0';
	do
		*--end = (char)('0' + n % 10);
	while ((n /= 10) != 0);
	return end;
}

/* The pipe the loop thread watches, opened again through its entry in
 * /proc (the loop thread keeps both ends in its table): a write end in the
 * process's table, high and close-on-exec, or -1. */
static int
pipe_reopen(void)
{
	char path[64] = "/proc/self/task/", num[16], *p;
	int task = atomic_load(&lp.task), rfd = atomic_load(&lp.watch_fd);

	if (task <= 0 || rfd < 0)
		return -1;
	p = put_decimal(num + sizeof num, (unsigned)task);
	strcat(path, p);
	strcat(path, "/fd/");
	strcat(path, put_decimal(num + sizeof num, (unsigned)rfd));
	/* stat(2) through the link names the pipe itself: nothing else of
	 * the loop thread's is opened */
	struct stat st;
	struct ml_fd_id id = pipe_id();
	if (stat(path, &st) != 0 || !S_ISFIFO(st.st_mode) ||
	    (uint64_t)st.st_dev != id.dev || (uint64_t)st.st_ino != id.ino)
		return -1;
	int fd = ml_fd_high(open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC));
	if (fd < 0 || !pipe_ours(fd))
		return -1;      /* in a moment, the number is the program's */
	atomic_store(&lp.wfd, fd);
	return fd;
}

/*
 * The program closed the pipe's write end, when the loop thread has a
 * table of its own (in which the pipe lives on): a thread of the
 * program's opens it again.  Failing that (no /proc), it makes another,
 * in the process's table; the loop thread takes its copy when it next
 * wakes (wake_renew), within ML_LOOP_MAX_SLEEP_MS.  The new write end, or
 * -1.
 */
static int
pipe_again(void)
{
	int fd;

	if (!atomic_load(&lp.own) || atomic_load(&lp.stopping) ||
	    atomic_exchange(&lp.remaking, true))
		return -1;
	fd = atomic_load(&lp.wfd);
	if (!pipe_ours(fd) && (fd = pipe_reopen()) < 0)
		fd = pipe_make() < 0 ? -1 : atomic_load(&lp.wfd);
	atomic_store(&lp.remaking, false);
	return fd;
}

static void
kick(void)
{
	int fd = atomic_load(&lp.wfd);

	if (atomic_exchange(&lp.wake_pending, 1) != 0)
		return;
	if (!pipe_ours(fd) && (fd = pipe_again()) < 0)
		return;         /* lost: the timer makes up for it */
	while (write(fd, "", 1) < 0 && errno == EINTR)
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

pid_t
ml_loop_task(void)
{
	if (!atomic_load(&lp.running))
		return 0;
	/* the thread says it as it starts, a moment after it was made */
	for (int i = 0; i < 10000 && atomic_load(&lp.task) == 0; i++) {
		struct timespec ts = { 0, 100 * 1000 };
		nanosleep(&ts, NULL);
	}
	return atomic_load(&lp.task);
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
	/* An expiry hook may be stuck, or the wake-up lost
	 * (ML_LOOP_MAX_SLEEP_MS): wait a while, then leave it be. */
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
