/*
 * core.c - the core's operations (ml_core_*: see core.h), over its entry
 * table (table.c) and its deadline queue (queue.c).
 *
 * A lease is made here: a slot taken from the table, its entry written,
 * its deadline queued; and ended here: what the caller needs copied out,
 * the stats counted, its deadline taken out of the queue, its slot given
 * back.  Here too: the lock, the core's epoch (the times inside are ms
 * since it, in 40 bits), when the expiring thread must be woken, and the
 * listings and stats.
 *
 * Every function here takes c->lock, except the static helpers, which
 * expect it held.  Nothing here calls out with the lock held but the core's
 * allocator.  The pair the preload makes most, a lease made and released,
 * runs inline from one end to the other while the leases of a ttl find
 * their class at once (core-private.h), and calls out of line only to grow
 * something, to make or free a block, or when the deadline heap takes the
 * lease (bench/core measures it: under 2x a malloc+free pair at 0 and 1k
 * live, one thread).
 */
#include <errno.h>
#include <stdatomic.h>
#include <string.h>

#include "core-private.h"
#include "sample.h"
#include "wordlock.h"

static inline uint64_t
rel_time(const struct ml_core *c, uint64_t now)
{
	uint64_t t = now > c->epoch ? now - c->epoch : 0;

	return t < ML_TIME_MAX ? t : ML_TIME_MAX;
}

static inline uint64_t
abs_time(const struct ml_core *c, uint64_t t)
{
	return t == ML_NO_DEADLINE ? ML_NO_DEADLINE : t + c->epoch;
}

/* The lock, counted in ml_core_depth from before it is taken until after
 * it is let go: a signal may come in the middle of either. */

__thread int ml_core_depth __attribute__((tls_model("initial-exec")));

static inline void
lock(struct ml_core *c)
{
	ml_core_depth++;
	atomic_signal_fence(memory_order_seq_cst);
	ml_wordlock_lock_lone(&c->lock);
	atomic_signal_fence(memory_order_seq_cst);
}

static inline void
unlock(struct ml_core *c)
{
	atomic_signal_fence(memory_order_seq_cst);
	ml_wordlock_unlock(&c->lock);
	atomic_signal_fence(memory_order_seq_cst);
	ml_core_depth--;
}

/* Sampled leases (sample.h): their weights in the estimates, added
 * (sign 1) or taken out (-1), from the lease's size and the mean of the
 * sampling that chose it.  Out of line: few leases are sampled. */
static void __attribute__((noinline))
weigh(struct ml_core *c, uint64_t size, uint64_t sample, int sign)
{
	uint64_t bytes, count;

	ml_sample_weights(size, sample, &bytes, &count);
	if (sign > 0) {
		c->sampled++;
		c->sampled_bytes += size;
		c->est_bytes += bytes;
		c->est_count += count;
	} else {
		c->sampled--;
		c->sampled_bytes -= size;
		c->est_bytes -= bytes;
		c->est_count -= count;
	}
}

/* Ending a lease. */

/* End the lease in entry idx: out (if not NULL) gets what the caller
 * needs; its deadline leaves the queue and its slot goes back to the
 * table.  Inline in the release, out of line (end_slot) elsewhere. */
static inline __attribute__((always_inline)) void
end_slot_inline(struct ml_core *c, uint32_t idx, enum ml_end why,
    struct ml_ended *out)
{
	struct ml_block *b = ml_table_block(c, idx);
	struct ml_entry *e = &b->e[idx % ML_PER_BLOCK];
	bool labeled = e->origin >= ML_LABELED;

