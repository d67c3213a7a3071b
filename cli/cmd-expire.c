/*
 * cmd-expire.c - memleasectl expire: end a lease now, as its deadline would.
 */
#include <inttypes.h>
#include <stdio.h>

#include "ctl.h"

static int
cmd_expire_exec(const struct ctl_args *a, struct ctl_conn *c)
{
	struct ctl_reply r;
	int rc;

	if ((rc = ctl_cmd_ask(c, a, "expire", ctl_cmd_lease_arg(a->lease),
	    &r)) != 0)
		return rc < 0 ? -1 : 0;
	printf("lease %#" PRIx64 " expired\n", a->lease);
	ctl_reply_free(&r);
	return 0;
}

const struct ctl_cmd_entry ctl_cmd_expire_entry = {
	.cmd = CTL_CMD_EXPIRE,
	.name = "expire",
	.args = "ID",
	.summary = "expire a lease now (its rule's action applies)",
	.options = NULL,
	.more = NULL,
	.min_pos = 1,
	.max_pos = 1,
	.all = false,
	.exec = cmd_expire_exec,
};
