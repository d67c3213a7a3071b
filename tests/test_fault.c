/*
 * test_fault.c - memlease's own allocations fail (a build configured with
 * --enable-fault-injection): every Nth, or at random with a seed.  The API
 * answers ENOMEM and keeps a table that matches what the test holds, the
 * control protocol answers an error and the server keeps answering; ASan
 * and LSan (the sanitizer build) watch for leaks, double frees and
 * corruption.  Each test is a process of its own.
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
#include "runtime.h"
#include "clock.h"
#include "core.h"
#include "fault.h"
#include "guard.h"
#include "mem.h"
#include "proto.h"
#include "tag.h"

#ifdef __SANITIZE_ADDRESS__
#include <sanitizer/lsan_interface.h>
/* A leak fails the test that made it (LSan's own check at exit comes
 * after the test's result is in). */
#define EXPECT_NO_LEAK() cr_assert_eq(__lsan_do_recoverable_leak_check(), 0, \
    "LeakSanitizer found leaks")
#else
#define EXPECT_NO_LEAK() ((void)0)
#endif

/* The rates: every 2nd, 7th and 50th allocation, and 1 in 10 at random
 * with three seeds. */
static const struct rate {
	unsigned every, one_in;
	uint64_t seed;
} rates[] = {
	{ 2, 0, 0 }, { 7, 0, 0 }, { 50, 0, 0 },
	{ 0, 10, 1 }, { 0, 10, 2 }, { 0, 10, 3 },
};
#define NRATES (sizeof rates / sizeof *rates)

static void
rate_on(const struct rate *r)
{
	ml_fault_set(r->every, r->one_in, r->seed);
}

static void
faults_off(void)
{
	ml_fault_set(0, 0, 0);
}

/* The test's own choices: a PRNG of its own, so that they never depend on
 * what fails. */
static uint64_t pick_state = 88172645463325252u;

