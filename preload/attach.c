/*
 * attach.c - memlease loaded into a process that started without it
 * (memleasectl attach, which makes the process dlopen() libmemlease.so and
 * call memleasectl_attach()).  Nothing binds to memlease's malloc then:
 * every object loaded, the program's and the C library's own, keeps
 * calling the C library's.  So the GOT slots of the functions the preload
 * interposes are pointed at memlease's (got.h), and dlopen()'s too, so
 * that the objects a later dlopen() brings are routed as they come; so
 * are libdw and its libraries, which memlease dlopen()s itself when it
 * first names a frame (dw.h): unrouted, libdw would free() with the C
 * library's what the C library's strdup() got from memlease.
 *
 * Blocks allocated before are not memlease's: the shim gives their free(),
 * realloc() and malloc_usable_size() to the next allocator, which real.c
 * takes from the process's scope here, as it made them.
 *
 * Locking: one attach per process (an atomic flag); one rewrite of the
 * slots at a time (at.lock, taken around fork()).  Never: name malloc
 * and the rest by their public names here (they may bind to the C
 * library's): the hidden aliases of shim.c and preload.c are memlease's.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

#include "dw.h"
#include "got.h"
#include "init.h"

#define EXPORT __attribute__((visibility("default")))

/* shim.c's and preload.c's functions, by names only memlease binds. */
extern __typeof__(malloc)             ml_shim_malloc;
extern __typeof__(free)               ml_shim_free;
extern __typeof__(calloc)             ml_shim_calloc;
extern __typeof__(realloc)            ml_shim_realloc;
extern __typeof__(reallocarray)       ml_shim_reallocarray;
extern __typeof__(posix_memalign)     ml_shim_posix_memalign;
extern __typeof__(aligned_alloc)      ml_shim_aligned_alloc;
extern __typeof__(memalign)           ml_shim_memalign;
extern __typeof__(valloc)             ml_shim_valloc;
extern __typeof__(pvalloc)            ml_shim_pvalloc;
extern __typeof__(malloc_usable_size) ml_shim_malloc_usable_size;
extern __typeof__(pthread_create)     ml_preload_pthread_create;
extern __typeof__(_exit)              ml_preload__exit;
extern __typeof__(_Exit)              ml_preload__Exit;
extern __typeof__(fork)               ml_preload_fork;
extern __typeof__(setsid)             ml_preload_setsid;
extern __typeof__(daemon)             ml_preload_daemon;

static void *routed_dlopen(const char *file, int mode);
EXPORT int memleasectl_attach(void);

#define HOOK(prefix, name) { #name, (void *)prefix##name }
static const struct ml_got_hook hooks[] = {
	HOOK(ml_shim_, malloc),
	HOOK(ml_shim_, free),
	HOOK(ml_shim_, calloc),
	HOOK(ml_shim_, realloc),
	HOOK(ml_shim_, reallocarray),
	HOOK(ml_shim_, posix_memalign),
	HOOK(ml_shim_, aligned_alloc),
	HOOK(ml_shim_, memalign),
	HOOK(ml_shim_, valloc),
	HOOK(ml_shim_, pvalloc),
	HOOK(ml_shim_, malloc_usable_size),
	HOOK(ml_preload_, pthread_create),
	HOOK(ml_preload_, _exit),
	HOOK(ml_preload_, _Exit),
	HOOK(ml_preload_, fork),
	HOOK(ml_preload_, setsid),
	HOOK(ml_preload_, daemon),
	{ "dlopen", (void *)routed_dlopen },
};
#define NHOOKS (sizeof hooks / sizeof *hooks)

static struct {
	atomic_bool     attached;
	void         *(*_Atomic dlopen)(const char *, int); /* the C library's */
	pthread_mutex_t lock;           /* one rewrite at a time */
} at = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* Every object's slots pointed at memlease's.  One at a time: a rewrite
 * makes an object's RELRO pages writable, then read-only, and another
 * writing in them meanwhile would fault. */
static int
route(void)
{
	int r;

	pthread_mutex_lock(&at.lock);
	r = ml_got_patch(hooks, NHOOKS, (const void *)route);
	pthread_mutex_unlock(&at.lock);
	return r;
}

/* libdw, which memlease loads itself when it first names a frame (dw.h),
 * is routed as the program's dlopen()s are. */
static void
route_libdw(void)
{
	route();
}

/* Fork: no rewrite is under way; the child's lock is free. */
static void
fork_prepare(void)
{
	pthread_mutex_lock(&at.lock);
}

static void
fork_parent(void)
{
	pthread_mutex_unlock(&at.lock);
}

static void
fork_child(void)
{
	pthread_mutex_init(&at.lock, NULL);
}

/*
 * The program's dlopen(): the objects it loads (and their dependencies)
 * are routed before it returns, so that their first malloc is memlease's
 * (but for their constructors', which run inside the C library's
 * dlopen()).  The C library's dlopen() takes the search path of its
 * caller, memlease here: a name without a slash that the caller's
 * RUNPATH or RPATH finds is given as that path.
 */
static void *
routed_dlopen(const char *file, int mode)
{
	char path[PATH_MAX];
	void *h;

	if (ml_got_search(__builtin_return_address(0), file, path,
	    sizeof path))
		file = path;
	h = atomic_load(&at.dlopen)(file, mode);

	if (h != NULL) {
		int e = errno;
		route();
		errno = e;
	}
	return h;
}

/*
 * memleasectl attach calls this in the process, once it has loaded
 * memlease: 0, -EALREADY (attached before), or a negative errno (-ENOSYS:
 * an architecture whose relocations are not known here).  The thread and
 * the control socket start, as with MEMLEASE_SOCKET=on; the rules come
 * through the socket.
 */
EXPORT int
memleasectl_attach(void)
{
	void *f;
	int r;

	if (atomic_exchange(&at.attached, true))
		return -EALREADY;
	if ((f = dlsym(RTLD_DEFAULT, "dlopen")) == NULL)
		return -ENOENT;
	atomic_store(&at.dlopen, (void *(*)(const char *, int))f);
	if ((r = pthread_atfork(fork_prepare, fork_parent, fork_child)) != 0)
		return -r;
	ml_dw_on_load(route_libdw);
	if ((r = ml_init_attach()) != 0)
		return r;
	r = route();
	return r < 0 ? r : 0;
}
