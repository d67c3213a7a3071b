/*
 * proto.c - the control protocol's request handler (see proto.h).
 *
 * Each command is one function from the request's object to a result
 * object or an error; a table names them.  The handler reads the process's
 * state through the core's and the tracking layer's own calls, each of
 * which takes its own lock: nothing here holds a lock while it builds JSON.
 * Must run with the recursion guard held (memlease's thread, or tests).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api.h"
#include "clock.h"
#include "core.h"
#include "proto.h"
#include "real.h"
#include "rules.h"
#include "stacks.h"
#include "tag.h"

/* A command's failure: an errno name and a message. */
struct fail {
	const char *code;
	char        msg[256];
	char       *raw;        /* a result written as JSON text (malloc) */
};

typedef json_t *(*cmd_fn)(json_t *req, struct fail *f);

static json_t *
failed(struct fail *f, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static json_t *
failed(struct fail *f, const char *code, const char *fmt, ...)
{
	va_list ap;

	f->code = code;
	va_start(ap, fmt);
	vsnprintf(f->msg, sizeof f->msg, fmt, ap);
	va_end(ap);
	return NULL;
}

static const char *
errno_code(int err)
{
	switch (err) {
	case ESTALE:    return "ESTALE";
	case EBUSY:     return "EBUSY";
	case ENOMEM:    return "ENOMEM";
	case EINVAL:
	default:        return "EINVAL";
	}
}

/* Arguments. */

/* A lease id: a string ("0x1f", "31") or a number. */
static bool
arg_id(json_t *req, memlease_t *h, struct fail *f)
{
	json_t *v = json_object_get(req, "lease");
	char *end;

	if (json_is_integer(v) && json_integer_value(v) > 0) {
		*h = (memlease_t)json_integer_value(v);
		return true;
	}
	if (json_is_string(v)) {
		errno = 0;
		unsigned long long x = strtoull(json_string_value(v), &end, 0);
		if (errno == 0 && *end == '\0' && end != json_string_value(v) &&
		    x != 0) {
			*h = x;
			return true;
		}
	}
	failed(f, "EINVAL", "\"lease\" must be a lease id, such as "
	    "\"0x100000001\"");
	return false;
}

/* An optional non-negative integer argument (def if absent). */
static bool
arg_uint(json_t *req, const char *key, uint64_t def, uint64_t max,
    uint64_t *out, struct fail *f)
{
	json_t *v = json_object_get(req, key);

	if (v == NULL || json_is_null(v)) {
		*out = def;
		return true;
	}
	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    (uint64_t)json_integer_value(v) > max) {
		failed(f, "EINVAL", "\"%s\" must be an integer from 0 to %"
		    PRIu64, key, max);
		return false;
	}
	*out = (uint64_t)json_integer_value(v);
	return true;
}

/* An optional string argument: NULL if absent. */
static bool
arg_str(json_t *req, const char *key, const char **out, struct fail *f)
{
	json_t *v = json_object_get(req, key);

	*out = NULL;
	if (v == NULL || json_is_null(v))
		return true;
	if (!json_is_string(v)) {
		failed(f, "EINVAL", "\"%s\" must be a string", key);
		return false;
	}
	*out = json_string_value(v);
	return true;
}

/* Leases as JSON. */

static const char *
state_of(const struct ml_info *in)
{
	return in->released ? "released" : in->overdue ? "overdue" :
	    in->pins != 0 ? "pinned" : "live";
}

static const char *
kind_of(unsigned kind)
{
	switch (kind) {
	case ML_KIND_BUFFER:  return "buffer";
	case ML_KIND_REPORT:  return "tagged";
	case ML_KIND_FREE:    return "tagged-free";
	case ML_KIND_RECLAIM: return "tagged-reclaim";
	case ML_KIND_ABORT:   return "tagged-abort";
	default:              return "?";
	}
}

static json_t *
hex(uint64_t x)
{
	char buf[24];

	snprintf(buf, sizeof buf, "%#" PRIx64, x);
	return json_string(buf);
}

