/*
 * reply.c - fuzz target: what memleasectl makes of what a process sends
 * back (cli/inbuf.c, cli/reply.c, cli/format.c).  The process at the other end of the
 * socket may be broken or hostile: the client must report an error or
 * show "-", never crash or read past what it was given.
 *
 * Input: the bytes of the socket, split at newlines as the client splits
 * them.  Each line is read as a response (ctl_reply_parse, then every
 * typed view of its result) and as a watch event, and what the views give
 * is put through the formatting as memleasectl shows it: clean text, human
 * units, a table in a width that the line's length decides.  And as
 * list --json reads a page, from its text alone, checked against jansson,
 * and as list's table reads its leases from that text.
 * And the bytes through the reader that splits them (framing()).
 */
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

/* Text from the process, as memleasectl prints it. */
static void
show(const char *s)
{
	char *c = ctl_fmt_clean(s);

	FUZZ_CHECK(c != NULL);
	for (const unsigned char *p = (const unsigned char *)c; *p; p++)
		FUZZ_CHECK(*p >= 0x20 && *p != 0x7f);
	fputs(c, fuzz_null());
	free(c);
}

static void
show_int(int64_t x)
{
	char buf[CTL_FMT_UNIT];

	FUZZ_CHECK(strlen(ctl_fmt_size(x, buf)) < CTL_FMT_UNIT);
	FUZZ_CHECK(strlen(ctl_fmt_duration(x, buf)) < CTL_FMT_UNIT);
	FUZZ_CHECK(strlen(ctl_fmt_count(x, buf)) < CTL_FMT_UNIT);
}

static const struct ctl_col cols[] = {
	{ "ID", false, false, false },
	{ "SIZE", true, false, false },
	{ "AGE", true, false, false },
	{ "STATE", false, false, false },
	{ "LABEL", false, true, false },
	{ "WHERE", false, true, true },
};
#define NCOLS (sizeof cols / sizeof *cols)

static void
frame(json_t *o, struct ctl_table *t)
{
	struct ctl_frame fr;
	char err[256];

	if (ctl_reply_frame(o, &fr, err, sizeof err) != 0)
		return;
	show(fr.function);
	show(fr.object);
	show(fr.ip);
	show_int(fr.offset);
	const char *row[NCOLS] = { fr.ip, NULL, NULL, NULL, fr.function,
		fr.object };
	FUZZ_CHECK(ctl_fmt_table_add(t, row) == 0);
}

static void
lease(json_t *o, struct ctl_table *t)
{
	struct ctl_lease l;
	char err[256], size[CTL_FMT_UNIT], age[CTL_FMT_UNIT];

	if (ctl_reply_lease(o, &l, err, sizeof err) != 0)
		return;
	FUZZ_CHECK(l.id != NULL);
	show(l.kind);
	show(l.addr);
	show_int(l.expires_in_ms);
	show_int(l.pins);
	show_int(l.releases);
	const char *row[NCOLS] = { l.id, ctl_fmt_size(l.size, size),
		ctl_fmt_duration(l.age_ms, age), l.state, l.label, l.addr };
	FUZZ_CHECK(ctl_fmt_table_add(t, row) == 0);
}

/* Every view memleasectl may take of a result. */
static void
result(json_t *o, struct ctl_table *t)
{
	struct ctl_hello h;
	struct ctl_stats st;
	struct ctl_site s;
	json_t *items, *v;
	const char *text;
	char err[256];
	int64_t next;
	size_t i;

	if (ctl_reply_hello(o, &h, err, sizeof err) == 0) {
		FUZZ_CHECK(h.proto >= 0 && h.pid > 0);
		show(h.version);
		show(h.program);
	}
	if (ctl_reply_stats(o, &st, err, sizeof err) == 0)
		for (size_t k = 0; k < ctl_reply_nstat_fields; k++)
			show_int(*(int64_t *)((char *)&st +
			    ctl_reply_stat_fields[k].offset));
	lease(o, t);
	if (ctl_reply_page(o, "leases", &items, &next, err, sizeof err) == 0)
		json_array_foreach(items, i, v)
			lease(v, t);
	if (ctl_reply_page(o, "sites", &items, &next, err, sizeof err) == 0)
		json_array_foreach(items, i, v)
			if (ctl_reply_site(v, &s, err, sizeof err) == 0) {
				show_int(s.count);
				show_int(s.bytes);
				if (s.known)
					frame(json_object_get(v, "site"), t);
			}
	if (json_is_array(json_object_get(o, "backtrace")))
		json_array_foreach(json_object_get(o, "backtrace"), i, v)
			frame(v, t);
	if (ctl_reply_rules(o, &text, err, sizeof err) == 0)
		show(text);
}

