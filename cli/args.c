/*
 * args.c - memleasectl's command line: global options, a command, its
 * options and arguments, parsed into a struct ctl_args; durations and
 * lease ids; the usage texts.  The commands, their usage and how many
 * arguments each takes are their entries' (cmd.c's table).
 *
 * Pure: no I/O but the help printed to the FILE given, no global state
 * (getopt's is avoided so that tests may parse as often as they like).
 * Global options may stand before or after the command; "--" ends the
 * options.  Everything is checked here, so that the commands only talk.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "wire.h"

enum opt_id {
	OPT_PID, OPT_SOCKET, OPT_JSON, OPT_HELP, OPT_VERSION,
	OPT_OLDER, OPT_LABEL, OPT_STATE, OPT_SORT, OPT_LIMIT, OPT_BY_SITE,
	OPT_BY_STACK, OPT_DEPTH, OPT_SKIP, OPT_FORMAT, OPT_OUTPUT, OPT_RULES,
	OPT_LIBRARY,
};

/* The options; those of CTL_CMD_NONE are global. */
static const struct opt {
	enum opt_id  id;
	const char  *name;          /* long, without "--" */
	char         letter;        /* short, or 0 */
	bool         value;
	enum ctl_cmd cmd;
} opts[] = {
	{ OPT_PID,     "pid",        'p', true,  CTL_CMD_NONE },
	{ OPT_SOCKET,  "socket",     'S', true,  CTL_CMD_NONE },
	{ OPT_JSON,    "json",       0,   false, CTL_CMD_NONE },
	{ OPT_HELP,    "help",       'h', false, CTL_CMD_NONE },
	{ OPT_VERSION, "version",    'V', false, CTL_CMD_NONE },
	{ OPT_OLDER,   "older-than", 0,   true,  CTL_CMD_LIST },
	{ OPT_LABEL,   "label",      0,   true,  CTL_CMD_LIST },
	{ OPT_STATE,   "state",      0,   true,  CTL_CMD_LIST },
	{ OPT_SORT,    "sort",       0,   true,  CTL_CMD_LIST },
	{ OPT_LIMIT,   "limit",      0,   true,  CTL_CMD_LIST },
	{ OPT_BY_SITE, "by-site",    0,   false, CTL_CMD_LIST },
	{ OPT_BY_STACK, "by-stack",  0,   false, CTL_CMD_LIST },
	{ OPT_DEPTH,   "depth",      0,   true,  CTL_CMD_LIST },
	{ OPT_SKIP,    "skip",       0,   true,  CTL_CMD_LIST },
	{ OPT_FORMAT,  "format",     0,   true,  CTL_CMD_EXPORT },
	{ OPT_OUTPUT,  "output",     'o', true,  CTL_CMD_EXPORT },
	{ OPT_RULES,   "rules",      0,   true,  CTL_CMD_ATTACH },
	{ OPT_LIBRARY, "library",    0,   true,  CTL_CMD_ATTACH },
	{ OPT_OUTPUT,  "output",     'o', true,  CTL_CMD_FLAMEGRAPH },
};
#define NOPTS (sizeof opts / sizeof *opts)

