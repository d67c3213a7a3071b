/*
 * format.c - memleasectl's human output: sizes and durations in human
 * units, text made safe for a terminal, and aligned tables that fit its
 * width.
 *
 * Pure but for the terminal's width and the FILE a table is printed to.
 * Every string that came from a process (labels, paths, function names,
 * messages) goes through ctl_fmt_clean before it reaches the terminal: a
 * hostile process must not be able to send escape sequences to it.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "ctl.h"

#define MIN_CUT 8       /* a shrinkable column keeps at least this */
#define GAP     2       /* blanks between columns */

char *
ctl_fmt_size(int64_t bytes, char buf[CTL_FMT_UNIT])
{
	static const char *const units[] = {
		"KiB", "MiB", "GiB", "TiB", "PiB", "EiB",
	};
	uint64_t b = (uint64_t)bytes;

	if (bytes < 0) {
		snprintf(buf, CTL_FMT_UNIT, "-");
		return buf;
	}
	if (b < 1024) {
		snprintf(buf, CTL_FMT_UNIT, "%" PRIu64 "B", b);
		return buf;
	}
	/* the largest unit that leaves at least 1; tenths below 10, then
	 * whole units, rounded to the nearest */
	for (unsigned k = 0; k < sizeof units / sizeof *units; k++) {
		unsigned shift = 10 * (k + 1);
		uint64_t unit = UINT64_C(1) << shift;
		if (k + 1 < sizeof units / sizeof *units && b >> shift >= 1024)
			continue;
		uint64_t rest = b & (unit - 1);
		uint64_t tenths = (b >> shift) * 10 + (rest * 10 + unit / 2) /
		    unit;
		if (tenths < 100) {
			snprintf(buf, CTL_FMT_UNIT, "%" PRIu64 ".%" PRIu64 "%s",
			    tenths / 10, tenths % 10, units[k]);
			return buf;
		}
		uint64_t whole = (b >> shift) + (rest >= unit / 2);
		if (whole >= 1024 && k + 1 < sizeof units / sizeof *units)
			continue;       /* 1023.6KiB: 1.0MiB */
		snprintf(buf, CTL_FMT_UNIT, "%" PRIu64 "%s", whole, units[k]);
		return buf;
	}
	return buf;     /* not reached */
}

char *
ctl_fmt_duration(int64_t ms, char buf[CTL_FMT_UNIT])
{
	uint64_t t = (uint64_t)ms;

	if (ms < 0)
		snprintf(buf, CTL_FMT_UNIT, "-");
	else if (t < 1000)
		snprintf(buf, CTL_FMT_UNIT, "%" PRIu64 "ms", t);
	else if ((t + 50) / 100 < 600)
		snprintf(buf, CTL_FMT_UNIT, "%" PRIu64 ".%" PRIu64 "s",
		    (t + 50) / 1000, (t + 50) / 100 % 10);
	else if ((t + 500) / 1000 < 3600)
		snprintf(buf, CTL_FMT_UNIT, "%" PRIu64 "m%02" PRIu64 "s",
		    (t + 500) / 60000, (t + 500) / 1000 % 60);
	else if ((t + 30000) / 60000 < 24 * 60)
		snprintf(buf, CTL_FMT_UNIT, "%" PRIu64 "h%02" PRIu64 "m",
		    (t + 30000) / 3600000, (t + 30000) / 60000 % 60);
	else
		snprintf(buf, CTL_FMT_UNIT, "%" PRIu64 "d%02" PRIu64 "h",
		    (t + 1800000) / 86400000, (t + 1800000) / 3600000 % 24);
	return buf;
}

char *
ctl_fmt_count(int64_t n, char buf[CTL_FMT_UNIT])
{
	if (n < 0)
		snprintf(buf, CTL_FMT_UNIT, "-");
	else
		snprintf(buf, CTL_FMT_UNIT, "%" PRId64, n);
	return buf;
}

/* The length of the UTF-8 sequence at s, if it is a valid one of a
 * printable character (no C1 control), else 0. */
