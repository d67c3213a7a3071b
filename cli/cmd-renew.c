/*
 * cmd-renew.c - memleasectl renew: restart a lease's timeout, or remove it.
 */
#include <inttypes.h>
#include <stdio.h>

#include "ctl.h"

static int
cmd_renew_exec(const struct ctl_args *a, struct ctl_conn *c)
{
	struct ctl_reply r;
	json_t *req = ctl_cmd_lease_arg(a->lease);
	char ttl[CTL_FMT_UNIT];
	int rc;

	json_object_set_new(req, "ttl_ms", json_integer((json_int_t)a->ttl_ms));
	if ((rc = ctl_cmd_ask(c, a, "renew", req, &r)) != 0)
		return rc < 0 ? -1 : 0;
	if (a->ttl_ms == 0)
		printf("lease %#" PRIx64 " renewed: no timeout\n", a->lease);
	else
		printf("lease %#" PRIx64 " renewed: expires in %s\n", a->lease,
		    ctl_fmt_duration((int64_t)a->ttl_ms, ttl));
	ctl_reply_free(&r);
	return 0;
}

const struct ctl_cmd_entry ctl_cmd_renew_entry = {
	.cmd = CTL_CMD_RENEW,
	.name = "renew",
	.args = "ID [TTL]",
	.summary = "restart a lease's timeout (without TTL: remove it)",
	.options = NULL,
	.more = "TTL: 250ms, 30s, 5m, 1h, 2d, or milliseconds; 0 or none: no "
	    "timeout.\n",
	.min_pos = 1,
	.max_pos = 2,
	.all = false,
	.exec = cmd_renew_exec,
};
