/*
 * got.h - routing the calls of objects already loaded to memlease, by
 * rewriting their relocations (GOT and PLT slots), for a process that
 * memlease was loaded into after it started (memleasectl attach).
 */
#ifndef ML_GOT_H
#define ML_GOT_H

#include <stddef.h>

/* A function of the C library's, and what its callers are to call. */
struct ml_got_hook {
	const char *name;
	void       *fn;
};

/*
 * Point every GOT slot named by a hook (R_X86_64_JUMP_SLOT, and
 * R_X86_64_GLOB_DAT: glibc reaches its own malloc so) of every loaded
 * object at its hook's function, but for those of the object at base
 * `self` (memlease), of the dynamic loader and of the vDSO.  Objects
 * already done are done again: their slots are simply written again.
 * Returns the slots written, or -ENOSYS on an architecture other than
 * x86-64.  Must not allocate (it runs inside dlopen()'s hook); takes
 * the loader's lock (dl_iterate_phdr()).
 */
int ml_got_patch(const struct ml_got_hook *hooks, size_t n,
        const void *self);

#endif /* ML_GOT_H */