static size_t
utf8_len(const unsigned char *s)
{
	size_t n;
	unsigned char lo = 0x80, hi = 0xbf;

	if (s[0] < 0x80)
		return s[0] >= 0x20 && s[0] != 0x7f ? 1 : 0;
	if (s[0] == 0xc2 && s[1] < 0xa0)
		return 0;               /* U+0080..U+009F: C1 controls */
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4;
	else
		return 0;
	/* no overlong forms, no surrogates, nothing past U+10FFFF */
	if (s[0] == 0xe0)
		lo = 0xa0;
	else if (s[0] == 0xed)
		hi = 0x9f;
	else if (s[0] == 0xf0)
		lo = 0x90;
	else if (s[0] == 0xf4)
		hi = 0x8f;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return n;
}

/* s made safe for a terminal into out (strlen(s) + 1 bytes); its end. */
static char *
clean_into(char *out, const char *s)
{
	const unsigned char *p = (const unsigned char *)(s != NULL ? s : "-");
	char *o = out;

	while (*p != '\0') {
		size_t n = utf8_len(p);
		if (n == 0) {
			*o++ = '?';
			p++;
		} else {
			memcpy(o, p, n);
			o += n;
			p += n;
		}
	}
	*o = '\0';
	return o;
}

char *
ctl_fmt_clean(const char *s)
{
	char *out = malloc(strlen(s != NULL ? s : "-") + 1);

	if (out != NULL)
		clean_into(out, s);
	return out;
}

size_t
ctl_fmt_width(const char *s)
{
	size_t w = 0;

	for (; *s != '\0'; s++)
		w += ((unsigned char)*s & 0xc0) != 0x80;
	return w;
}

