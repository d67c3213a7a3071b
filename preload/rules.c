/*
 * rules.c - the rule parser and matcher (see rules.h).  No global state;
 * allocates memlease's own memory (mem.h).
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"
#include "rules.h"
#include "sample.h"

static const char *const action_names[] = {
	[ML_ACT_REPORT] = "report",
	[ML_ACT_FREE] = "free",
	[ML_ACT_RECLAIM] = "reclaim",
	[ML_ACT_ABORT] = "abort",
};

const char *
ml_action_name(enum ml_action a)
{
	return a <= ML_ACT_ABORT ? action_names[a] : "?";
}

/* The parser's position in the text. */
struct cursor {
	const char            *text;
	size_t                 at;
	int                    line;
	size_t                 line_start;
	size_t                 rule_at;    /* where the last rule's words began */
	uint64_t               sample;     /* the first rule's sample=, or 0 */
	struct ml_rules_error *err;
};

static int
fail(struct cursor *c, size_t at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
fail(struct cursor *c, size_t at, const char *fmt, ...)
{
	va_list ap;

	c->err->line = c->line;
	c->err->column = (int)(at - c->line_start) + 1;
	va_start(ap, fmt);
	vsnprintf(c->err->msg, sizeof c->err->msg, fmt, ap);
	va_end(ap);
	return -1;
}

/* A whole number with an optional suffix from units[] (a bare number
 * counts as units[0], then suffix and multiplier pairs up to a NULL
 * suffix); -1 if it is not one, or on overflow. */
struct unit {
	const char *suffix;
	uint64_t    mult;
};

static int
parse_number(const char *s, size_t n, const struct unit *units,
    uint64_t *out)
{
	uint64_t v = 0;
	size_t i = 0;

	if (n == 0 || !isdigit((unsigned char)s[0]))
		return -1;
	for (; i < n && isdigit((unsigned char)s[i]); i++) {
		if (v > (UINT64_MAX - (uint64_t)(s[i] - '0')) / 10)
			return -1;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	for (const struct unit *u = units; u->suffix != NULL; u++) {
		if (strlen(u->suffix) == n - i &&
		    memcmp(u->suffix, s + i, n - i) == 0) {
			if (v != 0 && v > UINT64_MAX / u->mult)
				return -1;
			*out = v * u->mult;
			return 0;
		}
	}
	return -1;
}

static const struct unit size_units[] = {
	{ "", 1 }, { "k", 1024 }, { "K", 1024 }, { "M", 1024 * 1024 },
	{ "G", UINT64_C(1024) * 1024 * 1024 }, { NULL, 0 },
};

static const struct unit time_units[] = {
	{ "", 1 }, { "ms", 1 }, { "s", 1000 }, { "m", 60000 },
	{ "h", 3600000 }, { "d", 86400000 }, { NULL, 0 },
};

static const struct unit plain[] = { { "", 1 }, { NULL, 0 } };

int
ml_rules_size(const char *s, uint64_t *out)
{
	return parse_number(s, strlen(s), size_units, out);
}

static int
parse_size(struct cursor *c, size_t at, const char *v, size_t n,
    struct ml_rule *r)
{
	const char *dash = memchr(v, '-', n);
	size_t lo = dash ? (size_t)(dash - v) : n;

	r->size_min = 0;
	r->size_max = UINT64_MAX;
	if (dash == NULL) {
		if (parse_number(v, n, size_units, &r->size_min) != 0)
			goto bad;
		r->size_max = r->size_min;
		return 0;
	}
	if (lo == 0 && n == 1)
		goto bad;
	if (lo > 0 && parse_number(v, lo, size_units, &r->size_min) != 0)
		goto bad;
	if (lo + 1 < n && parse_number(v + lo + 1, n - lo - 1, size_units,
	    &r->size_max) != 0)
		goto bad;
	if (r->size_min > r->size_max)
		return fail(c, at, "size=%.*s: the smallest is above the "
		    "largest", (int)n, v);
	return 0;
bad:
	return fail(c, at, "size=%.*s: use N, MIN-MAX, MIN- or -MAX, in bytes "
	    "or with k, M, G", (int)n, v);
}

static char *
dup_value(const char *v, size_t n)
{
	char *s = ml_mem_malloc(n + 1);

	if (s != NULL) {
		memcpy(s, v, n);
		s[n] = '\0';
	}
	return s;
}

enum key { K_CALLER, K_OBJECT, K_SIZE, K_EVERY, K_SAMPLE, K_TTL, K_ACTION,
    K_LABEL, K_DEPTH, K_COUNT };

static const char *const key_names[K_COUNT] = {
	"caller", "object", "size", "every", "sample", "ttl", "action", "label",
	"depth",
};

/* One key=value word at c->at, n bytes long. */
static int
parse_word(struct cursor *c, size_t n, struct ml_rule *r, unsigned *seen)
{
	const char *w = c->text + c->at;
	const char *eq = memchr(w, '=', n);
	size_t kn, vn;
	const char *v;
	uint64_t x;
	int k;

	if (eq == NULL)
		return fail(c, c->at, "'%.*s': expected key=value", (int)n, w);
	kn = (size_t)(eq - w);
	v = eq + 1;
	vn = n - kn - 1;
	for (k = 0; k < K_COUNT; k++)
		if (strlen(key_names[k]) == kn && memcmp(key_names[k], w, kn) == 0)
			break;
	if (k == K_COUNT)
		return fail(c, c->at, "unknown key '%.*s' (keys: caller, object, "
		    "size, every, sample, ttl, action, label, depth)", (int)kn, w);
	if (*seen & 1u << k)
		return fail(c, c->at, "%s= given twice", key_names[k]);
	*seen |= 1u << k;
	if (vn == 0)
		return fail(c, c->at, "%s= has no value", key_names[k]);

	size_t at = c->at;
	switch (k) {
	case K_CALLER:
	case K_OBJECT:
		if ((k == K_CALLER ? (r->caller = dup_value(v, vn)) :
		    (r->object = dup_value(v, vn))) == NULL) {
			c->err->nomem = true;
			return fail(c, at, "out of memory");
		}
		return 0;
	case K_SIZE:
		return parse_size(c, at, v, vn, r);
	case K_EVERY:
		if (parse_number(v, vn, plain, &x) != 0 || x == 0 ||
		    x > UINT32_MAX)
			return fail(c, at, "every=%.*s: give a number from 1",
			    (int)vn, v);
		r->every = (uint32_t)x;
		return 0;
	case K_SAMPLE:
		if (parse_number(v, vn, size_units, &x) != 0 || x == 0 ||
		    x > ML_SAMPLE_MAX)
			return fail(c, at, "sample=%.*s: give the mean bytes "
			    "between samples, from 1 to 1024G (512k, 2M)",
			    (int)vn, v);
		if (c->sample != 0 && x != c->sample)
			return fail(c, at, "sample=%.*s: another rule has "
			    "sample=%" PRIu64 " (one sampling process: give "
			    "every rule the same)", (int)vn, v, c->sample);
		r->sample = c->sample = x;
		return 0;
	case K_TTL:
		if (parse_number(v, vn, time_units, &r->ttl_ms) != 0)
			return fail(c, at, "ttl=%.*s: give a duration such as "
			    "250ms, 30s, 5m, 1h (a bare number is ms)",
			    (int)vn, v);
		return 0;
	case K_ACTION:
		for (int a = 0; a <= ML_ACT_ABORT; a++) {
			if (strlen(action_names[a]) == vn &&
			    memcmp(action_names[a], v, vn) == 0) {
				r->action = (enum ml_action)a;
				return 0;
			}
		}
		return fail(c, at, "action=%.*s: use report, free, reclaim or "
		    "abort", (int)vn, v);
	case K_LABEL:
		if (vn > ML_RULE_LABEL_MAX)
			return fail(c, at, "label=%.*s: longer than %d bytes",
			    (int)vn, v, ML_RULE_LABEL_MAX);
		memcpy(r->label, v, vn);
		r->label[vn] = '\0';
		return 0;
	default: /* K_DEPTH */
		if (parse_number(v, vn, plain, &x) != 0 || x == 0 ||
		    x > ML_RULE_DEPTH_MAX)
			return fail(c, at, "depth=%.*s: give a number from 1 "
			    "to %d", (int)vn, v, ML_RULE_DEPTH_MAX);
		r->depth = (uint32_t)x;
		return 0;
	}
}

static void
rule_free(struct ml_rule *r)
{
	ml_mem_free(r->caller);
	ml_mem_free(r->object);
	r->caller = r->object = NULL;
}

static bool
is_space(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\v' ||
	    ch == '\f';
}

static bool
ends_rule(char ch)
{
	return ch == '\0' || ch == ';' || ch == '\n';
}

/* One rule from c->at to the next ';', newline or the end.  Returns 1 if
 * a rule was read into *r, 0 if the rule was empty, -1 on error. */
static int
parse_rule(struct cursor *c, struct ml_rule *r)
{
	const char *t = c->text;
	unsigned seen = 0;

	memset(r, 0, sizeof *r);
	r->size_max = UINT64_MAX;
	r->every = 1;
	r->depth = ML_RULE_DEPTH_DEF;
	for (;;) {
		while (is_space(t[c->at]))
			c->at++;
		if (t[c->at] == '#')            /* a comment: to the line's end */
			while (t[c->at] != '\0' && t[c->at] != '\n')
				c->at++;
		if (ends_rule(t[c->at]))
			break;
		if (seen == 0)
			c->rule_at = c->at;
		size_t n = 0;
		while (!is_space(t[c->at + n]) && !ends_rule(t[c->at + n]))
			n++;
		if (parse_word(c, n, r, &seen) != 0) {
			rule_free(r);
			return -1;
		}
		c->at += n;
	}
	if (seen == 0)
		return 0;
	if (!(seen & 1u << K_TTL)) {
		rule_free(r);
		return fail(c, c->rule_at, "the rule has no ttl= (for example "
		    "ttl=30s)");
	}
	return 1;
}

int
ml_rules_parse(const char *text, struct ml_rules *out,
    struct ml_rules_error *err)
{
	struct cursor c = { text ? text : "", 0, 1, 0, 0, 0, err };
	struct ml_rule rule;

	out->v = NULL;
	out->n = 0;
	memset(err, 0, sizeof *err);
	for (;;) {
		int r = parse_rule(&c, &rule);
		if (r < 0)
			goto error;
		if (r > 0) {
			if (out->n == ML_RULES_MAX) {
				rule_free(&rule);
				fail(&c, c.rule_at, "too many rules (at most %d)",
				    ML_RULES_MAX);
				goto error;
			}
			struct ml_rule *v = ml_mem_realloc(out->v,
			    (size_t)(out->n + 1) * sizeof *v);
			if (v == NULL) {
				rule_free(&rule);
				err->nomem = true;
				fail(&c, c.at, "out of memory");
				goto error;
			}
			out->v = v;
			out->v[out->n++] = rule;
		}
		if (c.text[c.at] == '\0')
			return 0;
		if (c.text[c.at] == '\n') {
			c.line++;
			c.line_start = c.at + 1;
		}
		c.at++;
	}
error:
	ml_rules_free(out);
	return -1;
}

void
ml_rules_free(struct ml_rules *r)
{
	for (int i = 0; i < r->n; i++)
		rule_free(&r->v[i]);
	ml_mem_free(r->v);
	r->v = NULL;
	r->n = 0;
}

/* An snprintf that appends at *used. */
static void
append(char *buf, size_t len, size_t *used, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
append(char *buf, size_t len, size_t *used, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(*used < len ? buf + *used : NULL,
	    *used < len ? len - *used : 0, fmt, ap);
	va_end(ap);
	if (n > 0)
		*used += (size_t)n;
}

size_t
ml_rules_format(const struct ml_rules *rs, char *buf, size_t len)
{
	size_t used = 0;

	if (len > 0)
		buf[0] = '\0';
	for (int i = 0; i < rs->n; i++) {
		const struct ml_rule *r = &rs->v[i];
		if (r->caller != NULL)
			append(buf, len, &used, "caller=%s ", r->caller);
		if (r->object != NULL)
			append(buf, len, &used, "object=%s ", r->object);
		if (r->size_min == r->size_max)
			append(buf, len, &used, "size=%" PRIu64 " ", r->size_min);
		else if (r->size_min != 0 || r->size_max != UINT64_MAX)
			/* precision 0 prints nothing for 0: "MIN-", "-MAX" */
			append(buf, len, &used, "size=%.0" PRIu64 "-%.0" PRIu64
			    " ", r->size_min,
			    r->size_max == UINT64_MAX ? 0 : r->size_max);
		if (r->every > 1)
			append(buf, len, &used, "every=%" PRIu32 " ", r->every);
		if (r->sample != 0)
			append(buf, len, &used, "sample=%" PRIu64 " ", r->sample);
		append(buf, len, &used, "ttl=%" PRIu64 "ms", r->ttl_ms);
		if (r->action != ML_ACT_REPORT)
			append(buf, len, &used, " action=%s",
			    ml_action_name(r->action));
		if (r->label[0] != '\0')
			append(buf, len, &used, " label=%s", r->label);
		if (r->depth != ML_RULE_DEPTH_DEF)
			append(buf, len, &used, " depth=%" PRIu32, r->depth);
		append(buf, len, &used, "\n");
	}
	return used;
}

static bool
glob_ok(const char *glob, const char *s)
{
	return s != NULL && fnmatch(glob, s, 0) == 0;
}

bool
ml_rule_object_ok(const struct ml_rule *r, const char *object)
{
	const char *base = object ? strrchr(object, '/') : NULL;

	return r->object == NULL || glob_ok(r->object, object) ||
	    glob_ok(r->object, base ? base + 1 : NULL);
}

bool
ml_rule_caller_ok(const struct ml_rule *r, const char *const *functions,
    int nframes)
{
	if (r->caller == NULL)
		return true;
	if (nframes > (int)r->depth)
		nframes = (int)r->depth;
	for (int i = 0; i < nframes; i++)
		if (glob_ok(r->caller, functions[i]))
			return true;
	return false;
}

bool
ml_rule_site_ok(const struct ml_rule *r, const char *object,
    const char *const *functions, int nframes)
{
	return ml_rule_object_ok(r, object) &&
	    ml_rule_caller_ok(r, functions, nframes);
}