	if (out != NULL) {
		out->h = ml_table_handle(idx, e->gen);
		out->buf = e->buf;
		out->size = e->size;
		out->why = (uint8_t)why;
		out->kind = (uint8_t)e->kind;
	}
	if (out != NULL && why == ML_END_EXPIRED) {     /* for the report */
		const char *name = labeled ?
		    ml_labels_name(&c->labels, e->origin) : NULL;
		out->born = abs_time(c, e->born);
		out->deadline = abs_time(c, e->deadline);
		out->stack = labeled ?
		    ml_labels_stack(&c->labels, e->origin) : e->origin;
		out->report = e->report;
		if (name != NULL)
			memcpy(out->label, name, sizeof out->label);
		else
			out->label[0] = '\0';
	}
	if (e->overdue)
		c->overdue--;
	if (e->pins != 0)
		c->pinned--;
	c->live--;
	c->live_kind[e->kind]--;
	c->live_bytes -= e->size;
	if (why == ML_END_RELEASED)
		c->released++;
	else
		c->expired++;
	if (labeled) {
		uint64_t sample = ml_labels_sample(&c->labels, e->origin);
		if (sample != 0)
			weigh(c, e->size, sample, -1);
		ml_labels_put(&c->labels, e->origin);
	}
	/* after the reads of its words: the ring's clears a bit of one, and a
	 * wider read soon after would wait for that store to drain */
	if (ml_queue_queued(e))
		ml_queue_remove(c, e);
	ml_table_give(c, b, idx, e);
}

static void __attribute__((noinline))
end_slot(struct ml_core *c, uint32_t idx, enum ml_end why,
    struct ml_ended *out)
{
	end_slot_inline(c, idx, why, out);
}

/* The deadline of a lease given ttl_ms at relative time t. */
static inline uint64_t
deadline_at(uint64_t t, uint64_t ttl_ms)
{
	if (ttl_ms == 0)
		return ML_NO_DEADLINE;
	return ttl_ms < ML_TIME_MAX - t ? t + ttl_ms : ML_TIME_MAX;
}

/* Entry idx, not queued, that has its deadline, is queued where
 * ml_queue_prepare() said (its ringed bit set to match: ml_queue_insert()).
 * *wake: the deadline comes before the expiring thread would look again
 * (c->told), so it must be woken; it will look again by then. */
static inline __attribute__((always_inline)) void
queue_deadline(struct ml_core *c, uint32_t idx, uint64_t deadline,
    struct ml_class *k, bool *wake)
{
	if (deadline == ML_NO_DEADLINE)
		return;
	if ((*wake = deadline < c->told))
		c->told = deadline;
	ml_queue_insert(c, idx, deadline, k);
}

/* The API. */

int
ml_core_init(struct ml_core *c, const struct ml_alloc *a, uint64_t now)
{
	memset(c, 0, sizeof *c);
	ml_wordlock_init(&c->lock);
	ml_wordlock_prepare();
	c->a = *a;
	c->epoch = now;
	if (ml_table_init(c) != 0) {
		ml_core_fini(c, NULL);
		return -ENOMEM;
	}
	c->told = ML_NO_DEADLINE;       /* nobody has looked yet */
	return 0;
}

/* Free everything; live buffers go to free_buf when it is not NULL. */
void
ml_core_fini(struct ml_core *c, void (*free_buf)(void *, unsigned))
{
	ml_table_fini(c, free_buf);
	ml_queue_fini(c);
	ml_labels_fini(&c->labels, &c->a);
}

int
ml_core_new(const struct ml_alloc *a, uint64_t now, struct ml_core **cp)
{
	struct ml_core *c = a->realloc_fn(NULL, sizeof *c);
	int r;

	if (c == NULL)
		return -ENOMEM;
	if ((r = ml_core_init(c, a, now)) != 0) {
		a->free_fn(c);
		return r;
	}
	*cp = c;
	return 0;
}

void
ml_core_free(struct ml_core *c, void (*free_buf)(void *, unsigned))
{
	void (*free_core)(void *) = c->a.free_fn;

	ml_core_fini(c, free_buf);
	free_core(c);
}

size_t
ml_core_block_bytes(void)
{
	return sizeof(struct ml_block);
}

/*
 * Put buf under a new lease, with a label (NULL or empty: none): the lease
 * is made with it or not at all.  *wake is set when the expiring thread
 * must be woken for its deadline (queue_deadline).  On failure nothing
 * changes and buf is still the caller's.  Inline in both callers: a new
 * lease is the core's most frequent call, with the release.
 */
