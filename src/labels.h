/*
 * labels.h - interned origins: (stack id, label, sample) triples,
 * reference counted.
 *
 * A lease records where it came from in 24 bits, its origin.  An origin
 * below ML_LABELED is a bare stack id (no label, not sampled, no table
 * entry: the common case costs nothing).  From ML_LABELED up it names a
 * record of this table holding the stack id, a label of at most
 * ML_LABEL_MAX bytes (maybe empty) and the mean of the byte sampling that
 * chose the lease (sample.h; 0: not sampled), shared by every lease with
 * the same triple.  Not thread-safe: the core locks.
 */
#ifndef ML_LABELS_H
#define ML_LABELS_H

#include <stddef.h>
#include <stdint.h>

#define ML_LABEL_MAX   31
#define ML_LABELED     (UINT32_C(1) << 23)
#define ML_ORIGIN_MASK ((UINT32_C(1) << 24) - 1)

struct ml_label_rec {
	uint64_t sample;    /* sample=BYTES that chose its leases, or 0 */
	uint32_t stack;
	uint32_t refs;      /* 0: on the free list */
	uint32_t next;      /* hash chain or free list: index + 1, 0: end */
	char     name[ML_LABEL_MAX + 1];
};

struct ml_labels {
	struct ml_label_rec *recs;
	uint32_t             nrecs;     /* records ever made */
	uint32_t             cap;
	uint32_t             free_head; /* index + 1 */
	uint32_t            *buckets;   /* index + 1 */
	uint32_t             nbuckets;  /* a power of two, or 0 */
};

struct ml_alloc;

int         ml_labels_intern(struct ml_labels *t, uint32_t stack,
                const char *name, uint64_t sample, uint32_t *origin,
                const struct ml_alloc *a);
void        ml_labels_put(struct ml_labels *t, uint32_t origin);
uint32_t    ml_labels_stack(const struct ml_labels *t, uint32_t origin);
const char *ml_labels_name(const struct ml_labels *t, uint32_t origin);
uint64_t    ml_labels_sample(const struct ml_labels *t, uint32_t origin);
void        ml_labels_fini(struct ml_labels *t, const struct ml_alloc *a);
size_t      ml_labels_bytes(const struct ml_labels *t);
size_t      ml_label_copy(char *dst, const char *src);

#endif /* ML_LABELS_H */