static int
usage_error(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
usage_error(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return CTL_EXIT_USAGE;
}

/* A whole decimal number of at most max: 0 or -1. */
static int
whole(const char *s, uint64_t max, uint64_t *out, const char **end)
{
	uint64_t x = 0;
	const char *p = s;

	if (*p < '0' || *p > '9')
		return -1;
	for (; *p >= '0' && *p <= '9'; p++) {
		unsigned d = (unsigned)(*p - '0');
		if (x > (max - d) / 10)
			return -1;
		x = x * 10 + d;
	}
	*out = x;
	*end = p;
	return 0;
}

int
ctl_args_duration(const char *s, uint64_t *ms)
{
	static const struct {
		const char *suffix;
		uint64_t    ms;
	} units[] = {
		{ "", 1 }, { "ms", 1 }, { "s", 1000 }, { "m", 60000 },
		{ "h", 3600000 }, { "d", 86400000 },
	};
	uint64_t x;
	const char *end;

	if (s == NULL || whole(s, CTL_TTL_MAX, &x, &end) != 0)
		return -1;
	for (size_t i = 0; i < sizeof units / sizeof *units; i++) {
		if (strcmp(end, units[i].suffix) != 0)
			continue;
		if (x > CTL_TTL_MAX / units[i].ms)
			return -1;
		*ms = x * units[i].ms;
		return 0;
	}
	return -1;
}

int
ctl_args_lease(const char *s, uint64_t *id)
{
	uint64_t x = 0;
	const char *p = s;

	if (s == NULL)
		return -1;
	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
		p += 2;
		if (*p == '\0' || strlen(p) > 16)
			return -1;
		for (; *p != '\0'; p++) {
			const char *hex = "0123456789abcdef";
			const char *d = *p >= 'A' && *p <= 'F' ?
			    strchr(hex, *p - 'A' + 'a') : strchr(hex, *p);
			if (d == NULL || *d == '\0')
				return -1;
			x = x << 4 | (uint64_t)(d - hex);
		}
	} else if (whole(s, UINT64_MAX, &x, &p) != 0 || *p != '\0') {
		return -1;
	}
	if (x == 0)
		return -1;
	*id = x;
	return 0;
}

const char *
ctl_args_cmd_name(enum ctl_cmd cmd)
{
	const struct ctl_cmd_entry *e = ctl_cmd_find(cmd);

	return e != NULL ? e->name : "memleasectl";
}

#define GLOBAL_USAGE "memleasectl [-p PID | -S SOCKET] [--json]"

void
ctl_args_help(FILE *f, enum ctl_cmd cmd)
{
	const struct ctl_cmd_entry *d = ctl_cmd_find(cmd);

	if (d != NULL) {
		/* long arguments on lines of their own, under the command */
		bool below = strchr(d->args, '\n') != NULL;
		fprintf(f, "usage: " GLOBAL_USAGE " %s%s%s\n\n%c%s.\n",
		    d->name, below ? "\n         " : d->args[0] != '\0' ?
		    " " : "", d->args, toupper((unsigned char)d->summary[0]),
		    d->summary + 1);
		if (d->options != NULL)
			fprintf(f, "\nOptions:\n%s", d->options);
		if (d->more != NULL)
			fprintf(f, "\n%s", d->more);
		fputs("\nSee memleasectl(1).\n", f);
		return;
	}
	fputs("usage: " GLOBAL_USAGE " COMMAND [ARGS]\n"
	    "       memleasectl COMMAND --help\n\nCommands:\n", f);
	for (size_t i = 0; ctl_cmd_table[i] != NULL; i++) {
		const struct ctl_cmd_entry *e = ctl_cmd_table[i];
		char head[64];
		snprintf(head, sizeof head, "%s %s", e->name,
		    strchr(e->args, '\n') != NULL ? "[OPTIONS]" : e->args);
		if (strlen(head) > 24)  /* the summary on the next line */
			fprintf(f, "  %s\n  %-24s %s\n", head, "", e->summary);
		else
			fprintf(f, "  %-24s %s\n", head, e->summary);
	}
	fputs("\nOptions:\n"
	    "  -p, --pid PID        the process (default: the only one with "
	    "a socket)\n"
	    "  -S, --socket PATH    the control socket to talk to\n"
	    "      --json           print the protocol's JSON result\n"
	    "  -h, --help           this help\n"
	    "  -V, --version        the version\n"
	    "\nSockets are in $MEMLEASE_SOCKET_DIR, else $XDG_RUNTIME_DIR/"
	    "memlease,\nelse /tmp/memlease-UID.  See memleasectl(1).\n", f);
}

