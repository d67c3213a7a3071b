/*
 * test_ctl.c - memleasectl's pure parts, without a socket: the command
 * line of every command (good and bad), durations and lease ids, human
 * units, clean text, tables that fit a width, and responses good,
 * malformed and hostile.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"

/* --- the command line -------------------------------------------------- */

static struct ctl_args args;
static char err[512];

static void
args_fini(void)
{
	ctl_args_free(&args);
}

TestSuite(args, .fini = args_fini);

/* Parse the words given (NULL-terminated), after "memleasectl". */
static int
parse(const char *first, ...)
{
	char *argv[64] = { "memleasectl" };
	int argc = 1;
	va_list ap;

	va_start(ap, first);
	for (const char *w = first; w != NULL; w = va_arg(ap, const char *))
		argv[argc++] = (char *)w;
	va_end(ap);
	return ctl_args_parse(argc, argv, &args, err, sizeof err);
}

#define parses(...) \
	cr_assert_eq(parse(__VA_ARGS__, NULL), CTL_EXIT_OK, "%s", err)

/* The words are a usage error whose message contains `what`. */
#define refused(what, ...) do { \
	cr_assert_eq(parse(__VA_ARGS__, NULL), CTL_EXIT_USAGE, \
	    "parsed: %s", #__VA_ARGS__); \
	cr_assert(strstr(err, what) != NULL, "'%s' lacks '%s'", err, what); \
	cr_assert_null(args.rules); \
} while (0)

Test(args, no_command_is_a_usage_error)
{
	cr_assert_eq(parse(NULL), CTL_EXIT_USAGE);
	cr_assert(strstr(err, "no command") != NULL);
	refused("no command", "--json");
	refused("no command", "-p", "42");
}

Test(args, unknown_command_and_options_are_usage_errors)
{
	refused("unknown command 'lst'", "lst");
	refused("unknown option '--bogus'", "--bogus", "stats");
	refused("stats: unknown option '-x'", "stats", "-x");
	/* an option of another command */
	refused("stats: unknown option '--limit'", "stats", "--limit", "5");
	refused("unknown option '--older-than'", "--older-than", "1s", "list");
	refused("unknown option '--format'", "list", "--format",
	    "openmetrics");
}

Test(args, help_and_version)
{
	parses("--help");
	cr_assert(args.help);
	cr_assert_eq(args.cmd, CTL_CMD_NONE);
	parses("-h");
	cr_assert(args.help);
	parses("list", "--help");
	cr_assert(args.help);
	cr_assert_eq(args.cmd, CTL_CMD_LIST);
	/* help needs no arguments of the command */
	parses("show", "--help");
	cr_assert_eq(args.cmd, CTL_CMD_SHOW);
	parses("--version");
	cr_assert(args.version);
	parses("-V");
	cr_assert(args.version);
	refused("takes no value", "--help=yes");
}

Test(args, help_texts_name_every_command)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	ctl_args_help(f, CTL_CMD_NONE);
	fclose(f);
	for (int c = CTL_CMD_PS; ctl_cmd_find((enum ctl_cmd)c) != NULL;
	    c++) {
		char want[32];
		snprintf(want, sizeof want, "\n  %s ",
		    ctl_args_cmd_name((enum ctl_cmd)c));
		cr_assert(strstr(buf, want) != NULL, "no %s", want);
	}
	free(buf);
	for (int c = CTL_CMD_PS; ctl_cmd_find((enum ctl_cmd)c) != NULL;
	    c++) {
		f = open_memstream(&buf, &len);
		ctl_args_help(f, (enum ctl_cmd)c);
		fclose(f);
		cr_assert(strncmp(buf, "usage: memleasectl ", 19) == 0);
		cr_assert(strstr(buf, ctl_args_cmd_name((enum ctl_cmd)c)));
		free(buf);
	}
}

Test(args, pid_in_every_form)
{
	parses("-p", "42", "stats");
	cr_assert_eq(args.pid, 42);
	parses("-p42", "stats");
	cr_assert_eq(args.pid, 42);
	parses("--pid", "42", "stats");
	cr_assert_eq(args.pid, 42);
	parses("--pid=42", "stats");
	cr_assert_eq(args.pid, 42);
	parses("stats", "-p", "7");     /* after the command too */
	cr_assert_eq(args.pid, 7);
	cr_assert_eq(args.cmd, CTL_CMD_STATS);
}

Test(args, bad_pids_are_usage_errors)
{
	refused("not a process id", "-p", "0", "stats");
	refused("not a process id", "-p", "abc", "stats");
	refused("not a process id", "-p", "12x", "stats");
	refused("not a process id", "-p", "-1", "stats");
	refused("not a process id", "-p", "99999999999", "stats");
	refused("not a process id", "--pid=", "stats");
	refused("needs a value", "stats", "-p");
}

Test(args, socket_and_json)
{
	parses("-S", "/run/x.sock", "stats");
	cr_assert_str_eq(args.socket, "/run/x.sock");
	parses("--socket=/a.sock", "--json", "stats");
	cr_assert_str_eq(args.socket, "/a.sock");
	cr_assert(args.json);
	parses("stats", "--json");
	cr_assert(args.json);
	refused("-p and -S", "-p", "1", "-S", "/a.sock", "stats");
	refused("empty path", "-S", "", "stats");
	refused("takes no value", "--json=yes", "stats");
}

Test(args, commands_without_arguments)
{
	static const char *const names[] = { "ps", "stats", "watch",
	    "export", "flamegraph" };

	for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
		parses(names[i]);
		cr_assert_str_eq(ctl_args_cmd_name(args.cmd), names[i]);
		refused("unexpected argument 'extra'", names[i], "extra");
	}
}

Test(args, list_with_every_option)
{
	parses("list");
	cr_assert_eq(args.cmd, CTL_CMD_LIST);
	cr_assert_eq(args.older_than_ms, 0);
	cr_assert_null(args.label);
	cr_assert_null(args.state);
	cr_assert_eq(args.sort, CTL_SORT_NONE);
	cr_assert_eq(args.limit, 0);
	cr_assert(!args.by_site);

	parses("list", "--older-than", "5m", "--label", "boot", "--state",
	    "pinned", "--sort", "size", "--limit", "20");
	cr_assert_eq(args.older_than_ms, 300000);
	cr_assert_str_eq(args.label, "boot");
	cr_assert_str_eq(args.state, "pinned");
	cr_assert_eq(args.sort, CTL_SORT_SIZE);
	cr_assert_eq(args.limit, 20);

	parses("list", "--older-than=250", "--sort=age", "--limit=1");
	cr_assert_eq(args.older_than_ms, 250);
	cr_assert_eq(args.sort, CTL_SORT_AGE);
	cr_assert_eq(args.limit, 1);
	parses("--json", "list", "--by-site");
	cr_assert(args.by_site);
	cr_assert(args.json);
}

Test(args, list_options_checked)
{
	refused("takes no value", "list", "--by-site=yes");
	refused("--older-than: '5 m'", "list", "--older-than", "5 m");
	refused("--older-than: '-1s'", "list", "--older-than", "-1s");
	refused("--state: 'dead'", "list", "--state", "dead");
	refused("--sort: 'name'", "list", "--sort", "name");
	refused("--limit: '0'", "list", "--limit", "0");
	refused("--limit: 'ten'", "list", "--limit", "ten");
	refused("--limit: '4294967296'", "list", "--limit", "4294967296");
	refused("at most 10000", "list", "--sort", "age", "--limit", "10001");
	refused("--by-site and --sort", "list", "--by-site", "--sort", "size");
	refused("unexpected argument 'x'", "list", "x");
	refused("needs a value", "list", "--label");
}

