/*
 * test_got.c - the GOT slots of loaded objects, rewritten (got.h): calls
 * this program makes through its PLT go where the hooks say, and back;
 * the object that holds `self` is left alone; a dlopen() by name is
 * searched as from its caller.  Each test runs in a process of its own
 * (Criterion's), so what it rewrites ends with it.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <dlfcn.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

#include "got.h"

TestSuite(got);

static pid_t
fake_getppid(void)
{
	return 4242;
}

/* getppid() called through this program's PLT, never inlined. */
__attribute__((noinline)) static pid_t
call_getppid(void)
{
	return getppid();
}

Test(got, routes_the_calls_of_the_program_and_back)
{
	pid_t real = call_getppid();
	void *libc = dlsym(RTLD_DEFAULT, "getppid");
	struct ml_got_hook to_fake = { "getppid", (void *)fake_getppid };
	struct ml_got_hook back = { "getppid", libc };

	cr_assert_neq(real, 4242);
	cr_assert_not_null(libc);
	cr_assert_gt(ml_got_patch(&to_fake, 1, NULL), 0, "slots written");
	cr_assert_eq(call_getppid(), 4242);
	cr_assert_gt(ml_got_patch(&back, 1, NULL), 0);
	cr_assert_eq(call_getppid(), real);
}

Test(got, leaves_the_object_that_holds_self)
{
	pid_t real = call_getppid();
	struct ml_got_hook to_fake = { "getppid", (void *)fake_getppid };

	/* this program holds call_getppid: its slots are not written */
	ml_got_patch(&to_fake, 1, (const void *)call_getppid);
	cr_assert_eq(call_getppid(), real);
}

Test(got, names_that_no_hook_has_are_not_touched)
{
	pid_t real = call_getppid();
	struct ml_got_hook other = { "getppid_not", (void *)fake_getppid };

	cr_assert_eq(ml_got_patch(&other, 1, NULL), 0);
	cr_assert_eq(call_getppid(), real);
}

Test(got, search_by_name_is_the_callers_and_only_for_bare_names)
{
	char out[PATH_MAX];

	/* a path is the loader's to open as it is */
	cr_assert_not(ml_got_search((const void *)call_getppid,
	    "/lib/x/libc.so.6", out, sizeof out));
	cr_assert_not(ml_got_search((const void *)call_getppid, NULL, out,
	    sizeof out));
	/* this program has no RUNPATH and no RPATH: the loader's own rules */
	cr_assert_not(ml_got_search((const void *)call_getppid,
	    "libnothing.so", out, sizeof out));
}
