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
 * failed set.  Small results are built with set(), which notes it in the
 * command's `struct fail`, and such a result is answered ENOMEM, never
 * sent with a field missing.  Text is made with dump(), never
 * json_dumps(): that one may leave out a key it could not copy and return
 * what is not JSON.  Leases and frames (listings, "show") are written as
 * text by json.h, the writer of the log's events too, and answered whole
 * or ENOMEM (raw()).  Memory of memlease's own comes from mem.h.
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
#include "json.h"
#include "listing.h"
#include "mem.h"
#include "proto.h"
#include "real.h"
#include "report.h"
#include "rules.h"
#include "runtime.h"
#include "stackid.h"
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
static __thread bool json_failed;

static void *
json_alloc(size_t n)
{
	void *p = ml_guard_held() ? ml_mem_malloc(n) : ml_real_malloc(n);

	if (p == NULL)
		json_failed = true;
	return p;
}

/*
 * Whether an allocation of jansson's failed since the last call.  Its
 * parser drops a byte of a string it cannot grow its buffer for and goes
 * on: "ttl=1s" would be read as "ttl=s" and refused as if the client had
 * sent that, so a request parsed through a failure is out of memory.
 */
static bool
json_alloc_failed(void)
{
	bool r = json_failed;

	json_failed = false;
	return r;
}

__attribute__((constructor)) static void
json_faults(void)
{
	json_set_alloc_funcs(json_alloc, ml_mem_free);
}
#else
static bool
json_alloc_failed(void)
{
	return false;
}
#endif

/* o[key] = v (taken); a NULL v or a failed set is out of memory. */
static void
set(json_t *o, const char *key, json_t *v, struct fail *f)
{
	if (json_object_set_new(o, key, v) != 0)
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

/* An optional array of globs, "skip": sk borrows the strings. */
static bool
arg_skip(json_t *req, struct ml_stackid_skip *sk, struct fail *f)
{
	json_t *v = json_object_get(req, "skip"), *g;
	size_t i;

	sk->n = 0;
	if (v == NULL || json_is_null(v))
		return true;
	if (!json_is_array(v) || json_array_size(v) > ML_STACKID_SKIP_MAX) {
		failed(f, "EINVAL", "\"skip\" must be an array of at most %d "
		    "globs", ML_STACKID_SKIP_MAX);
		return false;
	}
	json_array_foreach(v, i, g) {
		if (!json_is_string(g)) {
			failed(f, "EINVAL", "\"skip\" must be an array of "
			    "strings (globs of function names)");
			return false;
		}
		sk->glob[sk->n++] = json_string_value(g);
	}
	return true;
}

/* A result written as JSON text (json.h), whole: f->raw; or ENOMEM. */
static json_t *
raw(struct ml_json *j, struct fail *f)
{
	if (j->oom) {
		ml_mem_free(j->p);
		return failed(f, "ENOMEM", "out of memory");
	}
	f->raw = j->p;
	return json_null();     /* the result is f->raw */
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
	set(o, "sampled", json_integer((json_int_t)st.sampled), f);
	set(o, "estimated", json_boolean(st.sampled != 0), f);
	set(o, "estimated_leases", json_integer(
	    (json_int_t)st.estimated_leases), f);
	set(o, "estimated_bytes", json_integer(
	    (json_int_t)st.estimated_bytes), f);
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
	set(o, "reports_dropped", json_integer(
	    (json_int_t)ml_report_dropped()), f);
	return o;
}

static json_t *
cmd_list(json_t *req, struct fail *f)
{
	struct ml_listing_filter fl;
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
	struct ml_json t = { 0 };
	if (json_is_true(json_object_get(req, "by_stack"))) {
		struct ml_stackid_skip skip;
		uint64_t depth;
		if (sort != NULL)
			return failed(f, "EINVAL", "\"sort\" does not apply "
			    "to \"by_stack\": stacks come the most bytes first");
		if (!arg_uint(req, "depth", 0, UINT32_MAX, &depth, f) ||
		    !arg_skip(req, &skip, f))
			return NULL;
		if (depth > ML_STACK_MAX_DEPTH)
			depth = 0;      /* deeper than any stack kept */
		ml_listing_stacks(c, &fl, now, &skip, (int)depth, limit, &t);
		return raw(&t, f);
	}
	if (json_is_true(json_object_get(req, "by_site"))) {
		if (sort != NULL)
			return failed(f, "EINVAL", "\"sort\" does not apply "
			    "to \"by_site\": sites come the most bytes first");
		ml_listing_sites(c, &fl, now, limit, &t);
		return raw(&t, f);
	}
	if (sort != NULL) {
		if (strcmp(sort, "age") != 0 && strcmp(sort, "size") != 0)
			return failed(f, "EINVAL", "\"sort\" is age or size");
		if (limit == 0 || limit > ML_PROTO_TOP_MAX)
			return failed(f, "EINVAL", "a sorted listing needs a "
			    "\"limit\" from 1 to %d (sort a whole listing on the "
			    "client)", ML_PROTO_TOP_MAX);
		ml_listing_sorted(c, &fl, now, strcmp(sort, "size") == 0,
		    limit, &t);
		return raw(&t, f);
	}
	ml_listing_page(c, &fl, now, (uint32_t)cursor, limit, &t);
	return raw(&t, f);
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
	struct ml_json j = { 0 };
	ml_json_lease(&j, &in, ml_clock_ms(), true);
	ml_json_put(&j, ",\"backtrace\":[");
	int n = ml_stacks_get(in.stack, ips, ML_STACK_MAX_DEPTH);
	for (int i = 0; i < n; i++) {
		if (i > 0)
			ml_json_put(&j, ",");
		ml_json_frames(&j, ips[i]);
	}
	ml_json_put(&j, "]}");
	return raw(&j, f);
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
			/* each rule in force a line, each line ended: the
			 * added text starts on the line after the last */
			char *cur = ml_decide_rules_text();
			if (cur == NULL ||
			    ml_mem_asprintf(&now, "%s%s", cur, text) < 0)
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
	} else if ((void)json_alloc_failed(), (o = json_loadb(req, len,
	    JSON_REJECT_DUPLICATES, &jerr)) == NULL) {
		if (parse_nomem(&jerr))
			f.nomem = true;
		else
			failed(&f, "EINVAL", "not JSON: %s (column %d)",
			    jerr.text, jerr.column);
	} else if (json_alloc_failed()) {
		f.nomem = true;
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
