/*
 * lines.c - the framing of the control protocol (see lines.h).
 */
#include <string.h>

#include "lines.h"

bool
ml_lines_feed(struct ml_lines *l, size_t n, ml_lines_fn fn, void *arg)
{
	size_t at = 0;
	char *nl;

	l->len += n;
	while ((nl = memchr(l->buf + at, '\n', l->len - at)) != NULL) {
		size_t len = (size_t)(nl - (l->buf + at));
		if (l->discarding)
			l->discarding = false;
		else if (!fn(arg, l->buf + at, len))
			return false;
		at += len + 1;
	}
	memmove(l->buf, l->buf + at, l->len - at);
	l->len -= at;
	if (l->len == sizeof l->buf) {          /* no newline in 64 KiB */
		if (!l->discarding && !fn(arg, l->buf, sizeof l->buf))
			return false;
		l->discarding = true;
		l->len = 0;
	}
	return true;
}
