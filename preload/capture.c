/*
 * capture.c - stacks captured again without unwinding (see capture.h).
 *
 * Why a remembered chain is exact.  unw_backtrace() walks a frame by the
 * CFI (the .eh_frame rules) at its pc: on x86-64 a frame's CFA is rsp or
 * rbp plus a constant, its return address is at CFA - 8, rbp is kept or
 * reloaded from CFA + a constant, and the caller's rsp is the CFA.  So
 * when the rules at every pc of a chain have that form, the whole chain
 * is a function of the first frame's (pc, rsp, rbp) and of the words it
 * reads: the return addresses and, where a later CFA is rbp-based, the
 * saved rbp it uses.  A chain is remembered as its first frame's
 * (pc, rsp), the rbp when a CFA depends on the register itself, and the
 * (slot, value) of each word read, in the order of the walk.  A capture
 * at the same pc and rsp (and rbp, if used) whose slots hold the same
 * values is then the same chain, frame by frame: frame k's CFA is the
 * same because frame k-1's was and its rule, from its pc (a value
 * checked), is the same; its return address is the value checked at
 * CFA - 8.  The end of the walk is proven the same way: the depth reached,
 * a last frame (its return address undefined in the CFI, a pc checked) or
 * a return address below 0x4000 (a value checked), as libunwind stops.
 * Slots are compared in the walk's order and the first difference ends
 * the check: each load is of a slot the true walk would read.
 *
 * A pc whose rule is not of that form (an expression CFA, a signal frame,
 * a PLT entry, a frame without CFI) is never in a remembered chain: its
 * captures unwind in full, always.  A chain is remembered only when the
 * walk by these rules gives exactly the frames unw_backtrace() gave at
 * that capture (the same CFI read twice: a disagreement means a frame
 * handled otherwise, never cached).  Memory: the rules come from libdw
 * (dwarf_getcfi_elf() on the object's file), and an object is used only
 * if its file's .eh_frame and .eh_frame_hdr are byte for byte those
 * mapped in memory, which libunwind reads.  When an object is unloaded,
 * every thread's chains are dropped (a generation, ml_capture_forget()):
 * by the preload's dlclose(), before and after the C library's; and the
 * rules and objects too, at the next capture that learns a chain, which
 * first looks at dl_iterate_phdr()'s count of unloads (dlpi_subs).  An
 * unload the preload's dlclose() does not see (the C library's own, of
 * an iconv module; a program memlease was attached to, whose calls are
 * bound to the C library's) drops them only there: until then, a chain
 * through the unloaded code could be taken only if new code at the same
 * addresses left the same return addresses in the same slots.
 *
 * A thread learns from its WARM-th capture not remembered on, so that a
 * short process (most of a build's) never loads libdw for this.
 *
 * Learning a chain (its walk by the rules, a rule from libdw for each new
 * pc) costs about what the unwinding does: a thread whose chains are
 * seldom taken again learns at one capture in LEARN_EVERY it does not
 * find, so that a program whose stacks never repeat pays the unwinding
 * alone, as without this module.
 *
 * Learning runs on the thread that captured, with memlease's heap as its
 * allocator (heap.h): libdw's blocks never enter the program's arena.
 *
 * Owns: each thread's chains (mmap'd at its first, freed at its exit by a
 * key's destructor; never shared: only its thread reads or writes them),
 * the rules of the pcs seen, the objects opened for their CFI.
 *
 * Locking: `cl.lock` guards the rules, the objects and libdw's handles
 * (libdw is not thread-safe; it is loaded, dw.h, before the lock is
 * taken); a thread that would wait for it does not learn this time
 * (pthread_mutex_trylock()).  The generation is atomic.
 * A thread's chains are read and written by that thread with the
 * recursion guard held: a signal handler that allocates meanwhile passes
 * through the shim, and never sees a chain half written.
 * Never: wait for a lock on the allocation path, call libdw without
 * cl.lock, or remember a chain through a frame whose rule is not proven.
 */
#define _GNU_SOURCE
#include <dwarf.h>
#include <fcntl.h>
#include <link.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "capture.h"
#include "dw.h"
#include "heap.h"
#include "mem.h"
#include "real.h"

