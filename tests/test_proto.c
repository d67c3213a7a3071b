/*
 * test_proto.c - the control protocol's request handler, without a socket:
 * requests in, responses parsed back with jansson, against the library's
 * own state (fake clock, expiry by hand).  Each test is a process of its
 * own, so each starts with a fresh library.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "memlease.h"
#include "clock.h"
#include "guard.h"
#include "lines.h"
#include "mem.h"
#include "proto.h"
#include "rules.h"

#ifdef __SANITIZE_ADDRESS__
#include <sanitizer/lsan_interface.h>
#endif

static volatile uint64_t fake_now = 7000000;

static void
setup(void)
{
	setenv("MEMLEASE_THREAD", "0", 1);
	setenv("MEMLEASE_LOG", "/dev/null", 1);
	ml_clock_fake(&fake_now);
	ml_guard_enter();       /* as on memlease's own thread */
}

TestSuite(proto, .init = setup);

/* Send one request; the parsed response (the caller decrefs). */
static json_t *
ask(const char *req)
{
	char *resp = NULL;
	size_t len = 0;
	json_error_t err;

	cr_assert_eq(ml_proto_handle(req, strlen(req), &resp, &len), 0);
	cr_assert_not_null(resp);
	cr_assert_eq(strlen(resp), len);
	cr_assert_eq(resp[len - 1], '\n', "a response is one line");
	cr_assert_null(memchr(resp, '\n', len - 1), "one line only");
	json_t *o = json_loadb(resp, len, 0, &err);
	cr_assert_not_null(o, "not JSON: %s", resp);
	ml_mem_free(resp);
	return o;
}

/* The result of a request that must succeed. */
static json_t *
result(json_t *o)
{
	cr_assert(json_is_true(json_object_get(o, "ok")), "failed: %s",
	    json_string_value(json_object_get(json_object_get(o, "error"),
	    "message")));
	return json_object_get(o, "result");
}

/* The error code of a request that must fail. */
static const char *
error_code(json_t *o)
{
	cr_assert(json_is_false(json_object_get(o, "ok")));
	json_t *e = json_object_get(o, "error");
	cr_assert(json_is_string(json_object_get(e, "message")));
	return json_string_value(json_object_get(e, "code"));
}

/* The message of a request that failed. */
static const char *
message(json_t *o)
{
	return json_string_value(json_object_get(json_object_get(o, "error"),
	    "message"));
}

static json_int_t
num(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	cr_assert(json_is_integer(v), "no integer \"%s\"", key);
	return json_integer_value(v);
}

static memlease_t
lease(size_t size, uint64_t ttl, const char *label)
{
	void *buf;
	memlease_t h = memlease_alloc(size, ttl, 1, &buf);

	cr_assert_neq(h, 0);
	if (label != NULL)
		cr_assert_eq(memlease_set_label(h, label), 0);
	return h;
}

