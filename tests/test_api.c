/*
 * test_api.c - the public API of libmemlease, every function, against a
 * fake clock with expiry driven by hand (MEMLEASE_THREAD=0).  Each test runs
 * in a process of its own, so each starts with a fresh library.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "memlease.h"
#include "clock.h"
#include "core.h"
#include "report.h"

static volatile uint64_t fake_now = 5000000;
static char log_path[] = "/tmp/memlease-test-log-XXXXXX";

static void
setup(void)
{
	int fd = mkstemp(log_path);

	cr_assert_geq(fd, 0);
	close(fd);
	setenv("MEMLEASE_THREAD", "0", 1);
	setenv("MEMLEASE_LOG", log_path, 1);
	ml_clock_fake(&fake_now);
}

static void
teardown(void)
{
	unlink(log_path);
}

TestSuite(api, .init = setup, .fini = teardown);

/* The whole log, NUL-terminated (static). */
static const char *
log_text(void)
{
	static char buf[65536];
	FILE *f = fopen(log_path, "r");
	size_t n = 0;

	if (f != NULL) {
		n = fread(buf, 1, sizeof buf - 1, f);
		fclose(f);
	}
	buf[n] = '\0';
	return buf;
}

static struct memlease_stats
stats(void)
{
	struct memlease_stats st;

	cr_assert_eq(memlease_stats(&st), 0);
	return st;
}

static void
assert_stale(memlease_t h)
{
	errno = 0;
	cr_assert_null(memlease_get(h, NULL));
	cr_assert_eq(errno, ESTALE);
	errno = 0;
	cr_assert_null(memlease_pin(h, NULL));
	cr_assert_eq(errno, ESTALE);
	cr_assert_eq(memlease_unpin(h), -ESTALE);
	cr_assert_eq(memlease_release(h), -ESTALE);
	cr_assert_eq(memlease_renew(h, 100), -ESTALE);
	cr_assert_eq(memlease_set_releases(h, 2), -ESTALE);
	cr_assert_eq(memlease_set_label(h, "x"), -ESTALE);
	cr_assert_eq(memlease_set_report(h, true), -ESTALE);
}

/* Distinct, not inlined: the report must name it. */
__attribute__((noinline)) static memlease_t
make_log_buffer(size_t size, uint64_t ttl)
{
	void *buf;
	memlease_t h = memlease_alloc(size, ttl, 1, &buf);

	cr_assert_neq(h, 0);
	memset(buf, 'x', size);
	return h;
}

Test(api, alloc_gives_a_handle_and_its_buffer)
{
	void *buf = NULL;
	size_t size = 0;
	memlease_t h = memlease_alloc(100, 0, 1, &buf);

	cr_assert_neq(h, 0);
	cr_assert_not_null(buf);
	memset(buf, 0, 100);
	cr_assert_eq(memlease_get(h, &size), buf);
	cr_assert_eq(size, 100);
	cr_assert_eq(memlease_release(h), 0);
	assert_stale(h);
}

Test(api, alloc_without_bufp_and_of_zero_bytes)
{
	memlease_t h = memlease_alloc(0, 0, 1, NULL);
	size_t size = 1;

	cr_assert_neq(h, 0);
	cr_assert_not_null(memlease_get(h, &size));
	cr_assert_eq(size, 0);
	cr_assert_eq(memlease_release(h), 0);
}

Test(api, alloc_refuses_absurd_sizes_and_release_counts)
{
	errno = 0;
	cr_assert_eq(memlease_alloc(SIZE_MAX, 0, 1, NULL), 0);
	cr_assert_eq(errno, ENOMEM);
	errno = 0;
	cr_assert_eq(memlease_alloc(8, 0, 1u << 21, NULL), 0);
	cr_assert_eq(errno, EINVAL);
	cr_assert_eq(stats().live_leases, 0);
}