static unsigned
pick(unsigned n)
{
	pick_state ^= pick_state << 13;
	pick_state ^= pick_state >> 7;
	pick_state ^= pick_state << 17;
	return (unsigned)(pick_state % n);
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

/* The test's model of the leases it holds. */
#define MAXL 512

struct lease {
	memlease_t    h;
	void         *buf;
	size_t        size;
	uint64_t      deadline;        /* 0: none */
	unsigned      releases;        /* left */
	unsigned char fill;
	bool          adopted;
	char          label[16];
};

static struct model {
	struct lease  l[MAXL];
	int           n;
	uint64_t      made, ended, expired, hooked;
} m;

static void
on_expire(memlease_t h, void *buf, size_t size, const char *label, void *arg)
{
	(void)h;
	(void)buf;
	(void)size;
	(void)label;
	(void)arg;
	m.hooked++;
}

static void
forget(int i)
{
	m.l[i] = m.l[--m.n];
	m.ended++;
}

static void
expect_stats(void)
{
	struct memlease_stats st;

	cr_assert_eq(memlease_stats(&st), 0);
	cr_assert_eq(st.live_leases, (uint64_t)m.n, "live %llu, held %d",
	    (unsigned long long)st.live_leases, m.n);
	cr_assert_eq(st.allocated, m.made);
	cr_assert_eq(st.released + st.expired, m.ended);
	cr_assert_eq(st.expired, m.expired);
	cr_assert_eq(st.pinned, 0);
	cr_assert_eq(st.overdue, 0);
	uint64_t bytes = 0, deadlines = 0;
	for (int i = 0; i < m.n; i++) {
		bytes += m.l[i].size;
		deadlines += m.l[i].deadline != 0;
	}
	cr_assert_eq(st.live_bytes, bytes);
	cr_assert_eq(st.with_deadline, deadlines);
}

/* Each lease held names its buffer, size, label and contents. */
static void
expect_leases(void)
{
	struct ml_core *c = ml_runtime_core();

	cr_assert_not_null(c);
	for (int i = 0; i < m.n; i++) {
		struct lease *l = &m.l[i];
		struct ml_info in;
		size_t size;
		cr_assert_eq(memlease_get(l->h, &size), l->buf);
		cr_assert_eq(ml_core_info(c, l->h, &in), 0);
		cr_assert_str_eq(in.label, l->label);
		cr_assert_eq(in.releases, l->releases);
		if (l->adopted)
			continue;
		cr_assert_eq(size, l->size);
		for (size_t k = 0; k < l->size; k++)
			cr_assert_eq(((unsigned char *)l->buf)[k], l->fill);
	}
}

static bool
enomem(int r)
{
	return r == -ENOMEM;
}

/* One operation of the API, chosen at random; its result checked against
 * the model. */
static void
one_op(void)
{
	int i = m.n > 0 ? (int)pick((unsigned)m.n) : -1;
	struct lease *l = i >= 0 ? &m.l[i] : NULL;
	unsigned op = pick(10);
	void *buf;
	int r;

	if (l == NULL || op <= 2) {
		if (m.n == MAXL)
			return;
		uint64_t ttl = pick(3) ? 1 + pick(40) : 0;
		unsigned releases = 1 + pick(3);
		struct lease *n = &m.l[m.n];
		memset(n, 0, sizeof *n);
		n->fill = (unsigned char)(1 + pick(255));
		n->releases = releases;
		errno = 0;
		if (op == 2) {          /* a block of the test's, adopted */
			void *p = malloc(48);
			cr_assert_not_null(p);
			memlease_t h = memlease_adopt(p, ttl, releases);
			if (h == 0) {
				cr_assert_eq(errno, ENOMEM);
				free(p);
				return;
			}
			n->h = h;
			n->buf = p;
			n->adopted = true;
			memlease_get(h, &n->size);
		} else {
			size_t size = 1 + pick(300);
			memlease_t h = memlease_alloc(size, ttl, releases, &buf);
			if (h == 0) {
				cr_assert_eq(errno, ENOMEM);
				return;
			}
			memset(buf, n->fill, size);
			n->h = h;
			n->buf = buf;
			n->size = size;
		}
		n->deadline = ttl ? fake_now + ttl : 0;
		m.n++;
		m.made++;
		return;
	}
	switch (op) {
	case 3: {                       /* a label, or none */
		char label[16];
		snprintf(label, sizeof label, "lab%u", pick(6));
		bool none = pick(4) == 0;
		r = memlease_set_label(l->h, none ? NULL : label);
		cr_assert(r == 0 || (enomem(r) && !none), "set_label: %d", r);
		if (r == 0)
			strcpy(l->label, none ? "" : label);
		break;
	}
	case 4: {                       /* renew */
		uint64_t ttl = pick(3) ? 1 + pick(40) : 0;
		r = memlease_renew(l->h, ttl);
		/* a new deadline goes to a ring or the heap, and neither may
		 * be able to grow (one in the heap can stay there) */
		cr_assert(r == 0 || (enomem(r) && ttl), "renew: %d", r);
		if (r == 0)
			l->deadline = ttl ? fake_now + ttl : 0;
		break;
	}
	case 5:                         /* pin and unpin: never allocate */
		cr_assert_eq(memlease_pin(l->h, NULL), l->buf);
		cr_assert_eq(memlease_unpin(l->h), 0);
		break;
	case 6:
		l->releases = 1 + pick(3);
		cr_assert_eq(memlease_set_releases(l->h, l->releases), 0);
		break;
	case 7:
	case 8:                         /* one release */
		cr_assert_eq(memlease_release(l->h), 0);
		if (--l->releases == 0)
			forget(i);
		break;
	default: {                      /* time passes; expiries */
		fake_now += pick(25);
		int due = 0;
		for (int k = 0; k < m.n; k++)
			due += m.l[k].deadline != 0 &&
			    m.l[k].deadline <= fake_now;
		cr_assert_eq(memlease_expire_due(), due);
		for (int k = m.n - 1; k >= 0; k--) {
			if (m.l[k].deadline != 0 &&
			    m.l[k].deadline <= fake_now) {
				forget(k);
				m.expired++;
			}
		}
		break;
	}
	}
}

Test(fault, api_operations_answer_enomem_and_the_table_stays_consistent)
{
	expect_stats();                 /* the library starts, no faults */
	cr_assert_eq(memlease_on_expire(on_expire, NULL), 0);
	for (size_t k = 0; k < NRATES; k++) {
		rate_on(&rates[k]);
		for (int n = 0; n < 3000; n++) {
			one_op();
			/* stats and info allocate nothing: checked as
			 * faults go on */
			if (n % 97 == 0)
				expect_stats();
		}
		unsigned long failed = ml_fault_count();
		faults_off();
		cr_assert_gt(failed, 0, "rate %zu made no allocation fail", k);
		expect_stats();
		expect_leases();
	}
	/* everything ends; nothing is left, nothing leaks (LSan) */
	while (m.n > 0) {
		struct lease *l = &m.l[0];
		cr_assert_eq(memlease_release(l->h), 0);
		if (--l->releases == 0)
			forget(0);
	}
	expect_stats();
	struct memlease_stats st;
	memlease_stats(&st);
	cr_assert_eq(st.live_leases, 0);
	cr_assert_leq(st.entry_blocks, 2, "the dynamic blocks are freed, "
	    "but for the spare");
	cr_assert_eq(memlease_trim(), (int)st.entry_blocks - 1);
	cr_assert_eq(m.hooked, m.expired);
	EXPECT_NO_LEAK();
}

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

/* A lease of the tracking layer is made with its rule's label, or not at
 * all: never without it. */
Test(fault, a_tagged_lease_has_its_label_or_is_not_made)
{
	static char block[64];
	struct memlease_stats st;
	struct ml_info in;
	int made = 0;

	cr_assert_eq(memlease_stats(&st), 0);
	for (unsigned every = 1; every <= 4; every++) {
		bool wake;
		ml_fault_set(every, 0, 0);
		errno = 0;
		memlease_t h = ml_runtime_add(ml_clock_ms_ceil(), block,
		    sizeof block, 0, 1, ML_KIND_REPORT, 0, "rule-label", 0,
		    &wake);
		faults_off();
		memlease_stats(&st);
		if (h == 0) {
			cr_assert_eq(errno, ENOMEM);
			cr_assert_eq(st.live_leases, 0, "every %u", every);
			cr_assert_eq(st.allocated, (uint64_t)made);
			continue;
		}
		made++;
		cr_assert_eq(ml_core_info(ml_runtime_core(), h, &in), 0);
		cr_assert_str_eq(in.label, "rule-label", "every %u", every);
		cr_assert_eq(memlease_release(h), 0);
	}
	cr_assert_gt(made, 0);
	memlease_stats(&st);
	cr_assert_eq(st.live_leases, 0);
	cr_assert_eq(st.released, (uint64_t)made);
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

/* The control protocol. */

static void
setup_proto(void)
{
	setup_api();
	ml_guard_enter();       /* as on memlease's own thread */
}

/* A response, parsed with the guard left (jansson's allocations fail
 * only with it held); NULL if there was none (out of memory). */
static json_t *
ask(const char *req)
{
	char *resp = NULL;
	size_t len = 0;
	json_error_t err;

	ml_proto_handle(req, strlen(req), &resp, &len);
	if (resp == NULL)
		return NULL;
	ml_guard_leave();
	cr_assert_eq(strlen(resp), len);
	cr_assert_eq(resp[len - 1], '\n', "a response is one line");
	json_t *o = json_loadb(resp, len, 0, &err);
	cr_assert_not_null(o, "not JSON: %s", resp);
	ml_mem_free(resp);
	ml_guard_enter();
	return o;
}

static const char *
code_of(json_t *o)
{
	return json_string_value(json_object_get(json_object_get(o, "error"),
	    "code"));
}

/* An error for want of memory.  jansson's lexer takes a buffer it could
 * not grow for a bad token: a valid request may be refused as "not JSON"
 * (EINVAL), an error all the same. */
static bool
refused_nomem(json_t *o)
{
	const char *code = code_of(o);
	const char *msg = json_string_value(json_object_get(json_object_get(o,
	    "error"), "message"));

	cr_assert_not_null(code);
	cr_assert_not_null(msg);
	return strcmp(code, "ENOMEM") == 0 || (strcmp(code, "EINVAL") == 0 &&
	    strncmp(msg, "not JSON: ", 10) == 0);
}

TestSuite(fault_proto, .init = setup_proto);

/* tmpl with its '@' replaced by id. */
static void
fill(char *out, size_t cap, const char *tmpl, const char *id)
{
	const char *at = strchr(tmpl, '@');

	if (at == NULL)
		snprintf(out, cap, "%s", tmpl);
	else
		snprintf(out, cap, "%.*s%s%s", (int)(at - tmpl), tmpl, id,
		    at + 1);
}

Test(fault_proto, requests_under_failure_are_answered_or_refused_enomem)
{
	static const char *const reqs[] = {
		"{\"id\":1,\"cmd\":\"hello\"}",
		"{\"id\":2,\"cmd\":\"stats\"}",
		"{\"id\":3,\"cmd\":\"list\"}",
		"{\"id\":4,\"cmd\":\"list\",\"limit\":5}",
		"{\"id\":5,\"cmd\":\"list\",\"by_site\":true}",
		"{\"id\":6,\"cmd\":\"list\",\"sort\":\"size\",\"limit\":10}",
		"{\"id\":7,\"cmd\":\"show\",\"lease\":\"@\"}",
		"{\"id\":8,\"cmd\":\"renew\",\"lease\":\"@\",\"ttl_ms\":0}",
		"{\"id\":9,\"cmd\":\"rules\"}",
		"{\"id\":10,\"cmd\":\"rules\",\"op\":\"set\","
		    "\"rules\":\"caller=x* ttl=1s label=a\"}",
		"{\"id\":11,\"cmd\":\"rules\",\"op\":\"add\","
		    "\"rules\":\"object=y size=10-20 ttl=2s\"}",
		"{\"id\":12,\"cmd\":\"rules\",\"op\":\"clear\"}",
		"{\"id\":13,\"cmd\":\"watch\"}",
		"{\"id\":14,\"cmd\":\"expire\",\"lease\":\"@\"}",
	};
	char hs[32], req[256];
	memlease_t h[40];

	for (int i = 0; i < 40; i++) {
		cr_assert_neq(h[i] = memlease_alloc(8 + (size_t)i, 0, 1, NULL),
		    0);
		char label[8];
		snprintf(label, sizeof label, "l%d", i % 3);
		cr_assert_eq(memlease_set_label(h[i], label), 0);
	}
	int expired = 0, answered = 0, refused = 0, none = 0;
	for (size_t k = 0; k < NRATES; k++) {
		rate_on(&rates[k]);
		for (int n = 0; n < 200; n++) {
			size_t q = pick(sizeof reqs / sizeof *reqs);
			snprintf(hs, sizeof hs, "%#llx",
			    (unsigned long long)h[pick(40)]);
			fill(req, sizeof req, reqs[q], hs);
			json_t *o = ask(req);
			if (o == NULL) {
				none++;
				continue;
			}
			json_t *ok = json_object_get(o, "ok");
			cr_assert(json_is_boolean(ok), "%s", req);
			if (json_is_true(ok)) {
				answered++;
				cr_assert(json_is_object(json_object_get(o,
				    "result")));
				cr_assert_eq(json_integer_value(
				    json_object_get(o, "id")),
				    (json_int_t)q + 1);
			} else {
				const char *code = code_of(o);
				cr_assert_not_null(code, "%s", req);
				/* a lease expired by an earlier request */
				if (strcmp(code, "ESTALE") != 0) {
					cr_assert(refused_nomem(o), "%s: %s %s",
					    req, code, json_string_value(
					    json_object_get(json_object_get(o,
					    "error"), "message")));
					refused++;
				}
			}
			if (q == 13 && json_is_true(ok))
				expired++;
			json_decref(o);
		}
		faults_off();
	}
	cr_assert_gt(answered, 0);
	cr_assert_gt(refused, 0);
	/* afterwards: the protocol's stats are the library's */
	struct memlease_stats st;
	memlease_stats(&st);
	json_t *o = ask("{\"id\":1,\"cmd\":\"stats\"}");
	cr_assert_not_null(o);
	json_t *r = json_object_get(o, "result");
	cr_assert_eq(json_integer_value(json_object_get(r, "live_leases")),
	    (json_int_t)st.live_leases);
	cr_assert_eq(json_integer_value(json_object_get(r, "expired")),
	    (json_int_t)st.expired);
	cr_assert_geq(st.expired, (uint64_t)expired);
	cr_assert_eq(st.live_leases + st.expired, 40);
	json_decref(o);
	o = ask("{\"id\":2,\"cmd\":\"list\"}");
	cr_assert_eq(json_array_size(json_object_get(json_object_get(o,
	    "result"), "leases")), st.live_leases);
	json_decref(o);
	/* the rules in force are whole: a set that failed left them be, and
	 * every rule is one that a request gave whole (after a clear, an add
	 * leaves its rule alone) */
	o = ask("{\"id\":3,\"cmd\":\"rules\"}");
	const char *rules = json_string_value(json_object_get(
	    json_object_get(o, "result"), "rules"));
	cr_assert_not_null(rules);
	for (const char *at = rules; *at != '\0';) {
		size_t n = strcspn(at, "\n");
		cr_assert((n == 28 && strncmp(at, "caller=x* ttl=1000ms label=a",
		    n) == 0) || (n == 30 && strncmp(at,
		    "object=y size=10-20 ttl=2000ms", n) == 0), "%s", rules);
		at += n + (at[n] == '\n');
	}
	json_decref(o);
	cr_log_info("answered %d, ENOMEM %d, no answer %d", answered, refused,
	    none);
	EXPECT_NO_LEAK();
}

/* The server: a client of a socket of a real thread. */

static char sock_dir[] = "/tmp/memlease-fault-XXXXXX";

static void
setup_server(void)
{
	cr_assert_not_null(mkdtemp(sock_dir));
	setenv("MEMLEASE_SOCKET", "on", 1);
	setenv("MEMLEASE_SOCKET_DIR", sock_dir, 1);
	setenv("MEMLEASE_LOG", "/dev/null", 1);
}

static void
teardown_server(void)
{
	char path[256];

	snprintf(path, sizeof path, "%s/%d.sock", sock_dir, (int)getpid());
	unlink(path);
	rmdir(sock_dir);
}

TestSuite(fault_server, .init = setup_server, .fini = teardown_server);

static int
dial(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	cr_assert_geq(fd, 0);
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s/%d.sock", sock_dir,
	    (int)getpid());
	cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0,
	    "connect: %s", strerror(errno));
	return fd;
}

