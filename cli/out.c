/*
 * out.c - what memleasectl writes: its messages on stderr, after what
 * standard output holds; text from a process made safe; JSON and tables
 * on standard output.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "ctl.h"

void
ctl_out_warn(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs("memleasectl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

char *
ctl_out_clean(const char *s)
{
	char *c = ctl_fmt_clean(s);

	if (c == NULL) {
		ctl_out_warn("out of memory");
		exit(CTL_EXIT_FAIL);
	}
	return c;
}

void
ctl_out_json(json_t *o)
{
	json_dumpf(o, stdout, CTL_OUT_JSON);
	putchar('\n');
}

int
ctl_out_table(struct ctl_table *t)
{
	if (ctl_fmt_table_print(t, stdout, ctl_fmt_term_width(STDOUT_FILENO))
	    != 0) {
		ctl_out_warn("out of memory, or standard output failed");
		return -1;
	}
	return 0;
}
