/*
 * heap.c - the memory of memlease's own thread (see heap.h).
 *
 * A block is a chunk of 2^k bytes (32 bytes to 1 GiB) with a header of 16
 * bytes in front of what the caller gets: the class k, and how far that is
 * from the chunk's start (16, or more for an alignment).  Freed chunks go
 * to their class's list and are reused as they are (no splitting, no
 * merging: the thread's blocks are few and alike).  Free chunks of 64 KiB
 * or more keep their pages up to ML_HEAP_KEEP bytes in all, and beyond it
 * give them back to the kernel: giving them back at every free made libdw,
 * which allocates and frees large buffers as it reads debug files, pay a
 * madvise(), TLB shootdowns in every thread and page faults again at each
 * (a make under rules that expire: a third of the thread's time).  The
 * second word of such a free chunk says whether its pages are kept (the
 * first is the list's link).  Chunks below 1 MiB are cut
 * from the current mapping (256 KiB, then twice the last, up to 8 MiB);
 * larger ones get a mapping each.  What is left of a mapping too small for
 * a chunk goes to the lists of smaller classes.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "heap.h"

#define HEADER     16
#define MIN_CLASS  5            /* 32 bytes */
#define MAX_CLASS  30           /* 1 GiB */
#define OWN_MAP    20           /* classes from 1 MiB: a mapping each */
#define GIVE_BACK  (64 << 10)   /* free chunks this big lose their pages */
#define FIRST_MAP  (256 << 10)
#define LAST_MAP   (8 << 20)

__thread bool ml_heap_self __attribute__((tls_model("initial-exec")));
void *(*_Atomic ml_heap_pass_malloc)(size_t);
void (*_Atomic ml_heap_pass_free)(void *);
static atomic_bool pass_shut_malloc, pass_shut_free;
struct ml_heap_map ml_heap_maps[ML_HEAP_MAPS];
atomic_uint ml_heap_nmaps;
void *_Atomic ml_heap_deferred;

struct header {
	uint32_t cls;
	uint32_t delta;         /* from the chunk's start to the block */
	uint64_t pad;
};

static struct {
	pthread_mutex_t lock;
	bool            on;
	void           *free[MAX_CLASS + 1];  /* chunks, linked by 1st word */
	char           *cut, *end;            /* the mapping chunks are cut from */
	size_t          next_map;             /* the size of the next one */
	size_t          mapped, live;
	size_t          kept;     /* bytes of free chunks whose pages stay */
} hp = { .lock = PTHREAD_MUTEX_INITIALIZER, .next_map = FIRST_MAP };

void
ml_heap_enable(void)
{
	hp.on = true;
}

bool
ml_heap_on(void)
{
	return hp.on;
}

/* Sequentially consistent: whichever of an open and a close comes last
 * in their one order, the close's flag is seen and the pass is NULL. */
void
ml_heap_pass_open(void *(*malloc_fn)(size_t), void (*free_fn)(void *))
{
	atomic_store(&ml_heap_pass_malloc, malloc_fn);
	atomic_store(&ml_heap_pass_free, free_fn);
	if (atomic_load(&pass_shut_malloc))
		atomic_store(&ml_heap_pass_malloc, NULL);
	if (atomic_load(&pass_shut_free))
		atomic_store(&ml_heap_pass_free, NULL);
}

void
ml_heap_pass_close(bool malloc_too)
{
	if (!atomic_load_explicit(&pass_shut_free, memory_order_relaxed)) {
		atomic_store(&pass_shut_free, true);
		atomic_store(&ml_heap_pass_free, NULL);
	}
	if (malloc_too && !atomic_load_explicit(&pass_shut_malloc,
	    memory_order_relaxed)) {
		atomic_store(&pass_shut_malloc, true);
		atomic_store(&ml_heap_pass_malloc, NULL);
	}
}

void
ml_heap_thread(void)
{
	ml_heap_claim(hp.on);
}

/* A new mapping of n bytes, registered; NULL if none can be made. */
static char *
map(size_t n)
{
	unsigned i = atomic_load_explicit(&ml_heap_nmaps, memory_order_relaxed);
	void *p;

	if (i == ML_HEAP_MAPS)
		return NULL;
	p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
	    -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	ml_heap_maps[i].base = (uintptr_t)p;
	ml_heap_maps[i].size = n;
	ml_heap_pass_close(true);       /* before any block is cut */
	atomic_store_explicit(&ml_heap_nmaps, i + 1, memory_order_release);
	hp.mapped += n;
	return p;
}

static void
push(unsigned k, char *c)
{
	memcpy(c, &hp.free[k], sizeof(void *));
	hp.free[k] = c;
}

/* The rest of the mapping chunks are cut from, to the lists. */
static void
keep_rest(void)
{
	while (hp.end - hp.cut >= 1 << MIN_CLASS) {
		unsigned k = MIN_CLASS;
		while (k < OWN_MAP - 1 && (size_t)(hp.end - hp.cut) >= (size_t)2 << k)
			k++;
		push(k, hp.cut);
		hp.cut += (size_t)1 << k;
	}
}