static json_t *
lease_json(const struct ml_info *in, uint64_t now)
{
	json_t *o = json_object();

	json_object_set_new(o, "id", hex(in->h));
	json_object_set_new(o, "size", json_integer((json_int_t)in->size));
	json_object_set_new(o, "age_ms", json_integer(now > in->born ?
	    (json_int_t)(now - in->born) : 0));
	if (in->deadline == ML_NO_DEADLINE || in->released)
		json_object_set_new(o, "expires_in_ms", json_null());
	else
		json_object_set_new(o, "expires_in_ms", json_integer(
		    in->deadline > now ? (json_int_t)(in->deadline - now) : 0));
	json_object_set_new(o, "label", in->label[0] != '\0' ?
	    json_string(in->label) : json_null());
	json_object_set_new(o, "state", json_string(state_of(in)));
	json_object_set_new(o, "kind", json_string(kind_of(in->kind)));
	json_object_set_new(o, "pins", json_integer(in->pins));
	json_object_set_new(o, "releases", json_integer(in->releases));
	json_object_set_new(o, "addr", hex((uintptr_t)in->buf));
	return o;
}

static json_t *
frame_json(uintptr_t ip)
{
	struct ml_frame fr;
	json_t *o = json_object();

	ml_stacks_symbolize(ip, &fr);
	json_object_set_new(o, "function", json_string(fr.function));
	json_object_set_new(o, "offset", json_integer((json_int_t)fr.offset));
	json_object_set_new(o, "object", json_string(fr.object));
	json_object_set_new(o, "ip", hex(ip));
	return o;
}

/* A page of leases as JSON text, written directly: building a jansson
 * object a lease costs several times more than the listing itself. */
struct text {
	char   *p;
	size_t  len, cap;
	bool    oom;
};

