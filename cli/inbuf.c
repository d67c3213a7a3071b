/*
 * inbuf.c - the lines of a stream, as they arrive (see ctl.h).
 *
 * Pure: no I/O.  memleasectl reads a socket into it; the reply fuzzer
 * feeds it bytes split at arbitrary points and checks that the lines are
 * the stream's, split at its newlines.  Bytes not yet returned are
 * [off, len); [off, scan) is known to hold no newline, so that a long line
 * arriving in pieces is searched once, not once a piece.
 */
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

#define INBUF_FIRST 65536
#define INBUF_ROOM  4096

int
ctl_inbuf_line(struct ctl_inbuf *b, size_t max, char **line, size_t *len)
{
	char *nl = b->len > b->scan ? memchr(b->buf + b->scan, '\n',
	    b->len - b->scan) : NULL;

	if (nl == NULL) {
		b->scan = b->len;
		return b->len - b->off > max ? -1 : 1;
	}
	*nl = '\0';
	*line = b->buf + b->off;
	*len = (size_t)(nl - *line);
	b->off = b->scan = (size_t)(nl - b->buf) + 1;
	return 0;
}

char *
ctl_inbuf_room(struct ctl_inbuf *b, size_t *room)
{
	if (b->off > 0) {               /* the partial line to the front */
		memmove(b->buf, b->buf + b->off, b->len - b->off);
		b->len -= b->off;
		b->scan -= b->off;
		b->off = 0;
	}
	if (b->cap - b->len < INBUF_ROOM) {
		size_t cap = b->cap ? b->cap * 2 : INBUF_FIRST;
		char *m = realloc(b->buf, cap);
		if (m == NULL)
			return NULL;
		b->buf = m;
		b->cap = cap;
	}
	*room = b->cap - b->len;
	return b->buf + b->len;
}

void
ctl_inbuf_filled(struct ctl_inbuf *b, size_t n)
{
	b->len += n;
}

bool
ctl_inbuf_partial(const struct ctl_inbuf *b)
{
	return b->len > b->off;
}

void
ctl_inbuf_free(struct ctl_inbuf *b)
{
	free(b->buf);
	memset(b, 0, sizeof *b);
}
