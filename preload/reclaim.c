/*
 * reclaim.c - blocks on pages of their own (see reclaim.h).
 *
 * Each block has a record (start, length, diagnostic) from its mapping to
 * its unmapping: the length of a block is here, not in the pointer map,
 * whose entries stay small.  Records are claimed, changed and dropped
 * under `rc.lock` (tagged allocations, realloc, expiry and free of these
 * blocks only); they are found by a scan up to the highest record in use,
 * which costs a few nanoseconds a block of this kind alive (each also
 * costs a mapping, of which the kernel allows 65530 by default).  The
 * lock counts in ml_lock_depth (guard.h): a signal handler that frees
 * while its thread holds it does not wait for it (tag.c).
 *
 * The fault handler reads the records with atomic loads only: it takes no
 * lock and allocates nothing.  The handler is installed at the first
 * expiry; it chains to the handler it replaced, and for the default
 * action puts that back and lets the access fault again, so the process
 * dies of the same signal at the same address.
 *
 * A diagnostic string dropped with its record is not freed: a handler
 * running on another thread may still be writing it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "guard.h"
#include "mem.h"
#include "real.h"
#include "reclaim.h"

#define NRECORDS 65536

struct record {
	_Atomic uintptr_t  start;       /* 0: free */
	_Atomic size_t     len;
	_Atomic(char *)    diag;        /* NULL while the block is live */
};

static struct {
	pthread_mutex_t  lock;
	struct record   *rec;           /* NRECORDS, mapped at first use */
	uint32_t         top;           /* records at or above it are free */
	uint32_t         hint;          /* below it, records are taken */
	bool             installed;
	struct sigaction old;
} rc = { .lock = PTHREAD_MUTEX_INITIALIZER };

size_t
ml_reclaim_page(void)
{
	static size_t page;

	if (page == 0)
		page = (size_t)sysconf(_SC_PAGESIZE);
	return page;
}

static size_t
round_pages(size_t n)
{
	size_t page = ml_reclaim_page();

	return n == 0 ? page : (n + page - 1) & ~(page - 1);
}

static void
lock(void)
{
	ml_lock_counted();
	pthread_mutex_lock(&rc.lock);
}

static void
unlock(void)
{
	pthread_mutex_unlock(&rc.lock);
	ml_lock_uncounted();
}

/* The record of the block at p, or NULL; rc.lock is held. */
static struct record *
record_of(uintptr_t p)
{
	for (uint32_t i = 0; rc.rec != NULL && i < rc.top; i++)
		if (atomic_load_explicit(&rc.rec[i].start,
		    memory_order_relaxed) == p)
			return &rc.rec[i];
	return NULL;
}

/* A free record for the block [p, p + len), or false: none is left, or
 * the table cannot be made (a fault point).  rc.lock is held. */