static char *
request(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static char *
request(const char *fmt, ...)
{
	static char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	return buf;
}

Test(proto, hello_names_the_protocol_and_the_process)
{
	json_t *o = ask("{\"id\":1,\"cmd\":\"hello\",\"proto\":1}");
	json_t *r = result(o);

	cr_assert_eq(num(o, "id"), 1);
	cr_assert_eq(num(r, "proto"), ML_PROTO_VERSION);
	cr_assert_eq(num(r, "pid"), getpid());
	cr_assert(json_is_string(json_object_get(r, "version")));
	json_decref(o);
}

Test(proto, stats_counts_leases)
{
	lease(100, 0, NULL);
	memlease_t h = lease(50, 10, NULL);
	fake_now += 10;
	cr_assert_eq(memlease_expire_due(), 1);
	(void)h;

	json_t *o = ask("{\"id\":2,\"cmd\":\"stats\"}");
	json_t *r = result(o);
	cr_assert_eq(num(r, "pid"), getpid());
	cr_assert_eq(num(r, "live_leases"), 1);
	cr_assert_eq(num(r, "live_bytes"), 100);
	cr_assert_eq(num(r, "tagged"), 0);
	cr_assert_eq(num(r, "allocated"), 2);
	cr_assert_eq(num(r, "expired"), 1);
	cr_assert_eq(num(r, "reclaimed"), 1);
	cr_assert_eq(num(r, "released"), 0);
	json_decref(o);
}

Test(proto, list_gives_every_field_scripts_rely_on)
{
	memlease_t a = lease(10, 0, "boot");
	lease(20, 500, NULL);
	fake_now += 100;

	json_t *o = ask("{\"id\":3,\"cmd\":\"list\"}");
	json_t *leases = json_object_get(result(o), "leases");
	cr_assert_eq(json_array_size(leases), 2);
	json_t *x = json_array_get(leases, 0), *y = json_array_get(leases, 1);
	char id[32];
	snprintf(id, sizeof id, "%#llx", (unsigned long long)a);
	cr_assert_str_eq(json_string_value(json_object_get(x, "id")), id);
	cr_assert_eq(num(x, "size"), 10);
	cr_assert_eq(num(x, "age_ms"), 100);
	cr_assert(json_is_null(json_object_get(x, "expires_in_ms")));
	cr_assert_str_eq(json_string_value(json_object_get(x, "label")), "boot");
	cr_assert_str_eq(json_string_value(json_object_get(x, "state")), "live");
	cr_assert_eq(num(y, "expires_in_ms"), 400);
	cr_assert(json_is_null(json_object_get(y, "label")));
	cr_assert(json_is_null(json_object_get(result(o), "next")));
	json_decref(o);
}

/* list writes its leases by hand, show through jansson: they agree,
 * field for field, for leases of every state and a label to escape. */
Test(proto, list_and_show_say_the_same_of_a_lease)
{
	memlease_t pinned = lease(1, 300, "a \"quoted\"\tlabel, caf\xc3\xa9");
	cr_assert_not_null(memlease_pin(pinned, NULL));
	lease(4096, 0, "x");
	lease(123456789, 1, NULL);
	memlease_t two = memlease_alloc(8, 50, 2, &(void *){ NULL });
	cr_assert_eq(memlease_release(two), 0);
	fake_now += 25;

	json_t *o = ask("{\"cmd\":\"list\"}");
	json_t *leases = json_object_get(result(o), "leases"), *x;
	size_t i;
	cr_assert_eq(json_array_size(leases), 4);
	json_array_foreach(leases, i, x) {
		json_t *s = ask(request("{\"cmd\":\"show\",\"lease\":\"%s\"}",
		    json_string_value(json_object_get(x, "id"))));
		json_t *shown = result(s);
		cr_assert(json_is_array(json_object_get(shown, "backtrace")));
		json_object_del(shown, "backtrace");
		char *a = json_dumps(x, JSON_SORT_KEYS);
		char *b = json_dumps(shown, JSON_SORT_KEYS);
		cr_assert_str_eq(a, b);
		free(a);
		free(b);
		json_decref(s);
	}
	json_decref(o);
}

Test(proto, list_filters_by_age_label_and_state)
{
	lease(10, 0, "old");
	fake_now += 1000;
	memlease_t p = lease(10, 0, "new");
	cr_assert_not_null(memlease_pin(p, NULL));

	json_t *o = ask("{\"cmd\":\"list\",\"older_than_ms\":500}");
	cr_assert_eq(json_array_size(json_object_get(result(o), "leases")), 1);
	json_decref(o);
	o = ask("{\"cmd\":\"list\",\"label\":\"new\"}");
	json_t *l = json_object_get(result(o), "leases");
	cr_assert_eq(json_array_size(l), 1);
	cr_assert_str_eq(json_string_value(json_object_get(
	    json_array_get(l, 0), "state")), "pinned");
	json_decref(o);
	o = ask("{\"cmd\":\"list\",\"state\":\"pinned\"}");
	cr_assert_eq(json_array_size(json_object_get(result(o), "leases")), 1);
	json_decref(o);
	o = ask("{\"cmd\":\"list\",\"state\":\"sleepy\"}");
	cr_assert_str_eq(error_code(o), "EINVAL");
	json_decref(o);
}

Test(proto, list_sorts_by_size_and_age_with_a_limit)
{
	lease(30, 0, NULL);
	fake_now += 1;
	lease(10, 0, NULL);
	fake_now += 1;
	lease(20, 0, NULL);

	json_t *o = ask("{\"cmd\":\"list\",\"sort\":\"size\",\"limit\":2}");
	json_t *l = json_object_get(result(o), "leases");
	cr_assert_eq(json_array_size(l), 2);
	cr_assert_eq(num(json_array_get(l, 0), "size"), 30);
	cr_assert_eq(num(json_array_get(l, 1), "size"), 20);
	json_decref(o);
	o = ask("{\"cmd\":\"list\",\"sort\":\"age\",\"limit\":3}");
	l = json_object_get(result(o), "leases");
	cr_assert_eq(num(json_array_get(l, 0), "size"), 30, "oldest first");
	cr_assert_eq(num(json_array_get(l, 2), "size"), 20);
	json_decref(o);
	o = ask("{\"cmd\":\"list\",\"sort\":\"size\"}");
	cr_assert_str_eq(error_code(o), "EINVAL", "sorted needs a limit");
	json_decref(o);
}

Test(proto, list_pages_visit_every_lease_once)
{
	enum { N = 2500 };
	static bool seen[N];
	memlease_t first = 0;

	for (int i = 0; i < N; i++) {
		memlease_t h = lease((size_t)i + 1, 0, NULL);
		if (i == 0)
			first = h;
	}
	(void)first;
	json_int_t cursor = 0;
	int pages = 0, total = 0;
	for (;;) {
		json_t *o = ask(request("{\"cmd\":\"list\",\"cursor\":%lld}",
		    (long long)cursor));
		json_t *r = result(o), *l = json_object_get(r, "leases");
		cr_assert_leq(json_array_size(l), ML_PROTO_PAGE);
		for (size_t i = 0; i < json_array_size(l); i++) {
			json_int_t size = num(json_array_get(l, i), "size");
			cr_assert(!seen[size - 1], "lease of %lld twice",
			    (long long)size);
			seen[size - 1] = true;
			total++;
		}
		pages++;
		json_t *next = json_object_get(r, "next");
		if (json_is_null(next)) {
			json_decref(o);
			break;
		}
		cursor = json_integer_value(next);
		json_decref(o);
		cr_assert_lt(pages, 10);
	}
	cr_assert_eq(total, N);
	cr_assert_geq(pages, 3);
}

Test(proto, list_by_site_sums_counts_and_bytes)
{
	for (int i = 0; i < 3; i++)
		lease(100, 0, NULL);
	json_t *o = ask("{\"cmd\":\"list\",\"by_site\":true}");
	json_t *sites = json_object_get(result(o), "sites");
	cr_assert_eq(json_array_size(sites), 1, "one call site in lease()");
	json_t *s = json_array_get(sites, 0);
	cr_assert_eq(num(s, "count"), 3);
	cr_assert_eq(num(s, "bytes"), 300);
	cr_assert_str_eq(json_string_value(json_object_get(
	    json_object_get(s, "site"), "function")), "lease");
	json_decref(o);
}

Test(proto, show_gives_the_symbolized_backtrace)
{
	memlease_t h = lease(64, 0, NULL);
	json_t *o = ask(request("{\"cmd\":\"show\",\"lease\":\"%#llx\"}",
	    (unsigned long long)h));
	json_t *r = result(o), *bt = json_object_get(r, "backtrace");

	cr_assert_eq(num(r, "size"), 64);
	cr_assert_geq(json_array_size(bt), 1);
	json_t *f0 = json_array_get(bt, 0);
	cr_assert_str_eq(json_string_value(json_object_get(f0, "function")),
	    "lease");
	cr_assert(json_is_integer(json_object_get(f0, "offset")));
	cr_assert_not_null(strstr(json_string_value(json_object_get(f0,
	    "object")), "test_proto"));
	json_decref(o);
	/* a number works as an id too */
	o = ask(request("{\"cmd\":\"show\",\"lease\":%llu}",
	    (unsigned long long)h));
	result(o);
	json_decref(o);
}

Test(proto, stale_ids_are_estale)
{
	memlease_t h = lease(8, 0, NULL);

	cr_assert_eq(memlease_release(h), 0);
	json_t *o = ask(request("{\"cmd\":\"show\",\"lease\":\"%#llx\"}",
	    (unsigned long long)h));
	cr_assert_str_eq(error_code(o), "ESTALE");
	json_decref(o);
	o = ask(request("{\"cmd\":\"renew\",\"lease\":\"%#llx\",\"ttl_ms\":5}",
	    (unsigned long long)h));
	cr_assert_str_eq(error_code(o), "ESTALE");
	json_decref(o);
	o = ask(request("{\"cmd\":\"expire\",\"lease\":\"%#llx\"}",
	    (unsigned long long)h));
	cr_assert_str_eq(error_code(o), "ESTALE");
	json_decref(o);
}

Test(proto, renew_and_expire_act_on_the_lease)
{
	memlease_t h = lease(8, 100, NULL);

	json_t *o = ask(request("{\"cmd\":\"renew\",\"lease\":\"%#llx\","
	    "\"ttl_ms\":1000}", (unsigned long long)h));
	result(o);
	json_decref(o);
	fake_now += 500;
	cr_assert_eq(memlease_expire_due(), 0, "renewed to 1 s");
	o = ask(request("{\"cmd\":\"expire\",\"lease\":\"%#llx\"}",
	    (unsigned long long)h));
	result(o);
	json_decref(o);
	errno = 0;
	cr_assert_null(memlease_get(h, NULL));
	cr_assert_eq(errno, ESTALE);
	struct memlease_stats st;
	memlease_stats(&st);
	cr_assert_eq(st.expired, 1);

	memlease_t p = lease(8, 0, NULL);
	cr_assert_not_null(memlease_pin(p, NULL));
	o = ask(request("{\"cmd\":\"expire\",\"lease\":\"%#llx\"}",
	    (unsigned long long)p));
	cr_assert_str_eq(error_code(o), "EBUSY");
	json_decref(o);
}

Test(proto, rules_set_add_get_clear)
{
	json_t *o = ask("{\"cmd\":\"rules\",\"op\":\"set\","
	    "\"rules\":\"size=4k ttl=1m\"}");
	cr_assert_str_eq(json_string_value(json_object_get(result(o),
	    "rules")), "size=4096 ttl=60000ms\n");
	json_decref(o);
	o = ask("{\"cmd\":\"rules\",\"op\":\"add\",\"rules\":\"ttl=1h "
	    "action=free\"}");
	json_decref(o);
	o = ask("{\"cmd\":\"rules\"}");
	const char *text = json_string_value(json_object_get(result(o),
	    "rules"));
	cr_assert_not_null(strstr(text, "size=4096 ttl=60000ms\n"));
	cr_assert_not_null(strstr(text, "action=free"));
	json_decref(o);
	o = ask("{\"cmd\":\"rules\",\"op\":\"set\",\"rules\":\"ttl=5x\"}");
	cr_assert_str_eq(error_code(o), "EINVAL");
	cr_assert_not_null(strstr(json_string_value(json_object_get(
	    json_object_get(o, "error"), "message")), "1:1:"));
	json_decref(o);
	o = ask("{\"cmd\":\"rules\",\"op\":\"clear\"}");
	cr_assert_str_eq(json_string_value(json_object_get(result(o),
	    "rules")), "");
	json_decref(o);
}

/* An error in an added rule is placed by its line in the whole set: the
 * rule after the N in force is on line N + 1. */
static void
add_fails_at(const char *rules, const char *added, const char *at)
{
	char req[4096];
	json_t *o;

	snprintf(req, sizeof req, "{\"cmd\":\"rules\",\"op\":\"set\","
	    "\"rules\":\"%s\"}", rules);
	json_decref(ask(req));
	snprintf(req, sizeof req, "{\"cmd\":\"rules\",\"op\":\"add\","
	    "\"rules\":\"%s\"}", added);
	o = ask(req);
	cr_assert_str_eq(error_code(o), "EINVAL");
	cr_assert_eq(strncmp(message(o), at, strlen(at)), 0, "%s, not at %s",
	    message(o), at);
	json_decref(o);
}

Test(proto, rules_add_places_an_error_on_the_added_rules_line)
{
	char set[2048] = "";

	add_fails_at("", "ttl=5x", "1:1:");
	add_fails_at("ttl=1s", "ttl=5x", "2:1:");
	for (int i = 0; i < ML_RULES_MAX; i++)
		strcat(set, "size=64 ttl=1s\\n");
	add_fails_at(set, "ttl=5x", "33:1:");
	add_fails_at(set, "ttl=1s", "33:1: too many rules");
}

#ifdef __SANITIZE_ADDRESS__
/* Rules replaced are kept (a thread may still read them), never leaked:
 * LSan's own check at exit comes after the test's result is in. */
Test(proto, rules_replaced_are_kept_not_leaked)
{
	for (int i = 0; i < 3; i++)
		json_decref(ask("{\"cmd\":\"rules\",\"op\":\"set\","
		    "\"rules\":\"caller=f* ttl=1m\"}"));
	json_decref(ask("{\"cmd\":\"rules\",\"op\":\"clear\"}"));
	cr_assert_eq(__lsan_do_recoverable_leak_check(), 0);
}
#endif

Test(proto, bad_requests_get_errors_with_their_id)
{
	static const char *const bad[] = {
		"", "nonsense", "[1,2]", "{\"id\":4}", "{\"cmd\":7}",
		"{\"id\":4,\"cmd\":\"fly\"}", "{\"cmd\":\"show\"}",
		"{\"cmd\":\"show\",\"lease\":\"zz\"}",
		"{\"cmd\":\"list\",\"limit\":-1}",
		"{\"cmd\":\"renew\",\"lease\":\"0x1\"}",
		"{\"cmd\":\"rules\",\"op\":\"burn\"}",
		"{\"cmd\":\"list\",\"cmd\":\"list\"}",
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		json_t *o = ask(bad[i]);
		cr_assert_str_eq(error_code(o), "EINVAL", "%s", bad[i]);
		json_decref(o);
	}
	json_t *o = ask("{\"id\":\"abc\",\"cmd\":\"fly\"}");
	cr_assert_str_eq(json_string_value(json_object_get(o, "id")), "abc");
	json_decref(o);
}

Test(proto, a_request_over_64k_is_refused)
{
	size_t n = ML_PROTO_MAX_LINE + 10;
	char *big = malloc(n + 1);
	char *resp;
	size_t len;

	memset(big, ' ', n);
	big[n] = '\0';
	cr_assert_eq(ml_proto_handle(big, n, &resp, &len), 0);
	cr_assert_not_null(strstr(resp, "\"E2BIG\""));
	ml_mem_free(resp);
	free(big);
}

Test(proto, watch_is_accepted_and_told_to_the_server)
{
	const char *req = "{\"id\":9,\"cmd\":\"watch\"}";
	char *resp;
	size_t len;

	cr_assert_eq(ml_proto_handle(req, strlen(req), &resp, &len),
	    ML_PROTO_WATCH);
	cr_assert_not_null(strstr(resp, "\"watching\":true"));
	ml_mem_free(resp);
	req = "{\"id\":9,\"cmd\":\"stats\"}";
	cr_assert_eq(ml_proto_handle(req, strlen(req), &resp, &len), 0);
	ml_mem_free(resp);
}

Test(proto, list_by_site_puts_the_most_bytes_first)
{
	void *buf;

	for (int i = 0; i < 3; i++)
		cr_assert_neq(memlease_alloc(10, 0, 1, &buf), 0);
	for (int i = 0; i < 40; i++)
		cr_assert_neq(memlease_alloc(1000, 0, 1, &buf), 0);
	json_t *o = ask("{\"cmd\":\"list\",\"by_site\":true}");
	json_t *sites = json_object_get(result(o), "sites");
	cr_assert_eq(json_array_size(sites), 2, "two call sites");
	cr_assert_eq(num(json_array_get(sites, 0), "bytes"), 40000);
	cr_assert_eq(num(json_array_get(sites, 0), "count"), 40);
	cr_assert_eq(num(json_array_get(sites, 1), "bytes"), 30);
	json_decref(o);
}

Test(proto, list_by_site_refuses_a_sort_it_would_not_honour)
{
	void *buf;

	cr_assert_neq(memlease_alloc(10, 0, 1, &buf), 0);
	json_t *o = ask("{\"cmd\":\"list\",\"by_site\":true,"
	    "\"sort\":\"age\",\"limit\":5}");
	cr_assert_str_eq(error_code(o), "EINVAL");
	cr_assert_not_null(strstr(message(o), "by_site"), "%s", message(o));
	json_decref(o);
}

Test(proto, list_by_site_with_no_lease_matching_is_empty)
{
	void *buf;

	cr_assert_neq(memlease_alloc(10, 0, 1, &buf), 0);
	json_t *o = ask("{\"cmd\":\"list\",\"by_site\":true,"
	    "\"label\":\"no-such-label\"}");
	cr_assert_eq(json_array_size(json_object_get(result(o), "sites")), 0);
	json_decref(o);
}

/* Leases made through a wrapper from two sites, and one from a third. */
static __attribute__((noinline)) memlease_t
wrap_lease(size_t size)
{
	void *buf;
	memlease_t h = memlease_alloc(size, 0, 1, &buf);

	__asm__ volatile("" ::: "memory");      /* not a tail call */
	return h;
}

static __attribute__((noinline)) void
site_small(void)
{
	for (int i = 0; i < 3; i++)
		cr_assert_neq(wrap_lease(100), 0);
	__asm__ volatile("");
}

static __attribute__((noinline)) void
site_large(void)
{
	for (int i = 0; i < 2; i++)
		cr_assert_neq(wrap_lease(1000), 0);
	__asm__ volatile("");
}

static void
three_sites(void)
{
	site_small();
	site_large();
	lease(50, 0, "direct");
}

/* The function of frame i of stack s. */
static const char *
frame_function(json_t *s, size_t i)
{
	return json_string_value(json_object_get(json_array_get(
	    json_object_get(s, "frames"), i), "function"));
}

Test(proto, list_by_stack_sums_whole_stacks_the_most_bytes_first)
{
	three_sites();
	json_t *o = ask("{\"cmd\":\"list\",\"by_stack\":true}");
	json_t *r = result(o), *st = json_object_get(r, "stacks");

	cr_assert_eq(json_array_size(st), 3);
	cr_assert_eq(num(json_array_get(st, 0), "bytes"), 2000);
	cr_assert_eq(num(json_array_get(st, 0), "count"), 2);
	cr_assert_str_eq(frame_function(json_array_get(st, 0), 0), "wrap_lease");
	cr_assert_str_eq(frame_function(json_array_get(st, 0), 1), "site_large");
	cr_assert_eq(num(json_array_get(st, 1), "bytes"), 300);
	cr_assert_str_eq(frame_function(json_array_get(st, 1), 1), "site_small");
	cr_assert_eq(num(json_array_get(st, 2), "bytes"), 50);
	cr_assert_str_eq(frame_function(json_array_get(st, 2), 0), "lease");
	for (size_t i = 0; i < 3; i++) {
		const char *id = json_string_value(json_object_get(
		    json_array_get(st, i), "stack_id"));
		cr_assert_not_null(id);
		cr_assert_eq(strspn(id, "0123456789abcdef"), 16, "%s", id);
		cr_assert_eq(strlen(id), 16);
		cr_assert(json_is_integer(json_object_get(json_array_get(st, i),
		    "oldest_ms")));
	}
	cr_assert_eq(num(r, "count"), 6);
	cr_assert_eq(num(r, "bytes"), 2350);
	json_decref(o);
}

Test(proto, list_by_stack_cuts_to_a_depth_and_skips_wrappers)
{
	three_sites();
	json_t *o = ask("{\"cmd\":\"list\",\"by_stack\":true,\"depth\":1}");
	json_t *st = json_object_get(result(o), "stacks");

	cr_assert_eq(json_array_size(st), 2, "wrap_lease's, lease's");
	cr_assert_eq(num(json_array_get(st, 0), "count"), 5);
	cr_assert_eq(json_array_size(json_object_get(json_array_get(st, 0),
	    "frames")), 1);
	json_decref(o);
	o = ask("{\"cmd\":\"list\",\"by_stack\":true,\"depth\":1,"
	    "\"skip\":[\"wrap_*\"]}");
	st = json_object_get(result(o), "stacks");
	cr_assert_eq(json_array_size(st), 3);
	cr_assert_str_eq(frame_function(json_array_get(st, 0), 0), "site_large");
	cr_assert_str_eq(frame_function(json_array_get(st, 1), 0), "site_small");
	json_decref(o);
}

Test(proto, a_leases_stack_id_is_its_whole_stacks)
{
	three_sites();
	json_t *o = ask("{\"cmd\":\"list\",\"by_stack\":true,"
	    "\"label\":\"direct\"}");
	json_t *st = json_object_get(result(o), "stacks");
	cr_assert_eq(json_array_size(st), 1);
	const char *id = json_string_value(json_object_get(json_array_get(st,
	    0), "stack_id"));
	json_t *l = ask("{\"cmd\":\"list\",\"label\":\"direct\"}");
	json_t *lease0 = json_array_get(json_object_get(result(l), "leases"), 0);

	cr_assert_str_eq(json_string_value(json_object_get(lease0,
	    "stack_id")), id);
	json_decref(l);
	json_decref(o);
}

Test(proto, list_by_stack_refuses_sort_and_bad_arguments)
{
	static const char *const bad[] = {
		"{\"cmd\":\"list\",\"by_stack\":true,\"sort\":\"age\","
		    "\"limit\":5}",
		"{\"cmd\":\"list\",\"by_stack\":true,\"depth\":-1}",
		"{\"cmd\":\"list\",\"by_stack\":true,\"skip\":\"x\"}",
		"{\"cmd\":\"list\",\"by_stack\":true,\"skip\":[1]}",
	};

	lease(10, 0, NULL);
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		json_t *o = ask(bad[i]);
		cr_assert_str_eq(error_code(o), "EINVAL", "%s", bad[i]);
		json_decref(o);
	}
}

