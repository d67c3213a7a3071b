/*
 * json.c - the one writer of memlease's JSON text (see json.h): the
 * expiry events of the log and of the socket's watchers, and the leases
 * and frames of the protocol's listings and "show".
 *
 * Written by hand, field by field: a jansson object a lease costs several
 * times more than a listing itself, and printf's machinery was three
 * quarters of a listing's cost.  Strings are UTF-8, checked: a byte that
 * is not is written U+FFFD, so that every line is JSON whatever a label or
 * a symbol holds.
 *
 * No lock, no state: a writer is its caller's.  Never: allocate for a
 * fixed buffer (the log's, written under its lock, inside malloc()).
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core.h"
#include "json.h"
#include "mem.h"
#include "sample.h"
#include "stackid.h"
#include "stacks.h"
#include "symbols.h"
#include "wire.h"

struct ml_json
ml_json_fixed(char *buf, size_t size)
{
	return (struct ml_json){ .p = buf, .cap = size, .fixed = true };
}

/* Room for n more bytes and a NUL at j->p + j->len: false if there is
 * none (out of memory, or a fixed buffer full). */
static bool
room(struct ml_json *j, size_t n)
{
	if (j->oom || j->cut)
		return false;
	if (j->cap - j->len > n)
		return true;
	if (j->fixed) {
		j->cut = true;
		return false;
	}
	size_t cap = j->cap ? j->cap * 2 : 4096;
	while (cap - j->len <= n)
		cap *= 2;
	char *m = ml_mem_realloc(j->p, cap);
	if (m == NULL) {
		j->oom = true;
		return false;
	}
	j->p = m;
	j->cap = cap;
	return true;
}

void
ml_json_put(struct ml_json *j, const char *fmt, ...)
{
	va_list ap;

	if (j->fixed) {         /* as much as fits */
		size_t left = j->cap - j->len;
		if (j->cut || left <= 1) {
			j->cut = true;
			return;
		}
		va_start(ap, fmt);
		int n = vsnprintf(j->p + j->len, left, fmt, ap);
		va_end(ap);
		if (n > 0 && (size_t)n >= left)
			j->cut = true;
		if (n > 0)
			j->len += (size_t)n < left ? (size_t)n : left - 1;
		return;
	}
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || !room(j, (size_t)n))
		return;
	va_start(ap, fmt);
	j->len += (size_t)vsnprintf(j->p + j->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
}

