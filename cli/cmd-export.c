/*
 * cmd-export.c - memleasectl export: the counters of every process (or
 * the one of -p or -S) in Prometheus's text exposition format, or in
 * OpenMetrics's; on standard output, or (-o) in a file replaced whole, as
 * node_exporter's textfile collector wants it.  --format folded: the live
 * bytes of one process by stack, as flamegraph.pl, inferno and speedscope
 * read them (cmd-flamegraph.c).
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>

#include "ctl.h"

/* A label value of the exposition format: \, " and newline escaped. */
static void
print_label_value(FILE *f, const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '\\' || *s == '"')
			fprintf(f, "\\%c", *s);
		else if (*s == '\n')
			fputs("\\n", f);
		else
			putc(*s, f);
	}
}

static void
print_labels(FILE *f, const struct ctl_proc *p, bool version)
{
	fprintf(f, "{pid=\"%d\",program=\"", (int)p->pid);
	print_label_value(f, p->program);
	if (version) {
		fputs("\",version=\"", f);
		print_label_value(f, p->version);
	}
	fputs("\"}", f);
}

/*
 * The metric families, each its HELP and TYPE (and, in OpenMetrics, the
 * UNIT of those in bytes) under one name, then its samples.  A family's
 * name is its samples' but for the suffix its type gives them: in
 * OpenMetrics, "memlease" of type info has memlease_info samples and a
 * counter's family is named without the _total its samples have; in
 * Prometheus's text format the family has the samples' name.
 */
static void
print_export(FILE *f, bool om, const struct ctl_proc *procs, int n)
{
	/* memlease_info: one sample a process, its value 1 */
	const char *info = om ? "memlease" : "memlease_info";

	fprintf(f, "# HELP %s A process with memlease: its pid, program and "
	    "version.\n# TYPE %s %s\n", info, info, om ? "info" : "gauge");
	for (int i = 0; i < n; i++) {
		fputs("memlease_info", f);
		print_labels(f, &procs[i], true);
		fputs(" 1\n", f);
	}
	for (size_t k = 0; k < ctl_reply_nstat_fields; k++) {
		const struct ctl_stat_field *sf = &ctl_reply_stat_fields[k];
		const char *total = sf->counter ? "_total" : "";
		const char *family = om ? "" : total;

		fprintf(f, "# HELP memlease_%s%s %s\n", sf->name, family,
		    sf->help);
		fprintf(f, "# TYPE memlease_%s%s %s\n", sf->name, family,
		    sf->counter ? "counter" : "gauge");
		if (om && sf->bytes)    /* its name ends in _bytes */
			fprintf(f, "# UNIT memlease_%s bytes\n", sf->name);
		for (int i = 0; i < n; i++) {
			int64_t x = *(const int64_t *)((const char *)
			    &procs[i].st + sf->offset);
			if (x < 0)
				continue;
			fprintf(f, "memlease_%s%s", sf->name, total);
			print_labels(f, &procs[i], false);
			fprintf(f, " %" PRId64 "\n", x);
		}
	}
	if (om)
		fputs("# EOF\n", f);
}

/* --format folded: the stacks of one process, as flamegraph draws them. */
static int
export_folded(const struct ctl_args *a)
{
	struct ctl_conn c;
	int rc;

	if (ctl_client_open_one(a, &c) != 0)
		return -1;
	rc = ctl_cmd_folded(a, &c);
	ctl_client_close(&c);
	return rc;
}

static int
cmd_export_exec(const struct ctl_args *a, struct ctl_conn *c)
{
	struct ctl_out_file out = { .f = stdout };
	struct ctl_proc *procs = NULL;
	int n, rc;

	(void)c;                /* export talks to every process itself */
	if (a->format == CTL_FORMAT_FOLDED)
		return export_folded(a);
	if (a->output != NULL &&
	    ctl_out_file_open(&out, "export", a->output) != 0)
		return -1;
	/* a process that could not be read is said and left out; the file
	 * holds the others all the same */
	rc = ctl_client_procs(a, &procs, &n);
	if (procs == NULL) {
		if (a->output != NULL)
			ctl_out_file_abort(&out);
		return -1;
	}
	print_export(out.f, a->format == CTL_FORMAT_OPENMETRICS, procs, n);
	ctl_client_procs_free(procs, n);
	if (a->output != NULL && ctl_out_file_commit(&out) != 0)
		return -1;
	return rc;
}

const struct ctl_cmd_entry ctl_cmd_export_entry = {
	.cmd = CTL_CMD_EXPORT,
	.name = "export",
	.args = "[--format prometheus|openmetrics|folded] [-o FILE]",
	.summary = "counters of every process in Prometheus's text format, "
	    "or one's stacks folded",
	.options =
	    "  --format F       prometheus (the default), openmetrics, or\n"
	    "                   folded: the live bytes of one process (-p, -S\n"
	    "                   or the only one) by stack, a line each\n"
	    "                   (estimates under sample=, said on stderr)\n"
	    "  -o, --output F   write file F whole or not at all (a temporary\n"
	    "                   file beside it, renamed over it), as\n"
	    "                   node_exporter's textfile collector wants\n",
	.more = NULL,
	.min_pos = 0,
	.max_pos = 0,
	.all = true,
	.exec = cmd_export_exec,
};
