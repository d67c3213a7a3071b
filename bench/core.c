/*
 * core.c - the core benchmark: what a lease costs beside malloc+free.
 *
 * Three figures, each printed with its target:
 *   1. alloc+release pairs per second.  At the core: malloc a buffer,
 *      ml_core_add it with a 30 s ttl (so that it enters and leaves the
 *      deadline index: the heap when it is empty, else its ttl's class),
 *      ml_core_release it, free it; with 0, 10, 1k and 1M other leases
 *      live (ttl 1 h: they too have a deadline), and 1M and half a block
 *      (see live_cases); at 1M, also with the block each pair makes kept
 *      out of the C library (the core's own cost of it), with and without
 *      a malloc+free of 1,000 bytes beside.  Beside it, in the same run,
 *      malloc+free of the same sizes.  These run while the process has
 *      one thread, when the core's lock costs no atomic instruction
 *      (src/wordlock.h); then 0 live again once a second thread exists
 *      (it sleeps), as in any program with threads.  Then the public API
 *      (memlease_alloc+memlease_release) with backtraces of 16 frames and
 *      of the call site only, without the expiry thread, and the latter
 *      with it.
 *   2. the time to expire 1M due leases: one ml_core_expire() loop in
 *      batches of 64 that frees the buffers, deadlines in the order the
 *      leases were made and in random order; then memlease_expire_due()
 *      with the reports going to /dev/null.
 *   3. the bytes of bookkeeping per live lease: from the core's stats, and
 *      measured apart from them by mallinfo2() around 1M ml_core_add()
 *      calls whose buffers are not the allocator's.
 *
 * It links libmemlease-internal, not the preload: malloc is the C
 * library's.
 *
 * The machine may be shared and noisy: baseline and measured passes
 * alternate (ABAB...), a figure is the median of its passes, and a ratio is
 * a ratio of medians.  Sizes come from a fixed-seed PRNG into an array
 * before any timing.  A missed target is printed, not failed: the exit
 * status says only whether the benchmark itself ran.
 *
 * The API reads MEMLEASE_BACKTRACE once per process, so its figures come
 * from children: this program run again with --api-child, which print
 * them on a pipe.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "core.h"
#include "memlease.h"
#include "timing.h"

#define MAX_REPS     15
#define SEED         UINT64_C(0x6d656d6c65617365)   /* "memlease" */
#define SIZE_MIN     16
#define SIZE_MAX_    4096
#define PAIR_TTL_MS  30000          /* the measured pair's */
#define LIVE_TTL_MS  3600000        /* the others: 1 h */
#define DUE_TTL_MS   1000           /* leases to expire: ttl 1 s, or */
#define DUE_PER_MS   1000           /* ... made 1000 a ms; or 1..1000 ms */
#define DUE_SIZE     64
#define BATCH        64
#define MILLION      1000000

struct config {
	int    reps;
	size_t pairs;        /* core pairs per pass */
	size_t api_pairs;    /* API pairs per pass */
	size_t expire;       /* leases per core expiry pass */
	size_t api_expire;   /* leases per API expiry pass */
	int    api_expire_reps;
};

static const struct config full = { 7, 1000000, 200000, MILLION, MILLION, 3 };
static const struct config quick = { 3, 200000, 20000, MILLION, 100000, 1 };

static int targets, missed, broken;

