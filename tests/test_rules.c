/*
 * test_rules.c - the rule grammar: every form, every error and where it
 * is reported, the canonical text, and the site matchers.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "rules.h"

static struct ml_rules rules;
static struct ml_rules_error err;

static void
teardown(void)
{
	ml_rules_free(&rules);
}

TestSuite(rules, .fini = teardown);

static void
parses(const char *text, int n)
{
	int r = ml_rules_parse(text, &rules, &err);

	cr_assert_eq(r, 0, "'%s': %d:%d: %s", text, err.line, err.column,
	    err.msg);
	cr_assert_eq(rules.n, n, "'%s' has %d rules, not %d", text, rules.n, n);
}

/* The text is refused at line:column with a message containing `what`. */
static void
refused(const char *text, int line, int column, const char *what)
{
	cr_assert_eq(ml_rules_parse(text, &rules, &err), -1, "'%s' parsed",
	    text);
	cr_assert_eq(rules.n, 0);
	cr_assert_null(rules.v);
	cr_assert_eq(err.line, line, "'%s': line %d, not %d (%s)", text,
	    err.line, line, err.msg);
	cr_assert_eq(err.column, column, "'%s': column %d, not %d (%s)", text,
	    err.column, column, err.msg);
	cr_assert(strstr(err.msg, what) != NULL, "'%s': '%s' lacks '%s'", text,
	    err.msg, what);
}

Test(rules, nothing_is_no_rules)
{
	parses(NULL, 0);
	parses("", 0);
	parses("  ; ;\n\n  # only a comment\n", 0);
}

Test(rules, a_rule_with_only_a_ttl_matches_everything)
{
	parses("ttl=30s", 1);
	const struct ml_rule *r = &rules.v[0];
	cr_assert_eq(r->ttl_ms, 30000);
	cr_assert_null(r->caller);
	cr_assert_null(r->object);
	cr_assert_eq(r->size_min, 0);
	cr_assert_eq(r->size_max, UINT64_MAX);
	cr_assert_eq(r->every, 1);
	cr_assert_eq(r->depth, ML_RULE_DEPTH_DEF);
	cr_assert_eq(r->action, ML_ACT_REPORT);
	cr_assert_str_eq(r->label, "");
}

Test(rules, every_key_is_read)
{
	parses("caller=log_* object=libfoo.so* size=4k-64k every=10 ttl=5m "
	    "action=reclaim label=boot-log depth=8", 1);
	const struct ml_rule *r = &rules.v[0];
	cr_assert_str_eq(r->caller, "log_*");
	cr_assert_str_eq(r->object, "libfoo.so*");
	cr_assert_eq(r->size_min, 4096);
	cr_assert_eq(r->size_max, 65536);
	cr_assert_eq(r->every, 10);
	cr_assert_eq(r->ttl_ms, 300000);
	cr_assert_eq(r->action, ML_ACT_RECLAIM);
	cr_assert_str_eq(r->label, "boot-log");
	cr_assert_eq(r->depth, 8);
}

Test(rules, durations_in_every_unit)
{
	parses("ttl=250ms; ttl=30s; ttl=5m; ttl=1h; ttl=2d; ttl=1500; ttl=0",
	    7);
	uint64_t want[] = { 250, 30000, 300000, 3600000, 172800000, 1500, 0 };
	for (int i = 0; i < 7; i++)
		cr_assert_eq(rules.v[i].ttl_ms, want[i], "rule %d", i);
}

Test(rules, sizes_in_every_form)
{
	parses("size=100 ttl=1; size=1k-2M ttl=1; size=4096- ttl=1; "
	    "size=-64 ttl=1; size=1G ttl=1; size=2K ttl=1", 6);
	cr_assert_eq(rules.v[0].size_min, 100);
	cr_assert_eq(rules.v[0].size_max, 100);
	cr_assert_eq(rules.v[1].size_min, 1024);
	cr_assert_eq(rules.v[1].size_max, 2 * 1024 * 1024);
	cr_assert_eq(rules.v[2].size_min, 4096);
	cr_assert_eq(rules.v[2].size_max, UINT64_MAX);
	cr_assert_eq(rules.v[3].size_min, 0);
	cr_assert_eq(rules.v[3].size_max, 64);
	cr_assert_eq(rules.v[4].size_max, UINT64_C(1) << 30);
	cr_assert_eq(rules.v[5].size_min, 2048);
	cr_assert(ml_rule_size_ok(&rules.v[1], 1024));
	cr_assert(ml_rule_size_ok(&rules.v[1], 2 * 1024 * 1024));
	cr_assert_not(ml_rule_size_ok(&rules.v[1], 1023));
	cr_assert_not(ml_rule_size_ok(&rules.v[3], 65));
}