static inline __attribute__((always_inline)) int
add(struct ml_core *c, uint64_t now, void *buf, size_t size,
    uint64_t ttl_ms, unsigned releases, uint32_t stack, unsigned kind,
    const char *label, uint64_t sample, memlease_t *hp, bool *wake)
{
	uint32_t origin = stack;
	struct ml_class *k;
	int r = 0;

	*wake = false;
	if (buf == NULL || stack >= ML_LABELED || kind > ML_KIND_MAX)
		return -EINVAL;
	if (size > ML_MAX_SIZE)
		return -ENOMEM;
	if (releases == 0)
		releases = 1;
	if (releases > ML_MAX_RELEASES)
		return -EINVAL;

	lock(c);
	if (((label != NULL && *label != '\0') || sample != 0) &&
	    (r = ml_labels_intern(&c->labels, stack, label, sample, &origin,
	    &c->a)) != 0)
		goto out;
	uint64_t t = rel_time(c, now);
	uint64_t deadline = deadline_at(t, ttl_ms);
	if ((r = ml_queue_prepare(c, t, deadline, false, &k)) != 0)
		goto undo;
	uint32_t idx;
	struct ml_entry *e = ml_table_take(c, &idx);
	if (e == NULL) {
		r = -ENOMEM;
		goto undo;
	}
	e->buf = buf;
	e->w_size = ML_W_SIZE(size, 1, k != NULL);
	e->w_deadline = ML_W_DEADLINE(deadline, releases, kind);
	e->w_born = ML_W_BORN(t, origin);
	queue_deadline(c, idx, deadline, k, wake);
	c->live++;
	c->live_kind[kind]++;
	c->live_bytes += size;
	c->allocated++;
	if (sample != 0)
		weigh(c, size, sample, 1);
	*hp = ml_table_handle(idx, e->gen);
	goto out;
undo:
	ml_labels_put(&c->labels, origin);
out:
	unlock(c);
	return r;
}

int
ml_core_add(struct ml_core *c, uint64_t now, void *buf, size_t size,
    uint64_t ttl_ms, unsigned releases, uint32_t stack, unsigned kind,
    memlease_t *hp, bool *wake)
{
	return add(c, now, buf, size, ttl_ms, releases, stack, kind, NULL, 0,
	    hp, wake);
}

/* As ml_core_add(), with a label. */
int
ml_core_add_labeled(struct ml_core *c, uint64_t now, void *buf, size_t size,
    uint64_t ttl_ms, unsigned releases, uint32_t stack, unsigned kind,
    const char *label, memlease_t *hp, bool *wake)
{
	return add(c, now, buf, size, ttl_ms, releases, stack, kind, label, 0,
	    hp, wake);
}

/* As ml_core_add_labeled(), for a lease that byte sampling of mean
 * `sample` chose (0: not sampled): the estimates weigh it (sample.h). */
int
ml_core_add_sampled(struct ml_core *c, uint64_t now, void *buf,
    size_t size, uint64_t ttl_ms, unsigned releases, uint32_t stack,
    unsigned kind, const char *label, uint64_t sample, memlease_t *hp,
    bool *wake)
{
	if (sample > ML_SAMPLE_MAX)
		return -EINVAL;
	return add(c, now, buf, size, ttl_ms, releases, stack, kind, label,
	    sample, hp, wake);
}

void *
ml_core_get(struct ml_core *c, memlease_t h, size_t *sizep)
{
	void *buf = NULL;

	lock(c);
	struct ml_entry *e = ml_table_lookup(c, h, NULL, false);
	if (e != NULL) {
		buf = e->buf;
		if (sizep != NULL)
			*sizep = e->size;
	}
	unlock(c);
	if (buf == NULL)
		errno = ESTALE;
	return buf;
}

void *
ml_core_pin(struct ml_core *c, memlease_t h, size_t *sizep)
{
	void *buf = NULL;
	int err = ESTALE;

	lock(c);
	struct ml_entry *e = ml_table_lookup(c, h, NULL, false);
	if (e != NULL && e->pins == ML_MAX_PINS) {
		err = EOVERFLOW;
	} else if (e != NULL) {
		if (e->pins++ == 0)
			c->pinned++;
		buf = e->buf;
		if (sizep != NULL)
			*sizep = e->size;
	}
	unlock(c);
	if (buf == NULL)
		errno = err;
	return buf;
}

