/*
 * stackid.c - stacks' stable names, and the frames grouped (see
 * stackid.h).
 *
 * A frame's identity is its object's and its offset in it.  The objects
 * come from dl_iterate_phdr(): the address range of each one's PT_LOAD
 * segments, its load base (dlpi_addr) and its identity, a hash of its
 * GNU build-id note (read in memory, where PT_NOTE maps it) or, without
 * one, of its path (/proc/self/exe for the executable).  The table is
 * made again when an address falls in no object (a dlopen() since).
 *
 * Lock-free: the object table is published whole through an atomic
 * pointer and never changes once published (an old one is kept, not
 * freed: a reader may still be in it; there is one per change of the
 * loaded objects); the stack_id of a stored stack is computed once and
 * kept in chunks that are installed by compare-and-swap.  Computing twice
 * in a race gives the same value.  So fork needs nothing of it.
 *
 * Never runs on the allocation path: reports, listings and the exit call
 * it, with the recursion guard held (it allocates from mem.h).
 * dl_iterate_phdr() takes the dynamic loader's lock: no lock of ours is
 * held across it.
 */
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <limits.h>
#include <link.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "labels.h"
#include "mem.h"
#include "stackid.h"

/* --- objects --------------------------------------------------------- */

struct obj {
	uintptr_t lo, hi;       /* the PT_LOAD segments' extent */
	uintptr_t base;         /* dlpi_addr: an offset is ip - base */
	uint64_t  ident;        /* hash of the build-id, or of the path */
	bool      own;          /* libmemlease.so itself */
};

struct objs {
	int                n, cap;
	unsigned long long adds, subs;  /* dl_iterate_phdr()'s counts */
	struct obj         v[];
};

static _Atomic(struct objs *) objects;

#define FNV_OFFSET UINT64_C(0xcbf29ce484222325)
#define FNV_PRIME  UINT64_C(0x100000001b3)

static uint64_t
fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *s = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ s[i]) * FNV_PRIME;
	return h;
}

/* The build-id note of an object, hashed into *ident: false if none. */
static bool
build_id(const struct dl_phdr_info *info, uint64_t *ident)
{
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_NOTE)
			continue;
		const char *p = (const char *)(info->dlpi_addr + ph->p_vaddr);
		const char *end = p + ph->p_memsz;
		while (p + sizeof(ElfW(Nhdr)) <= end) {
			const ElfW(Nhdr) *nh = (const ElfW(Nhdr) *)p;
			const char *name = p + sizeof *nh;
			const char *desc = name + ((nh->n_namesz + 3) & ~3u);
			const char *next = desc + ((nh->n_descsz + 3) & ~3u);
			if (next > end)
				break;
			if (nh->n_type == NT_GNU_BUILD_ID &&
			    nh->n_namesz == 4 && memcmp(name, "GNU", 4) == 0 &&
			    nh->n_descsz > 0) {
				*ident = fnv(fnv(FNV_OFFSET, "id:", 3), desc,
				    nh->n_descsz);
				return true;
			}
			p = next;
		}
	}
	return false;
}

static char exe[PATH_MAX];

static int
collect(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct objs *t = arg;
	static const char me = 0;       /* an address in this object */
	struct obj o = { UINTPTR_MAX, 0, info->dlpi_addr, 0, false };

	if (t->n == 0 && size >= offsetof(struct dl_phdr_info, dlpi_subs) +
	    sizeof info->dlpi_subs) {
		t->adds = info->dlpi_adds;
		t->subs = info->dlpi_subs;
	}
	if (t->n == t->cap)
		return 1;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_LOAD)
			continue;
		uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
		if (lo < o.lo)
			o.lo = lo;
		if (lo + ph->p_memsz > o.hi)
			o.hi = lo + ph->p_memsz;
	}
	if (o.hi == 0)
		return 0;
	const char *name = info->dlpi_name;
	if (name == NULL || *name == '\0')
		name = exe;
	if (!build_id(info, &o.ident))
		o.ident = fnv(fnv(FNV_OFFSET, "path:", 5), name, strlen(name));
	o.own = name != exe && (uintptr_t)&me >= o.lo && (uintptr_t)&me < o.hi;
	t->v[t->n++] = o;
	return 0;
}

/* The loader's counts of objects loaded and unloaded, in *t. */
static int
counts(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct objs *t = arg;

	if (size >= offsetof(struct dl_phdr_info, dlpi_subs) +
	    sizeof info->dlpi_subs) {
		t->adds = info->dlpi_adds;
		t->subs = info->dlpi_subs;
	}
	return 1;       /* the first object is enough */
}

/* The objects loaded now, published; NULL if out of memory. */
static struct objs *
objects_load(void)
{
	int cap = 64;

	if (exe[0] == '\0') {
		ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
		exe[n > 0 ? n : 0] = '\0';
	}
	for (;;) {
		struct objs *t = ml_mem_malloc(sizeof *t + cap * sizeof *t->v);
		if (t == NULL)
			return NULL;
		t->n = 0;
		t->cap = cap;
		dl_iterate_phdr(collect, t);
		if (t->n < cap) {
			atomic_store(&objects, t);  /* the old one is kept */
			return t;
		}
		ml_mem_free(t);
		cap *= 2;
	}
}

/* The object of address ip, NULL if none.  An address of no object
 * known reloads the table only if objects were loaded or unloaded since
 * (code made at run time belongs to none). */
