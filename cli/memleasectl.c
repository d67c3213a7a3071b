/*
 * memleasectl.c - the command-line client of memlease's control socket
 * (memleasectl(1)): main() reads the command line (args.c) and runs the
 * command's entry (cmd-NAME.c, in cmd.c's table) on the connection to
 * its process (client.c), or, for ps and export, on every process.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ctl.h"

static int
run(const struct ctl_args *a)
{
	const struct ctl_cmd_entry *e = ctl_cmd_find(a->cmd);
	struct ctl_conn c;
	int rc;

	if (e == NULL)
		return -1;
	if (e->all)
		return e->exec(a, NULL);
	if (ctl_client_open_one(a, &c) != 0)
		return -1;
	rc = e->exec(a, &c);
	ctl_client_close(&c);
	return rc;
}

int
main(int argc, char **argv)
{
	struct ctl_args a;
	char err[512];
	int rc = ctl_args_parse(argc, argv, &a, err, sizeof err);

	if (rc == CTL_EXIT_USAGE) {
		ctl_out_warn("%s", err);
		return rc;
	}
	if (rc != CTL_EXIT_OK) {
		ctl_out_warn("out of memory");
		return rc;
	}
	if (a.version) {
		printf("memleasectl (memlease) %s\n", MEMLEASECTL_VERSION);
	} else if (a.help) {
		ctl_args_help(stdout, a.cmd);
	} else {
		rc = run(&a) == 0 ? CTL_EXIT_OK : CTL_EXIT_FAIL;
	}
	ctl_args_free(&a);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		ctl_out_warn("standard output: %s", strerror(errno));
		return CTL_EXIT_FAIL;
	}
	return rc;
}