/* A thread's chains: SETS sets of WAYS, by (rsp, from). */
#define SETS   64
#define WAYS   4
#define CHECKS 30               /* words a chain checks, at most */

struct chain {
	uintptr_t sp, ip, from, bp;     /* sp 0: an empty way */
	uint32_t  id, gen;
	uint8_t   n, depth, use_bp;     /* use_bp: bp is compared */
	int32_t   off[CHECKS];          /* slot: sp + off[k] */
	uintptr_t val[CHECKS];
};

/* Learning a chain costs about what an unwinding does: a thread whose
 * chains are seldom taken again learns at one miss in LEARN_EVERY only.
 * Each hit earns a credit, each chain learnt costs LEARN_COST of them. */
#define CREDIT_MAX  256
#define LEARN_COST  8
#define LEARN_EVERY 64

struct chains {
	struct chain c[SETS * WAYS];
	uint8_t      next[SETS];        /* the way replaced next */
	uint32_t     credit, misses;
};

/* A thread learns from its WARM-th capture not remembered on: a process
 * that captures few stacks never loads libdw (dw.h), nor maps chains. */
#define WARM 256

static __thread unsigned warm __attribute__((tls_model("initial-exec")));
static __thread struct chains *tc __attribute__((tls_model("initial-exec")));
static __thread bool tc_gone __attribute__((tls_model("initial-exec")));

bool             ml_capture_verify;
_Atomic uint64_t ml_capture_hits, ml_capture_mismatches, ml_capture_refused;

/* The rule of a pc, from its CFI. */
enum { R_REFUSE, R_LAST, R_RSP, R_RBP };
struct rule {
	uint8_t kind;
	bool    bp_saved;               /* rbp reloaded from CFA + bp_off */
	int16_t bp_off;
	int32_t cfa_off;
};

#define RULES     8192              /* slots; filled to 3/4 at most */
#define OBJS      128
struct obj {
	uintptr_t          lo, hi;      /* its mapped span */
	uintptr_t          bias;
	const ElfW(Phdr)  *phdr;        /* the loader's, while it is loaded */
	int                phnum;
	char              *path;
	bool               bad;         /* no rules of this object */
	bool               checked;     /* its file's CFI is memory's */
	struct stat        st;          /* the file checked */
	Elf               *elf;         /* open during one learning only */
	Dwarf_CFI         *cfi;
};

static struct {
	pthread_mutex_t lock;
	atomic_uint     gen;
	unsigned long long subs;        /* dlpi_subs when last looked */
	bool            ready;          /* libelf's version set */
	struct {
		uintptr_t   pc;             /* 0: empty */
		struct rule r;
	}              *rules;
	unsigned        nrules;
	struct obj      objs[OBJS];
	int             nobjs;
} cl = { .lock = PTHREAD_MUTEX_INITIALIZER, .gen = 1 };

/* libdw's functions (dw.h), called with cl.lock held only. */
static const struct ml_dw_fns *dw;

static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static pthread_key_t  key;
static bool           key_made;

/* Chains. */

static inline unsigned
set_of(uintptr_t sp, const void *from)
{
	uint64_t h = (sp >> 3) * UINT64_C(0x9e3779b97f4a7c15) ^
	    (uintptr_t)from * UINT64_C(0xd1342543de82ef95);

	return (unsigned)(h >> 58) & (SETS - 1);
}

/* The loads are of the thread's own stack, slots of the frames above
 * (the true walk's, as long as the previous ones matched); not the
 * program's objects, so not for a sanitizer to check. */
__attribute__((no_sanitize("address", "thread")))
uint32_t
ml_capture_find(const struct ml_capture_regs *r, const void *from, int depth)
{
	struct chains *t = tc;

	if (t == NULL)
		return 0;
	unsigned gen = atomic_load_explicit(&cl.gen, memory_order_relaxed);
	const struct chain *c = &t->c[set_of(r->sp, from) * WAYS];
	for (int w = 0; w < WAYS; w++, c++) {
		if (c->sp != r->sp || c->from != (uintptr_t)from ||
		    c->ip != r->ip || c->depth != depth || c->gen != gen ||
		    (c->use_bp && c->bp != r->bp))
			continue;
		int k = 0;
		while (k < c->n && *(const uintptr_t *)(r->sp + c->off[k]) ==
		    c->val[k])
			k++;
		if (k == c->n) {
			if (t->credit < CREDIT_MAX)
				t->credit++;
			return c->id;
		}
		if (ml_capture_verify)
			atomic_fetch_add_explicit(&ml_capture_refused, 1,
			    memory_order_relaxed);
	}
	return 0;
}

