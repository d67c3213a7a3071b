/*
 * reply.c - a response line of the control protocol, checked, and typed
 * views of its results (hello, stats, a lease, a frame, a site, an event,
 * a page of a listing).
 *
 * The other end is a process we do not trust to be well: whatever it
 * sends, the client reports an error or shows "-", and never reads past
 * what is there.  jansson refuses what is not JSON, nesting deeper than
 * its limit, integers that do not fit in 64 bits and strings with a NUL.
 * Here the shape is checked: every field is of the type it must be, or
 * missing (null where null has a meaning).
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "ctl.h"

static int
bad(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
bad(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/* A non-negative integer field: -1 if missing or null. */
static int
get_int(json_t *o, const char *key, int64_t *out, char *err, size_t errlen)
{
	json_t *v = json_object_get(o, key);

	*out = -1;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return bad(err, errlen, "\"%s\" is not a whole number", key);
	*out = (int64_t)json_integer_value(v);
	return 0;
}

/* A string field: NULL if missing or null. */
static int
get_str(json_t *o, const char *key, const char **out, char *err,
    size_t errlen)
{
	json_t *v = json_object_get(o, key);

	*out = NULL;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return bad(err, errlen, "\"%s\" is not a string", key);
	*out = json_string_value(v);
	return 0;
}

static int
need_object(json_t *o, const char *what, char *err, size_t errlen)
{
	return json_is_object(o) ? 0 : bad(err, errlen, "%s is not a JSON "
	    "object", what);
}

int
ctl_reply_parse(const char *line, size_t len, struct ctl_reply *r, char *err,
    size_t errlen)
{
	json_error_t jerr;
	json_t *id, *ok, *e;

	memset(r, 0, sizeof *r);
	if (len > CTL_REPLY_MAX_LINE)
		return bad(err, errlen, "a response of more than %u bytes",
		    CTL_REPLY_MAX_LINE);
	if ((r->root = json_loadb(line, len, JSON_REJECT_DUPLICATES |
	    JSON_DECODE_ANY, &jerr)) == NULL)
		return bad(err, errlen, "a response that is not JSON: %s "
		    "(column %d)", jerr.text, jerr.column);
	if (!json_is_object(r->root)) {
		ctl_reply_free(r);
		return bad(err, errlen, "a response that is not a JSON object");
	}
	id = json_object_get(r->root, "id");
	ok = json_object_get(r->root, "ok");
	if (json_is_integer(id) && json_integer_value(id) >= 0) {
		r->id = (int64_t)json_integer_value(id);
	} else if (json_is_null(id)) {
		r->id = -1;
	} else {
		ctl_reply_free(r);
		return bad(err, errlen, "a response without an \"id\"");
	}
	if (!json_is_boolean(ok)) {
		ctl_reply_free(r);
		return bad(err, errlen, "a response without \"ok\"");
	}
	r->ok = json_is_true(ok);
	if (r->ok) {
		r->result = json_object_get(r->root, "result");
		if (!json_is_object(r->result)) {
			ctl_reply_free(r);
			return bad(err, errlen, "a response without a "
			    "\"result\" object");
		}
		return 0;
	}
	e = json_object_get(r->root, "error");
	r->code = json_string_value(json_object_get(e, "code"));
	r->message = json_string_value(json_object_get(e, "message"));
	if (r->code == NULL)
		r->code = "?";
	if (r->message == NULL)
		r->message = "";
	return 0;
}

void
ctl_reply_free(struct ctl_reply *r)
{
	json_decref(r->root);
	memset(r, 0, sizeof *r);
}

int
ctl_reply_hello(json_t *o, struct ctl_hello *h, char *err, size_t errlen)
{
	if (need_object(o, "hello", err, errlen) != 0 ||
	    get_int(o, "proto", &h->proto, err, errlen) != 0 ||
	    get_int(o, "pid", &h->pid, err, errlen) != 0 ||
	    get_str(o, "version", &h->version, err, errlen) != 0 ||
	    get_str(o, "program", &h->program, err, errlen) != 0)
		return -1;
	if (h->proto < 0)
		return bad(err, errlen, "hello: no \"proto\"");
	if (h->pid <= 0 || h->pid > INT32_MAX)
		return bad(err, errlen, "hello: no process id");
	return 0;
}

