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
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
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

/* An offset: a whole number, or hexadecimal text ("0x1a2b", as memlease
 * writes it, as addr2line takes it); -1 if missing or null. */
static int
get_offset(json_t *o, const char *key, int64_t *out, char *err,
    size_t errlen)
{
	json_t *v = json_object_get(o, key);
	const char *t;
	char *end;

	if (v == NULL || !json_is_string(v))
		return get_int(o, key, out, err, errlen);
	t = json_string_value(v);
	errno = 0;
	unsigned long long x = strtoull(t, &end, 16);
	if (strncmp(t, "0x", 2) != 0 || end == t + 2 || *end != '\0' ||
	    errno != 0 || x > INT64_MAX)
		return bad(err, errlen, "\"%s\" is not an offset", key);
	*out = (int64_t)x;
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
	STAT(sampled, "Live leases chosen by byte sampling (sample=).", false,
	    false),
	STAT(estimated_leases, "An estimate: live leases, each sampled one "
	    "counted as the allocations it stands for.", false, false),
	STAT(estimated_bytes, "An estimate: bytes in live leases, each sampled "
	    "one counted as the bytes it stands for.", false, true),
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
	STAT(reports_dropped, "Reports counted, not written: the log reached "
	    "MEMLEASE_LOG_MAX.", true, false),
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
	json_t *inl;

	if (need_object(o, "a frame", err, errlen) != 0 ||
	    get_str(o, "function", &fr->function, err, errlen) != 0 ||
	    get_str(o, "object", &fr->object, err, errlen) != 0 ||
	    get_str(o, "ip", &fr->ip, err, errlen) != 0 ||
	    get_str(o, "file", &fr->file, err, errlen) != 0 ||
	    get_int(o, "offset", &fr->offset, err, errlen) != 0 ||
	    get_offset(o, "object_offset", &fr->object_offset, err, errlen) != 0 ||
	    get_int(o, "line", &fr->line, err, errlen) != 0)
		return -1;
	inl = json_object_get(o, "inlined");
	if (inl != NULL && !json_is_boolean(inl) && !json_is_null(inl))
		return bad(err, errlen, "\"inlined\" is not true or false");
	fr->inlined = json_is_true(inl);
	return 0;
}

int
ctl_reply_site(json_t *o, struct ctl_site *s, char *err, size_t errlen)
{
	json_t *site;

	memset(s, 0, sizeof *s);
	if (need_object(o, "a site", err, errlen) != 0 ||
	    get_int(o, "count", &s->count, err, errlen) != 0 ||
	    get_int(o, "bytes", &s->bytes, err, errlen) != 0 ||
	    get_int(o, "estimated_count", &s->est_count, err, errlen) != 0 ||
	    get_int(o, "estimated_bytes", &s->est_bytes, err, errlen) != 0)
		return -1;
	site = json_object_get(o, "site");
	if (site == NULL || json_is_null(site))
		return 0;
	s->known = true;
	return ctl_reply_frame(site, &s->site, err, errlen);
}