size_t
ctl_fmt_term_width(int fd)
{
	struct winsize ws;
	const char *env = getenv("COLUMNS");
	char *end;

	if (env != NULL && *env != '\0') {
		unsigned long c = strtoul(env, &end, 10);
		if (*end == '\0' && c >= 20 && c <= 10000)
			return c;
	}
	if (!isatty(fd))
		return 0;
	if (ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return ws.ws_col;
	return 80;
}

/* The byte offset of the character `chars` characters into s. */
static size_t
skip_chars(const char *s, size_t chars)
{
	size_t i = 0;

	for (; s[i] != '\0'; i++)
		if (((unsigned char)s[i] & 0xc0) != 0x80 && chars-- == 0)
			break;
	return i;
}

char *
ctl_fmt_cut(const char *s, size_t width, bool keep_end)
{
	size_t w = ctl_fmt_width(s), len = strlen(s);
	char *out;

	if (w <= width)
		return strdup(s);
	if ((out = malloc(len + 4)) == NULL)
		return NULL;
	if (width <= 3) {
		snprintf(out, len + 4, "%.*s", (int)width, "...");
	} else if (keep_end) {
		size_t from = skip_chars(s, w - (width - 3));
		snprintf(out, len + 4, "...%s", s + from);
	} else {
		snprintf(out, len + 4, "%.*s...", (int)skip_chars(s, width - 3),
		    s);
	}
	return out;
}

int
ctl_fmt_table_init(struct ctl_table *t, const struct ctl_col *cols,
    size_t ncols)
{
	memset(t, 0, sizeof *t);
	t->cols = cols;
	t->ncols = ncols;
	if ((t->width = calloc(ncols, sizeof *t->width)) == NULL)
		return -1;
	for (size_t i = 0; i < ncols; i++)
		t->width[i] = ctl_fmt_width(cols[i].name);
	return 0;
}

/* Room for n more bytes of cells' text; false if there is none. */
static bool
text_room(struct ctl_table *t, size_t n)
{
	if (t->room - t->used >= n)
		return true;
	size_t room = t->room ? t->room : 4096;
	while (room - t->used < n)
		room *= 2;
	char *m = realloc(t->text, room);
	if (m == NULL)
		return false;
	t->text = m;
	t->room = room;
	return true;
}

/* Cells are kept in one block of text, not one allocation each: a
 * listing of a million leases adds seven million of them. */
int
ctl_fmt_table_add(struct ctl_table *t, const char *const *row)
{
	if (t->nrows == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 64;
		size_t *m = realloc(t->cells, cap * t->ncols * sizeof *m);
		if (m == NULL)
			return -1;
		t->cells = m;
		t->cap = cap;
	}
	size_t *cell = t->cells + t->nrows * t->ncols, used = t->used;
	for (size_t i = 0; i < t->ncols; i++) {
		const char *s = row[i] != NULL ? row[i] : "-";
		if (!text_room(t, strlen(s) + 1)) {
			t->used = used;
			return -1;
		}
		cell[i] = t->used;
		char *c = t->text + t->used;
		t->used = (size_t)(clean_into(c, s) - t->text) + 1;
		size_t w = ctl_fmt_width(c);
		if (w > t->width[i])
			t->width[i] = w;
	}
	t->nrows++;
	return 0;
}

void
ctl_fmt_table_layout(const struct ctl_table *t, size_t columns, size_t *out)
{
	size_t total = 0;

	for (size_t i = 0; i < t->ncols; i++)
		total += (out[i] = t->width[i]) + (i > 0 ? GAP : 0);
	while (columns != 0 && total > columns) {
		/* cut the widest shrinkable column by one */
		size_t best = t->ncols;
		for (size_t i = 0; i < t->ncols; i++) {
			size_t floor = ctl_fmt_width(t->cols[i].name);
			if (floor < MIN_CUT)
				floor = MIN_CUT;
			if (t->cols[i].shrink && out[i] > floor &&
			    (best == t->ncols || out[i] > out[best]))
				best = i;
		}
		if (best == t->ncols)
			return;         /* as narrow as it gets */
		out[best]--;
		total--;
	}
}

/* n blanks. */
static int
pad(FILE *f, size_t n)
{
	static const char blanks[] = "                                ";

	for (size_t k; n > 0; n -= k) {
		k = n < sizeof blanks - 1 ? n : sizeof blanks - 1;
		if (fwrite(blanks, 1, k, f) != k)
			return -1;
	}
	return 0;
}

/* One cell, cut and padded to w (the last cell of a line unpadded). */
static int
print_cell(FILE *f, const struct ctl_col *col, const char *s, size_t w,
    bool last)
{
	size_t sw = ctl_fmt_width(s);
	char *cut = NULL;
	int r;

	if (sw > w) {           /* the common case, a cell that fits, is
	                         * printed as it is */
		if ((cut = ctl_fmt_cut(s, w, col->keep_end)) == NULL)
			return -1;
		s = cut;
		sw = ctl_fmt_width(s);
	}
	if (col->right)
		r = pad(f, w - sw) == 0 && fputs(s, f) >= 0 ? 0 : -1;
	else
		r = fputs(s, f) >= 0 && (last || pad(f, w - sw) == 0) ? 0 : -1;
	free(cut);
	return r;
}

static int
print_row(const struct ctl_table *t, FILE *f, const size_t *w,
    const char *const *row)
{
	for (size_t i = 0; i < t->ncols; i++) {
		if (i > 0 && pad(f, GAP) != 0)
			return -1;
		if (print_cell(f, &t->cols[i], row[i], w[i],
		    i + 1 == t->ncols) != 0)
			return -1;
	}
	return fputc('\n', f) == EOF ? -1 : 0;
}

int
ctl_fmt_table_print(struct ctl_table *t, FILE *f, size_t columns)
{
	size_t *w = calloc(t->ncols, sizeof *w);
	const char **row = calloc(t->ncols, sizeof *row);
	int r = 0;

	if (w == NULL || row == NULL) {
		free(w);
		free(row);
		return -1;
	}
	ctl_fmt_table_layout(t, columns, w);
	if (!t->headed) {
		for (size_t i = 0; i < t->ncols; i++)
			row[i] = t->cols[i].name;
		r = print_row(t, f, w, row);
		t->headed = true;
	}
	for (size_t k = 0; k < t->nrows && r == 0; k++) {
		for (size_t i = 0; i < t->ncols; i++)
			row[i] = t->text + t->cells[k * t->ncols + i];
		r = print_row(t, f, w, row);
	}
	t->nrows = 0;
	t->used = 0;
	free(w);
	free(row);
	return r;
}

void
ctl_fmt_table_free(struct ctl_table *t)
{
	free(t->cells);
	free(t->text);
	free(t->width);
	memset(t, 0, sizeof *t);
}