Test(api, release_count_of_three_frees_at_the_third)
{
	memlease_t h = memlease_alloc(64, 0, 3, NULL);

	cr_assert_eq(memlease_release(h), 0);
	cr_assert_eq(memlease_release(h), 0);
	cr_assert_not_null(memlease_get(h, NULL));
	cr_assert_eq(memlease_release(h), 0);
	assert_stale(h);
	cr_assert_eq(stats().released, 1);
}

Test(api, lease_expires_at_its_deadline_and_not_before)
{
	memlease_t h = make_log_buffer(64, 250);

	fake_now += 249;
	cr_assert_eq(memlease_expire_due(), 0);
	cr_assert_not_null(memlease_get(h, NULL));
	fake_now += 1;
	cr_assert_eq(memlease_expire_due(), 1);
	assert_stale(h);
	struct memlease_stats st = stats();
	cr_assert_eq(st.expired, 1);
	cr_assert_eq(st.reclaimed, 1);
	cr_assert_eq(st.live_leases, 0);
}

Test(api, report_names_the_lease_its_label_size_age_and_allocator)
{
	memlease_t h = make_log_buffer(4096, 1500);
	char id[32];

	cr_assert_eq(memlease_set_label(h, "ble-log"), 0);
	fake_now += 2000;
	cr_assert_eq(memlease_expire_due(), 1);
	const char *log = log_text();
	snprintf(id, sizeof id, "lease %#llx", (unsigned long long)h);
	cr_assert(strstr(log, id) != NULL, "no %s in:\n%s", id, log);
	cr_assert(strstr(log, "\"ble-log\"") != NULL, "%s", log);
	cr_assert(strstr(log, "4096 bytes") != NULL, "%s", log);
	cr_assert(strstr(log, "age 2.000 s") != NULL, "%s", log);
	cr_assert(strstr(log, "make_log_buffer+") != NULL,
	    "the allocating function is named:\n%s", log);
	cr_assert(strstr(log, "test_api") != NULL, "and its object:\n%s", log);
}

Test(api, report_in_json_is_one_object_a_line)
{
	setenv("MEMLEASE_LOG_FORMAT", "json", 1);
	memlease_t h = make_log_buffer(100, 10);
	memlease_set_label(h, "quote\"d");
	fake_now += 15;
	cr_assert_eq(memlease_expire_due(), 1);

	json_error_t err;
	json_t *o = json_loads(log_text(), JSON_DECODE_ANY, &err);
	cr_assert_not_null(o, "%s: %s", err.text, log_text());
	cr_assert_str_eq(json_string_value(json_object_get(o, "event")),
	    "expired");
	cr_assert_str_eq(json_string_value(json_object_get(o, "label")),
	    "quote\"d");
	cr_assert_eq(json_integer_value(json_object_get(o, "size")), 100);
	cr_assert_eq(json_integer_value(json_object_get(o, "age_ms")), 15);
	cr_assert_eq(json_integer_value(json_object_get(o, "pid")), getpid());
	json_t *bt = json_object_get(o, "backtrace");
	cr_assert(json_array_size(bt) > 1);
	cr_assert_str_eq(json_string_value(json_object_get(
	    json_array_get(bt, 0), "function")), "make_log_buffer");
	json_decref(o);
}

Test(api, labels_cannot_break_report_lines)
{
	memlease_t a = make_log_buffer(8, 10);
	memlease_t b = make_log_buffer(8, 10);

	cr_assert_eq(memlease_set_label(a, "two\nlines"), 0);
	cr_assert_eq(memlease_set_label(b, "bad\xff\xc3("), 0);
	fake_now += 10;
	cr_assert_eq(memlease_expire_due(), 2);
	const char *log = log_text();
	cr_assert(strstr(log, "\"two?lines\"") != NULL, "%s", log);
	cr_assert(strstr(log, "\ntwo") == NULL, "%s", log);
}