Test(args, list_edge_values)
{
	parses("list", "--sort", "age", "--limit", "10000");
	cr_assert_eq(args.limit, 10000);
	parses("list", "--limit", "4294967295");
	cr_assert_eq(args.limit, 4294967295u);
	parses("list", "--label", "");  /* leases without a label */
	cr_assert_str_eq(args.label, "");
	parses("list", "--label", "-dash");     /* a value, not an option */
	cr_assert_str_eq(args.label, "-dash");
	parses("list", "--by-site", "--limit", "3");
	cr_assert(args.by_site);
}

Test(args, list_by_stack_takes_a_depth_and_globs_to_skip)
{
	parses("list", "--by-stack");
	cr_assert(args.by_stack);
	cr_assert_eq(args.depth, 0);
	cr_assert_null(args.skip);
	parses("list", "--by-stack", "--depth", "4", "--skip=zmalloc,xmalloc",
	    "--limit", "10");
	cr_assert_eq(args.depth, 4);
	cr_assert_str_eq(args.skip, "zmalloc,xmalloc");
	cr_assert_eq(args.limit, 10);
	parses("list", "--by-stack", "--depth", "1000");
	cr_assert_eq(args.depth, 1000);
}

Test(args, list_by_stack_options_checked)
{
	refused("--depth: '1001'", "list", "--by-stack", "--depth", "1001");
	refused("--depth: '-1'", "list", "--by-stack", "--depth", "-1");
	refused("--by-stack and --sort", "list", "--by-stack", "--sort", "age");
	refused("--by-stack and --by-site", "list", "--by-stack",
	    "--by-site");
	refused("--depth goes with --by-stack", "list", "--depth", "2");
	refused("--skip goes with --by-stack", "list", "--skip", "xmalloc");
}

Test(args, show_renew_expire_take_a_lease_id)
{
	parses("show", "0x100000001");
	cr_assert_eq(args.cmd, CTL_CMD_SHOW);
	cr_assert_eq(args.lease, 0x100000001);
	parses("expire", "31");
	cr_assert_eq(args.lease, 31);
	parses("renew", "0x1f", "30s");
	cr_assert_eq(args.lease, 0x1f);
	cr_assert_eq(args.ttl_ms, 30000);
	parses("renew", "0x1f");
	cr_assert_eq(args.ttl_ms, 0, "no TTL: no timeout");
	parses("renew", "0x1f", "0");
	cr_assert_eq(args.ttl_ms, 0);

	refused("show: ID is missing", "show");
	refused("expire: ID is missing", "expire");
	refused("renew: ID [TTL] is missing", "renew");
	refused("not a lease id", "show", "0");
	refused("not a lease id", "show", "lease");
	refused("not a lease id", "expire", "0x");
	refused("unexpected argument '0x2'", "show", "0x1", "0x2");
	refused("unexpected argument '1s'", "expire", "0x1", "1s");
	refused("unexpected argument 'x'", "renew", "0x1", "1s", "x");
	refused("renew: '1.5s' is not a duration", "renew", "0x1", "1.5s");
}

Test(args, rules_operations)
{
	parses("rules");
	cr_assert_eq(args.rules_op, CTL_RULES_GET);
	cr_assert_null(args.rules);
	parses("rules", "get");
	cr_assert_eq(args.rules_op, CTL_RULES_GET);
	parses("rules", "clear");
	cr_assert_eq(args.rules_op, CTL_RULES_CLEAR);
	parses("rules", "set", "caller=f ttl=1s; size=1M- ttl=1m");
	cr_assert_eq(args.rules_op, CTL_RULES_SET);
	cr_assert_str_eq(args.rules, "caller=f ttl=1s; size=1M- ttl=1m");
	ctl_args_free(&args);
	/* the words of a rule, unquoted */
	parses("rules", "add", "caller=f", "ttl=1s", "action=free");
	cr_assert_eq(args.rules_op, CTL_RULES_ADD);
	cr_assert_str_eq(args.rules, "caller=f ttl=1s action=free");
	ctl_args_free(&args);
	cr_assert_null(args.rules);
	/* "--" ends the options: a word may then start with '-' */
	parses("rules", "add", "--", "-odd", "ttl=1s");
	cr_assert_str_eq(args.rules, "-odd ttl=1s");
}

Test(args, rules_misuse)
{
	refused("rules add: RULE is missing", "rules", "add");
	refused("rules set: RULES is missing", "rules", "set");
	refused("rules get: unexpected argument 'x'", "rules", "get", "x");
	refused("rules clear: unexpected argument 'x'", "rules", "clear", "x");
	refused("rules: 'list'", "rules", "list");
	refused("unknown option '-odd'", "rules", "add", "-odd");
}

Test(args, export_formats)
{
	parses("export");
	cr_assert_eq(args.format, CTL_FORMAT_PROMETHEUS);
	parses("export", "--format", "openmetrics");
	cr_assert_eq(args.format, CTL_FORMAT_OPENMETRICS);
	parses("export", "--format=prometheus");
	cr_assert_eq(args.format, CTL_FORMAT_PROMETHEUS);
	refused("--format: 'json'", "export", "--format", "json");
	refused("needs a value", "export", "--format");
}

Test(args, export_output)
{
	parses("export");
	cr_assert_null(args.output);
	parses("export", "-o", "/var/lib/x/memlease.prom");
	cr_assert_str_eq(args.output, "/var/lib/x/memlease.prom");
	parses("export", "--output=m.prom", "--format", "openmetrics");
	cr_assert_str_eq(args.output, "m.prom");
	refused("-o: an empty path", "export", "-o", "");
	refused("needs a value", "export", "--output");
	refused("stats: unknown option '-o'", "stats", "-o", "x");
}

Test(args, attach_takes_a_pid_rules_and_a_library)
{
	parses("attach", "4242");
	cr_assert_eq(args.pid, 4242);
	cr_assert_null(args.rules);
	cr_assert_null(args.library);
	parses("attach", "7", "--rules", "size=1M- ttl=1m; caller=f ttl=1s",
	    "--library=/opt/m/libmemlease.so.0");
	cr_assert_eq(args.pid, 7);
	cr_assert_eq(args.rules_op, CTL_RULES_SET);
	cr_assert_str_eq(args.rules, "size=1M- ttl=1m; caller=f ttl=1s");
	cr_assert_str_eq(args.library, "/opt/m/libmemlease.so.0");
	ctl_args_free(&args);
	parses("--json", "attach", "--rules", "a ttl=1s", "--rules", "b ttl=2s",
	    "9");
	cr_assert_str_eq(args.rules, "b ttl=2s", "the last --rules wins");
}

/* What ctl_attach_check_scope(pid, v, root) writes on stderr, in out. */
static int
scope_said(int v, bool root, char *out, size_t size)
{
	FILE *f = tmpfile();
	int saved = dup(2), r;
	size_t n;

	cr_assert_not_null(f);
	cr_assert_geq(saved, 0);
	fflush(stderr);
	cr_assert_geq(dup2(fileno(f), 2), 0);
	r = ctl_attach_check_scope(42, v, root);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	rewind(f);
	n = fread(out, 1, size - 1, f);
	out[n] = '\0';
	fclose(f);
	return r;
}

/* Each value of Yama's ptrace_scope that forbids the attach is named with
 * what to do; those that do not, say nothing.  (The kernels CI runs on may
 * have no Yama, so the values are given here, not read.) */
