/*
 * shapes.c - workloads for bench/preload.sh, of shapes that bench/churn
 * does not make: every allocation made through 8 real, non-inlined frames
 * (frames.h), as in a program's own code.  A plain program: it knows
 * nothing of memlease, and the preload, or another tool, is put under it
 * by the environment.
 *
 *   bench/shapes manylive N
 *       N blocks of 16..256 bytes allocated, all live at once, then freed
 *       in a random order.
 *   bench/shapes realloc ROUNDS
 *       ROUNDS times: 64 buffers grown from 16 bytes to 64 KiB by
 *       realloc, 16..64 bytes at a time, in turns, then freed.
 *
 * Fixed seeds: a run makes the same calls every time.  Blocks carry a
 * mark, checked when freed: a broken allocator aborts the run rather than
 * being timed.  It prints nothing and exits 0; 2 for bad arguments.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frames.h"

/* manylive */

static int
manylive(long n)
{
	unsigned char **v = malloc((size_t)n * sizeof *v);
	uint64_t rng = SEED;

	if (v == NULL)
		abort();
	for (long i = 0; i < n; i++)
		v[i] = alloc_deep(NULL, 16 + (size_t)(bench_next(&rng) %
		    (256 - 16 + 1)));
	for (long i = n - 1; i > 0; i--) {     /* Fisher-Yates */
		long j = (long)(bench_next(&rng) % (uint64_t)(i + 1));
		unsigned char *t = v[i];
		v[i] = v[j];
		v[j] = t;
	}
	for (long i = 0; i < n; i++)
		bench_drop(v[i]);
	free(v);
	return 0;
}

/* realloc */

#define BUFFERS 64
#define GROWN   (64 * 1024)

static int
grow(long rounds)
{
	unsigned char *b[BUFFERS];
	size_t len[BUFFERS];
	uint64_t rng = SEED;

	for (long r = 0; r < rounds; r++) {
		int done = 0;
		for (int i = 0; i < BUFFERS; i++) {
			len[i] = 16;
			b[i] = alloc_deep(NULL, len[i]);
		}
		while (done < BUFFERS) {
			done = 0;
			for (int i = 0; i < BUFFERS; i++) {
				if (len[i] >= GROWN) {
					done++;
					continue;
				}
				len[i] += 16 + (size_t)(bench_next(&rng) % 49);
				if (len[i] > GROWN)
					len[i] = GROWN;
				if (b[i][0] != MARK)
					abort();
				b[i] = alloc_deep(b[i], len[i]);
			}
		}
		for (int i = 0; i < BUFFERS; i++)
			bench_drop(b[i]);
	}
	return 0;
}

static int
usage(void)
{
	fputs("usage: shapes manylive N | realloc ROUNDS\n", stderr);
	return 2;
}

int
main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "manylive") == 0 && atol(argv[2]) > 0)
		return manylive(atol(argv[2]));
	if (argc == 3 && strcmp(argv[1], "realloc") == 0 && atol(argv[2]) >= 0)
		return grow(atol(argv[2]));
	return usage();
}
