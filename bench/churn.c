/*
 * churn.c - a workload for bench/preload.sh: threads that allocate, free
 * and reallocate blocks of random sizes, some handed to another thread.
 * A plain program: it knows nothing of memlease, and the preload, or
 * another tool, is put under it by the environment.
 *
 *   bench/churn THREADS OPS LIVE [deep]
 *
 * LIVE blocks stay allocated, split between the threads (each owns its
 * share of slots, all filled before the first operation), and a shared
 * array of SHARED more.  OPS operations in all, split between the threads;
 * each picks a random slot and does one of:
 *   4 in 8  replace: free the slot's block, malloc a new size;
 *   2 in 8  realloc the slot's block to a new size;
 *   2 in 8  hand over: malloc a block, atomic_exchange it into a random
 *           entry of the shared array, free the block that comes out,
 *           allocated by whichever thread put it there.
 * With `deep`, every allocation is made through 8 real, non-inlined frames
 * (frames.h), as in a program's own code, and each operation is a free
 * and a malloc: 88% replace, 12% hand over (no realloc), so that with 2
 * threads about 6% of the frees are of a block the other thread made.
 * Sizes are 16..4096, uniform; each thread draws from a fixed-seed PRNG,
 * so a run is the same sequence of calls every time (with 2 threads, but
 * for which block each hand-over finds).  Every block carries a mark in
 * its first byte, checked when it is freed: a broken allocator aborts the
 * run rather than being timed.
 *
 * It prints nothing and exits 0; 2 for bad arguments.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frames.h"

#define MAX_THREADS 64
#define SHARED      256
#define SIZE_MIN    16
#define SIZE_SPAN   (4096 - SIZE_MIN + 1)

struct worker {
	pthread_t      thread;
	uint64_t       rng;
	long           ops;
	size_t         nslots;
	unsigned char **slot;
};

static _Atomic(unsigned char *) shared[SHARED];
static bool deep;

static unsigned char *
make(size_t n)
{
	return deep ? alloc_deep(NULL, n) : bench_marked(malloc(n));
}

static void *
work(void *arg)
{
	struct worker *w = arg;

	for (long i = 0; i < w->ops; i++) {
		uint64_t r = bench_next(&w->rng);
		size_t s = (size_t)(r % w->nslots);
		size_t n = SIZE_MIN + (size_t)((r >> 32) % SIZE_SPAN);
		unsigned char *p;

		if (deep) {             /* 12% hand over, 88% replace */
			if ((r & 1023) < 123) {
				bench_drop(atomic_exchange(&shared[(r >> 16) %
				    SHARED], make(n)));
			} else {
				bench_drop(w->slot[s]);
				w->slot[s] = make(n);
			}
			continue;
		}
		switch ((r >> 61) & 7) {
		case 0: case 1: case 2: case 3:
			bench_drop(w->slot[s]);
			w->slot[s] = make(n);
			break;
		case 4: case 5:
			if (w->slot[s][0] != MARK)
				abort();
			p = realloc(w->slot[s], n);
			if (p == NULL)
				abort();
			w->slot[s] = p;
			break;
		default:
			p = atomic_exchange(&shared[(r >> 16) % SHARED], make(n));
			bench_drop(p);
		}
	}
	return NULL;
}

int
main(int argc, char **argv)
{
	struct worker w[MAX_THREADS];
	int nthreads;
	long ops, live;

	deep = argc == 5 && strcmp(argv[4], "deep") == 0;
	if (argc != 4 + deep || (nthreads = atoi(argv[1])) < 1 ||
	    nthreads > MAX_THREADS || (ops = atol(argv[2])) < 0 ||
	    (live = atol(argv[3])) < nthreads) {
		fputs("usage: churn THREADS(1..64) OPS LIVE(>= THREADS) "
		    "[deep]\n", stderr);
		return 2;
	}
	for (int t = 0; t < nthreads; t++) {
		w[t].rng = SEED + (uint64_t)t * UINT64_C(0x9e3779b97f4a7c15);
		w[t].ops = ops / nthreads + (t < ops % nthreads);
		w[t].nslots = (size_t)(live / nthreads);
		w[t].slot = malloc(w[t].nslots * sizeof *w[t].slot);
		if (w[t].slot == NULL)
			abort();
		for (size_t s = 0; s < w[t].nslots; s++)
			w[t].slot[s] = make(SIZE_MIN +
			    (size_t)(bench_next(&w[t].rng) % SIZE_SPAN));
	}
	for (int t = 0; t < nthreads; t++)
		if (pthread_create(&w[t].thread, NULL, work, &w[t]) != 0)
			abort();
	for (int t = 0; t < nthreads; t++)
		pthread_join(w[t].thread, NULL);
	for (int t = 0; t < nthreads; t++) {
		for (size_t s = 0; s < w[t].nslots; s++)
			bench_drop(w[t].slot[s]);
		free(w[t].slot);
	}
	for (int i = 0; i < SHARED; i++)
		bench_drop(shared[i]);
	return 0;
}
