/*
 * json.h - the one writer of memlease's JSON text: a lease, a frame, an
 * event (an expiry report), written straight into a buffer, for the log,
 * the socket's watchers and the protocol's listings alike.
 */
#ifndef ML_JSON_H
#define ML_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ml_info;
struct ml_ended;

/* A buffer of text.  Growing (cap 0 to start, p NULL): from mem.h, oom
 * set when it cannot grow and the text is then incomplete.  Fixed (made by
 * ml_json_fixed()): what does not fit is cut, and cut is set. */
struct ml_json {
	char   *p;
	size_t  len, cap;
	bool    fixed;
	bool    oom, cut;
};

struct ml_json ml_json_fixed(char *buf, size_t size);

/* printf() at the end of the text. */
void ml_json_put(struct ml_json *j, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* s as a JSON string (NULL: null); bytes that are not UTF-8 become
 * U+FFFD. */
void ml_json_str(struct ml_json *j, const char *s);

/* A lease: {"id","size","age_ms","expires_in_ms","label","state","kind",
 * "pins","releases","addr","stack_id"}, and if byte sampling chose it,
 * "sample" (the mean) and its weights, "estimated_bytes" and
 * "estimated_count"; open: without its closing brace, for the
 * caller to add fields (a "backtrace") and close it. */
void ml_json_lease(struct ml_json *j, const struct ml_info *in, uint64_t now,
         bool open);

/* A lease's state as the protocol names it (wire.h): live, pinned,
 * overdue, released. */
const char *ml_json_state(const struct ml_info *in);

/* The stack_id of stored stack `stack` as a JSON string, null if none
 * (0). */
void ml_json_stack_id(struct ml_json *j, uint32_t stack);

/* The frames at a return address, as SPEC's "Frames" says: those inlined
 * there (innermost first, "inlined":true), then the function whose code it
 * is; ml_json_frame() the innermost alone (a site). */
void ml_json_frames(struct ml_json *j, uintptr_t ip);
void ml_json_frame(struct ml_json *j, uintptr_t ip);

/* An event: {"event","pid","id","label","size","addr","age_ms","action",
 * "stack_id","backtrace"}, and a newline. */
void ml_json_event(struct ml_json *j, const struct ml_ended *e,
         const char *event, const char *action, uint64_t age,
         const uintptr_t *ips, int n);

#endif /* ML_JSON_H */