static void
chains_free(void *p)
{
	tc_gone = true;
	tc = NULL;
	munmap(p, sizeof(struct chains));
}

static void
key_make(void)
{
	key_made = pthread_key_create(&key, chains_free) == 0;
}

/* This thread's chains, made at its first (NULL: none, or the thread is
 * ending). */
static struct chains *
chains(void)
{
	if (tc != NULL || tc_gone)
		return tc;
	pthread_once(&key_once, key_make);
	if (!key_made)
		return NULL;
	void *p = mmap(NULL, sizeof(struct chains), PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	if (pthread_setspecific(key, p) != 0) {
		munmap(p, sizeof(struct chains));
		return NULL;
	}
	tc = p;
	tc->credit = CREDIT_MAX;
	return tc;
}

void
ml_capture_forget(void)
{
	atomic_fetch_add(&cl.gen, 1);
}

/* Objects and their rules; cl.lock is held. */

/* The files opened while learning, closed when it ends: mapped, they
 * would take address space (RLIMIT_AS) for as long as the process runs. */
static void
objs_close(void)
{
	for (int i = 0; i < cl.nobjs; i++) {
		struct obj *o = &cl.objs[i];
		if (o->cfi != NULL)
			dw->dwarf_cfi_end(o->cfi);
		if (o->elf != NULL)
			dw->elf_end(o->elf);
		o->cfi = NULL;
		o->elf = NULL;
	}
}

static void
objs_drop(void)
{
	objs_close();
	for (int i = 0; i < cl.nobjs; i++)
		ml_mem_free(cl.objs[i].path);
	cl.nobjs = 0;
	if (cl.rules != NULL)
		memset(cl.rules, 0, RULES * sizeof *cl.rules);
	cl.nrules = 0;
}

static int
subs_of(struct dl_phdr_info *info, size_t size, void *arg)
{
	if (size >= offsetof(struct dl_phdr_info, dlpi_subs) +
	    sizeof info->dlpi_subs)
		*(unsigned long long *)arg = info->dlpi_subs;
	return 1;
}

/* The object whose PT_LOADs hold o->lo (a pc): its span, bias, program
 * headers and path. */
static int
object_of(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct obj *o = arg;
	uintptr_t lo = UINTPTR_MAX, hi = 0;
	bool in = false;

	(void)size;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uintptr_t a = info->dlpi_addr + ph->p_vaddr;
		if (ph->p_type != PT_LOAD)
			continue;
		if (a < lo)
			lo = a;
		if (a + ph->p_memsz > hi)
			hi = a + ph->p_memsz;
		if (o->lo >= a && o->lo < a + ph->p_memsz)
			in = true;
	}
	if (!in)
		return 0;
	o->lo = lo;
	o->hi = hi;
	o->bias = info->dlpi_addr;
	o->phdr = info->dlpi_phdr;
	o->phnum = info->dlpi_phnum;
	o->path = ml_mem_strdup(info->dlpi_name[0] != '\0' ?
	    info->dlpi_name : "/proc/self/exe");
	o->bad = o->path == NULL;
	return 1;
}

/* Whether [a, a + n) is in a readable PT_LOAD of o. */
static bool
loaded(const struct obj *o, uintptr_t a, size_t n)
{
	for (int i = 0; i < o->phnum; i++) {
		const ElfW(Phdr) *ph = &o->phdr[i];
		uintptr_t lo = o->bias + ph->p_vaddr;
		if (ph->p_type == PT_LOAD && (ph->p_flags & PF_R) && a >= lo &&
		    a + n <= lo + ph->p_memsz)
			return true;
	}
	return false;
}

/* Whether the file's section `name` is mapped at bias + its address with
 * the same bytes (*present: it is in the file). */
