/*
 * symbols.c - names for return addresses (see symbols.h).
 *
 * The objects of the process come from dl_iterate_phdr(), listed again
 * when the loader's counts of loads and unloads change; one Dwfl (elfutils'
 * libdwfl) is told of them all and finds their separate debug files by
 * build-id or .gnu_debuglink under /usr/lib/debug.  At an address, as
 * addr2line -f -i prints it: the functions from DWARF, the innermost
 * inlined one first, with file:line from the line table for the innermost
 * and the call sites (DW_AT_call_file, DW_AT_call_line) for the others.
 * Without DWARF, the name of a symbol whose size covers the address (the
 * object's .symtab, its .gnu_debugdata, its debug file's, else .dynsym),
 * or none: the nearest symbol below an address in a stripped object is
 * another function's.
 *
 * Costs: reading an object's symbols and DWARF the first time (libc's
 * debug file: milliseconds, some MiB); then tens of microseconds a new
 * address; an address named before is a hash lookup.  Results are kept for
 * the life of the process (those of an object unloaded are not used again).
 *
 * libdw is not linked: it is loaded (dw.h) when the first frame must be
 * named from an object's file.  A frame named before in this process, or
 * found in its object's cache file, or in no object, or in one without a
 * file (the vDSO), needs none: a process whose frames are all in the
 * cache files (a compiler under make, run again) never maps libdw.  If it
 * cannot be loaded, frames have no names (OBJECT+0xOFFSET, as in a
 * stripped object), said once (ml_symbols_say()), and nothing is written
 * to the cache files.
 *
 * Descriptors: libdw keeps the files it reads open; they are opened high
 * (obj_opened()), never at numbers the program expects.
 *
 * Locking: `sy.lock` guards all of it, the Dwfl included (libdw is not
 * thread-safe), and is held while a frame is named: the first frames of
 * an object, a quarter of a second.  The allocation path never waits for
 * it: the object of a call site (object= rules, ml_symbols_object()) comes
 * from the loader's table (object.h).  dl_iterate_phdr() and object.h
 * are called without it: a thread in dlopen() holds the loader's lock,
 * and may be allocating and asking for a name at that very moment.  The
 * dlopen() of libdw too (load_dw(): the lock let go, and taken again),
 * for the same reason: frames are named on memlease's thread (reports,
 * show, listings by stack, MEMLEASE_SKIP) but also on the program's, on
 * the allocation path under caller= rules, which may be inside dlopen(),
 * and where a program ends leases itself (memlease_expire_due(), at
 * exit).  No gate of stacks.h is held while naming (a gate holder takes
 * nothing else).  A caller may hold report.c's lock: the one thread that
 * could wait for it while holding the loader's lock reports expiries
 * from inside the loader (memlease_expire_due() in a library's
 * constructor) just as the first frame of the process is named on
 * another thread.  Everything here may allocate, libdw much, dlopen()
 * some: callers hold the recursion guard.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <dwarf.h>
#include <link.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dw.h"
#include "fd.h"
#include "mem.h"
#include "symcache.h"
#include "object.h"
#include "symbols.h"
#include "wire.h"

#define MAX_FNS ML_SYMCACHE_MAX_FNS  /* at an address: inlined, and one */

struct cu_index;

/* A function symbol with a size. */
struct sym {
	uintptr_t   lo, size;       /* in the process */
	const char *name;           /* libdw's, while the module lives */
	uint32_t    index;          /* in the symbol table: ties go to the
	                             * first, as addr2line does */
	bool        local;          /* after a global one at its address */
};

/* An object loaded at one place; never freed (entries point to it). */
struct object {
	uintptr_t    lo, hi;        /* its PT_LOAD segments, in the process */
	uintptr_t    base;          /* dlpi_addr: the load bias */
	char        *path;
	char        *build_id;      /* hex, NULL */
	Dwfl_Module *dm;            /* NULL: not reported (vDSO, no file) */
	bool         live;          /* still loaded */
	bool         reported;      /* to the Dwfl (dm: its module) */
	bool         syms_read;
	bool         dwarf_read;
	bool         cache_read;    /* its cache file, if any, read */
	bool         learned;       /* named here what its file may not have */
	struct ml_symcache *cache;  /* its cache file; NULL: none */
	char         cache_key[160]; /* its name: see cache_key() */
	struct sym  *syms;          /* by address */
	size_t       nsyms;
	struct cu_index **cus;      /* CU_BUCKETS, by CU; NULL: none yet */
};

/* A named address. */
struct entry {
	struct entry          *next;
	struct object         *obj;
	unsigned long long     subs;  /* for obj NULL: valid while the same */
	bool                   full;  /* else its symbol only, no DWARF */
	struct ml_symbols_addr a;
	struct ml_symbols_fn   fns[];
};

static struct {
	pthread_mutex_t  lock;
	Dwfl            *dwfl;
	bool             failed;      /* no Dwfl: names from nothing */
	struct object  **objs;        /* the live ones, by address */
	size_t           nobjs;
	unsigned long long adds, subs;  /* of the list in objs */
	bool             listed;
	bool             gone;        /* objects it knows that are gone */
	struct entry   **bucket;
	size_t           nbuckets, count;
	int              cache;       /* 0: not yet known, 1: cache_dir,
	                               * -1: no cache files */
	char             cache_dir[PATH_MAX];
	bool             unsaved;     /* an object learned names */
	uint64_t         saved_ms;    /* when they were last written */
	void           (*say)(const char *fmt, ...);   /* ml_symbols_say() */
} sy = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* libdw (dw.h), NULL until a frame needs it; set and read under the lock. */
static const struct ml_dw_fns *dw;

/* --- the objects ------------------------------------------------------ */

/* The path of the executable (dl_iterate_phdr() names it ""). */
static char exe_path[PATH_MAX];
static pthread_once_t exe_once = PTHREAD_ONCE_INIT;

static void
exe_init(void)
{
	ssize_t n = readlink("/proc/self/exe", exe_path, sizeof exe_path - 1);

	exe_path[n > 0 ? n : 0] = '\0';
}

/* An object as dl_iterate_phdr() shows it, copied out of its callback. */
struct seen {
	uintptr_t lo, hi, base;
	char     *path;
	char     *build_id;     /* hex, NULL */
};