static void
die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("bench/core: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}


/* Keep the compiler from eliding a malloc+free pair. */
static inline void
escape(void *p)
{
	__asm__ __volatile__("" : : "r"(p) : "memory");
}

/* splitmix64: the same sizes in every run and in every child. */
static uint32_t *
make_sizes(size_t n)
{
	uint64_t x = SEED;
	uint32_t *s = malloc(n * sizeof *s);

	if (s == NULL)
		die("out of memory");
	for (size_t i = 0; i < n; i++) {
		uint64_t z = (x += UINT64_C(0x9e3779b97f4a7c15));
		z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
		z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
		z ^= z >> 31;
		s[i] = SIZE_MIN + (uint32_t)(z % (SIZE_MAX_ - SIZE_MIN + 1));
	}
	return s;
}

/* The ttl of the i-th lease to expire, when they are in random order:
 * spread over 1..DUE_TTL_MS. */
static uint64_t
random_ttl(size_t i)
{
	return 1 + (uint64_t)(i * UINT64_C(2654435761)) % DUE_TTL_MS;
}

/* The table. */

enum verdict { INFO, PASS, MISS };

/* One line of the table, without trailing blanks. */
static void
columns(const char *figure, const char *value, const char *base,
    const char *ratio, const char *target, const char *result)
{
	char line[256];

	int n = snprintf(line, sizeof line, "%-38s %-20s %-20s %-7s %-15s %s",
	    figure, value, base, ratio, target, result);
	while (n > 0 && line[n - 1] == ' ')
		line[--n] = '\0';
	puts(line);
	fflush(stdout);
}

static void
row(const char *figure, const char *value, const char *base, double ratio,
    const char *target, enum verdict v)
{
	char r[16] = "";

	if (ratio > 0)
		snprintf(r, sizeof r, "%.2fx", ratio);
	columns(figure, value, base, r, target,
	    v == PASS ? "PASS" : v == MISS ? "MISS" : "");
}

static enum verdict
check(int ok)
{
	targets++;
	missed += !ok;
	return ok ? PASS : MISS;
}

static const char *
fmt_pairs(char *buf, size_t len, double ns)
{
	snprintf(buf, len, "%.2f M/s (%.1f ns)", 1e3 / ns, ns);
	return buf;
}

/* 1000 as 1k, 1000000 as 1M, 1000016 as 1M+16. */
static const char *
fmt_count(char *buf, size_t len, size_t n)
{
	size_t unit = n >= MILLION ? MILLION : n >= 1000 ? 1000 : 1;
	const char *name = unit == MILLION ? "M" : unit == 1000 ? "k" : "";

	if (n % unit == 0)
		snprintf(buf, len, "%zu%s", n / unit, name);
	else
		snprintf(buf, len, "%zu%s+%zu", n / unit, name, n % unit);
	return buf;
}

/* Figure 1: pairs.  A pass returns ns per pair. */

typedef double (*pass_fn)(void *ctx, const uint32_t *sizes, size_t n);

static double
pass_malloc(void *ctx, const uint32_t *sizes, size_t n)
{
	(void)ctx;
	double t0 = now_ns();
	for (size_t i = 0; i < n; i++) {
		void *p = malloc(sizes[i]);
		if (p == NULL)
			die("out of memory");
		escape(p);
		free(p);
	}
	return (now_ns() - t0) / (double)n;
}

static double
pass_core(void *ctx, const uint32_t *sizes, size_t n)
{
	struct ml_core *c = ctx;
	struct ml_ended e;
	memlease_t h;
	bool wake;
	uint64_t now = ml_clock_ms();   /* the core reads no clock */

	double t0 = now_ns();
	for (size_t i = 0; i < n; i++) {
		void *buf = malloc(sizes[i]);
		if (buf == NULL || ml_core_add(c, now, buf, sizes[i],
		    PAIR_TTL_MS, 1, 0, 0, &h, &wake) != 0)
			die("ml_core_add failed");
		if (ml_core_release(c, h, &e) != 1)
			die("ml_core_release did not end the lease");
		free(e.buf);
	}
	return (now_ns() - t0) / (double)n;
}

static double
pass_api(void *ctx, const uint32_t *sizes, size_t n)
{
	(void)ctx;
	double t0 = now_ns();
	for (size_t i = 0; i < n; i++) {
		void *buf;
		memlease_t h = memlease_alloc(sizes[i], PAIR_TTL_MS, 1, &buf);
		if (h == 0 || memlease_release(h) != 0)
			die("memlease_alloc/release failed: %s",
			    strerror(errno));
	}
	return (now_ns() - t0) / (double)n;
}

/* One warm-up pass each, then reps of A then B; the medians of each. */
static void
abab(pass_fn a, pass_fn b, void *ctx, const uint32_t *sizes, size_t n,
    int reps, double *ma, double *mb)
{
	double va[MAX_REPS], vb[MAX_REPS];

	a(ctx, sizes, n);
	b(ctx, sizes, n);
	for (int r = 0; r < reps; r++) {
		va[r] = a(ctx, sizes, n);
		vb[r] = b(ctx, sizes, n);
	}
	*ma = median(va, reps);
	*mb = median(vb, reps);
}

/*
 * The cores' allocator: the C library's, except that for the 1M-live
 * rows "block kept aside" it can hand out one entry block, taken from the
 * C library once before the pairs and never given back to it between them,
 * so that a block made and freed at each pair costs the core's bookkeeping
 * alone; and, beside it, malloc and free
 * `extra` bytes, as a block small enough for glibc's thread cache would.
 */
static struct {
	bool    on;
	bool    busy;
	size_t  extra;
	void   *held;
	void   *blk;        /* an entry block's bytes, taken once */
	size_t  bytes;
} aside;

static void *
std_realloc(void *p, size_t n)
{
	if (aside.on && p == NULL && n == aside.bytes && !aside.busy) {
		aside.busy = true;
		aside.held = aside.extra != 0 ? malloc(aside.extra) : NULL;
		return aside.blk;
	}
	return realloc(p, n);
}

static void
std_free(void *p)
{
	if (p != NULL && p == aside.blk) {
		aside.busy = false;
		free(aside.held);
		return;
	}
	free(p);
}

static const struct ml_alloc std_alloc = { std_realloc, std_free };

static void
free_buf(void *p, unsigned kind)
{
	(void)kind;
	free(p);
}

/* Bring the core to `live` leases of 64 bytes, ttl 1 h. */
static void
add_live(struct ml_core *c, size_t live)
{
	struct memlease_stats st;
	memlease_t h;
	bool wake;
	uint64_t now = ml_clock_ms();

	ml_core_stats(c, &st);
	for (size_t i = st.live_leases; i < live; i++) {
		void *buf = malloc(DUE_SIZE);
		if (buf == NULL || ml_core_add(c, now, buf, DUE_SIZE,
		    LIVE_TTL_MS, 1, 0, 0, &h, &wake) != 0)
			die("ml_core_add failed");
	}
}

/*
 * With exactly 1M others live every entry block is full (1M is a multiple
 * of the block size), so each measured pair makes a block and frees it
 * again; the "mid-block" row puts half a block more live, to tell that
 * apart from the cost of the others being there.  The 10-live row is a
 * program with a few long leases beside the short ones.  At 1M, the pair
 * also runs with its block kept aside (see `aside`): without, then with,
 * a malloc+free of 1,000 bytes at each block made and freed.
 */
static const struct {
	size_t      live;
	bool        target;     /* <= 2x malloc+free */
	bool        vs0;        /* compared with 0 live: <= 1.5x if target */
	const char *note;
} live_cases[] = {
	{ 0, true, false, "" },
	{ 10, false, false, "" },
	{ 1000, true, false, "" },
	{ MILLION, true, true, "" },
	{ MILLION + ML_PER_BLOCK / 2, false, true, " (mid-block)" },
};

#define NLIVE (sizeof live_cases / sizeof live_cases[0])

static void
fig_core_pairs(const struct config *cf, const uint32_t *sizes)
{
	static const size_t extra[] = { 0, 1000 };
	struct ml_core *c;
	double ns[NLIVE], aside_ns[2] = { 0, 0 };
	char v[32], b[32], fig[200], live[NLIVE][32];

	aside.bytes = ml_core_block_bytes();
	if ((aside.blk = malloc(aside.bytes)) == NULL ||
	    ml_core_new(&std_alloc, ml_clock_ms(), &c) != 0)
		die("ml_core_new failed");
	for (size_t i = 0; i < NLIVE; i++) {
		double base;
		add_live(c, live_cases[i].live);
		for (size_t k = 0; live_cases[i].live == MILLION && k < 2; k++) {
			aside.on = true;
			aside.extra = extra[k];
			abab(pass_malloc, pass_core, c, sizes, cf->pairs,
			    cf->reps, &base, &aside_ns[k]);
			aside.on = false;
		}
		abab(pass_malloc, pass_core, c, sizes, cf->pairs, cf->reps,
		    &base, &ns[i]);
		fmt_count(live[i], sizeof live[i], live_cases[i].live);
		snprintf(fig, sizeof fig, "core pair, %s live%s", live[i],
		    live_cases[i].note);
		row(fig, fmt_pairs(v, sizeof v, ns[i]),
		    fmt_pairs(b, sizeof b, base), ns[i] / base,
		    live_cases[i].target ? "<= 2x malloc" : "(none)",
		    live_cases[i].target ? check(ns[i] <= 2 * base) : INFO);
	}
	ml_core_free(c, free_buf);
	free(aside.blk);
	aside.blk = NULL;
	snprintf(b, sizeof b, "%.1f ns (0 live)", ns[0]);
	for (size_t i = 0; i < NLIVE; i++) {
		if (!live_cases[i].vs0)
			continue;
		snprintf(fig, sizeof fig, "core pair, %s vs 0 live", live[i]);
		snprintf(v, sizeof v, "%.1f ns", ns[i]);
		row(fig, v, b, ns[i] / ns[0],
		    live_cases[i].target ? "<= 1.5x 0 live" : "(none)",
		    live_cases[i].target ? check(ns[i] <= 1.5 * ns[0]) : INFO);
	}
	for (size_t k = 0; k < 2; k++) {
		snprintf(fig, sizeof fig, k == 0 ? "  1M, its block kept aside" :
		    "  1M, aside, %zu B malloc+free", extra[k]);
		snprintf(v, sizeof v, "%.1f ns", aside_ns[k]);
		row(fig, v, b, aside_ns[k] / ns[0], "(none)", INFO);
	}
}

/* A thread that sleeps until the process ends: the process is no longer
 * alone, and the core's lock takes its atomic instructions. */
static void *
sleeper(void *arg)
{
	(void)arg;
	for (;;)
		pause();
	return NULL;
}

static void
fig_core_pair_threads(const struct config *cf, const uint32_t *sizes)
{
	struct ml_core *c;
	pthread_t t;
	double base, ns;
	char v[32], b[32];

	if (pthread_create(&t, NULL, sleeper, NULL) != 0)
		die("pthread_create failed");
	if (ml_core_new(&std_alloc, ml_clock_ms(), &c) != 0)
		die("ml_core_new failed");
	abab(pass_malloc, pass_core, c, sizes, cf->pairs, cf->reps, &base,
	    &ns);
	row("core pair, 0 live, 2 threads", fmt_pairs(v, sizeof v, ns),
	    fmt_pairs(b, sizeof b, base), ns / base, "<= 2x malloc",
	    check(ns <= 2 * base));
	ml_core_free(c, free_buf);
}

/* The API, in children. */

/*
 * Run this program again with `--api-child what` under MEMLEASE_BACKTRACE
 * = backtrace (the expiry thread on if `thread`, reports to /dev/null)
 * and read the figures it prints into v[0..n).  Returns 0, or -1 (said on
 * stderr) if it failed.
 */
static int
api_child(const char *what, const char *backtrace, bool thread,
    bool is_quick, double *v, int n)
{
	char line[256] = "";
	int fd[2], status, got = 0;

	if (pipe(fd) != 0)
		die("pipe: %s", strerror(errno));
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid == 0) {
		char *argv[] = { "bench/core", "--api-child", (char *)what,
		    is_quick ? "--quick" : NULL, NULL };
		dup2(fd[1], STDOUT_FILENO);
		close(fd[0]);
		close(fd[1]);
		setenv("MEMLEASE_THREAD", thread ? "1" : "0", 1);
		setenv("MEMLEASE_BACKTRACE", backtrace, 1);
		setenv("MEMLEASE_LOG", "/dev/null", 1);
		execv("/proc/self/exe", argv);
		perror("bench/core: exec /proc/self/exe");
		_exit(127);
	}
	close(fd[1]);
	FILE *f = fdopen(fd[0], "r");
	if (f == NULL)
		die("fdopen: %s", strerror(errno));
	if (fgets(line, sizeof line, f) != NULL)
		for (char *p = line, *end; got < n; p = end, got++) {
			v[got] = strtod(p, &end);
			if (end == p)
				break;
		}
	fclose(f);
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0 || got != n) {
		fprintf(stderr, "bench/core: the %s child (MEMLEASE_BACKTRACE=%s)"
		    " failed\n", what, backtrace);
		broken = 1;
		return -1;
	}
	return 0;
}