static bool
same_in_memory(const struct obj *o, size_t shstrndx, const char *name,
    bool *present)
{
	Elf_Scn *scn = NULL;

	*present = false;
	while ((scn = dw->elf_nextscn(o->elf, scn)) != NULL) {
		GElf_Shdr sh;
		const char *s;
		if (dw->gelf_getshdr(scn, &sh) == NULL ||
		    (s = dw->elf_strptr(o->elf, shstrndx, sh.sh_name)) == NULL ||
		    strcmp(s, name) != 0)
			continue;
		*present = true;
		Elf_Data *d = dw->elf_rawdata(scn, NULL);
		uintptr_t a = o->bias + sh.sh_addr;
		return sh.sh_type == SHT_PROGBITS && d != NULL &&
		    d->d_size == sh.sh_size && loaded(o, a, sh.sh_size) &&
		    memcmp(d->d_buf, (const void *)a, sh.sh_size) == 0;
	}
	return true;
}

static bool
same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino &&
	    a->st_size == b->st_size &&
	    a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
	    a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/* o's CFI, its file opened (until objs_close()): NULL when its file is
 * not what is mapped, has no .eh_frame, or was changed since it was
 * checked. */
static Dwarf_CFI *
object_cfi(struct obj *o)
{
	struct stat st;
	size_t shstrndx;
	bool hdr, eh;
	int fd;

	if (o->bad || o->cfi != NULL)
		return o->cfi;
	o->bad = true;          /* until shown otherwise */
	if ((fd = open(o->path, O_RDONLY | O_CLOEXEC)) < 0)
		return NULL;
	if (fstat(fd, &st) != 0 || (o->checked && !same_file(&st, &o->st))) {
		close(fd);
		return NULL;
	}
	o->elf = dw->elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (o->elf != NULL && dw->elf_cntl(o->elf, ELF_C_FDDONE) != 0) {
		dw->elf_end(o->elf);
		o->elf = NULL;
	}
	close(fd);
	if (o->elf == NULL)
		return NULL;
	if (!o->checked) {
		if (dw->elf_getshdrstrndx(o->elf, &shstrndx) != 0 ||
		    !same_in_memory(o, shstrndx, ".eh_frame", &eh) || !eh ||
		    !same_in_memory(o, shstrndx, ".eh_frame_hdr", &hdr))
			return NULL;
		o->checked = true;
		o->st = st;
	}
	if ((o->cfi = dw->dwarf_getcfi_elf(o->elf)) != NULL)
		o->bad = false;
	return o->cfi;
}

/* The object of pc (NULL: none known to the loader, or too many). */
static struct obj *
object(uintptr_t pc)
{
	for (int i = 0; i < cl.nobjs; i++)
		if (pc >= cl.objs[i].lo && pc < cl.objs[i].hi)
			return &cl.objs[i];
	if (cl.nobjs == OBJS)
		return NULL;
	/* the phdrs are the loader's, valid while the object is loaded:
	 * an unload is a new generation, and the objects are dropped */
	struct obj *o = &cl.objs[cl.nobjs];
	memset(o, 0, sizeof *o);
	o->lo = pc;
	if (dl_iterate_phdr(object_of, o) == 0)
		return NULL;
	cl.nobjs++;
	return o;
}

/* A register's rule as an offset from the CFA: true and *off for
 * offset(N); *same for same_value or undefined (unchanged, as libunwind
 * takes both); false for any other rule. */
static bool
reg_rule(Dwarf_Frame *fr, int regno, bool *same, int64_t *off)
{
	Dwarf_Op mem[3], *ops;
	size_t nops;

	*same = false;
	if (dw->dwarf_frame_register(fr, regno, mem, &ops, &nops) != 0)
		return false;
	if (nops == 0) {
		*same = true;
		return true;
	}
	if (ops[0].atom != DW_OP_call_frame_cfa)
		return false;
	if (nops == 1) {
		*off = 0;
		return true;
	}
	if (nops == 2 && ops[1].atom == DW_OP_plus_uconst) {
		*off = (int64_t)ops[1].number;
		return true;
	}
	return false;
}

/* The rule at lookup address pc (the pc itself for the first frame, a
 * return address less 1 for the others, as libunwind looks them up). */