static void
put(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
put(struct text *t, const char *fmt, ...)
{
	va_list ap;

	for (;;) {
		size_t room = t->cap - t->len;
		va_start(ap, fmt);
		int n = t->oom ? 0 : vsnprintf(t->p ? t->p + t->len : NULL,
		    room, fmt, ap);
		va_end(ap);
		if (t->oom || n < 0)
			return;
		if ((size_t)n < room) {
			t->len += (size_t)n;
			return;
		}
		size_t cap = t->cap ? t->cap * 2 : 65536;
		while (cap - t->len <= (size_t)n)
			cap *= 2;
		char *m = realloc(t->p, cap);
		if (m == NULL) {
			t->oom = true;
			return;
		}
		t->p = m;
		t->cap = cap;
	}
}

static void
lease_put(struct text *t, const struct ml_info *in, uint64_t now)
{
	char *label = NULL;

	if (in->label[0] != '\0') {
		json_t *l = json_string(in->label);
		label = l != NULL ? json_dumps(l, JSON_ENCODE_ANY |
		    JSON_ENSURE_ASCII) : NULL;
		json_decref(l);
	}
	put(t, "{\"id\":\"%#" PRIx64 "\",\"size\":%zu,\"age_ms\":%" PRIu64
	    ",\"expires_in_ms\":", in->h, in->size,
	    now > in->born ? now - in->born : 0);
	if (in->deadline == ML_NO_DEADLINE || in->released)
		put(t, "null");
	else
		put(t, "%" PRIu64, in->deadline > now ? in->deadline - now : 0);
	put(t, ",\"label\":%s,\"state\":\"%s\",\"kind\":\"%s\",\"pins\":%u,"
	    "\"releases\":%u,\"addr\":\"%#" PRIxPTR "\"}", label != NULL ?
	    label : "null", state_of(in), kind_of(in->kind), in->pins,
	    in->releases, (uintptr_t)in->buf);
	free(label);
}

/* Commands. */

static struct ml_core *
core_or_fail(struct fail *f)
{
	struct ml_core *c = ml_api_core();

	if (c == NULL)
		failed(f, "ENOMEM", "memlease could not initialise");
	return c;
}

static json_t *
cmd_hello(json_t *req, struct fail *f)
{
	uint64_t proto;

	if (!arg_uint(req, "proto", ML_PROTO_VERSION, UINT32_MAX, &proto, f))
		return NULL;
	if (proto < 1)
		return failed(f, "EINVAL", "protocol %" PRIu64 " is not "
		    "spoken here (1 to %d are)", proto, ML_PROTO_VERSION);
	json_t *o = json_object();
	json_object_set_new(o, "proto", json_integer(ML_PROTO_VERSION));
	json_object_set_new(o, "pid", json_integer(getpid()));
	json_object_set_new(o, "version", json_string(PACKAGE_VERSION));
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	exe[n > 0 ? n : 0] = '\0';
	json_object_set_new(o, "program", json_string(exe));
	return o;
}

static json_t *
cmd_stats(json_t *req, struct fail *f)
{
	struct memlease_stats st;
	uint64_t kinds[ML_KIND_MAX + 1], tagged = 0;
	struct ml_core *c = core_or_fail(f);

	(void)req;
	if (c == NULL)
		return NULL;
	memlease_stats(&st);
	ml_core_live_kinds(c, kinds);
	for (unsigned k = ML_KIND_REPORT; k <= ML_KIND_MAX; k++)
		tagged += kinds[k];
	json_t *o = json_object();
	json_object_set_new(o, "pid", json_integer(getpid()));
	json_object_set_new(o, "live_leases", json_integer(
	    (json_int_t)st.live_leases));
	json_object_set_new(o, "live_bytes", json_integer(
	    (json_int_t)st.live_bytes));
	json_object_set_new(o, "tagged", json_integer((json_int_t)tagged));
	json_object_set_new(o, "allocated", json_integer(
	    (json_int_t)st.allocated));
	json_object_set_new(o, "released", json_integer(
	    (json_int_t)st.released));
	json_object_set_new(o, "expired", json_integer((json_int_t)st.expired));
	json_object_set_new(o, "reclaimed", json_integer(
	    (json_int_t)st.reclaimed));
	json_object_set_new(o, "pinned", json_integer((json_int_t)st.pinned));
	json_object_set_new(o, "overdue", json_integer((json_int_t)st.overdue));
	json_object_set_new(o, "entry_blocks", json_integer(
	    (json_int_t)st.entry_blocks));
	json_object_set_new(o, "entries_per_block", json_integer(
	    (json_int_t)st.entries_per_block));
	json_object_set_new(o, "bookkeeping_bytes", json_integer(
	    (json_int_t)st.bookkeeping_bytes));
	json_object_set_new(o, "stacks", json_integer(ml_stacks_count()));
	return o;
}

/* The filters of "list". */
struct filter {
	uint64_t    older_than;     /* ms */
	const char *label;
	const char *state;
};

static bool
filter_ok(const struct filter *fl, const struct ml_info *in, uint64_t now)
{
	uint64_t age = now > in->born ? now - in->born : 0;

	return age >= fl->older_than &&
	    (fl->label == NULL || strcmp(fl->label, in->label) == 0) &&
	    (fl->state == NULL || strcmp(fl->state, state_of(in)) == 0);
}

/* A sorted listing: the top `limit` leases by age or size, kept in a
 * bounded min-heap while every lease is visited. */
struct top {
	struct ml_info *v;
	size_t          n, max;
	bool            by_size;
};

static bool
top_less(const struct top *t, const struct ml_info *a,
    const struct ml_info *b)
{
	/* "less" is the one to drop first: smaller, or younger */
	return t->by_size ? a->size < b->size : a->born > b->born;
}

static void
top_sift_down(struct top *t, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, m = i;
		if (l < t->n && top_less(t, &t->v[l], &t->v[m]))
			m = l;
		if (l + 1 < t->n && top_less(t, &t->v[l + 1], &t->v[m]))
			m = l + 1;
		if (m == i)
			return;
		struct ml_info x = t->v[i];
		t->v[i] = t->v[m];
		t->v[m] = x;
		i = m;
	}
}