/* A chunk of class k; the lock is held. */
static char *
chunk(unsigned k)
{
	size_t n = (size_t)1 << k;
	char *c = hp.free[k];

	if (c != NULL) {
		size_t kept;
		memcpy(&hp.free[k], c, sizeof(void *));
		if (n >= GIVE_BACK) {
			memcpy(&kept, c + sizeof(void *), sizeof kept);
			hp.kept -= kept;
		}
		return c;
	}
	if (k >= OWN_MAP)
		return map(n);
	if ((size_t)(hp.end - hp.cut) < n) {
		size_t size = hp.next_map < n ? n : hp.next_map;
		char *m = map(size);
		if (m == NULL)
			return NULL;
		keep_rest();
		hp.cut = m;
		hp.end = m + size;
		if (hp.next_map < LAST_MAP)
			hp.next_map *= 2;
	}
	c = hp.cut;
	hp.cut += n;
	return c;
}

static struct header *
header_of(const void *p)
{
	return (struct header *)((char *)p - HEADER);
}

void *
ml_heap_alloc(size_t align, size_t n)
{
	size_t extra = align > HEADER ? align : 0, need;
	unsigned k = MIN_CLASS;
	char *c;

	if (align & (align - 1) || n > ((size_t)1 << MAX_CLASS) - HEADER - extra) {
		errno = align & (align - 1) ? EINVAL : ENOMEM;
		return NULL;
	}
	need = n + HEADER + extra;
	while (((size_t)1 << k) < need)
		k++;
	pthread_mutex_lock(&hp.lock);
	c = chunk(k);
	if (c != NULL)
		hp.live += (size_t)1 << k;
	pthread_mutex_unlock(&hp.lock);
	if (c == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	uintptr_t p = (uintptr_t)c + HEADER;
	if (extra != 0)
		p = (p + align - 1) & ~(uintptr_t)(align - 1);
	struct header *h = header_of((void *)p);
	h->cls = k;
	h->delta = (uint32_t)(p - (uintptr_t)c);
	return (void *)p;
}

void *
ml_heap_calloc(size_t n, size_t size)
{
	size_t total;
	void *p;

	if (__builtin_mul_overflow(n, size, &total)) {
		errno = ENOMEM;
		return NULL;
	}
	if ((p = ml_heap_alloc(0, total)) != NULL)
		memset(p, 0, total);
	return p;
}

size_t
ml_heap_usable(const void *p)
{
	const struct header *h = header_of(p);

	return ((size_t)1 << h->cls) - h->delta;
}

void
ml_heap_free(void *p)
{
	struct header *h = header_of(p);
	unsigned k = h->cls;
	size_t n = (size_t)1 << k;
	char *c = (char *)p - h->delta;

	pthread_mutex_lock(&hp.lock);
	if (n >= GIVE_BACK) {
		size_t kept = 0;
		if (hp.kept + n <= ML_HEAP_KEEP) {
			kept = n;
			hp.kept += n;
		} else {
			/* its whole pages, but for the list's link and this
			 * word in front */
			uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
			uintptr_t from = ((uintptr_t)c + 2 * sizeof(size_t) +
			    page - 1) & ~(page - 1), to = ((uintptr_t)c + n) &
			    ~(page - 1);
			if (to > from)
				madvise((void *)from, to - from, MADV_DONTNEED);
		}
		memcpy(c + sizeof(void *), &kept, sizeof kept);
	}
	push(k, c);
	hp.live -= n;
	pthread_mutex_unlock(&hp.lock);
}

void *
ml_heap_realloc(void *p, size_t n)
{
	size_t had;
	void *q;

	if (p == NULL)
		return ml_heap_alloc(0, n);
	if (n == 0) {           /* as glibc's realloc() */
		ml_heap_free(p);
		return NULL;
	}
	if ((had = ml_heap_usable(p)) >= n)
		return p;
	if ((q = ml_heap_alloc(0, n)) == NULL)
		return NULL;
	memcpy(q, p, had);
	ml_heap_free(p);
	return q;
}

void
ml_heap_defer(void *p)
{
	void *head = atomic_load(&ml_heap_deferred);

	do
		memcpy(p, &head, sizeof head);
	while (!atomic_compare_exchange_weak(&ml_heap_deferred, &head, p));
}

void *
ml_heap_take(void)
{
	return atomic_exchange(&ml_heap_deferred, NULL);
}

void
ml_heap_usage(size_t *mapped, size_t *live)
{
	pthread_mutex_lock(&hp.lock);
	*mapped = hp.mapped;
	*live = hp.live;
	pthread_mutex_unlock(&hp.lock);
}

void
ml_heap_prepare(void)
{
	pthread_mutex_lock(&hp.lock);
}

void
ml_heap_parent(void)
{
	pthread_mutex_unlock(&hp.lock);
}

void
ml_heap_child(void)
{
	pthread_mutex_init(&hp.lock, NULL);
}
