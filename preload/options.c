/*
 * options.c - every MEMLEASE_* variable, read once, from one table (see
 * options.h), as mimalloc's options.c does it.
 *
 * At the first question, the environment is walked once: each MEMLEASE_*
 * name is looked up in the table.  A name that is not in it gets one
 * warning on stderr naming it, and the nearest known name when it looks
 * like a misspelling of one; a value that does not parse as its option's
 * type gets one warning naming the variable and its default, and the
 * default applies.  Booleans accept 1/0, yes/no, on/off and true/false
 * alike (any case).  An empty value is no value.  memlease(7) documents
 * the table (tests/docs.sh checks both ways).
 *
 * Locking: a pthread_once around the walk; the values are read-only after.
 * Never: allocate (it may run inside malloc(), with the recursion guard
 * held), or keep a value's string beyond the environment's (a program
 * that changes a MEMLEASE_* variable later is not heard).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "options.h"
#include "report.h"
#include "rules.h"

enum type { T_STRING, T_BOOL, T_NUMBER, T_CHOICE, T_SIZE, T_AT_EXIT };

static const struct option {
	const char *name;
	enum type   type;
	long        def;            /* boolean, number, choice index */
	long        min, max;       /* number */
	const char *choices[4];     /* choice: its words, NULL-terminated */
} table[ML_OPT_COUNT] = {
	[ML_OPT_RULES]          = { "MEMLEASE_RULES", T_STRING, 0, 0, 0, {0} },
	[ML_OPT_CONFIG]         = { "MEMLEASE_CONFIG", T_STRING, 0, 0, 0, {0} },
	[ML_OPT_LOG]            = { "MEMLEASE_LOG", T_STRING, 0, 0, 0, {0} },
	[ML_OPT_LOG_FORMAT]     = { "MEMLEASE_LOG_FORMAT", T_CHOICE, 0, 0, 0,
	                            { "text", "json", NULL } },
	[ML_OPT_LOG_MAX]        = { "MEMLEASE_LOG_MAX", T_SIZE, 1L << 30, 0,
	                            LONG_MAX, {0} },
	[ML_OPT_REPORT_AT_EXIT] = { "MEMLEASE_REPORT_AT_EXIT", T_AT_EXIT, 0, 0,
	                            0, {0} },
	[ML_OPT_SKIP]           = { "MEMLEASE_SKIP", T_STRING, 0, 0, 0, {0} },
	[ML_OPT_INHERIT]        = { "MEMLEASE_INHERIT", T_BOOL, 1, 0, 0, {0} },
	[ML_OPT_SOCKET]         = { "MEMLEASE_SOCKET", T_CHOICE, 0, 0, 0,
	                            { "auto", "on", "off", NULL } },
	[ML_OPT_SOCKET_DIR]     = { "MEMLEASE_SOCKET_DIR", T_STRING, 0, 0, 0,
	                            {0} },
	[ML_OPT_SOCKET_IDLE]    = { "MEMLEASE_SOCKET_IDLE", T_NUMBER, 60, 0,
	                            86400, {0} },
	[ML_OPT_THREAD]         = { "MEMLEASE_THREAD", T_BOOL, 1, 0, 0, {0} },
	[ML_OPT_BACKTRACE]      = { "MEMLEASE_BACKTRACE", T_NUMBER, 16, 0, 64,
	                            {0} },
	[ML_OPT_FAULT]          = { "MEMLEASE_FAULT", T_STRING, 0, 0, 0, {0} },
};

static struct {
	pthread_once_t once;
	const char    *str[ML_OPT_COUNT];
	long           num[ML_OPT_COUNT];
	bool           seen[ML_OPT_COUNT];
} opt = { .once = PTHREAD_ONCE_INIT };

/* Booleans, as true, false, true, false... */
static const char *const bools[] = {
	"1", "0", "yes", "no", "on", "off", "true", "false",
};

static bool
parse_bool(const char *v, long *out)
{
	for (size_t i = 0; i < sizeof bools / sizeof *bools; i++)
		if (strcasecmp(v, bools[i]) == 0) {
			*out = i % 2 == 0;
			return true;
		}
	return false;
}

/* MEMLEASE_REPORT_AT_EXIT: a boolean (on: grouped by stack), or "each" */
static bool
parse_at_exit(const char *v, long *out)
{
	if (strcasecmp(v, "each") == 0) {
		*out = ML_AT_EXIT_EACH;
		return true;
	}
	if (!parse_bool(v, out))
		return false;
	*out = *out ? ML_AT_EXIT_STACKS : ML_AT_EXIT_OFF;
	return true;
}

static bool
parse_number(const struct option *o, const char *v, long *out)
{
	char *end;

	errno = 0;
	long n = strtol(v, &end, 10);
	if (errno != 0 || *end != '\0' || end == v || n < o->min ||
	    n > o->max)
		return false;
	*out = n;
	return true;
}

/* A size as the rules' size= takes (k, M, G) */
static bool
parse_size(const struct option *o, const char *v, long *out)
{
	uint64_t n;

	if (ml_rules_size(v, &n) != 0 || n > (uint64_t)o->max)
		return false;
	*out = (long)n;
	return true;
}