static struct rule
rule_of_cfi(uintptr_t pc)
{
	struct rule r = { .kind = R_REFUSE };
	struct obj *o = object(pc);
	Dwarf_CFI *cfi = o != NULL ? object_cfi(o) : NULL;
	Dwarf_Frame *fr = NULL;
	Dwarf_Op mem[3], *ops;
	size_t nops;
	bool signal, same;
	int64_t off;

	if (cfi == NULL || dw->dwarf_cfi_addrframe(cfi, pc - o->bias, &fr) != 0)
		return r;
	if (dw->dwarf_frame_info(fr, NULL, NULL, &signal) != 16 || signal)
		goto out;
	/* rip: undefined in the outermost frame (_start, a thread's
	 * clone), where libunwind stops; else at CFA - 8 */
	if (dw->dwarf_frame_register(fr, 16, mem, &ops, &nops) != 0)
		goto out;
	if (nops == 0 && ops == mem) {
		r.kind = R_LAST;
		goto out;
	}
	if (!reg_rule(fr, 16, &same, &off) || same || off != -8)
		goto out;
	/* rsp: the CFA, whatever the CFI says (libunwind's fast trace
	 * takes it so), but a rule that is not an offset is refused */
	if (dw->dwarf_frame_register(fr, 7, mem, &ops, &nops) != 0 ||
	    !(nops == 0 || (nops == 2 && ops[0].atom == DW_OP_call_frame_cfa &&
	    ops[1].atom == DW_OP_stack_value)))
		goto out;
	if (!reg_rule(fr, 6, &same, &off) || (!same && (off < -(1 << 14) ||
	    off >= 1 << 14)))
		goto out;
	r.bp_saved = !same;
	r.bp_off = same ? 0 : (int16_t)off;
	if (dw->dwarf_frame_cfa(fr, &ops, &nops) != 0 || nops != 1 ||
	    ops[0].atom != DW_OP_bregx || (ops[0].number != 6 &&
	    ops[0].number != 7) || (int64_t)ops[0].number2 <= -(1 << 28) ||
	    (int64_t)ops[0].number2 >= 1 << 28)
		goto out;
	r.cfa_off = (int32_t)ops[0].number2;
	r.kind = ops[0].number == 7 ? R_RSP : R_RBP;
out:
	ml_real_free(fr);
	return r;
}

/* The rule at pc, classified once. */
static struct rule
rule_of(uintptr_t pc)
{
	struct rule refuse = { .kind = R_REFUSE };

	if (cl.rules == NULL &&
	    (cl.rules = ml_mem_calloc(RULES, sizeof *cl.rules)) == NULL)
		return refuse;
	unsigned k = (unsigned)((pc * UINT64_C(0x9e3779b97f4a7c15)) >> 51) &
	    (RULES - 1);
	while (cl.rules[k].pc != 0) {
		if (cl.rules[k].pc == pc)
			return cl.rules[k].r;
		k = (k + 1) & (RULES - 1);
	}
	if (cl.nrules >= RULES / 4 * 3)
		return refuse;
	cl.rules[k].pc = pc;
	cl.rules[k].r = rule_of_cfi(pc);
	cl.nrules++;
	return cl.rules[k].r;
}

/* A generation of rules: a new one when an object was unloaded. */
static unsigned
generation(void)
{
	unsigned long long subs = 0;

	if (!cl.ready) {
		dw->elf_version(EV_CURRENT);
		cl.ready = true;
	}
	dl_iterate_phdr(subs_of, &subs);
	if (subs != cl.subs) {
		cl.subs = subs;
		objs_drop();
		atomic_fetch_add(&cl.gen, 1);
	}
	return atomic_load(&cl.gen);
}

/* Learning a chain. */

static bool
check(struct chain *c, const struct ml_capture_regs *r, uintptr_t slot,
    uintptr_t val)
{
	uintptr_t off = slot - r->sp;

	if (c->n == CHECKS || off >= (uintptr_t)1 << 31 || (off & 7) != 0)
		return false;
	c->off[c->n] = (int32_t)off;
	c->val[c->n++] = val;
	return true;
}

/* Walk from r by the rules, checking the frames against frames[1..total)
 * (frames[0] is unw_backtrace()'s own call); with `end`, the walk must
 * also stop right after frames[total - 1], as libunwind's did.  The
 * checks go to c.  cl.lock is held. */
