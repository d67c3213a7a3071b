/*
 * real.c - the next allocator and the bootstrap arena (see real.h).
 *
 * Must never call malloc and friends by name: inside libmemlease.so those
 * names are the shim's.  Resolution runs once; a thread that calls in while
 * another resolves is served from the arena, as is the resolving thread
 * itself when dlsym() allocates.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "guard.h"
#include "object.h"
#include "real.h"

struct ml_real_fns ml_real;
int ml_real_ready;
static atomic_int resolving;
static const char *object = "??";

/* The bootstrap arena: blocks carry their size in the 16 bytes before
 * them, and are never reused. */
_Alignas(64) char ml_boot_arena[ML_BOOT_SIZE];
static atomic_size_t boot_used;

void *
ml_boot_alloc(size_t align, size_t n)
{
	size_t at, start, end;

	if (align < 16)
		align = 16;
	if (n > ML_BOOT_SIZE || (align & (align - 1)) != 0 ||
	    align > ML_BOOT_SIZE)
		return NULL;
	at = atomic_load(&boot_used);
	do {
		start = (at + 16 + align - 1) & ~(align - 1);
		end = start + (n ? n : 1);
		if (end > ML_BOOT_SIZE) {
			errno = ENOMEM;
			return NULL;
		}
	} while (!atomic_compare_exchange_weak(&boot_used, &at, end));
	memcpy(ml_boot_arena + start - sizeof n, &n, sizeof n);
	return ml_boot_arena + start;     /* static memory: already zero */
}

size_t
ml_boot_usable(const void *p)
{
	size_t n;

	memcpy(&n, (const char *)p - sizeof n, sizeof n);
	return n;
}

/* What the allocator lacks, made from what it has. */

static size_t
page_size(void)
{
	static size_t page;

	if (page == 0)
		page = (size_t)sysconf(_SC_PAGESIZE);
	return page;
}

static void *
syn_memalign(size_t align, size_t n)
{
	void *p = NULL;
	int r = ml_real.next_posix_memalign(&p, align < sizeof(void *) ?
	    sizeof(void *) : align, n);

	if (r != 0) {
		errno = r;
		return NULL;
	}
	return p;
}

static int
syn_posix_memalign(void **pp, size_t align, size_t n)
{
	void *p;

	if (align < sizeof(void *) || (align & (align - 1)) != 0)
		return EINVAL;
	p = ml_real.next_memalign(align, n);
	if (p == NULL)
		return ENOMEM;
	*pp = p;
	return 0;
}

static void *
syn_aligned_alloc(size_t align, size_t n)
{
	if (align == 0 || (align & (align - 1)) != 0) {
		errno = EINVAL;
		return NULL;
	}
	return ml_real.next_memalign(align, n);
}

static void *
syn_valloc(size_t n)
{
	return ml_real.next_memalign(page_size(), n);
}

static void *
syn_pvalloc(size_t n)
{
	size_t page = page_size();
	size_t rounded = (n + page - 1) & ~(page - 1);

	if (rounded < n) {
		errno = ENOMEM;
		return NULL;
	}
	return ml_real.next_memalign(page, rounded ? rounded : page);
}

static void *
syn_calloc(size_t n, size_t size)
{
	size_t total;
	void *p;

	if (!ml_mul_ok(n, size, &total))
		return NULL;
	p = ml_real.next_malloc(total);
	if (p != NULL)
		memset(p, 0, total);
	return p;
}

static size_t
syn_usable_size(void *p)
{
	(void)p;
	return 0;       /* unknown: callers must not rely on more */
}

/*
 * Where the next allocator is looked up: after memlease (RTLD_NEXT) when
 * memlease is in the process's global scope, preloaded or linked in, or
 * built into the program itself (the tests).  When it is not, it was
 * loaded into a running process (memleasectl attach, a dlopen() of its
 * own scope), and RTLD_NEXT would name the C library's even where the
 * program runs on jemalloc: the blocks made before the attach must go
 * back to the allocator that made them, so the process's own
 * (RTLD_DEFAULT) is the next.  The global scope is the program's handle's
 * (a lookup of RTLD_DEFAULT from here would find memlease in its own
 * scope, after the global one).
 */
static void *scope;

