/*
 * cmd-rules.c - memleasectl rules: read, set, add to or clear the tagging
 * rules of a process.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

static int
cmd_rules_exec(const struct ctl_args *a, struct ctl_conn *c)
{
	static const char *const ops[] = { "get", "set", "add", "clear" };
	struct ctl_reply r;
	json_t *req = json_object(), *rules;
	const char *text;
	char err[256];
	int rc;

	json_object_set_new(req, "op", json_string(ops[a->rules_op]));
	if (a->rules != NULL) {
		if ((rules = ctl_cmd_arg_string(a->rules, "rules")) == NULL) {
			json_decref(req);
			return -1;
		}
		json_object_set_new(req, "rules", rules);
	}
	if ((rc = ctl_cmd_ask(c, a, "rules", req, &r)) != 0)
		return rc < 0 ? -1 : 0;
	if (ctl_reply_rules(r.result, &text, err, sizeof err) != 0) {
		ctl_reply_free(&r);
		return ctl_client_malformed(c, err);
	}
	if (text[0] == '\0') {
		printf("no rules\n");
	} else {
		/* one rule a line: each line cleaned on its own */
		char *copy = strdup(text), *save = NULL;
		for (char *l = copy != NULL ? strtok_r(copy, "\n", &save) :
		    NULL; l != NULL; l = strtok_r(NULL, "\n", &save)) {
			char *s = ctl_out_clean(l);
			printf("%s\n", s);
			free(s);
		}
		free(copy);
	}
	ctl_reply_free(&r);
	return 0;
}

const struct ctl_cmd_entry ctl_cmd_rules_entry = {
	.cmd = CTL_CMD_RULES,
	.name = "rules",
	.args = "[get | set RULES | add RULE | clear]",
	.summary = "read or change the tagging rules of a running process",
	.options = NULL,
	.more = "RULES: rules separated by ';' or newlines; the words of RULE "
	    "or RULES\nmay be given as one argument or several.  See "
	    "memlease(7).\n",
	.min_pos = 0,
	.max_pos = -1,
	.all = false,
	.exec = cmd_rules_exec,
};