Test(api, json_reports_stay_valid_json_whatever_the_label)
{
	setenv("MEMLEASE_LOG_FORMAT", "json", 1);
	memlease_t h = make_log_buffer(8, 10);
	cr_assert_eq(memlease_set_label(h, "bad\xff\xc3(\x01\xe2\x82\xac"), 0);
	fake_now += 10;
	cr_assert_eq(memlease_expire_due(), 1);

	json_error_t err;
	json_t *o = json_loads(log_text(), 0, &err);
	cr_assert_not_null(o, "%s: %s", err.text, log_text());
	cr_assert_str_eq(json_string_value(json_object_get(o, "label")),
	    "bad\xef\xbf\xbd\xef\xbf\xbd(\x01\xe2\x82\xac");
	json_decref(o);
}

Test(api, report_goes_to_stderr_by_default)
{
	unsetenv("MEMLEASE_LOG");
	cr_redirect_stderr();
	make_log_buffer(10, 5);
	fake_now += 5;
	cr_assert_eq(memlease_expire_due(), 1);
	fflush(stderr);
	cr_assert_stderr_neq_str("");
}

static struct {
	int        calls;
	memlease_t h;
	void      *buf;
	size_t     size;
	char       label[64];
	void      *arg;
	bool       buf_alive;
	bool       stale_inside;
} hook;

static void
on_expire(memlease_t h, void *buf, size_t size, const char *label, void *arg)
{
	hook.calls++;
	hook.h = h;
	hook.buf = buf;
	hook.size = size;
	snprintf(hook.label, sizeof hook.label, "%s", label ? label : "(null)");
	hook.arg = arg;
	hook.buf_alive = ((char *)buf)[size - 1] == 'x';  /* not freed yet */
	hook.stale_inside = memlease_get(h, NULL) == NULL;
}

Test(api, expiry_hook_sees_the_buffer_before_it_is_freed)
{
	int cookie;
	memlease_t h = make_log_buffer(32, 10);

	cr_assert_eq(memlease_on_expire(on_expire, &cookie), 0);
	memlease_set_label(h, "hooked");
	fake_now += 10;
	cr_assert_eq(memlease_expire_due(), 1);
	cr_assert_eq(hook.calls, 1);
	cr_assert_eq(hook.h, h);
	cr_assert_eq(hook.size, 32);
	cr_assert_str_eq(hook.label, "hooked");
	cr_assert_eq(hook.arg, &cookie);
	cr_assert(hook.buf_alive);
	cr_assert(hook.stale_inside, "the lease is already over");
}

Test(api, expiry_hook_gets_null_label_and_can_be_removed)
{
	make_log_buffer(8, 10);
	memlease_on_expire(on_expire, NULL);
	fake_now += 10;
	memlease_expire_due();
	cr_assert_str_eq(hook.label, "(null)");
	cr_assert_eq(memlease_on_expire(NULL, NULL), 0);
	make_log_buffer(8, 10);
	fake_now += 10;
	cr_assert_eq(memlease_expire_due(), 1);
	cr_assert_eq(hook.calls, 1);
}

Test(api, no_report_when_reporting_is_off_but_the_hook_still_runs)
{
	memlease_t h = make_log_buffer(8, 10);

	memlease_on_expire(on_expire, NULL);
	cr_assert_eq(memlease_set_report(h, false), 0);
	fake_now += 10;
	cr_assert_eq(memlease_expire_due(), 1);
	cr_assert_str_eq(log_text(), "");
	cr_assert_eq(hook.calls, 1);
}

Test(api, next_deadline_counts_down)
{
	cr_assert_eq(memlease_next_deadline_ms(), -1);
	memlease_alloc(8, 300, 1, NULL);
	memlease_alloc(8, 0, 1, NULL);
	cr_assert_eq(memlease_next_deadline_ms(), 300);
	fake_now += 120;
	cr_assert_eq(memlease_next_deadline_ms(), 180);
	fake_now += 500;
	cr_assert_eq(memlease_next_deadline_ms(), 0);
	cr_assert_eq(memlease_expire_due(), 1);
	cr_assert_eq(memlease_next_deadline_ms(), -1);
}