static void *
choose_scope(void)
{
	void *prog = dlopen(NULL, RTLD_LAZY), *f;
	const struct link_map *mine = ml_object_of((void *)choose_scope);
	struct link_map *main_map = NULL;

	if (prog == NULL || mine == NULL || dlinfo(prog, RTLD_DI_LINKMAP,
	    &main_map) != 0 || mine == main_map)
		return RTLD_NEXT;
	f = dlsym(prog, "memlease_alloc");
	if (f != NULL && ml_object_of(f) == mine)
		return RTLD_NEXT;
	return RTLD_DEFAULT;
}

/* `name` from the object `from`, or NULL if that object lacks it. */
static void *
next_from(const char *name, const struct link_map *from)
{
	void *f = dlsym(scope, name);

	if (f == NULL || from == NULL)
		return f;
	return ml_object_of(f) == from ? f : NULL;
}

#define RESOLVE(field, name, synth) do {                                   \
	void *f_ = next_from(name, base);                                  \
	if (f_ != NULL)                                                    \
		*(void **)&fns.next_##field = f_;                          \
	else                                                               \
		fns.next_##field = synth;                                  \
} while (0)

/*
 * When dlsym() cannot name the next allocator (it failed, or something
 * interposed on it returns NULL), the C library's own entry points, bound
 * at link time: the program runs on glibc's allocator rather than on the
 * bootstrap arena, which would soon be used up.
 */
extern void *__libc_malloc(size_t);
extern void  __libc_free(void *);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
extern void *__libc_valloc(size_t);
extern void *__libc_pvalloc(size_t);

/* glibc's malloc_usable_size() has no other exported name (ours hides
 * it): the same arithmetic on the chunk's size word (glibc's musable()),
 * 8 bytes before the block, its low 3 bits flags, 0x2 for a mapped one. */
static size_t
libc_usable_size(void *p)
{
	size_t word;

	memcpy(&word, (char *)p - sizeof word, sizeof word);
	return (word & ~(size_t)7) - (word & 2 ? 2 : 1) * sizeof word;
}

static void
libc_own(struct ml_real_fns *fns)
{
	Dl_info dl;

	fns->next_malloc = __libc_malloc;
	fns->next_free = __libc_free;
	fns->next_calloc = __libc_calloc;
	fns->next_realloc = __libc_realloc;
	fns->next_memalign = __libc_memalign;
	fns->next_posix_memalign = syn_posix_memalign;
	fns->next_aligned_alloc = __libc_memalign;   /* glibc's is the same */
	fns->next_valloc = __libc_valloc;
	fns->next_pvalloc = __libc_pvalloc;
	fns->next_malloc_usable_size = libc_usable_size;
	if (dladdr((void *)__libc_malloc, &dl) != 0)
		object = dl.dli_fname;
}

void
ml_real_resolve(void)
{
	struct ml_real_fns fns;
	const struct link_map *base = NULL;
	Dl_info dl;
	int expected = 0;

	if (!atomic_compare_exchange_strong(&resolving, &expected, 1))
		return;         /* another thread (or this one, in dlsym) */
	memset(&fns, 0, sizeof fns);
	scope = choose_scope();
	*(void **)&fns.next_malloc = dlsym(scope, "malloc");
	if (fns.next_malloc == NULL) {
		libc_own(&fns);
		goto done;
	}
	base = ml_object_of((void *)fns.next_malloc);
	if (base != NULL && base->l_name[0] != '\0')
		object = base->l_name;
	else if (dladdr((void *)fns.next_malloc, &dl) != 0)
		object = dl.dli_fname;  /* the program's name */
	*(void **)&fns.next_free = next_from("free", base);
	*(void **)&fns.next_realloc = next_from("realloc", base);
	if (fns.next_free == NULL || fns.next_realloc == NULL) {
		/* an allocator without free or realloc is not one: take the
		 * first definitions found, whatever their object */
		base = NULL;
		*(void **)&fns.next_free = dlsym(scope, "free");
		*(void **)&fns.next_realloc = dlsym(scope, "realloc");
	}
	RESOLVE(calloc, "calloc", syn_calloc);
	RESOLVE(posix_memalign, "posix_memalign", syn_posix_memalign);
	RESOLVE(memalign, "memalign", syn_memalign);
	if (fns.next_posix_memalign == syn_posix_memalign && fns.next_memalign ==
	    syn_memalign)
		*(void **)&fns.next_memalign = NULL;     /* neither: no alignment */
	RESOLVE(aligned_alloc, "aligned_alloc", syn_aligned_alloc);
	RESOLVE(valloc, "valloc", syn_valloc);
	RESOLVE(pvalloc, "pvalloc", syn_pvalloc);
	RESOLVE(malloc_usable_size, "malloc_usable_size", syn_usable_size);
	if (fns.next_free == NULL || fns.next_realloc == NULL || fns.next_memalign == NULL) {
		/* a malloc without the rest (dlsym failed for them) */
		memset(&fns, 0, sizeof fns);
		libc_own(&fns);
	}
done:
	ml_real = fns;
	__atomic_store_n(&ml_real_ready, 1, __ATOMIC_RELEASE);
	ml_heap_pass_open(fns.next_malloc, fns.next_free);
}