/* The length of the valid UTF-8 sequence at s, 0 if it is not one. */
static size_t
utf8_len(const unsigned char *s)
{
	size_t n = s[0] < 0x80 ? 1 : s[0] >= 0xc2 && s[0] <= 0xdf ? 2 :
	    s[0] >= 0xe0 && s[0] <= 0xef ? 3 : s[0] >= 0xf0 && s[0] <= 0xf4 ?
	    4 : 0;

	for (size_t i = 1; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	if ((n == 3 && s[0] == 0xe0 && s[1] < 0xa0) ||   /* overlong */
	    (n == 3 && s[0] == 0xed && s[1] >= 0xa0) ||  /* surrogates */
	    (n == 4 && s[0] == 0xf0 && s[1] < 0x90) ||
	    (n == 4 && s[0] == 0xf4 && s[1] >= 0x90))
		return 0;
	return n;
}

void
ml_json_str(struct ml_json *j, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;

	if (s == NULL) {
		ml_json_put(j, "null");
		return;
	}
	/* each byte 6 at most (\u00XX), the quotes */
	if (!room(j, strlen(str) * 6 + 2))
		return;
	char *p = j->p + j->len;
	*p++ = '"';
	while (*s != '\0') {
		size_t n = utf8_len(s);
		if (n == 0) {
			memcpy(p, "\\ufffd", 6);
			p += 6;
			n = 1;
		} else if (*s == '"' || *s == '\\') {
			*p++ = '\\';
			*p++ = (char)*s;
		} else if (*s < 0x20 || *s == 0x7f) {
			p += sprintf(p, "\\u%04x", *s);
		} else {
			memcpy(p, s, n);
			p += n;
		}
		s += n;
	}
	*p++ = '"';
	*p = '\0';
	j->len = (size_t)(p - j->p);
}

/* A lease's fields, written by hand.  Each returns the end of what it
 * wrote. */
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

/* The stack_id of stored stack `stack` in quotes, or null (none): 19
 * bytes at most. */
static char *
put_stack_id(char *p, uint32_t stack)
{
	char hex[ML_STACKID_HEX];

	if (stack == 0)
		return put_str(p, "null");
	*p++ = '"';
	p = put_str(p, ml_stackid_hex(ml_stackid_of(stack), hex));
	*p++ = '"';
	return p;
}

/* Bytes either half of a lease takes at most, its label apart: the keys
 * and quotes, numbers of at most 20 digits, hex numbers of at most 18, the
 * state and kind words. */
#define LEASE_HALF_MAX 256

const char *
ml_json_state(const struct ml_info *in)
{
	return ml_wire_state_name(in->released ? ML_WIRE_RELEASED :
	    in->overdue ? ML_WIRE_OVERDUE : in->pins != 0 ? ML_WIRE_PINNED :
	    ML_WIRE_LIVE);
}

void
ml_json_lease(struct ml_json *j, const struct ml_info *in, uint64_t now,
    bool open)
{
	if (!room(j, LEASE_HALF_MAX))
		return;
	char *p = j->p + j->len;
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
	j->len = (size_t)(p - j->p);
	ml_json_str(j, in->label[0] != '\0' ? in->label : NULL);
	if (!room(j, LEASE_HALF_MAX))
		return;
	p = j->p + j->len;
	p = put_str(p, ",\"state\":\"");
	p = put_str(p, ml_json_state(in));
	p = put_str(p, "\",\"kind\":\"");
	p = put_str(p, ml_wire_kind_name(in->kind));
	p = put_str(p, "\",\"pins\":");
	p = put_u64(p, in->pins);
	p = put_str(p, ",\"releases\":");
	p = put_u64(p, in->releases);
	p = put_str(p, ",\"addr\":\"");
	p = put_hex(p, (uintptr_t)in->buf);
	p = put_str(p, "\",\"stack_id\":");
	p = put_stack_id(p, in->stack);
	if (in->sample != 0) {
		/* chosen by byte sampling: what it stands for, estimates */
		*p = '\0';
		j->len = (size_t)(p - j->p);
		ml_json_put(j, ",\"sample\":%" PRIu64 ",\"estimated_bytes\":"
		    "%.0f,\"estimated_count\":%.3f%s", in->sample,
		    ml_sample_bytes(in->size, in->sample),
		    ml_sample_count(in->size, in->sample), open ? "" : "}");
		return;
	}
	p = put_str(p, open ? "" : "}");
	*p = '\0';
	j->len = (size_t)(p - j->p);
}

void
ml_json_stack_id(struct ml_json *j, uint32_t stack)
{
	if (!room(j, ML_STACKID_HEX + 2))
		return;
	char *p = put_stack_id(j->p + j->len, stack);
	*p = '\0';
	j->len = (size_t)(p - j->p);
}

/* One function at a return address, with SPEC's "Frames" fields: a name
 * only when it is known for certain. */
static void
put_fn(struct ml_json *j, const struct ml_symbols_addr *a, int k)
{
	const struct ml_symbols_fn *fn = &a->fns[k];

	ml_json_put(j, "{\"ip\":\"%#" PRIxPTR "\",\"object\":", a->ip);
	ml_json_str(j, a->object);
	if (a->object != NULL)
		ml_json_put(j, ",\"object_offset\":\"%#" PRIxPTR "\"",
		    a->object_offset);
	if (a->build_id != NULL) {
		ml_json_put(j, ",\"build_id\":");
		ml_json_str(j, a->build_id);
	}
	if (fn->function != NULL) {
		ml_json_put(j, ",\"function\":");
		ml_json_str(j, fn->function);
		if (fn->with_offset)
			ml_json_put(j, ",\"offset\":%" PRIuPTR, fn->offset);
	}
	if (fn->file != NULL) {
		ml_json_put(j, ",\"file\":");
		ml_json_str(j, fn->file);
		if (fn->line != 0)
			ml_json_put(j, ",\"line\":%u", fn->line);
	}
	ml_json_put(j, fn->inlined ? ",\"inlined\":true}" : "}");
}

void
ml_json_frame(struct ml_json *j, uintptr_t ip)
{
	struct ml_symbols_addr a;

	ml_symbols_get(ip, &a);
	put_fn(j, &a, 0);
}

void
ml_json_frames(struct ml_json *j, uintptr_t ip)
{
	struct ml_symbols_addr a;

	ml_symbols_get(ip, &a);
	for (int k = 0; k < a.n; k++) {
		if (k > 0)
			ml_json_put(j, ",");
		put_fn(j, &a, k);
	}
}

void
ml_json_event(struct ml_json *j, const struct ml_ended *e, const char *event,
    const char *action, uint64_t age, const uintptr_t *ips, int n)
{
	ml_json_put(j, "{\"event\":\"%s\",\"pid\":%d,\"id\":\"%#" PRIx64
	    "\",\"label\":", event, (int)getpid(), e->h);
	ml_json_str(j, e->label[0] != '\0' ? e->label : NULL);
	ml_json_put(j, ",\"size\":%zu,\"addr\":\"%p\",\"age_ms\":%" PRIu64
	    ",\"action\":", e->size, e->buf, age);
	ml_json_str(j, action);
	ml_json_put(j, ",\"stack_id\":");
	ml_json_stack_id(j, e->stack);
	ml_json_put(j, ",\"backtrace\":[");
	for (int i = 0; i < n; i++) {
		if (i > 0)
			ml_json_put(j, ",");
		ml_json_frames(j, ips[i]);
	}
	ml_json_put(j, "]}\n");
}
