/*
 * lines.c - the framing of the control protocol (see lines.h).
 */
#include <string.h>

#include "lines.h"

bool
ml_lines_feed(struct ml_lines *l, size_t n, ml_lines_fn fn, void *arg)
{
	char *nl;

	l->len += n;
	while ((nl = memchr(l->buf + l->at, '\n', l->len - l->at)) != NULL) {
		const char *line = l->buf + l->at;
		size_t len = (size_t)(nl - line);
		bool skip = l->discarding;

		l->at += len + 1;       /* taken: fn may stop the feed */
		l->discarding = false;
		if (!skip && !fn(arg, line, len))
			return false;
	}
	if (l->len - l->at == sizeof l->buf) {  /* no newline in 64 KiB */
		bool skip = l->discarding;

		l->discarding = true;
		l->at = l->len = 0;     /* the bytes stay until the next read */
		if (!skip && !fn(arg, l->buf, sizeof l->buf))
			return false;
	}
	return true;
}
