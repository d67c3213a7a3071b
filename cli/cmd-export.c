/*
 * cmd-export.c - memleasectl export: the counters of every process (or
 * the one of -p or -S) in Prometheus's text exposition format, or in
 * OpenMetrics's.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>

#include "ctl.h"

/* A label value of the exposition format: \, " and newline escaped. */
static void
print_label_value(const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '\\' || *s == '"')
			printf("\\%c", *s);
		else if (*s == '\n')
			fputs("\\n", stdout);
		else
			putchar(*s);
	}
}

static void
print_labels(const struct ctl_proc *p, bool version)
{
	printf("{pid=\"%d\",program=\"", (int)p->pid);
	print_label_value(p->program);
	if (version) {
		fputs("\",version=\"", stdout);
		print_label_value(p->version);
	}
	fputs("\"}", stdout);
}

static int
cmd_export_exec(const struct ctl_args *a, struct ctl_conn *c)
{
	bool om = a->format == CTL_FORMAT_OPENMETRICS;
	struct ctl_proc *procs = NULL;
	int n, rc = ctl_client_procs(a, &procs, &n);

	(void)c;                /* export talks to every process itself */
	if (procs == NULL)
		return -1;
	/* memlease_info: one sample a process, its value 1 */
	printf("# HELP memlease_info A process with memlease: its pid, "
	    "program and version.\n# TYPE memlease%s\n",
	    om ? " info" : "_info gauge");
	for (int i = 0; i < n; i++) {
		fputs("memlease_info", stdout);
		print_labels(&procs[i], true);
		fputs(" 1\n", stdout);
	}
	for (size_t k = 0; k < ctl_reply_nstat_fields; k++) {
		const struct ctl_stat_field *f = &ctl_reply_stat_fields[k];
		/* a counter's family is named without _total in OpenMetrics,
		 * with it in Prometheus's text format; samples have it */
		const char *total = f->counter ? "_total" : "";
		const char *family = om ? "" : total;

		printf("# HELP memlease_%s%s %s\n", f->name, family, f->help);
		printf("# TYPE memlease_%s%s %s\n", f->name, family,
		    f->counter ? "counter" : "gauge");
		for (int i = 0; i < n; i++) {
			int64_t x = *(const int64_t *)((const char *)
			    &procs[i].st + f->offset);
			if (x < 0)
				continue;
			printf("memlease_%s%s", f->name, total);
			print_labels(&procs[i], false);
			printf(" %" PRId64 "\n", x);
		}
	}
	if (om)
		fputs("# EOF\n", stdout);
	ctl_client_procs_free(procs, n);
	return rc;
}

const struct ctl_cmd_entry ctl_cmd_export_entry = {
	.cmd = CTL_CMD_EXPORT,
	.name = "export",
	.args = "[--format prometheus|openmetrics]",
	.summary = "counters of every process, in Prometheus text exposition "
	    "format",
	.options =
	    "  --format F       prometheus (the default) or openmetrics\n",
	.more = NULL,
	.min_pos = 0,
	.max_pos = 0,
	.all = true,
	.exec = cmd_export_exec,
};
