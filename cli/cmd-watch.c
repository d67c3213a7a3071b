/*
 * cmd-watch.c - memleasectl watch: expiry events as they happen, until
 * the process goes away or memleasectl is interrupted; the one wait of
 * memleasectl that is not bounded.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "ctl.h"

/* One expiry event, as a report of memlease(7) would say it. */
static int
print_event(const struct ctl_conn *c, json_t *o)
{
	struct ctl_event ev;
	char err[256], size[CTL_FMT_UNIT], age[CTL_FMT_UNIT];

	if (ctl_reply_event(o, &ev, err, sizeof err) != 0)
		return ctl_client_malformed(c, err);
	char *event = ctl_out_clean(ev.event), *id = ctl_out_clean(ev.id),
	    *addr = ctl_out_clean(ev.addr), *action = ctl_out_clean(ev.action);
	char *label = ev.label != NULL ? ctl_out_clean(ev.label) : NULL;
	printf("pid %" PRId64 ": lease %s%s%s%s %s: %s at %s, age %s, %s\n",
	    ev.pid, id, label ? " \"" : "", label ? label : "",
	    label ? "\"" : "", event, ctl_fmt_size(ev.size, size), addr,
	    ctl_fmt_duration(ev.age_ms, age), action);
	free(event);
	free(id);
	free(addr);
	free(action);
	free(label);
	return ctl_cmd_backtrace(c, ev.backtrace, "    ");
}

static int
cmd_watch_exec(const struct ctl_args *a, struct ctl_conn *c)
{
	struct ctl_reply r;
	json_error_t jerr;
	char *line;
	size_t len;
	int rc;

	if (ctl_client_request(c, "watch", NULL, &r) != 0)
		return -1;
	ctl_reply_free(&r);
	fflush(stdout);
	while ((rc = ctl_client_read_line(c, -1, &line, &len)) == 0) {
		json_t *o = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
		if (!json_is_object(o)) {
			json_decref(o);
			return ctl_client_malformed(c, "an event that is not "
			    "a JSON object");
		}
		if (json_is_false(json_object_get(o, "ok"))) {
			/* the process ends the watch with an error */
			json_t *e = json_object_get(o, "error");
			char *msg = ctl_out_clean(json_string_value(
			    json_object_get(e, "message")));
			ctl_out_warn("%s: %s", c->name, msg);
			free(msg);
			json_decref(o);
			return -1;
		}
		if (a->json)
			ctl_out_json(o);
		else
			rc = print_event(c, o);
		json_decref(o);
		if (rc != 0)
			return -1;
		if (fflush(stdout) != 0)
			return -1;
	}
	return rc < 0 ? -1 : 0;         /* the process went away: done */
}

const struct ctl_cmd_entry ctl_cmd_watch_entry = {
	.cmd = CTL_CMD_WATCH,
	.name = "watch",
	.args = "",
	.summary = "stream expiry events as they happen, until interrupted",
	.options = NULL,
	.more = NULL,
	.min_pos = 0,
	.max_pos = 0,
	.all = false,
	.exec = cmd_watch_exec,
};
