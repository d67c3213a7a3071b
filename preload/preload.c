/*
 * preload.c - the start and the end of libmemlease.so in a process: read
 * the preload's configuration before main() runs, and remove the control
 * socket's file of a process that ends in _exit() (fork children mostly),
 * where no destructor runs; count the program's threads (threads.h), so
 * that memlease's own never keeps the process alive; tell the runtime of
 * a daemon's fork(), setsid() and daemon(3), for a daemon starts its
 * thread, and its socket, at once (runtime.c, "Daemons"); and of
 * dlclose(), for the stacks a thread remembers may go through the code it
 * unloads (capture.h).  Built only into libmemlease.so.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "capture.h"
#include "guard.h"
#include "heap.h"
#include "init.h"
#include "runtime.h"
#include "server.h"
#include "threads.h"

#define EXPORT __attribute__((visibility("default")))

__attribute__((constructor)) static void
preload_init(void)
{
	ml_heap_enable();       /* memlease's thread never makes an arena */
	ml_init_start();
}

/* The program's threads are counted (threads.h). */
EXPORT int
pthread_create(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *),
    void *arg)
{
	return ml_threads_create(t, attr, fn, arg);
}

/* What the C library's _exit() does: end every thread; it cannot fail. */
EXPORT void
_exit(int status)
{
	ml_server_exit();
	for (;;)
		syscall(SYS_exit_group, status);
}

EXPORT void
_Exit(int status)
{
	_exit(status);
}

typedef void (*next_fn)(void);

/* The C library's function `name`, found once into *slot. */
static next_fn
next(next_fn _Atomic *slot, const char *name)
{
	next_fn f = atomic_load_explicit(slot, memory_order_acquire);

	if (f == NULL) {
		ml_guard_enter();       /* dlsym() may allocate */
		*(void **)&f = dlsym(RTLD_NEXT, name);
		ml_guard_leave();
		atomic_store_explicit(slot, f, memory_order_release);
	}
	return f;
}

/* pid_t NAME(void) of the C library; then(), errno kept, when its result
 * is from least to most. */
static pid_t
call_then(next_fn _Atomic *slot, const char *name, pid_t least, pid_t most,
    void (*then)(void))
{
	pid_t (*real)(void) = (pid_t (*)(void))next(slot, name);
	pid_t r;

	if (real == NULL) {
		errno = ENOSYS;
		return -1;
	}
	if ((r = real()) >= least && r <= most) {
		int e = errno;
		then();
		errno = e;
	}
	return r;
}

/* A child, as fork() returns in it. */
EXPORT pid_t
fork(void)
{
	static next_fn _Atomic slot;

	return call_then(&slot, "fork", 0, 0, ml_runtime_forked);
}

EXPORT pid_t
setsid(void)
{
	static next_fn _Atomic slot;

	return call_then(&slot, "setsid", 0, INT_MAX, ml_runtime_session);
}

EXPORT int
daemon(int nochdir, int noclose)
{
	static next_fn _Atomic slot;
	int (*real)(int, int) = (int (*)(int, int))next(&slot, "daemon");
	int r;

	if (real == NULL) {
		errno = ENOSYS;
		return -1;
	}
	if ((r = real(nochdir, noclose)) == 0) {
		int e = errno;
		ml_runtime_session();
		errno = e;
	}
	return r;
}

/* An object unloaded: every stack remembered is forgotten, before (a
 * capture meanwhile may no longer see the code it checks) and after (one
 * learnt meanwhile went through it), so that no chain through its code is
 * taken for one through what the loader maps there next. */
EXPORT int
dlclose(void *handle)
{
	static next_fn _Atomic slot;
	int (*real)(void *) = (int (*)(void *))next(&slot, "dlclose");

	if (real == NULL)
		return -1;
	ml_capture_forget();
	int r = real(handle);
	ml_capture_forget();
	return r;
}

/* Names of memlease's own for these, as shim.c's (attach.c). */
#if defined(__has_attribute) && __has_attribute(copy)
#define SAME(name) copy(name),
#else
#define SAME(name)
#endif
#define ALIAS(name) extern __typeof__(name) ml_preload_##name \
	__attribute__((alias(#name), SAME(name) visibility("hidden")))
ALIAS(pthread_create);
ALIAS(_exit);
ALIAS(_Exit);
ALIAS(fork);
ALIAS(setsid);
ALIAS(daemon);
