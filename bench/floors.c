/*
 * floors.c - what the tracked path of the preload cannot go below, for
 * bench/preload.sh: the cost of capturing a 13-frame stack alone, and of
 * the pointer map alone, each per tagged allocation, beside a
 * malloc+free pair of the sizes of the churn workloads.
 *
 *   bench/floors [--quick]
 *
 * Figures (ns, each the median of 7 passes, the passes of the figures
 * taking turns):
 *   malloc+free      a pair, 16..4096 bytes, C library's
 *   unw_backtrace    libunwind's fast path, 13 frames (the unwinding
 *                    alone: what every tagged allocation does today)
 *   stack capture    ml_stacks_capture() from 13 frames deep, at the same
 *                    place each time: remembered (capture.h), its chain
 *                    checked, slot by slot
 *   not remembered   the same, every chain forgotten before each: the
 *                    unwinding and the stack found in the stack table;
 *                    the thread's chains never taken again, it learns
 *                    one in 64 (capture.c: learning one, its CFI walked
 *                    again, costs about what an unwinding does)
 *   pointer map      a tagged block's map entry made and removed: lock,
 *                    insert, unlock; lock, find, remove, unlock (10k
 *                    entries live, addresses of real blocks)
 * It links libmemlease-internal, not the preload: malloc is the C
 * library's, and no lease is made.
 */
#define _GNU_SOURCE
#define UNW_LOCAL_ONLY
#include <libunwind.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "frames.h"
#include "guard.h"
#include "heap.h"
#include "ptrmap.h"
#include "stacks.h"
#include "timing.h"

#define PASSES 7
#define LIVE   10000

static long ops = 1000000;


static volatile uintptr_t sink;

/* The figures: each one pass of `ops` operations, ns per operation. */

static double
pass_malloc(void)
{
	uint64_t rng = SEED;
	double t0 = now_ns();

	for (long i = 0; i < ops; i++) {
		char *p = malloc(16 + (size_t)(bench_next(&rng) % 4081));
		p[0] = 1;
		sink += (uintptr_t)p;
		free(p);
	}
	return (now_ns() - t0) / (double)ops;
}

static double
pass_unwind(void)
{
	void *frames[13];
	double t0 = now_ns();

	for (long i = 0; i < ops; i++)
		sink += (uintptr_t)unw_backtrace(frames, 13);
	return (now_ns() - t0) / (double)ops;
}

static double
pass_capture(void)
{
	double t0 = now_ns();

	for (long i = 0; i < ops; i++)
		sink += ml_stacks_capture(__builtin_return_address(0), 13);
	return (now_ns() - t0) / (double)ops;
}

static double
pass_capture_miss(void)
{
	double t0 = now_ns();

	for (long i = 0; i < ops; i++) {
		ml_capture_forget();
		sink += ml_stacks_capture(__builtin_return_address(0), 13);
	}
	return (now_ns() - t0) / (double)ops;
}

static unsigned char *blocks[LIVE + 1];

static double
pass_map(void)
{
	uint64_t rng = SEED;
	double t0 = now_ns();

	/* blocks[LIVE] is out of the map; each op puts it in and takes a
	 * random other out, which becomes the one out */
	for (long i = 0; i < ops; i++) {
		size_t k = (size_t)(bench_next(&rng) % LIVE);
		struct ml_shard *s = ml_ptrmap_lock(blocks[LIVE]);
		struct ml_pent *e = ml_ptrmap_insert(s, blocks[LIVE]);
		e->state = ML_P_LIVE;
		ml_ptrmap_unlock(s);
		s = ml_ptrmap_lock(blocks[k]);
		if ((e = ml_ptrmap_find(s, blocks[k])) == NULL)
			abort();
		ml_ptrmap_remove(s, e);
		ml_ptrmap_unlock(s);
		unsigned char *t = blocks[k];
		blocks[k] = blocks[LIVE];
		blocks[LIVE] = t;
	}
	return (now_ns() - t0) / (double)ops;
}

/* Deeper: each level a real frame, so the figures run 13 frames deep
 * (with main and the C library's start). */
static __attribute__((noinline)) double
at_depth(int depth, double (*pass)(void))
{
	double r = depth > 0 ? at_depth(depth - 1, pass) : pass();

	BENCH_BARRIER();
	return r;
}


int
main(int argc, char **argv)
{
	static const struct {
		const char *name;
		double (*pass)(void);
	} figs[] = {
		{ "malloc+free pair, 16..4096 bytes", pass_malloc },
		{ "unw_backtrace, 13 frames", pass_unwind },
		{ "stack capture, remembered, 13 frames", pass_capture },
		{ "stack capture, not remembered, 13 frames",
		  pass_capture_miss },
		{ "pointer map entry made and removed, 10k live", pass_map },
	};
	enum { NFIGS = sizeof figs / sizeof *figs };
	double t[NFIGS][PASSES];
	int passes = PASSES;

	if (argc > 1 && strcmp(argv[1], "--quick") == 0) {
		ops = 100000;
		passes = 3;
	}
	/* memlease's own allocations stay out of its map, and those of the
	 * stacks learnt out of the program's arena, as in the preload */
	ml_heap_enable();
	ml_guard_enter();
	for (int i = 0; i <= LIVE; i++) {
		if ((blocks[i] = malloc(64)) == NULL)
			abort();
		if (i < LIVE) {
			struct ml_shard *s = ml_ptrmap_lock(blocks[i]);
			ml_ptrmap_insert(s, blocks[i])->state = ML_P_LIVE;
			ml_ptrmap_unlock(s);
		}
	}
	for (int p = 0; p < passes; p++)
		for (int f = 0; f < NFIGS; f++)
			/* main, __libc_start_call_main, __libc_start_main,
			 * _start, pass: 8 levels more make 13 */
			t[f][p] = at_depth(8, figs[f].pass);
	for (int f = 0; f < NFIGS; f++)
		printf("floor: %-46s %6.1f ns\n", figs[f].name,
		    median(t[f], passes));
	ml_guard_leave();
	return 0;
}
