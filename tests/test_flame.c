/*
 * test_flame.c - memleasectl's flame graphs and folded stacks (flame.c),
 * and a log's events grouped by stack (group.c), without a socket: stacks
 * and events are given as JSON text, and what is written is read back.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

static json_t *
parse(const char *text)
{
	json_error_t jerr;
	json_t *o = json_loads(text, 0, &jerr);

	cr_assert_not_null(o, "bad test JSON: %s", jerr.text);
	return o;
}

/* What ctl_flame_folded (svg false) or ctl_flame_svg writes of stacks,
 * weighed by their estimates or not, from malloc; NULL (err set) if it
 * refused them. */
static char *
written_as(const char *stacks, bool svg, bool estimated, char *err,
    size_t errlen)
{
	json_t *s = parse(stacks);
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	int rc = svg ? ctl_flame_svg(f, s, "a <title> & \"more\"", estimated,
	    err, errlen) : ctl_flame_folded(f, s, estimated, err, errlen);

	fclose(f);
	json_decref(s);
	if (rc != 0) {
		free(text);
		return NULL;
	}
	return text;
}

static char *
written(const char *stacks, bool svg, char *err, size_t errlen)
{
	return written_as(stacks, svg, false, err, errlen);
}

#define MAIN "{\"function\":\"main\",\"offset\":84,\"object\":\"/x/prog\"," \
    "\"object_offset\":4100,\"ip\":\"0x2\"}"
#define START "{\"function\":\"__libc_start_call_main\",\"offset\":1," \
    "\"object\":\"/lib/libc.so.6\"},{\"function\":\"__libc_start_main\"," \
    "\"offset\":1,\"object\":\"/lib/libc.so.6\"},{\"function\":\"_start\"," \
    "\"offset\":1,\"object\":\"/x/prog\"}"

static const char stacks[] =
    "[{\"stack_id\":\"a1\",\"count\":3,\"bytes\":3000,\"oldest_ms\":5,"
    "\"frames\":[{\"function\":\"keep\",\"offset\":19,\"object\":\"/x/prog\","
    "\"object_offset\":4000,\"ip\":\"0x1\"}," MAIN "," START "]},"
    "{\"stack_id\":\"a2\",\"count\":2,\"bytes\":1000,\"oldest_ms\":7,"
    "\"frames\":[{\"object\":\"/usr/lib/libz.so.1\",\"object_offset\":4660,"
    "\"ip\":\"0x6\"},{\"function\":\"<b>&'q';\\\"x\\\"\",\"offset\":1,"
    "\"object\":\"/x/prog\",\"inlined\":true}," MAIN "]},"
    "{\"stack_id\":\"a3\",\"count\":1,\"bytes\":24,\"frames\":[]}]";

TestSuite(flame);

Test(flame, folded_lines_are_outermost_first_without_start_frames)
{
	char err[256];
	char *text = written(stacks, false, err, sizeof err);

	cr_assert_not_null(text, "%s", err);
	cr_assert_str_eq(text,
	    "main;keep 3000\n"
	    "main;<b>&'q':\"x\";libz.so.1+0x1234 1000\n"
	    "[no backtrace] 24\n");
	free(text);
}

Test(flame, frames_named_by_function_else_object_and_offset)
{
	char buf[128];
	struct ctl_frame fr = { .function = "f", .object = "/a/b.so",
	    .object_offset = 0x10, .ip = "0x7f00", .offset = 3 };

	cr_assert_str_eq(ctl_flame_name(&fr, buf, sizeof buf), "f");
	fr.function = "";
	cr_assert_str_eq(ctl_flame_name(&fr, buf, sizeof buf), "b.so+0x10");
	fr.object_offset = -1;
	cr_assert_str_eq(ctl_flame_name(&fr, buf, sizeof buf), "b.so@0x7f00");
	fr.object = NULL;
	fr.ip = NULL;
	cr_assert_str_eq(ctl_flame_name(&fr, buf, sizeof buf), "?");
}

/* The value of attribute attr of the element with id="id" in svg. */
static long long
attr_of(const char *svg, const char *id, const char *attr)
{
	char key[64], *p;

	snprintf(key, sizeof key, "id=\"%s\"", id);
	p = strstr(svg, key);
	cr_assert_not_null(p, "no element %s", id);
	snprintf(key, sizeof key, "%s=\"", attr);
	p = strstr(p, key);
	cr_assert_not_null(p, "%s has no %s", id, attr);
	return atoll(p + strlen(key));
}