__attribute__((no_sanitize("address", "thread")))
static bool
walk(struct chain *c, const struct ml_capture_regs *r, void *const *frames,
    int total, bool end)
{
	uintptr_t pc = r->ip, sp = r->sp, bp = r->bp, bp_slot = 0;
	bool bp_checked = false;

	for (int i = 1, first = 1;; i++, first = 0) {
		struct rule ru = rule_of(first ? pc : pc - 1);
		uintptr_t cfa;

		if (ru.kind == R_LAST)
			return end && i == total;
		if (ru.kind == R_REFUSE)
			return false;
		if (ru.kind == R_RBP) {
			if (bp_slot == 0) {
				c->use_bp = 1;
				c->bp = r->bp;
			} else if (!bp_checked && !check(c, r, bp_slot, bp)) {
				return false;
			}
			bp_checked = true;
			cfa = bp + (intptr_t)ru.cfa_off;
		} else {
			cfa = sp + (intptr_t)ru.cfa_off;
		}
		if (cfa - 8 < r->sp || !check(c, r, cfa - 8, 0))
			return false;
		pc = c->val[c->n - 1] = *(const uintptr_t *)(cfa - 8);
		if (ru.bp_saved) {
			bp_slot = cfa + (intptr_t)ru.bp_off;
			if (bp_slot < r->sp)
				return false;
			bp = *(const uintptr_t *)bp_slot;
			bp_checked = false;
		}
		sp = cfa;
		if (pc < 0x4000)
			return end && i == total;
		if (i == total || (uintptr_t)frames[i] != pc)
			return false;
		if (i == total - 1 && !end)
			return true;
	}
}

void
ml_capture_learn(const struct ml_capture_regs *r, void *const *frames, int n,
    int size, const void *from, int depth, uint32_t id)
{
	struct chain c;         /* its header set here, its checks by walk() */
	int skip = 1;

	if (!ML_CAPTURE_FAST || id == 0 || depth > UINT8_MAX || r->sp == 0)
		return;
	while (skip < n && frames[skip] != from)
		skip++;
	if (skip >= n)
		return;
	int total = n < skip + depth ? n : skip + depth;
	if (warm < WARM) {
		warm++;
		return;
	}
	/* loaded with no lock of memlease's held (dw.h); the reason it
	 * cannot be is for symbols.c to say */
	bool again;
	const struct ml_dw_fns *fns = ml_dw_load(NULL, 0, &again);
	struct chains *t = chains();
	if (fns == NULL || t == NULL)
		return;
	if (t->credit >= LEARN_COST)
		t->credit -= LEARN_COST;
	else if (++t->misses % LEARN_EVERY != 0)
		return;
	if (pthread_mutex_trylock(&cl.lock) != 0)
		return;
	/* libdw's blocks from memlease's heap (heap.h), not from the
	 * program's arena, whose next allocations they would slow (a
	 * malloc()+free() pair of bench/floors: 22 to 35 ns) */
	bool own = ml_heap_claim(ml_heap_on());
	dw = fns;
	unsigned gen = generation();
	c.n = 0;
	c.use_bp = 0;
	c.bp = 0;
	bool ok = walk(&c, r, frames, total, total == n && n < size);
	objs_close();
	ml_heap_claim(own);
	pthread_mutex_unlock(&cl.lock);
	if (!ok)
		return;
	c.sp = r->sp;
	c.ip = r->ip;
	c.from = (uintptr_t)from;
	c.id = id;
	c.gen = gen;
	c.depth = (uint8_t)depth;
	unsigned s = set_of(r->sp, from);
	struct chain *to = &t->c[s * WAYS + t->next[s]++ % WAYS];
	memcpy(to, &c, offsetof(struct chain, off));
	memcpy(to->off, c.off, c.n * sizeof *c.off);
	memcpy(to->val, c.val, c.n * sizeof *c.val);
}

/* Fork. */

void
ml_capture_lock(void)
{
	pthread_mutex_lock(&cl.lock);
}

void
ml_capture_unlock(void)
{
	pthread_mutex_unlock(&cl.lock);
}

void
ml_capture_reinit_lock(void)
{
	pthread_mutex_init(&cl.lock, NULL);
}
