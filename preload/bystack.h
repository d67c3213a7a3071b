/*
 * bystack.h - leases summed by stack: count, bytes and the oldest birth
 * of each group, for "list" by_stack (and by_site), the summary at exit
 * and the expiries' summary.  Memory grows with the stacks, never with
 * the leases.
 */
#ifndef ML_BYSTACK_H
#define ML_BYSTACK_H

#include <stddef.h>
#include <stdint.h>

#include "stackid.h"

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

/*
 * A table summed by stored stack (key: the stack) grouped anew by the
 * stack_id of its frames after skip and depth (ml_stackid_frames()):
 * *out, and b freed.  0, or -ENOMEM (then both are freed).
 */
int      ml_bystack_regroup(struct ml_bystack *b,
             const struct ml_stackid_skip *extra, int depth,
             struct ml_bystack *out);

/* The groups to the front of b->v, the most (estimated) bytes first: b
 * is a list of b->n groups after, no longer a table. */
void     ml_bystack_sort(struct ml_bystack *b);

void     ml_bystack_free(struct ml_bystack *b);

#endif /* ML_BYSTACK_H */