Test(attach, ptrace_scope_refusals_say_the_value_and_what_to_do)
{
	char said[512];

	cr_assert_eq(scope_said(1, false, said, sizeof said), -1);
	cr_assert(strstr(said, "process 42: kernel.yama.ptrace_scope is 1") !=
	    NULL && strstr(said, "sysctl kernel.yama.ptrace_scope=0") != NULL,
	    "%s", said);
	cr_assert_eq(scope_said(2, false, said, sizeof said), -1);
	cr_assert(strstr(said, "ptrace_scope is 2: only root") != NULL &&
	    strstr(said, "Run memleasectl as root") != NULL, "%s", said);
	cr_assert_eq(scope_said(3, true, said, sizeof said), -1);
	cr_assert(strstr(said, "ptrace_scope is 3: no process may be traced "
	    "until the next boot") != NULL, "%s", said);
	for (int v = -1; v <= 2; v++) {
		cr_assert_eq(scope_said(v, true, said, sizeof said), 0,
		    "root refused at %d", v);
		cr_assert_str_empty(said);
	}
	for (int v = -1; v <= 0; v++) {
		cr_assert_eq(scope_said(v, false, said, sizeof said), 0);
		cr_assert_str_empty(said);
	}
}

Test(args, attach_misuse)
{
	refused("attach: PID", "attach");
	refused("attach: 'x' is not a process id", "attach", "x");
	refused("attach: '0' is not a process id", "attach", "0");
	refused("attach: unexpected argument '2'", "attach", "1", "2");
	refused("without -p or -S", "-p", "1", "attach", "1");
	refused("without -p or -S", "-S", "/s", "attach", "1");
	refused("--library: 'lib.so' is not an absolute path", "attach", "1",
	    "--library", "lib.so");
	refused("list: unknown option '--rules'", "list", "--rules", "x");
}

Test(args, export_folded_and_flamegraph_output)
{
	parses("export", "--format", "folded", "-o", "f.txt");
	cr_assert_eq(args.format, CTL_FORMAT_FOLDED);
	cr_assert_str_eq(args.output, "f.txt");
	parses("flamegraph");
	cr_assert_null(args.output);
	parses("-p", "7", "flamegraph", "--output=leases.svg");
	cr_assert_str_eq(args.output, "leases.svg");
	refused("-o: an empty path", "flamegraph", "-o", "");
	refused("flamegraph: unknown option '--format'", "flamegraph",
	    "--format", "folded");
}

Test(args, report_takes_files_or_none)
{
	parses("report");
	cr_assert_eq(args.nfiles, 0);
	parses("--json", "report", "a.json", "-", "--", "-b.json");
	cr_assert(args.json);
	cr_assert_eq(args.nfiles, 3);
	cr_assert_str_eq(args.files[0], "a.json");
	cr_assert_str_eq(args.files[1], "-");
	cr_assert_str_eq(args.files[2], "-b.json");
	ctl_args_free(&args);
	refused("report: unknown option '-o'", "report", "-o", "x");
}

Test(args, double_dash_makes_words_arguments)
{
	refused("unexpected argument '--json'", "stats", "--", "--json");
	parses("--", "stats");
	cr_assert_eq(args.cmd, CTL_CMD_STATS);
	refused("unknown command '-p'", "--", "-p", "1", "stats");
}

/* --- durations and lease ids ------------------------------------------ */

static uint64_t
duration(const char *s)
{
	uint64_t ms = 12345;

	cr_assert_eq(ctl_args_duration(s, &ms), 0, "'%s' refused", s);
	return ms;
}

Test(durations, every_unit)
{
	cr_assert_eq(duration("0"), 0);
	cr_assert_eq(duration("250"), 250);
	cr_assert_eq(duration("250ms"), 250);
	cr_assert_eq(duration("30s"), 30000);
	cr_assert_eq(duration("5m"), 300000);
	cr_assert_eq(duration("1h"), 3600000);
	cr_assert_eq(duration("2d"), 172800000);
	cr_assert_eq(duration("007s"), 7000);
	cr_assert_eq(duration("1099511627775"), CTL_TTL_MAX);
}

Test(durations, strictly_parsed)
{
	static const char *const bad[] = {
		"", "ms", "s", "1.5s", "-1", "+1", "1 s", " 1", "1 ", "1S",
		"1sm", "1w", "s1", "1e3", "0x10", "1h30m",
		"99999999999999999999",         /* overflows 64 bits */
		"1099511627776",                /* over the maximum */
		"20000000000d",                 /* over it by its unit */
		"12730d",                       /* just over, in days */
	};
	uint64_t ms = 7;

	cr_assert_neq(ctl_args_duration(NULL, &ms), 0);
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		cr_assert_neq(ctl_args_duration(bad[i], &ms), 0, "'%s' parsed",
		    bad[i]);
	cr_assert_eq(ms, 7, "a refused duration stores nothing");
	cr_assert_eq(duration("12725d"), UINT64_C(12725) * 86400000);
}