static void
fig_api_pairs(bool is_quick)
{
	static const struct {
		const char *depth;
		bool        thread;
	} runs[] = { { "16", false }, { "1", false }, { "1", true } };
	char fig[160], v[32], b[32];
	double m[2];

	for (size_t i = 0; i < sizeof runs / sizeof runs[0]; i++) {
		snprintf(fig, sizeof fig, "API pair, MEMLEASE_BACKTRACE=%s%s",
		    runs[i].depth, runs[i].thread ? ", thread" : "");
		if (api_child("pairs", runs[i].depth, runs[i].thread, is_quick,
		    m, 2) != 0) {
			row(fig, "failed", "", 0, "", INFO);
			continue;
		}
		row(fig, fmt_pairs(v, sizeof v, m[1]),
		    fmt_pairs(b, sizeof b, m[0]), m[1] / m[0], "(none)", INFO);
	}
}

/* abab() of malloc+free against API pairs, under `depth` more frames:
 * a backtrace of 16 then has 16 frames to take, as in a real program. */
static __attribute__((noinline)) void
api_pairs_at(int depth, const struct config *cf, const uint32_t *sizes,
    double *base, double *api)
{
	if (depth == 0) {
		abab(pass_malloc, pass_api, NULL, sizes, cf->api_pairs,
		    cf->reps, base, api);
		return;
	}
	api_pairs_at(depth - 1, cf, sizes, base, api);
	escape(api);    /* not a tail call: the frame stays */
}