static void
top_add(struct top *t, const struct ml_info *in)
{
	if (t->n < t->max) {
		size_t i = t->n++;
		t->v[i] = *in;
		while (i > 0 && top_less(t, &t->v[i], &t->v[(i - 1) / 2])) {
			struct ml_info x = t->v[i];
			t->v[i] = t->v[(i - 1) / 2];
			t->v[(i - 1) / 2] = x;
			i = (i - 1) / 2;
		}
	} else if (t->max > 0 && top_less(t, &t->v[0], in)) {
		t->v[0] = *in;
		top_sift_down(t, 0);
	}
}

static int
top_cmp_size(const void *a, const void *b)
{
	const struct ml_info *x = a, *y = b;

	return x->size < y->size ? 1 : x->size > y->size ? -1 : 0;
}

static int
top_cmp_age(const void *a, const void *b)
{
	const struct ml_info *x = a, *y = b;

	return x->born > y->born ? 1 : x->born < y->born ? -1 : 0;
}

/* Per allocation site (the first frame of the backtrace): count, bytes. */
struct site_sum {
	uintptr_t ip;
	uint64_t  count, bytes;
};

static int
sum_cmp(const void *a, const void *b)
{
	const struct site_sum *x = a, *y = b;

	return x->bytes < y->bytes ? 1 : x->bytes > y->bytes ? -1 : 0;
}

static struct site_sum *
site_slot(struct site_sum *t, size_t cap, uintptr_t ip)
{
	size_t k = (size_t)((ip * 0x9e3779b97f4a7c15u) >> 20) & (cap - 1);

	while (t[k].count != 0 && t[k].ip != ip)
		k = (k + 1) & (cap - 1);
	return &t[k];
}

static bool
sites_grow(struct site_sum **t, size_t *cap)
{
	size_t ncap = *cap ? *cap * 2 : 256;
	struct site_sum *nt = calloc(ncap, sizeof *nt);

	if (nt == NULL)
		return false;
	for (size_t k = 0; k < *cap; k++)
		if ((*t)[k].count != 0)
			*site_slot(nt, ncap, (*t)[k].ip) = (*t)[k];
	free(*t);
	*t = nt;
	*cap = ncap;
	return true;
}

/* Sites, the most bytes first. */
static json_t *
list_by_site(struct ml_core *c, const struct filter *fl, uint64_t now,
    uint64_t limit, struct fail *f)
{
	struct ml_info page[256];
	struct site_sum *sum = NULL;    /* open addressing by ip; count 0: free */
	size_t nsum = 0, cap = 0;
	uint32_t cursor = 0;
	int n;

	while ((n = ml_core_list(c, &cursor, page, 256)) > 0) {
		for (int i = 0; i < n; i++) {
			uintptr_t ip = 0;
			if (!filter_ok(fl, &page[i], now))
				continue;
			ml_stacks_get(page[i].stack, &ip, 1);
			if ((nsum + 1) * 2 > cap && !sites_grow(&sum, &cap)) {
				free(sum);
				return failed(f, "ENOMEM", "out of memory");
			}
			struct site_sum *x = site_slot(sum, cap, ip);
			if (x->count == 0) {
				x->ip = ip;
				nsum++;
			}
			x->count++;
			x->bytes += page[i].size;
		}
	}
	/* the used slots to the front, then the biggest first (none: sum is
	 * NULL, which qsort() must not be given) */
	size_t used = 0;
	for (size_t k = 0; k < cap; k++)
		if (sum[k].count != 0)
			sum[used++] = sum[k];
	if (nsum > 0)
		qsort(sum, nsum, sizeof *sum, sum_cmp);
	json_t *sites = json_array();
	for (size_t k = 0; k < nsum && (limit == 0 || k < limit); k++) {
		json_t *o = json_object();
		json_object_set_new(o, "count", json_integer(
		    (json_int_t)sum[k].count));
		json_object_set_new(o, "bytes", json_integer(
		    (json_int_t)sum[k].bytes));
		json_object_set_new(o, "site", sum[k].ip != 0 ?
		    frame_json(sum[k].ip) : json_null());
		json_array_append_new(sites, o);
	}
	free(sum);
	json_t *o = json_object();
	json_object_set_new(o, "sites", sites);
	return o;
}

