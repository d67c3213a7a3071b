/*
 * rules.c - fuzz target: the rule parser of the preload (preload/rules.c),
 * which reads MEMLEASE_RULES and the "rules" requests of the control
 * socket.
 *
 * Properties: text never crashes it; an error has a position and a
 * message and leaves no rules; rules parsed are written back as text that
 * reads back to the same text; the matchers take any name.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "rules.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

/* The rules as text, from malloc. */
static char *
format(const struct ml_rules *r)
{
	size_t n = ml_rules_format(r, NULL, 0);
	char *s = malloc(n + 1);

	FUZZ_CHECK(s != NULL);
	FUZZ_CHECK(ml_rules_format(r, s, n + 1) == n);
	FUZZ_CHECK(strlen(s) == n);
	return s;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ml_rules r, again;
	struct ml_rules_error err;
	char *text = malloc(size + 1);

	FUZZ_CHECK(text != NULL);
	memcpy(text, data, size);
	text[size] = '\0';
	if (ml_rules_parse(text, &r, &err) != 0) {
		FUZZ_CHECK(r.n == 0 && r.v == NULL);
		FUZZ_CHECK(err.line >= 1 && err.column >= 1);
		FUZZ_CHECK(err.msg[0] != '\0');
		FUZZ_CHECK(strlen(text) >= (size_t)err.column - 1);
		free(text);
		return 0;
	}
	FUZZ_CHECK(r.n >= 0 && r.n <= ML_RULES_MAX);

	char *once = format(&r);
	if (ml_rules_parse(once, &again, &err) != 0)
		fuzz_fail("%s, written as\n%s\ndoes not read back: %d:%d: %s",
		    text, once, err.line, err.column, err.msg);
	char *twice = format(&again);
	if (strcmp(once, twice) != 0)
		fuzz_fail("%s read back as\n%s\nnot as\n%s", text, twice, once);

	/* The matchers, with the text itself as a name among others (cut
	 * to the length of a long C++ name: glob matching backtracks). */
	char name[256];
	snprintf(name, sizeof name, "%s", text);
	const char *functions[] = { "main", name, "keep_for_peer", NULL };
	for (int i = 0; i < r.n; i++) {
		FUZZ_CHECK(r.v[i].ttl_ms == again.v[i].ttl_ms);
		FUZZ_CHECK(r.v[i].size_min <= r.v[i].size_max);
		(void)ml_rule_site_ok(&r.v[i], name, functions, 4);
		(void)ml_rule_site_ok(&r.v[i], "/usr/lib/libc.so.6", functions,
		    1);
		(void)ml_rule_size_ok(&r.v[i], size);
	}
	free(twice);
	free(once);
	ml_rules_free(&again);
	ml_rules_free(&r);
	free(text);
	return 0;
}