Test(flame, svg_root_holds_every_byte_and_frames_merge_by_name)
{
	char err[256];
	char *svg = written(stacks, true, err, sizeof err);

	cr_assert_not_null(svg, "%s", err);
	cr_assert_eq(attr_of(svg, "f0", "data-b"), 4024);
	cr_assert_eq(attr_of(svg, "f0", "data-n"), 6);
	/* main, the only child of the root with frames, holds both stacks */
	cr_assert_eq(attr_of(svg, "f1", "data-b"), 4000);
	cr_assert_eq(attr_of(svg, "f1", "data-n"), 5);
	/* the frame inlined says so; main, called, does not */
	cr_assert_not_null(strstr(svg, "2 leases, in prog, inlined</title>"));
	cr_assert_not_null(strstr(svg, "5 leases, in prog</title>"));
	cr_assert_null(strstr(svg, "__libc_start_main"));
	cr_assert_null(strstr(svg, ">_start"));
	free(svg);
}

Test(flame, svg_escapes_every_name_and_is_self_contained)
{
	char err[256];
	char *svg = written(stacks, true, err, sizeof err);

	cr_assert_not_null(svg, "%s", err);
	cr_assert_null(strstr(svg, "<b>"));
	/* between the frames' start and the script, every & an entity's */
	for (const char *p = strstr(svg, "<g id=\"frames\">");
	    p < strstr(svg, "<script"); p++)
		cr_assert(*p != '&' || strncmp(p, "&amp;", 5) == 0 ||
		    strncmp(p, "&lt;", 4) == 0 || strncmp(p, "&gt;", 4) == 0 ||
		    strncmp(p, "&quot;", 6) == 0 ||
		    strncmp(p, "&apos;", 6) == 0, "a bare &: %.20s", p);
	cr_assert_not_null(strstr(svg, "&lt;b&gt;&amp;&apos;q&apos;;"
	    "&quot;x&quot;"));
	cr_assert_not_null(strstr(svg, "a &lt;title&gt; &amp; &quot;more"
	    "&quot;"));
	/* one script, inline; nothing fetched */
	cr_assert_null(strstr(svg, "href"));
	cr_assert_null(strstr(svg, "src="));
	cr_assert_null(strstr(strstr(svg, "<![CDATA[") + 9, "]]>]]>"));
	free(svg);
}

Test(flame, colours_are_the_same_for_a_name_in_any_graph)
{
	char err[256];
	char *a = written(stacks, true, err, sizeof err);
	char *b = written("[{\"count\":1,\"bytes\":5,\"frames\":["
	    "{\"function\":\"keep\"},{\"function\":\"other\"}]}]", true, err,
	    sizeof err);
	char *fa = strstr(strstr(a, "<title>keep"), "fill=");
	char *fb = strstr(strstr(b, "<title>keep"), "fill=");

	cr_assert_not_null(fa);
	cr_assert_not_null(fb);
	cr_assert_eq(strncmp(fa, fb, 24), 0, "%.24s, %.24s", fa, fb);
	free(a);
	free(b);
}

Test(flame, malformed_stacks_are_refused_with_a_reason)
{
	char err[256];

	cr_assert_null(written("{}", true, err, sizeof err));
	cr_assert_str_eq(err, "\"stacks\" is not a list");
	cr_assert_null(written("[{\"bytes\":-1}]", false, err, sizeof err));
	cr_assert_str_eq(err, "\"bytes\" is not a whole number");
	cr_assert_null(written("[{\"frames\":{}}]", true, err, sizeof err));
	cr_assert_str_eq(err, "\"frames\" is not a list");
	cr_assert_null(written("[{\"frames\":[{\"function\":7}]}]", true, err,
	    sizeof err));
	cr_assert_str_eq(err, "\"function\" is not a string");
	cr_assert_null(written("[{\"frames\":[{\"inlined\":1}]}]", true, err,
	    sizeof err));
	cr_assert_str_eq(err, "\"inlined\" is not true or false");
	cr_assert_null(written("[{\"bytes\":9223372036854775807},"
	    "{\"bytes\":1}]", true, err, sizeof err));
	cr_assert_str_eq(err, "stacks whose bytes or counts add up past 2^63");
}

