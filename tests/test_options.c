/*
 * test_options.c - the options table: every MEMLEASE_* variable read once;
 * an unknown name or a bad value warned about once on stderr, the default
 * applied; booleans spelled any of the usual ways.  Each test runs in a
 * process of its own, so each reads the environment afresh.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <criterion/redirect.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "options.h"

TestSuite(options, .init = cr_redirect_stderr);

/* What memlease said on stderr so far (static). */
static const char *
said(void)
{
	static char err[4096];

	fflush(stderr);
	size_t n = fread(err, 1, sizeof err - 1, cr_get_redirected_stderr());
	err[n] = '\0';
	return err;
}

Test(options, unset_variables_take_their_defaults)
{
	unsetenv("MEMLEASE_THREAD");
	unsetenv("MEMLEASE_BACKTRACE");
	unsetenv("MEMLEASE_RULES");
	cr_assert_eq(ml_options_num(ML_OPT_THREAD), 1);
	cr_assert_eq(ml_options_num(ML_OPT_INHERIT), 1);
	cr_assert_eq(ml_options_num(ML_OPT_REPORT_AT_EXIT), 0);
	cr_assert_eq(ml_options_num(ML_OPT_BACKTRACE), 16);
	cr_assert_eq(ml_options_socket(), ML_SOCKET_AUTO);
	cr_assert_null(ml_options_str(ML_OPT_RULES));
}

Test(options, values_are_read_once)
{
	setenv("MEMLEASE_RULES", "ttl=1s", 1);
	cr_assert_str_eq(ml_options_str(ML_OPT_RULES), "ttl=1s");
	setenv("MEMLEASE_RULES", "ttl=2s", 1);
	cr_assert_str_eq(ml_options_str(ML_OPT_RULES), "ttl=1s");
}

Test(options, an_empty_value_is_no_value_and_no_warning)
{
	setenv("MEMLEASE_LOG", "", 1);
	setenv("MEMLEASE_BACKTRACE", "", 1);
	cr_assert_null(ml_options_str(ML_OPT_LOG));
	cr_assert_eq(ml_options_num(ML_OPT_BACKTRACE), 16);
	cr_assert_str_eq(said(), "");
}

Test(options, a_misspelt_name_is_warned_about_with_the_nearest_known_one)
{
	setenv("MEMLEASE_RULSE", "ttl=1s", 1);
	cr_assert_null(ml_options_str(ML_OPT_RULES));
	const char *err = said();
	cr_assert(strstr(err, "memlease: MEMLEASE_RULSE: not a memlease "
	    "variable (did you mean MEMLEASE_RULES?); ignored\n") != NULL,
	    "%s", err);
}

Test(options, an_unknown_name_far_from_every_known_one_is_warned_about_alone)
{
	setenv("MEMLEASE_COLOUR", "blue", 1);
	ml_options_num(ML_OPT_THREAD);
	const char *err = said();
	cr_assert(strstr(err, "memlease: MEMLEASE_COLOUR: not a memlease "
	    "variable; ignored\n") != NULL, "%s", err);
}

Test(options, a_bad_number_is_warned_about_and_the_default_applies)
{
	setenv("MEMLEASE_BACKTRACE", "65", 1);
	cr_assert_eq(ml_options_num(ML_OPT_BACKTRACE), 16);
	cr_assert(strstr(said(), "memlease: MEMLEASE_BACKTRACE=65: not a "
	    "number from 0 to 64; using 16") != NULL);
}

Test(options, a_bad_choice_is_warned_about_and_the_default_applies)
{
	setenv("MEMLEASE_SOCKET", "maybe", 1);
	cr_assert_eq(ml_options_socket(), ML_SOCKET_AUTO);
	cr_assert(strstr(said(), "memlease: MEMLEASE_SOCKET=maybe: not auto, "
	    "on or off; using auto") != NULL);
}

Test(options, a_choice_is_taken)
{
	setenv("MEMLEASE_LOG_FORMAT", "json", 1);
	setenv("MEMLEASE_SOCKET", "off", 1);
	cr_assert_eq(ml_options_num(ML_OPT_LOG_FORMAT), 1);
	cr_assert_eq(ml_options_socket(), ML_SOCKET_OFF);
}

Test(options, a_bad_boolean_is_warned_about_and_the_default_applies)
{
	setenv("MEMLEASE_INHERIT", "nope", 1);
	cr_assert_eq(ml_options_num(ML_OPT_INHERIT), 1);
	cr_assert(strstr(said(), "memlease: MEMLEASE_INHERIT=nope: not 1/0, "
	    "yes/no, on/off or true/false; using on") != NULL);
}

struct spelling {
	char        text[8];
	long        value;
};

ParameterizedTestParameters(options, booleans_are_spelt_every_usual_way)
{
	static struct spelling s[] = {
		{ "1", 1 }, { "0", 0 }, { "yes", 1 }, { "no", 0 },
		{ "on", 1 }, { "off", 0 }, { "true", 1 }, { "false", 0 },
		{ "ON", 1 }, { "False", 0 },
	};

	return cr_make_param_array(struct spelling, s, sizeof s / sizeof *s);
}

ParameterizedTest(struct spelling *s, options,
    booleans_are_spelt_every_usual_way)
{
	setenv("MEMLEASE_REPORT_AT_EXIT", s->text, 1);
	setenv("MEMLEASE_THREAD", s->text, 1);
	cr_assert_eq(ml_options_num(ML_OPT_REPORT_AT_EXIT), s->value, "%s",
	    s->text);
	cr_assert_eq(ml_options_num(ML_OPT_THREAD), s->value, "%s", s->text);
	cr_assert_str_eq(said(), "");
}

Test(options, report_at_exit_is_a_boolean_or_each)
{
	setenv("MEMLEASE_REPORT_AT_EXIT", "each", 1);
	cr_assert_eq(ml_options_num(ML_OPT_REPORT_AT_EXIT), ML_AT_EXIT_EACH);
	cr_assert_str_eq(said(), "");
}

Test(options, report_at_exit_of_a_true_boolean_groups_by_stack)
{
	setenv("MEMLEASE_REPORT_AT_EXIT", "yes", 1);
	cr_assert_eq(ml_options_num(ML_OPT_REPORT_AT_EXIT), ML_AT_EXIT_STACKS);
}

Test(options, report_at_exit_of_another_word_is_refused_saying_what_would_do)
{
	setenv("MEMLEASE_REPORT_AT_EXIT", "every", 1);
	cr_assert_eq(ml_options_num(ML_OPT_REPORT_AT_EXIT), ML_AT_EXIT_OFF);
	const char *err = said();
	cr_assert(strstr(err, "MEMLEASE_REPORT_AT_EXIT=every: not 1") != NULL,
	    "%s", err);
	cr_assert(strstr(err, "or each; using 0") != NULL, "%s", err);
}

Test(options, skip_is_a_string)
{
	setenv("MEMLEASE_SKIP", "zmalloc,xmalloc", 1);
	cr_assert_str_eq(ml_options_str(ML_OPT_SKIP), "zmalloc,xmalloc");
	cr_assert_str_eq(said(), "");
}