Test(api, pinned_lease_outlives_its_deadline_and_expires_at_unpin)
{
	memlease_t h = make_log_buffer(16, 10);
	size_t size;

	memlease_on_expire(on_expire, NULL);
	cr_assert_not_null(memlease_pin(h, &size));
	cr_assert_eq(size, 16);
	cr_assert_not_null(memlease_pin(h, NULL));
	fake_now += 50;
	cr_assert_eq(memlease_expire_due(), 0);
	cr_assert_eq(stats().overdue, 1);
	cr_assert_eq(memlease_unpin(h), 0);
	cr_assert_eq(hook.calls, 0);
	cr_assert_eq(memlease_unpin(h), 0);
	cr_assert_eq(hook.calls, 1, "expired by the last unpin");
	assert_stale(h);
	cr_assert(strstr(log_text(), "expired") != NULL);
}

Test(api, unpin_of_an_unpinned_lease_is_an_error)
{
	memlease_t h = memlease_alloc(8, 0, 1, NULL);

	cr_assert_eq(memlease_unpin(h), -EINVAL);
	cr_assert_eq(memlease_release(h), 0);
}

Test(api, last_release_while_pinned_frees_at_unpin)
{
	void *buf;
	memlease_t h = memlease_alloc(8, 0, 1, &buf);

	cr_assert_eq(memlease_pin(h, NULL), buf);
	cr_assert_eq(memlease_release(h), 0);
	memset(buf, 1, 8);                 /* still ours: no use after free */
	cr_assert_null(memlease_get(h, NULL));
	cr_assert_eq(stats().live_leases, 1);
	cr_assert_eq(memlease_unpin(h), 0);
	cr_assert_eq(stats().live_leases, 0);
	assert_stale(h);
}

Test(api, renew_restarts_the_timeout)
{
	memlease_t h = memlease_alloc(8, 100, 1, NULL);

	fake_now += 90;
	cr_assert_eq(memlease_renew(h, 100), 0);
	fake_now += 90;
	cr_assert_eq(memlease_expire_due(), 0);
	cr_assert_eq(memlease_renew(h, 0), 0);
	fake_now += 100000;
	cr_assert_eq(memlease_expire_due(), 0);
	cr_assert_eq(memlease_next_deadline_ms(), -1);
	cr_assert_eq(memlease_release(h), 0);
}

Test(api, set_releases_changes_how_many_remain)
{
	memlease_t h = memlease_alloc(8, 0, 1, NULL);

	cr_assert_eq(memlease_set_releases(h, 0), -EINVAL);
	cr_assert_eq(memlease_set_releases(h, 2), 0);
	cr_assert_eq(memlease_release(h), 0);
	cr_assert_not_null(memlease_get(h, NULL));
	cr_assert_eq(memlease_release(h), 0);
	assert_stale(h);
}

Test(api, stats_fill_every_documented_counter)
{
	struct memlease_stats st;

	cr_assert_eq(memlease_stats(NULL), -EINVAL);
	memlease_t a = memlease_alloc(100, 10, 1, NULL);
	memlease_alloc(28, 0, 1, NULL);
	(void)a;
	st = stats();
	cr_assert_eq(st.live_leases, 2);
	cr_assert_eq(st.live_bytes, 128);
	cr_assert_eq(st.allocated, 2);
	cr_assert_eq(st.entry_blocks, 1);
	cr_assert_eq(st.entries_per_block, CONFIG_MEMLEASE_NUM_ENTRIES_PER_BUF);
	cr_assert_eq(st.with_deadline, 1);
	fake_now += 10;
	memlease_expire_due();
	st = stats();
	cr_assert_eq(st.expired, 1);
	cr_assert_eq(st.reclaimed, 1);
	for (size_t i = 0; i < sizeof st.reserved / sizeof st.reserved[0]; i++)
		cr_assert_eq(st.reserved[i], 0);
}

