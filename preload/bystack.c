/*
 * bystack.c - leases summed by stack (see bystack.h): the one place that
 * groups the live leases by stack or by site, for "list" by_stack and
 * by_site and the summary at exit.
 *
 * Summing a million leases must not name a million stacks: they are
 * summed by stored stack first (a lookup each), then each stored stack is
 * named once (its frames after skip and depth, their stack_id) and the
 * sums merged by that.
 *
 * No lock, no state: a table is its caller's; the core is read through
 * ml_core_list(), which takes the core's lock a batch at a time, never
 * while a group is named.  Allocates from mem.h.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "bystack.h"
#include "core.h"
#include "mem.h"
#include "sample.h"
#include "stacks.h"

static struct ml_bystack_group *
slot(struct ml_bystack_group *v, size_t cap, uint64_t key)
{
	size_t k = (size_t)((key * UINT64_C(0x9e3779b97f4a7c15)) >> 20) &
	    (cap - 1);

	while (v[k].count != 0 && v[k].id != key)
		k = (k + 1) & (cap - 1);
	return &v[k];
}

static bool
grow(struct ml_bystack *b)
{
	size_t cap = b->cap ? b->cap * 2 : 256;
	struct ml_bystack_group *v = ml_mem_calloc(cap, sizeof *v);

	if (v == NULL)
		return false;
	for (size_t k = 0; k < b->cap; k++)
		if (b->v[k].count != 0)
			*slot(v, cap, b->v[k].id) = b->v[k];
	ml_mem_free(b->v);
	b->v = v;
	b->cap = cap;
	return true;
}

struct ml_bystack_group *
ml_bystack_get(struct ml_bystack *b, uint64_t key, uint32_t stack)
{
	struct ml_bystack_group *g;

	if (b->cap != 0 && (g = slot(b->v, b->cap, key))->count != 0)
		return g;
	if ((b->n + 1) * 2 > b->cap && !grow(b))
		return NULL;
	g = slot(b->v, b->cap, key);
	*g = (struct ml_bystack_group){ .id = key, .stack = stack,
	    .born = UINT64_MAX };
	b->n++;
	return g;
}

void
ml_bystack_add(struct ml_bystack_group *g, uint64_t size, uint64_t born,
    uint64_t sample)
{
	g->count++;
	g->bytes += size;
	g->est_count += ml_sample_count(size, sample);
	g->est_bytes += ml_sample_bytes(size, sample);
	g->sampled += sample != 0;
	if (born < g->born)
		g->born = born;
}

/*
 * A table summed by stored stack (key: the stack) grouped anew by the
 * stack_id of its frames after skip and depth (ml_stackid_frames()):
 * *out, and b freed.  0, or -ENOMEM (then both are freed).
 */
static int
regroup(struct ml_bystack *b, const struct ml_stackid_skip *extra, int depth,
    struct ml_bystack *out)
{
	uintptr_t ips[ML_STACK_MAX_DEPTH];

	*out = (struct ml_bystack){ 0 };
	for (size_t k = 0; k < b->cap; k++) {
		const struct ml_bystack_group *s = &b->v[k];
		if (s->count == 0)
			continue;
		uint64_t id = s->stack == 0 ? 0 :
		    depth == 0 && (extra == NULL || extra->n == 0) ?
		    ml_stackid_of(s->stack) :
		    ml_stackid_hash(ips, ml_stackid_frames(s->stack, extra,
		    depth, ips));
		struct ml_bystack_group *g = ml_bystack_get(out, id, s->stack);
		if (g == NULL) {
			ml_bystack_free(b);
			ml_bystack_free(out);
			return -ENOMEM;
		}
		g->count += s->count;
		g->bytes += s->bytes;
		g->est_count += s->est_count;
		g->est_bytes += s->est_bytes;
		g->sampled += s->sampled;
		if (s->born < g->born)
			g->born = s->born;
	}
	ml_bystack_free(b);
	return 0;
}

static int
by_bytes(const void *a, const void *b)
{
	const struct ml_bystack_group *x = a, *y = b;

	if (x->est_bytes != y->est_bytes)
		return x->est_bytes < y->est_bytes ? 1 : -1;
	if (x->bytes != y->bytes)
		return x->bytes < y->bytes ? 1 : -1;
	if (x->count != y->count)
		return x->count < y->count ? 1 : -1;
	return x->id < y->id ? -1 : x->id > y->id;
}

void
ml_bystack_sort(struct ml_bystack *b)
{
	size_t used = 0;

	for (size_t k = 0; k < b->cap; k++)
		if (b->v[k].count != 0)
			b->v[used++] = b->v[k];
	if (used > 0)
		qsort(b->v, used, sizeof *b->v, by_bytes);
	b->n = used;
}

void
ml_bystack_free(struct ml_bystack *b)
{
	ml_mem_free(b->v);
	*b = (struct ml_bystack){ 0 };
}

/* The key of a lease's group, as collected before any regrouping: by
 * stack, its stored stack (regrouped by stack_id after); by site, its
 * first frame. */
static uint64_t
collect_key(const struct ml_bystack_how *how, const struct ml_info *in)
{
	uintptr_t ip = 0;

	if (how->key == ML_BYSTACK_STACK)
		return in->stack;
	ml_stacks_get(in->stack, &ip, 1);
	return ip;
}

int
ml_bystack_collect(struct ml_core *c, const struct ml_bystack_how *how,
    struct ml_bystack *out, struct ml_bystack_group *all)
{
	struct ml_info page[64];
	struct ml_bystack by = { 0 };
	uint32_t cursor = 0;
	int n;

	*out = (struct ml_bystack){ 0 };
	if (all != NULL)
		*all = (struct ml_bystack_group){ .born = UINT64_MAX };
	while ((n = ml_core_list(c, &cursor, page, 64)) > 0) {
		for (int i = 0; i < n; i++) {
			const struct ml_info *in = &page[i];
			if (how->keep != NULL && !how->keep(in, how->arg))
				continue;
			struct ml_bystack_group *g = ml_bystack_get(&by,
			    collect_key(how, in), how->key == ML_BYSTACK_STACK ?
			    in->stack : 0);
			if (g == NULL) {
				ml_bystack_free(&by);
				return -ENOMEM;
			}
			ml_bystack_add(g, in->size, in->born, in->sample);
			if (all != NULL)
				ml_bystack_add(all, in->size, in->born,
				    in->sample);
		}
	}
	if (how->key == ML_BYSTACK_SITE)
		*out = by;
	else if (regroup(&by, how->skip, how->depth, out) != 0)
		return -ENOMEM;
	ml_bystack_sort(out);
	return 0;
}

int
ml_bystack_frames(const struct ml_bystack_how *how,
    const struct ml_bystack_group *g, uintptr_t *ips)
{
	if (how->key == ML_BYSTACK_SITE) {
		ips[0] = (uintptr_t)g->id;
		return g->id != 0;
	}
	return g->stack != 0 ? ml_stackid_frames(g->stack, how->skip,
	    how->depth, ips) : 0;
}