/* In the child: medians of malloc+free and of API pairs, in ns. */
static int
child_pairs(const struct config *cf)
{
	uint32_t *sizes = make_sizes(cf->api_pairs);
	double base, api;

	api_pairs_at(16, cf, sizes, &base, &api);
	printf("%.3f %.3f\n", base, api);
	free(sizes);
	return 0;
}

/* In the child: the median time of one memlease_expire_due() over
 * api_expire due leases (ttl 1 ms: in deadline order), in s. */
static int
child_expire(const struct config *cf)
{
	double t[MAX_REPS];
	struct timespec wait = { 0, 5 * 1000000L };

	for (int r = 0; r < cf->api_expire_reps; r++) {
		for (size_t i = 0; i < cf->api_expire; i++)
			if (memlease_alloc(DUE_SIZE, 1, 1, NULL) == 0)
				die("memlease_alloc: %s", strerror(errno));
		nanosleep(&wait, NULL);   /* every deadline has passed */
		double t0 = now_ns();
		int n = memlease_expire_due();
		t[r] = (now_ns() - t0) / 1e9;
		if (n < 0 || (size_t)n != cf->api_expire)
			die("memlease_expire_due ended %d of %zu", n,
			    cf->api_expire);
	}
	printf("%.6f\n", median(t, cf->api_expire_reps));
	return 0;
}