/*
 * Undo a pin.  Returns 1 when that ended the lease (out filled: it was
 * released while pinned, or its deadline passed), 0 if it lives on, or a
 * negative errno.
 */
int
ml_core_unpin(struct ml_core *c, memlease_t h, uint64_t now,
    struct ml_ended *out)
{
	uint32_t idx;
	int r = 0;

	lock(c);
	struct ml_entry *e = ml_table_lookup(c, h, &idx, true);
	if (e == NULL) {
		r = -ESTALE;
	} else if (e->pins == 0) {
		r = -EINVAL;
	} else if (--e->pins == 0) {
		c->pinned--;
		if (e->zombie) {
			end_slot(c, idx, ML_END_RELEASED, out);
			r = 1;
		} else if (e->overdue || (e->deadline != ML_NO_DEADLINE &&
		    e->deadline <= rel_time(c, now))) {
			end_slot(c, idx, ML_END_EXPIRED, out);
			r = 1;
		}
	}
	unlock(c);
	return r;
}

/* The last release of entry idx: end it, or, if it is pinned, make it a
 * zombie that its last unpin ends.  Returns 1 if it ended. */
static inline __attribute__((always_inline)) int
last_release(struct ml_core *c, uint32_t idx, struct ml_ended *out)
{
	struct ml_entry *e = ml_table_entry(c, idx);

	if (e->pins == 0) {
		end_slot_inline(c, idx, ML_END_RELEASED, out);
		return 1;
	}
	e->releases = 0;
	e->zombie = 1;
	if (ml_queue_queued(e))
		ml_queue_remove(c, e);
	if (e->overdue) {
		e->overdue = 0;
		c->overdue--;
	}
	return 0;
}

/*
 * One release.  Returns 1 when it was the last (out filled), 0 if more are
 * due, or a negative errno.  The last release of a pinned lease ends it at
 * its last unpin: a pinned buffer is never freed under its pinner.
 */
int
ml_core_release(struct ml_core *c, memlease_t h, struct ml_ended *out)
{
	uint32_t idx;
	int r = 0;

	lock(c);
	struct ml_entry *e = ml_table_lookup(c, h, &idx, false);
	if (e == NULL)
		r = -ESTALE;
	else if (e->releases > 1)
		e->releases--;
	else    /* not stored first: end_slot_inline() reads its word whole */
		r = last_release(c, idx, out);
	unlock(c);
	return r;
}

/* End a lease now, whatever releases remain (its block was freed by the
 * program); as ml_core_release() otherwise. */
int
ml_core_end(struct ml_core *c, memlease_t h, struct ml_ended *out)
{
	uint32_t idx;
	int r;

	lock(c);
	struct ml_entry *e = ml_table_lookup(c, h, &idx, false);
	if (e == NULL)
		r = -ESTALE;
	else
		r = last_release(c, idx, out);
	unlock(c);
	return r;
}

/* The lease's block moved (realloc). */
int
ml_core_move(struct ml_core *c, memlease_t h, void *buf, size_t size)
{
	int r = 0;

	if (buf == NULL || size > ML_MAX_SIZE)
		return -EINVAL;
	lock(c);
	struct ml_entry *e = ml_table_lookup(c, h, NULL, true);
	if (e == NULL) {
		r = -ESTALE;
	} else {
		uint64_t sample = ml_labels_sample(&c->labels, e->origin);
		if (sample != 0) {
			weigh(c, e->size, sample, -1);
			weigh(c, size, sample, 1);
		}
		c->live_bytes += size - e->size;
		e->buf = buf;
		e->size = size;
	}
	unlock(c);
	return r;
}

int
ml_core_renew(struct ml_core *c, memlease_t h, uint64_t now, uint64_t ttl_ms,
    bool *wake)
{
	struct ml_class *k;
	uint32_t idx;
	int r = 0;

	*wake = false;
	lock(c);
	struct ml_entry *e = ml_table_lookup(c, h, &idx, false);
	uint64_t deadline = deadline_at(rel_time(c, now), ttl_ms);
	if (e == NULL) {
		r = -ESTALE;
	} else if ((r = ml_queue_prepare(c, e->born, deadline,
	    !e->ringed && e->pos != 0, &k)) != 0) {
		/* -ENOMEM: the old deadline stands */
	} else {
		if (ml_queue_queued(e))
			ml_queue_remove(c, e);
		if (e->overdue) {
			e->overdue = 0;
			c->overdue--;
		}
		e->ringed = k != NULL;
		e->deadline = deadline;
		queue_deadline(c, idx, deadline, k, wake);
	}
	unlock(c);
	return r;
}