Test(flame, no_stack_is_an_empty_graph)
{
	char err[256];
	char *svg = written("[]", true, err, sizeof err);

	cr_assert_not_null(svg, "%s", err);
	cr_assert_eq(attr_of(svg, "f0", "data-b"), 0);
	free(svg);
	svg = written("[]", false, err, sizeof err);
	cr_assert_str_eq(svg, "");
	free(svg);
}

/* Stacks of a listing under byte sampling: 2 and 1 leases sampled, of
 * 8192 and 32 bytes, standing for 20 leases of 81920 bytes and 500 of
 * 16000; the third stack, from an older process, has no estimates. */
static const char sampled[] =
    "[{\"stack_id\":\"b1\",\"count\":2,\"bytes\":8192,"
    "\"estimated_count\":20,\"estimated_bytes\":81920,\"oldest_ms\":5,"
    "\"frames\":[{\"function\":\"big\"}," MAIN "]},"
    "{\"stack_id\":\"b2\",\"count\":1,\"bytes\":32,"
    "\"estimated_count\":500,\"estimated_bytes\":16000,\"oldest_ms\":5,"
    "\"frames\":[{\"function\":\"small\"}," MAIN "]},"
    "{\"stack_id\":\"b3\",\"count\":1,\"bytes\":7,\"frames\":[]}]";

Test(flame, estimated_folded_lines_give_each_stacks_estimated_bytes)
{
	char err[256];
	char *text = written_as(sampled, false, true, err, sizeof err);

	cr_assert_not_null(text, "%s", err);
	cr_assert_str_eq(text,
	    "main;big 81920\n"
	    "main;small 16000\n"
	    "[no backtrace] 7\n");
	free(text);
	/* not estimated: the sampled bytes, as listed */
	text = written_as(sampled, false, false, err, sizeof err);
	cr_assert_str_eq(text,
	    "main;big 8192\n"
	    "main;small 32\n"
	    "[no backtrace] 7\n");
	free(text);
}

Test(flame, estimated_svg_weighs_the_estimates_and_says_so)
{
	char err[256];
	char *svg = written_as(sampled, true, true, err, sizeof err);

	cr_assert_not_null(svg, "%s", err);
	cr_assert_eq(attr_of(svg, "f0", "data-b"), 81920 + 16000 + 7);
	cr_assert_eq(attr_of(svg, "f0", "data-n"), 521);
	cr_assert_eq(attr_of(svg, "f1", "data-b"), 81920 + 16000);
	cr_assert_not_null(strstr(svg, ">estimated bytes and leases: of the 4 "
	    "leases listed, those byte sampling (sample=) chose weigh what "
	    "they stand for<"));
	cr_assert_not_null(strstr(svg, "<title>all\nest. 96KiB, 97927 bytes "
	    "(100.00%), est. 521 leases, 3 stacks</title>"));
	/* every frame's title says its figures are estimates */
	size_t titles = 0, est = 0;
	for (const char *p = svg; (p = strstr(p, "<title>")) != NULL; p++) {
		titles++;
		const char *nl = strchr(p, '\n');
		est += nl != NULL && strncmp(nl + 1, "est. ", 5) == 0;
	}
	cr_assert_gt(titles, 3);
	cr_assert_eq(est, titles);
	free(svg);
	/* not estimated: no mark */
	svg = written_as(sampled, true, false, err, sizeof err);
	cr_assert_eq(attr_of(svg, "f0", "data-b"), 8192 + 32 + 7);
	cr_assert_null(strstr(svg, "est."));
	cr_assert_null(strstr(svg, "estimated"));
	free(svg);
}

/* --- group.c ------------------------------------------------------------ */

static struct ctl_group group;

static void
group_init(void)
{
	cr_assert_eq(ctl_group_init(&group), 0);
}

static void
group_fini(void)
{
	ctl_group_free(&group);
}

TestSuite(group, .init = group_init, .fini = group_fini);

/* Add one event: what ctl_group_add returns, err its message. */
static int
add(const char *event, char *err)
{
	json_t *o = parse(event);
	int rc = ctl_group_add(&group, o, err, 256);

	json_decref(o);
	return rc;
}

#define EV(pid, id, size, age, rest) "{\"event\":\"expired\",\"pid\":" #pid \
    ",\"id\":\"" id "\",\"size\":" #size ",\"age_ms\":" #age rest "}"
#define BT_A ",\"backtrace\":[{\"function\":\"a\",\"object\":\"/p\"," \
    "\"object_offset\":16,\"ip\":\"0x10\"}]"