/* One line from fd (events skipped): its parsed object, or NULL if the
 * server closed the connection. */
static json_t *
read_reply(int fd, char *buf, size_t *have, size_t cap)
{
	for (;;) {
		char *nl = memchr(buf, '\n', *have);
		if (nl != NULL) {
			size_t len = (size_t)(nl - buf) + 1;
			json_error_t err;
			json_t *o = json_loadb(buf, len - 1, 0, &err);
			cr_assert_not_null(o, "not JSON: %.*s", (int)len, buf);
			memmove(buf, buf + len, *have - len);
			*have -= len;
			if (json_object_get(o, "event") != NULL) {
				json_decref(o);
				continue;
			}
			return o;
		}
		struct pollfd p = { fd, POLLIN, 0 };
		cr_assert_eq(poll(&p, 1, 10000), 1, "the server answers");
		cr_assert_lt(*have, cap);
		ssize_t n = recv(fd, buf + *have, cap - *have, 0);
		if (n <= 0)
			return NULL;
		*have += (size_t)n;
	}
}

Test(fault_server, the_server_answers_an_error_and_keeps_answering,
    .timeout = 120)
{
	static char buf[1 << 20];
	static const char *const reqs[] = {
		"{\"id\":1,\"cmd\":\"hello\"}\n",
		"{\"id\":2,\"cmd\":\"stats\"}\n",
		"{\"id\":3,\"cmd\":\"list\"}\n",
		"{\"id\":4,\"cmd\":\"list\",\"by_site\":true}\n",
		"{\"id\":5,\"cmd\":\"watch\"}\n",
		"{\"id\":6,\"cmd\":\"rules\"}\n",
	};
	struct memlease_stats st;
	int closed = 0, answered = 0, refused = 0;

	cr_assert_eq(memlease_stats(&st), 0);   /* the thread, the socket */
	for (int i = 0; i < 20; i++)
		cr_assert_neq(memlease_alloc(32, 0, 1, NULL), 0);
	for (size_t k = 0; k < NRATES; k++) {
		int fd = dial();
		size_t have = 0;
		rate_on(&rates[k]);
		for (int n = 0; n < 100; n++) {
			/* leases that expire on the server's thread, for
			 * the watchers' events */
			memlease_t h = memlease_alloc(16, 1, 1, NULL);
			(void)h;
			size_t q = pick(sizeof reqs / sizeof *reqs);
			ssize_t w = send(fd, reqs[q], strlen(reqs[q]),
			    MSG_NOSIGNAL);
			json_t *o = w > 0 ? read_reply(fd, buf, &have,
			    sizeof buf) : NULL;
			if (o == NULL) {        /* closed: a client again */
				closed++;
				close(fd);
				fd = dial();
				have = 0;
				continue;
			}
			if (json_is_true(json_object_get(o, "ok"))) {
				answered++;
			} else {
				cr_assert(refused_nomem(o), "%s %s", code_of(o),
				    json_string_value(json_object_get(
				    json_object_get(o, "error"), "message")));
				refused++;
			}
			json_decref(o);
		}
		faults_off();
		/* the same connection, or a new one, is answered whole */
		if (send(fd, reqs[1], strlen(reqs[1]), MSG_NOSIGNAL) <= 0) {
			close(fd);
			fd = dial();
			have = 0;
			cr_assert_gt(send(fd, reqs[1], strlen(reqs[1]),
			    MSG_NOSIGNAL), 0);
		}
		json_t *o = read_reply(fd, buf, &have, sizeof buf);
		if (o == NULL) {
			close(fd);
			fd = dial();
			have = 0;
			cr_assert_gt(send(fd, reqs[1], strlen(reqs[1]),
			    MSG_NOSIGNAL), 0);
			o = read_reply(fd, buf, &have, sizeof buf);
		}
		cr_assert_not_null(o);
		cr_assert(json_is_true(json_object_get(o, "ok")));
		json_decref(o);
		close(fd);
	}
	cr_assert_gt(answered, 0);
	cr_assert_gt(refused, 0);
	cr_log_info("answered %d, ENOMEM %d, closed %d", answered, refused,
	    closed);
	EXPECT_NO_LEAK();
}
