/*
 * stacks.c - fuzz target: what memleasectl report makes of a log, and
 * flamegraph and export --format folded of a listing by stack
 * (cli/group.c, cli/flame.c).  A log is anyone's file and the listing a
 * process's answer: either may be broken or hostile; memleasectl must say
 * so, never crash, and never write a document that is not one.
 *
 * Input: lines.  Each is an event of a log, grouped (ctl_group_add); the
 * group's result is then drawn and folded, as is each line that is a
 * listing ({"stacks":[...]}, weighed by its estimates if it says
 * "estimated":true).  Checked: a stack counted is in the result,
 * the totals are the stacks' sums, the SVG holds no control character, no
 * byte that is not UTF-8, no '<' or '&' of a name unescaped (every '&'
 * outside the script begins an entity, every element is one of the few
 * it writes), and the folded lines are one a stack, each ending in its
 * bytes.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "fuzz.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

static const char *const elements[] = {
	"<?xml ", "<svg ", "</svg>", "<style ", "</style>", "<script ",
	"</script>", "<rect ", "<text ", "</text>", "<g ", "</g>", "<title>",
	"</title>", "<![CDATA[",
};

/* The SVG written: text, elements of ours, names escaped. */
static void
check_svg(char *svg, size_t len)
{
	const char *script = strstr(svg, "<script ");
	const char *end = script != NULL ? strstr(script, "]]>") : NULL;

	FUZZ_CHECK(script != NULL && end != NULL);
	/* each line UTF-8 with no control character: as clean as it is */
	for (char *p = svg, *nl; p < svg + len; p = nl + 1) {
		FUZZ_CHECK((nl = memchr(p, '\n', (size_t)(svg + len - p))) !=
		    NULL);
		*nl = '\0';
		char *c = ctl_fmt_clean(p);
		FUZZ_CHECK(c != NULL && strcmp(c, p) == 0);
		free(c);
		*nl = '\n';
	}
	for (const char *p = svg; p < svg + len; p++) {
		if (p > script && p < end)
			continue;
		if (*p == '&')
			FUZZ_CHECK(strncmp(p, "&amp;", 5) == 0 ||
			    strncmp(p, "&lt;", 4) == 0 ||
			    strncmp(p, "&gt;", 4) == 0 ||
			    strncmp(p, "&quot;", 6) == 0 ||
			    strncmp(p, "&apos;", 6) == 0);
		if (*p == '<') {
			bool known = false;
			for (size_t k = 0; k < sizeof elements /
			    sizeof *elements; k++)
				known |= strncmp(p, elements[k],
				    strlen(elements[k])) == 0;
			FUZZ_CHECK(known);
		}
	}
}

/* The folded lines: one a stack, each "NAMES BYTES". */
static void
check_folded(const char *text, size_t len, size_t nstacks)
{
	size_t lines = 0;

	for (const char *p = text; p < text + len; lines++) {
		const char *nl = memchr(p, '\n', (size_t)(text + len - p));
		FUZZ_CHECK(nl != NULL);
		const char *sp = nl;
		while (sp > p && sp[-1] >= '0' && sp[-1] <= '9')
			sp--;
		FUZZ_CHECK(sp < nl && sp > p && sp[-1] == ' ');
		for (const char *c = p; c < nl; c++)
			FUZZ_CHECK((unsigned char)*c >= 0x20);
		p = nl + 1;
	}
	FUZZ_CHECK(lines == nstacks);
}

/* Draw and fold the stacks (weighed by their estimates or not); their
 * checks, if they were taken. */
static void
draw(json_t *stacks, bool estimated)
{
	char *text = NULL, err[256];
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	FUZZ_CHECK(f != NULL);
	int rc = ctl_flame_svg(f, stacks, "a title <&>", estimated, err,
	    sizeof err);
	fclose(f);
	if (rc == 0)
		check_svg(text, len);
	free(text);
	text = NULL;
	f = open_memstream(&text, &len);
	FUZZ_CHECK(f != NULL);
	rc = ctl_flame_folded(f, stacks, estimated, err, sizeof err);
	fclose(f);
	if (rc == 0)
		check_folded(text, len, json_array_size(stacks));
	free(text);
}

/* The group's result: its totals the sums of its stacks. */
static void
check_result(json_t *r, int64_t taken)
{
	json_t *stacks = json_object_get(r, "stacks"), *v;
	int64_t count = 0, bytes = 0;
	size_t i;

	json_array_foreach(stacks, i, v) {
		count += json_integer_value(json_object_get(v, "count"));
		bytes += json_integer_value(json_object_get(v, "bytes"));
	}
	FUZZ_CHECK(count == json_integer_value(json_object_get(r, "count")));
	FUZZ_CHECK(bytes == json_integer_value(json_object_get(r, "bytes")));
	FUZZ_CHECK(count <= taken);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ctl_group g;
	char *copy = malloc(size + 1), err[256];
	int64_t taken = 0;

	FUZZ_CHECK(copy != NULL && ctl_group_init(&g) == 0);
	memcpy(copy, data, size);
	copy[size] = '\0';
	for (char *line = copy, *next; line < copy + size; line = next) {
		char *nl = memchr(line, '\n', (size_t)(copy + size - line));
		next = nl != NULL ? nl + 1 : copy + size;
		json_t *o = json_loadb(line, (size_t)(next - line), 0, NULL);
		if (o == NULL)
			continue;
		if (ctl_group_add(&g, o, err, sizeof err) == 0)
			taken++;
		if (json_is_array(json_object_get(o, "stacks")))
			draw(json_object_get(o, "stacks"), json_is_true(
			    json_object_get(o, "estimated")));
		json_decref(o);
	}
	json_t *r = ctl_group_result(&g);
	FUZZ_CHECK(r != NULL);
	check_result(r, taken);
	draw(json_object_get(r, "stacks"), false);
	json_decref(r);
	ctl_group_free(&g);
	free(copy);
	return 0;
}
