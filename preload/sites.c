/*
 * sites.c - cached verdicts (see sites.h).
 *
 * Sites: a fixed open-addressing table of 64Ki slots (1 MiB), made when a
 * first verdict is put (a process whose rules tag nothing never has one:
 * no address space taken), claimed by compare-and-swap and never freed; a
 * lookup probes at most PROBES slots.
 * Stacks: ids are dense (1, 2, ...), so verdicts sit in chunks of 4096
 * indexed by id, made on first use.  A verdict word is gen << 32 | mask
 * (generations start at 1: 0 means none).
 */
#define _GNU_SOURCE
#include <stdatomic.h>
#include <stddef.h>

#include "labels.h"
#include "mem.h"
#include "sites.h"

#define SITE_BITS  16
#define PROBES     32
#define CHUNK      4096
#define NCHUNKS    (ML_LABELED / CHUNK)

struct site {
	_Atomic uintptr_t ra;
	_Atomic uint64_t  v;
};

static _Atomic(struct site *) sites;
static _Atomic(_Atomic uint64_t *) chunks[NCHUNKS];

static inline uint32_t
site_hash(uintptr_t ra)
{
	return (uint32_t)((ra * 0x9e3779b97f4a7c15u) >> (64 - SITE_BITS));
}

static inline bool
verdict(uint64_t v, uint32_t gen, uint32_t *mask)
{
	if (v >> 32 != gen)
		return false;
	*mask = (uint32_t)v;
	return true;
}

/* The table, made if make is set; NULL if none. */
static struct site *
site_table(bool make)
{
	struct site *t = atomic_load_explicit(&sites, memory_order_acquire);

	if (t == NULL && make) {
		struct site *fresh = ml_mem_calloc(1u << SITE_BITS,
		    sizeof *fresh);
		if (fresh == NULL)
			return NULL;
		if (atomic_compare_exchange_strong(&sites, &t, fresh))
			t = fresh;
		else
			ml_mem_free(fresh);    /* another thread made it */
	}
	return t;
}

/* The slot of ra, claimed if claim is set; NULL if none. */
static struct site *
site_slot(uintptr_t ra, bool claim)
{
	struct site *t = site_table(claim);
	uint32_t i = site_hash(ra);

	if (t == NULL)
		return NULL;
	for (int n = 0; n < PROBES; n++, i = (i + 1) & ((1u << SITE_BITS) - 1)) {
		uintptr_t cur = atomic_load_explicit(&t[i].ra,
		    memory_order_acquire);
		if (cur == ra)
			return &t[i];
		if (cur == 0) {
			if (!claim)
				return NULL;
			if (atomic_compare_exchange_strong(&t[i].ra, &cur,
			    ra) || cur == ra)
				return &t[i];
		}
	}
	return NULL;
}

bool
ml_sites_get(const void *ra, uint32_t gen, uint32_t *mask)
{
	struct site *s = site_slot((uintptr_t)ra, false);

	return s != NULL && verdict(atomic_load_explicit(&s->v,
	    memory_order_relaxed), gen, mask);
}

void
ml_sites_put(const void *ra, uint32_t gen, uint32_t mask)
{
	struct site *s = site_slot((uintptr_t)ra, true);

	if (s != NULL)
		atomic_store_explicit(&s->v, (uint64_t)gen << 32 | mask,
		    memory_order_relaxed);
}

static _Atomic uint64_t *
stack_word(uint32_t stack, bool make)
{
	uint32_t c = stack / CHUNK;

	if (stack == 0 || c >= NCHUNKS)
		return NULL;
	_Atomic uint64_t *chunk = atomic_load_explicit(&chunks[c],
	    memory_order_acquire);
	if (chunk == NULL && make) {
		_Atomic uint64_t *fresh = ml_mem_calloc(CHUNK, sizeof *fresh);
		if (fresh == NULL)
			return NULL;
		if (atomic_compare_exchange_strong(&chunks[c], &chunk, fresh))
			chunk = fresh;
		else
			ml_mem_free(fresh);    /* another thread made it */
	}
	return chunk != NULL ? &chunk[stack % CHUNK] : NULL;
}

bool
ml_sites_stack_get(uint32_t stack, uint32_t gen, uint32_t *mask)
{
	_Atomic uint64_t *w = stack_word(stack, false);

	return w != NULL && verdict(atomic_load_explicit(w,
	    memory_order_relaxed), gen, mask);
}

void
ml_sites_stack_put(uint32_t stack, uint32_t gen, uint32_t mask)
{
	_Atomic uint64_t *w = stack_word(stack, true);

	if (w != NULL)
		atomic_store_explicit(w, (uint64_t)gen << 32 | mask,
		    memory_order_relaxed);
}