static json_t *
list_sorted(struct ml_core *c, const struct filter *fl, uint64_t now,
    bool by_size, uint64_t limit, struct fail *f)
{
	struct ml_info page[256];
	struct top t = { NULL, 0, (size_t)limit, by_size };
	uint32_t cursor = 0;
	int n;

	if (limit == 0 || limit > ML_PROTO_TOP_MAX)
		return failed(f, "EINVAL", "a sorted listing needs a \"limit\" "
		    "from 1 to %d (sort a whole listing on the client)",
		    ML_PROTO_TOP_MAX);
	if ((t.v = malloc(t.max * sizeof *t.v)) == NULL)
		return failed(f, "ENOMEM", "out of memory");
	while ((n = ml_core_list(c, &cursor, page, 256)) > 0)
		for (int i = 0; i < n; i++)
			if (filter_ok(fl, &page[i], now))
				top_add(&t, &page[i]);
	qsort(t.v, t.n, sizeof *t.v, by_size ? top_cmp_size : top_cmp_age);
	json_t *leases = json_array();
	for (size_t i = 0; i < t.n; i++)
		json_array_append_new(leases, lease_json(&t.v[i], now));
	free(t.v);
	json_t *o = json_object();
	json_object_set_new(o, "leases", leases);
	json_object_set_new(o, "next", json_null());
	return o;
}

static json_t *
cmd_list(json_t *req, struct fail *f)
{
	struct filter fl;
	uint64_t limit, cursor;
	const char *sort;
	struct ml_core *c = core_or_fail(f);
	uint64_t now = ml_clock_ms();

	if (c == NULL ||
	    !arg_uint(req, "older_than_ms", 0, UINT64_MAX >> 1,
	    &fl.older_than, f) ||
	    !arg_str(req, "label", &fl.label, f) ||
	    !arg_str(req, "state", &fl.state, f) ||
	    !arg_str(req, "sort", &sort, f) ||
	    !arg_uint(req, "limit", 0, UINT32_MAX, &limit, f) ||
	    !arg_uint(req, "cursor", 0, UINT32_MAX, &cursor, f))
		return NULL;
	if (fl.state != NULL && strcmp(fl.state, "live") != 0 &&
	    strcmp(fl.state, "pinned") != 0 && strcmp(fl.state, "overdue") !=
	    0 && strcmp(fl.state, "released") != 0)
		return failed(f, "EINVAL", "\"state\" is live, pinned, overdue "
		    "or released");
	if (json_is_true(json_object_get(req, "by_site")))
		return list_by_site(c, &fl, now, limit, f);
	if (sort != NULL) {
		if (strcmp(sort, "age") != 0 && strcmp(sort, "size") != 0)
			return failed(f, "EINVAL", "\"sort\" is age or size");
		return list_sorted(c, &fl, now, strcmp(sort, "size") == 0,
		    limit, f);
	}

	/* A page in table order, from the cursor (an entry index). */
	struct ml_info page[64];
	struct text t = { NULL, 0, 0, false };
	uint32_t at = (uint32_t)cursor;
	uint64_t want = limit != 0 && limit < ML_PROTO_PAGE ? limit :
	    ML_PROTO_PAGE, count = 0;
	bool more = true;
	put(&t, "{\"leases\":[");
	while (count < want) {
		int n = ml_core_list(c, &at, page, 64);
		if (n == 0) {
			more = false;
			break;
		}
		for (int i = 0; i < n; i++) {
			if (!filter_ok(&fl, &page[i], now))
				continue;
			if (count == want) {
				/* the next page starts at this lease */
				at = (uint32_t)page[i].h - 1;
				break;
			}
			if (count++ != 0)
				put(&t, ",");
			lease_put(&t, &page[i], now);
		}
	}
	if (more && limit == 0)
		put(&t, "],\"next\":%" PRIu32 "}", at);
	else
		put(&t, "],\"next\":null}");
	if (t.oom) {
		free(t.p);
		return failed(f, "ENOMEM", "out of memory");
	}
	f->raw = t.p;
	return json_null();     /* the result is f->raw */
}