static const struct obj *
object_of(uintptr_t ip)
{
	struct objs *t = atomic_load(&objects), now = { 0 };

	for (int pass = 0; pass < 2; pass++) {
		for (int i = 0; t != NULL && i < t->n; i++)
			if (ip >= t->v[i].lo && ip < t->v[i].hi)
				return &t->v[i];
		if (pass == 1)
			break;
		if (t != NULL) {
			dl_iterate_phdr(counts, &now);
			if (now.adds == t->adds && now.subs == t->subs)
				return NULL;
		}
		if ((t = objects_load()) == NULL)
			return NULL;
	}
	return NULL;
}

/* --- stack ids ------------------------------------------------------- */

uint64_t
ml_stackid_hash(const uintptr_t *ips, int n)
{
	uint64_t h = FNV_OFFSET;

	for (int i = 0; i < n; i++) {
		const struct obj *o = object_of(ips[i]);
		uint64_t frame[2] = {
			o != NULL ? o->ident : 0,
			o != NULL ? ips[i] - o->base : ips[i],
		};
		h = fnv(h, frame, sizeof frame);
	}
	/* mixed, so that near stacks get far ids; never 0 */
	h ^= h >> 33;
	h *= UINT64_C(0xff51afd7ed558ccd);
	h ^= h >> 33;
	return h != 0 ? h : 1;
}

char *
ml_stackid_hex(uint64_t id, char buf[ML_STACKID_HEX])
{
	snprintf(buf, ML_STACKID_HEX, "%016" PRIx64, id);
	return buf;
}

/* --- skipping wrappers ------------------------------------------------- */

static struct ml_stackid_skip skip_env;     /* MEMLEASE_SKIP */

int
ml_stackid_parse_skip(char *text, struct ml_stackid_skip *sk)
{
	char *save = NULL;

	sk->n = 0;
	for (char *w = strtok_r(text, ",", &save); w != NULL;
	    w = strtok_r(NULL, ",", &save)) {
		w += strspn(w, " \t");
		size_t len = strlen(w);
		while (len > 0 && (w[len - 1] == ' ' || w[len - 1] == '\t'))
			w[--len] = '\0';
		if (len == 0)
			continue;
		if (sk->n == ML_STACKID_SKIP_MAX)
			return -EINVAL;
		sk->glob[sk->n++] = w;
	}
	return 0;
}

int
ml_stackid_set_skip(const char *globs)
{
	char *text;

	skip_env.n = 0;
	if (globs == NULL)
		return 0;
	if ((text = ml_mem_strdup(globs)) == NULL)
		return -ENOMEM;
	int r = ml_stackid_parse_skip(text, &skip_env);
	if (r != 0) {
		skip_env.n = 0;
		ml_mem_free(text);
	}
	return r;     /* text is skip_env's for life */
}

static bool
skip_match(const struct ml_stackid_skip *sk, const char *function)
{
	for (int i = 0; sk != NULL && i < sk->n; i++)
		if (fnmatch(sk->glob[i], function, 0) == 0)
			return true;
	return false;
}

/* A wrapper to drop: its name matches a glob. */
static bool
wrapper(uintptr_t ip, const struct ml_stackid_skip *extra)
{
	struct ml_frame f;

	if (skip_env.n == 0 && (extra == NULL || extra->n == 0))
		return false;
	ml_stacks_symbolize(ip, &f);
	return f.function != NULL &&
	    (skip_match(&skip_env, f.function) || skip_match(extra, f.function));
}

int
ml_stackid_frames(uint32_t stack, const struct ml_stackid_skip *extra,
    int depth, uintptr_t *ips)
{
	uintptr_t all[ML_STACK_MAX_DEPTH];
	int n = ml_stacks_get(stack, all, ML_STACK_MAX_DEPTH), m = 0, top = 0;

	for (int i = 0; i < n; i++) {
		const struct obj *o = object_of(all[i]);
		if (o == NULL || !o->own)
			all[m++] = all[i];
	}
	while (top < m - 1 && wrapper(all[top], extra))
		top++;
	m -= top;
	if (depth > 0 && m > depth)
		m = depth;
	memcpy(ips, all + top, m * sizeof *ips);
	return m;
}

/* The ids of stored stacks, computed once each: chunks of CHUNK, made as
 * they are first needed. */
#define CHUNK   4096
#define NCHUNKS ((ML_LABELED + CHUNK - 1) / CHUNK)
static _Atomic(_Atomic uint64_t *) chunks[NCHUNKS];

uint64_t
ml_stackid_of(uint32_t stack)
{
	uintptr_t ips[ML_STACK_MAX_DEPTH];

	if (stack == 0 || stack >= ML_LABELED)
		return 0;
	_Atomic uint64_t *c = atomic_load(&chunks[stack / CHUNK]);
	if (c == NULL) {
		_Atomic uint64_t *fresh = ml_mem_calloc(CHUNK, sizeof *fresh);
		c = fresh;
		if (fresh != NULL && !atomic_compare_exchange_strong(
		    &chunks[stack / CHUNK], &c, fresh))
			ml_mem_free(fresh);     /* another thread's is there */
		else
			c = fresh;
	}
	uint64_t id = c != NULL ? atomic_load(&c[stack % CHUNK]) : 0;
	if (id == 0) {
		id = ml_stackid_hash(ips, ml_stackid_frames(stack, NULL, 0,
		    ips));
		if (c != NULL)
			atomic_store(&c[stack % CHUNK], id);
	}
	return id;
}
