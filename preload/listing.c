/*
 * listing.c - the leases of "list", as JSON text (see listing.h): a page
 * in table order, the top leases by size or age, the sums per allocation
 * site or per stack.  A million leases never become one document: a page
 * holds at most ML_LISTING_PAGE, a sorted listing at most its limit, kept
 * in a bounded heap while every lease is visited, sums one entry a site or
 * a stack (bystack.h groups them; this file writes them).
 *
 * Runs on memlease's thread (the recursion guard held), reading the core
 * through ml_core_list(), which takes the core's lock a batch at a time:
 * nothing here holds a lock while it writes.  Never: allocate but from
 * mem.h.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "bystack.h"
#include "core.h"
#include "json.h"
#include "listing.h"
#include "mem.h"
#include "stacks.h"

static bool
filter_ok(const struct ml_listing_filter *fl, const struct ml_info *in, uint64_t now)
{
	uint64_t age = now > in->born ? now - in->born : 0;

	return age >= fl->older_than &&
	    (fl->label == NULL || strcmp(fl->label, in->label) == 0) &&
	    (fl->state == NULL || strcmp(fl->state, ml_json_state(in)) == 0);
}

/* A sorted listing: the top `limit` leases by age or size, kept in a
 * bounded min-heap while every lease is visited. */
struct top {
	struct ml_info *v;
	size_t          n, max;
	bool            by_size;
};

static bool
top_less(const struct top *t, const struct ml_info *a,
    const struct ml_info *b)
{
	/* "less" is the one to drop first: smaller, or younger */
	return t->by_size ? a->size < b->size : a->born > b->born;
}

static void
top_sift_down(struct top *t, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, m = i;
		if (l < t->n && top_less(t, &t->v[l], &t->v[m]))
			m = l;
		if (l + 1 < t->n && top_less(t, &t->v[l + 1], &t->v[m]))
			m = l + 1;
		if (m == i)
			return;
		struct ml_info x = t->v[i];
		t->v[i] = t->v[m];
		t->v[m] = x;
		i = m;
	}
}

static void
top_add(struct top *t, const struct ml_info *in)
{
	if (t->n < t->max) {
		size_t i = t->n++;
		t->v[i] = *in;
		while (i > 0 && top_less(t, &t->v[i], &t->v[(i - 1) / 2])) {
			struct ml_info x = t->v[i];
			t->v[i] = t->v[(i - 1) / 2];
			t->v[(i - 1) / 2] = x;
			i = (i - 1) / 2;
		}
	} else if (t->max > 0 && top_less(t, &t->v[0], in)) {
		t->v[0] = *in;
		top_sift_down(t, 0);
	}
}

static int
top_cmp_size(const void *a, const void *b)
{
	const struct ml_info *x = a, *y = b;

	return x->size < y->size ? 1 : x->size > y->size ? -1 : 0;
}

static int
top_cmp_age(const void *a, const void *b)
{
	const struct ml_info *x = a, *y = b;

	return x->born > y->born ? 1 : x->born < y->born ? -1 : 0;
}

/* A lease that passes the filters of a listing by site or stack. */
struct keep {
	const struct ml_listing_filter *fl;
	uint64_t                        now;
};

static bool
keep_lease(const struct ml_info *in, const void *arg)
{
	const struct keep *k = arg;

	return filter_ok(k->fl, in, k->now);
}

/* Sites (the first frame of the backtrace), the most (estimated) bytes
 * first (bystack.h). */
void
ml_listing_sites(struct ml_core *c, const struct ml_listing_filter *fl,
    uint64_t now, uint64_t limit, struct ml_json *j)
{
	const struct keep want = { fl, now };
	const struct ml_bystack_how how = { .key = ML_BYSTACK_SITE,
	    .keep = keep_lease, .arg = &want };
	struct ml_bystack by;
	struct ml_bystack_group all;

	if (ml_bystack_collect(c, &how, &by, &all) != 0) {
		j->oom = true;
		return;
	}
	ml_json_put(j, "{\"sites\":[");
	for (size_t k = 0; k < by.n && (limit == 0 || k < limit); k++) {
		ml_json_put(j, "%s{\"count\":%" PRIu64 ",\"bytes\":%" PRIu64
		    ",\"estimated_count\":%.0f,\"estimated_bytes\":%.0f,"
		    "\"site\":", k ? "," : "", by.v[k].count, by.v[k].bytes,
		    by.v[k].est_count, by.v[k].est_bytes);
		if (by.v[k].id != 0)
			ml_json_frame(j, (uintptr_t)by.v[k].id);
		else
			ml_json_put(j, "null");
		ml_json_put(j, "}");
	}
	ml_bystack_free(&by);
	ml_json_put(j, "],\"estimated\":%s}", all.sampled != 0 ? "true" :
	    "false");
}