/* The message of an error that quotes the request is still text: bytes of
 * the request that are not UTF-8, or a character cut by a length limit. */
Test(proto, an_error_quoting_bad_text_still_has_a_message)
{
	char cmd[200] = "{\"cmd\":\"";

	for (int i = 0; i < 40; i++)
		strcat(cmd, "\xc3\xa9");     /* e-acute: "%.64s" cuts one */
	strcat(cmd, "\"}");
	/* jansson quotes the token it stopped at, raw bytes and all */
	const char *reqs[] = { "{\"cmd\":\"a\\ude0\xd0\x93\x9a\"}",
	    "{\"cmd\":\xff}", cmd };
	for (size_t i = 0; i < sizeof reqs / sizeof *reqs; i++) {
		json_t *o = ask(reqs[i]);
		cr_assert_str_eq(error_code(o), "EINVAL");
		json_decref(o);
	}
}

/* --- the framing (lines.h) ------------------------------------------------ */

/* The lines a feed passed on: their lengths and first bytes. */
static struct {
	size_t n, len[8];
	char   first[8];
} got;

static bool
take(void *arg, const char *line, size_t len)
{
	(void)arg;
	cr_assert_lt(got.n, 8);
	got.len[got.n] = len;
	got.first[got.n++] = len > 0 ? line[0] : '\0';
	return true;
}