Test(rules, every_action)
{
	parses("ttl=1 action=report\nttl=1 action=free\nttl=1 action=reclaim\n"
	    "ttl=1 action=abort", 4);
	for (int i = 0; i < 4; i++)
		cr_assert_eq(rules.v[i].action, (enum ml_action)i);
}

Test(rules, separators_spaces_and_comments)
{
	parses("# a config file\n\tsize=1k   ttl=1s  # tagged\n\n"
	    "ttl=2s;ttl=3s ;  ; label=x ttl=4s\r\n", 4);
	cr_assert_eq(rules.v[0].ttl_ms, 1000);
	cr_assert_eq(rules.v[3].ttl_ms, 4000);
	cr_assert_str_eq(rules.v[3].label, "x");
}

Test(rules, word_without_equals_sign)
{
	refused("ttl=1s size", 1, 8, "expected key=value");
}

Test(rules, unknown_key)
{
	refused("ttl=1s sise=10", 1, 8, "unknown key 'sise'");
}

Test(rules, key_given_twice)
{
	refused("ttl=1s ttl=2s", 1, 8, "ttl= given twice");
}

Test(rules, empty_value)
{
	refused("caller= ttl=1s", 1, 1, "caller= has no value");
}

Test(rules, missing_ttl)
{
	refused("ttl=1s; size=10", 1, 9, "no ttl=");
}

Test(rules, bad_durations)
{
	refused("ttl=5x", 1, 1, "ttl=5x");
	refused("ttl=ms", 1, 1, "duration");
	refused("ttl=-5s", 1, 1, "duration");
	refused("ttl=99999999999999999999", 1, 1, "duration");
	refused("ttl=18446744073709551615h", 1, 1, "duration");
}

Test(rules, bad_sizes)
{
	refused("size=10q ttl=1", 1, 1, "size=10q");
	refused("size=- ttl=1", 1, 1, "MIN-MAX");
	refused("size=5-3 ttl=1", 1, 1, "smallest is above");
	refused("size=1-2-3 ttl=1", 1, 1, "MIN-MAX");
	refused("size=k ttl=1", 1, 1, "MIN-MAX");
}

Test(rules, bad_every_action_depth_label)
{
	refused("ttl=1 every=0", 1, 7, "every=0");
	refused("ttl=1 every=x", 1, 7, "every=x");
	refused("ttl=1 action=nuke", 1, 7, "report, free, reclaim or abort");
	refused("ttl=1 depth=0", 1, 7, "depth=0");
	refused("ttl=1 depth=65", 1, 7, "from 1 to 64");
	refused("ttl=1 label=a-label-that-is-much-longer-than-31", 1, 7,
	    "longer than 31");
}

Test(rules, error_position_counts_lines_and_columns)
{
	refused("ttl=1\n# fine\n  size=1k ttl=2 bogus=1", 3, 17, "bogus");
	refused("ttl=1; ttl=2; ttl=3 x", 1, 21, "expected key=value");
}

Test(rules, one_bad_rule_rejects_them_all)
{
	refused("ttl=1; ttl=2; every=0 ttl=3", 1, 15, "every=0");
}

Test(rules, at_most_32_rules)
{
	char text[32 * 8 + 16] = "";

	for (int i = 0; i < 32; i++)
		strcat(text, "ttl=1;");
	parses(text, 32);
	ml_rules_free(&rules);
	strcat(text, "ttl=1");
	refused(text, 1, 193, "too many rules (at most 32)");
}

