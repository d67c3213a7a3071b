/*
 * proto.c - fuzz target: the control socket's requests, as the server
 * sees them: bytes framed into lines (preload/lines.c), each line parsed
 * as JSON and dispatched (preload/proto.c), against the library's own
 * state holding a few leases.
 *
 * Input: a first byte whose low 4 bits are a count k, then k chunk sizes
 * (a byte each, used in turn), then the bytes a client sends.  They are
 * fed in chunks of those sizes, as recv() would hand them over; a size of
 * 0 feeds instead a run of FILL spaces (JSON whitespace) that is not in
 * the input, so that lines near and over the 64 KiB limit are reached
 * (at most FILL_MAX a run).  k = 0 feeds the bytes at once.
 *
 * Properties: every response is one line of a JSON object with "ok";
 * there is one response a line, and an E2BIG response for each line too
 * long, wherever the chunks split the bytes (counted here independently
 * of lines.c).  After each input the leases it ended are made again and
 * the rules reset; the pinned leases keep their ids (a pinned lease
 * cannot be expired).  Rules replaced are kept by the library for ever:
 * not counted as leaks (__lsan_default_suppressions).
 */
#define _GNU_SOURCE
#include <jansson.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "memlease.h"
#include "runtime.h"
#include "clock.h"
#include "core.h"
#include "fuzz.h"
#include "guard.h"
#include "lines.h"
#include "mem.h"
#include "proto.h"
#include "real.h"
#include "rules.h"
#include "decide.h"

#define FILL      (ML_PROTO_MAX_LINE - 64)
#define FILL_MAX  4
#define RULES     "caller=keep_for_peer ttl=200ms action=free label=boot-log"

static volatile uint64_t fake_now = 7000000;

/* The leases every input starts with. */
static struct {
	size_t      size;
	uint64_t    ttl_ms;
	bool        pinned;
	const char *label;
	memlease_t  h;
} leases[] = {
	{ 64, 60000, false, "cache", 0 },
	{ 4096, 0, false, "session", 0 },
	{ 100, 1000, true, "peer", 0 },
	{ 1 << 20, 5000, true, NULL, 0 },
	{ 24, 200, false, NULL, 0 },
};
#define NLEASES (sizeof leases / sizeof *leases)

/*
 * Rules replaced are never freed (preload/decide.c: another thread may still
 * read them): memory kept on purpose, not a leak of an input.  Visible:
 * a sanitizer runtime that is a shared library looks it up.
 */
const char *__lsan_default_suppressions(void)
    __attribute__((visibility("default")));
const char *
__lsan_default_suppressions(void)
{
	return "leak:ml_decide_set_rules\n";
}

static void
restore(void)
{
	static char *rules;     /* RULES as ml_decide_rules_text() gives them */
	struct ml_rules_error err;
	struct ml_info in;

	for (size_t i = 0; i < NLEASES; i++) {
		void *buf;
		if (leases[i].h != 0 &&
		    ml_core_info(ml_runtime_core(), leases[i].h, &in) == 0) {
			FUZZ_CHECK(memlease_renew(leases[i].h,
			    leases[i].ttl_ms) == 0);
			continue;
		}
		leases[i].h = memlease_alloc(leases[i].size, leases[i].ttl_ms,
		    1, &buf);
		FUZZ_CHECK(leases[i].h != 0);
		if (leases[i].label != NULL)
			FUZZ_CHECK(memlease_set_label(leases[i].h,
			    leases[i].label) == 0);
		if (leases[i].pinned)
			FUZZ_CHECK(memlease_pin(leases[i].h, NULL) != NULL);
	}
	/* set again only if changed: each change keeps the old rules */
	char *now = ml_decide_rules_text();
	FUZZ_CHECK(now != NULL);
	if (rules == NULL || strcmp(now, rules) != 0) {
		FUZZ_CHECK(ml_decide_set_rules(RULES, &err) == 0);
		ml_real_free(rules);
		rules = ml_decide_rules_text();
		FUZZ_CHECK(rules != NULL);
	}
	ml_real_free(now);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	setenv("MEMLEASE_THREAD", "0", 1);      /* expiry by hand: none */
	setenv("MEMLEASE_LOG", "/dev/null", 1);
	setenv("MEMLEASE_SOCKET", "off", 1);
	ml_clock_fake(&fake_now);
	ml_guard_enter();       /* as on memlease's own thread */
	restore();
	return 0;
}

