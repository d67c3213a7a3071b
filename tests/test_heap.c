/*
 * test_heap.c - the memory of memlease's own thread: blocks of every
 * size and alignment, reused when freed, recognised by address from any
 * thread, grown and shrunk; the blocks of the next allocator's it defers.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "heap.h"
#include "real.h"

TestSuite(heap);

Test(heap, blocks_of_every_size_hold_their_bytes_and_are_owned)
{
	static char *p[24];

	for (int i = 0; i < 24; i++) {
		size_t n = ((size_t)1 << i) + 3;
		p[i] = ml_heap_alloc(0, n);
		cr_assert_not_null(p[i], "%zu bytes", n);
		cr_assert_eq((uintptr_t)p[i] % 16, 0);
		cr_assert_geq(ml_heap_usable(p[i]), n);
		cr_assert(ml_heap_owns(p[i]));
		cr_assert(ml_heap_owns(p[i] + n - 1));
		memset(p[i], i, n);
	}
	for (int i = 0; i < 24; i++) {
		size_t n = ((size_t)1 << i) + 3;
		cr_assert_eq(p[i][0], i);
		cr_assert_eq(p[i][n - 1], i);
		ml_heap_free(p[i]);
	}
}

Test(heap, a_first_block_larger_than_the_first_mapping)
{
	char *p = ml_heap_alloc(0, 300 << 10), *q = ml_heap_alloc(0, 100);

	cr_assert_not_null(p);
	cr_assert_not_null(q);
	cr_assert(q >= p + (300 << 10) || q + 100 <= p, "no overlap");
	memset(p, 1, 300 << 10);
	cr_assert(ml_heap_owns(p + (300 << 10) - 1));
}

Test(heap, what_it_does_not_own_is_not_its)
{
	static char data[64];
	char stack[64];

	cr_assert_not(ml_heap_owns(data));
	cr_assert_not(ml_heap_owns(stack));
	cr_assert_not(ml_heap_owns(NULL));
}

Test(heap, a_freed_block_is_reused)
{
	void *p = ml_heap_alloc(0, 100);

	ml_heap_free(p);
	cr_assert_eq(ml_heap_alloc(0, 100), p);
	ml_heap_free(p);
}

Test(heap, alignments_up_to_a_page)
{
	for (size_t a = 1; a <= 4096; a *= 2) {
		char *p = ml_heap_alloc(a, 40);
		cr_assert_not_null(p);
		cr_assert_eq((uintptr_t)p % (a < 16 ? 16 : a), 0, "align %zu", a);
		cr_assert_geq(ml_heap_usable(p), 40);
		memset(p, 1, 40);
		ml_heap_free(p);
	}
	cr_assert_null(ml_heap_alloc(24, 8));
	cr_assert_eq(errno, EINVAL);
}

Test(heap, realloc_keeps_the_contents_and_frees_on_zero)
{
	char *p = ml_heap_realloc(NULL, 10);

	memcpy(p, "0123456789", 10);
	p = ml_heap_realloc(p, 100000);
	cr_assert_not_null(p);
	cr_assert_eq(memcmp(p, "0123456789", 10), 0);
	cr_assert_geq(ml_heap_usable(p), 100000);
	cr_assert_eq(ml_heap_realloc(p, 5), p, "shrinking stays in place");
	cr_assert_null(ml_heap_realloc(p, 0));
}

Test(heap, calloc_zeroes_a_reused_block_and_refuses_overflow)
{
	unsigned char *p = ml_heap_alloc(0, 256);

	memset(p, 0xff, 256);
	ml_heap_free(p);
	p = ml_heap_calloc(16, 16);
	cr_assert_not_null(p);
	for (int i = 0; i < 256; i++)
		cr_assert_eq(p[i], 0);
	ml_heap_free(p);
	cr_assert_null(ml_heap_calloc(SIZE_MAX / 2, 4));
	cr_assert_eq(errno, ENOMEM);
	cr_assert_null(ml_heap_alloc(0, SIZE_MAX - 8));
	cr_assert_eq(errno, ENOMEM);
}

Test(heap, large_blocks_map_and_come_back)
{
	size_t mapped, live, before;
	char *p = ml_heap_alloc(0, 3 << 20);

	cr_assert_not_null(p);
	memset(p, 7, 3 << 20);
	ml_heap_usage(&mapped, &before);
	cr_assert_geq(mapped, (size_t)4 << 20);
	ml_heap_free(p);
	ml_heap_usage(&mapped, &live);
	cr_assert_eq(before - live, (size_t)4 << 20);
	cr_assert_eq(ml_heap_alloc(0, 3 << 20), p, "kept for reuse");
	ml_heap_free(p);
}

/* Resident pages among the n bytes from p's second page on. */
static size_t
resident(const char *p, size_t n)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE), count = 0;
	char *from = (char *)(((uintptr_t)p + 2 * page) & ~(page - 1));
	size_t pages = (n - 2 * page) / page;
	unsigned char vec[1024];

	cr_assert_leq(pages, sizeof vec);
	cr_assert_eq(mincore(from, pages * page, vec), 0);
	for (size_t i = 0; i < pages; i++)
		count += vec[i] & 1;
	return count;
}

