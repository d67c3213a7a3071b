/*
 * threads.c - the program's threads, counted, so that memlease's own
 * thread never keeps a process alive.
 *
 * POSIX: when the last thread of a process terminates, the process exits
 * with status 0, as if exit(0) were called then.  The C library counts
 * every thread, memlease's too: once the program's last thread had left
 * with pthread_exit() (a daemon's main thread may), the process stayed,
 * memlease's thread asleep in its loop with every signal blocked, and only
 * SIGKILL could end it.
 *
 * So the program's threads are counted here.  pthread_create() (the
 * preload's, preload.c) counts a thread before it exists and starts it in
 * a trampoline that sets a thread-specific key; the key's destructor counts
 * it out as it exits (pthread_exit(), a return, a cancellation; for the
 * main thread, pthread_exit() only: a return from main() is exit()).  The
 * thread that takes the count to 0 while memlease's thread runs calls
 * exit(0) itself, from that destructor: what the C library would do next,
 * on the same thread, with the program's signal mask and descriptors
 * (memlease's thread has a table of its own), so the program's atexit
 * handlers and memlease's own end (the exit summary, the socket's removal)
 * run once, as they would have, and a signal sent meanwhile has the effect
 * it would have had.  The destructor puts its key back once and counts the
 * thread out in the next round of destructors, after every other key's
 * first round: those run before the exit, as they would have.
 *
 * A thread created at the same moment: the creator counts it before it
 * exists, so the count reaches 0 only when no thread of the program's is
 * left to make one.  Threads memlease cannot count leave the process to
 * the C library, as without this module: those there before it was loaded
 * (after a dlopen()), and those the C library makes for itself without
 * pthread_create() (a SIGEV_THREAD timer's): the last thread looks in
 * /proc/self/task for one before it exits, and gives threads counted out
 * just before it OTHERS_WAIT_MS to be gone.  Threads memlease makes are
 * not the program's: its own thread is made with the C library's
 * pthread_create() (real.h), and one made while the recursion guard is
 * held (by a library memlease calls) passes uncounted.
 *
 * Cost: an atomic add at each pthread_create() and thread exit, and a
 * small record from the next allocator for the trampoline.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/single_threaded.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "guard.h"
#include "loop.h"
#include "real.h"
#include "threads.h"

/* How long the last thread waits for others to be gone, at most. */
#define OTHERS_WAIT_MS 100

static struct {
	pthread_key_t    key;
	bool             counting;     /* ml_threads_init() could count */
	atomic_int       alive;        /* the program's threads */
	char             first, last;  /* the key's values: its two rounds */
} th;

/* Whether task `tid` of this process still runs: not gone, not a zombie
 * (the main thread's task stays one until the process ends). */
static bool
task_runs(int tid)
{
	char path[64], buf[256];
	ssize_t n;
	int fd;

	snprintf(path, sizeof path, "/proc/self/task/%d/stat", tid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return false;
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	/* "TID (COMM) S ...": COMM may hold ')' itself */
	const char *state = strrchr(buf, ')');
	return state != NULL && state[1] == ' ' && state[2] != 'Z' &&
	    state[2] != 'X';
}

/*
 * Whether a thread the count does not know runs beside this one and
 * memlease's: one the C library made for itself (a SIGEV_THREAD timer's,
 * say) keeps the process alive as it would without memlease.  Read with
 * getdents64(): opendir() allocates.  Without /proc, none is known.
 */
static bool
others_run(void)
{
	_Alignas(struct dirent64) char buf[4096];
	long n;
	int fd = open("/proc/self/task", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int self = (int)gettid(), loop = (int)ml_loop_task();
	bool found = false;

	if (fd < 0)
		return false;
	while (!found && (n = syscall(SYS_getdents64, fd, buf, sizeof buf)) > 0) {
		for (long at = 0; at < n && !found; ) {
			struct dirent64 *d = (struct dirent64 *)(buf + at);
			int tid = atoi(d->d_name);
			at += d->d_reclen;
			if (tid > 0 && tid != self && tid != loop)
				found = task_runs(tid);
		}
	}
	close(fd);
	return found;
}

/* The key's destructor: a thread of the program's is leaving. */
static void
leaving(void *v)
{
	if (v == &th.first) {   /* the other keys' destructors first */
		pthread_setspecific(th.key, &th.last);
		return;
	}
	if (atomic_fetch_sub(&th.alive, 1) != 1 || !ml_loop_running())
		return;
	/* threads that were counted out just before this one may still be
	 * on their way out: a moment for them */
	for (int i = 0; others_run(); i++) {
		struct timespec ms = { 0, 1000000 };
		if (i == OTHERS_WAIT_MS)
			return;
		nanosleep(&ms, NULL);
	}
	exit(0);
}

static void child(void);

/* This thread is the program's: counted out when it leaves. */
static void
mark(void)
{
	ml_guard_enter();       /* a key's second-level array is calloc()ed */
	pthread_setspecific(th.key, &th.first);
	ml_guard_leave();
}

void
ml_threads_init(void)
{
	/* a process with a thread already (memlease was dlopen()ed) cannot
	 * know when those end */
	if (!__libc_single_threaded || pthread_key_create(&th.key, leaving) != 0)
		return;
	atomic_store(&th.alive, 1);
	mark();
	th.counting = true;
	ml_guard_enter();       /* the C library may allocate its record */
	pthread_atfork(NULL, NULL, child);
	ml_guard_leave();
}

struct start {
	void *(*fn)(void *);
	void  *arg;
};

static void *
trampoline(void *p)
{
	struct start s = *(struct start *)p;

	ml_real_free(p);
	mark();
	return s.fn(s.arg);
}

int
ml_threads_create(pthread_t *t, const pthread_attr_t *attr,
    void *(*fn)(void *), void *arg)
{
	struct start *s;
	int r;

	if (!th.counting || ml_guard_held())
		return ml_real_pthread_create(t, attr, fn, arg);
	if ((s = ml_real_malloc(sizeof *s)) == NULL)
		return EAGAIN;
	s->fn = fn;
	s->arg = arg;
	atomic_fetch_add(&th.alive, 1);
	if ((r = ml_real_pthread_create(t, attr, trampoline, s)) != 0) {
		atomic_fetch_sub(&th.alive, 1);  /* the creator still counts */
		ml_real_free(s);
	}
	return r;
}

/* Fork child: the thread that forked is the child's only one (its key is
 * the parent's thread's, copied). */
static void
child(void)
{
	atomic_store(&th.alive, 1);
	mark();
}