void
ml_real_settle_slow(void)
{
	void *p = ml_heap_take(), *next;

	for (; p != NULL; p = next) {
		memcpy(&next, p, sizeof next);
		ml_real.next_free(p);
	}
}

void *
ml_real_move(void *p, size_t n)
{
	size_t had;
	void *q;

	if (n == 0) {           /* as glibc's realloc() */
		ml_heap_defer(p);
		return NULL;
	}
	if (!ml_real_check())
		return NULL;
	if ((had = ml_real.next_malloc_usable_size(p)) == 0)
		return ml_real.next_realloc(p, n);   /* size unknown */
	if ((q = ml_heap_alloc(0, n)) == NULL)
		return ml_real.next_realloc(p, n);     /* see ml_real_own_alloc() */
	memcpy(q, p, had < n ? had : n);
	ml_heap_defer(p);
	return q;
}

/*
 * When the heap can map no more (the address space is used up, or its
 * table of mappings is full), memlease's thread takes the block from the
 * next allocator after all: the C library then gives the thread an arena
 * if the address space has room for one, or shares another's; either is
 * better than failing libev, which aborts the process when it cannot
 * allocate.
 */
void *
ml_real_own_alloc(size_t align, size_t n)
{
	int err = errno;
	void *p = ml_heap_alloc(align, n);

	if (p != NULL || errno == EINVAL || !ml_real_check())
		return p;
	errno = err;
	return align == 0 ? ml_real.next_malloc(n) :
	    ml_real.next_memalign(align, n);
}

void *
ml_real_own_calloc(size_t n, size_t size)
{
	int err = errno;
	void *p = ml_heap_calloc(n, size);
	size_t total;

	if (p != NULL || __builtin_mul_overflow(n, size, &total) ||
	    !ml_real_check())
		return p;
	errno = err;
	return ml_real.next_calloc(n, size);
}

void *
ml_real_heap_realloc(void *p, size_t n)
{
	void *q = ml_heap_realloc(p, n);
	size_t had;

	if (q != NULL || n == 0)
		return q;
	if ((q = ml_real_malloc(n)) != NULL) {
		had = ml_heap_usable(p);
		memcpy(q, p, had < n ? had : n);
		ml_heap_free(p);
	}
	return q;
}

const char *
ml_real_object(void)
{
	return object;
}

/* The C library's pthread_create(), once found: the preload's own is the
 * program's (threads.c), and memlease's thread is made with this one. */
int
ml_real_pthread_create(pthread_t *t, const pthread_attr_t *attr,
    void *(*fn)(void *), void *arg)
{
	static int (*_Atomic create)(pthread_t *, const pthread_attr_t *,
	    void *(*)(void *), void *);
	int (*f)(pthread_t *, const pthread_attr_t *, void *(*)(void *),
	    void *) = atomic_load_explicit(&create, memory_order_acquire);

	if (f == NULL) {
		ml_guard_enter();       /* dlsym() may allocate */
		*(void **)&f = dlsym(RTLD_NEXT, "pthread_create");
		ml_guard_leave();
		if (f == NULL)
			return EAGAIN;
		atomic_store_explicit(&create, f, memory_order_release);
	}
	return f(t, attr, fn, arg);
}