/* Find the option of word (after its dashes); *value the text after '='. */
static const struct opt *
find_opt(const char *word, enum ctl_cmd cmd, const char **value)
{
	*value = NULL;
	for (size_t i = 0; i < NOPTS; i++) {
		const struct opt *o = &opts[i];
		if (o->cmd != CTL_CMD_NONE && o->cmd != cmd)
			continue;
		if (word[0] == '-') {           /* --name or --name=value */
			size_t n = strlen(o->name);
			if (strncmp(word + 1, o->name, n) != 0)
				continue;
			if (word[1 + n] == '=')
				*value = word + 2 + n;
			else if (word[1 + n] != '\0')
				continue;
			return o;
		}
		if (o->letter != 0 && word[0] == o->letter) {   /* -p, -p123 */
			if (word[1] != '\0')
				*value = word + 1;
			return o;
		}
	}
	return NULL;
}

/* Apply the option o with its value v; CTL_EXIT_OK or CTL_EXIT_USAGE. */
static int
apply(struct ctl_args *a, const struct opt *o, const char *v, char *err,
    size_t errlen)
{
	enum ml_wire_state state;
	uint64_t x;
	const char *end;

	switch (o->id) {
	case OPT_PID:
		if (whole(v, INT_MAX, &x, &end) != 0 || *end != '\0' || x == 0)
			return usage_error(err, errlen, "-p: '%s' is not a "
			    "process id", v);
		a->pid = (pid_t)x;
		break;
	case OPT_SOCKET:
		if (v[0] == '\0')
			return usage_error(err, errlen, "-S: an empty path");
		a->socket = v;
		break;
	case OPT_JSON:
		a->json = true;
		break;
	case OPT_HELP:
		a->help = true;
		break;
	case OPT_VERSION:
		a->version = true;
		break;
	case OPT_OLDER:
		if (ctl_args_duration(v, &a->older_than_ms) != 0)
			return usage_error(err, errlen, "--older-than: '%s' is "
			    "not a duration (250ms, 30s, 5m, 1h, 2d, or ms)", v);
		break;
	case OPT_LABEL:
		a->label = v;
		break;
	case OPT_STATE:
		if (ml_wire_state_parse(v, &state) != 0)
			return usage_error(err, errlen, "--state: '%s': give "
			    "live, pinned, overdue or released", v);
		a->state = v;
		break;
	case OPT_SORT:
		if (strcmp(v, "age") == 0)
			a->sort = CTL_SORT_AGE;
		else if (strcmp(v, "size") == 0)
			a->sort = CTL_SORT_SIZE;
		else
			return usage_error(err, errlen, "--sort: '%s': give "
			    "age or size", v);
		break;
	case OPT_LIMIT:
		if (whole(v, UINT32_MAX, &a->limit, &end) != 0 ||
		    *end != '\0' || a->limit == 0)
			return usage_error(err, errlen, "--limit: '%s' is not "
			    "a number from 1 to %" PRIu32, v, UINT32_MAX);
		break;
	case OPT_BY_SITE:
		a->by_site = true;
		break;
	case OPT_BY_STACK:
		a->by_stack = true;
		break;
	case OPT_DEPTH:
		if (whole(v, CTL_DEPTH_MAX, &a->depth, &end) != 0 ||
		    *end != '\0')
			return usage_error(err, errlen, "--depth: '%s' is not "
			    "a number from 0 (the whole stack) to %d", v,
			    CTL_DEPTH_MAX);
		break;
	case OPT_SKIP:
		a->skip = v;
		break;
	case OPT_FORMAT:
		if (strcmp(v, "prometheus") == 0)
			a->format = CTL_FORMAT_PROMETHEUS;
		else if (strcmp(v, "openmetrics") == 0)
			a->format = CTL_FORMAT_OPENMETRICS;
		else if (strcmp(v, "folded") == 0)
			a->format = CTL_FORMAT_FOLDED;
		else
			return usage_error(err, errlen, "--format: '%s': give "
			    "prometheus, openmetrics or folded", v);
		break;
	case OPT_OUTPUT:
		if (v[0] == '\0')
			return usage_error(err, errlen, "-o: an empty path");
		a->output = v;
		break;
	case OPT_RULES:
		free(a->rules);
		if ((a->rules = strdup(v)) == NULL)
			return CTL_EXIT_FAIL;
		a->rules_op = CTL_RULES_SET;
		break;
	case OPT_LIBRARY:
		if (v[0] != '/')
			return usage_error(err, errlen, "--library: '%s' is not "
			    "an absolute path", v);
		a->library = v;
		break;
	}
	return CTL_EXIT_OK;
}