struct listing {
	struct seen       *v;
	size_t             n, cap;
	unsigned long long adds, subs;
	bool               nomem;
};

static int
count_cb(struct dl_phdr_info *info, size_t size, void *data)
{
	struct listing *l = data;

	(void)size;
	l->adds = info->dlpi_adds;
	l->subs = info->dlpi_subs;
	return 1;
}

/* The build-id of an object, in hex, from its notes in memory (no file
 * read): NULL when it has none (or out of memory). */
static char *
note_build_id(const struct dl_phdr_info *info)
{
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		size_t align = ph->p_align == 8 ? 8 : 4;
		if (ph->p_type != PT_NOTE)
			continue;
		const char *p = (const char *)(info->dlpi_addr + ph->p_vaddr);
		const char *end = p + ph->p_memsz;
		while ((size_t)(end - p) >= sizeof(ElfW(Nhdr))) {
			const ElfW(Nhdr) *nh = (const ElfW(Nhdr) *)p;
			const char *name = p + sizeof *nh;
			size_t namesz = (nh->n_namesz + align - 1) & ~(align - 1);
			size_t descsz = (nh->n_descsz + align - 1) & ~(align - 1);
			if ((size_t)(end - name) < namesz ||
			    (size_t)(end - name) - namesz < descsz)
				break;
			const unsigned char *desc =
			    (const unsigned char *)name + namesz;
			if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 &&
			    memcmp(name, "GNU", 4) == 0 && nh->n_descsz > 0 &&
			    nh->n_descsz <= 64) {
				char *s = ml_mem_malloc(2 * nh->n_descsz + 1);
				if (s == NULL)
					return NULL;
				for (size_t k = 0; k < nh->n_descsz; k++) {
					s[2 * k] = "0123456789abcdef"[desc[k] >> 4];
					s[2 * k + 1] =
					    "0123456789abcdef"[desc[k] & 15];
				}
				s[2 * nh->n_descsz] = '\0';
				return s;
			}
			p = name + namesz + descsz;
		}
	}
	return NULL;
}

static int
list_cb(struct dl_phdr_info *info, size_t size, void *data)
{
	struct listing *l = data;
	uintptr_t lo = UINTPTR_MAX, hi = 0;

	(void)size;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_LOAD)
			continue;
		uintptr_t a = info->dlpi_addr + ph->p_vaddr;
		if (a < lo)
			lo = a;
		if (a + ph->p_memsz > hi)
			hi = a + ph->p_memsz;
	}
	if (hi == 0)
		return 0;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 32;
		struct seen *v = ml_mem_realloc(l->v, cap * sizeof *v);
		if (v == NULL)
			goto nomem;
		l->v = v;
		l->cap = cap;
	}
	const char *path = info->dlpi_name;
	if (path == NULL || path[0] == '\0')
		path = exe_path;
	struct seen *s = &l->v[l->n];
	if ((s->path = ml_mem_strdup(path)) == NULL)
		goto nomem;
	s->lo = lo;
	s->hi = hi;
	s->base = info->dlpi_addr;
	s->build_id = note_build_id(info);
	l->n++;
	return 0;
nomem:
	l->nomem = true;
	return 1;
}

static void
listing_free(struct listing *l)
{
	for (size_t i = 0; i < l->n; i++) {
		ml_mem_free(l->v[i].path);
		ml_mem_free(l->v[i].build_id);
	}
	ml_mem_free(l->v);
}