int
ctl_reply_stack(json_t *o, struct ctl_stack *s, char *err, size_t errlen)
{
	struct ctl_frame fr;
	json_t *v;
	size_t i;

	memset(s, 0, sizeof *s);
	if (need_object(o, "a stack", err, errlen) != 0 ||
	    get_str(o, "stack_id", &s->stack_id, err, errlen) != 0 ||
	    get_int(o, "count", &s->count, err, errlen) != 0 ||
	    get_int(o, "bytes", &s->bytes, err, errlen) != 0 ||
	    get_int(o, "oldest_ms", &s->oldest_ms, err, errlen) != 0 ||
	    get_int(o, "estimated_count", &s->est_count, err, errlen) != 0 ||
	    get_int(o, "estimated_bytes", &s->est_bytes, err, errlen) != 0)
		return -1;
	s->frames = json_object_get(o, "frames");
	if (s->frames == NULL || json_is_null(s->frames)) {
		s->frames = NULL;
		return 0;
	}
	if (!json_is_array(s->frames))
		return bad(err, errlen, "\"frames\" is not a list");
	json_array_foreach(s->frames, i, v)
		if (ctl_reply_frame(v, &fr, err, errlen) != 0)
			return -1;
	return 0;
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

/* --- a page from its text ------------------------------------------------ */

#define SCAN_DEPTH 32

struct scan {
	const char *p, *end;
	int         depth;
};

static void
scan_space(struct scan *s)
{
	while (s->p < s->end && *s->p == ' ')
		s->p++;
}

static bool
scan_char(struct scan *s, char c)
{
	scan_space(s);
	if (s->p == s->end || *s->p != c)
		return false;
	s->p++;
	return true;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* A string; its contents (escapes as sent) in [*at, *at + *len). */
static bool
scan_string(struct scan *s, const char **at, size_t *len)
{
	if (!scan_char(s, '"'))
		return false;
	*at = s->p;
	while (s->p < s->end) {
		unsigned char c = (unsigned char)*s->p++;
		if (c == '"') {
			*len = (size_t)(s->p - 1 - *at);
			return true;
		}
		if (c < 0x20 || c > 0x7e)
			return false;
		if (c != '\\')
			continue;
		if (s->p == s->end)
			return false;
		c = (unsigned char)*s->p++;
		if (c == 'u') {
			unsigned u = 0;
			for (int i = 0; i < 4; i++) {
				int h = s->p < s->end ? hexval(*s->p++) : -1;
				if (h < 0)
					return false;
				u = u << 4 | (unsigned)h;
			}
			if (u == 0 || (u >= 0xd800 && u <= 0xdfff))
				return false;
		} else if (strchr("\"\\/bfnrt", c) == NULL || c == '\0') {
			return false;
		}
	}
	return false;
}

/* An integer of at most 18 digits, so that it fits in 64 bits. */
static bool
scan_int(struct scan *s, int64_t *v)
{
	bool neg;
	int digits = 0;

	scan_space(s);
	neg = s->p < s->end && *s->p == '-';
	s->p += neg;
	*v = 0;
	while (s->p < s->end && *s->p >= '0' && *s->p <= '9') {
		if (digits++ == 18 || (digits == 2 && *v == 0))
			return false;   /* too long, or a leading zero */
		*v = *v * 10 + (*s->p++ - '0');
	}
	if (neg)
		*v = -*v;
	/* a fraction or an exponent: not what the server writes */
	return digits > 0 && (s->p == s->end || (*s->p != '.' &&
	    *s->p != 'e' && *s->p != 'E'));
}

static bool
scan_word(struct scan *s, const char *w)
{
	size_t n = strlen(w);

	scan_space(s);
	if ((size_t)(s->end - s->p) < n || memcmp(s->p, w, n) != 0)
		return false;
	s->p += n;
	return true;
}

static bool scan_value(struct scan *s);

/* The keys of an object read so far: at most SCAN_KEYS of them, no key
 * twice (as jansson is asked to refuse), keys without escapes (so that
 * two spellings of one key cannot pass as two keys).  In every object,
 * the response's and its result's too. */
#define SCAN_KEYS 16

struct keys {
	const char *k[SCAN_KEYS];
	size_t      n[SCAN_KEYS], count;
};

/* The next key of an object and its ':', a new one: in *k, *n. */
static bool
scan_key(struct scan *s, struct keys *ks, const char **k, size_t *n)
{
	if (ks->count == SCAN_KEYS || !scan_string(s, k, n) ||
	    memchr(*k, '\\', *n) != NULL || !scan_char(s, ':'))
		return false;
	for (size_t j = 0; j < ks->count; j++)
		if (ks->n[j] == *n && memcmp(ks->k[j], *k, *n) == 0)
			return false;
	ks->k[ks->count] = *k;
	ks->n[ks->count++] = *n;
	return true;
}

/* The members of an object, its '{' read. */
static bool
scan_members(struct scan *s)
{
	struct keys ks = { .count = 0 };
	const char *k;
	size_t n;

	if (scan_char(s, '}'))
		return true;
	do {
		if (!scan_key(s, &ks, &k, &n) || !scan_value(s))
			return false;
	} while (scan_char(s, ','));
	return scan_char(s, '}');
}

/* The items of an array, its '[' read; *count of them. */
static bool
scan_items(struct scan *s, bool objects, size_t *count)
{
	*count = 0;
	if (scan_char(s, ']'))
		return true;
	do {
		scan_space(s);
		if (objects && (s->p == s->end || *s->p != '{'))
			return false;
		if (!scan_value(s))
			return false;
		++*count;
	} while (scan_char(s, ','));
	return scan_char(s, ']');
}

static bool
scan_value(struct scan *s)
{
	const char *at;
	size_t n;
	int64_t v;
	bool ok;

	scan_space(s);
	if (s->p == s->end)
		return false;
	switch (*s->p) {
	case '"':
		return scan_string(s, &at, &n);
	case '{':
	case '[':
		if (++s->depth > SCAN_DEPTH)
			return false;
		ok = *s->p++ == '{' ? scan_members(s) : scan_items(s, false,
		    &n);
		s->depth--;
		return ok;
	case 't':
		return scan_word(s, "true");
	case 'f':
		return scan_word(s, "false");
	case 'n':
		return scan_word(s, "null");
	default:
		return scan_int(s, &v);
	}
}

/* Is [at, at + n) the key `key`?  (Keys we look for have no escapes.) */
static bool
is_key(const char *at, size_t n, const char *key)
{
	return n == strlen(key) && memcmp(at, key, n) == 0;
}

/* An integer or null (-1) member. */
static bool
scan_cursor(struct scan *s, int64_t *v)
{
	if (scan_word(s, "null")) {
		*v = -1;
		return true;
	}
	return scan_int(s, v) && *v >= 0;
}

/* The result object: its "next" and its array `key`. */
static bool
scan_result(struct scan *s, const char *key, struct ctl_page_text *pg)
{
	struct keys ks = { .count = 0 };
	bool seen_items = false;
	const char *k;
	size_t n;

	if (!scan_char(s, '{'))
		return false;
	s->depth++;
	if (scan_char(s, '}'))
		return false;
	do {
		if (!scan_key(s, &ks, &k, &n))
			return false;
		if (is_key(k, n, "next")) {
			if (!scan_cursor(s, &pg->next))
				return false;
		} else if (is_key(k, n, key)) {
			if (!scan_char(s, '['))
				return false;
			seen_items = true;
			s->depth++;
			scan_space(s);
			pg->items = s->p;
			if (!scan_items(s, true, &pg->count))
				return false;
			s->depth--;
			/* back over the ']' and any space before it */
			const char *e = s->p - 1;
			while (e > pg->items && e[-1] == ' ')
				e--;
			pg->len = (size_t)(e - pg->items);
		} else if (!scan_value(s)) {
			return false;
		}
	} while (scan_char(s, ','));
	s->depth--;
	return scan_char(s, '}') && seen_items;
}

int
ctl_reply_page_text(const char *line, size_t len, const char *key,
    struct ctl_page_text *pg)
{
	struct scan s = { line, line + len, 1 };
	struct keys ks = { .count = 0 };
	bool seen_id = false, seen_ok = false, seen_result = false;
	const char *k;
	size_t n;

	memset(pg, 0, sizeof *pg);
	pg->next = -1;
	if (len > CTL_REPLY_MAX_LINE || !scan_char(&s, '{') ||
	    scan_char(&s, '}'))
		return 0;
	do {
		if (!scan_key(&s, &ks, &k, &n))
			return 0;
		if (is_key(k, n, "id")) {
			if (!scan_cursor(&s, &pg->id) || pg->id < 0)
				return 0;
			seen_id = true;
		} else if (is_key(k, n, "ok")) {
			if (!scan_word(&s, "true"))
				return 0;
			seen_ok = true;
		} else if (is_key(k, n, "result")) {
			if (!scan_result(&s, key, pg))
				return 0;
			seen_result = true;
		} else if (!scan_value(&s)) {
			return 0;
		}
	} while (scan_char(&s, ','));
	if (!scan_char(&s, '}'))
		return 0;
	scan_space(&s);
	return s.p == s.end && seen_id && seen_ok && seen_result;
}

size_t
ctl_reply_page_cut(const struct ctl_page_text *pg, size_t n)
{
	struct scan s = { pg->items, pg->items + pg->len, 2 };

	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			scan_char(&s, ',');
		scan_value(&s);
	}
	return (size_t)(s.p - pg->items);
}

/* --- a lease from its text ----------------------------------------------- */

/* A string or null member into *out (in buf at *used), NULL for null.
 * 1: it holds an escape, or buf is full (read it with jansson). */
static int
text_str(struct scan *s, const char **out, char *buf, size_t buflen,
    size_t *used)
{
	const char *at;
	size_t n;

	*out = NULL;
	if (scan_word(s, "null"))
		return 0;
	if (!scan_string(s, &at, &n))
		return -1;
	if (memchr(at, '\\', n) != NULL || buflen - *used < n + 1)
		return 1;
	memcpy(buf + *used, at, n);
	buf[*used + n] = '\0';
	*out = buf + *used;
	*used += n + 1;
	return 0;
}

/* A whole number or null (-1) member. */
static int
text_int(struct scan *s, int64_t *out)
{
	*out = -1;
	if (scan_word(s, "null"))
		return 0;
	return scan_int(s, out) && *out >= 0 ? 0 : -1;
}

/* The members of a lease, its '{' next: 0, 1 (read it with jansson), or
 * -1 (malformed). */
static int
text_lease(struct scan *s, struct ctl_lease *l, char *buf, size_t buflen)
{
	static const char *const strs[] = { "id", "label", "state", "kind",
	    "addr" };
	static const char *const ints[] = { "size", "age_ms",
	    "expires_in_ms", "pins", "releases" };
	const char **str[] = { &l->id, &l->label, &l->state, &l->kind,
	    &l->addr };
	int64_t *num[] = { &l->size, &l->age_ms, &l->expires_in_ms, &l->pins,
	    &l->releases };
	struct keys ks = { .count = 0 };
	size_t used = 0, n;
	const char *k;
	int r = 0;

	memset(l, 0, sizeof *l);
	for (size_t i = 0; i < 5; i++)
		*num[i] = -1;
	if (!scan_char(s, '{') || scan_char(s, '}'))
		return -1;
	do {
		size_t i;
		if (!scan_key(s, &ks, &k, &n))
			return -1;
		for (i = 0; i < 5 && !is_key(k, n, strs[i]); i++)
			;
		if (i < 5) {
			int t = text_str(s, str[i], buf, buflen, &used);
			if (t < 0)
				return -1;
			r |= t;
			continue;
		}
		for (i = 0; i < 5 && !is_key(k, n, ints[i]); i++)
			;
		if (i < 5 ? text_int(s, num[i]) != 0 : !scan_value(s))
			return -1;
	} while (scan_char(s, ','));
	if (!scan_char(s, '}'))
		return -1;
	return r != 0 ? 1 : l->id != NULL ? 0 : -1;
}

int
ctl_reply_lease_next(const struct ctl_page_text *pg, size_t *off,
    struct ctl_lease *l, char *buf, size_t buflen, const char **from,
    size_t *len)
{
	struct scan s = { pg->items + *off, pg->items + pg->len, 2 };

	if (*off > 0 && !scan_char(&s, ','))
		return -1;
	scan_space(&s);
	*from = s.p;
	int r = text_lease(&s, l, buf, buflen);
	if (r == 1) {           /* to its end, for jansson */
		s.p = *from;
		if (!scan_value(&s))
			return -1;
	}
	*len = (size_t)(s.p - *from);
	*off = (size_t)(s.p - pg->items);
	return r;
}
