/*
 * proto.c - the control protocol's request handler (see proto.h).
 *
 * Each command is one function from the request's object to a result
 * object or an error; a table names them.  The handler reads the process's
 * state through the core's and the tracking layer's own calls, each of
 * which takes its own lock: nothing here holds a lock while it builds JSON.
 * Must run with the recursion guard held (memlease's thread, or tests).
 *
 * Out of memory: jansson says so with a NULL from a constructor or a
 * failed set.  Results are built with set() and append(), which note it
 * in the command's `struct fail`, and such a result is answered ENOMEM,
 * never sent with a field missing.  Text is made with dump(), never
 * json_dumps(): that one may leave out a key it could not copy and return
 * what is not JSON.  Memory of memlease's own comes from mem.h.
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

#include "clock.h"
#include "core.h"
#include "fault.h"
#include "guard.h"
#include "mem.h"
#include "proto.h"
#include "real.h"
#include "rules.h"
#include "runtime.h"
#include "stacks.h"
#include "block.h"
#include "decide.h"

/* A command's failure: an errno name and a message. */
struct fail {
	const char *code;       /* NULL: none (yet) */
	char        msg[256];
	char       *raw;        /* a result written as JSON text (mem.h) */
	bool        nomem;      /* a part of the result could not be made */
};

typedef json_t *(*cmd_fn)(json_t *req, struct fail *f);

#ifdef ML_FAULT_INJECTION
/*
 * Fault-injection builds only: jansson's own allocations (objects, their
 * tables, json_dumps() buffers, the parser's) fail as memlease's do, but
 * only with the recursion guard held (memlease's thread, or a test acting
 * as it), so that the host's own jansson calls never fail.  jansson's
 * allocator is process-wide: a shipped build never changes it.  Both
 * functions are the next allocator's (mem.h), as the C library's are
 * underneath, so blocks made before this runs are freed alike.
 */
static void *
json_alloc(size_t n)
{
	return ml_guard_held() ? ml_mem_malloc(n) : ml_real_malloc(n);
}

__attribute__((constructor)) static void
json_faults(void)
{
	json_set_alloc_funcs(json_alloc, ml_mem_free);
}
#endif

/* o[key] = v (taken); a NULL v or a failed set is out of memory. */
static void
set(json_t *o, const char *key, json_t *v, struct fail *f)
{
	if (json_object_set_new(o, key, v) != 0)
		f->nomem = true;
}

static void
append(json_t *a, json_t *v, struct fail *f)
{
	if (json_array_append_new(a, v) != 0)
		f->nomem = true;
}

/* v as JSON text (mem.h), `extra` bytes of room after it for the caller,
 * NUL-terminated; NULL if out of memory.  json_dumpb() into a buffer of
 * the size it measured cannot lose a part of its output. */
static char *
dump(const json_t *v, size_t flags, size_t extra, size_t *len)
{
	size_t n = json_dumpb(v, NULL, 0, flags);
	char *text = n == 0 ? NULL : ml_mem_malloc(n + extra + 1);

	if (text == NULL)
		return NULL;
	if (json_dumpb(v, text, n, flags) != n) {
		ml_mem_free(text);
		return NULL;
	}
	text[n] = '\0';
	*len = n;
	return text;
}

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
	return ml_wire_state_name(in->released ? ML_WIRE_RELEASED :
	    in->overdue ? ML_WIRE_OVERDUE : in->pins != 0 ? ML_WIRE_PINNED :
	    ML_WIRE_LIVE);
}

