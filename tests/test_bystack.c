/*
 * test_bystack.c - the live leases of a core grouped by stack and by site
 * (bystack.c's ml_bystack_collect()), without the preload: stacks interned
 * by hand from the addresses of this program's functions, leases added to
 * a core of the test's own, the groups read back.  Each test runs in a
 * process of its own.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdlib.h>

#include "block.h"
#include "bystack.h"
#include "core.h"
#include "guard.h"
#include "sample.h"
#include "stackid.h"
#include "stacks.h"

static struct ml_core *core;
static uint32_t stack_a, stack_b, stack_c;  /* a: f, main; b: g, main;
                                             * c: f, h */
static uintptr_t ip_f, ip_g;

/* Functions whose addresses make the stacks' frames: return addresses
 * inside them. */
static __attribute__((noinline)) void f(void) { __asm__ volatile (""); }
static __attribute__((noinline)) void g(void) { __asm__ volatile (""); }
static __attribute__((noinline)) void h(void) { __asm__ volatile (""); }

static uint32_t
stack_of(uintptr_t inner, uintptr_t outer)
{
	void *frames[] = { (void *)inner, (void *)outer };
	uint32_t s = ml_stacks_intern(frames, 2, frames[0], 2);

	cr_assert_neq(s, 0);
	return s;
}

static void
setup(void)
{
	static const struct ml_alloc a = { realloc, free };

	ml_guard_enter();       /* as on memlease's own thread */
	cr_assert_eq(ml_core_new(&a, 0, &core), 0);
	ip_f = (uintptr_t)f + 1;
	ip_g = (uintptr_t)g + 1;
	uintptr_t ip_main = (uintptr_t)setup + 1, ip_h = (uintptr_t)h + 1;
	stack_a = stack_of(ip_f, ip_main);
	stack_b = stack_of(ip_g, ip_main);
	stack_c = stack_of(ip_f, ip_h);
}

TestSuite(bystack, .init = setup);

/* n leases of size bytes on stack, of kind, chosen by sample= (0: not). */
static void
lease(int n, size_t size, uint32_t stack, unsigned kind, uint64_t sample)
{
	for (int i = 0; i < n; i++) {
		memlease_t h;
		bool wake;
		cr_assert_eq(ml_core_add_sampled(core, 10, malloc(size), size,
		    0, 1, stack, kind, NULL, sample, &h, &wake), 0);
	}
}

/* The program's leases: a memlease_alloc() buffer is not one. */
static bool
tagged(const struct ml_info *in, const void *arg)
{
	(void)arg;
	return in->kind != ML_KIND_BUFFER;
}

/* a: 3 x 100 B; b: 1 x 1000 B and one of 1000 B that sample=64k chose;
 * c: 2 x 10 B; a buffer of 5000 B on a. */
static void
pattern(void)
{
	lease(3, 100, stack_a, ML_KIND_REPORT, 0);
	lease(1, 1000, stack_b, ML_KIND_REPORT, 0);
	lease(1, 1000, stack_b, ML_KIND_FREE, 65536);
	lease(2, 10, stack_c, ML_KIND_REPORT, 0);
	lease(1, 5000, stack_a, ML_KIND_BUFFER, 0);
}

/* The pattern's leases collected by how: groups of them in *by. */
static void
collected(const struct ml_bystack_how *how, struct ml_bystack *by,
    struct ml_bystack_group *all, size_t groups)
{
	pattern();
	cr_assert_eq(ml_bystack_collect(core, how, by, all), 0);
	cr_assert_eq(by->n, groups);
}

