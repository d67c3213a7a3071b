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

#include "proto.h"

struct ml_lines {
	char   buf[ML_PROTO_MAX_LINE];
	size_t len;             /* bytes of a line not yet whole */
	bool   discarding;      /* in the rest of a line that was too long */
};

/* Where the next bytes go; *room (never 0) is how many fit. */
static inline char *
ml_lines_room(struct ml_lines *l, size_t *room)
{
	*room = sizeof l->buf - l->len;
	return l->buf + l->len;
}

/* A line, without its newline; false stops the feed (the caller may have
 * freed the struct ml_lines then). */
typedef bool (*ml_lines_fn)(void *arg, const char *line, size_t len);

/*
 * n bytes were written at ml_lines_room(): call fn with each line they
 * complete.  A line that fills the buffer without a newline is passed
 * once, its first ML_PROTO_MAX_LINE bytes (the handler refuses it, E2BIG),
 * and its rest up to the newline is skipped.  Returns false as soon as fn
 * does, touching l no more.
 */
bool ml_lines_feed(struct ml_lines *l, size_t n, ml_lines_fn fn, void *arg);

#endif /* ML_LINES_H */
