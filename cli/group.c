/*
 * group.c - the events of a JSON log (MEMLEASE_LOG_FORMAT=json), grouped
 * by stack (see ctl.h), for memleasectl report.
 *
 * Pure: no I/O.  The events are a file's, which anyone may have written
 * or cut: each is checked as a response of a process is (reply.c), and
 * one that is not well made is refused with what is wrong, never read
 * past.  What is kept is the stacks (one object each, with the frames of
 * the first event of the stack) and, for each lease seen, the key of its
 * stack: a log of a million events of a few stacks stays small but for
 * its leases' ids.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

/* The events about a lease; the others (log_full) say nothing of one. */
static const char *const lease_events[] = {
	"expired", "live_at_exit", "late_access",
};

int
ctl_group_init(struct ctl_group *g)
{
	memset(g, 0, sizeof *g);
	g->stacks = json_object();
	g->leases = json_object();
	if (g->stacks == NULL || g->leases == NULL) {
		ctl_group_free(g);
		errno = ENOMEM;
		return -1;
	}
	return 0;
}

void
ctl_group_free(struct ctl_group *g)
{
	json_decref(g->stacks);
	json_decref(g->leases);
	memset(g, 0, sizeof *g);
}

static int
bad(char *err, size_t errlen, const char *what)
{
	snprintf(err, errlen, "%s", what);
	return -1;
}

/* A whole number field, not negative: 0 (-1 in *out if missing), -1. */
static int
whole(json_t *o, const char *key, int64_t *out)
{
	json_t *v = json_object_get(o, key);

	*out = -1;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return -1;
	*out = (int64_t)json_integer_value(v);
	return 0;
}

/*
 * The key of the event's stack in a string from malloc: "id:" and its
 * stack_id, or "at:" and each frame's object and offset in it (the
 * address if it has none).  NULL when out of memory.
 */
static char *
stack_key(const char *stack_id, json_t *frames)
{
	char *key = NULL, *more;
	size_t i;
	json_t *v;

	if (stack_id != NULL)
		return asprintf(&key, "id:%s", stack_id) < 0 ? NULL : key;
	if ((key = strdup("at:")) == NULL)
		return NULL;
	json_array_foreach(frames, i, v) {
		struct ctl_frame fr;
		char err[8];
		ctl_reply_frame(v, &fr, err, sizeof err);
		int n = fr.object_offset >= 0 ?
		    asprintf(&more, "%s%s+%" PRIx64 "\x1f", key, fr.object !=
		    NULL ? fr.object : "?", (uint64_t)fr.object_offset) :
		    asprintf(&more, "%s%s@%s\x1f", key, fr.object != NULL ?
		    fr.object : "?", fr.ip != NULL ? fr.ip : "?");
		free(key);
		if (n < 0)
			return NULL;
		key = more;
	}
	return key;
}

/* The group of key, made with the event's stack_id and frames if new. */
static json_t *
group_of(struct ctl_group *g, const char *key, const char *stack_id,
    json_t *frames)
{
	json_t *s = json_object_get(g->stacks, key);

	if (s != NULL)
		return s;
	s = json_pack("{s:I,s:I,s:I,s:o}", "count", (json_int_t)0, "bytes",
	    (json_int_t)0, "oldest_ms", (json_int_t)0, "frames",
	    frames != NULL ? json_incref(frames) : json_array());
	if (s == NULL)
		return NULL;
	if (stack_id != NULL &&
	    json_object_set_new(s, "stack_id", json_string(stack_id)) != 0) {
		json_decref(s);
		return NULL;
	}
	if (json_object_set_new_nocheck(g->stacks, key, s) != 0)
		return NULL;
	return s;
}

static void
add_int(json_t *o, const char *key, int64_t x)
{
	json_t *v = json_object_get(o, key);

	json_integer_set(v, json_integer_value(v) + x);
}