/* A line as a watch event. */
static void
event(const char *line, size_t len, struct ctl_table *t)
{
	struct ctl_event ev;
	json_error_t jerr;
	char err[256];
	size_t i;
	json_t *v;
	json_t *o = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);

	if (json_is_object(o) && ctl_reply_event(o, &ev, err,
	    sizeof err) == 0) {
		FUZZ_CHECK(ev.event != NULL);
		show(ev.id);
		show(ev.label);
		show(ev.action);
		show_int(ev.pid);
		show_int(ev.size);
		show_int(ev.age_ms);
		if (ev.backtrace != NULL)
			json_array_foreach(ev.backtrace, i, v)
				frame(v, t);
	}
	json_decref(o);
}

/*
 * list --json's page read from its text: whatever it takes, jansson takes
 * as the same page (its items' text parses to the same leases), and it
 * is printable ASCII; n items cut where the items are.
 */
static bool
same_str(const char *a, const char *b)
{
	return a == NULL ? b == NULL : b != NULL && strcmp(a, b) == 0;
}

/* A table's leases from the page's text (ctl_reply_lease_next), checked
 * against what ctl_reply_lease() makes of jansson's: the same verdict, the
 * same fields; an item left to jansson is that item, whole. */
static void
leases_text(const struct ctl_page_text *pg, json_t *items)
{
	struct ctl_lease l, j;
	char buf[48], err[256];
	const char *from;
	size_t off = 0, len;

	for (size_t i = 0; i < pg->count; i++) {
		json_t *o = json_array_get(items, i);
		int want = ctl_reply_lease(o, &j, err, sizeof err);
		int got = ctl_reply_lease_next(pg, &off, &l, buf, sizeof buf,
		    &from, &len);
		if (got == -1) {
			FUZZ_CHECK(want != 0);
			return;         /* the listing stops there */
		}
		if (got == 1) {
			json_t *again = json_loadb(from, len, 0, NULL);
			FUZZ_CHECK(json_equal(again, o));
			json_decref(again);
			continue;
		}
		FUZZ_CHECK(want == 0);
		FUZZ_CHECK(same_str(l.id, j.id) && same_str(l.label, j.label) &&
		    same_str(l.state, j.state) && same_str(l.kind, j.kind) &&
		    same_str(l.addr, j.addr));
		FUZZ_CHECK(l.size == j.size && l.age_ms == j.age_ms &&
		    l.expires_in_ms == j.expires_in_ms && l.pins == j.pins &&
		    l.releases == j.releases);
	}
	FUZZ_CHECK(off == pg->len);
}

