/*
 * got.c - the relocations of loaded objects, rewritten (see got.h): how a
 * process that memlease was loaded into after it started (memleasectl
 * attach) comes to call memlease's malloc family.  An object calls a
 * function of another through a slot of its GOT, which the dynamic loader
 * filled when it loaded the object (or fills at the first call, when
 * binding lazily): writing the slot again sends every later call of
 * that object elsewhere.  Function pointers taken before (a `malloc`
 * stored in a table, a dlsym() result) still name the C library's:
 * memleasectl(1) says so.
 *
 * The slots of the dynamic section's two tables are walked: DT_JMPREL
 * (the PLT's, R_X86_64_JUMP_SLOT) and DT_RELA (R_X86_64_GLOB_DAT: the C
 * library reaches its own malloc and free so, and code built with
 * -fno-plt).  Slots in the RELRO part of an object are made writable for
 * the time it takes, with the page rounding of the loader (which leaves
 * the last partial page writable), and made read-only again.
 *
 * And the search of the loader for a dlopen() by name, as from the object
 * that called memlease's dlopen() hook (ml_got_search): the C library's
 * dlopen() searches as from its caller, which is memlease there.
 *
 * Never: allocate (this runs inside the dlopen() hook, under the loader's
 * lock, where malloc may be the caller's), or touch the dynamic loader,
 * the vDSO or memlease itself.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <limits.h>
#include <link.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <unistd.h>

#include "got.h"

struct walk {
	const struct ml_got_hook *hooks;
	size_t                    n;
	uintptr_t                 self, loader, vdso, page;
	uintptr_t                 only;   /* an address in the one object
	                                   * to patch, or 0: all */
	int                       written;
};

/* Whether address a is in a loaded segment of the object. */
static bool
holds(const struct dl_phdr_info *info, uintptr_t a)
{
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uintptr_t at = info->dlpi_addr + ph->p_vaddr;

		if (ph->p_type == PT_LOAD && a >= at && a - at < ph->p_memsz)
			return true;
	}
	return false;
}

/* The loader makes most d_ptr values absolute in place; the vDSO's and
 * those of some loaders stay relative to the object's base. */
static uintptr_t
address(uintptr_t base, ElfW(Addr) v)
{
	return v < base ? base + v : v;
}

#if defined(__x86_64__)

/* What an object's dynamic section says of its relocations. */
struct dyn {
	const ElfW(Sym)  *symtab;
	const char       *strtab;
	size_t            strsz;
	const ElfW(Rela) *tab[2];       /* DT_JMPREL, DT_RELA */
	size_t            len[2];       /* their bytes */
	uintptr_t         relro, relro_end;
	bool              opened;       /* the RELRO pages made writable */
};

static bool
read_dyn(const struct dl_phdr_info *info, uintptr_t page, struct dyn *d)
{
	const ElfW(Dyn) *dyn = NULL;
	uintptr_t base = info->dlpi_addr;
	bool rela = true;

	memset(d, 0, sizeof *d);
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];

		if (ph->p_type == PT_DYNAMIC)
			dyn = (const ElfW(Dyn) *)(base + ph->p_vaddr);
		else if (ph->p_type == PT_GNU_RELRO) {
			d->relro = (base + ph->p_vaddr) & ~(page - 1);
			d->relro_end = (base + ph->p_vaddr + ph->p_memsz) &
			    ~(page - 1);
		}
	}
	if (dyn == NULL)
		return false;
	for (; dyn->d_tag != DT_NULL; dyn++) {
		switch (dyn->d_tag) {
		case DT_SYMTAB:
			d->symtab = (const ElfW(Sym) *)address(base,
			    dyn->d_un.d_ptr);
			break;
		case DT_STRTAB:
			d->strtab = (const char *)address(base,
			    dyn->d_un.d_ptr);
			break;
		case DT_STRSZ:
			d->strsz = dyn->d_un.d_val;
			break;
		case DT_JMPREL:
			d->tab[0] = (const ElfW(Rela) *)address(base,
			    dyn->d_un.d_ptr);
			break;
		case DT_PLTRELSZ:
			d->len[0] = dyn->d_un.d_val;
			break;
		case DT_PLTREL:
			rela = dyn->d_un.d_val == DT_RELA;
			break;
		case DT_RELA:
			d->tab[1] = (const ElfW(Rela) *)address(base,
			    dyn->d_un.d_ptr);
			break;
		case DT_RELASZ:
			d->len[1] = dyn->d_un.d_val;
			break;
		}
	}
	if (!rela)
		d->tab[0] = NULL;
	return d->symtab != NULL && d->strtab != NULL;
}

