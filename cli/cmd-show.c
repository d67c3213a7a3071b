/*
 * cmd-show.c - memleasectl show: one lease, a line a field (its stack_id
 * too), and its backtrace.
 */
#include <stdio.h>
#include <stdlib.h>

#include "ctl.h"

static int
cmd_show_exec(const struct ctl_args *a, struct ctl_conn *c)
{
	struct ctl_reply r;
	struct ctl_lease l;
	char err[256], size[CTL_FMT_UNIT], age[CTL_FMT_UNIT],
	    exp[CTL_FMT_UNIT], n[CTL_FMT_UNIT];
	int rc;

	if ((rc = ctl_cmd_ask(c, a, "show", ctl_cmd_lease_arg(a->lease),
	    &r)) != 0)
		return rc < 0 ? -1 : 0;
	if (ctl_reply_lease(r.result, &l, err, sizeof err) != 0) {
		ctl_reply_free(&r);
		return ctl_client_malformed(c, err);
	}
	const struct {
		const char *name, *value;
	} lines[] = {
		{ "lease", l.id },
		{ "label", l.label },
		{ "size", ctl_fmt_size(l.size, size) },
		{ "address", l.addr },
		{ "age", ctl_fmt_duration(l.age_ms, age) },
		{ "expires in", l.expires_in_ms >= 0 ?
		    ctl_fmt_duration(l.expires_in_ms, exp) : "never" },
		{ "state", l.state },
		{ "kind", l.kind },
		{ "pins", ctl_fmt_count(l.pins, n) },
	};
	for (size_t i = 0; i < sizeof lines / sizeof *lines; i++) {
		char *s = ctl_out_clean(lines[i].value);
		printf("%-11s %s\n", lines[i].name, s);
		free(s);
	}
	printf("%-11s %s\n", "releases", ctl_fmt_count(l.releases, n));
	json_t *id = json_object_get(r.result, "stack_id");
	char *s = ctl_out_clean(json_is_string(id) ? json_string_value(id) :
	    NULL);
	printf("%-11s %s\n", "stack", s);
	free(s);
	printf("backtrace:\n");
	rc = ctl_cmd_backtrace(c, json_object_get(r.result, "backtrace"),
	    "  ");
	ctl_reply_free(&r);
	return rc;
}

const struct ctl_cmd_entry ctl_cmd_show_entry = {
	.cmd = CTL_CMD_SHOW,
	.name = "show",
	.args = "ID",
	.summary = "one lease with its symbolized backtrace",
	.options = NULL,
	.more = NULL,
	.min_pos = 1,
	.max_pos = 1,
	.all = false,
	.exec = cmd_show_exec,
};