static json_t *
cmd_show(json_t *req, struct fail *f)
{
	struct ml_info in;
	uintptr_t ips[ML_STACK_MAX_DEPTH];
	memlease_t h;
	struct ml_core *c = core_or_fail(f);
	int r;

	if (c == NULL || !arg_id(req, &h, f))
		return NULL;
	if ((r = ml_core_info(c, h, &in)) != 0)
		return failed(f, errno_code(-r), "lease %#" PRIx64 ": %s", h,
		    r == -ESTALE ? "no such lease (ended, or never made)" :
		    strerror(-r));
	json_t *o = lease_json(&in, ml_clock_ms());
	json_t *bt = json_array();
	int n = ml_stacks_get(in.stack, ips, ML_STACK_MAX_DEPTH);
	for (int i = 0; i < n; i++)
		json_array_append_new(bt, frame_json(ips[i]));
	json_object_set_new(o, "backtrace", bt);
	return o;
}

static json_t *
cmd_renew(json_t *req, struct fail *f)
{
	memlease_t h;
	uint64_t ttl;
	int r;

	if (!arg_id(req, &h, f) ||
	    !arg_uint(req, "ttl_ms", 0, UINT64_MAX >> 24, &ttl, f))
		return NULL;
	if (json_object_get(req, "ttl_ms") == NULL)
		return failed(f, "EINVAL", "\"ttl_ms\" is required (0: no "
		    "timeout)");
	if ((r = memlease_renew(h, ttl)) != 0)
		return failed(f, errno_code(-r), "lease %#" PRIx64 ": %s", h,
		    strerror(-r));
	return json_object();
}

static json_t *
cmd_expire(json_t *req, struct fail *f)
{
	memlease_t h;
	int r;

	if (!arg_id(req, &h, f))
		return NULL;
	if ((r = ml_api_expire(h)) != 0)
		return failed(f, errno_code(-r), "lease %#" PRIx64 ": %s", h,
		    r == -EBUSY ? "pinned: it expires at its last unpin" :
		    strerror(-r));
	return json_object();
}

static json_t *
rules_result(void)
{
	char *text = ml_tag_rules_text();
	json_t *o = json_object();

	json_object_set_new(o, "rules", text != NULL ? json_string(text) :
	    json_null());
	ml_real_free(text);
	return o;
}

static json_t *
cmd_rules(json_t *req, struct fail *f)
{
	struct ml_rules_error err;
	const char *op, *text;
	char *now = NULL;
	int r;

	if (!arg_str(req, "op", &op, f) || !arg_str(req, "rules", &text, f))
		return NULL;
	if (op == NULL || strcmp(op, "get") == 0)
		return rules_result();
	if (strcmp(op, "clear") == 0) {
		r = ml_tag_set_rules("", &err);
	} else if (strcmp(op, "set") == 0 || strcmp(op, "add") == 0) {
		if (text == NULL)
			return failed(f, "EINVAL", "\"rules\" is required");
		if (strcmp(op, "add") == 0) {
			char *cur = ml_tag_rules_text();
			if (cur == NULL || asprintf(&now, "%s\n%s", cur, text) < 0)
				now = NULL;
			ml_real_free(cur);
			if (now == NULL)
				return failed(f, "ENOMEM", "out of memory");
			text = now;
		}
		r = ml_tag_set_rules(text, &err);
	} else {
		return failed(f, "EINVAL", "\"op\" is get, set, add or clear");
	}
	free(now);
	if (r != 0 && err.line > 0)
		return failed(f, "EINVAL", "%d:%d: %s", err.line, err.column,
		    err.msg);
	if (r != 0)
		return failed(f, "EINVAL", "%s", err.msg);
	return rules_result();
}

static json_t *
cmd_watch(json_t *req, struct fail *f)
{
	json_t *o = json_object();

	(void)req;
	(void)f;
	json_object_set_new(o, "watching", json_true());
	return o;
}