static bool
parse_choice(const struct option *o, const char *v, long *out)
{
	for (long i = 0; o->choices[i] != NULL; i++)
		if (strcmp(v, o->choices[i]) == 0) {
			*out = i;
			return true;
		}
	return false;
}

/* The warning for a value that did not parse, saying what would. */
static void
refuse(const struct option *o, const char *v)
{
	switch (o->type) {
	case T_BOOL:
		ml_report_diag("%s=%s: not 1/0, yes/no, on/off or "
		    "true/false; using %s", o->name, v, o->def ? "on" : "off");
		break;
	case T_NUMBER:
		ml_report_diag("%s=%s: not a number from %ld to %ld; using %ld",
		    o->name, v, o->min, o->max, o->def);
		break;
	case T_SIZE:
		ml_report_diag("%s=%s: not a size in bytes, or with k, M or G; "
		    "using %ld", o->name, v, o->def);
		break;
	case T_AT_EXIT:
		ml_report_diag("%s=%s: not 1 (or yes, on, true), 0 (or no, "
		    "off, false) or each; using 0", o->name, v);
		break;
	default: {
		char words[64] = "";
		size_t len = 0;
		int n = 0;
		while (o->choices[n] != NULL)
			n++;
		for (int i = 0; i < n; i++)
			len += (size_t)snprintf(words + len, sizeof words - len,
			    "%s%s", i == 0 ? "" : i == n - 1 ? " or " : ", ",
			    o->choices[i]);
		ml_report_diag("%s=%s: not %s; using %s", o->name, v, words,
		    o->choices[o->def]);
		break;
	}
	}
}

/* Edits from a to b (the first na bytes of a), capped at 9. */
static unsigned
distance(const char *a, size_t na, const char *b)
{
	size_t nb = strlen(b);
	unsigned row[64];

	if (na >= 63 || nb >= 63)
		return 9;
	for (size_t j = 0; j <= nb; j++)
		row[j] = (unsigned)j;
	for (size_t i = 1; i <= na; i++) {
		unsigned diag = row[0];
		row[0] = (unsigned)i;
		for (size_t j = 1; j <= nb; j++) {
			unsigned up = row[j];
			unsigned best = diag + (a[i - 1] != b[j - 1]);
			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[nb] < 9 ? row[nb] : 9;
}

/* A name not in the table (the first n bytes of s): said, with the
 * nearest known name if it is a few edits away. */
static void
unknown(const char *s, size_t n)
{
	const char *near = NULL;
	unsigned best = 3;      /* at most 2 edits */

	for (int i = 0; i < ML_OPT_COUNT; i++) {
		unsigned d = distance(s, n, table[i].name);
		if (d < best) {
			best = d;
			near = table[i].name;
		}
	}
	if (near != NULL)
		ml_report_diag("%.*s: not a memlease variable (did you mean "
		    "%s?); ignored", (int)n, s, near);
	else
		ml_report_diag("%.*s: not a memlease variable; ignored",
		    (int)n, s);
}

static void
take(int i, const char *v)
{
	const struct option *o = &table[i];
	bool ok = true;

	opt.seen[i] = true;
	if (*v == '\0')
		return;
	switch (o->type) {
	case T_STRING:  opt.str[i] = v; break;
	case T_BOOL:    ok = parse_bool(v, &opt.num[i]); break;
	case T_NUMBER:  ok = parse_number(o, v, &opt.num[i]); break;
	case T_CHOICE:  ok = parse_choice(o, v, &opt.num[i]); break;
	case T_SIZE:    ok = parse_size(o, v, &opt.num[i]); break;
	case T_AT_EXIT: ok = parse_at_exit(v, &opt.num[i]); break;
	}
	if (!ok)
		refuse(o, v);
}

static void
read_all(void)
{
	extern char **environ;

	for (int i = 0; i < ML_OPT_COUNT; i++)
		opt.num[i] = table[i].def;
	for (char **e = environ; e != NULL && *e != NULL; e++) {
		if (strncmp(*e, "MEMLEASE_", 9) != 0)
			continue;
		const char *eq = strchr(*e, '=');
		size_t n = eq != NULL ? (size_t)(eq - *e) : strlen(*e);
		int i = 0;
		while (i < ML_OPT_COUNT && (strncmp(*e, table[i].name, n) != 0 ||
		    table[i].name[n] != '\0'))
			i++;
		if (i == ML_OPT_COUNT)
			unknown(*e, n);
		else if (!opt.seen[i] && eq != NULL)    /* the first, as getenv */
			take(i, eq + 1);
	}
}

const char *
ml_options_str(enum ml_option o)
{
	pthread_once(&opt.once, read_all);
	return opt.str[o];
}

long
ml_options_num(enum ml_option o)
{
	pthread_once(&opt.once, read_all);
	return opt.num[o];
}

void
ml_options_override(enum ml_option o, long v)
{
	pthread_once(&opt.once, read_all);
	opt.num[o] = v;
}