/* Figure 2: expiries. */

/*
 * One expiry pass over n leases of 64 bytes: either made 1000 a ms with one
 * ttl (deadlines in the order of the heap's inserts), or all at once with
 * ttls spread at random.  Times the ml_core_expire() loop only, frees
 * included; returns s.
 */
static double
pass_expire(size_t n, bool random)
{
	struct ml_ended batch[BATCH];
	struct ml_core *c;
	memlease_t h;
	bool wake;
	size_t total = 0;
	int got;

	uint64_t base = ml_clock_ms();
	if (ml_core_new(&std_alloc, base, &c) != 0)
		die("ml_core_new failed");
	for (size_t i = 0; i < n; i++) {
		void *buf = malloc(DUE_SIZE);
		uint64_t now = random ? base : base + i / DUE_PER_MS;
		if (buf == NULL || ml_core_add(c, now, buf, DUE_SIZE,
		    random ? random_ttl(i) : DUE_TTL_MS, 1, 0, 0, &h,
		    &wake) != 0)
			die("ml_core_add failed");
	}
	uint64_t now = base + n / DUE_PER_MS + DUE_TTL_MS + 1;  /* all due */
	double t0 = now_ns();
	do {
		got = ml_core_expire(c, now, batch, BATCH);
		for (int i = 0; i < got; i++)
			free(batch[i].buf);
		total += got;
	} while (got == BATCH);
	double t = (now_ns() - t0) / 1e9;
	if (total != n)
		die("ml_core_expire ended %zu of %zu", total, n);
	ml_core_free(c, free_buf);
	return t;
}

static void
fig_core_expire(const struct config *cf)
{
	static const char *order[] = { "deadline order", "random order" };
	double t[2][MAX_REPS];
	char v[32], fig[160], count[32];

	for (int r = 0; r < cf->reps; r++)
		for (int k = 0; k < 2; k++)
			t[k][r] = pass_expire(cf->expire, k == 1);
	for (int k = 0; k < 2; k++) {
		double m = median(t[k], cf->reps);
		snprintf(fig, sizeof fig, "core: expire %s, %s",
		    fmt_count(count, sizeof count, cf->expire), order[k]);
		snprintf(v, sizeof v, "%.3f s", m);
		row(fig, v, "", 0, "< 0.5 s per 1M",
		    check(m * MILLION / (double)cf->expire < 0.5));
	}
}