static const char *
kind_of(unsigned kind)
{
	switch (kind) {
	case ML_KIND_BUFFER:  return ml_wire_kind_name(ML_WIRE_BUFFER);
	case ML_KIND_REPORT:  return ml_wire_kind_name(ML_WIRE_TAGGED);
	case ML_KIND_FREE:    return ml_wire_kind_name(ML_WIRE_TAGGED_FREE);
	case ML_KIND_RECLAIM: return ml_wire_kind_name(ML_WIRE_TAGGED_RECLAIM);
	case ML_KIND_ABORT:   return ml_wire_kind_name(ML_WIRE_TAGGED_ABORT);
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
lease_json(const struct ml_info *in, uint64_t now, struct fail *f)
{
	json_t *o = json_object();

	set(o, "id", hex(in->h), f);
	set(o, "size", json_integer((json_int_t)in->size), f);
	set(o, "age_ms", json_integer(now > in->born ?
	    (json_int_t)(now - in->born) : 0), f);
	if (in->deadline == ML_NO_DEADLINE || in->released)
		set(o, "expires_in_ms", json_null(), f);
	else
		set(o, "expires_in_ms", json_integer(in->deadline > now ?
		    (json_int_t)(in->deadline - now) : 0), f);
	set(o, "label", in->label[0] != '\0' ? json_string(in->label) :
	    json_null(), f);
	set(o, "state", json_string(state_of(in)), f);
	set(o, "kind", json_string(kind_of(in->kind)), f);
	set(o, "pins", json_integer(in->pins), f);
	set(o, "releases", json_integer(in->releases), f);
	set(o, "addr", hex((uintptr_t)in->buf), f);
	return o;
}

static json_t *
frame_json(uintptr_t ip, struct fail *f)
{
	struct ml_frame fr;
	json_t *o = json_object();

	ml_stacks_symbolize(ip, &fr);
	set(o, "function", json_string(fr.function), f);
	set(o, "offset", json_integer((json_int_t)fr.offset), f);
	set(o, "object", json_string(fr.object), f);
	set(o, "ip", hex(ip), f);
	return o;
}

/* A page of leases as JSON text, written directly: building a jansson
 * object a lease costs several times more than the listing itself. */
struct text {
	char   *p;
	size_t  len, cap;
	bool    oom;
};

/* Room for n more bytes at t->p + t->len: false if out of memory. */
static bool
room(struct text *t, size_t n)
{
	if (t->oom)
		return false;
	if (t->cap - t->len > n)
		return true;
	size_t cap = t->cap ? t->cap * 2 : 65536;
	while (cap - t->len <= n)
		cap *= 2;
	char *m = ml_mem_realloc(t->p, cap);
	if (m == NULL) {
		t->oom = true;
		return false;
	}
	t->p = m;
	t->cap = cap;
	return true;
}

static void
put(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
put(struct text *t, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || !room(t, (size_t)n))
		return;
	va_start(ap, fmt);
	t->len += (size_t)vsnprintf(t->p + t->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
}

/* A lease's fields, written by hand: printf's machinery was three
 * quarters of a listing's cost.  Each returns the end of what it wrote. */
static char *
put_str(char *p, const char *s)
{
	size_t n = strlen(s);

	memcpy(p, s, n);
	return p + n;
}

static char *
put_u64(char *p, uint64_t v)
{
	char digits[20];
	int n = 0;

	do
		digits[n++] = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	while (n > 0)
		*p++ = digits[--n];
	return p;
}

/* As printf's "%#" PRIx64: 0x1f, and 0 for 0. */
static char *
put_hex(char *p, uint64_t v)
{
	int shift = 60;

	if (v == 0)
		return put_str(p, "0");
	p = put_str(p, "0x");
	while ((v >> shift) == 0)
		shift -= 4;
	for (; shift >= 0; shift -= 4)
		*p++ = "0123456789abcdef"[(v >> shift) & 15];
	return p;
}

/* Bytes a lease takes at most, less its label: the keys and quotes, five
 * numbers of at most 20 digits, two of at most 18 hex digits, the state
 * and kind words. */
#define LEASE_TEXT_MAX 384

static void
lease_put(struct text *t, const struct ml_info *in, uint64_t now)
{
	char *label = NULL;
	size_t len;

	if (in->label[0] != '\0') {
		json_t *l = json_string(in->label);
		label = l != NULL ? dump(l, JSON_ENCODE_ANY | JSON_ENSURE_ASCII,
		    0, &len) : NULL;
		json_decref(l);
		if (label == NULL)
			t->oom = true;  /* never "label":null for a label */
	}
	if (!room(t, LEASE_TEXT_MAX + (label != NULL ? strlen(label) : 0))) {
		ml_mem_free(label);
		return;
	}
	char *p = t->p + t->len;
	p = put_str(p, "{\"id\":\"");
	p = put_hex(p, in->h);
	p = put_str(p, "\",\"size\":");
	p = put_u64(p, in->size);
	p = put_str(p, ",\"age_ms\":");
	p = put_u64(p, now > in->born ? now - in->born : 0);
	p = put_str(p, ",\"expires_in_ms\":");
	if (in->deadline == ML_NO_DEADLINE || in->released)
		p = put_str(p, "null");
	else
		p = put_u64(p, in->deadline > now ? in->deadline - now : 0);
	p = put_str(p, ",\"label\":");
	p = put_str(p, label != NULL ? label : "null");
	p = put_str(p, ",\"state\":\"");
	p = put_str(p, state_of(in));
	p = put_str(p, "\",\"kind\":\"");
	p = put_str(p, kind_of(in->kind));
	p = put_str(p, "\",\"pins\":");
	p = put_u64(p, in->pins);
	p = put_str(p, ",\"releases\":");
	p = put_u64(p, in->releases);
	p = put_str(p, ",\"addr\":\"");
	p = put_hex(p, (uintptr_t)in->buf);
	p = put_str(p, "\"}");
	t->len = (size_t)(p - t->p);
	ml_mem_free(label);
}

/* Commands. */

static struct ml_core *
core_or_fail(struct fail *f)
{
	struct ml_core *c = ml_runtime_core();

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
	set(o, "proto", json_integer(ML_PROTO_VERSION), f);
	set(o, "pid", json_integer(getpid()), f);
	set(o, "version", json_string(PACKAGE_VERSION), f);
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	exe[n > 0 ? n : 0] = '\0';
	set(o, "program", json_string(exe), f);
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
	ml_runtime_stats(&st);
	ml_core_live_kinds(c, kinds);
	for (unsigned k = ML_KIND_REPORT; k <= ML_KIND_MAX; k++)
		tagged += kinds[k];
	json_t *o = json_object();
	set(o, "pid", json_integer(getpid()), f);
	set(o, "live_leases", json_integer((json_int_t)st.live_leases), f);
	set(o, "live_bytes", json_integer((json_int_t)st.live_bytes), f);
	set(o, "tagged", json_integer((json_int_t)tagged), f);
	set(o, "allocated", json_integer((json_int_t)st.allocated), f);
	set(o, "released", json_integer((json_int_t)st.released), f);
	set(o, "expired", json_integer((json_int_t)st.expired), f);
	set(o, "reclaimed", json_integer((json_int_t)st.reclaimed), f);
	set(o, "pinned", json_integer((json_int_t)st.pinned), f);
	set(o, "overdue", json_integer((json_int_t)st.overdue), f);
	set(o, "entry_blocks", json_integer((json_int_t)st.entry_blocks), f);
	set(o, "entries_per_block", json_integer(
	    (json_int_t)st.entries_per_block), f);
	set(o, "bookkeeping_bytes", json_integer(
	    (json_int_t)st.bookkeeping_bytes), f);
	set(o, "stacks", json_integer(ml_stacks_count()), f);
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
	struct site_sum *nt = ml_mem_calloc(ncap, sizeof *nt);

	if (nt == NULL)
		return false;
	for (size_t k = 0; k < *cap; k++)
		if ((*t)[k].count != 0)
			*site_slot(nt, ncap, (*t)[k].ip) = (*t)[k];
	ml_mem_free(*t);
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
				ml_mem_free(sum);
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
		set(o, "count", json_integer((json_int_t)sum[k].count), f);
		set(o, "bytes", json_integer((json_int_t)sum[k].bytes), f);
		set(o, "site", sum[k].ip != 0 ? frame_json(sum[k].ip, f) :
		    json_null(), f);
		append(sites, o, f);
	}
	ml_mem_free(sum);
	json_t *o = json_object();
	set(o, "sites", sites, f);
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
	if ((t.v = ml_mem_malloc(t.max * sizeof *t.v)) == NULL)
		return failed(f, "ENOMEM", "out of memory");
	while ((n = ml_core_list(c, &cursor, page, 256)) > 0)
		for (int i = 0; i < n; i++)
			if (filter_ok(fl, &page[i], now))
				top_add(&t, &page[i]);
	qsort(t.v, t.n, sizeof *t.v, by_size ? top_cmp_size : top_cmp_age);
	json_t *leases = json_array();
	for (size_t i = 0; i < t.n; i++)
		append(leases, lease_json(&t.v[i], now, f), f);
	ml_mem_free(t.v);
	json_t *o = json_object();
	set(o, "leases", leases, f);
	set(o, "next", json_null(), f);
	return o;
}

static json_t *
cmd_list(json_t *req, struct fail *f)
{
	struct filter fl;
	enum ml_wire_state state;
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
	if (fl.state != NULL && ml_wire_state_parse(fl.state, &state) != 0)
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
		ml_mem_free(t.p);
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
	json_t *o = lease_json(&in, ml_clock_ms(), f);
	json_t *bt = json_array();
	int n = ml_stacks_get(in.stack, ips, ML_STACK_MAX_DEPTH);
	for (int i = 0; i < n; i++)
		append(bt, frame_json(ips[i], f), f);
	set(o, "backtrace", bt, f);
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
	if ((r = ml_runtime_renew(h, ttl)) != 0)
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
	if ((r = ml_runtime_expire(h)) != 0)
		return failed(f, errno_code(-r), "lease %#" PRIx64 ": %s", h,
		    r == -EBUSY ? "pinned: it expires at its last unpin" :
		    strerror(-r));
	return json_object();
}

static json_t *
rules_result(struct fail *f)
{
	char *text = ml_decide_rules_text();
	json_t *o = json_object();

	set(o, "rules", text != NULL ? json_string(text) : NULL, f);
	ml_mem_free(text);
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
		return rules_result(f);
	if (strcmp(op, "clear") == 0) {
		r = ml_decide_set_rules("", &err);
	} else if (strcmp(op, "set") == 0 || strcmp(op, "add") == 0) {
		if (text == NULL)
			return failed(f, "EINVAL", "\"rules\" is required");
		if (strcmp(op, "add") == 0) {
			char *cur = ml_decide_rules_text();
			if (cur == NULL ||
			    ml_mem_asprintf(&now, "%s\n%s", cur, text) < 0)
				now = NULL;
			ml_mem_free(cur);
			if (now == NULL)
				return failed(f, "ENOMEM", "out of memory");
			text = now;
		}
		r = ml_decide_set_rules(text, &err);
	} else {
		return failed(f, "EINVAL", "\"op\" is get, set, add or clear");
	}
	ml_mem_free(now);
	if (r != 0 && err.nomem)
		return failed(f, "ENOMEM", "out of memory; the rules in force "
		    "are unchanged");
	if (r != 0 && err.line > 0)
		return failed(f, "EINVAL", "%d:%d: %s", err.line, err.column,
		    err.msg);
	if (r != 0)
		return failed(f, "EINVAL", "%s", err.msg);
	return rules_result(f);
}

static json_t *
cmd_watch(json_t *req, struct fail *f)
{
	json_t *o = json_object();

	(void)req;
	set(o, "watching", json_true(), f);
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

/* The response line for id (NULL: none given), a result or a failure;
 * NULL if out of memory.  Takes result. */
static char *
respond(json_t *id, json_t *result, struct fail *f, size_t *len)
{
	char *line;
	size_t n;

	if (result != NULL && f->raw != NULL) {
		char *ids = dump(id != NULL ? id : json_null(), JSON_ENCODE_ANY |
		    JSON_COMPACT | JSON_ENSURE_ASCII, 0, &n);
		int r = ids == NULL ? -1 : ml_mem_asprintf(&line,
		    "{\"id\":%s,\"ok\":true,\"result\":%s}\n", ids, f->raw);
		ml_mem_free(ids);
		json_decref(result);
		if (r < 0)
			return NULL;
		*len = (size_t)r;
		return line;
	}
	json_t *o = json_object();
	struct fail built = { .nomem = false };

	if (json_object_set(o, "id", id != NULL ? id : json_null()) != 0)
		built.nomem = true;
	set(o, "ok", json_boolean(result != NULL), &built);
	if (result != NULL) {
		set(o, "result", result, &built);
	} else {
		json_t *e = json_object();
		set(e, "code", json_string(f->code), &built);
		set(e, "message", message_json(f->msg), &built);
		set(o, "error", e, &built);
	}
	line = built.nomem ? NULL : dump(o, JSON_COMPACT | JSON_ENSURE_ASCII,
	    1, &n);
	json_decref(o);
	if (line == NULL)
		return NULL;
	line[n] = '\n';
	line[n + 1] = '\0';
	*len = n + 1;
	return line;
}

/* Whether jansson failed to parse for want of memory, not for the text:
 * it says so, or (a failure before it reads) says nothing at all. */
static bool
parse_nomem(const json_error_t *jerr)
{
	if (jerr->text[0] == '\0')
		return true;
#if JANSSON_VERSION_HEX >= 0x020b00
	return json_error_code(jerr) == json_error_out_of_memory;
#else
	return strstr(jerr->text, "out of memory") != NULL;
#endif
}

int
ml_proto_handle(const char *req, size_t len, char **resp, size_t *resp_len)
{
	struct fail f = { NULL, "", NULL, false };
	json_error_t jerr;
	json_t *result = NULL, *id = NULL, *o = NULL;
	int r = 0;

	if (len >= ML_PROTO_MAX_LINE) {
		failed(&f, "E2BIG", "a request is at most %d bytes",
		    ML_PROTO_MAX_LINE - 1);
	} else if ((o = json_loadb(req, len, JSON_REJECT_DUPLICATES,
	    &jerr)) == NULL) {
		if (parse_nomem(&jerr))
			f.nomem = true;
		else
			failed(&f, "EINVAL", "not JSON: %s (column %d)",
			    jerr.text, jerr.column);
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
	/* A result short of a part, or no result and no reason: jansson
	 * ran out of memory.  What the command did stands. */
	if (f.nomem || (result == NULL && f.code == NULL)) {
		json_decref(result);
		result = NULL;
		r = 0;
		failed(&f, "ENOMEM", "out of memory: the answer could not be "
		    "made (what the command does may have been done)");
	}
	*resp = respond(id, result, &f, resp_len);
	ml_mem_free(f.raw);
	json_decref(o);
	return r;
}
