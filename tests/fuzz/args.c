/*
 * args.c - fuzz target: memleasectl's command line (cli/args.c).
 *
 * Input: the words after "memleasectl", separated by NUL bytes (at most
 * MAX_WORDS).  Properties: a usage error has a message and leaves nothing
 * to free; a command line accepted names a command (or asks for help or
 * the version) and holds what its command needs; durations and lease ids
 * are in their ranges.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "fuzz.h"

#define MAX_WORDS 64

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *argv[MAX_WORDS + 2] = { "memleasectl" };
	int argc = 1;
	char *text = malloc(size + 1), err[512];
	struct ctl_args a;
	uint64_t x;

	FUZZ_CHECK(text != NULL);
	memcpy(text, data, size);
	text[size] = '\0';
	/* a word ends at each NUL: "" words too, as a shell can pass them */
	for (size_t at = 0; at < size && argc <= MAX_WORDS;
	    at += strlen(text + at) + 1)
		argv[argc++] = text + at;
	argv[argc] = NULL;

	for (int i = 1; i < argc; i++) {
		if (ctl_args_duration(argv[i], &x) == 0)
			FUZZ_CHECK(x <= CTL_TTL_MAX);
		if (ctl_args_lease(argv[i], &x) == 0)
			FUZZ_CHECK(x != 0);
	}

	int r = ctl_args_parse(argc, argv, &a, err, sizeof err);
	FUZZ_CHECK(r == CTL_EXIT_OK || r == CTL_EXIT_USAGE);
	if (r == CTL_EXIT_USAGE) {
		FUZZ_CHECK(err[0] != '\0');
		FUZZ_CHECK(a.rules == NULL);
	} else if (!a.help && !a.version) {     /* else nothing is run */
		FUZZ_CHECK(a.cmd != CTL_CMD_NONE);
		FUZZ_CHECK(a.pid == 0 || a.socket == NULL);
		FUZZ_CHECK(a.older_than_ms <= CTL_TTL_MAX);
		FUZZ_CHECK(a.ttl_ms <= CTL_TTL_MAX);
		if (a.cmd == CTL_CMD_SHOW || a.cmd == CTL_CMD_RENEW ||
		    a.cmd == CTL_CMD_EXPIRE)
			FUZZ_CHECK(a.lease != 0);
		if (a.cmd == CTL_CMD_RULES)
			FUZZ_CHECK((a.rules != NULL) ==
			    (a.rules_op == CTL_RULES_SET ||
			    a.rules_op == CTL_RULES_ADD));
		if (a.sort != CTL_SORT_NONE)
			FUZZ_CHECK(a.limit <= CTL_TOP_MAX && !a.by_site);
		FUZZ_CHECK(ctl_args_cmd_name(a.cmd) != NULL);
	} else {
		ctl_args_help(fuzz_null(), a.cmd);
	}
	ctl_args_free(&a);
	FUZZ_CHECK(a.rules == NULL);
	free(text);
	return 0;
}