static void
fig_api_expire(const struct config *cf, bool is_quick)
{
	char v[32], fig[160], count[32];
	double m;

	snprintf(fig, sizeof fig, "API: expire %s, reports to null",
	    fmt_count(count, sizeof count, cf->api_expire));
	if (api_child("expire", "1", false, is_quick, &m, 1) != 0) {
		row(fig, "failed", "", 0, "", INFO);
		return;
	}
	snprintf(v, sizeof v, "%.3f s", m);
	row(fig, v, "", 0, "(none)", INFO);
}

/* Figure 3: bytes per lease. */

static size_t
heap_in_use(void)
{
	struct mallinfo2 mi = mallinfo2();

	return mi.uordblks + mi.hblkhd;    /* big blocks are mmap()ed */
}

static void
fig_bytes(void)
{
	static char not_malloced[DUE_SIZE];   /* the buffers: not the heap's */
	struct memlease_stats st0, st1;
	struct ml_core *c;
	memlease_t h;
	bool wake;
	char v[32];

	uint64_t now = ml_clock_ms();
	if (ml_core_new(&std_alloc, now, &c) != 0)
		die("ml_core_new failed");
	ml_core_stats(c, &st0);
	size_t m0 = heap_in_use();
	for (size_t i = 0; i < MILLION; i++)
		if (ml_core_add(c, now, not_malloced, sizeof not_malloced,
		    LIVE_TTL_MS, 1, 0, 0, &h, &wake) != 0)
			die("ml_core_add failed");
	size_t m1 = heap_in_use();
	ml_core_stats(c, &st1);
	ml_core_free(c, NULL);

	double stats = (double)(st1.bookkeeping_bytes - st0.bookkeeping_bytes) /
	    MILLION;
	snprintf(v, sizeof v, "%.1f B", stats);
	row("bytes per lease (1M live), core stats", v, "", 0, "<= 48 B",
	    check(stats <= 48));
	if (m1 <= m0) {     /* a sanitizer's allocator: nothing to read */
		row("bytes per lease (1M live), mallinfo2", "unavailable", "",
		    0, "<= 48 B", INFO);
		return;
	}
	double heap = (double)(m1 - m0) / MILLION;
	snprintf(v, sizeof v, "%.1f B", heap);
	row("bytes per lease (1M live), mallinfo2", v, "", 0, "<= 48 B",
	    check(heap <= 48));
}

static void
usage(FILE *f)
{
	fputs("usage: bench/core [--quick]\n"
	    "  Measures the lease core against malloc+free and prints a table\n"
	    "  of medians, ratios and targets (PASS/MISS).  The exit status is\n"
	    "  0 unless the benchmark itself failed.\n"
	    "  --quick  a smoke run: fewer repetitions, smaller counts\n", f);
}

int
main(int argc, char **argv)
{
	const struct config *cf = &full;
	const char *child = NULL;
	bool is_quick = false;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--quick") == 0) {
			cf = &quick;
			is_quick = true;
		} else if (strcmp(argv[i], "--api-child") == 0 && i + 1 < argc) {
			child = argv[++i];
		} else if (strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			return 0;
		} else {
			usage(stderr);
			return 2;
		}
	}
	if (child != NULL && strcmp(child, "pairs") == 0)
		return child_pairs(cf);
	if (child != NULL && strcmp(child, "expire") == 0)
		return child_expire(cf);
	if (child != NULL)
		die("unknown child %s", child);

	printf("bench/core%s: medians of %d passes; %ld CPUs, %u entries per "
	    "block\n"
	    "pairs: %zu per pass (API: %zu), sizes %d..%d (fixed seed), ttl "
	    "%d s;\n"
	    "  baseline: malloc+free of the same sizes, passes alternating with"
	    " the pairs';\n"
	    "  others live: 64 B, ttl 1 h\n\n",
	    is_quick ? " --quick" : "", cf->reps, sysconf(_SC_NPROCESSORS_ONLN),
	    (unsigned)ML_PER_BLOCK, cf->pairs, cf->api_pairs, SIZE_MIN,
	    SIZE_MAX_, PAIR_TTL_MS / 1000);
	columns("figure", "median", "baseline", "ratio", "target", "result");

	uint32_t *sizes = make_sizes(cf->pairs);
	fig_core_pairs(cf, sizes);
	fig_core_pair_threads(cf, sizes);   /* last: one thread no more */
	free(sizes);
	fig_api_pairs(is_quick);
	fig_core_expire(cf);
	fig_api_expire(cf, is_quick);
	fig_bytes();

	printf("\n%d targets: %d passed, %d missed%s\n", targets,
	    targets - missed, missed, broken ? "; the benchmark FAILED" : "");
	return broken;
}
