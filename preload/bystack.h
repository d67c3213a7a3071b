/*
 * bystack.h - leases summed by stack: count, bytes and the oldest birth
 * of each group, for "list" by_stack (and by_site), the summary at exit
 * and the expiries' summary.  Memory grows with the stacks, never with
 * the leases.
 */
#ifndef ML_BYSTACK_H
#define ML_BYSTACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stackid.h"

struct ml_core;
struct ml_info;

struct ml_bystack_group {
	uint64_t id;            /* the stack_id of the frames grouped */
	uint32_t stack;         /* a stored stack of the group */
	uint64_t count, bytes;
	uint64_t born;          /* the oldest lease's birth, ms */
	/* the estimates (sample.h): each lease byte sampling chose weighed
	 * as the allocations and bytes it stands for, the others as
	 * themselves; sampled: how many were chosen so */
	double   est_count, est_bytes;
	uint64_t sampled;
	uint64_t shown;         /* of the reports' own: lines written */
};

/* A table of groups by key (open addressing; count 0: an empty slot). */
struct ml_bystack {
	struct ml_bystack_group *v;
	size_t                   n, cap;
};

/* The group of key (a stack_id, a stored stack while summing by those,
 * or a site's address), made with its sums 0 and `stack` if new; NULL
 * when out of memory.  Give it a count at once: a count of 0 marks a free
 * slot. */
struct ml_bystack_group *ml_bystack_get(struct ml_bystack *b, uint64_t key,
                             uint32_t stack);

/* Add one lease of `size` bytes born at `born` to g; sample: the mean of
 * the byte sampling that chose it (ml_info's), 0 if none. */
void     ml_bystack_add(struct ml_bystack_group *g, uint64_t size,
             uint64_t born, uint64_t sample);

/* The groups to the front of b->v, the most (estimated) bytes first: b
 * is a list of b->n groups after, no longer a table. */
void     ml_bystack_sort(struct ml_bystack *b);

void     ml_bystack_free(struct ml_bystack *b);

/* What a group of ml_bystack_collect() is. */
enum ml_bystack_key {
	ML_BYSTACK_STACK,       /* the stack after MEMLEASE_SKIP's wrappers
	                         * and skip's, cut to depth (stackid.h) */
	ML_BYSTACK_SITE,        /* the allocation site: the stored stack's
	                         * first frame, as captured */
};

/* How ml_bystack_collect() groups the leases, and which it keeps. */
struct ml_bystack_how {
	enum ml_bystack_key           key;
	const struct ml_stackid_skip *skip;     /* STACK: globs beside
	                                         * MEMLEASE_SKIP's; NULL: none */
	int                           depth;    /* STACK: frames kept; 0: all */
	/* the leases grouped (NULL: every one); arg is keep's */
	bool (*keep)(const struct ml_info *in, const void *arg);
	const void                   *arg;
};

/*
 * The live leases of core c that how keeps, grouped by how's key, sorted
 * (ml_bystack_sort()): *out, a list of groups whose id is the stack_id of
 * their frames (by site: the site's address; 0: no stack).  all, unless
 * NULL, sums every lease kept in one group.  Reads the core a batch at a
 * time (ml_core_list()); names every stored stack once, not every lease.
 * 0, or -ENOMEM (nothing to free then).
 */
int      ml_bystack_collect(struct ml_core *c, const struct ml_bystack_how *how,
             struct ml_bystack *out, struct ml_bystack_group *all);

/* The frames of group g of a collection by how, innermost first, in ips
 * (ML_STACK_MAX_DEPTH of them): by stack, those its stack_id names; by
 * site, the site.  Returns how many (0: no stack). */
int      ml_bystack_frames(const struct ml_bystack_how *how,
             const struct ml_bystack_group *g, uintptr_t *ips);

#endif /* ML_BYSTACK_H */