Test(durations, lease_ids)
{
	uint64_t id;

	cr_assert_eq(ctl_args_lease("0x100000001", &id), 0);
	cr_assert_eq(id, 0x100000001);
	cr_assert_eq(ctl_args_lease("0X1F", &id), 0);
	cr_assert_eq(id, 31);
	cr_assert_eq(ctl_args_lease("0xAbC", &id), 0);
	cr_assert_eq(id, 0xabc);
	cr_assert_eq(ctl_args_lease("31", &id), 0);
	cr_assert_eq(id, 31);
	cr_assert_eq(ctl_args_lease("0xffffffffffffffff", &id), 0);
	cr_assert_eq(id, UINT64_MAX);
	cr_assert_eq(ctl_args_lease("18446744073709551615", &id), 0);
	cr_assert_eq(id, UINT64_MAX);

	static const char *const bad[] = {
		"", "0", "0x", "0x0", "00", "0xg", "0x1g", "-1", "+1", " 1",
		"1 ", "0x10000000000000000", "18446744073709551616", "1h",
		"0x-1", "lease",
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		cr_assert_neq(ctl_args_lease(bad[i], &id), 0, "'%s' parsed",
		    bad[i]);
	cr_assert_neq(ctl_args_lease(NULL, &id), 0);
}

/* --- human units and clean text ---------------------------------------- */

static void
size_is(int64_t bytes, const char *want)
{
	char buf[CTL_FMT_UNIT];

	cr_assert_str_eq(ctl_fmt_size(bytes, buf), want, "%lld",
	    (long long)bytes);
}

static void
duration_is(int64_t ms, const char *want)
{
	char buf[CTL_FMT_UNIT];

	cr_assert_str_eq(ctl_fmt_duration(ms, buf), want, "%lld",
	    (long long)ms);
}

Test(format, sizes)
{
	size_is(-1, "-");
	size_is(0, "0B");
	size_is(512, "512B");
	size_is(1023, "1023B");
	size_is(1024, "1.0KiB");
	size_is(1536, "1.5KiB");
	size_is(10188, "9.9KiB");
	size_is(10239, "10KiB");        /* 9.999: not "10.0KiB" */
	size_is(65536, "64KiB");
	size_is(1048063, "1023KiB");
	size_is(1048575, "1.0MiB");     /* 1023.999KiB */
	size_is(3355443, "3.2MiB");
	size_is(INT64_C(5) << 30, "5.0GiB");
	size_is(INT64_C(1) << 40, "1.0TiB");
	size_is(INT64_MAX, "8.0EiB");
}

Test(format, durations)
{
	duration_is(-1, "-");
	duration_is(0, "0ms");
	duration_is(850, "850ms");
	duration_is(999, "999ms");
	duration_is(1000, "1.0s");
	duration_is(12345, "12.3s");
	duration_is(12350, "12.4s");
	duration_is(59949, "59.9s");
	duration_is(59950, "1m00s");
	duration_is(245000, "4m05s");
	duration_is(3599499, "59m59s");
	duration_is(3599500, "1h00m");
	duration_is(7260000, "2h01m");
	duration_is(86369999, "23h59m");
	duration_is(86399999, "1d00h");
	duration_is(187200000, "2d04h");
	char buf[CTL_FMT_UNIT];
	cr_assert_eq(strlen(ctl_fmt_duration(INT64_MAX, buf)) > 0, 1);
}

Test(format, counts)
{
	char buf[CTL_FMT_UNIT];

	cr_assert_str_eq(ctl_fmt_count(-1, buf), "-");
	cr_assert_str_eq(ctl_fmt_count(0, buf), "0");
	cr_assert_str_eq(ctl_fmt_count(INT64_MAX, buf),
	    "9223372036854775807");
}

static void
clean_is(const char *in, const char *want)
{
	char *s = ctl_fmt_clean(in);

	cr_assert_not_null(s);
	cr_assert_str_eq(s, want);
	free(s);
}

Test(format, clean_text_cannot_drive_a_terminal)
{
	clean_is(NULL, "-");
	clean_is("", "");
	clean_is("boot-log", "boot-log");
	clean_is("h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80",
	    "h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80");
	clean_is("a\033[2Jb", "a?[2Jb");               /* ESC */
	clean_is("a\nb\rc\td\x7f", "a?b?c?d?");
	clean_is("\xc2\x9b" "31m", "??31m");            /* C1 CSI */
	clean_is("\x9b" "31m", "?31m");                 /* a lone byte */
	clean_is("\xff\xfe", "??");
	clean_is("\xe2\x82", "??");                     /* cut short */
	clean_is("\xc0\xaf", "??");                     /* overlong */
	clean_is("\xe0\x80\xaf", "???");                /* overlong */
	clean_is("\xed\xa0\x80", "???");                /* a surrogate */
	clean_is("\xf4\x90\x80\x80", "????");           /* past U+10FFFF */
}

Test(format, widths_and_cuts)
{
	char *s;

	cr_assert_eq(ctl_fmt_width(""), 0);
	cr_assert_eq(ctl_fmt_width("h\xc3\xa9llo"), 5);
	s = ctl_fmt_cut("abcdefghij", 10, false);
	cr_assert_str_eq(s, "abcdefghij");
	free(s);
	s = ctl_fmt_cut("abcdefghij", 8, false);
	cr_assert_str_eq(s, "abcde...");
	free(s);
	s = ctl_fmt_cut("/usr/lib/libfoo.so", 12, true);
	cr_assert_str_eq(s, "...libfoo.so");
	free(s);
	s = ctl_fmt_cut("\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", 4, false);
	cr_assert_str_eq(s, "\xc3\xa9...", "characters are never split");
	free(s);
	s = ctl_fmt_cut("\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", 4, true);
	cr_assert_str_eq(s, "...\xc3\xa9");
	free(s);
	s = ctl_fmt_cut("abcdef", 2, false);
	cr_assert_str_eq(s, "..");
	free(s);
	s = ctl_fmt_cut("abcdef", 0, true);
	cr_assert_str_eq(s, "");
	free(s);
}

Test(format, terminal_width)
{
	int p[2];

	cr_assert_eq(pipe(p), 0);
	unsetenv("COLUMNS");
	cr_assert_eq(ctl_fmt_term_width(p[1]), 0, "a pipe: no limit");
	setenv("COLUMNS", "132", 1);
	cr_assert_eq(ctl_fmt_term_width(p[1]), 132);
	setenv("COLUMNS", "wide", 1);
	cr_assert_eq(ctl_fmt_term_width(p[1]), 0);
	setenv("COLUMNS", "5", 1);
	cr_assert_eq(ctl_fmt_term_width(p[1]), 0, "too narrow to believe");
	unsetenv("COLUMNS");
	close(p[0]);
	close(p[1]);
}

/* --- tables -------------------------------------------------------------- */

static const struct ctl_col cols[] = {
	{ "ID", false, false, false },
	{ "SIZE", true, false, false },
	{ "LABEL", false, true, false },
	{ "OBJECT", false, true, true },
};

static struct ctl_table table;

static void
table_init(void)
{
	cr_assert_eq(ctl_fmt_table_init(&table, cols, 4), 0);
}

static void
table_fini(void)
{
	ctl_fmt_table_free(&table);
}

TestSuite(table, .init = table_init, .fini = table_fini);

static void
add(const char *id, const char *size, const char *label, const char *obj)
{
	const char *row[] = { id, size, label, obj };

	cr_assert_eq(ctl_fmt_table_add(&table, row), 0);
}

/* Print the table within `columns`; the text (the caller frees). */
static char *
print(size_t columns)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	cr_assert_eq(ctl_fmt_table_print(&table, f, columns), 0);
	fclose(f);
	return buf;
}

/* Every line of text is at most `columns` characters wide. */
static void
fits(const char *text, size_t columns)
{
	char *copy = strdup(text), *save = NULL;

	for (char *l = strtok_r(copy, "\n", &save); l != NULL;
	    l = strtok_r(NULL, "\n", &save))
		cr_assert_leq(ctl_fmt_width(l), columns, "'%s' is wider than "
		    "%zu", l, columns);
	free(copy);
}

Test(table, aligned_columns_at_natural_width)
{
	add("0x1", "64KiB", "boot", "/usr/bin/hub");
	add("0x100000002", "512B", NULL, "/lib/libc.so.6");
	char *out = print(0);
	cr_assert_str_eq(out,
	    "ID            SIZE  LABEL  OBJECT\n"
	    "0x1          64KiB  boot   /usr/bin/hub\n"
	    "0x100000002   512B  -      /lib/libc.so.6\n");
	free(out);
}

Test(table, fits_a_narrow_terminal)
{
	add("0x1", "64KiB", "a-label-that-is-long", "/usr/lib/x86_64-linux-"
	    "gnu/libsomething-long.so.1");
	add("0x2", "1.0MiB", "short", "/bin/sh");
	char *out = print(40);
	fits(out, 40);
	cr_assert(strstr(out, "...") != NULL);
	cr_assert(strstr(out, "  ...") != NULL &&
	    strstr(out, "long.so.1\n") != NULL, "paths keep their end:"
	    "\n%s", out);
	cr_assert(strncmp(out, "ID   ", 5) == 0, "%s", out);
	cr_assert(strstr(out, "\n0x2  1.0MiB  short") != NULL, "%s", out);
	free(out);
}

Test(table, shrinks_the_widest_first_and_never_below_8)
{
	size_t w[4];

	add("0x1", "1B", "0123456789012345678901234567890", "/a/b/c/d/e/f/g/h");
	ctl_fmt_table_layout(&table, 45, w);
	cr_assert_eq(w[0] + w[1] + w[2] + w[3] + 6, 45);
	cr_assert_eq(w[0], 3);
	cr_assert_eq(w[1], 4);
	ctl_fmt_table_layout(&table, 10, w);    /* cannot fit: as narrow */
	cr_assert_eq(w[2], 8);
	cr_assert_eq(w[3], 8);
	cr_assert_eq(w[0], 3, "a column that may not shrink keeps its width");
	ctl_fmt_table_layout(&table, 0, w);
	cr_assert_eq(w[2], 31);
	cr_assert_eq(w[3], 16);
}

Test(table, batches_share_one_header_and_grow)
{
	add("0x1", "1B", "a", "b");
	char *first = print(0);
	cr_assert(strncmp(first, "ID ", 3) == 0);
	free(first);
	add("0x100000001", "1B", "a", "b");
	char *second = print(0);
	cr_assert(strstr(second, "ID") == NULL, "one header: %s", second);
	cr_assert_str_eq(second, "0x100000001    1B  a      b\n");
	free(second);
	char *empty = print(0);
	cr_assert_str_eq(empty, "");
	free(empty);
}

