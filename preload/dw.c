/*
 * dw.c - libdw, loaded when the first frame must be named (see dw.h).
 *
 * Owns the table of libdw's functions: made once, by dlopen() of
 * ML_DW_SONAME and dlsym() of each function, and never freed or unloaded
 * (names point into libdw's data for the life of the process).  A program
 * that links libdw itself (perf, systemd's tools) gets the same object:
 * dlopen() of a loaded SONAME returns it.  libdw is not thread-safe:
 * memlease uses its own Dwfl only, under symbols.c's lock, as it did when
 * libdw was linked.
 *
 * Never: call dlopen() with a lock of memlease's held, or make a thread
 * wait for another's load.  dlopen() takes the loader's lock, and a thread
 * may hold that lock while it allocates and, under a caller= rule, names
 * frames (a malloc() inside dlopen(), in a library's constructor, in a
 * first access to a dlopen()ed library's TLS): if the loading thread held
 * symbols.c's lock, or made others wait for it, the two would wait for
 * each other.  So there is no lock here: each thread that finds no table
 * loads libdw (the loader serialises them; the second dlopen() finds the
 * object loaded and keeps one more reference to it), makes its own table
 * and offers it; the first table offered is kept, the others freed.  A
 * table is published whole (release), so a fork() child has one, or none
 * and loads again.  A thread already inside the loader (a malloc() of
 * dlopen()'s, a library's constructor) that must name a frame loads libdw
 * as a constructor's dlopen() does: the loader's lock is recursive.
 *
 * The dlopen() runs on the calling thread with the recursion guard held:
 * the loader's and the constructors' allocations go to the next allocator
 * untagged.  Its descriptors are the loader's, open for the time of the
 * call only (close-on-exec): libdw's own, kept open, are opened high by
 * symbols.c.  RTLD_NOW: every symbol of libdw and of its libraries is
 * bound in the dlopen(), none later on a first call, under symbols.c's
 * lock.  In a process memlease was attached to, the on_load hook
 * (attach.c) routes libdw's calls of the malloc family to memlease's
 * before the table is offered.
 *
 * Locking: none; the table, the hook and the flags are atomics.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdatomic.h>
#include <stdio.h>

#include "dw.h"
#include "mem.h"

static struct {
	const struct ml_dw_fns *_Atomic fns;    /* NULL: none yet */
	void                  (*_Atomic on_load)(void);
	atomic_bool                     failed; /* cannot be loaded */
	atomic_bool                     told;   /* the reason was given */
	char                            reason[160];    /* set before failed */
} dw;

/* The reason libdw cannot be used, in why[size] unless it was given (or
 * kept, when size is 0, for a caller that can give it). */
static void
tell(char *why, size_t size)
{
	if (size > 0 && !atomic_exchange(&dw.told, true))
		snprintf(why, size, "%s", dw.reason);
}

static void
fail(char *why, size_t size, const char *what)
{
	if (!atomic_load(&dw.failed))
		snprintf(dw.reason, sizeof dw.reason, "%s", what != NULL ? what :
		    "unknown");
	atomic_store(&dw.failed, true);
	tell(why, size);
}

const struct ml_dw_fns *
ml_dw_load(char *why, size_t size, bool *again)
{
	const struct ml_dw_fns *have = atomic_load_explicit(&dw.fns,
	    memory_order_acquire);
	struct ml_dw_fns *t;
	void *h;

	if (size > 0)
		why[0] = '\0';
	*again = false;
	if (have != NULL)
		return have;
	if (atomic_load(&dw.failed)) {
		tell(why, size);
		return NULL;
	}
	if ((h = dlopen(ML_DW_SONAME, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		fail(why, size, dlerror());
		return NULL;
	}
	void (*on_load)(void) = atomic_load(&dw.on_load);
	if (on_load != NULL)
		on_load();
	if ((t = ml_mem_calloc(1, sizeof *t)) == NULL) {
		*again = true;
		return NULL;
	}
	dlerror();
#define ML_DW_RESOLVE(name) \
	if ((*(void **)&t->name = dlsym(h, #name)) == NULL) { \
		fail(why, size, dlerror()); \
		ml_mem_free(t); \
		return NULL; \
	}
	ML_DW_FNS(ML_DW_RESOLVE)
#undef ML_DW_RESOLVE
	if (!atomic_compare_exchange_strong_explicit(&dw.fns, &have, t,
	    memory_order_acq_rel, memory_order_acquire)) {
		ml_mem_free(t);         /* another thread's came first */
		return have;
	}
	return t;
}

void
ml_dw_on_load(void (*fn)(void))
{
	atomic_store(&dw.on_load, fn);
}
