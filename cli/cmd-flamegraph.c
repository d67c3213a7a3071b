/*
 * cmd-flamegraph.c - memleasectl flamegraph: the live leases' bytes of one
 * process by stack (list --by-stack), drawn as a flame graph, one SVG
 * document (flame.c); on standard output, or (-o) in a file replaced
 * whole.  export --format folded writes the same stacks as text.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "ctl.h"

/* The stacks of c's process, and their response to free: 0, or -1
 * (said). */
static int
ask_stacks(struct ctl_conn *c, struct ctl_reply *r, json_t **stacks)
{
	json_t *req = json_object();

	json_object_set_new(req, "by_stack", json_true());
	if (ctl_client_request(c, "list", req, r) != 0)
		return -1;
	*stacks = json_object_get(r->result, "stacks");
	if (!json_is_array(*stacks)) {
		ctl_reply_free(r);
		return ctl_client_malformed(c, "a listing without \"stacks\"");
	}
	return 0;
}

/* What writes the stacks: ctl_flame_svg, or ctl_flame_folded (whose
 * title is not used). */
typedef int (*writer_fn)(FILE *f, json_t *stacks, const char *title,
    char *err, size_t errlen);

static int
write_folded(FILE *f, json_t *stacks, const char *title, char *err,
    size_t errlen)
{
	(void)title;
	return ctl_flame_folded(f, stacks, err, errlen);
}

/* The stacks of c's process written by w, to -o's file or stdout. */
static int
write_stacks(const struct ctl_args *a, struct ctl_conn *c, const char *what,
    writer_fn w)
{
	struct ctl_out_file out = { .f = stdout };
	struct ctl_reply r;
	json_t *stacks;
	char err[256], *title = NULL;
	int rc;

	if (a->output != NULL && ctl_out_file_open(&out, what, a->output) != 0)
		return -1;
	if (ask_stacks(c, &r, &stacks) != 0) {
		if (a->output != NULL)
			ctl_out_file_abort(&out);
		return -1;
	}
	if (asprintf(&title, "Live bytes by allocation stack: %s[%" PRId64
	    "]", c->hello.program != NULL ? c->hello.program : "?",
	    c->hello.pid) < 0)
		title = NULL;
	err[0] = '\0';
	rc = w(out.f, stacks, title, err, sizeof err);
	free(title);
	ctl_reply_free(&r);
	if (rc != 0) {
		if (err[0] != '\0')
			ctl_client_malformed(c, err);
		else
			ctl_out_warn("out of memory");
		if (a->output != NULL)
			ctl_out_file_abort(&out);
		return -1;
	}
	if (a->output != NULL)
		return ctl_out_file_commit(&out);
	return 0;
}

int
ctl_cmd_folded(const struct ctl_args *a, struct ctl_conn *c)
{
	return write_stacks(a, c, "export", write_folded);
}

static int
cmd_flamegraph_exec(const struct ctl_args *a, struct ctl_conn *c)
{
	return write_stacks(a, c, "flamegraph", ctl_flame_svg);
}

const struct ctl_cmd_entry ctl_cmd_flamegraph_entry = {
	.cmd = CTL_CMD_FLAMEGRAPH,
	.name = "flamegraph",
	.args = "[-o FILE]",
	.summary = "an SVG flame graph of the live leases' bytes by stack",
	.options =
	    "  -o, --output F   write file F whole or not at all (a temporary\n"
	    "                   file beside it, renamed over it)\n",
	.more =
	    "One self-contained SVG document: open it in a browser.  Hover a\n"
	    "frame for its bytes and leases, click it to zoom.\n",
	.min_pos = 0,
	.max_pos = 0,
	.all = false,
	.exec = cmd_flamegraph_exec,
};