/* Feed n bytes of s, `chunk` bytes at a time. */
static void
feed(struct ml_lines *l, const char *s, size_t n, size_t chunk)
{
	while (n > 0) {
		size_t room, k;
		char *at = ml_lines_room(l, &room);
		k = n < chunk ? n : chunk;
		k = k < room ? k : room;
		memcpy(at, s, k);
		cr_assert(ml_lines_feed(l, k, take, NULL));
		s += k;
		n -= k;
	}
}

Test(lines, a_line_split_anywhere_is_one_line)
{
	static struct ml_lines l;
	const char *s = "{\"cmd\":\"stats\"}\n\nab";

	feed(&l, s, strlen(s), 1);
	cr_assert_eq(got.n, 2, "a line and an empty one; ab is not whole");
	cr_assert_eq(got.len[0], 15);
	cr_assert_eq(got.len[1], 0);
	feed(&l, "c\n", 2, 2);
	cr_assert_eq(got.n, 3);
	cr_assert_eq(got.len[2], 3);
	cr_assert_eq(got.first[2], 'a');
}

Test(lines, the_longest_line_fits_and_a_longer_one_is_passed_once)
{
	static struct ml_lines l;
	static char big[3 * ML_PROTO_MAX_LINE];

	memset(big, 'x', sizeof big);
	big[ML_PROTO_MAX_LINE - 1] = '\n';      /* 65535 bytes and newline */
	big[2 * ML_PROTO_MAX_LINE + 10] = '\n'; /* a line of 65546 bytes */
	big[2 * ML_PROTO_MAX_LINE + 11] = 'y';
	big[2 * ML_PROTO_MAX_LINE + 12] = '\n';
	feed(&l, big, 2 * ML_PROTO_MAX_LINE + 13, 4000);
	cr_assert_eq(got.n, 3);
	cr_assert_eq(got.len[0], ML_PROTO_MAX_LINE - 1);
	cr_assert_eq(got.len[1], ML_PROTO_MAX_LINE, "its first 64 KiB, once");
	cr_assert_eq(got.len[2], 1, "its rest is skipped");
	cr_assert_eq(got.first[2], 'y');
}

static bool
stop(void *arg, const char *line, size_t len)
{
	(*(int *)arg)++;
	(void)line;
	(void)len;
	return false;
}

Test(lines, a_feed_stops_when_the_handler_does_holding_the_lines_after)
{
	static struct ml_lines l;
	size_t room;
	int calls = 0;

	memcpy(ml_lines_room(&l, &room), "a\nbb\ncc", 7);
	cr_assert_not(ml_lines_feed(&l, 7, stop, &calls));
	cr_assert_eq(calls, 1);
	cr_assert(ml_lines_held(&l), "b is whole, and not passed on yet");
	cr_assert(ml_lines_feed(&l, 0, take, NULL));
	cr_assert_eq(got.n, 1);
	cr_assert_eq(got.len[0], 2);
	cr_assert_eq(got.first[0], 'b');
	cr_assert_not(ml_lines_held(&l), "cc is not whole");
	memcpy(ml_lines_room(&l, &room), "c\n", 2);
	cr_assert(ml_lines_feed(&l, 2, take, NULL));
	cr_assert_eq(got.n, 2);
	cr_assert_eq(got.len[1], 3, "ccc, kept whole across the stop");
}