Test(api, adopt_puts_a_malloc_block_under_a_lease)
{
	char *p = malloc(200);
	size_t size;

	strcpy(p, "adopted");
	memlease_t h = memlease_adopt(p, 10, 2);
	cr_assert_neq(h, 0);
	cr_assert_eq(memlease_get(h, &size), p);
	cr_assert_geq(size, 200);
	cr_assert_eq(memlease_release(h), 0);
	fake_now += 10;
	cr_assert_eq(memlease_expire_due(), 1, "freed by the lease (ASan "
	    "would see a leak or a double free)");
	assert_stale(h);
	errno = 0;
	cr_assert_eq(memlease_adopt(NULL, 0, 1), 0);
	cr_assert_eq(errno, EINVAL);
}

Test(api, no_backtrace_when_depth_is_zero)
{
	setenv("MEMLEASE_BACKTRACE", "0", 1);
	make_log_buffer(8, 10);
	fake_now += 10;
	memlease_expire_due();
	cr_assert(strstr(log_text(), "no backtrace recorded") != NULL, "%s",
	    log_text());
}

Test(api, depth_one_records_the_call_site_alone)
{
	setenv("MEMLEASE_BACKTRACE", "1", 1);
	make_log_buffer(8, 10);
	fake_now += 10;
	memlease_expire_due();
	const char *log = log_text();
	cr_assert(strstr(log, "#0  make_log_buffer+") != NULL, "%s", log);
	cr_assert(strstr(log, "#1 ") == NULL, "%s", log);
}

Test(api, bad_environment_is_reported_and_defaults_used)
{
	setenv("MEMLEASE_BACKTRACE", "lots", 1);
	setenv("MEMLEASE_LOG_FORMAT", "xml", 1);
	cr_redirect_stderr();
	make_log_buffer(8, 10);
	fake_now += 10;
	memlease_expire_due();
	fflush(stderr);
	char err[4096] = "";
	size_t n = fread(err, 1, sizeof err - 1, cr_get_redirected_stderr());
	err[n] = '\0';
	cr_assert(strstr(err, "memlease: MEMLEASE_BACKTRACE=lots") != NULL,
	    "%s", err);
	cr_assert(strstr(err, "memlease: MEMLEASE_LOG_FORMAT=xml") != NULL,
	    "%s", err);
	const char *log = log_text();
	cr_assert(strstr(log, "make_log_buffer+") != NULL, "text, 16 frames");
	cr_assert(strstr(log, "#1 ") != NULL);
}

/* How many times needle is in haystack. */
static int
occurrences(const char *haystack, const char *needle)
{
	int n = 0;

	for (const char *p = haystack; (p = strstr(p, needle)) != NULL; p++)
		n++;
	return n;
}

Test(api, later_expiries_of_a_stack_take_a_line_and_are_summed_at_exit)
{
	volatile int three = 3;         /* one call, not three made of it */

	for (int i = 0; i < three; i++)
		make_log_buffer(8, 10);
	make_log_buffer(100, 10);       /* another line: another stack */
	fake_now += 10;
	cr_assert_eq(memlease_expire_due(), 4);
	const char *t = log_text();
	cr_assert_eq(occurrences(t, ", allocated at (stack "), 2, "%s", t);
	cr_assert_eq(occurrences(t, ", allocated at stack "), 2, "%s", t);
	cr_assert_eq(occurrences(t, "expired: 8 bytes"), 3, "%s", t);
	ml_report_exit();
	t = log_text();
	cr_assert(strstr(t, "]:   3 leases, 24 bytes, stack ") != NULL, "%s", t);
	cr_assert(strstr(t, "\nmemlease: SUMMARY: 124 bytes in 4 leases expired, "
	    "from 2 stacks\n") != NULL, "%s", t);
}