Test(bystack, whole_stacks_kept_leases_most_estimated_bytes_first)
{
	const struct ml_bystack_how how = { .key = ML_BYSTACK_STACK,
	    .keep = tagged };
	struct ml_bystack by;
	struct ml_bystack_group all;
	uintptr_t ips[ML_STACK_MAX_DEPTH];

	collected(&how, &by, &all, 3);
	/* b: its sampled lease weighs 1000 / (1 - e^(-1000/65536)) bytes */
	double weight = ml_sample_bytes(1000, 65536);
	cr_assert_eq(by.v[0].id, ml_stackid_of(stack_b));
	cr_assert_eq(by.v[0].count, 2);
	cr_assert_eq(by.v[0].bytes, 2000);
	cr_assert_eq(by.v[0].sampled, 1);
	cr_assert_float_eq(by.v[0].est_bytes, 1000 + weight, 1e-6);
	cr_assert_float_eq(by.v[0].est_count, 1 + ml_sample_count(1000, 65536),
	    1e-9);
	cr_assert_eq(by.v[1].id, ml_stackid_of(stack_a));
	cr_assert_eq(by.v[1].count, 3, "the buffer is not kept");
	cr_assert_eq(by.v[1].bytes, 300);
	cr_assert_float_eq(by.v[1].est_bytes, 300, 1e-9);
	cr_assert_eq(by.v[1].born, 10);
	cr_assert_eq(by.v[2].id, ml_stackid_of(stack_c));
	cr_assert_eq(by.v[2].bytes, 20);
	/* the frames of a group, innermost first */
	cr_assert_eq(ml_bystack_frames(&how, &by.v[1], ips), 2);
	cr_assert_eq(ips[0], ip_f);
	/* all: every lease kept, summed once */
	cr_assert_eq(all.count, 7);
	cr_assert_eq(all.bytes, 2320);
	cr_assert_eq(all.sampled, 1);
	cr_assert_float_eq(all.est_bytes, 1320 + weight, 1e-6);
	ml_bystack_free(&by);
}

Test(bystack, a_depth_groups_the_stacks_of_one_first_frame)
{
	const struct ml_bystack_how how = { .key = ML_BYSTACK_STACK,
	    .depth = 1, .keep = tagged };
	struct ml_bystack by;
	uintptr_t ips[ML_STACK_MAX_DEPTH];

	collected(&how, &by, NULL, 2);
	cr_assert_eq(by.v[0].count, 2);         /* g */
	cr_assert_eq(by.v[1].count, 5);         /* f: a and c */
	cr_assert_eq(by.v[1].bytes, 320);
	cr_assert_eq(ml_bystack_frames(&how, &by.v[1], ips), 1);
	cr_assert_eq(ips[0], ip_f);
	ml_bystack_free(&by);
}

Test(bystack, sites_are_first_frames_and_every_lease_without_keep)
{
	const struct ml_bystack_how how = { .key = ML_BYSTACK_SITE };
	struct ml_bystack by;
	struct ml_bystack_group all;
	uintptr_t ips[ML_STACK_MAX_DEPTH];

	collected(&how, &by, &all, 2);
	/* g's site first: its 2000 bytes are some 67000 estimated */
	cr_assert_eq(by.v[0].id, ip_g);
	cr_assert_eq(by.v[0].bytes, 2000);
	cr_assert_eq(ml_bystack_frames(&how, &by.v[0], ips), 1);
	cr_assert_eq(ips[0], ip_g);
	/* f's site holds a's and c's leases, the buffer's too */
	cr_assert_eq(by.v[1].id, ip_f);
	cr_assert_eq(by.v[1].count, 6);
	cr_assert_eq(by.v[1].bytes, 5320);
	cr_assert_eq(all.count, 8);
	ml_bystack_free(&by);
}

Test(bystack, no_lease_no_group)
{
	const struct ml_bystack_how how = { .key = ML_BYSTACK_STACK };
	struct ml_bystack by;
	struct ml_bystack_group all;

	cr_assert_eq(ml_bystack_collect(core, &how, &by, &all), 0);
	cr_assert_eq(by.n, 0);
	cr_assert_eq(all.count, 0);
	cr_assert_eq(all.sampled, 0);
	ml_bystack_free(&by);
}
