/*
 * symcache.h - the names of an object's addresses kept in a file, keyed by
 * the object's build-id, so that the processes of the same binaries (the
 * children of a fork, each compiler of a make) name a frame once between
 * them.  The file is a cache: one that is missing, another user's, open
 * to others, or malformed in any way is not read, and nothing else comes
 * of it.
 */
#ifndef ML_SYMCACHE_H
#define ML_SYMCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One function at an address, as symbols.h's ml_symbols_fn. */
struct ml_symcache_fn {
	const char *function;   /* NULL: none */
	const char *file;       /* NULL: none */
	uint64_t    offset;     /* from its symbol, if with_offset */
	unsigned    line;
	bool        with_offset;
	bool        inlined;
	bool        symbol_only;    /* named from a symbol table alone, no
	                             * DWARF read: not for a report */
};

/* The functions at one address of an object (its offset from the
 * object's base, of the call: ip - 1). */
struct ml_symcache_rec {
	uint64_t                     offset;
	int                          n;
	const struct ml_symcache_fn *fns;
};

#define ML_SYMCACHE_MAX_FNS  32         /* functions at one address */
#define ML_SYMCACHE_MAX_RECS 65536      /* addresses in one file */
#define ML_SYMCACHE_KEEP_FILES 256      /* files in a folder, at most */
#define ML_SYMCACHE_KEEP_BYTES (32u << 20)      /* and bytes */

/* A file read; its strings live as long as it does. */
struct ml_symcache;

/*
 * The file of build_id (a key of lowercase hex and dashes: symbols.c
 * adds a hash of the files the names come from) in folder dir, read and
 * checked whole: NULL when there is none or it is not to be trusted (not a
 * regular file of this user's, closed to group and others, of a sane
 * size) or not well made (another build-id, a count, an index or a
 * string out of its bounds, addresses out of order).  Allocates.
 */
struct ml_symcache *ml_symcache_read(const char *dir, const char *build_id);
void                ml_symcache_free(struct ml_symcache *c);

/* The functions at offset, into fns[max] (innermost first); how many,
 * 0 if the file has not that address. */
int                 ml_symcache_find(const struct ml_symcache *c,
                        uint64_t offset, struct ml_symcache_fn *fns,
                        int max);

/*
 * Write the file of build_id in dir: the records of recs[n] (any order;
 * those of the same offset, the first wins), with those of the file there
 * now that recs does not have or has symbol_only, up to
 * ML_SYMCACHE_MAX_RECS.  Written
 * whole to a file of its own (0600, never through a link) then renamed
 * over the old one, so that a reader sees the old file or the new.  The
 * folder must be one ml_wire_dir_check() accepts.  Then the folder's
 * least recently used files beyond ML_SYMCACHE_KEEP_FILES and
 * ML_SYMCACHE_KEEP_BYTES are removed.  0, or -errno.
 */
int                 ml_symcache_write(const char *dir, const char *build_id,
                        const struct ml_symcache_rec *recs, size_t n);

#endif /* ML_SYMCACHE_H */
