/*
 * reclaim.c - blocks on pages of their own (see reclaim.h).
 *
 * The fault handler reads a fixed table of records (start, length,
 * diagnostic) with atomic loads only: it takes no lock and allocates
 * nothing.  Records are claimed and dropped under `rc.lock` (expiry and
 * late frees: never on the allocation path).  The handler is installed at
 * the first expiry; it chains to the handler it replaced, and for the
 * default action puts that back and lets the access fault again, so the
 * process dies of the same signal at the same address.
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

#include "mem.h"
#include "real.h"
#include "reclaim.h"

#define NRECORDS 65536

struct record {
	_Atomic uintptr_t  start;       /* 0: free */
	_Atomic size_t     len;
	_Atomic(char *)    diag;
};

static struct {
	pthread_mutex_t  lock;
	struct record   *rec;           /* NRECORDS, mapped at first use */
	uint32_t         hint;          /* where to look for a free record */
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

void *
ml_reclaim_alloc(size_t align, size_t n, size_t *maplen)
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
	*maplen = len;
	return p;
}

void *
ml_reclaim_realloc(void *p, size_t maplen, size_t n, size_t *newlen)
{
	size_t len = round_pages(n);

	if (len < n) {
		errno = ENOMEM;
		return NULL;
	}
	if (len == maplen) {
		*newlen = len;
		return p;
	}
	void *q = mremap(p, maplen, len, MREMAP_MAYMOVE);
	if (q == MAP_FAILED) {
		errno = ENOMEM;
		return NULL;
	}
	*newlen = len;
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
			return atomic_load(&rec[i].diag);
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
ml_reclaim_expire(void *p, size_t maplen, char *diag)
{
	madvise(p, maplen, MADV_DONTNEED);
	mprotect(p, maplen, PROT_NONE);
	pthread_mutex_lock(&rc.lock);
	if (!rc.installed)
		install();
	if (rc.rec == NULL) {   /* memlease's own table: a fault point */
		void *m = ml_mem_fail() ? MAP_FAILED : mmap(NULL,
		    NRECORDS * sizeof *rc.rec, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		rc.rec = m == MAP_FAILED ? NULL : m;
	}
	for (uint32_t n = 0; rc.rec != NULL && n < NRECORDS; n++) {
		struct record *r = &rc.rec[(rc.hint + n) % NRECORDS];
		if (atomic_load(&r->start) != 0)
			continue;
		atomic_store(&r->diag, diag);
		atomic_store(&r->len, maplen);
		atomic_store(&r->start, (uintptr_t)p);
		rc.hint = (rc.hint + n + 1) % NRECORDS;
		diag = NULL;
		break;
	}
	pthread_mutex_unlock(&rc.lock);
	ml_mem_free(diag);      /* no record left: a plain fault */
}

void
ml_reclaim_free(void *p, size_t maplen, bool reclaimed)
{
	if (reclaimed) {        /* only a reclaimed block has a record */
		pthread_mutex_lock(&rc.lock);
		for (uint32_t i = 0; rc.rec != NULL && i < NRECORDS; i++)
			if (atomic_load(&rc.rec[i].start) == (uintptr_t)p) {
				atomic_store(&rc.rec[i].start, 0);
				break;
			}
		pthread_mutex_unlock(&rc.lock);
	}
	munmap(p, maplen);
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