static const struct {
	const char *name;
	cmd_fn      fn;
} commands[] = {
	{ "hello",  cmd_hello },
	{ "stats",  cmd_stats },
	{ "list",   cmd_list },
	{ "show",   cmd_show },
	{ "renew",  cmd_renew },
	{ "expire", cmd_expire },
	{ "rules",  cmd_rules },
	{ "watch",  cmd_watch },
};

/* A failure's message as a JSON string.  It may quote the request (a
 * command's name, the token jansson stopped at), bytes that are not UTF-8
 * or a character cut by a length limit: those become '?'. */
static json_t *
message_json(char *msg)
{
	json_t *s = json_string(msg);

	if (s != NULL)
		return s;
	for (char *p = msg; *p != '\0'; p++)
		if ((unsigned char)*p >= 0x80)
			*p = '?';
	return json_string(msg);
}

/* The response line for id (NULL: none given), a result or a failure. */
static char *
respond(json_t *id, json_t *result, struct fail *f, size_t *len)
{
	if (result != NULL && f->raw != NULL) {
		char *ids = json_dumps(id != NULL ? id : json_null(),
		    JSON_ENCODE_ANY | JSON_COMPACT | JSON_ENSURE_ASCII), *line;
		int n = ids == NULL ? -1 : asprintf(&line,
		    "{\"id\":%s,\"ok\":true,\"result\":%s}\n", ids, f->raw);
		free(ids);
		json_decref(result);
		if (n < 0)
			return NULL;
		*len = (size_t)n;
		return line;
	}
	json_t *o = json_object();

	json_object_set(o, "id", id != NULL ? id : json_null());
	json_object_set_new(o, "ok", json_boolean(result != NULL));
	if (result != NULL) {
		json_object_set_new(o, "result", result);
	} else {
		json_t *e = json_object();
		json_object_set_new(e, "code", json_string(f->code));
		json_object_set_new(e, "message", message_json(f->msg));
		json_object_set_new(o, "error", e);
	}
	char *line = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
	json_decref(o);
	if (line == NULL)
		return NULL;
	size_t n = strlen(line);
	char *out = realloc(line, n + 2);
	if (out == NULL) {
		free(line);
		return NULL;
	}
	out[n] = '\n';
	out[n + 1] = '\0';
	*len = n + 1;
	return out;
}

int
ml_proto_handle(const char *req, size_t len, char **resp, size_t *resp_len)
{
	struct fail f = { "EINVAL", "", NULL };
	json_error_t jerr;
	json_t *result = NULL, *id = NULL, *o = NULL;
	int r = 0;

	if (len >= ML_PROTO_MAX_LINE) {
		failed(&f, "E2BIG", "a request is at most %d bytes",
		    ML_PROTO_MAX_LINE - 1);
	} else if ((o = json_loadb(req, len, JSON_REJECT_DUPLICATES,
	    &jerr)) == NULL) {
		failed(&f, "EINVAL", "not JSON: %s (column %d)", jerr.text,
		    jerr.column);
	} else if (!json_is_object(o)) {
		failed(&f, "EINVAL", "a request is a JSON object");
	} else {
		id = json_object_get(o, "id");
		json_t *cmd = json_object_get(o, "cmd");
		size_t i = 0;
		if (!json_is_string(cmd)) {
			failed(&f, "EINVAL", "\"cmd\" is missing");
		} else {
			for (; i < sizeof commands / sizeof *commands; i++)
				if (strcmp(commands[i].name,
				    json_string_value(cmd)) == 0)
					break;
			if (i == sizeof commands / sizeof *commands)
				failed(&f, "EINVAL", "unknown command \"%.64s\"",
				    json_string_value(cmd));
			else
				result = commands[i].fn(o, &f);
			if (result != NULL && commands[i].fn == cmd_watch)
				r = ML_PROTO_WATCH;
		}
	}
	*resp = respond(id, result, &f, resp_len);
	free(f.raw);
	json_decref(o);
	return r;
}
