/*
 * cmd.c - memleasectl's commands: the table of their entries (each
 * defined by its file, cmd-NAME.c, as tmux's cmd-*.c), and what several
 * of them do alike: ask and print --json, lease ids and arguments as
 * JSON, backtraces.
 *
 * A new command is one file cmd-NAME.c defining ctl_cmd_NAME_entry, one
 * line in the table below and in enum ctl_cmd, and a section of
 * memleasectl(1).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "ctl.h"
#include "wire.h"

const struct ctl_cmd_entry *const ctl_cmd_table[] = {
	&ctl_cmd_ps_entry,
	&ctl_cmd_stats_entry,
	&ctl_cmd_list_entry,
	&ctl_cmd_show_entry,
	&ctl_cmd_renew_entry,
	&ctl_cmd_expire_entry,
	&ctl_cmd_rules_entry,
	&ctl_cmd_watch_entry,
	&ctl_cmd_export_entry,
	&ctl_cmd_attach_entry,
	&ctl_cmd_flamegraph_entry,
	&ctl_cmd_report_entry,
	NULL
};

const struct ctl_cmd_entry *
ctl_cmd_find(enum ctl_cmd cmd)
{
	for (size_t i = 0; ctl_cmd_table[i] != NULL; i++)
		if (ctl_cmd_table[i]->cmd == cmd)
			return ctl_cmd_table[i];
	return NULL;
}

int
ctl_cmd_ask(struct ctl_conn *c, const struct ctl_args *a, const char *cmd,
    json_t *args, struct ctl_reply *r)
{
	c->lease = a->lease;    /* an ended one is said in show's words */
	if (ctl_client_request(c, cmd, args, r) != 0)
		return -1;
	if (!a->json)
		return 0;
	ctl_out_json(r->result);
	ctl_reply_free(r);
	return 1;
}

const char *
ctl_cmd_frame_where(const struct ctl_frame *fr, char *buf, size_t n)
{
	int k;

	if ((fr->function == NULL || fr->function[0] == '\0') &&
	    fr->object_offset >= 0)
		k = snprintf(buf, n, "%s+%#" PRIx64, fr->object != NULL ?
		    fr->object : "?", (uint64_t)fr->object_offset);
	else if (fr->function == NULL || fr->function[0] == '\0')
		k = snprintf(buf, n, "%s+?", fr->object != NULL ? fr->object :
		    "?");
	else if (fr->offset > 0)
		k = snprintf(buf, n, "%s+%#" PRIx64, fr->function,
		    (uint64_t)fr->offset);
	else
		k = snprintf(buf, n, "%s", fr->function);
	if (k >= 0 && (size_t)k < n && fr->file != NULL) {
		if (fr->line > 0)
			snprintf(buf + k, n - (size_t)k, " (%s:%" PRId64 ")",
			    fr->file, fr->line);
		else
			snprintf(buf + k, n - (size_t)k, " (%s)", fr->file);
	}
	return buf;
}

int
ctl_cmd_backtrace(const struct ctl_conn *c, json_t *bt, const char *indent)
{
	size_t i;
	json_t *v;
	char err[256], where[512];

	if (bt == NULL)
		return 0;
	if (!json_is_array(bt))
		return ctl_client_malformed(c, "\"backtrace\" is not a list");
	size_t line = 0;
	json_array_foreach(bt, i, v) {
		struct ctl_frame fr;
		if (ctl_reply_frame(v, &fr, err, sizeof err) != 0)
			return ctl_client_malformed(c, err);
		if (!fr.inlined && ml_wire_startup_frame(fr.function))
			continue;       /* the C library's start-up: JSON only */
		char *w = ctl_out_clean(ctl_cmd_frame_where(&fr, where,
		    sizeof where));
		printf("%s#%-2zu %s%s\n", indent, line++, w,
		    fr.inlined ? " [inlined]" : "");
		free(w);
	}
	return 0;
}

json_t *
ctl_cmd_arg_string(const char *s, const char *what)
{
	json_t *v = json_string(s);

	if (v == NULL)
		ctl_out_warn("%s: not UTF-8 text", what);
	return v;
}

json_t *
ctl_cmd_lease_arg(uint64_t lease)
{
	char id[24];
	json_t *o = json_object();

	snprintf(id, sizeof id, "%#" PRIx64, lease);
	json_object_set_new(o, "lease", json_string(id));
	return o;
}