Test(heap, large_free_blocks_keep_their_pages_up_to_a_budget_then_give_them_back)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE), n = 512 << 10;
	enum { N = 2 * ML_HEAP_KEEP / (512 << 10) };
	char *p[N];
	size_t kept = 0;

	ml_heap_free(ml_heap_alloc(0, 100));    /* cut at no page boundary */
	for (int i = 0; i < N; i++) {
		p[i] = ml_heap_alloc(0, n);
		memset(p[i], 1, n);
	}
	for (int i = 0; i < N; i++)
		ml_heap_free(p[i]);
	for (int i = 0; i < N; i++)
		kept += resident(p[i], n);
	/* the first ones freed keep theirs (reused without a fault), the
	 * rest give theirs back */
	cr_assert_gt(resident(p[0], n), 0, "the first freed gave its pages");
	cr_assert_eq(resident(p[N - 1], n), 0, "the last freed kept its pages");
	cr_assert_leq(kept * page, (size_t)ML_HEAP_KEEP, "%zu bytes kept",
	    kept * page);
	/* taken again, the blocks leave the budget: one freed then keeps
	 * its pages */
	for (int i = 0; i < N; i++) {
		p[i] = ml_heap_alloc(0, n);
		memset(p[i], 2, n);
	}
	ml_heap_free(p[N - 1]);
	cr_assert_gt(resident(p[N - 1], n), 0, "the budget was not given back");
	for (int i = 0; i < N - 1; i++)
		ml_heap_free(p[i]);
}

static void *
free_there(void *p)
{
	ml_heap_free(p);
	return NULL;
}

Test(heap, another_thread_frees_a_block)
{
	pthread_t t;
	void *p = ml_heap_alloc(0, 1000);

	cr_assert(ml_heap_owns(p));
	pthread_create(&t, NULL, free_there, p);
	pthread_join(t, NULL);
	cr_assert_eq(ml_heap_alloc(0, 1000), p);
}

Test(heap, deferred_blocks_are_taken_once_in_a_list)
{
	static void *a[2], *b[2];
	void *l;

	cr_assert_null(ml_heap_take());
	ml_heap_defer(a);
	ml_heap_defer(b);
	l = ml_heap_take();
	cr_assert_eq(l, (void *)b);
	cr_assert_eq(b[0], (void *)a);
	cr_assert_null(a[0]);
	cr_assert_null(ml_heap_take());
}

Test(heap, only_an_enabled_process_gives_its_thread_the_heap)
{
	ml_heap_thread();
	cr_assert_not(ml_heap_self);
	ml_heap_enable();
	ml_heap_thread();
	cr_assert(ml_heap_self);
}

Test(heap, when_it_can_map_no_more_the_next_allocator_serves_its_thread)
{
	void *p, *q;

	while (ml_heap_alloc(0, 1 << 20) != NULL)       /* a mapping each */
		;
	cr_assert_eq(errno, ENOMEM);
	ml_heap_self = true;
	q = ml_real_malloc(1 << 20);
	cr_assert_not_null(q);
	cr_assert_not(ml_heap_owns(q));
	memset(q, 1, 1 << 20);
	ml_real_free(q);                /* handed over, not freed here */
	cr_assert_eq(ml_heap_take(), q);
	p = ml_real_calloc(1, 1 << 20);
	cr_assert_not_null(p);
	cr_assert_not(ml_heap_owns(p));
	ml_heap_self = false;
	ml_real_free(p);
	ml_real_free(q);
}