static void
page_text(const char *p, size_t len)
{
	struct ctl_page_text pg;
	struct ctl_reply r;
	json_t *items, *again;
	char err[256];
	int64_t next;

	if (ctl_reply_page_text(p, len, "leases", &pg) != 1)
		return;
	FUZZ_CHECK(ctl_reply_parse(p, len, &r, err, sizeof err) == 0);
	FUZZ_CHECK(r.ok && r.id == pg.id);
	FUZZ_CHECK(ctl_reply_page(r.result, "leases", &items, &next, err,
	    sizeof err) == 0);
	FUZZ_CHECK(next == pg.next && json_array_size(items) == pg.count);
	for (size_t i = 0; i < pg.len; i++)
		FUZZ_CHECK(pg.items[i] >= 0x20 && pg.items[i] < 0x7f);
	char *text = malloc(pg.len + 3);
	FUZZ_CHECK(text != NULL);
	text[0] = '[';
	memcpy(text + 1, pg.items, pg.len);
	memcpy(text + 1 + pg.len, "]", 2);
	again = json_loads(text, 0, NULL);
	FUZZ_CHECK(json_equal(again, items));
	json_decref(again);
	/* the first half of the items is the first half of the array */
	size_t half = ctl_reply_page_cut(&pg, pg.count / 2);
	FUZZ_CHECK(half <= pg.len);
	memcpy(text + 1 + half, "]", 2);
	again = json_loads(text, 0, NULL);
	FUZZ_CHECK(json_array_size(again) == pg.count / 2);
	json_decref(again);
	free(text);
	leases_text(&pg, items);
	ctl_reply_free(&r);
}

static void
line(const char *p, size_t len)
{
	struct ctl_reply r;
	struct ctl_table t;
	char err[256];

	FUZZ_CHECK(ctl_fmt_table_init(&t, cols, NCOLS) == 0);
	if (ctl_reply_parse(p, len, &r, err, sizeof err) != 0) {
		FUZZ_CHECK(err[0] != '\0' && r.root == NULL);
		show(err);
	} else if (r.ok) {
		FUZZ_CHECK(json_is_object(r.result));
		result(r.result, &t);
	} else {
		FUZZ_CHECK(r.code != NULL && r.message != NULL);
		show(r.code);
		show(r.message);
	}
	ctl_reply_free(&r);
	page_text(p, len);
	event(p, len, &t);
	/* a terminal as wide as the line is long (up to 255 columns) */
	FUZZ_CHECK(ctl_fmt_table_print(&t, fuzz_null(), len % 256) == 0);
	ctl_fmt_table_free(&t);
}

/*
 * The bytes through memleasectl's reader (ctl_inbuf), in pieces of
 * pseudo-random sizes: its lines must be the stream's, split at its
 * newlines, NUL-terminated; a line longer than FRAME_MAX refused before
 * its newline comes; at the end, a partial line known as such.
 */
#define FRAME_MAX 2048

static void
framing(const char *data, size_t size)
{
	struct ctl_inbuf b = { 0 };
	const char *ref = data, *end = data + size;
	uint32_t x = (uint32_t)size * 2654435761u | 1;
	size_t fed = 0, len, room;
	char *line;

	for (;;) {
		int r = ctl_inbuf_line(&b, FRAME_MAX, &line, &len);
		if (r == 0) {
			const char *nl = memchr(ref, '\n', (size_t)(end - ref));
			FUZZ_CHECK(nl != NULL && (size_t)(nl - ref) == len);
			FUZZ_CHECK(memcmp(line, ref, len) == 0 &&
			    line[len] == '\0');
			ref = nl + 1;
			continue;
		}
		const char *got = data + fed;
		if (r < 0) {
			FUZZ_CHECK(memchr(ref, '\n', (size_t)(got - ref)) == NULL &&
			    (size_t)(got - ref) > FRAME_MAX);
			break;
		}
		if (fed == size) {
			FUZZ_CHECK(ctl_inbuf_partial(&b) == (ref < end));
			break;
		}
		char *to = ctl_inbuf_room(&b, &room);
		FUZZ_CHECK(to != NULL && room >= 4096);
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		size_t n = 1 + x % 700;
		if (n > size - fed)
			n = size - fed;
		memcpy(to, got, n);
		ctl_inbuf_filled(&b, n);
		fed += n;
	}
	ctl_inbuf_free(&b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size;

	framing(p, size);

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
		/* the client ends a line with a NUL in place of its newline */
		char *copy = malloc(len + 1);
		FUZZ_CHECK(copy != NULL);
		memcpy(copy, p, len);
		copy[len] = '\0';
		line(copy, len);
		free(copy);
		p += len + 1;
	}
	return 0;
}