static int
obj_cmp(const void *a, const void *b)
{
	const struct object *x = *(struct object *const *)a;
	const struct object *y = *(struct object *const *)b;

	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

static void cus_free(struct object *o);

static void
obj_forget(struct object *o)
{
	o->live = false;
	o->dm = NULL;
	o->reported = false;
	ml_mem_free(o->syms);
	o->syms = NULL;
	o->nsyms = 0;
	ml_symcache_free(o->cache);
	o->cache = NULL;
	o->learned = false;
	cus_free(o);
}

static char *
hex_build_id(Dwfl_Module *dm)
{
	const unsigned char *bits;
	GElf_Addr vaddr;
	int len = dw->dwfl_module_build_id(dm, &bits, &vaddr);
	char *s;

	if (len <= 0 || (s = ml_mem_malloc(2 * (size_t)len + 1)) == NULL)
		return NULL;
	for (int i = 0; i < len; i++) {
		s[2 * i] = "0123456789abcdef"[bits[i] >> 4];
		s[2 * i + 1] = "0123456789abcdef"[bits[i] & 15];
	}
	s[2 * len] = '\0';
	return s;
}

static bool
has_file(const char *path)
{
	return path[0] == '/' || strchr(path, '/') != NULL;
}

/* Make the objects those of l; the lock is held.  Objects still loaded
 * keep their module (and the symbols and DWARF read for it); the Dwfl is
 * told later (report()), when a name is needed. */
static void
apply(struct listing *l)
{
	struct object **objs = ml_mem_calloc(l->n ? l->n : 1, sizeof *objs);
	size_t n = 0;

	if (objs == NULL)
		return;
	for (size_t i = 0; i < l->n; i++) {
		struct seen *s = &l->v[i];
		struct object *o = NULL;
		for (size_t k = 0; k < sy.nobjs && o == NULL; k++) {
			struct object *x = sy.objs[k];
			if (x->live && x->lo == s->lo && x->base == s->base &&
			    strcmp(x->path, s->path) == 0)
				o = x;
		}
		if (o == NULL) {
			o = ml_mem_calloc(1, sizeof *o);
			if (o == NULL)
				continue;
			o->lo = s->lo;
			o->hi = s->hi;
			o->base = s->base;
			o->path = s->path;
			s->path = NULL;
			o->build_id = s->build_id;
			s->build_id = NULL;
			o->live = true;
		}
		objs[n++] = o;
	}
	for (size_t k = 0; k < sy.nobjs; k++) {
		bool kept = false;
		for (size_t i = 0; i < n && !kept; i++)
			kept = objs[i] == sy.objs[k];
		if (!kept) {
			obj_forget(sy.objs[k]);
			sy.gone = true;
		}
	}
	qsort(objs, n, sizeof *objs, obj_cmp);
	ml_mem_free(sy.objs);
	sy.objs = objs;
	sy.nobjs = n;
	sy.adds = l->adds;
	sy.subs = l->subs;
	sy.listed = true;
}

/* Tell the Dwfl of object want (its file opened, its ELF headers read:
 * only the objects whose frames are named are); the lock is held.  After
 * unloads, those reported before are reported again (they keep their
 * module). */
static void
report(struct object *want)
{
	if (sy.gone)
		dw->dwfl_report_begin(sy.dwfl);
	else
		dw->dwfl_report_begin_add(sy.dwfl);
	for (size_t i = 0; i < sy.nobjs; i++) {
		struct object *o = sy.objs[i];
		if (o->dm != NULL && sy.gone) {
			const char *name;
			Dwarf_Addr lo, hi;
			name = dw->dwfl_module_info(o->dm, NULL, &lo, &hi, NULL,
			    NULL, NULL, NULL);
			o->dm = dw->dwfl_report_module(sy.dwfl, name, lo, hi);
		} else if (o == want && !o->reported && has_file(o->path)) {
			o->dm = dw->dwfl_report_elf(sy.dwfl, o->path, o->path,
			    -1, o->base, false);
			if (o->dm != NULL && o->build_id == NULL)
				o->build_id = hex_build_id(o->dm);
		}
	}
	if (want != NULL)
		want->reported = true;
	dw->dwfl_report_end(sy.dwfl, NULL, NULL);
	sy.gone = false;
}

static char *debuginfo_path;    /* NULL: :.debug:/usr/lib/debug */

/* Whether dir/[sub/]name exists. */
static bool
exists(const char *dir, size_t dirlen, const char *sub, const char *name)
{
	char path[PATH_MAX];
	int n = snprintf(path, sizeof path, "%.*s%s/%s", (int)dirlen, dir, sub,
	    name);

	return n > 0 && (size_t)n < sizeof path && access(path, F_OK) == 0;
}

/*
 * An object's debug file: by its build-id under /usr/lib/debug/.build-id,
 * else by its .gnu_debuglink where gdb and libdw look (beside it, in its
 * .debug folder, under /usr/lib/debug), found and checked (build-id or
 * CRC) by libdw.  Never debuginfod: libdw asks it when all else fails,
 * which loads libdebuginfod (and libcurl) into the program, and may go to
 * the network; here, no file there is no file.
 */
static int
find_debuginfo(Dwfl_Module *mod, void **userdata, const char *modname,
    Dwarf_Addr base, const char *file_name, const char *debuglink,
    GElf_Word crc, char **debuginfo_file_name)
{
	int fd = dw->dwfl_build_id_find_debuginfo(mod, userdata, modname, base,
	    file_name, debuglink, crc, debuginfo_file_name);
	const char *slash;

	if (fd >= 0 || debuglink == NULL || file_name == NULL ||
	    (slash = strrchr(file_name, '/')) == NULL)
		return fd;
	size_t dirlen = (size_t)(slash - file_name);
	char lib[PATH_MAX];
	int n = snprintf(lib, sizeof lib, "/usr/lib/debug%.*s", (int)dirlen,
	    file_name);
	if (exists(file_name, dirlen, "", debuglink) ||
	    exists(file_name, dirlen, "/.debug", debuglink) ||
	    (n > 0 && (size_t)n < sizeof lib &&
	    exists(lib, (size_t)n, "", debuglink)) ||
	    exists("/usr/lib/debug", 14, "", debuglink))
		return dw->dwfl_standard_find_debuginfo(mod, userdata, modname,
		    base, file_name, debuglink, crc, debuginfo_file_name);
	return -1;
}

static Dwfl_Callbacks dwfl_callbacks = {   /* .find_elf: libdw's, loaded */
	.find_debuginfo = find_debuginfo,
	.debuginfo_path = &debuginfo_path,
};

/* Bring the objects up to date with the loader's (no lock held); then
 * returns with the lock held. */
static void
lock_current(void)
{
	struct listing l = { 0 };

	pthread_once(&exe_once, exe_init);
	dl_iterate_phdr(count_cb, &l);
	pthread_mutex_lock(&sy.lock);
	if (sy.listed && sy.adds == l.adds && sy.subs == l.subs)
		return;
	pthread_mutex_unlock(&sy.lock);
	l.adds = l.subs = 0;
	dl_iterate_phdr(count_cb, &l);
	dl_iterate_phdr(list_cb, &l);
	pthread_mutex_lock(&sy.lock);
	if (!l.nomem)
		apply(&l);
	listing_free(&l);
}

/* The live object holding pc; the lock is held. */
static struct object *
obj_at(uintptr_t pc)
{
	size_t lo = 0, hi = sy.nobjs;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (sy.objs[mid]->lo <= pc)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return NULL;
	struct object *o = sy.objs[lo - 1];
	return pc < o->hi ? o : NULL;
}

/* The object of return address ip by the loader's own table (never
 * memlease's lock: the allocation path must not wait for a thread that
 * names frames), or NULL. */
static const struct link_map *
loaded_at(uintptr_t ip)
{
	return ml_object_of((void *)(ip - 1));
}

const char *
ml_symbols_object(uintptr_t ip)
{
	const struct link_map *map = loaded_at(ip);

	if (map == NULL)
		return NULL;
	if (map->l_name == NULL || map->l_name[0] == '\0') {
		pthread_once(&exe_once, exe_init);      /* the executable */
		return exe_path;
	}
	return map->l_name;
}

bool
ml_symbols_own(uintptr_t ip)
{
	const struct link_map *map = loaded_at(ip);

	return map != NULL && map == loaded_at((uintptr_t)ml_symbols_own + 1);
}

/* --- symbol tables ---------------------------------------------------- */

static int
sym_cmp(const void *a, const void *b)
{
	const struct sym *x = a, *y = b;

	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	if (x->size != y->size)             /* the largest first */
		return x->size > y->size ? -1 : 1;
	if (x->local != y->local)           /* the global name of aliases */
		return x->local ? 1 : -1;
	return x->index < y->index ? -1 : x->index > y->index;
}

/* The object's function symbols with a size, by address, read once. */
static void
syms_read(struct object *o)
{
	int n = dw->dwfl_module_getsymtab(o->dm);

	o->syms_read = true;
	if (n <= 0 || (o->syms = ml_mem_malloc(n * sizeof *o->syms)) == NULL)
		return;
	for (int i = 1; i < n; i++) {
		GElf_Sym s;
		GElf_Addr addr;
		GElf_Word shndx;
		const char *name = dw->dwfl_module_getsym_info(o->dm, i, &s,
		    &addr, &shndx, NULL, NULL);
		int type = GELF_ST_TYPE(s.st_info);
		if (name == NULL || name[0] == '\0' || s.st_size == 0 ||
		    shndx == SHN_UNDEF || (type != STT_FUNC &&
		    type != STT_GNU_IFUNC && type != STT_NOTYPE))
			continue;
		o->syms[o->nsyms++] = (struct sym){ addr, s.st_size, name,
		    (uint32_t)i, GELF_ST_BIND(s.st_info) == STB_LOCAL };
	}
	qsort(o->syms, o->nsyms, sizeof *o->syms, sym_cmp);
}

/* The symbol that begins nearest below pc, if its size covers pc. */
static const struct sym *
sym_at(struct object *o, uintptr_t pc)
{
	size_t lo = 0, hi;

	hi = o->nsyms;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (o->syms[mid].lo <= pc)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return NULL;
	const struct sym *s = &o->syms[lo - 1];
	while (s > o->syms && s[-1].lo == s->lo)
		s--;
	return pc < s->lo + s->size ? s : NULL;
}

/* --- DWARF ------------------------------------------------------------ */

/* A function's name as addr2line prints it: its linkage name, else its
 * name, through DW_AT_abstract_origin and DW_AT_specification. */
static const char *
die_string(Dwarf_Die *die, unsigned int name)
{
	Dwarf_Attribute a;

	return dw->dwarf_formstring(dw->dwarf_attr_integrate(die, name, &a));
}

static const char *
die_name(Dwarf_Die *die)
{
	const char *name = die_string(die, DW_AT_linkage_name);

	if (name == NULL)
		name = die_string(die, DW_AT_MIPS_linkage_name);
	if (name == NULL)
		name = die_string(die, DW_AT_name);
	return name;
}

static bool
is_function(Dwarf_Die *die)
{
	int tag = dw->dwarf_tag(die);

	return tag == DW_TAG_subprogram || tag == DW_TAG_inlined_subroutine ||
	    tag == DW_TAG_entry_point;
}

/* DIEs that may hold code, and those that hold such DIEs but no code of
 * their own (C++ namespaces and classes; lexical blocks without
 * addresses, as in abstract instances). */
static bool
holds_code(Dwarf_Die *die, int tag)
{
	return tag == DW_TAG_subprogram || tag == DW_TAG_inlined_subroutine ||
	    tag == DW_TAG_entry_point || tag == DW_TAG_try_block ||
	    tag == DW_TAG_catch_block || tag == DW_TAG_with_stmt ||
	    (tag == DW_TAG_lexical_block && (dw->dwarf_hasattr(die,
	    DW_AT_low_pc) || dw->dwarf_hasattr(die, DW_AT_ranges)));
}

static bool
holds_scopes(int tag)
{
	return tag == DW_TAG_namespace || tag == DW_TAG_module ||
	    tag == DW_TAG_class_type || tag == DW_TAG_structure_type ||
	    tag == DW_TAG_union_type || tag == DW_TAG_lexical_block;
}

#define MAX_DEPTH 128

/* Down from die, the scopes holding pc into path[n...]: the new n. */
static int
walk(Dwarf_Die *die, Dwarf_Addr pc, Dwarf_Die *path, int n)
{
	Dwarf_Die child;

	if (n == MAX_DEPTH || dw->dwarf_child(die, &child) != 0)
		return n;
	do {
		int tag = dw->dwarf_tag(&child);
		if (holds_code(&child, tag)) {
			if (dw->dwarf_haspc(&child, pc) > 0) {
				path[n] = child;
				return walk(&child, pc, path, n + 1);
			}
		} else if (holds_scopes(tag) &&
		    dw->dwarf_haschildren(&child) > 0) {
			int m = walk(&child, pc, path, n);
			if (m > n)
				return m;
		}
	} while (dw->dwarf_siblingof(&child, &child) == 0);
	return n;
}

/*
 * The index of a CU: each address range of each DIE at its top that holds
 * code (through namespaces, classes and address-less lexical blocks, as
 * walk() goes), by address, made at the CU's first frame.  Walking a
 * CU's top DIEs is most of what a frame costs (a C library CU has
 * thousands); the index finds the function of pc at once, and walk()
 * goes on down from it only.
 */
struct top {
	Dwarf_Addr lo, hi;
	Dwarf_Off  off;
};

struct cu_index {
	struct cu_index *next;
	Dwarf_Off        cu;
	size_t           n, cap;
	struct top      *v;
	bool             short_;    /* out of memory: walk the CU instead */
};

#define CU_BUCKETS 256

static void
cus_free(struct object *o)
{
	for (size_t b = 0; o->cus != NULL && b < CU_BUCKETS; b++)
		for (struct cu_index *x = o->cus[b], *next; x != NULL;
		    x = next) {
			next = x->next;
			ml_mem_free(x->v);
			ml_mem_free(x);
		}
	ml_mem_free(o->cus);
	o->cus = NULL;
}

static void
tops_add(struct cu_index *x, Dwarf_Addr lo, Dwarf_Addr hi, Dwarf_Off off)
{
	if (x->n == x->cap) {
		size_t cap = x->cap ? 2 * x->cap : 64;
		struct top *v = ml_mem_realloc(x->v, cap * sizeof *v);
		if (v == NULL) {
			x->short_ = true;
			return;
		}
		x->v = v;
		x->cap = cap;
	}
	x->v[x->n++] = (struct top){ lo, hi, off };
}

static void
tops_collect(Dwarf_Die *die, struct cu_index *x, int depth)
{
	Dwarf_Die child;

	if (depth == MAX_DEPTH || dw->dwarf_child(die, &child) != 0)
		return;
	do {
		int tag = dw->dwarf_tag(&child);
		if (holds_code(&child, tag)) {
			Dwarf_Addr base, lo, hi;
			ptrdiff_t at = 0;
			while ((at = dw->dwarf_ranges(&child, at, &base, &lo,
			    &hi)) > 0)
				if (hi > lo)
					tops_add(x, lo, hi,
					    dw->dwarf_dieoffset(&child));
		} else if (holds_scopes(tag) &&
		    dw->dwarf_haschildren(&child) > 0) {
			tops_collect(&child, x, depth + 1);
		}
	} while (dw->dwarf_siblingof(&child, &child) == 0);
}

static int
top_cmp(const void *a, const void *b)
{
	const struct top *x = a, *y = b;

	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/* The index of cu in o, made if need be; NULL when out of memory. */
static struct cu_index *
cu_index_of(struct object *o, Dwarf_Die *cu)
{
	Dwarf_Off off = dw->dwarf_dieoffset(cu);
	size_t b = (size_t)((off * 0x9e3779b97f4a7c15u) >> 56) % CU_BUCKETS;
	struct cu_index *x;

	if (o->cus == NULL &&
	    (o->cus = ml_mem_calloc(CU_BUCKETS, sizeof *o->cus)) == NULL)
		return NULL;
	for (x = o->cus[b]; x != NULL; x = x->next)
		if (x->cu == off)
			return x->short_ ? NULL : x;
	if ((x = ml_mem_calloc(1, sizeof *x)) == NULL)
		return NULL;
	x->cu = off;
	tops_collect(cu, x, 0);
	qsort(x->v, x->n, sizeof *x->v, top_cmp);
	x->next = o->cus[b];
	o->cus[b] = x;
	return x->short_ ? NULL : x;
}

/* Down from the top DIE of the index that holds pc: the new n, 0 if none
 * does; -1 without an index. */
static int
walk_indexed(struct object *o, Dwarf_Die *cu, Dwarf_Addr pc,
    Dwarf_Die *path)
{
	struct cu_index *x = cu_index_of(o, cu);
	size_t lo = 0, hi;

	if (x == NULL)
		return -1;
	hi = x->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (x->v[mid].lo <= pc)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* ranges of DIEs at the top do not overlap: the one below pc */
	if (lo == 0 || pc >= x->v[lo - 1].hi ||
	    dw->dwarf_offdie(dw->dwarf_cu_getdwarf(cu->cu), x->v[lo - 1].off,
	    &path[0]) == NULL)
		return 0;
	return walk(&path[0], pc, path, 1);
}

/*
 * As dwarf_getscopes_die() on the innermost concrete scope holding pc
 * (that scope first, the CU last, in *chainp, to be freed), found in one
 * walk down the CU that enters only the DIEs holding pc (from the CU's
 * index), where dwarf_getscopes() then dwarf_getscopes_die() walk it
 * twice.  0 when no function of the CU holds pc (its code may be in a
 * partial unit it imports, as dwz makes them): the caller asks libdw.
 */
static int
concrete_chain(struct object *o, Dwarf_Die *cu, Dwarf_Addr pc,
    Dwarf_Die **chainp)
{
	Dwarf_Die path[MAX_DEPTH];
	int n = walk_indexed(o, cu, pc, path);
	Dwarf_Die *chain;

	if (n < 0)
		n = walk(cu, pc, path, 0);

	if (n == 0 ||
	    (chain = ml_mem_malloc((n + 1) * sizeof *chain)) == NULL)
		return 0;
	for (int i = 0; i < n; i++)
		chain[i] = path[n - 1 - i];
	chain[n] = *cu;
	*chainp = chain;
	return n + 1;
}

/* What DWARF knows of pc: up to MAX_FNS functions, innermost first, into
 * fns[]: their names, and for each but the innermost the line of the call
 * inlined in it (the innermost's line is the line table's, set by the
 * caller).  Returns how many; 0: no function of DWARF's holds pc. */
static int
dwarf_fns(struct object *o, uintptr_t pc, struct ml_symbols_fn *fns)
{
	const int max = MAX_FNS;
	Dwfl_Module *dm = o->dm;
	Dwarf_Addr bias = 0;
	Dwarf_Die *cu = dw->dwfl_module_addrdie(dm, pc, &bias);
	Dwarf_Die *scopes = NULL, *chain = NULL, concrete;
	Dwarf_Files *files = NULL;
	Dwarf *dbg;
	struct { const char *file; unsigned line; } call[MAX_FNS];
	int n = 0, nchain;

	if (cu == NULL)
		goto out;
	if ((nchain = concrete_chain(o, cu, pc - bias, &chain)) > 0)
		goto named;
	if (dw->dwarf_getscopes(cu, pc - bias, &scopes) <= 0)
		goto out;
	/* dwarf_getscopes() goes from an inlined subroutine to its abstract
	 * origin; the parents of the concrete DIE are the call chain. */
	if ((dbg = dw->dwfl_module_getdwarf(dm, &bias)) == NULL ||
	    dw->dwarf_offdie(dbg, dw->dwarf_dieoffset(&scopes[0]),
	    &concrete) == NULL)
		goto out;
	nchain = dw->dwarf_getscopes_die(&concrete, &chain);
named:
	if (dw->dwarf_getsrcfiles(cu, &files, NULL) != 0)
		files = NULL;
	for (int i = 0; i < nchain && n < max; i++) {
		Dwarf_Die *d = &chain[i];
		if (!is_function(d))
			continue;
		fns[n] = (struct ml_symbols_fn){ .function = die_name(d) };
		if (n > 0) {    /* called at the call site of the one before */
			fns[n].file = call[n - 1].file;
			fns[n].line = call[n - 1].line;
		}
		if (dw->dwarf_tag(d) != DW_TAG_inlined_subroutine) {
			n++;
			break;
		}
		Dwarf_Attribute a;
		Dwarf_Word v;
		fns[n].inlined = true;
		call[n].file = NULL;
		call[n].line = 0;
		if (files != NULL && dw->dwarf_formudata(dw->dwarf_attr(d,
		    DW_AT_call_file, &a), &v) == 0)
			call[n].file = dw->dwarf_filesrc(files, v, NULL, NULL);
		if (dw->dwarf_formudata(dw->dwarf_attr(d, DW_AT_call_line,
		    &a), &v) == 0)
			call[n].line = (unsigned)v;
		n++;
	}
out:
	/* libdw's blocks came through the shim with the guard held (every
	 * naming does), so from the next allocator, as ml_mem_malloc()'s */
	ml_mem_free(scopes);
	ml_mem_free(chain);
	return n;
}

/* --- naming, and the cache -------------------------------------------- */

static const char *
keep(const char *s, bool *whole)
{
	char *p;

	if (s == NULL)
		return NULL;
	if ((p = ml_mem_strdup(s)) == NULL)
		*whole = false;
	return p;
}

/* A function's name without the version a symbol table's may carry
 * (__libc_start_main@@GLIBC_2.34). */
static const char *
keep_name(const char *s, bool *whole)
{
	char *p;
	size_t n;

	if (s == NULL)
		return NULL;
	n = strcspn(s, "@");
	if ((p = ml_mem_malloc(n + 1)) == NULL) {
		*whole = false;
		return NULL;
	}
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

/* A file of the line table as addr2line prints it: a relative one under
 * its compilation directory. */
static const char *
keep_file(const char *dir, const char *file, bool *whole)
{
	char *p;

	if (file == NULL || file[0] == '/' || dir == NULL)
		return keep(file, whole);
	size_t nd = strlen(dir), nf = strlen(file);
	if ((p = ml_mem_malloc(nd + nf + 2)) == NULL) {
		*whole = false;
		return NULL;
	}
	memcpy(p, dir, nd);
	p[nd] = '/';
	memcpy(p + nd + 1, file, nf + 1);
	return p;
}

static void
entry_free(struct entry *e)
{
	for (int k = 0; k < e->a.n; k++) {
		ml_mem_free((char *)e->fns[k].function);
		ml_mem_free((char *)e->fns[k].file);
	}
	ml_mem_free(e);
}

static struct entry *make_entry(struct object *o, uintptr_t ip, bool full,
    const struct ml_symbols_fn *fns, int n, const char *dir);

/* Name return address ip, in o or in no object known, from DWARF and the
 * symbols, or (!full) from the symbols alone; the lock is held.  NULL when
 * out of memory. */
static struct entry *
name(struct object *o, uintptr_t ip, bool full)
{
	uintptr_t pc = ip - 1;      /* the call, not what follows it */
	struct ml_symbols_fn fns[MAX_FNS] = { { 0 } };
	const char *dir = NULL;
	int n = 1;

	if (o != NULL && o->dm != NULL && !full) {
		const struct sym *s = sym_at(o, pc);

		fns[0].function = s != NULL ? s->name : NULL;
		fns[0].offset = s != NULL ? ip - s->lo : 0;
		fns[0].with_offset = s != NULL;
	} else if (o != NULL && o->dm != NULL) {
		const struct sym *s = sym_at(o, pc);
		Dwfl_Line *line = dw->dwfl_module_getsrc(o->dm, pc);
		Dwarf_Addr bias;
		Dwarf_Die *cu = dw->dwfl_module_addrdie(o->dm, pc, &bias);
		Dwarf_Attribute attr;
		int lineno = 0;

		if (cu != NULL)
			dir = dw->dwarf_formstring(dw->dwarf_attr(cu,
			    DW_AT_comp_dir, &attr));

		if ((n = dwarf_fns(o, pc, fns)) == 0) {
			fns[0].function = s != NULL ? s->name : NULL;
			n = 1;
		}
		if (s != NULL && !fns[n - 1].inlined) {
			fns[n - 1].offset = ip - s->lo;
			fns[n - 1].with_offset = true;
		}
		fns[0].file = line == NULL ? NULL : dw->dwfl_lineinfo(line,
		    NULL, &lineno, NULL, NULL, NULL);
		fns[0].line = fns[0].file != NULL && lineno > 0 ?
		    (unsigned)lineno : 0;
	}
	return make_entry(o, ip, full, fns, n, dir);
}

/* An entry for ip in o (or none), of fns[n], their strings copied (the
 * relative files under dir); NULL when out of memory. */
static struct entry *
make_entry(struct object *o, uintptr_t ip, bool full,
    const struct ml_symbols_fn *fns, int n, const char *dir)
{
	uintptr_t pc = ip - 1;
	struct entry *e = ml_mem_calloc(1, sizeof *e + n * sizeof *fns);
	bool whole = true;

	if (e == NULL)
		return NULL;
	e->obj = o;
	e->subs = sy.subs;
	e->full = full;
	e->a = (struct ml_symbols_addr){
		.ip = ip,
		.object = o != NULL ? o->path : NULL,
		.object_offset = o != NULL ? pc - o->base : 0,
		.build_id = o != NULL ? o->build_id : NULL,
		.n = n,
		.fns = e->fns,
	};
	for (int k = 0; k < n; k++) {
		e->fns[k] = fns[k];
		e->fns[k].function = keep_name(fns[k].function, &whole);
		e->fns[k].file = keep_file(dir, fns[k].file, &whole);
	}
	if (!whole) {
		entry_free(e);
		return NULL;
	}
	return e;
}

static size_t
bucket_of(uintptr_t ip, size_t nbuckets)
{
	return (size_t)((ip * 0x9e3779b97f4a7c15u) >> 32) & (nbuckets - 1);
}

/* The entry of ip, full or of its symbol only (full: either) */
static struct entry *
find(uintptr_t ip, bool full)
{
	if (sy.nbuckets == 0)
		return NULL;
	for (struct entry *e = sy.bucket[bucket_of(ip, sy.nbuckets)];
	    e != NULL; e = e->next)
		if (e->a.ip == ip && (e->full || !full) &&
		    (e->obj != NULL ? e->obj->live : e->subs == sy.subs))
			return e;
	return NULL;
}

/* Keep e; false when out of memory. */
static bool
insert(struct entry *e)
{
	if (sy.count >= sy.nbuckets) {
		size_t nb = sy.nbuckets ? sy.nbuckets * 2 : 64;
		struct entry **b = ml_mem_calloc(nb, sizeof *b);
		if (b == NULL && sy.nbuckets == 0)
			return false;
		if (b != NULL) {        /* else longer chains */
			for (size_t i = 0; i < sy.nbuckets; i++) {
				struct entry *x, *next;
				for (x = sy.bucket[i]; x != NULL; x = next) {
					next = x->next;
					size_t k = bucket_of(x->a.ip, nb);
					x->next = b[k];
					b[k] = x;
				}
			}
			ml_mem_free(sy.bucket);
			sy.bucket = b;
			sy.nbuckets = nb;
		}
	}
	size_t k = bucket_of(e->a.ip, sy.nbuckets);
	e->next = sy.bucket[k];
	sy.bucket[k] = e;
	sy.count++;
	return true;
}

/*
 * libdw opens the objects' files, and their debug files, and keeps them
 * open: outside memlease's thread (whose descriptor table is its own),
 * that is done above the numbers the program expects to get (fd.h), once
 * for each object.  The lock is held; `opening` is its argument.
 */
static struct object *opening;

static void
open_dwfl(void)
{
	if (sy.dwfl == NULL) {
		dwfl_callbacks.find_elf = dw->dwfl_build_id_find_elf;
		sy.dwfl = dw->dwfl_begin(&dwfl_callbacks);
	}
	if (sy.dwfl != NULL)
		report(opening);
}

static void
open_symbols(void)
{
	syms_read(opening);
}

static void
open_dwarf(void)
{
	Dwarf_Addr bias;

	opening->dwarf_read = true;
	dw->dwfl_module_getdwarf(opening->dm, &bias);
}

static void
run_high(void (*fn)(void))
{
	if (ml_fd_own)
		fn();
	else
		ml_fd_run_high(fn);
}

/* The object of pc, its files open (its debug file too if dwarf); the
 * lock is held. */
static struct object *
obj_opened(uintptr_t pc, bool dwarf)
{
	struct object *o = obj_at(pc);

	if (o == NULL || dw == NULL)    /* dw: see lookup_one() */
		return o;
	opening = o;
	if (sy.dwfl == NULL || sy.gone || !o->reported)
		run_high(open_dwfl);
	if (o->dm == NULL)
		return o;
	if (!o->syms_read)
		run_high(open_symbols);
	if (dwarf && !o->dwarf_read)
		run_high(open_dwarf);
	return o;
}

/* --- the cache files ------------------------------------------------- */

/* Mix the identity of the file at path (or that there is none) into h. */
static uint64_t
mix_file(uint64_t h, const char *path)
{
	struct stat st;
	uint64_t v[5] = { 0 };

	if (stat(path, &st) == 0) {
		v[0] = st.st_dev;
		v[1] = st.st_ino;
		v[2] = (uint64_t)st.st_size;
		v[3] = (uint64_t)st.st_mtim.tv_sec;
		v[4] = (uint64_t)st.st_mtim.tv_nsec;
	}
	for (size_t i = 0; i < sizeof v; i++) {      /* FNV-1a */
		h ^= ((const unsigned char *)v)[i];
		h *= UINT64_C(0x100000001b3);
	}
	return h;
}

/*
 * The name of o's cache file: its build-id, and a hash of what its names
 * are made from: its file, and its debug file by build-id (or that there
 * is none).  A copy of the object stripped or not, or a debug file
 * installed since, is another file: the names of one are never taken for
 * the other's.  False when o has no build-id.
 */
static bool
cache_key(struct object *o)
{
	char debug[PATH_MAX];

	if (o->cache_key[0] != '\0')
		return true;
	if (o->build_id == NULL || strlen(o->build_id) < 3 ||
	    strlen(o->build_id) + 18 > sizeof o->cache_key)
		return false;
	uint64_t h = mix_file(UINT64_C(0xcbf29ce484222325), o->path);
	snprintf(debug, sizeof debug, "/usr/lib/debug/.build-id/%.2s/%s.debug",
	    o->build_id, o->build_id + 2);
	h = mix_file(h, debug);
	snprintf(o->cache_key, sizeof o->cache_key, "%s-%016llx", o->build_id,
	    (unsigned long long)h);
	return true;
}

/* Names learned are written SAVE_MS after the first of them at the
 * latest, not only at exit: the processes running beside this one (the
 * compilers of a make -j) read them sooner. */
#define SAVE_MS 250

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Whether names are cached in files, in the socket folder unless
 * ml_symbols_cache() said otherwise; the lock is held. */
static bool
cache_on(void)
{
	if (sy.cache == 0)
		sy.cache = ml_wire_dir(sy.cache_dir, sizeof sy.cache_dir) == 0 ?
		    1 : -1;
	return sy.cache > 0;
}

/* The entry of ip in o from o's cache file (read the first time), NULL
 * when the file has not ip (or, full, has its symbol's name only); the
 * lock is held. */
static struct entry *
from_file(struct object *o, uintptr_t ip, bool full)
{
	struct ml_symcache_fn got[MAX_FNS];
	struct ml_symbols_fn fns[MAX_FNS];
	int n;

	if (o == NULL || !cache_on() || !cache_key(o))
		return NULL;
	if (!o->cache_read) {
		o->cache_read = true;
		o->cache = ml_symcache_read(sy.cache_dir, o->cache_key);
	}
	if ((n = ml_symcache_find(o->cache, ip - 1 - o->base, got,
	    MAX_FNS)) == 0 || (full && got[0].symbol_only))
		return NULL;
	for (int k = 0; k < n; k++)
		fns[k] = (struct ml_symbols_fn){
			.function = got[k].function, .file = got[k].file,
			.offset = got[k].offset, .with_offset = got[k].with_offset,
			.line = got[k].line, .inlined = got[k].inlined,
		};
	return make_entry(o, ip, !got[0].symbol_only, fns, n, NULL);
}

void
ml_symbols_cache(const char *dir)
{
	pthread_mutex_lock(&sy.lock);
	sy.cache = dir != NULL && strlen(dir) < sizeof sy.cache_dir ? 1 : -1;
	if (sy.cache > 0)
		strcpy(sy.cache_dir, dir);
	pthread_mutex_unlock(&sy.lock);
}

/* Write the cache file of o: the addresses named in o, full; the lock is
 * held. */
static void
save(struct object *o)
{
	struct ml_symcache_rec *recs = ml_mem_calloc(sy.count ? sy.count : 1,
	    sizeof *recs);
	struct ml_symcache_fn *fns = ml_mem_calloc(sy.count ? sy.count *
	    MAX_FNS : 1, sizeof *fns);
	size_t n = 0, nfns = 0;

	for (size_t b = 0; recs != NULL && fns != NULL && b < sy.nbuckets;
	    b++)
		for (struct entry *e = sy.bucket[b]; e != NULL; e = e->next) {
			/* by its symbol only: if no entry has more */
			if (e->obj != o || (!e->full && find(e->a.ip, true)))
				continue;
			recs[n] = (struct ml_symcache_rec){
				.offset = e->a.object_offset, .n = e->a.n,
				.fns = &fns[nfns],
			};
			for (int k = 0; k < e->a.n; k++)
				fns[nfns++] = (struct ml_symcache_fn){
					.function = e->fns[k].function,
					.file = e->fns[k].file,
					.offset = e->fns[k].offset,
					.line = e->fns[k].line,
					.with_offset = e->fns[k].with_offset,
					.inlined = e->fns[k].inlined,
					.symbol_only = !e->full,
				};
			n++;
		}
	if (n > 0 && cache_key(o))
		ml_symcache_write(sy.cache_dir, o->cache_key, recs, n);
	ml_mem_free(recs);
	ml_mem_free(fns);
}

/* Write the files of the objects that learned names; the lock is held. */
static void
save_learned(void)
{
	for (size_t i = 0; cache_on() && i < sy.nobjs; i++) {
		struct object *o = sy.objs[i];
		if (o->learned && o->build_id != NULL) {
			save(o);
			o->learned = false;
		}
	}
	sy.unsaved = false;
	sy.saved_ms = now_ms();
}

void
ml_symbols_flush(void)
{
	if (pthread_mutex_trylock(&sy.lock) != 0)
		return;
	if (sy.unsaved && now_ms() - sy.saved_ms >= SAVE_MS)
		save_learned();
	pthread_mutex_unlock(&sy.lock);
}

void
ml_symbols_save(void)
{
	/* a thread left naming at exit (memlease's, given up on by
	 * the loop's stop) holds the lock: the files are not written */
	if (pthread_mutex_trylock(&sy.lock) != 0)
		return;
	save_learned();
	pthread_mutex_unlock(&sy.lock);
}

/*
 * libdw, to name a frame of o from its file: loaded the first time, with
 * the lock let go (dw.c says why) and taken again.  A libdw that cannot
 * be loaded is said once; frames are then named as in an object without
 * symbols: OBJECT+0xOFFSET.  False when out of memory: nothing is named
 * this once.
 */
static bool
load_dw(const struct object *o)
{
	void (*say)(const char *, ...) = sy.say;
	const struct ml_dw_fns *fns;
	char why[256];
	bool again;

	if (dw != NULL || o == NULL || !has_file(o->path))
		return true;
	pthread_mutex_unlock(&sy.lock);
	fns = ml_dw_load(why, sizeof why, &again);
	if (why[0] != '\0' && say != NULL)
		say("cannot load %s (%s): frames are not named", ML_DW_SONAME,
		    why);
	pthread_mutex_lock(&sy.lock);
	if (fns != NULL)
		dw = fns;
	return !again;
}

/* The entry of ip, full or not, named now if need be (from the object's
 * cache file, else from its ELF and DWARF: libdw is loaded then); the
 * lock is held, and let go for a moment the first time.  NULL when out
 * of memory. */
static struct entry *
lookup_one(uintptr_t ip, bool full)
{
	struct entry *e;
	struct object *o;

	if ((e = find(ip, full)) != NULL)
		return e;
	if ((e = from_file(obj_at(ip - 1), ip, full)) == NULL) {
		if (!load_dw(obj_at(ip - 1)))
			return NULL;
		if ((e = find(ip, full)) != NULL)   /* named meanwhile */
			return e;
		o = obj_opened(ip - 1, full);
		e = name(o, ip, full);
		if (e != NULL && o != NULL && o->dm != NULL) {
			if (!sy.unsaved)        /* SAVE_MS from the first */
				sy.saved_ms = now_ms();
			o->learned = sy.unsaved = true;
		}
	}
	if (e != NULL && !insert(e)) {
		entry_free(e);
		e = NULL;
	}
	return e;
}

/* The entry of ip, named now if need be; returns with the lock held.
 * NULL when out of memory. */
static struct entry *
lookup(uintptr_t ip, bool full)
{
	struct entry *e;

	lock_current();
	if ((e = find(ip, full)) != NULL)
		return e;
	/* the C library's start-up frames by their symbols, even for a
	 * report: their DWARF is the C library's debug file's, a dozen MiB
	 * once decompressed, for frames text leaves out */
	if (full && (e = lookup_one(ip, false)) != NULL &&
	    ml_wire_startup_frame(e->fns[e->a.n - 1].function))
		return e;
	return lookup_one(ip, full);
}
bool
ml_symbols_get(uintptr_t ip, struct ml_symbols_addr *a)
{
	static const struct ml_symbols_fn nothing;
	struct entry *e = lookup(ip, true);

	if (e != NULL)
		*a = e->a;
	else
		*a = (struct ml_symbols_addr){ .ip = ip, .n = 1,
		    .fns = &nothing };
	if (sy.unsaved && now_ms() - sy.saved_ms >= SAVE_MS)
		save_learned();
	pthread_mutex_unlock(&sy.lock);
	return e != NULL;
}

bool
ml_symbols_symbol(uintptr_t ip, const char **function, const char **object)
{
	struct entry *e = lookup(ip, false);

	*object = e != NULL ? e->a.object : NULL;
	*function = e != NULL ? e->fns[e->a.n - 1].function : NULL;
	pthread_mutex_unlock(&sy.lock);
	return e != NULL;
}

void
ml_symbols_say(void (*say)(const char *fmt, ...))
{
	pthread_mutex_lock(&sy.lock);
	sy.say = say;
	pthread_mutex_unlock(&sy.lock);
}

void
ml_symbols_lock(void)
{
	pthread_mutex_lock(&sy.lock);
}

void
ml_symbols_unlock(void)
{
	pthread_mutex_unlock(&sy.lock);
}

void
ml_symbols_reinit_lock(void)
{
	pthread_mutex_init(&sy.lock, NULL);
}
