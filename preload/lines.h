/*
 * lines.h - the framing of the control protocol: a request is one line of
 * at most ML_PROTO_MAX_LINE bytes, its newline included.
 *
 * Pure: no I/O, no allocation, no state but the struct the caller holds.
 * The server reads a client's bytes into it; the protocol's fuzzer feeds
 * it bytes split at arbitrary points, the same way.
 */
#ifndef ML_LINES_H
#define ML_LINES_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "proto.h"

struct ml_lines {
	char   buf[ML_PROTO_MAX_LINE];
	size_t at;              /* the bytes before it were passed on */
	size_t len;             /* bytes in buf */
	bool   discarding;      /* in the rest of a line that was too long */
};

/* Where the next bytes go; *room (never 0) is how many fit.  Only after
 * a feed that returned true: the lines held are passed on first. */
static inline char *
ml_lines_room(struct ml_lines *l, size_t *room)
{
	if (l->at > 0) {
		memmove(l->buf, l->buf + l->at, l->len - l->at);
		l->len -= l->at;
		l->at = 0;
	}
	*room = sizeof l->buf - l->len;
	return l->buf + l->len;
}

/* Whether a whole line is held, read but not passed on yet (a feed that
 * stopped). */
static inline bool
ml_lines_held(const struct ml_lines *l)
{
	return memchr(l->buf + l->at, '\n', l->len - l->at) != NULL;
}

/* A line, without its newline; false stops the feed (the caller may have
 * freed the struct ml_lines then). */
typedef bool (*ml_lines_fn)(void *arg, const char *line, size_t len);

/*
 * n bytes were written at ml_lines_room(): call fn with each line they
 * complete.  A line that fills the buffer without a newline is passed
 * once, its first ML_PROTO_MAX_LINE bytes (the handler refuses it, E2BIG),
 * and its rest up to the newline is skipped.  Returns false as soon as fn
 * does, touching l no more: a line is taken before fn sees it, so the
 * lines after it are held, and a feed of 0 bytes passes them on later
 * (the server stops so while a client's answers wait to be read).
 */
bool ml_lines_feed(struct ml_lines *l, size_t n, ml_lines_fn fn, void *arg);

#endif /* ML_LINES_H */
