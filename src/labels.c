/*
 * labels.c - interned (stack, label, sample) origins (see labels.h).  Called by the
 * core with its lock held; allocates only through the core's allocator.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "alloc.h"
#include "labels.h"

/*
 * Copy a label, cut to ML_LABEL_MAX bytes without splitting a UTF-8
 * sequence.  dst has room for ML_LABEL_MAX + 1 bytes.  Returns the length.
 */
size_t
ml_label_copy(char *dst, const char *src)
{
	size_t n = strnlen(src, ML_LABEL_MAX + 1);

	if (n > ML_LABEL_MAX) {
		n = ML_LABEL_MAX;
		while (n > 0 && ((unsigned char)src[n] & 0xc0) == 0x80)
			n--;
	}
	memcpy(dst, src, n);
	dst[n] = '\0';
	return n;
}

static uint32_t
hash(uint32_t stack, const char *name, uint64_t sample)
{
	uint32_t h = (2166136261u ^ stack) * 16777619u ^ (uint32_t)sample ^
	    (uint32_t)(sample >> 32);

	for (; *name != '\0'; name++)
		h = (h ^ (unsigned char)*name) * 16777619u;
	return h;
}

static int
grow_buckets(struct ml_labels *t, const struct ml_alloc *a)
{
	uint32_t n = t->nbuckets ? t->nbuckets * 2 : 64;
	uint32_t *b = a->realloc_fn(NULL, n * sizeof *b);

	if (b == NULL)
		return -ENOMEM;
	memset(b, 0, n * sizeof *b);
	for (uint32_t i = 0; i < t->nrecs; i++) {
		struct ml_label_rec *r = &t->recs[i];
		if (r->refs == 0)
			continue;
		uint32_t k = hash(r->stack, r->name, r->sample) & (n - 1);
		r->next = b[k];
		b[k] = i + 1;
	}
	if (t->buckets != NULL)
		a->free_fn(t->buckets);
	t->buckets = b;
	t->nbuckets = n;
	return 0;
}

static int
new_record(struct ml_labels *t, uint32_t *idx, const struct ml_alloc *a)
{
	if (t->free_head != 0) {
		*idx = t->free_head - 1;
		t->free_head = t->recs[*idx].next;
		return 0;
	}
	if (t->nrecs == ML_LABELED)
		return -ENOMEM;
	if (t->nrecs == t->cap) {
		uint32_t cap = t->cap ? t->cap * 2 : 16;
		struct ml_label_rec *r = a->realloc_fn(t->recs, cap * sizeof *r);
		if (r == NULL)
			return -ENOMEM;
		t->recs = r;
		t->cap = cap;
	}
	*idx = t->nrecs++;
	return 0;
}

/* Take a reference on the origin (stack, name, sample); name (NULL: none)
 * is cut to ML_LABEL_MAX bytes. */
int
ml_labels_intern(struct ml_labels *t, uint32_t stack, const char *name,
    uint64_t sample, uint32_t *origin, const struct ml_alloc *a)
{
	char cut[ML_LABEL_MAX + 1];
	uint32_t h, i, idx;
	int r;

	ml_label_copy(cut, name != NULL ? name : "");
	h = hash(stack, cut, sample);
	if (t->nbuckets != 0) {
		for (i = t->buckets[h & (t->nbuckets - 1)]; i != 0;
		    i = t->recs[i - 1].next) {
			struct ml_label_rec *rec = &t->recs[i - 1];
			if (rec->stack == stack && rec->sample == sample &&
			    strcmp(rec->name, cut) == 0) {
				rec->refs++;
				*origin = ML_LABELED + i - 1;
				return 0;
			}
		}
	}
	if (t->nrecs >= t->nbuckets && (r = grow_buckets(t, a)) != 0)
		return r;
	if ((r = new_record(t, &idx, a)) != 0)
		return r;
	struct ml_label_rec *rec = &t->recs[idx];
	rec->stack = stack;
	rec->sample = sample;
	rec->refs = 1;
	memcpy(rec->name, cut, sizeof cut);
	uint32_t k = h & (t->nbuckets - 1);
	rec->next = t->buckets[k];
	t->buckets[k] = idx + 1;
	*origin = ML_LABELED + idx;
	return 0;
}

/* Drop a reference; a bare stack id is not counted. */
void
ml_labels_put(struct ml_labels *t, uint32_t origin)
{
	if (origin < ML_LABELED)
		return;
	uint32_t idx = origin - ML_LABELED;
	struct ml_label_rec *rec = &t->recs[idx];
	if (--rec->refs != 0)
		return;
	uint32_t *link = &t->buckets[hash(rec->stack, rec->name, rec->sample) &
	    (t->nbuckets - 1)];
	while (*link != idx + 1)
		link = &t->recs[*link - 1].next;
	*link = rec->next;
	rec->next = t->free_head;
	t->free_head = idx + 1;
}

uint32_t
ml_labels_stack(const struct ml_labels *t, uint32_t origin)
{
	return origin < ML_LABELED ? origin : t->recs[origin - ML_LABELED].stack;
}

/* The label, NULL if none. */
const char *
ml_labels_name(const struct ml_labels *t, uint32_t origin)
{
	return origin < ML_LABELED || t->recs[origin - ML_LABELED].name[0] ==
	    '\0' ? NULL : t->recs[origin - ML_LABELED].name;
}

uint64_t
ml_labels_sample(const struct ml_labels *t, uint32_t origin)
{
	return origin < ML_LABELED ? 0 : t->recs[origin - ML_LABELED].sample;
}

void
ml_labels_fini(struct ml_labels *t, const struct ml_alloc *a)
{
	if (t->recs != NULL)
		a->free_fn(t->recs);
	if (t->buckets != NULL)
		a->free_fn(t->buckets);
	memset(t, 0, sizeof *t);
}

size_t
ml_labels_bytes(const struct ml_labels *t)
{
	return t->cap * sizeof *t->recs + t->nbuckets * sizeof *t->buckets;
}
