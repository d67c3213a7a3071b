/*
 * memlease.h - lease-based memory management.
 *
 * A lease is a buffer with a lifetime and a release count.  Each consumer
 * releases it; the last release frees it.  A lease that is neither released
 * nor renewed before its deadline expires: it is reported with the backtrace
 * of its allocation and its buffer is freed.
 *
 * Leases are named by handles.  A handle carries a generation, so the handle
 * of a lease that has ended reads as stale forever after.  Pass handles, not
 * pointers, through queues.
 *
 * The reference is memlease(3).
 */
#ifndef MEMLEASE_H
#define MEMLEASE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define MEMLEASE_API __attribute__((visibility("default")))
#else
#define MEMLEASE_API
#endif

/* The name of a lease; 0 is never a valid handle. */
typedef uint64_t memlease_t;

/* Called just before the buffer of an expired lease is freed.  label may be
 * NULL.  Runs on the thread that expires the lease. */
typedef void (*memlease_expire_fn)(memlease_t h, void *buf, size_t size,
    const char *label, void *arg);

struct memlease_stats {
	uint64_t live_leases;       /* leases alive now */
	uint64_t live_bytes;        /* bytes in their buffers */
	uint64_t allocated;         /* leases ever made */
	uint64_t released;          /* ended by their last release */
	uint64_t expired;           /* ended by their deadline */
	uint64_t reclaimed;         /* expired leases whose memory was freed */
	uint64_t entry_blocks;      /* entry blocks in use, the static one too */
	uint64_t entries_per_block; /* CONFIG_MEMLEASE_NUM_ENTRIES_PER_BUF */
	uint64_t pinned;            /* live leases pinned now */
	uint64_t overdue;           /* pinned leases past their deadline */
	uint64_t with_deadline;     /* live leases waiting for a deadline */
	uint64_t bookkeeping_bytes; /* memory of the lease table itself */
	uint64_t sampled;           /* live leases chosen by sample=BYTES */
	uint64_t estimated_bytes;   /* live_bytes and live_leases, each */
	uint64_t estimated_leases;  /* sampled lease weighed (memlease(7)) */
	uint64_t reserved[9];       /* zero; room for new counters */
};

MEMLEASE_API memlease_t memlease_alloc(size_t size, uint64_t ttl_ms,
    unsigned releases, void **bufp);
MEMLEASE_API void *memlease_get(memlease_t h, size_t *sizep);
MEMLEASE_API void *memlease_pin(memlease_t h, size_t *sizep);
MEMLEASE_API int memlease_unpin(memlease_t h);
MEMLEASE_API int memlease_release(memlease_t h);
MEMLEASE_API int memlease_renew(memlease_t h, uint64_t ttl_ms);
MEMLEASE_API int memlease_set_releases(memlease_t h, unsigned releases);
MEMLEASE_API int memlease_set_label(memlease_t h, const char *label);
MEMLEASE_API int memlease_set_report(memlease_t h, bool on);
MEMLEASE_API int memlease_on_expire(memlease_expire_fn fn, void *arg);
MEMLEASE_API int memlease_expire_due(void);
MEMLEASE_API int64_t memlease_next_deadline_ms(void);
MEMLEASE_API int memlease_stats(struct memlease_stats *st);
MEMLEASE_API memlease_t memlease_adopt(void *p, uint64_t ttl_ms,
    unsigned releases);
MEMLEASE_API int memlease_trim(void);

#ifdef __cplusplus
}
#endif

#endif /* MEMLEASE_H */