/* The words pos[0..n) joined by spaces, into a->rules. */
static int
join_rules(struct ctl_args *a, char *const *pos, size_t n)
{
	size_t len = 1;

	for (size_t i = 0; i < n; i++)
		len += strlen(pos[i]) + 1;
	if ((a->rules = malloc(len)) == NULL)
		return CTL_EXIT_FAIL;
	a->rules[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			strcat(a->rules, " ");
		strcat(a->rules, pos[i]);
	}
	return CTL_EXIT_OK;
}

/* The arguments of the command: CTL_EXIT_OK or a usage error. */
static int
positional(struct ctl_args *a, char *const *pos, size_t n, char *err,
    size_t errlen)
{
	const struct ctl_cmd_entry *d = ctl_cmd_find(a->cmd);

	if (n < (size_t)d->min_pos)
		return usage_error(err, errlen, "%s: %s is missing", d->name,
		    d->args);
	if (d->max_pos >= 0 && n > (size_t)d->max_pos)
		return usage_error(err, errlen, "%s: unexpected argument '%s'",
		    d->name, pos[d->max_pos]);
	switch (a->cmd) {
	case CTL_CMD_SHOW:
	case CTL_CMD_RENEW:
	case CTL_CMD_EXPIRE:
		if (ctl_args_lease(pos[0], &a->lease) != 0)
			return usage_error(err, errlen, "%s: '%s' is not a "
			    "lease id (such as 0x100000001)", d->name, pos[0]);
		if (n == 2 && ctl_args_duration(pos[1], &a->ttl_ms) != 0)
			return usage_error(err, errlen, "renew: '%s' is not a "
			    "duration (250ms, 30s, 5m, 1h, 2d, or ms)", pos[1]);
		break;
	case CTL_CMD_RULES:
		if (n == 0 || strcmp(pos[0], "get") == 0) {
			a->rules_op = CTL_RULES_GET;
		} else if (strcmp(pos[0], "clear") == 0) {
			a->rules_op = CTL_RULES_CLEAR;
		} else if (strcmp(pos[0], "set") == 0) {
			a->rules_op = CTL_RULES_SET;
		} else if (strcmp(pos[0], "add") == 0) {
			a->rules_op = CTL_RULES_ADD;
		} else {
			return usage_error(err, errlen, "rules: '%s': give "
			    "get, set, add or clear", pos[0]);
		}
		if ((a->rules_op == CTL_RULES_GET ||
		    a->rules_op == CTL_RULES_CLEAR) && n > 1)
			return usage_error(err, errlen, "rules %s: unexpected "
			    "argument '%s'", pos[0], pos[1]);
		if (a->rules_op == CTL_RULES_ADD && n < 2)
			return usage_error(err, errlen, "rules add: RULE is "
			    "missing");
		if (a->rules_op == CTL_RULES_SET && n < 2)
			return usage_error(err, errlen, "rules set: RULES is "
			    "missing (rules clear removes them all)");
		if (n >= 2)
			return join_rules(a, pos + 1, n - 1);
		break;
	case CTL_CMD_ATTACH: {
		uint64_t x;
		const char *end;
		if (a->pid != 0 || a->socket != NULL)
			return usage_error(err, errlen, "attach: give the "
			    "process as PID, without -p or -S");
		if (whole(pos[0], INT_MAX, &x, &end) != 0 || *end != '\0' ||
		    x == 0)
			return usage_error(err, errlen, "attach: '%s' is not a "
			    "process id", pos[0]);
		a->pid = (pid_t)x;
		break;
	}
	case CTL_CMD_REPORT:
		if (n == 0)
			break;
		if ((a->files = calloc(n, sizeof *a->files)) == NULL)
			return CTL_EXIT_FAIL;
		memcpy(a->files, pos, n * sizeof *pos);
		a->nfiles = n;
		break;
	default:
		break;
	}
	return CTL_EXIT_OK;
}