Test(api, log_file_removed_is_made_again)
{
	make_log_buffer(8, 10);
	make_log_buffer(8, 20);
	fake_now += 10;
	cr_assert_eq(memlease_expire_due(), 1);
	cr_assert(strstr(log_text(), "expired") != NULL);
	unlink(log_path);
	fake_now += 10;
	cr_assert_eq(memlease_expire_due(), 1);
	cr_assert(strstr(log_text(), "expired") != NULL,
	    "the second report went to a new file");
}

Test(api, report_never_goes_to_a_descriptor_the_program_reused)
{
	char other[] = "/tmp/memlease-test-other-XXXXXX";
	int fd = mkstemp(other);

	unsetenv("MEMLEASE_LOG");          /* report to stderr */
	cr_assert_geq(fd, 0);
	memlease_alloc(8, 10, 1, NULL);    /* memlease keeps stderr now */
	close(STDERR_FILENO);
	cr_assert_eq(dup2(fd, STDERR_FILENO), STDERR_FILENO, "fd 2 reused");
	fake_now += 10;
	cr_assert_eq(memlease_expire_due(), 1);
	struct stat st;
	cr_assert_eq(fstat(fd, &st), 0);
	cr_assert_eq(st.st_size, 0, "nothing written into the program's file");
	close(fd);
	unlink(other);
}

/* The number of the descriptor open on path, or -1. */
static int
fd_of(const char *path)
{
	struct stat want, st;

	cr_assert_eq(stat(path, &want), 0);
	for (int fd = 3; fd < 4096; fd++)
		if (fstat(fd, &st) == 0 && st.st_dev == want.st_dev &&
		    st.st_ino == want.st_ino)
			return fd;
	return -1;
}

Test(api, log_descriptor_whose_number_the_program_reused_stays_open)
{
	char other[] = "/tmp/memlease-test-other-XXXXXX";
	int mine = mkstemp(other);

	cr_assert_geq(mine, 0);
	make_log_buffer(8, 10);
	make_log_buffer(8, 20);
	fake_now += 10;
	cr_assert_eq(memlease_expire_due(), 1);
	int logfd = fd_of(log_path);
	cr_assert_geq(logfd, 0, "the log is open");
	/* the program closes it and opens a file of its own there */
	close(logfd);
	cr_assert_eq(dup2(mine, logfd), logfd);
	fake_now += 10;
	cr_assert_eq(memlease_expire_due(), 1);
	struct stat st, want;
	cr_assert_eq(fstat(logfd, &st), 0, "the program's descriptor is open");
	cr_assert_eq(fstat(mine, &want), 0);
	cr_assert_eq(st.st_ino, want.st_ino, "and still the program's file");
	cr_assert_eq(want.st_size, 0, "nothing written into it");
	cr_assert(strstr(strstr(log_text(), "expired") + 1, "expired") != NULL,
	    "the second report went to the log, opened again");
	close(mine);
	unlink(other);
}

/* The clock of the preload's tagged leases (clock.h), on the real clock. */
TestSuite(clock);

Test(clock, late_start_is_never_before_the_exact_one_nor_a_tick_after)
{
	uint64_t end = ml_clock_ms() + 50;     /* across several ticks */

	while (ml_clock_ms() < end) {
		uint64_t exact = ml_clock_ms_ceil();
		uint64_t late = ml_clock_ms_late();
		cr_assert_geq(late, exact, "a deadline would come early");
		/* two ticks of 10 ms at most, 1 ms, 1 more for the rounding */
		cr_assert_leq(late, ml_clock_ms_ceil() + 22);
	}
}

Test(clock, late_start_follows_a_fake_clock)
{
	static volatile uint64_t t = 1234;

	ml_clock_fake(&t);
	cr_assert_eq(ml_clock_ms_late(), 1234);
	t += 7;
	cr_assert_eq(ml_clock_ms_late(), 1241);
	ml_clock_fake(NULL);
}