Test(table, cells_are_cleaned)
{
	add("0x1", "1B", "\033]0;pwned\007", "ok");
	char *out = print(0);
	cr_assert(strchr(out, '\033') == NULL);
	cr_assert(strstr(out, "?]0;pwned?") != NULL);
	free(out);
}

/* --- responses ----------------------------------------------------------- */

static struct ctl_reply reply;

static void
reply_fini(void)
{
	ctl_reply_free(&reply);
}

TestSuite(reply, .fini = reply_fini);

static void
good(const char *line)
{
	cr_assert_eq(ctl_reply_parse(line, strlen(line), &reply, err,
	    sizeof err), 0, "'%s': %s", line, err);
}

/* The line is refused with a message containing `what`. */
static void
bad(const char *line, const char *what)
{
	cr_assert_eq(ctl_reply_parse(line, strlen(line), &reply, err,
	    sizeof err), -1, "'%.80s' parsed", line);
	cr_assert_null(reply.root);
	cr_assert(strstr(err, what) != NULL, "'%s' lacks '%s'", err, what);
}

Test(reply, a_result)
{
	good("{\"id\":7,\"ok\":true,\"result\":{\"proto\":1}}");
	cr_assert_eq(reply.id, 7);
	cr_assert(reply.ok);
	cr_assert(json_is_object(reply.result));
	cr_assert_null(reply.code);
}

Test(reply, an_error)
{
	good("{\"id\":3,\"ok\":false,\"error\":{\"code\":\"ESTALE\","
	    "\"message\":\"lease 0x1: no such lease\"}}");
	cr_assert(!reply.ok);
	cr_assert_str_eq(reply.code, "ESTALE");
	cr_assert_str_eq(reply.message, "lease 0x1: no such lease");
	cr_assert_null(reply.result);
	ctl_reply_free(&reply);
	/* an error without its parts still reads */
	good("{\"id\":null,\"ok\":false}");
	cr_assert_eq(reply.id, -1);
	cr_assert_str_eq(reply.code, "?");
	cr_assert_str_eq(reply.message, "");
	ctl_reply_free(&reply);
	good("{\"id\":1,\"ok\":false,\"error\":{\"code\":5,\"message\":[]}}");
	cr_assert_str_eq(reply.code, "?");
}

Test(reply, malformed_lines)
{
	bad("", "not JSON");
	bad("{", "not JSON");
	bad("{\"id\":1,\"ok\":true,\"result\":{}} x", "not JSON");
	bad("[1,2]", "not a JSON object");
	bad("\"text\"", "not a JSON object");
	bad("{\"ok\":true,\"result\":{}}", "\"id\"");
	bad("{\"id\":\"1\",\"ok\":true,\"result\":{}}", "\"id\"");
	bad("{\"id\":-1,\"ok\":true,\"result\":{}}", "\"id\"");
	bad("{\"id\":1.5,\"ok\":true,\"result\":{}}", "\"id\"");
	bad("{\"id\":1,\"result\":{}}", "\"ok\"");
	bad("{\"id\":1,\"ok\":1,\"result\":{}}", "\"ok\"");
	bad("{\"id\":1,\"ok\":true}", "\"result\"");
	bad("{\"id\":1,\"ok\":true,\"result\":[]}", "\"result\"");
	bad("{\"id\":1,\"ok\":true,\"result\":null}", "\"result\"");
	bad("{\"id\":1,\"id\":2,\"ok\":true,\"result\":{}}", "not JSON");
}

Test(reply, hostile_lines)
{
	/* integers past 64 bits, a NUL in a string, invalid UTF-8 */
	bad("{\"id\":99999999999999999999,\"ok\":true,\"result\":{}}",
	    "not JSON");
	bad("{\"id\":1,\"ok\":true,\"result\":{\"a\":\"x\\u0000y\"}}",
	    "not JSON");
	bad("{\"id\":1,\"ok\":true,\"result\":{\"a\":\"\xff\"}}", "not JSON");

	/* nesting a million deep: refused, not a stack overflow */
	size_t depth = 1000000;
	char *deep = malloc(2 * depth + 64);
	strcpy(deep, "{\"id\":1,\"ok\":true,\"result\":{\"a\":");
	size_t at = strlen(deep);
	memset(deep + at, '[', depth);
	memset(deep + at + depth, ']', depth);
	strcpy(deep + at + 2 * depth, "}}");
	bad(deep, "not JSON");
	free(deep);

	/* a line over the cap is refused before it is parsed */
	size_t big = CTL_REPLY_MAX_LINE + 1;
	char *huge = malloc(big);
	memset(huge, ' ', big);
	cr_assert_eq(ctl_reply_parse(huge, big, &reply, err, sizeof err), -1);
	cr_assert(strstr(err, "more than") != NULL, "%s", err);
	free(huge);
}

/* Parse the object text into a fresh JSON value (kept in reply). */
static json_t *
obj(const char *text)
{
	json_error_t jerr;

	ctl_reply_free(&reply);
	reply.root = json_loads(text, JSON_DECODE_ANY, &jerr);
	cr_assert_not_null(reply.root, "%s: %s", text, jerr.text);
	return reply.root;
}

Test(reply, hello)
{
	struct ctl_hello h;

	cr_assert_eq(ctl_reply_hello(obj("{\"proto\":1,\"pid\":42,\"version\":"
	    "\"0.1.0\",\"program\":\"/bin/x\"}"), &h, err, sizeof err), 0);
	cr_assert_eq(h.proto, 1);
	cr_assert_eq(h.pid, 42);
	cr_assert_str_eq(h.version, "0.1.0");
	cr_assert_str_eq(h.program, "/bin/x");
	cr_assert_eq(ctl_reply_hello(obj("{\"proto\":1,\"pid\":42}"), &h, err,
	    sizeof err), 0);
	cr_assert_null(h.program);

	cr_assert_eq(ctl_reply_hello(obj("{\"pid\":42}"), &h, err,
	    sizeof err), -1);
	cr_assert_eq(ctl_reply_hello(obj("{\"proto\":\"1\",\"pid\":42}"), &h,
	    err, sizeof err), -1);
	cr_assert_eq(ctl_reply_hello(obj("{\"proto\":1,\"pid\":0}"), &h, err,
	    sizeof err), -1);
	cr_assert_eq(ctl_reply_hello(obj("{\"proto\":1,\"pid\":4294967296}"),
	    &h, err, sizeof err), -1);
	cr_assert_eq(ctl_reply_hello(obj("{\"proto\":1,\"pid\":1,\"program\":"
	    "7}"), &h, err, sizeof err), -1);
	cr_assert_eq(ctl_reply_hello(obj("[]"), &h, err, sizeof err), -1);
	cr_assert_eq(ctl_reply_hello(NULL, &h, err, sizeof err), -1);
}