/* What no single option can check: the options of list together. */
static int
consistent(const struct ctl_args *a, char *err, size_t errlen)
{
	if (a->pid != 0 && a->socket != NULL)
		return usage_error(err, errlen, "-p and -S: give one");
	if (a->by_site && a->sort != CTL_SORT_NONE)
		return usage_error(err, errlen, "list: --by-site and --sort: "
		    "sites are listed by bytes");
	if (a->by_stack && (a->by_site || a->sort != CTL_SORT_NONE))
		return usage_error(err, errlen, "list: --by-stack and %s: "
		    "stacks are listed by bytes", a->by_site ? "--by-site" :
		    "--sort");
	if (!a->by_stack && (a->depth != 0 || a->skip != NULL))
		return usage_error(err, errlen, "list: %s goes with "
		    "--by-stack", a->skip != NULL ? "--skip" : "--depth");
	if (a->sort != CTL_SORT_NONE && a->limit > CTL_TOP_MAX)
		return usage_error(err, errlen, "list: --limit with --sort is "
		    "at most %d", CTL_TOP_MAX);
	return CTL_EXIT_OK;
}

int
ctl_args_parse(int argc, char *const argv[], struct ctl_args *a, char *err,
    size_t errlen)
{
	char **pos;
	size_t npos = 0;
	bool opts_done = false;
	int r = CTL_EXIT_OK;

	memset(a, 0, sizeof *a);
	err[0] = '\0';
	if ((pos = calloc(argc > 0 ? (size_t)argc : 1, sizeof *pos)) == NULL)
		return CTL_EXIT_FAIL;
	for (int i = 1; i < argc && r == CTL_EXIT_OK; i++) {
		const char *w = argv[i], *v;
		const struct opt *o;

		if (!opts_done && strcmp(w, "--") == 0) {
			opts_done = true;
		} else if (!opts_done && w[0] == '-' && w[1] != '\0') {
			if ((o = find_opt(w + 1, a->cmd, &v)) == NULL) {
				r = usage_error(err, errlen, "%s%sunknown "
				    "option '%s'", a->cmd != CTL_CMD_NONE ?
				    ctl_args_cmd_name(a->cmd) : "",
				    a->cmd != CTL_CMD_NONE ? ": " : "", w);
			} else if (!o->value && v != NULL) {
				r = usage_error(err, errlen, "--%s takes no "
				    "value", o->name);
			} else if (o->value && v == NULL && i + 1 == argc) {
				r = usage_error(err, errlen, "%s needs a value",
				    w);
			} else {
				r = apply(a, o, o->value && v == NULL ?
				    argv[++i] : v, err, errlen);
			}
		} else if (a->cmd == CTL_CMD_NONE) {
			for (size_t k = 0; ctl_cmd_table[k] != NULL; k++)
				if (strcmp(w, ctl_cmd_table[k]->name) == 0)
					a->cmd = ctl_cmd_table[k]->cmd;
			if (a->cmd == CTL_CMD_NONE)
				r = usage_error(err, errlen, "unknown command "
				    "'%s' (memleasectl --help lists them)", w);
		} else {
			pos[npos++] = argv[i];
		}
	}
	if (r == CTL_EXIT_OK && !a->help && !a->version) {
		if (a->cmd == CTL_CMD_NONE)
			r = usage_error(err, errlen, "no command given "
			    "(memleasectl --help lists them)");
		else if ((r = positional(a, pos, npos, err, errlen)) ==
		    CTL_EXIT_OK)
			r = consistent(a, err, errlen);
	}
	free(pos);
	if (r != CTL_EXIT_OK)
		ctl_args_free(a);
	return r;
}

void
ctl_args_free(struct ctl_args *a)
{
	free(a->rules);
	a->rules = NULL;
	free(a->files);
	a->files = NULL;
	a->nfiles = 0;
}
