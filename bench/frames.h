/*
 * frames.h - what the workloads of bench/preload.sh share (bench/churn.c,
 * bench/shapes.c): a fixed-seed generator, marked blocks, and the frames
 * an allocation is made through.
 *
 * A real program reaches malloc through its own frames, not from a
 * benchmark's loop: alloc_deep() calls alloc_1, which calls alloc_2 ...
 * alloc_8, which calls malloc (or realloc).  Each is a real, non-inlined
 * frame: noinline, and each does something after its call (a compiler
 * barrier), so that no call becomes a jump.
 */
#ifndef BENCH_FRAMES_H
#define BENCH_FRAMES_H

#include <stdint.h>
#include <stdlib.h>

#define MARK 0xa5
#define SEED UINT64_C(0x6d656d6c65617365)   /* "memlease" */

static inline uint64_t
bench_next(uint64_t *x)      /* xorshift64* */
{
	*x ^= *x >> 12;
	*x ^= *x << 25;
	*x ^= *x >> 27;
	return *x * UINT64_C(0x2545f4914f6cdd1d);
}

/* p, marked; NULL (the allocator failed) aborts the run. */
static inline unsigned char *
bench_marked(unsigned char *p)
{
	if (p == NULL)
		abort();
	p[0] = MARK;
	return p;
}

/* A marked block's end; a block whose mark is gone aborts the run (a
 * broken allocator is not timed). */
static inline void
bench_drop(unsigned char *p)
{
	if (p != NULL && p[0] != MARK)
		abort();
	free(p);
}

#define BENCH_BARRIER() __asm__ __volatile__("" ::: "memory")

static __attribute__((noinline)) unsigned char *
alloc_8(unsigned char *old, size_t n)
{
	unsigned char *p = old != NULL ? realloc(old, n) : malloc(n);

	BENCH_BARRIER();
	return bench_marked(p);
}

#define BENCH_LEVEL(name, below) \
static __attribute__((noinline)) unsigned char * \
name(unsigned char *old, size_t n) \
{ \
	unsigned char *p = below(old, n); \
	BENCH_BARRIER(); \
	return p; \
}
BENCH_LEVEL(alloc_7, alloc_8)
BENCH_LEVEL(alloc_6, alloc_7)
BENCH_LEVEL(alloc_5, alloc_6)
BENCH_LEVEL(alloc_4, alloc_5)
BENCH_LEVEL(alloc_3, alloc_4)
BENCH_LEVEL(alloc_2, alloc_3)
BENCH_LEVEL(alloc_1, alloc_2)

/* n bytes (or old resized to n) through the 8 frames. */
static inline unsigned char *
alloc_deep(unsigned char *old, size_t n)
{
	return alloc_1(old, n);
}

#endif /* BENCH_FRAMES_H */
