/*
 * listing.h - the leases of the protocol's "list", written as JSON text
 * (json.h); out of memory leaves the writer's oom set.
 */
#ifndef ML_LISTING_H
#define ML_LISTING_H

#include <stdbool.h>
#include <stdint.h>

struct ml_core;
struct ml_json;
struct ml_stackid_skip;

#define ML_LISTING_PAGE 1000    /* leases in a page */

/* The filters of "list"; NULL: any. */
struct ml_listing_filter {
	uint64_t    older_than;     /* ms */
	const char *label;
	const char *state;
};

/* {"leases":[...],"next":CURSOR|null}: at most limit (0: a page,
 * ML_LISTING_PAGE) leases in table order from entry `cursor`. */
void ml_listing_page(struct ml_core *c, const struct ml_listing_filter *fl,
         uint64_t now, uint32_t cursor, uint64_t limit, struct ml_json *j);

/* {"leases":[...],"next":null}: the `limit` largest (by_size) or oldest
 * leases, that order; limit from 1 (the protocol's bound is checked by
 * the caller). */
void ml_listing_sorted(struct ml_core *c, const struct ml_listing_filter *fl,
         uint64_t now, bool by_size, uint64_t limit, struct ml_json *j);

/* {"sites":[{"count","bytes","estimated_count","estimated_bytes","site"},
 * ...],"estimated":BOOL}: per allocation site (a backtrace's first frame),
 * the most estimated bytes first; at most limit (0: all).  The estimates
 * weigh the leases byte sampling chose (sample.h), "estimated": some were;
 * without them they are the count and the bytes. */
void ml_listing_sites(struct ml_core *c, const struct ml_listing_filter *fl,
         uint64_t now, uint64_t limit, struct ml_json *j);

/* {"stacks":[{"stack_id","count","bytes","estimated_count",
 * "estimated_bytes","oldest_ms","frames"},...],"count","bytes",
 * "estimated"}: per stack (its frames after MEMLEASE_SKIP's and skip's
 * wrappers, to depth; 0: whole), the most (estimated) bytes first; at
 * most limit (0: all); count and bytes of every lease that passed fl;
 * the estimates as by site. */
void ml_listing_stacks(struct ml_core *c, const struct ml_listing_filter *fl,
         uint64_t now, const struct ml_stackid_skip *skip, int depth,
         uint64_t limit, struct ml_json *j);

#endif /* ML_LISTING_H */
