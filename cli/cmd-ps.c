/*
 * cmd-ps.c - memleasectl ps: every process with a socket in the folder
 * (or the one of -p or -S), its counters in a table or as JSON.
 */
#include <stdio.h>
#include <stdlib.h>

#include "ctl.h"

static int
cmd_ps_exec(const struct ctl_args *a, struct ctl_conn *c)
{
	static const struct ctl_col cols[] = {
		{ "PID", true, false, false },
		{ "LEASES", true, false, false },
		{ "BYTES", true, false, false },
		{ "TAGGED", true, false, false },
		{ "COMMAND", false, true, false },
	};
	struct ctl_proc *procs = NULL;
	struct ctl_table t;
	int n, rc = ctl_client_procs(a, &procs, &n);

	(void)c;                /* ps talks to every process itself */
	if (procs == NULL)
		return -1;
	if (a->json) {
		json_t *arr = json_array(), *o = json_object();
		for (int i = 0; i < n; i++) {
			json_t *p = json_object();
			json_object_set_new(p, "pid", json_integer(procs[i].pid));
			json_object_set_new(p, "program",
			    json_string(procs[i].program));
			json_object_set_new(p, "version",
			    json_string(procs[i].version));
			json_object_set_new(p, "command",
			    json_string(procs[i].command));
			json_object_set(p, "stats", procs[i].stats_json);
			json_array_append_new(arr, p);
		}
		json_object_set_new(o, "processes", arr);
		ctl_out_json(o);
		json_decref(o);
	} else if (n == 0 && a->socket == NULL && a->pid == 0) {
		ctl_client_say_none();      /* rather than a bare header */
	} else if (ctl_fmt_table_init(&t, cols, 5) == 0) {
		for (int i = 0; i < n && rc == 0; i++) {
			char pid[CTL_FMT_UNIT], leases[CTL_FMT_UNIT],
			    bytes[CTL_FMT_UNIT], tagged[CTL_FMT_UNIT];
			const char *row[] = {
				ctl_fmt_count(procs[i].pid, pid),
				ctl_fmt_count(procs[i].st.live_leases, leases),
				ctl_fmt_size(procs[i].st.live_bytes, bytes),
				ctl_fmt_count(procs[i].st.tagged, tagged),
				procs[i].command,
			};
			if (ctl_fmt_table_add(&t, row) != 0)
				rc = -1;
		}
		if (ctl_out_table(&t) != 0)
			rc = -1;
		ctl_fmt_table_free(&t);
	} else {
		rc = -1;
	}
	ctl_client_procs_free(procs, n);
	return rc;
}

const struct ctl_cmd_entry ctl_cmd_ps_entry = {
	.cmd = CTL_CMD_PS,
	.name = "ps",
	.args = "",
	.summary = "processes with memlease loaded: pid, leases, bytes, "
	    "command",
	.options = NULL,
	.more = NULL,
	.min_pos = 0,
	.max_pos = 0,
	.all = true,
	.exec = cmd_ps_exec,
};
