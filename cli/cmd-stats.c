/*
 * cmd-stats.c - memleasectl stats: the counters of one process, a line each.
 */
#include <stdio.h>
#include <stdlib.h>

#include "ctl.h"

static int
cmd_stats_exec(const struct ctl_args *a, struct ctl_conn *c)
{
	struct ctl_reply r;
	struct ctl_stats st;
	char err[256], v[CTL_FMT_UNIT];
	int rc;

	if ((rc = ctl_cmd_ask(c, a, "stats", NULL, &r)) != 0)
		return rc < 0 ? -1 : 0;
	if (ctl_reply_stats(r.result, &st, err, sizeof err) != 0) {
		ctl_reply_free(&r);
		return ctl_client_malformed(c, err);
	}
	char *prog = ctl_out_clean(c->hello.program);
	printf("%-18s %s\n", "pid", ctl_fmt_count(st.pid, v));
	printf("%-18s %s\n", "program", prog);
	free(prog);
	for (size_t i = 0; i < ctl_reply_nstat_fields; i++) {
		const struct ctl_stat_field *f = &ctl_reply_stat_fields[i];
		int64_t x = *(const int64_t *)((const char *)&st + f->offset);
		char name[32];
		snprintf(name, sizeof name, "%s", f->name);
		for (char *p = name; *p != '\0'; p++)
			if (*p == '_')
				*p = ' ';
		printf("%-18s %s\n", name, f->bytes ? ctl_fmt_size(x, v) :
		    ctl_fmt_count(x, v));
	}
	ctl_reply_free(&r);
	return 0;
}

const struct ctl_cmd_entry ctl_cmd_stats_entry = {
	.cmd = CTL_CMD_STATS,
	.name = "stats",
	.args = "",
	.summary = "counters of one process",
	.options = NULL,
	.more = NULL,
	.min_pos = 0,
	.max_pos = 0,
	.all = false,
	.exec = cmd_stats_exec,
};