int
ctl_group_add(struct ctl_group *g, json_t *ev, char *err, size_t errlen)
{
	struct ctl_event e;
	const char *stack_id = NULL;
	json_t *sid, *s, *seen;
	char *key = NULL, *lease = NULL;
	bool about_lease = false;
	size_t i;

	if (ctl_reply_event(ev, &e, err, errlen) != 0)
		return -1;
	for (i = 0; i < sizeof lease_events / sizeof *lease_events; i++)
		about_lease |= strcmp(e.event, lease_events[i]) == 0;
	if (!about_lease)
		return 1;
	if (e.size < 0)
		return bad(err, errlen, "an event without a \"size\"");
	if (e.size > INT64_MAX - g->bytes)
		return bad(err, errlen, "a \"size\" too large to add up");
	sid = json_object_get(ev, "stack_id");
	if (sid != NULL && !json_is_null(sid) &&
	    (stack_id = json_string_value(sid)) == NULL)
		return bad(err, errlen, "\"stack_id\" is not a string");
	if (e.backtrace != NULL) {
		json_t *v;
		struct ctl_frame fr;
		json_array_foreach(e.backtrace, i, v)
			if (ctl_reply_frame(v, &fr, err, errlen) != 0)
				return -1;
	}
	if (whole(ev, "pid", &e.pid) != 0)
		return bad(err, errlen, "\"pid\" is not a whole number");
	/* a lease is named by its process and id; without them, an event
	 * counts as a lease of its own */
	if (e.id != NULL && e.pid >= 0 &&
	    asprintf(&lease, "%" PRId64 " %s", e.pid, e.id) < 0)
		goto oom;
	if (lease != NULL &&
	    (seen = json_object_get(g->leases, lease)) != NULL) {
		s = json_object_get(g->stacks, json_string_value(seen));
		if (e.age_ms > json_integer_value(json_object_get(s,
		    "oldest_ms")))
			json_integer_set(json_object_get(s, "oldest_ms"),
			    e.age_ms);
		free(lease);
		return 0;
	}
	if ((key = stack_key(stack_id, e.backtrace)) == NULL ||
	    (s = group_of(g, key, stack_id, e.backtrace)) == NULL ||
	    (lease != NULL && json_object_set_new_nocheck(g->leases, lease,
	    json_string_nocheck(key)) != 0))
		goto oom;
	add_int(s, "count", 1);
	add_int(s, "bytes", e.size);
	if (e.age_ms > json_integer_value(json_object_get(s, "oldest_ms")))
		json_integer_set(json_object_get(s, "oldest_ms"), e.age_ms);
	g->count++;
	g->bytes += e.size;
	free(key);
	free(lease);
	return 0;
oom:
	free(key);
	free(lease);
	errno = ENOMEM;
	return -1;
}

static int64_t
get(json_t *o, const char *key)
{
	return (int64_t)json_integer_value(json_object_get(o, key));
}

/* The most bytes first, then the most leases, then by key: the same
 * order whatever order the events came in. */
static int
cmp_stack(const void *a, const void *b)
{
	json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
	int64_t bx = get(x, "bytes"), by = get(y, "bytes");
	int64_t cx = get(x, "count"), cy = get(y, "count");

	if (bx != by)
		return bx < by ? 1 : -1;
	if (cx != cy)
		return cx < cy ? 1 : -1;
	return strcmp(json_string_value(json_object_get(x, "key")),
	    json_string_value(json_object_get(y, "key")));
}

json_t *
ctl_group_result(const struct ctl_group *g)
{
	size_t n = json_object_size(g->stacks), i = 0;
	json_t **v = calloc(n + 1, sizeof *v), *arr = json_array(), *s, *r;
	const char *key;

	if (v == NULL || arr == NULL)
		goto oom;
	json_object_foreach(g->stacks, key, s) {
		/* a copy, with its key to sort by, taken out below */
		if ((v[i] = json_copy(s)) == NULL ||
		    json_object_set_new(v[i], "key", json_string(key)) != 0)
			goto oom;
		i++;
	}
	qsort(v, n, sizeof *v, cmp_stack);
	for (i = 0; i < n; i++) {
		json_object_del(v[i], "key");
		if (json_array_append_new(arr, v[i]) != 0) {
			v[i] = NULL;
			goto oom;
		}
		v[i] = NULL;
	}
	free(v);
	r = json_pack("{s:o,s:I,s:I}", "stacks", arr, "count",
	    (json_int_t)g->count, "bytes", (json_int_t)g->bytes);
	if (r == NULL)
		errno = ENOMEM;
	return r;
oom:
	for (i = 0; v != NULL && i < n; i++)
		json_decref(v[i]);
	free(v);
	json_decref(arr);
	errno = ENOMEM;
	return NULL;
}