Test(reply, stats)
{
	struct ctl_stats st;

	cr_assert_eq(ctl_reply_stats(obj("{\"pid\":9,\"live_leases\":5,"
	    "\"live_bytes\":100,\"tagged\":2,\"allocated\":10,\"released\":3,"
	    "\"expired\":2,\"reclaimed\":1,\"pinned\":0,\"overdue\":0,"
	    "\"entry_blocks\":1,\"entries_per_block\":32,"
	    "\"bookkeeping_bytes\":4096,\"stacks\":3,\"extra\":\"x\"}"), &st,
	    err, sizeof err), 0, "%s", err);
	cr_assert_eq(st.pid, 9);
	cr_assert_eq(st.live_leases, 5);
	cr_assert_eq(st.live_bytes, 100);
	cr_assert_eq(st.reclaimed, 1);
	cr_assert_eq(st.stacks, 3);

	/* missing counters read as unknown */
	cr_assert_eq(ctl_reply_stats(obj("{\"live_leases\":5}"), &st, err,
	    sizeof err), 0);
	cr_assert_eq(st.live_leases, 5);
	cr_assert_eq(st.pid, -1);
	cr_assert_eq(st.expired, -1);

	static const char *const wrong[] = {
		"{\"live_leases\":\"5\"}", "{\"live_leases\":-5}",
		"{\"live_leases\":5.5}", "{\"live_leases\":true}",
		"{\"expired\":{}}", "{\"pid\":[]}", "3", "[]",
	};
	for (size_t i = 0; i < sizeof wrong / sizeof *wrong; i++)
		cr_assert_eq(ctl_reply_stats(obj(wrong[i]), &st, err,
		    sizeof err), -1, "%s parsed", wrong[i]);
	cr_assert(strstr(err, "not a JSON object") != NULL);
}

Test(reply, a_lease)
{
	struct ctl_lease l;

	cr_assert_eq(ctl_reply_lease(obj("{\"id\":\"0x100000001\",\"size\":64,"
	    "\"age_ms\":5,\"expires_in_ms\":null,\"label\":null,\"state\":"
	    "\"live\",\"kind\":\"tagged\",\"pins\":0,\"releases\":1,\"addr\":"
	    "\"0x10\"}"), &l, err, sizeof err), 0, "%s", err);
	cr_assert_str_eq(l.id, "0x100000001");
	cr_assert_eq(l.size, 64);
	cr_assert_eq(l.expires_in_ms, -1, "null: no timeout");
	cr_assert_null(l.label);
	cr_assert_str_eq(l.state, "live");
	cr_assert_str_eq(l.kind, "tagged");

	cr_assert_eq(ctl_reply_lease(obj("{\"id\":\"0x1\"}"), &l, err,
	    sizeof err), 0, "only the id is required");
	cr_assert_eq(l.size, -1);
	cr_assert_null(l.state);

	static const char *const wrong[] = {
		"{}", "{\"id\":1}", "{\"id\":null}", "{\"id\":\"0x1\","
		"\"size\":-1}", "{\"id\":\"0x1\",\"size\":1e3}",
		"{\"id\":\"0x1\",\"label\":5}", "{\"id\":\"0x1\","
		"\"expires_in_ms\":\"soon\"}", "{\"id\":\"0x1\",\"state\":[]}",
		"null", "[{\"id\":\"0x1\"}]",
	};
	for (size_t i = 0; i < sizeof wrong / sizeof *wrong; i++)
		cr_assert_eq(ctl_reply_lease(obj(wrong[i]), &l, err,
		    sizeof err), -1, "%s parsed", wrong[i]);
}

Test(reply, frames_in_text_as_spec_says)
{
	struct ctl_frame fr;
	char buf[256];

	cr_assert_eq(ctl_reply_frame(obj("{\"function\":\"main\",\"offset\":"
	    "18,\"object\":\"/bin/x\",\"object_offset\":\"0x1011\","
	    "\"file\":\"x.c\",\"line\":7}"), &fr, err, sizeof err), 0);
	cr_assert_str_eq(ctl_cmd_frame_where(&fr, buf, sizeof buf),
	    "main+0x12 (x.c:7)");
	cr_assert_eq(ctl_reply_frame(obj("{\"function\":\"inner\",\"object\":"
	    "\"/bin/x\",\"file\":\"x.h\",\"line\":3,\"inlined\":true}"),
	    &fr, err, sizeof err), 0);
	cr_assert(fr.inlined);
	cr_assert_str_eq(ctl_cmd_frame_where(&fr, buf, sizeof buf),
	    "inner (x.h:3)");
	/* no name: the object and the offset in it, never a guess */
	cr_assert_eq(ctl_reply_frame(obj("{\"object\":\"/lib/y.so\","
	    "\"object_offset\":\"0x2a0\",\"ip\":\"0x7f00000012a1\"}"), &fr,
	    err, sizeof err), 0);
	cr_assert_str_eq(ctl_cmd_frame_where(&fr, buf, sizeof buf),
	    "/lib/y.so+0x2a0");
}

Test(reply, backtrace_text_has_the_inline_chain_and_no_start_up_frames,
    .init = cr_redirect_stdout)
{
	struct ctl_conn c = { .fd = -1 };
	json_t *bt = obj("["
	    "{\"function\":\"inner\",\"file\":\"x.h\",\"line\":3,"
	    "\"inlined\":true,\"object\":\"/bin/x\",\"ip\":\"0x11\"},"
	    "{\"function\":\"work\",\"offset\":16,\"file\":\"x.c\","
	    "\"line\":9,\"object\":\"/bin/x\",\"ip\":\"0x11\"},"
	    "{\"object\":\"/lib/y.so\",\"object_offset\":\"0x2a0\","
	    "\"ip\":\"0x22\"},"
	    "{\"function\":\"__libc_start_call_main\",\"offset\":122,"
	    "\"object\":\"/lib/libc.so.6\",\"ip\":\"0x33\"},"
	    "{\"function\":\"__libc_start_main_impl\",\"offset\":133,"
	    "\"object\":\"/lib/libc.so.6\",\"ip\":\"0x44\"},"
	    "{\"function\":\"_start\",\"offset\":33,\"object\":\"/bin/x\","
	    "\"ip\":\"0x55\"}]");

	cr_assert_eq(ctl_cmd_backtrace(&c, bt, "  "), 0);
	fflush(stdout);
	cr_assert_stdout_eq_str(
	    "  #0  inner (x.h:3) [inlined]\n"
	    "  #1  work+0x10 (x.c:9)\n"
	    "  #2  /lib/y.so+0x2a0\n");
}

Test(reply, frames_and_sites)
{
	struct ctl_frame fr;
	struct ctl_site s;

	cr_assert_eq(ctl_reply_frame(obj("{\"function\":\"main\",\"offset\":"
	    "18,\"object\":\"/bin/x\",\"ip\":\"0x55\"}"), &fr, err,
	    sizeof err), 0);
	cr_assert_str_eq(fr.function, "main");
	cr_assert_eq(fr.offset, 18);
	cr_assert_eq(ctl_reply_frame(obj("{\"function\":1}"), &fr, err,
	    sizeof err), -1);
	cr_assert_eq(ctl_reply_frame(obj("\"main\""), &fr, err, sizeof err),
	    -1);

	cr_assert_eq(ctl_reply_site(obj("{\"count\":3,\"bytes\":300,\"site\":"
	    "{\"function\":\"f\",\"offset\":1,\"object\":\"o\"}}"), &s, err,
	    sizeof err), 0);
	cr_assert(s.known);
	cr_assert_eq(s.count, 3);
	cr_assert_str_eq(s.site.function, "f");
	cr_assert_eq(ctl_reply_site(obj("{\"count\":3,\"bytes\":300,\"site\":"
	    "null}"), &s, err, sizeof err), 0);
	cr_assert(!s.known);
	cr_assert_eq(ctl_reply_site(obj("{\"count\":3,\"site\":7}"), &s, err,
	    sizeof err), -1);
	cr_assert_eq(ctl_reply_site(obj("{\"count\":\"3\"}"), &s, err,
	    sizeof err), -1);
}

