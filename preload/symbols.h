/*
 * symbols.h - names for return addresses: the object and its offset, the
 * function only when it is known for certain, file:line, and the
 * functions inlined at the address (libdw's libdwfl, with the objects'
 * separate debug files).
 */
#ifndef ML_SYMBOLS_H
#define ML_SYMBOLS_H

#include <stdbool.h>
#include <stdint.h>

/* One function at an address: the innermost inlined one first, the
 * function whose code it is last. */
struct ml_symbols_fn {
	const char *function;   /* NULL: not known for certain */
	uintptr_t   offset;     /* from its symbol; with_offset */
	bool        with_offset;
	const char *file;       /* NULL: no line information */
	unsigned    line;       /* 0: not known */
	bool        inlined;    /* inlined into the next one */
};

/* What is known of a return address; the strings and fns[] live as long
 * as the process. */
struct ml_symbols_addr {
	uintptr_t   ip;
	const char *object;         /* path; NULL: in no object known */
	uintptr_t   object_offset;  /* of the call (ip - 1), from the
	                             * object's base: what addr2line takes */
	const char *build_id;       /* hex; NULL: the object has none */
	int         n;              /* fns, at least 1 */
	const struct ml_symbols_fn *fns;
};

/*
 * Name a return address (cached: the first time takes the objects' ELF
 * and DWARF data, tens of microseconds, and in the process's first frame
 * named so, the dlopen() of libdw; then a lookup).  False when out of
 * memory: then nothing is named this once.  May allocate a lot (libdw)
 * and waits for the loader's lock: callers hold the recursion guard and
 * no lock of memlease's (report.c's aside: see symbols.c); never on the
 * allocation path.
 */
bool        ml_symbols_get(uintptr_t ip, struct ml_symbols_addr *a);

/* The function whose code holds return address ip by its symbol alone
 * (no DWARF is read: for the rules' caller=), NULL if no symbol covers
 * it, and its object (NULL: none known); false when out of memory.  May
 * load libdw, as ml_symbols_get(). */
bool        ml_symbols_symbol(uintptr_t ip, const char **function,
                const char **object);

/* The path of the object holding the code of return address ip, or NULL
 * (cheap: the loader's table, no ELF or DWARF read, no lock of memlease's
 * taken: for the allocation path). */
const char *ml_symbols_object(uintptr_t ip);

/* Whether return address ip is in memlease's own code (cheap). */
bool        ml_symbols_own(uintptr_t ip);

/*
 * Cache files (symcache.h): the names of each object with a build-id are
 * read from, and ml_symbols_save() writes them to, a file of folder dir;
 * NULL: none.  By default, the socket folder (wire.h's ml_wire_dir()).
 * Set before names are asked for.
 */
void        ml_symbols_cache(const char *dir);
/* Write the names learned here, merged with those of the files, for the
 * next process of the same objects (at exit). */
void        ml_symbols_save(void);
/* The same if names were learned a while ago (250 ms) and not written
 * since, and no other thread is naming: for memlease's thread, now and
 * then. */
void        ml_symbols_flush(void);

/* How memlease says (once) that libdw cannot be loaded, and its frames
 * are not named: its diagnostics (report.h).  NULL, the default: not
 * said. */
void        ml_symbols_say(void (*say)(const char *fmt, ...));

/* Fork */
void        ml_symbols_lock(void);
void        ml_symbols_unlock(void);
void        ml_symbols_reinit_lock(void);

#endif /* ML_SYMBOLS_H */