#define STAT(name, help, counter, bytes) \
	{ #name, offsetof(struct ctl_stats, name), help, counter, bytes }

const struct ctl_stat_field ctl_reply_stat_fields[] = {
	STAT(live_leases, "Leases alive now.", false, false),
	STAT(live_bytes, "Bytes in live leases.", false, true),
	STAT(tagged, "Live leases made by the preload's rules.", false, false),
	STAT(pinned, "Live leases pinned now.", false, false),
	STAT(overdue, "Pinned leases past their deadline.", false, false),
	STAT(allocated, "Leases ever made.", true, false),
	STAT(released, "Leases ended by their last release.", true, false),
	STAT(expired, "Leases ended by their deadline.", true, false),
	STAT(reclaimed, "Expired leases whose memory was freed or given back.",
	    true, false),
	STAT(entry_blocks, "Entry blocks in use.", false, false),
	STAT(entries_per_block, "Lease entries in an entry block.", false,
	    false),
	STAT(bookkeeping_bytes, "Bytes memlease uses for its own tables.",
	    false, true),
	STAT(stacks, "Distinct allocation backtraces recorded.", false, false),
};
const size_t ctl_reply_nstat_fields = sizeof ctl_reply_stat_fields /
    sizeof *ctl_reply_stat_fields;

int
ctl_reply_stats(json_t *o, struct ctl_stats *st, char *err, size_t errlen)
{
	if (need_object(o, "stats", err, errlen) != 0 ||
	    get_int(o, "pid", &st->pid, err, errlen) != 0)
		return -1;
	for (size_t i = 0; i < ctl_reply_nstat_fields; i++) {
		const struct ctl_stat_field *f = &ctl_reply_stat_fields[i];
		if (get_int(o, f->name, (int64_t *)((char *)st + f->offset),
		    err, errlen) != 0)
			return -1;
	}
	return 0;
}

int
ctl_reply_lease(json_t *o, struct ctl_lease *l, char *err, size_t errlen)
{
	if (need_object(o, "a lease", err, errlen) != 0 ||
	    get_str(o, "id", &l->id, err, errlen) != 0 ||
	    get_str(o, "label", &l->label, err, errlen) != 0 ||
	    get_str(o, "state", &l->state, err, errlen) != 0 ||
	    get_str(o, "kind", &l->kind, err, errlen) != 0 ||
	    get_str(o, "addr", &l->addr, err, errlen) != 0 ||
	    get_int(o, "size", &l->size, err, errlen) != 0 ||
	    get_int(o, "age_ms", &l->age_ms, err, errlen) != 0 ||
	    get_int(o, "expires_in_ms", &l->expires_in_ms, err, errlen) != 0 ||
	    get_int(o, "pins", &l->pins, err, errlen) != 0 ||
	    get_int(o, "releases", &l->releases, err, errlen) != 0)
		return -1;
	if (l->id == NULL)
		return bad(err, errlen, "a lease without an \"id\"");
	return 0;
}

int
ctl_reply_frame(json_t *o, struct ctl_frame *fr, char *err, size_t errlen)
{
	if (need_object(o, "a frame", err, errlen) != 0 ||
	    get_str(o, "function", &fr->function, err, errlen) != 0 ||
	    get_str(o, "object", &fr->object, err, errlen) != 0 ||
	    get_str(o, "ip", &fr->ip, err, errlen) != 0 ||
	    get_int(o, "offset", &fr->offset, err, errlen) != 0)
		return -1;
	return 0;
}

int
ctl_reply_site(json_t *o, struct ctl_site *s, char *err, size_t errlen)
{
	json_t *site;

	memset(s, 0, sizeof *s);
	if (need_object(o, "a site", err, errlen) != 0 ||
	    get_int(o, "count", &s->count, err, errlen) != 0 ||
	    get_int(o, "bytes", &s->bytes, err, errlen) != 0)
		return -1;
	site = json_object_get(o, "site");
	if (site == NULL || json_is_null(site))
		return 0;
	s->known = true;
	return ctl_reply_frame(site, &s->site, err, errlen);
}

int
ctl_reply_event(json_t *o, struct ctl_event *ev, char *err, size_t errlen)
{
	if (need_object(o, "an event", err, errlen) != 0 ||
	    get_str(o, "event", &ev->event, err, errlen) != 0 ||
	    get_str(o, "id", &ev->id, err, errlen) != 0 ||
	    get_str(o, "label", &ev->label, err, errlen) != 0 ||
	    get_str(o, "addr", &ev->addr, err, errlen) != 0 ||
	    get_str(o, "action", &ev->action, err, errlen) != 0 ||
	    get_int(o, "pid", &ev->pid, err, errlen) != 0 ||
	    get_int(o, "size", &ev->size, err, errlen) != 0 ||
	    get_int(o, "age_ms", &ev->age_ms, err, errlen) != 0)
		return -1;
	if (ev->event == NULL)
		return bad(err, errlen, "an event without \"event\"");
	ev->backtrace = json_object_get(o, "backtrace");
	if (ev->backtrace != NULL && json_is_null(ev->backtrace))
		ev->backtrace = NULL;
	if (ev->backtrace != NULL && !json_is_array(ev->backtrace))
		return bad(err, errlen, "\"backtrace\" is not a list");
	return 0;
}

int
ctl_reply_page(json_t *o, const char *key, json_t **items, int64_t *next,
    char *err, size_t errlen)
{
	if (need_object(o, "a listing", err, errlen) != 0 ||
	    get_int(o, "next", next, err, errlen) != 0)
		return -1;
	*items = json_object_get(o, key);
	if (!json_is_array(*items))
		return bad(err, errlen, "a listing without \"%s\"", key);
	return 0;
}

int
ctl_reply_rules(json_t *o, const char **text, char *err, size_t errlen)
{
	if (need_object(o, "rules", err, errlen) != 0 ||
	    get_str(o, "rules", text, err, errlen) != 0)
		return -1;
	if (*text == NULL)
		*text = "";
	return 0;
}
