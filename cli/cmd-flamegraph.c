/*
 * cmd-flamegraph.c - memleasectl flamegraph: the live leases' bytes of one
 * process by stack (list --by-stack), drawn as a flame graph, one SVG
 * document (flame.c); on standard output, or (-o) in a file replaced
 * whole.  export --format folded writes the same stacks as text.
 *
 * Under byte sampling (the listing's "estimated") both weigh each stack
 * by its estimates; the SVG says so itself, the folded lines cannot (a
 * line is frames and a number), so a note on stderr says it and stdout
 * stays folded text that flamegraph.pl and its peers read.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "ctl.h"

/* The stacks of c's process, whether they are estimated, and their
 * response to free: 0, or -1 (said). */
static int
ask_stacks(struct ctl_conn *c, struct ctl_reply *r, json_t **stacks,
    bool *estimated)
{
	json_t *req = json_object();

	json_object_set_new(req, "by_stack", json_true());
	if (ctl_client_request(c, "list", req, r) != 0)
		return -1;
	*stacks = json_object_get(r->result, "stacks");
	*estimated = json_is_true(json_object_get(r->result, "estimated"));
	if (!json_is_array(*stacks)) {
		ctl_reply_free(r);
		return ctl_client_malformed(c, "a listing without \"stacks\"");
	}
	return 0;
}

/* What writes the stacks: ctl_flame_svg, or ctl_flame_folded (whose
 * title is not used). */
typedef int (*writer_fn)(FILE *f, json_t *stacks, const char *title,
    bool estimated, char *err, size_t errlen);

static int
write_folded(FILE *f, json_t *stacks, const char *title, bool estimated,
    char *err, size_t errlen)
{
	(void)title;
	return ctl_flame_folded(f, stacks, estimated, err, errlen);
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
	bool estimated;
	int rc;

	if (a->output != NULL && ctl_out_file_open(&out, what, a->output) != 0)
		return -1;
	if (ask_stacks(c, &r, &stacks, &estimated) != 0) {
		if (a->output != NULL)
			ctl_out_file_abort(&out);
		return -1;
	}
	if (asprintf(&title, "%s by allocation stack: %s[%" PRId64 "]",
	    estimated ? "Estimated live bytes" : "Live bytes",
	    c->hello.program != NULL ? c->hello.program : "?",
	    c->hello.pid) < 0)
		title = NULL;
	err[0] = '\0';
	rc = w(out.f, stacks, title, estimated, err, sizeof err);
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
	if (a->output != NULL && ctl_out_file_commit(&out) != 0)
		return -1;
	if (estimated && w == write_folded)
		ctl_out_warn("process %" PRId64 ": estimated bytes: the "
		    "leases byte sampling (sample=) chose weigh the bytes they "
		    "stand for", c->hello.pid);
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
	    "frame for its bytes and leases, click it to zoom.  Under byte\n"
	    "sampling (sample=) the bytes and leases are estimates, and the\n"
	    "graph says so.\n",
	.min_pos = 0,
	.max_pos = 0,
	.all = false,
	.exec = cmd_flamegraph_exec,
};