/* Stacks, the most (estimated) bytes first (bystack.h). */
void
ml_listing_stacks(struct ml_core *c, const struct ml_listing_filter *fl,
    uint64_t now, const struct ml_stackid_skip *skip, int depth,
    uint64_t limit, struct ml_json *j)
{
	const struct keep want = { fl, now };
	const struct ml_bystack_how how = { .key = ML_BYSTACK_STACK,
	    .skip = skip, .depth = depth, .keep = keep_lease, .arg = &want };
	struct ml_bystack groups;
	struct ml_bystack_group all;
	uintptr_t ips[ML_STACK_MAX_DEPTH];
	char hex[ML_STACKID_HEX];

	if (ml_bystack_collect(c, &how, &groups, &all) != 0) {
		j->oom = true;
		return;
	}
	ml_json_put(j, "{\"stacks\":[");
	for (size_t k = 0; k < groups.n && (limit == 0 || k < limit); k++) {
		const struct ml_bystack_group *g = &groups.v[k];
		ml_json_put(j, "%s{\"stack_id\":\"%s\",\"count\":%" PRIu64
		    ",\"bytes\":%" PRIu64 ",\"estimated_count\":%.0f,"
		    "\"estimated_bytes\":%.0f,\"oldest_ms\":%" PRIu64
		    ",\"frames\":[", k ? "," : "", ml_stackid_hex(g->id, hex),
		    g->count, g->bytes, g->est_count, g->est_bytes,
		    now > g->born ? now - g->born : 0);
		int n = ml_bystack_frames(&how, g, ips);
		for (int i = 0; i < n; i++) {
			if (i > 0)
				ml_json_put(j, ",");
			ml_json_frames(j, ips[i]);
		}
		ml_json_put(j, "]}");
	}
	ml_bystack_free(&groups);
	ml_json_put(j, "],\"count\":%" PRIu64 ",\"bytes\":%" PRIu64
	    ",\"estimated_count\":%.0f,\"estimated_bytes\":%.0f"
	    ",\"estimated\":%s}", all.count, all.bytes, all.est_count,
	    all.est_bytes, all.sampled != 0 ? "true" : "false");
}

void
ml_listing_sorted(struct ml_core *c, const struct ml_listing_filter *fl,
    uint64_t now, bool by_size, uint64_t limit, struct ml_json *j)
{
	struct ml_info page[256];
	struct top t = { NULL, 0, (size_t)limit, by_size };
	uint32_t cursor = 0;
	int n;

	if ((t.v = ml_mem_malloc(t.max * sizeof *t.v)) == NULL) {
		j->oom = true;
		return;
	}
	while ((n = ml_core_list(c, &cursor, page, 256)) > 0)
		for (int i = 0; i < n; i++)
			if (filter_ok(fl, &page[i], now))
				top_add(&t, &page[i]);
	qsort(t.v, t.n, sizeof *t.v, by_size ? top_cmp_size : top_cmp_age);
	ml_json_put(j, "{\"leases\":[");
	for (size_t i = 0; i < t.n; i++) {
		if (i > 0)
			ml_json_put(j, ",");
		ml_json_lease(j, &t.v[i], now, false);
	}
	ml_mem_free(t.v);
	ml_json_put(j, "],\"next\":null}");
}

void
ml_listing_page(struct ml_core *c, const struct ml_listing_filter *fl,
    uint64_t now, uint32_t cursor, uint64_t limit, struct ml_json *t)
{
	struct ml_info page[64];
	uint32_t at = cursor;
	uint64_t want = limit != 0 && limit < ML_LISTING_PAGE ? limit :
	    ML_LISTING_PAGE, count = 0;
	bool more = true;
	ml_json_put(t, "{\"leases\":[");
	while (count < want) {
		int n = ml_core_list(c, &at, page, 64);
		if (n == 0) {
			more = false;
			break;
		}
		for (int i = 0; i < n; i++) {
			if (!filter_ok(fl, &page[i], now))
				continue;
			if (count == want) {
				/* the next page starts at this lease */
				at = (uint32_t)page[i].h - 1;
				break;
			}
			if (count++ != 0)
				ml_json_put(t, ",");
			ml_json_lease(t, &page[i], now, false);
		}
	}
	if (more && limit == 0)
		ml_json_put(t, "],\"next\":%" PRIu32 "}", at);
	else
		ml_json_put(t, "],\"next\":null}");
}