Test(rules, sample_takes_a_size)
{
	parses("sample=512k ttl=1h", 1);
	cr_assert_eq(rules.v[0].sample, 512 * 1024);
	ml_rules_free(&rules);
	parses("sample=1 ttl=1h; size=1M- sample=1 ttl=1s; ttl=5s", 3);
	cr_assert_eq(rules.v[0].sample, 1);
	cr_assert_eq(rules.v[1].sample, 1);
	cr_assert_eq(rules.v[2].sample, 0, "no sample=: not sampled");
	ml_rules_free(&rules);
	parses("sample=1024G ttl=1", 1);
	cr_assert_eq(rules.v[0].sample, UINT64_C(1) << 40);
}

Test(rules, bad_samples)
{
	refused("ttl=1 sample=0", 1, 7, "sample=0: give the mean bytes");
	refused("ttl=1 sample=-4k", 1, 7, "sample=-4k");
	refused("ttl=1 sample=lots", 1, 7, "sample=lots");
	refused("ttl=1 sample=4x", 1, 7, "sample=4x");
	refused("ttl=1 sample=1025G", 1, 7, "from 1 to 1024G");
	refused("ttl=1 sample=99999999999999999999", 1, 7, "sample=9999");
	refused("ttl=1 sample=18446744073709551615k", 1, 7, "sample=1844");
	refused("sample=64k ttl=1;\n ttl=2 sample=128k", 2, 8,
	    "another rule has sample=65536");
}

Test(rules, canonical_text_reads_back_the_same)
{
	char buf[1024];
	struct ml_rules again;
	struct ml_rules_error e2;

	parses("caller=f* object=libc.so.6 size=-64 every=3 ttl=1h "
	    "action=free label=L depth=4; size=1k- sample=64k ttl=0; size=7 "
	    "ttl=2s", 3);
	size_t n = ml_rules_format(&rules, buf, sizeof buf);
	cr_assert_eq(n, strlen(buf));
	cr_assert_str_eq(buf,
	    "caller=f* object=libc.so.6 size=-64 every=3 ttl=3600000ms "
	    "action=free label=L depth=4\n"
	    "size=1024- sample=65536 ttl=0ms\n"
	    "size=7 ttl=2000ms\n");
	cr_assert_eq(ml_rules_parse(buf, &again, &e2), 0, "%s", e2.msg);
	cr_assert_eq(again.n, 3);
	cr_assert_eq(again.v[0].size_max, 64);
	cr_assert_eq(again.v[1].size_min, 1024);
	cr_assert_eq(again.v[1].size_max, UINT64_MAX);
	cr_assert_eq(again.v[1].sample, 65536);
	ml_rules_free(&again);
	cr_assert_eq(ml_rules_format(&rules, buf, 10), n, "needed length");
	cr_assert_eq(strlen(buf), 9, "cut, and terminated");
}

Test(rules, site_matchers)
{
	const char *fns[] = { "strdup", "log_line", "main" };

	parses("caller=log_* ttl=1; caller=log_* depth=1 ttl=1; "
	    "object=libfoo.so ttl=1; object=/opt/*/libfoo.so ttl=1; ttl=1", 5);
	cr_assert(ml_rule_site_ok(&rules.v[0], "/usr/lib/libc.so.6", fns, 3));
	cr_assert_not(ml_rule_site_ok(&rules.v[1], "/usr/lib/libc.so.6", fns,
	    3), "depth=1 sees strdup only");
	cr_assert(ml_rule_site_ok(&rules.v[2], "/opt/x/libfoo.so", fns, 3),
	    "basename");
	cr_assert(ml_rule_site_ok(&rules.v[3], "/opt/x/libfoo.so", fns, 3),
	    "path");
	cr_assert_not(ml_rule_site_ok(&rules.v[2], "/opt/x/libbar.so", fns, 3));
	cr_assert_not(ml_rule_site_ok(&rules.v[2], NULL, fns, 3));
	const char *unknown[] = { NULL, NULL };
	cr_assert_not(ml_rule_site_ok(&rules.v[0], "x", unknown, 2));
	cr_assert(ml_rule_site_ok(&rules.v[4], NULL, unknown, 0));
}
