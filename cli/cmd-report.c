/*
 * cmd-report.c - memleasectl report: the events of JSON logs
 * (MEMLEASE_LOG_FORMAT=json) or of standard input, grouped by stack
 * (group.c), the most bytes first, each stack once with its count, bytes
 * and oldest age, and a totals line; --json, the same in the JSON of
 * list --by-stack.  It talks to no process.
 *
 * A log is anyone's file, and may be cut: a line that is not a JSON event
 * (cut short by a full disk or a kill, another program's text, a line of
 * more than LINE_MAX_BYTES) is said with its file and line number, and
 * left out; the rest is read.  The first MAX_SAID of a file are said, then
 * how many more.  Any left out, or a file that cannot be read, makes the
 * exit status 1, after the report of what could be read.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

#define LINE_MAX_BYTES (1u << 20)
#define MAX_SAID       10

struct input {
	const char *name;
	FILE       *f;
	char       *buf;
	size_t      cap;
	uint64_t    lineno;
	uint64_t    left;           /* lines left out */
};

/* A line of in left out: said, for the first MAX_SAID. */
static void
leave(struct input *in, const char *why)
{
	if (++in->left > MAX_SAID)
		return;
	char *name = ctl_out_clean(in->name), *w = ctl_out_clean(why);
	ctl_out_warn("report: %s:%" PRIu64 ": %s; left out", name, in->lineno,
	    w);
	free(name);
	free(w);
}

/*
 * The next line of in, without its newline, in in->buf: 0; 1 at the end
 * of the file; 2, a line longer than LINE_MAX_BYTES (read past); -1 on a
 * read error or out of memory (errno).  *cut: the file ended inside the
 * line, which has no newline.
 */
static int
read_line(struct input *in, size_t *len, bool *cut)
{
	size_t n = 0;
	bool longer = false;
	int c;

	*cut = false;
	while ((c = getc_unlocked(in->f)) != EOF && c != '\n') {
		if (n == LINE_MAX_BYTES) {
			longer = true;
			continue;
		}
		if (n + 1 >= in->cap) {
			size_t cap = in->cap ? in->cap * 2 : 4096;
			char *m = realloc(in->buf, cap);
			if (m == NULL)
				return -1;
			in->buf = m;
			in->cap = cap;
		}
		in->buf[n++] = (char)c;
	}
	if (c == EOF && ferror(in->f))
		return -1;
	if (c == EOF && n == 0 && !longer)
		return 1;
	*cut = c == EOF;
	if (in->buf != NULL)
		in->buf[n] = '\0';
	*len = n;
	in->lineno++;
	return longer ? 2 : 0;
}

static bool
blank(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
			return false;
	return true;
}