/* What was fed, and what was answered. */
struct run {
	size_t linelen;         /* of the line being fed, so far */
	size_t want, want_big;  /* responses due, E2BIG among them */
	size_t got, got_big;
};

/* A line for the handler, as the server gives it (an ml_lines_fn). */
static bool
serve(void *arg, const char *line, size_t len)
{
	struct run *run = arg;
	json_error_t jerr;
	char *resp = NULL;
	size_t rlen = 0;

	(void)ml_proto_handle(line, len, &resp, &rlen);
	FUZZ_CHECK(resp != NULL);
	FUZZ_CHECK(rlen > 0 && strlen(resp) == rlen);
	FUZZ_CHECK(resp[rlen - 1] == '\n');
	FUZZ_CHECK(memchr(resp, '\n', rlen - 1) == NULL);
	json_t *o = json_loadb(resp, rlen, 0, &jerr);
	if (o == NULL)
		fuzz_fail("a response that is not JSON: %s: %s", jerr.text, resp);
	FUZZ_CHECK(json_is_object(o));
	FUZZ_CHECK(json_is_boolean(json_object_get(o, "ok")));
	FUZZ_CHECK(json_object_get(o, "id") != NULL);
	bool big = false;
	if (json_is_true(json_object_get(o, "ok"))) {
		FUZZ_CHECK(json_is_object(json_object_get(o, "result")));
	} else {
		json_t *e = json_object_get(o, "error");
		const char *code = json_string_value(json_object_get(e, "code"));
		FUZZ_CHECK(code != NULL);
		FUZZ_CHECK(json_is_string(json_object_get(e, "message")));
		big = strcmp(code, "E2BIG") == 0;
	}
	FUZZ_CHECK(big == (len >= ML_PROTO_MAX_LINE));
	run->got_big += big;
	run->got++;
	json_decref(o);
	ml_mem_free(resp);
	return true;
}

/* The framing, counted here: a line is answered at its newline, or when
 * it reaches ML_PROTO_MAX_LINE bytes (E2BIG; its rest is not).  memchr:
 * a loop over each byte would be instrumented, and the time of the run. */
static void
expect(struct run *run, const char *p, size_t n)
{
	while (n > 0) {
		const char *nl = memchr(p, '\n', n);
		size_t k = nl != NULL ? (size_t)(nl - p) : n;
		if (run->linelen < ML_PROTO_MAX_LINE &&
		    run->linelen + k >= ML_PROTO_MAX_LINE) {
			run->want++;
			run->want_big++;
		}
		run->linelen += k;
		if (nl == NULL)
			return;
		run->want += run->linelen < ML_PROTO_MAX_LINE;
		run->linelen = 0;
		p += k + 1;
		n -= k + 1;
	}
}

/* Feed n bytes as recv() would: as many as there is room for, in turn. */
static void
feed(struct ml_lines *in, struct run *run, const char *p, size_t n)
{
	expect(run, p, n);
	while (n > 0) {
		size_t room;
		char *at = ml_lines_room(in, &room);
		size_t k = n < room ? n : room;
		memcpy(at, p, k);
		FUZZ_CHECK(ml_lines_feed(in, k, serve, run));
		p += k;
		n -= k;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ml_lines in;
	static char fill[FILL];
	struct run run = { 0, 0, 0, 0, 0 };
	size_t k, at, next = 0;
	int fills = 0;

	if (size == 0)
		return 0;
	if (fill[0] != ' ')
		memset(fill, ' ', sizeof fill);
	in.at = in.len = 0;
	in.discarding = false;
	k = data[0] & 15;
	if (k >= size)
		k = size - 1;
	at = 1 + k;
	while (at < size) {
		size_t n = k > 0 ? data[1 + next++ % k] : size - at;
		if (n == 0 && fills < FILL_MAX) {
			feed(&in, &run, fill, sizeof fill);
			fills++;
			continue;
		}
		if (n == 0 || n > size - at)
			n = size - at;
		feed(&in, &run, (const char *)data + at, n);
		at += n;
	}
	if (run.got != run.want || run.got_big != run.want_big)
		fuzz_fail("%zu responses (%zu E2BIG) to %zu lines (%zu too "
		    "long)", run.got, run.got_big, run.want, run.want_big);
	restore();
	return 0;
}