#define BT_B ",\"backtrace\":[{\"function\":\"b\",\"object\":\"/p\"," \
    "\"object_offset\":32,\"ip\":\"0x20\"}]"

static json_t *
result(void)
{
	json_t *r = ctl_group_result(&group);

	cr_assert_not_null(r);
	return r;
}

static long long
stack_int(json_t *r, size_t i, const char *key)
{
	return json_integer_value(json_object_get(json_array_get(
	    json_object_get(r, "stacks"), i), key));
}

Test(group, stacks_by_frames_the_most_bytes_first)
{
	char err[256];

	cr_assert_eq(add(EV(1, "0x1", 100, 5, BT_A), err), 0, "%s", err);
	cr_assert_eq(add(EV(1, "0x2", 900, 9, BT_B), err), 0, "%s", err);
	cr_assert_eq(add(EV(1, "0x3", 100, 50, BT_A), err), 0, "%s", err);
	json_t *r = result();
	cr_assert_eq(json_array_size(json_object_get(r, "stacks")), 2);
	cr_assert_eq(stack_int(r, 0, "bytes"), 900);
	cr_assert_eq(stack_int(r, 1, "bytes"), 200);
	cr_assert_eq(stack_int(r, 1, "count"), 2);
	cr_assert_eq(stack_int(r, 1, "oldest_ms"), 50);
	cr_assert_eq(json_integer_value(json_object_get(r, "bytes")), 1100);
	cr_assert_eq(json_integer_value(json_object_get(r, "count")), 3);
	json_decref(r);
}

Test(group, stacks_by_stack_id_when_events_carry_one)
{
	char err[256];

	/* the same stack_id, frames at other addresses (another process) */
	cr_assert_eq(add(EV(1, "0x1", 10, 5, BT_A ",\"stack_id\":\"s1\""),
	    err), 0);
	cr_assert_eq(add(EV(2, "0x1", 10, 5, BT_B ",\"stack_id\":\"s1\""),
	    err), 0);
	json_t *r = result();
	cr_assert_eq(json_array_size(json_object_get(r, "stacks")), 1);
	cr_assert_eq(stack_int(r, 0, "count"), 2);
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(
	    json_object_get(r, "stacks"), 0), "stack_id")), "s1");
	json_decref(r);
}

Test(group, a_lease_counts_once_with_its_greatest_age)
{
	char err[256];

	cr_assert_eq(add(EV(1, "0x1", 10, 5, BT_A), err), 0);
	cr_assert_eq(add("{\"event\":\"late_access\",\"pid\":1,\"id\":\"0x1\","
	    "\"size\":10,\"age_ms\":80" BT_A "}", err), 0);
	cr_assert_eq(add("{\"event\":\"log_full\",\"log_max\":100}", err), 1);
	json_t *r = result();
	cr_assert_eq(stack_int(r, 0, "count"), 1);
	cr_assert_eq(stack_int(r, 0, "bytes"), 10);
	cr_assert_eq(stack_int(r, 0, "oldest_ms"), 80);
	json_decref(r);
}

Test(group, malformed_events_are_refused_with_a_reason)
{
	char err[256];

	cr_assert_eq(add("[1]", err), -1);
	cr_assert_str_eq(err, "an event is not a JSON object");
	cr_assert_eq(add("{\"pid\":1}", err), -1);
	cr_assert_str_eq(err, "an event without \"event\"");
	cr_assert_eq(add("{\"event\":\"expired\",\"size\":\"x\"}", err), -1);
	cr_assert_str_eq(err, "\"size\" is not a whole number");
	cr_assert_eq(add("{\"event\":\"expired\"}", err), -1);
	cr_assert_str_eq(err, "an event without a \"size\"");
	cr_assert_eq(add(EV(1, "0x1", 1, 1, ",\"backtrace\":[3]"), err), -1);
	cr_assert_str_eq(err, "a frame is not a JSON object");
	cr_assert_eq(add(EV(1, "0x1", 1, 1, ",\"stack_id\":4"), err), -1);
	cr_assert_str_eq(err, "\"stack_id\" is not a string");
	cr_assert_eq(add(EV(1, "0x2", 9223372036854775807, 1, ""), err), 0);
	cr_assert_eq(add(EV(1, "0x3", 1, 1, ""), err), -1);
	cr_assert_str_eq(err, "a \"size\" too large to add up");
	json_t *r = result();
	cr_assert_eq(json_integer_value(json_object_get(r, "count")), 1);
	json_decref(r);
}
