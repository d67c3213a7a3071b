/*
 * got.h - routing the calls of objects already loaded to memlease, by
 * rewriting their relocations (GOT and PLT slots), for a process that
 * memlease was loaded into after it started (memleasectl attach), and
 * for one call of libunwind's (stacks.c).
 */
#ifndef ML_GOT_H
#define ML_GOT_H

#include <stdbool.h>
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

/* As ml_got_patch(), in the one object that holds address `in` only
 * (libunwind's, for its pipe2(): stacks.c). */
int ml_got_patch_object(const void *in, const struct ml_got_hook *hooks,
        size_t n);

/*
 * Where the dynamic loader finds `file`, a name without a slash, for a
 * dlopen() made from the object that holds address `caller`, when that
 * object's own search path is what finds it: its DT_RPATH, or its
 * DT_RUNPATH when LD_LIBRARY_PATH does not find it first, $ORIGIN
 * expanded.  true, the path in out (n bytes); false, the name finds the
 * same from anywhere (or nothing).  So that a dlopen() made through
 * memlease's hook finds what the caller's would have.  Does not allocate.
 */
bool ml_got_search(const void *caller, const char *file, char *out,
         size_t n);

#endif /* ML_GOT_H */