Test(reply, events)
{
	struct ctl_event ev;

	cr_assert_eq(ctl_reply_event(obj("{\"event\":\"expired\",\"pid\":4,"
	    "\"id\":\"0x1\",\"label\":\"boot\",\"size\":64,\"addr\":\"0x10\","
	    "\"age_ms\":50,\"action\":\"freed\",\"backtrace\":[]}"), &ev, err,
	    sizeof err), 0, "%s", err);
	cr_assert_str_eq(ev.event, "expired");
	cr_assert_eq(ev.pid, 4);
	cr_assert_str_eq(ev.action, "freed");
	cr_assert(json_is_array(ev.backtrace));
	cr_assert_eq(ctl_reply_event(obj("{\"event\":\"expired\"}"), &ev, err,
	    sizeof err), 0);
	cr_assert_null(ev.backtrace);
	cr_assert_eq(ev.size, -1);

	cr_assert_eq(ctl_reply_event(obj("{\"pid\":4}"), &ev, err, sizeof err),
	    -1);
	cr_assert_eq(ctl_reply_event(obj("{\"event\":\"expired\","
	    "\"backtrace\":{}}"), &ev, err, sizeof err), -1);
	cr_assert_eq(ctl_reply_event(obj("{\"event\":\"expired\",\"age_ms\":"
	    "-3}"), &ev, err, sizeof err), -1);
}

Test(reply, pages_and_rules)
{
	json_t *items;
	int64_t next;
	const char *text;

	cr_assert_eq(ctl_reply_page(obj("{\"leases\":[],\"next\":1000}"),
	    "leases", &items, &next, err, sizeof err), 0);
	cr_assert(json_is_array(items));
	cr_assert_eq(next, 1000);
	cr_assert_eq(ctl_reply_page(obj("{\"leases\":[{}],\"next\":null}"),
	    "leases", &items, &next, err, sizeof err), 0);
	cr_assert_eq(next, -1);
	cr_assert_eq(json_array_size(items), 1);
	cr_assert_eq(ctl_reply_page(obj("{\"sites\":[]}"), "sites", &items,
	    &next, err, sizeof err), 0);
	cr_assert_eq(next, -1);

	cr_assert_eq(ctl_reply_page(obj("{\"leases\":{},\"next\":null}"),
	    "leases", &items, &next, err, sizeof err), -1);
	cr_assert_eq(ctl_reply_page(obj("{\"next\":null}"), "leases", &items,
	    &next, err, sizeof err), -1);
	cr_assert_eq(ctl_reply_page(obj("{\"leases\":[],\"next\":\"2\"}"),
	    "leases", &items, &next, err, sizeof err), -1);
	cr_assert_eq(ctl_reply_page(obj("{\"leases\":[],\"next\":-2}"),
	    "leases", &items, &next, err, sizeof err), -1);

	cr_assert_eq(ctl_reply_rules(obj("{\"rules\":\"a=1\\nb=2\"}"), &text,
	    err, sizeof err), 0);
	cr_assert_str_eq(text, "a=1\nb=2");
	cr_assert_eq(ctl_reply_rules(obj("{\"rules\":null}"), &text, err,
	    sizeof err), 0);
	cr_assert_str_eq(text, "");
	cr_assert_eq(ctl_reply_rules(obj("{\"rules\":3}"), &text, err,
	    sizeof err), -1);
}

/* --- a page read from its text (list --json) --- */

static struct ctl_page_text pg;

/* line is taken as a page from its text; its items are `items`. */
static void
page_text(const char *line, const char *items, size_t count, int64_t next)
{
	cr_assert_eq(ctl_reply_page_text(line, strlen(line), "leases", &pg),
	    1, "'%s' not taken", line);
	cr_assert_eq(pg.count, count, "%s: %zu items", line, pg.count);
	cr_assert_eq(pg.next, next, "%s: next %" PRId64, line, pg.next);
	cr_assert_eq(pg.len, strlen(items), "%s: items '%.*s'", line,
	    (int)pg.len, pg.items);
	cr_assert(memcmp(pg.items, items, pg.len) == 0);
}

/* line is left to jansson (and whatever jansson says of it). */
static void
not_page_text(const char *line)
{
	cr_assert_eq(ctl_reply_page_text(line, strlen(line), "leases", &pg),
	    0, "'%s' taken", line);
}

#define PAGE(items, tail) "{\"id\":4,\"ok\":true,\"result\":{\"leases\":[" \
	items "]" tail "}}"
#define LEASE "{\"id\":\"0x1\",\"size\":64,\"label\":null,\"pins\":0}"
#define LEASE2 "{\"id\":\"0x2\",\"size\":-3,\"label\":\"a\\\"b\\u00e9\"," \
	"\"x\":[true,false,{\"y\":[]}]}"

Test(reply, a_page_from_its_text)
{
	page_text(PAGE("", ",\"next\":null"), "", 0, -1);
	page_text(PAGE(LEASE, ",\"next\":1000"), LEASE, 1, 1000);
	page_text(PAGE(LEASE "," LEASE2, ""), LEASE "," LEASE2, 2, -1);
	cr_assert_eq(pg.id, 4);
	/* spaces anywhere, and members in any order */
	page_text("{ \"result\" : { \"next\" : 7 , \"leases\" : [ " LEASE
	    " , " LEASE2 " ] } , \"ok\" : true , \"id\" : 4 , \"z\" : [ ] }",
	    LEASE " , " LEASE2, 2, 7);
	cr_assert_eq(pg.id, 4);

	/* the first n items */
	page_text(PAGE(LEASE "," LEASE2 "," LEASE, ""), LEASE "," LEASE2 ","
	    LEASE, 3, -1);
	cr_assert_eq(ctl_reply_page_cut(&pg, 0), 0);
	cr_assert_eq(ctl_reply_page_cut(&pg, 1), strlen(LEASE));
	cr_assert_eq(ctl_reply_page_cut(&pg, 2), strlen(LEASE "," LEASE2));
	cr_assert_eq(ctl_reply_page_cut(&pg, 3), pg.len);
}

/* The leases of a page's text, read without jansson: a table's rows. */
Test(reply, leases_read_from_a_page_text_as_jansson_reads_them)
{
	char line[] = PAGE("{\"id\":\"0x1\",\"size\":64,\"age_ms\":5,"
	    "\"expires_in_ms\":null,\"label\":\"boot-log\",\"state\":"
	    "\"live\",\"kind\":\"tagged\",\"pins\":0,\"releases\":1,"
	    "\"x\":[{\"y\":1}]}," LEASE ",{\"id\":\"0x7\"}", "");
	struct ctl_lease l;
	char buf[64];
	const char *from;
	size_t off = 0, len;

	cr_assert(ctl_reply_page_text(line, strlen(line), "leases", &pg));
	cr_assert_eq(ctl_reply_lease_next(&pg, &off, &l, buf, sizeof buf,
	    &from, &len), 0);
	cr_assert_str_eq(l.id, "0x1");
	cr_assert_str_eq(l.label, "boot-log");
	cr_assert_str_eq(l.state, "live");
	cr_assert_str_eq(l.kind, "tagged");
	cr_assert_null(l.addr);
	cr_assert_eq(l.size, 64);
	cr_assert_eq(l.age_ms, 5);
	cr_assert_eq(l.expires_in_ms, -1, "null is -1, as for jansson");
	cr_assert_eq(l.releases, 1);

	cr_assert_eq(ctl_reply_lease_next(&pg, &off, &l, buf, sizeof buf,
	    &from, &len), 0);
	cr_assert_str_eq(l.id, "0x1");
	cr_assert_null(l.label);
	cr_assert_eq(l.age_ms, -1, "missing is -1");
	cr_assert_eq(ctl_reply_lease_next(&pg, &off, &l, buf, sizeof buf,
	    &from, &len), 0);
	cr_assert_str_eq(l.id, "0x7");
	cr_assert_eq(off, pg.len);

	/* what ctl_reply_lease() refuses: a negative size, no id, an id
	 * that is not a string */
	static const char *const bad[] = {
		PAGE(LEASE2, ""), PAGE("{\"size\":1}", ""),
		PAGE("{\"id\":7}", ""), PAGE("{\"id\":\"0x1\",\"size\":\"1\"}",
		    ""),
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		off = 0;
		cr_assert(ctl_reply_page_text(bad[i], strlen(bad[i]), "leases",
		    &pg));
		cr_assert_eq(ctl_reply_lease_next(&pg, &off, &l, buf,
		    sizeof buf, &from, &len), -1, "%s", bad[i]);
	}

	/* an escaped string, or one too long for buf: the lease's text for
	 * jansson */
	char esc[] = PAGE("{\"id\":\"0x2\",\"label\":\"a\\\"b\"}", "");
	off = 0;
	cr_assert(ctl_reply_page_text(esc, strlen(esc), "leases", &pg));
	cr_assert_eq(ctl_reply_lease_next(&pg, &off, &l, buf, sizeof buf,
	    &from, &len), 1);
	cr_assert_eq(len, pg.len);
	cr_assert_eq(from, pg.items);
	off = 0;
	cr_assert(ctl_reply_page_text(line, strlen(line), "leases", &pg));
	cr_assert_eq(ctl_reply_lease_next(&pg, &off, &l, buf, 8, &from,
	    &len), 1, "buf too small");
	cr_assert_eq(off, (size_t)(from + len - pg.items));
}

