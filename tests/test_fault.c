/*
 * test_fault.c - memlease's own allocations fail (a build configured with
 * --enable-fault-injection): the API answers ENOMEM and keeps a table
 * that matches what the test holds.  Each test is a process of its own.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <jansson.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "memlease.h"
#include "api.h"
#include "clock.h"
#include "core.h"
#include "fault.h"
#include "guard.h"
#include "proto.h"

#ifdef __SANITIZE_ADDRESS__
#include <sanitizer/lsan_interface.h>
/* A leak fails the test that made it (LSan's own check at exit comes
 * after the test's result is in). */
#define EXPECT_NO_LEAK() cr_assert_eq(__lsan_do_recoverable_leak_check(), 0, \
    "LeakSanitizer found leaks")
#else
#define EXPECT_NO_LEAK() ((void)0)
#endif

static void
faults_off(void)
{
	ml_fault_set(0, 0, 0);
}

static volatile uint64_t fake_now = 9000000;

static void
setup_api(void)
{
	setenv("MEMLEASE_THREAD", "0", 1);
	setenv("MEMLEASE_LOG", "/dev/null", 1);
	ml_clock_fake(&fake_now);
}

TestSuite(fault, .init = setup_api);

Test(fault, failing_allocations_give_enomem_and_a_consistent_table)
{
	memlease_t h[CONFIG_MEMLEASE_NUM_ENTRIES_PER_BUF];

	for (int i = 0; i < CONFIG_MEMLEASE_NUM_ENTRIES_PER_BUF; i++)
		cr_assert_neq(h[i] = memlease_alloc(16, 100, 1, NULL), 0);
	ml_fault_set(1, 0, 0);              /* the buffer's malloc fails */
	errno = 0;
	cr_assert_eq(memlease_alloc(16, 100, 1, NULL), 0);
	cr_assert_eq(errno, ENOMEM);
	ml_fault_set(2, 0, 0);              /* the new entry block fails */
	errno = 0;
	cr_assert_eq(memlease_alloc(16, 100, 1, NULL), 0);
	cr_assert_eq(errno, ENOMEM);
	faults_off();
	struct memlease_stats st;
	memlease_stats(&st);
	cr_assert_eq(st.live_leases, CONFIG_MEMLEASE_NUM_ENTRIES_PER_BUF);
	cr_assert_eq(st.allocated, CONFIG_MEMLEASE_NUM_ENTRIES_PER_BUF);
	cr_assert_eq(st.entry_blocks, 1);
	memlease_t more = memlease_alloc(16, 100, 1, NULL);
	cr_assert_neq(more, 0);
	memlease_stats(&st);
	cr_assert_eq(st.entry_blocks, 2);
	fake_now += 100;
	cr_assert_eq(memlease_expire_due(),
	    CONFIG_MEMLEASE_NUM_ENTRIES_PER_BUF + 1);
}

Test(fault, the_library_that_cannot_start_answers_enomem)
{
	ml_fault_set(1, 0, 0);              /* its first allocation fails */
	errno = 0;
	cr_assert_eq(memlease_alloc(16, 0, 1, NULL), 0);
	cr_assert_eq(errno, ENOMEM);
	struct memlease_stats st;
	cr_assert_eq(memlease_stats(&st), -ENOMEM);
	faults_off();
	cr_assert_eq(memlease_renew(1, 5), -ENOMEM, "for good: it started "
	    "once, and failed");
}