/* One line: into g, or left out (said).  -1 only when out of memory. */
static int
take_line(struct input *in, struct ctl_group *g, size_t len, bool cut)
{
	json_error_t jerr;
	char err[256];
	json_t *o;
	int rc;

	if (len == 0 || blank(in->buf, len))
		return 0;
	o = json_loadb(in->buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (o == NULL && cut) {
		leave(in, "a line cut short (the file ends inside it)");
		return 0;
	}
	if (o == NULL) {
		snprintf(err, sizeof err, "not JSON: %s (column %d)",
		    jerr.text, jerr.column);
		leave(in, err);
		return 0;
	}
	errno = 0;
	rc = ctl_group_add(g, o, err, sizeof err);
	json_decref(o);
	if (rc < 0 && errno == ENOMEM)
		return -1;
	if (rc < 0)
		leave(in, err);
	return 0;
}

/* Every line of one file into g: 0, or -1 if it could not be read to
 * its end (said) or lines were left out. */
static int
read_file(const char *path, struct ctl_group *g, bool *oom)
{
	struct input in = { .name = path != NULL ? path : "standard input" };
	size_t len = 0;
	bool cut;
	int rc, status = 0;

	if (path == NULL || strcmp(path, "-") == 0) {
		in.f = stdin;
		in.name = "standard input";
	} else if ((in.f = fopen(path, "re")) == NULL) {
		char *p = ctl_out_clean(path);
		ctl_out_warn("report: %s: %s", p, strerror(errno));
		free(p);
		return -1;
	}
	while ((rc = read_line(&in, &len, &cut)) == 0 || rc == 2) {
		if (rc == 2) {
			leave(&in, "a line of more than 1 MiB");
		} else if (take_line(&in, g, len, cut) != 0) {
			*oom = true;
			break;
		}
	}
	if (rc < 0) {
		char *p = ctl_out_clean(in.name);
		ctl_out_warn("report: %s: %s", p, strerror(errno));
		free(p);
		*oom = errno == ENOMEM;
		status = -1;
	}
	if (in.left > MAX_SAID) {
		char *p = ctl_out_clean(in.name);
		ctl_out_warn("report: %s: %" PRIu64 " more lines left out",
		    p, in.left - MAX_SAID);
		free(p);
	}
	if (in.left > 0)
		status = -1;
	if (in.f != stdin)
		fclose(in.f);
	free(in.buf);
	return status;
}

/* The stacks as text, each once, then the totals. */
static void
print_stacks(json_t *r)
{
	/* frames are printed as show prints them; they were checked */
	static struct ctl_conn none = { .fd = -1, .name = "report" };
	json_t *stacks = json_object_get(r, "stacks"), *v;
	char size[CTL_FMT_UNIT], age[CTL_FMT_UNIT], err[256];
	size_t i, n = json_array_size(stacks);

	json_array_foreach(stacks, i, v) {
		struct ctl_stack s;
		ctl_reply_stack(v, &s, err, sizeof err);
		printf("%s%" PRId64 " lease%s, %s (%" PRId64 " bytes), "
		    "oldest %s", i > 0 ? "\n" : "", s.count,
		    s.count == 1 ? "" : "s", ctl_fmt_size(s.bytes, size),
		    s.bytes, ctl_fmt_duration(s.oldest_ms, age));
		if (s.stack_id != NULL) {
			char *id = ctl_out_clean(s.stack_id);
			printf(", stack %s", id);
			free(id);
		}
		printf(":\n");
		if (json_array_size(s.frames) == 0)
			printf("  no backtrace recorded\n");
		ctl_cmd_backtrace(&none, s.frames, "  ");
	}
	printf("%sSUMMARY: %" PRId64 " bytes in %" PRId64 " lease%s, from "
	    "%zu stack%s\n", n > 0 ? "\n" : "",
	    (int64_t)json_integer_value(json_object_get(r, "bytes")),
	    (int64_t)json_integer_value(json_object_get(r, "count")),
	    json_integer_value(json_object_get(r, "count")) == 1 ? "" : "s",
	    n, n == 1 ? "" : "s");
}

static int
cmd_report_exec(const struct ctl_args *a, struct ctl_conn *c)
{
	struct ctl_group g;
	bool oom = false;
	json_t *r;
	int rc = 0;

	(void)c;                /* it reads files, not a process */
	if (ctl_group_init(&g) != 0) {
		ctl_out_warn("out of memory");
		return -1;
	}
	for (size_t i = 0; i < (a->nfiles > 0 ? a->nfiles : 1) && !oom; i++)
		if (read_file(a->nfiles > 0 ? a->files[i] : NULL, &g,
		    &oom) != 0)
			rc = -1;
	if (oom || (r = ctl_group_result(&g)) == NULL) {
		ctl_out_warn("out of memory");
		ctl_group_free(&g);
		return -1;
	}
	if (a->json)
		ctl_out_json(r);
	else
		print_stacks(r);
	json_decref(r);
	ctl_group_free(&g);
	return rc;
}

const struct ctl_cmd_entry ctl_cmd_report_entry = {
	.cmd = CTL_CMD_REPORT,
	.name = "report",
	.args = "[FILE...]",
	.summary = "reports of JSON logs (or stdin) grouped by stack, largest "
	    "first",
	.options = NULL,
	.more =
	    "FILE is a log of MEMLEASE_LOG_FORMAT=json; - or none: standard\n"
	    "input.  Each stack is printed once, with its leases' count,\n"
	    "bytes and oldest age, the most bytes first, then a SUMMARY\n"
	    "line; --json prints the same as list --by-stack's JSON.  Lines\n"
	    "that are not events are said and left out (exit status 1).\n",
	.min_pos = 0,
	.max_pos = -1,
	.all = true,
	.exec = cmd_report_exec,
};