int
ml_core_set_releases(struct ml_core *c, memlease_t h, unsigned n)
{
	int r = 0;

	if (n == 0 || n > ML_MAX_RELEASES)
		return -EINVAL;
	lock(c);
	struct ml_entry *e = ml_table_lookup(c, h, NULL, false);
	if (e == NULL)
		r = -ESTALE;
	else
		e->releases = n;
	unlock(c);
	return r;
}

/* A NULL or empty label removes it. */
int
ml_core_set_label(struct ml_core *c, memlease_t h, const char *label)
{
	uint32_t origin;
	int r = 0;

	lock(c);
	struct ml_entry *e = ml_table_lookup(c, h, NULL, false);
	if (e == NULL) {
		r = -ESTALE;
		goto out;
	}
	uint32_t stack = ml_labels_stack(&c->labels, e->origin);
	uint64_t sample = ml_labels_sample(&c->labels, e->origin);
	if ((label == NULL || *label == '\0') && sample == 0)
		origin = stack;
	else if ((r = ml_labels_intern(&c->labels, stack, label, sample,
	    &origin, &c->a)) != 0)
		goto out;
	ml_labels_put(&c->labels, e->origin);
	e->origin = origin;
out:
	unlock(c);
	return r;
}

int
ml_core_set_report(struct ml_core *c, memlease_t h, bool on)
{
	int r = 0;

	lock(c);
	struct ml_entry *e = ml_table_lookup(c, h, NULL, false);
	if (e == NULL)
		r = -ESTALE;
	else
		e->report = on;
	unlock(c);
	return r;
}

/*
 * End up to max leases whose deadline is at or before now, earliest first,
 * into out[]; returns how many.  A pinned lease leaves the heap and is
 * marked overdue (its last unpin expires it).  Callers loop until fewer
 * than max come back, so that the lock is never held for long.
 */
int
ml_core_expire(struct ml_core *c, uint64_t now, struct ml_ended *out, int max)
{
	uint64_t t = rel_time(c, now);
	int n = 0;

	lock(c);
	while (n < max) {
		uint64_t d;
		uint32_t idx = ml_queue_first(c, &d);
		if (idx == UINT32_MAX || d > t)
			break;
		struct ml_entry *e = ml_table_entry(c, idx);
		if (e->pins != 0) {
			ml_queue_remove(c, e);
			e->overdue = 1;
			c->overdue++;
			continue;
		}
		end_slot(c, idx, ML_END_EXPIRED, &out[n++]);
	}
	unlock(c);
	return n;
}

/* Expire one lease now, whatever its deadline; -EBUSY if pinned. */
int
ml_core_expire_one(struct ml_core *c, memlease_t h, struct ml_ended *out)
{
	uint32_t idx;
	int r = 0;

	lock(c);
	struct ml_entry *e = ml_table_lookup(c, h, &idx, false);
	if (e == NULL)
		r = -ESTALE;
	else if (e->pins != 0)
		r = -EBUSY;
	else
		end_slot(c, idx, ML_END_EXPIRED, out);
	unlock(c);
	return r;
}

/* ms from relative time t until the earliest deadline (0: passed), -1 if
 * none. */
static int64_t
until_first(struct ml_core *c, uint64_t t)
{
	uint64_t d;

	if (ml_queue_first(c, &d) == UINT32_MAX)
		return -1;
	return d > t ? (int64_t)(d - t) : 0;
}

int64_t
ml_core_next_deadline(struct ml_core *c, uint64_t now)
{
	lock(c);
	int64_t r = until_first(c, rel_time(c, now));
	unlock(c);
	return r;
}