/* The hook named `name`, or NULL. */
static void *
hook_of(const struct walk *w, const char *name)
{
	for (size_t i = 0; i < w->n; i++)
		if (strcmp(w->hooks[i].name, name) == 0)
			return w->hooks[i].fn;
	return NULL;
}

/* Write fn into the slot at a; false if its page could not be opened. */
static bool
store(struct dyn *d, uintptr_t a, void *fn)
{
	void **slot = (void **)a;

	if (__atomic_load_n(slot, __ATOMIC_RELAXED) == fn)
		return true;
	if (a >= d->relro && a < d->relro_end && !d->opened) {
		if (mprotect((void *)d->relro, d->relro_end - d->relro,
		    PROT_READ | PROT_WRITE) != 0)
			return false;
		d->opened = true;
	}
	/* one aligned store: a thread calling through it sees the old
	 * function or the new one */
	__atomic_store_n(slot, fn, __ATOMIC_RELEASE);
	return true;
}

static void
patch(struct walk *w, const struct dl_phdr_info *info)
{
	struct dyn d;

	if (!read_dyn(info, w->page, &d))
		return;
	for (int t = 0; t < 2; t++) {
		size_t count = d.tab[t] != NULL ?
		    d.len[t] / sizeof *d.tab[t] : 0;

		for (size_t i = 0; i < count; i++) {
			const ElfW(Rela) *r = &d.tab[t][i];
			unsigned long type = ELF64_R_TYPE(r->r_info);
			size_t sym = ELF64_R_SYM(r->r_info);
			void *fn;

			if ((type != R_X86_64_JUMP_SLOT &&
			    type != R_X86_64_GLOB_DAT) || sym == 0 ||
			    d.symtab[sym].st_name >= d.strsz)
				continue;
			fn = hook_of(w, d.strtab + d.symtab[sym].st_name);
			if (fn == NULL)
				continue;
			if (!store(&d, info->dlpi_addr + r->r_offset, fn))
				goto done;
			w->written++;
		}
	}
done:
	if (d.opened)
		mprotect((void *)d.relro, d.relro_end - d.relro, PROT_READ);
}

static int
each(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct walk *w = arg;

	(void)size;
	if ((w->self != 0 && holds(info, w->self)) ||
	    info->dlpi_addr == w->loader ||
	    (w->vdso != 0 && holds(info, w->vdso)) ||
	    (w->only != 0 && !holds(info, w->only)))
		return 0;
	patch(w, info);
	return 0;
}

static int
walk(const struct ml_got_hook *hooks, size_t n, const void *self,
    const void *only)
{
	struct walk w = {
		.hooks = hooks, .n = n, .self = (uintptr_t)self,
		.only = (uintptr_t)only,
		.loader = getauxval(AT_BASE),
		.vdso = getauxval(AT_SYSINFO_EHDR),
		.page = getauxval(AT_PAGESZ),
	};

	if (w.page == 0)
		w.page = 4096;
	dl_iterate_phdr(each, &w);
	return w.written;
}

int
ml_got_patch(const struct ml_got_hook *hooks, size_t n, const void *self)
{
	return walk(hooks, n, self, NULL);
}

