/*
 * shim.c - the C library's allocation functions, interposed.  Only the
 * libc names live here, all of one shape: tagging off or the recursion
 * guard held -> straight to the next allocator (real.h); otherwise ask the
 * tracking layer (tag.h).  No policy here.
 *
 * Untagged cost: two relaxed loads (ml_tag_may(): the sizes the rules may
 * tag), and of the guard, a TLS word, in front of the next allocator,
 * and real.h's: one load while memlease's heap was never used (no rules:
 * no thread of memlease's; heap.h's pass), after that a TLS word
 * (memlease's thread allocates from its heap) and a relaxed load (blocks
 * that thread handed over); with sample= in every rule, one more relaxed
 * load and a compare and a subtraction on a TLS word (ml_tag_unsampled()).
 * free(): a compare (the bootstrap arena's blocks) and, while nothing was
 * ever tracked and the heap never used, one load; after, a load of
 * ml_tag_tracking, the filter's multiply and two loads (ml_tag_may_hold(),
 * inline: no call for a block never tracked), and real.h's: one load (the
 * heap's mappings, a compare each), a TLS word and a relaxed load.
 *
 * Built only into libmemlease.so, never into the unit tests' library.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <malloc.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "guard.h"
#include "real.h"
#include "tag.h"

#define EXPORT __attribute__((visibility("default")))
#define RA     __builtin_return_address(0)

/* An allocation of n bytes that no rule tags, made by memlease, or that
 * byte sampling passes by. */
static inline bool
passthrough(size_t n)
{
	return __builtin_expect(!ml_tag_may(n), 1) || ml_guard_held() ||
	    ml_tag_unsampled(n);
}

static inline bool
tracking(void)
{
	return __builtin_expect(atomic_load_explicit(&ml_tag_tracking,
	    memory_order_relaxed), 0);
}

static inline bool
power_of_two(size_t x)
{
	return x != 0 && (x & (x - 1)) == 0;
}

EXPORT void *
malloc(size_t n)
{
	if (passthrough(n))
		return ml_real_malloc(n);
	return ml_tag_alloc(ML_FN_MALLOC, 0, n, RA);
}

/* free() of a block the map may hold: whether it was a tracked block,
 * now ended.  Out of line: free() of any other block runs none of it. */
static __attribute__((noinline)) bool
free_tracked(void *p)
{
	int err = errno;
	bool done = ml_tag_free(p);

	errno = err;
	return done;
}

EXPORT void
free(void *p)
{
	if (p == NULL || ml_boot_owns(p) || ml_real_pass_free(p))
		return;
	if (tracking() && ml_tag_may_hold(p) && free_tracked(p))
		return;
	ml_real_free_unpassed(p);
}

EXPORT void *
calloc(size_t n, size_t size)
{
	size_t total;

	/* an overflow goes to the next allocator, which fails it */
	if (__builtin_mul_overflow(n, size, &total) || passthrough(total))
		return ml_real_calloc(n, size);
	return ml_tag_alloc(ML_FN_CALLOC, 0, total, RA);
}

/* realloc(p, n) of a block that is not the arena's; p is not NULL. */
static void *
resize(void *p, size_t n)
{
	void *q;

	if (tracking() && ml_tag_may_hold(p) && ml_tag_realloc(p, n, &q))
		return q;
	return ml_real_realloc(p, n);
}

EXPORT void *
realloc(void *p, size_t n)
{
	if (p == NULL) {
		if (passthrough(n))
			return ml_real_malloc(n);
		return ml_tag_alloc(ML_FN_MALLOC, 0, n, RA);
	}
	if (ml_boot_owns(p))
		return ml_real_realloc(p, n);
	return resize(p, n);
}

EXPORT void *
reallocarray(void *p, size_t n, size_t size)
{
	size_t total;

	if (!ml_mul_ok(n, size, &total))
		return NULL;
	if (p == NULL) {
		if (passthrough(total))
			return ml_real_malloc(total);
		return ml_tag_alloc(ML_FN_MALLOC, 0, total, RA);
	}
	if (ml_boot_owns(p))
		return ml_real_realloc(p, total);
	return resize(p, total);
}

EXPORT int
posix_memalign(void **pp, size_t align, size_t n)
{
	if (passthrough(n))
		return ml_real_posix_memalign(pp, align, n);
	if (!power_of_two(align) || align % sizeof(void *) != 0)
		return EINVAL;
	int err = errno;
	void *p = ml_tag_alloc(ML_FN_MEMALIGN, align, n, RA);
	int r = p != NULL ? 0 : errno;
	errno = err;
	if (p != NULL)
		*pp = p;
	return r;
}

EXPORT void *
aligned_alloc(size_t align, size_t n)
{
	if (passthrough(n))
		return ml_real_aligned_alloc(align, n);
	return ml_tag_alloc(ML_FN_ALIGNED_ALLOC, align, n, RA);
}

EXPORT void *
memalign(size_t align, size_t n)
{
	if (passthrough(n))
		return ml_real_memalign(align, n);
	return ml_tag_alloc(ML_FN_MEMALIGN, align, n, RA);
}

EXPORT void *
valloc(size_t n)
{
	if (passthrough(n))
		return ml_real_valloc(n);
	return ml_tag_alloc(ML_FN_VALLOC, 0, n, RA);
}

EXPORT void *
pvalloc(size_t n)
{
	if (passthrough(n))
		return ml_real_pvalloc(n);
	return ml_tag_alloc(ML_FN_PVALLOC, 0, n, RA);
}

EXPORT size_t
malloc_usable_size(void *p)
{
	size_t n;

	if (p == NULL)
		return 0;
	if (ml_boot_owns(p))
		return ml_boot_usable(p);
	if (tracking() && ml_tag_usable_size(p, &n))
		return n;
	return ml_real_usable_size(p);
}

/*
 * The same functions under names of memlease's own, which only this
 * object can bind: a reference to `malloc` from inside libmemlease.so may
 * be bound to the C library's, when memlease was loaded into a running
 * process (attach.c points the program's calls at these).
 */
#if defined(__has_attribute) && __has_attribute(copy)
#define SAME(name) copy(name),
#else
#define SAME(name)
#endif
#define ALIAS(name) extern __typeof__(name) ml_shim_##name \
	__attribute__((alias(#name), SAME(name) visibility("hidden")))
ALIAS(malloc);
ALIAS(free);
ALIAS(calloc);
ALIAS(realloc);
ALIAS(reallocarray);
ALIAS(posix_memalign);
ALIAS(aligned_alloc);
ALIAS(memalign);
ALIAS(valloc);
ALIAS(pvalloc);
ALIAS(malloc_usable_size);