int64_t
ml_core_arm(struct ml_core *c, uint64_t now, int64_t max_ms)
{
	lock(c);
	uint64_t t = rel_time(c, now);
	int64_t ms = until_first(c, t);
	if (ms < 0 || ms > max_ms)
		ms = max_ms;
	c->told = t + (uint64_t)ms;
	unlock(c);
	return ms;
}

static size_t
bookkeeping(const struct ml_core *c)
{
	return sizeof *c + ml_table_bytes(c) + ml_queue_bytes(c) +
	    ml_labels_bytes(&c->labels);
}

int
ml_core_trim(struct ml_core *c)
{
	lock(c);
	int n = ml_table_free_spare(c);
	unlock(c);
	return n;
}

void
ml_core_stats(struct ml_core *c, struct memlease_stats *st)
{
	memset(st, 0, sizeof *st);
	lock(c);
	st->live_leases = c->live;
	st->live_bytes = c->live_bytes;
	st->allocated = c->allocated;
	st->released = c->released;
	st->expired = c->expired;
	st->reclaimed = c->expired;
	st->entry_blocks = c->nblocks + (c->spare != NULL);  /* SPEC */
	st->entries_per_block = ML_PER_BLOCK;
	st->pinned = c->pinned;
	st->overdue = c->overdue;
	st->with_deadline = c->nheap + c->nringed;
	st->bookkeeping_bytes = bookkeeping(c);
	st->sampled = c->sampled;
	st->estimated_bytes = c->live_bytes - c->sampled_bytes + c->est_bytes;
	st->estimated_leases = c->live - c->sampled +
	    (c->est_count + ML_SAMPLE_ONE / 2) / ML_SAMPLE_ONE;
	unlock(c);
}

static void
info_fill(const struct ml_core *c, uint32_t idx, struct ml_info *out)
{
	const struct ml_entry *e = ml_table_entry(c, idx);
	const char *name = ml_labels_name(&c->labels, e->origin);

	out->h = ml_table_handle(idx, e->gen);
	out->buf = e->buf;
	out->size = e->size;
	out->born = abs_time(c, e->born);
	out->deadline = e->zombie ? ML_NO_DEADLINE : abs_time(c, e->deadline);
	out->stack = ml_labels_stack(&c->labels, e->origin);
	out->sample = ml_labels_sample(&c->labels, e->origin);
	out->pins = e->pins;
	out->releases = e->zombie ? 0 : e->releases;
	out->report = e->report;
	out->overdue = e->overdue;
	out->released = e->zombie;
	out->kind = (uint8_t)e->kind;
	if (name != NULL)
		memcpy(out->label, name, sizeof out->label);
	else
		out->label[0] = '\0';
}

int
ml_core_info(struct ml_core *c, memlease_t h, struct ml_info *out)
{
	uint32_t idx;
	int r = 0;

	lock(c);
	if (ml_table_lookup(c, h, &idx, true) == NULL)
		r = -ESTALE;
	else
		info_fill(c, idx, out);
	unlock(c);
	return r;
}

/*
 * Copy up to max live leases, starting at entry *cursor (0 at first), and
 * move the cursor past them.  Returns how many; 0 at the end.  Leases made
 * or ended between calls may be missed or seen, never torn.
 */
int
ml_core_list(struct ml_core *c, uint32_t *cursor, struct ml_info *out,
    int max)
{
	int n = 0;

	lock(c);
	uint32_t end = c->nblocks * ML_PER_BLOCK;
	uint32_t idx = *cursor;
	for (; idx < end && n < max; idx++)
		if (ml_table_live(c, idx))
			info_fill(c, idx, &out[n++]);
	*cursor = idx;
	unlock(c);
	return n;
}

void
ml_core_live_kinds(struct ml_core *c, uint64_t *out)
{
	lock(c);
	memcpy(out, c->live_kind, sizeof c->live_kind);
	unlock(c);
}

void
ml_core_lock(struct ml_core *c)
{
	lock(c);
}

void
ml_core_unlock(struct ml_core *c)
{
	unlock(c);
}

/* In a child after fork(): the lock was taken by the parent's handler,
 * on the thread that forked, the child's only one. */
void
ml_core_reinit_lock(struct ml_core *c)
{
	ml_wordlock_init(&c->lock);
	ml_core_depth--;
}