int
ml_got_patch_object(const void *in, const struct ml_got_hook *hooks,
    size_t n)
{
	return walk(hooks, n, NULL, in);
}

#else

int
ml_got_patch(const struct ml_got_hook *hooks, size_t n, const void *self)
{
	(void)hooks;
	(void)n;
	(void)self;
	(void)holds;
	return -ENOSYS;
}

int
ml_got_patch_object(const void *in, const struct ml_got_hook *hooks,
    size_t n)
{
	(void)in;
	return ml_got_patch(hooks, n, NULL);
}

#endif

/* Whether `file` is in a folder of LD_LIBRARY_PATH. */
static bool
in_library_path(const char *file)
{
	const char *list = getenv("LD_LIBRARY_PATH");
	char path[PATH_MAX];

	while (list != NULL && *list != '\0') {
		size_t len = strcspn(list, ":;");
		if (len > 0 && snprintf(path, sizeof path, "%.*s/%s", (int)len,
		    list, file) < (int)sizeof path && access(path, F_OK) == 0)
			return true;
		list += len + (list[len] != '\0');
	}
	return false;
}

/* The folder of object lm, "$ORIGIN", into out: false if unknown. */
static bool
origin(const struct link_map *lm, char *out, size_t n)
{
	char *slash;
	ssize_t len;

	if (lm->l_name != NULL && lm->l_name[0] == '/') {
		if (snprintf(out, n, "%s", lm->l_name) >= (int)n)
			return false;
	} else {        /* the program's own: "" */
		if ((len = readlink("/proc/self/exe", out, n - 1)) <= 0)
			return false;
		out[len] = '\0';
	}
	if ((slash = strrchr(out, '/')) == NULL)
		return false;
	*slash = '\0';
	return true;
}

bool
ml_got_search(const void *caller, const char *file, char *out, size_t n)
{
	struct link_map *lm = NULL;
	const char *strtab = NULL, *list;
	size_t rpath = 0, runpath = 0;
	char dir[PATH_MAX];
	Dl_info dl;

	if (file == NULL || strchr(file, '/') != NULL ||
	    dladdr1(caller, &dl, (void **)&lm, RTLD_DL_LINKMAP) == 0 ||
	    lm == NULL || lm->l_ld == NULL)
		return false;
	for (const ElfW(Dyn) *d = lm->l_ld; d->d_tag != DT_NULL; d++) {
		if (d->d_tag == DT_STRTAB)
			strtab = (const char *)address(lm->l_addr,
			    d->d_un.d_ptr);
		else if (d->d_tag == DT_RPATH)
			rpath = d->d_un.d_val + 1;
		else if (d->d_tag == DT_RUNPATH)
			runpath = d->d_un.d_val + 1;
	}
	/* DT_RUNPATH hides DT_RPATH, and comes after LD_LIBRARY_PATH */
	if (strtab == NULL || (runpath == 0 && rpath == 0) ||
	    (runpath != 0 && in_library_path(file)))
		return false;
	for (list = strtab + (runpath != 0 ? runpath : rpath) - 1;
	    *list != '\0'; list += *list == ':') {
		size_t len = strcspn(list, ":");
		const char *rest = list;
		int r;

		if (strncmp(list, "$ORIGIN", 7) == 0 ||
		    strncmp(list, "${ORIGIN}", 9) == 0) {
			rest = list + (list[1] == '{' ? 9 : 7);
			if (!origin(lm, dir, sizeof dir))
				rest = NULL;
		} else {
			dir[0] = '\0';
		}
		r = rest == NULL ? -1 : snprintf(out, n, "%s%.*s/%s", dir,
		    (int)(len - (size_t)(rest - list)), rest, file);
		if (len > 0 && r > 0 && (size_t)r < n && access(out, F_OK) == 0)
			return true;
		list += len;
	}
	return false;
}