static bool
claim(uintptr_t p, size_t len)
{
	if (rc.rec == NULL) {
		void *m = ml_mem_fail() ? MAP_FAILED : mmap(NULL,
		    NRECORDS * sizeof *rc.rec, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		rc.rec = m == MAP_FAILED ? NULL : m;
		if (rc.rec == NULL)
			return false;
	}
	for (uint32_t i = rc.hint; i < NRECORDS; i++) {
		struct record *r = &rc.rec[i];
		if (atomic_load(&r->start) != 0)
			continue;
		atomic_store(&r->diag, NULL);
		atomic_store(&r->len, len);
		atomic_store(&r->start, p);
		rc.hint = i + 1;
		if (i >= rc.top)
			rc.top = i + 1;
		return true;
	}
	return false;
}

/* Drop the record r; rc.lock is held. */
static void
drop(struct record *r)
{
	uint32_t i = (uint32_t)(r - rc.rec);

	atomic_store(&r->start, 0);
	if (i < rc.hint)
		rc.hint = i;
	while (rc.top > 0 && atomic_load_explicit(&rc.rec[rc.top - 1].start,
	    memory_order_relaxed) == 0)
		rc.top--;
}

size_t
ml_reclaim_len(const void *p)
{
	lock();
	struct record *r = record_of((uintptr_t)p);
	size_t len = r != NULL ? atomic_load(&r->len) : 0;
	unlock();
	return len;
}

void *
ml_reclaim_alloc(size_t align, size_t n)
{
	size_t len = round_pages(n), extra = 0;

	if (len < n) {
		errno = ENOMEM;
		return NULL;
	}
	if (align > ml_reclaim_page())
		extra = align;
	if (extra > SIZE_MAX - len) {
		errno = ENOMEM;
		return NULL;
	}
	char *p = mmap(NULL, len + extra, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		errno = ENOMEM;
		return NULL;
	}
	if (extra != 0) {       /* trim to an aligned block */
		char *q = (char *)(((uintptr_t)p + align - 1) & ~(align - 1));
		if (q > p)
			munmap(p, (size_t)(q - p));
		if (q + len < p + len + extra)
			munmap(q + len, (size_t)(p + len + extra - (q + len)));
		p = q;
	}
	lock();
	bool kept = claim((uintptr_t)p, len);
	unlock();
	if (!kept) {
		munmap(p, len);
		errno = ENOMEM;
		return NULL;
	}
	return p;
}

void *
ml_reclaim_realloc(void *p, size_t n)
{
	size_t len = round_pages(n);
	void *q = NULL;

	if (len < n) {
		errno = ENOMEM;
		return NULL;
	}
	lock();
	struct record *r = record_of((uintptr_t)p);
	size_t old = r != NULL ? atomic_load(&r->len) : 0;
	if (old == len) {
		q = p;
	} else if (r != NULL) {
		q = mremap(p, old, len, MREMAP_MAYMOVE);
		if (q == MAP_FAILED) {
			q = NULL;
		} else {        /* the live block's record follows it */
			atomic_store(&r->start, 0);
			atomic_store(&r->len, len);
			atomic_store(&r->start, (uintptr_t)q);
		}
	}
	unlock();
	if (q == NULL)
		errno = ENOMEM;
	return q;
}

/* The async-signal-safe part: is addr in a reclaimed block? */
static const char *
diag_at(uintptr_t addr)
{
	struct record *rec = rc.rec;

	for (uint32_t i = 0; rec != NULL && i < NRECORDS; i++) {
		uintptr_t start = atomic_load(&rec[i].start);
		if (start != 0 && addr - start < atomic_load(&rec[i].len))
			return atomic_load(&rec[i].diag);  /* NULL: live */
	}
	return NULL;
}

static void
on_fault(int sig, siginfo_t *si, void *uc)
{
	int err = errno;
	const char *diag = diag_at((uintptr_t)si->si_addr);

	if (diag != NULL) {
		size_t n = strlen(diag);
		while (n > 0) {
			ssize_t w = write(2, diag, n);
			if (w <= 0)
				break;
			diag += w;
			n -= (size_t)w;
		}
	}
	errno = err;
	if (rc.old.sa_flags & SA_SIGINFO) {
		rc.old.sa_sigaction(sig, si, uc);
	} else if (rc.old.sa_handler != SIG_DFL &&
	    rc.old.sa_handler != SIG_IGN) {
		rc.old.sa_handler(sig);
	} else {
		/* Fault again, into the default action. */
		signal(sig, SIG_DFL);
	}
}

static void
install(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_fault;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSEGV, &sa, &rc.old) == 0)
		rc.installed = true;
}

void
ml_reclaim_expire(void *p, char *diag)
{
	lock();
	if (!rc.installed)
		install();
	struct record *r = record_of((uintptr_t)p);
	if (r != NULL) {
		size_t len = atomic_load(&r->len);
		madvise(p, len, MADV_DONTNEED);
		mprotect(p, len, PROT_NONE);
		atomic_store(&r->diag, diag);
		diag = NULL;
	}
	unlock();
	ml_mem_free(diag);
}

void
ml_reclaim_free(void *p)
{
	size_t len = 0;

	lock();
	struct record *r = record_of((uintptr_t)p);
	if (r != NULL) {
		len = atomic_load(&r->len);
		drop(r);
	}
	unlock();
	if (len != 0)
		munmap(p, len);
}

void
ml_reclaim_prepare(void)
{
	pthread_mutex_lock(&rc.lock);
}

void
ml_reclaim_parent(void)
{
	pthread_mutex_unlock(&rc.lock);
}

void
ml_reclaim_child(void)
{
	pthread_mutex_init(&rc.lock, NULL);
}