Test(reply, a_page_not_in_the_plain_shape_is_left_to_jansson)
{
	/* not a successful page */
	not_page_text("");
	not_page_text("{}");
	not_page_text("{\"id\":4,\"ok\":false,\"error\":{}}");
	not_page_text("{\"id\":null,\"ok\":true,\"result\":{\"leases\":[]}}");
	not_page_text("{\"id\":4,\"ok\":true,\"result\":{\"next\":null}}");
	not_page_text("{\"id\":4,\"ok\":true,\"result\":{\"leases\":{}}}");
	not_page_text("{\"id\":4,\"ok\":true}");
	page_text(PAGE("", "") " ", "", 0, -1);
	not_page_text(PAGE("", "") "x");
	page_text(PAGE("", ""), "", 0, -1);     /* the control */
}

Test(reply, a_page_text_is_json_jansson_takes)
{
	/* what jansson would refuse, or what a terminal should not see */
	static const char *const refused[] = {
		PAGE("1", ""), /* not an object */
		PAGE("[]", ""),
		PAGE(LEASE ",", ""),
		PAGE("{\"a\":1,\"a\":2}", ""), /* a key twice */
		PAGE("{\"a\":1,\"\\u0061\":2}", ""),
		PAGE("", ",\"next\":1,\"next\":2"),
		"{\"id\":4,\"id\":4,\"ok\":true,\"result\":{\"leases\":[]}}",
		/* a key twice beside the ones read, in the result or the
		 * response; a key spelt with an escape there */
		PAGE("", ",\"a\":1,\"b\":2,\"a\":3"),
		"{\"id\":4,\"ok\":true,\"x\":1,\"x\":1,\"result\":"
		    "{\"leases\":[]}}",
		"{\"id\":4,\"ok\":true,\"\\u0069d\":5,\"result\":"
		    "{\"leases\":[]}}",
		PAGE("", ",\"\\u006eext\":3"),
		PAGE("{\"a\":\"\x1b[2J\"}", ""), /* a control */
		PAGE("{\"a\":\"\xc3\xa9\"}", ""), /* not ASCII */
		PAGE("{\"a\":\"\x7f\"}", ""),
		PAGE("{\"a\":\t1}", ""), /* a tab */
		PAGE("{\"a\":\"x\\u0000\"}", ""),
		PAGE("{\"a\":\"\\ud800\"}", ""),
		PAGE("{\"a\":\"\\x\"}", ""),
		PAGE("{\"a\":\"\\u12\"}", ""),
		PAGE("{\"a\":\"abc}", ""),
		PAGE("{\"a\":1.5}", ""),
		PAGE("{\"a\":1e3}", ""),
		PAGE("{\"a\":01}", ""),
		PAGE("{\"a\":-}", ""),
		PAGE("{\"a\":1234567890123456789}", ""),
		PAGE("{\"a\":tru}", ""),
		PAGE("{\"a\":nul}", ""),
		PAGE("", ",\"next\":-1"),
	};
	for (size_t i = 0; i < sizeof refused / sizeof *refused; i++)
		not_page_text(refused[i]);
	/* the longest integer taken */
	page_text(PAGE("{\"a\":123456789012345678}", ""),
	    "{\"a\":123456789012345678}", 1, -1);

	/* nesting: 32 levels in all (the response, its result, the list and
	 * the lease are four of them), no more */
	char deep[256];
	snprintf(deep, sizeof deep, PAGE("{\"a\":%.28s1%.28s}", ""),
	    "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[", "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]");
	cr_assert_eq(ctl_reply_page_text(deep, strlen(deep), "leases", &pg),
	    1, "%s", deep);
	snprintf(deep, sizeof deep, PAGE("{\"a\":%.29s1%.29s}", ""),
	    "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[", "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]");
	not_page_text(deep);
}

/*
 * Whatever the text path takes, jansson takes too, as the same page:
 * pages of the server's shape with bytes changed at random.
 */
Test(reply, what_the_text_path_takes_jansson_takes_alike)
{
	static const char base[] = PAGE(LEASE "," LEASE2, ",\"next\":12");
	static const char alphabet[] = "{}[]\",:\\u0 1a-e.tn\x1f\x80";
	char line[sizeof base];
	unsigned seed = 1, taken = 0;

	for (int round = 0; round < 200000; round++) {
		memcpy(line, base, sizeof base);
		for (int k = 0; k < 1 + round % 3; k++) {
			seed = seed * 1103515245u + 12345u;
			size_t at = (seed >> 8) % (sizeof base - 1);
			seed = seed * 1103515245u + 12345u;
			line[at] = alphabet[(seed >> 8) % (sizeof alphabet - 1)];
		}
		size_t len = strlen(line);
		if (ctl_reply_page_text(line, len, "leases", &pg) != 1)
			continue;
		taken++;
		cr_assert_eq(ctl_reply_parse(line, len, &reply, err,
		    sizeof err), 0, "'%s' taken, jansson: %s", line, err);
		cr_assert(reply.ok);
		cr_assert_eq(reply.id, pg.id, "%s", line);
		json_t *items;
		int64_t next;
		cr_assert_eq(ctl_reply_page(reply.result, "leases", &items,
		    &next, err, sizeof err), 0, "%s: %s", line, err);
		cr_assert_eq(next, pg.next, "%s", line);
		cr_assert_eq(json_array_size(items), pg.count, "%s", line);
		/* the items' text is those items */
		char *text = malloc(pg.len + 3);
		snprintf(text, pg.len + 3, "[%.*s]", (int)pg.len, pg.items);
		json_t *again = json_loads(text, 0, NULL);
		cr_assert(json_equal(again, items), "%s", line);
		json_decref(again);
		free(text);
		ctl_reply_free(&reply);
	}
	/* enough of them were taken to mean something */
	cr_assert_gt(taken, 1000, "%u taken", taken);
}

Test(reply, stat_fields_are_unique_and_cover_the_stats)
{
	for (size_t i = 0; i < ctl_reply_nstat_fields; i++)
		for (size_t k = i + 1; k < ctl_reply_nstat_fields; k++)
			cr_assert_str_neq(ctl_reply_stat_fields[i].name,
			    ctl_reply_stat_fields[k].name);
	/* every counter of struct ctl_stats but pid */
	cr_assert_eq(ctl_reply_nstat_fields, sizeof(struct ctl_stats) /
	    sizeof(int64_t) - 1);
}
