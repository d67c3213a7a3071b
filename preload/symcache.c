/*
 * symcache.c - the names of an object's addresses in a file (symcache.h).
 *
 * The file, DIR/symbols-KEY in the socket folder (KEY: the build-id and
 * a hash of the files the names come from, symbols.c), in the machine's
 * byte order (it never leaves the machine):
 *
 *   head     "MLSYMS1\n", then uint32 idlen, nrecs, nfns, strbytes
 *   id       the build-id in hex, idlen bytes, padded with NULs to 8
 *   recs     nrecs x { uint64 offset; uint32 first, n }, by offset
 *   fns      nfns x { uint64 offset; uint32 function, file, line, flags }
 *            (flags: 1 inlined, 2 with an offset, 4 symbol only)
 *   strings  strbytes bytes of NUL-terminated strings; a string is its
 *            index there, NO_STR for none
 *
 * A file is read whole and checked before anything of it is used: the
 * size the counts give, the build-id, every index and count in bounds,
 * the offsets strictly increasing, the last string byte a NUL.  Nothing
 * in it is trusted further: a string is only ever printed.
 *
 * A folder keeps ML_SYMCACHE_KEEP_FILES files and ML_SYMCACHE_KEEP_BYTES
 * at most: each write removes the least recently used beyond that (a
 * read marks a file used: its modification time), so that the folder of
 * a machine's sockets, often in memory, does not fill with the names of
 * every build of every program ever run under memlease.
 *
 * Locking: none; a file read is not changed after.  Allocates; the
 * caller holds the recursion guard.  Opens a file for the time of a read
 * or a write only.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mem.h"
#include "symcache.h"
#include "wire.h"

#define MAGIC       "MLSYMS1\n"
#define NO_STR      UINT32_MAX
#define F_INLINED   1u
#define F_OFFSET    2u
#define F_SYMBOL    4u
#define MAX_STRINGS (16u << 20)
#define MAX_FILE    (64u << 20)
#define TRIM_SCAN   2048        /* files a trim sorts, at most */

struct head {
	char     magic[8];
	uint32_t idlen, nrecs, nfns, strbytes;
};

struct rec {
	uint64_t offset;
	uint32_t first, n;
};

struct fn {
	uint64_t offset;
	uint32_t function, file, line, flags;
};

struct ml_symcache {
	char              *buf;
	const struct rec  *recs;
	const struct fn   *fns;
	const char        *strings;
	struct head        h;
};

static size_t
pad8(size_t n)
{
	return (n + 7) & ~(size_t)7;
}

/* A file's key: lowercase hex and dashes (build-id-hash). */
static bool
id_ok(const char *id)
{
	size_t n = strspn(id, "0123456789abcdef-");

	return n >= 2 && n <= 160 && id[n] == '\0';
}

static int
path_of(char *out, size_t len, const char *dir, const char *id,
    const char *tail)
{
	int n = snprintf(out, len, "%s/symbols-%s%s", dir, id, tail);

	return n > 0 && (size_t)n < len ? 0 : -ENAMETOOLONG;
}

/* Read the file at path whole into *bufp, if it is a regular file of
 * ours that no one else may write or read; its size, or -errno. */
static ssize_t
slurp(const char *path, char **bufp)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK |
	    O_NOCTTY);
	struct stat st;
	ssize_t got = -EINVAL;
	char *buf = NULL;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    st.st_uid != geteuid() || (st.st_mode & 077) != 0 ||
	    st.st_size < (off_t)sizeof(struct head) || st.st_size > MAX_FILE ||
	    (buf = ml_mem_malloc((size_t)st.st_size + 1)) == NULL)
		goto out;
	size_t done = 0;
	while (done <= (size_t)st.st_size) {     /* one byte more: EOF */
		ssize_t r = read(fd, buf + done, (size_t)st.st_size + 1 - done);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		done += (size_t)r;
	}
	if (done == (size_t)st.st_size) {
		futimens(fd, NULL);     /* used: the last a trim removes */
		got = (ssize_t)done;
		*bufp = buf;
		buf = NULL;
	}
out:
	ml_mem_free(buf);
	close(fd);
	return got;
}

static bool
str_ok(const struct ml_symcache *c, uint32_t s)
{
	return s == NO_STR || s < c->h.strbytes;
}

/* Whether the file in c->buf (size bytes) is well made, for id. */
static bool
check(struct ml_symcache *c, size_t size, const char *id)
{
	const struct head *h = &c->h;
	size_t idpad;
	uint64_t want;

	memcpy(&c->h, c->buf, sizeof c->h);
	if (memcmp(h->magic, MAGIC, sizeof h->magic) != 0 ||
	    h->idlen != strlen(id) || h->nrecs > ML_SYMCACHE_MAX_RECS ||
	    h->nfns > (uint64_t)h->nrecs * ML_SYMCACHE_MAX_FNS ||
	    h->strbytes > MAX_STRINGS)
		return false;
	idpad = pad8(h->idlen);
	want = sizeof *h + idpad + (uint64_t)h->nrecs * sizeof(struct rec) +
	    (uint64_t)h->nfns * sizeof(struct fn) + h->strbytes;
	if (want != size || memcmp(c->buf + sizeof *h, id, h->idlen) != 0)
		return false;
	c->recs = (const struct rec *)(c->buf + sizeof *h + idpad);
	c->fns = (const struct fn *)(c->recs + h->nrecs);
	c->strings = (const char *)(c->fns + h->nfns);
	if (h->strbytes > 0 && c->strings[h->strbytes - 1] != '\0')
		return false;
	for (uint32_t i = 0; i < h->nrecs; i++) {
		const struct rec *r = &c->recs[i];
		if (r->n == 0 || r->n > ML_SYMCACHE_MAX_FNS ||
		    r->first > h->nfns || r->n > h->nfns - r->first ||
		    (i > 0 && r->offset <= c->recs[i - 1].offset))
			return false;
	}
	for (uint32_t i = 0; i < h->nfns; i++) {
		const struct fn *f = &c->fns[i];
		if (!str_ok(c, f->function) || !str_ok(c, f->file) ||
		    (f->flags & ~(F_INLINED | F_OFFSET | F_SYMBOL)) != 0)
			return false;
	}
	return true;
}

struct ml_symcache *
ml_symcache_read(const char *dir, const char *build_id)
{
	char path[4096], why[256];
	struct ml_symcache *c;
	ssize_t size;

	if (!id_ok(build_id) ||
	    ml_wire_dir_check(dir, ML_WIRE_SERVER, why, sizeof why) != 0 ||
	    path_of(path, sizeof path, dir, build_id, "") != 0 ||
	    (c = ml_mem_calloc(1, sizeof *c)) == NULL)
		return NULL;
	/* the buffer is malloc()'s: aligned for the 8-byte fields */
	if ((size = slurp(path, &c->buf)) < 0 || !check(c, (size_t)size,
	    build_id)) {
		ml_symcache_free(c);
		return NULL;
	}
	return c;
}

void
ml_symcache_free(struct ml_symcache *c)
{
	if (c != NULL) {
		ml_mem_free(c->buf);
		ml_mem_free(c);
	}
}

static const char *
str_at(const struct ml_symcache *c, uint32_t s)
{
	return s == NO_STR ? NULL : c->strings + s;
}

int
ml_symcache_find(const struct ml_symcache *c, uint64_t offset,
    struct ml_symcache_fn *fns, int max)
{
	size_t lo = 0, hi = c != NULL ? c->h.nrecs : 0;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (c->recs[mid].offset < offset)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (c == NULL || lo == c->h.nrecs || c->recs[lo].offset != offset)
		return 0;
	const struct rec *r = &c->recs[lo];
	int n = (int)r->n < max ? (int)r->n : max;
	for (int k = 0; k < n; k++) {
		const struct fn *f = &c->fns[r->first + k];
		fns[k] = (struct ml_symcache_fn){
			.function = str_at(c, f->function),
			.file = str_at(c, f->file),
			.offset = f->offset,
			.line = f->line,
			.with_offset = (f->flags & F_OFFSET) != 0,
			.inlined = (f->flags & F_INLINED) != 0,
			.symbol_only = (f->flags & F_SYMBOL) != 0,
		};
	}
	return n;
}

/* --- writing ------------------------------------------------------------ */

/* The file being made: its parts in memory, strings shared by a hash. */
struct out {
	struct rec  *recs;
	struct fn   *fns;
	char        *strings;
	uint32_t    *slots;         /* string index + 1; 0: empty */
	size_t       nrecs, nfns, strbytes, strcap, nslots, nstr;
	bool         full;          /* no more room */
};

static uint32_t
out_str(struct out *o, const char *s)
{
	if (s == NULL)
		return NO_STR;
	size_t len = strlen(s) + 1, h = 5381;
	for (const char *p = s; *p != '\0'; p++)
		h = h * 33 + (unsigned char)*p;
	for (size_t i = h & (o->nslots - 1);; i = (i + 1) & (o->nslots - 1)) {
		if (o->slots[i] == 0) {
			if (o->strbytes + len > MAX_STRINGS ||
			    2 * (o->nstr + 1) > o->nslots) {
				o->full = true;
				return NO_STR;
			}
			if (o->strbytes + len > o->strcap) {
				size_t cap = o->strcap * 2 + len;
				char *p = ml_mem_realloc(o->strings, cap);
				if (p == NULL) {
					o->full = true;
					return NO_STR;
				}
				o->strings = p;
				o->strcap = cap;
			}
			memcpy(o->strings + o->strbytes, s, len);
			o->slots[i] = (uint32_t)o->strbytes + 1;
			o->strbytes += len;
			o->nstr++;
			return o->slots[i] - 1;
		}
		if (strcmp(o->strings + o->slots[i] - 1, s) == 0)
			return o->slots[i] - 1;
	}
}

/* Add a record; false when the file is full. */
static bool
out_rec(struct out *o, uint64_t offset, const struct ml_symcache_fn *fns,
    int n)
{
	if (o->full || o->nrecs == ML_SYMCACHE_MAX_RECS)
		return false;
	struct rec *r = &o->recs[o->nrecs];
	r->offset = offset;
	r->first = (uint32_t)o->nfns;
	r->n = (uint32_t)n;
	for (int k = 0; k < n; k++) {
		struct fn *f = &o->fns[o->nfns + k];
		f->offset = fns[k].offset;
		f->function = out_str(o, fns[k].function);
		f->file = out_str(o, fns[k].file);
		f->line = fns[k].line;
		f->flags = (fns[k].inlined ? F_INLINED : 0) |
		    (fns[k].with_offset ? F_OFFSET : 0) |
		    (fns[k].symbol_only ? F_SYMBOL : 0);
	}
	if (o->full)
		return false;
	o->nfns += (size_t)n;
	o->nrecs++;
	return true;
}

static int
rec_cmp(const void *a, const void *b)
{
	const struct ml_symcache_rec *x = *(const struct ml_symcache_rec *const *)a;
	const struct ml_symcache_rec *y = *(const struct ml_symcache_rec *const *)b;

	if (x->offset != y->offset)
		return x->offset < y->offset ? -1 : 1;
	return x < y ? -1 : x > y;      /* the first given first */
}

static int
write_all(int fd, const void *p, size_t n)
{
	const char *s = p;

	while (n > 0) {
		ssize_t w = write(fd, s, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Write o as the file of id in dir: a file of its own, then renamed. */
static int
out_write(const struct out *o, const char *dir, const char *id)
{
	char path[4096], tmp[4096], tail[64];
	static const char zeros[8];
	struct head h = { .idlen = (uint32_t)strlen(id),
	    .nrecs = (uint32_t)o->nrecs, .nfns = (uint32_t)o->nfns,
	    .strbytes = (uint32_t)o->strbytes };
	int fd, err = 0;

	memcpy(h.magic, MAGIC, sizeof h.magic);
	snprintf(tail, sizeof tail, ".%ld.tmp", (long)getpid());
	if (path_of(path, sizeof path, dir, id, "") != 0 ||
	    path_of(tmp, sizeof tmp, dir, id, tail) != 0)
		return -ENAMETOOLONG;
	for (int tries = 0;; tries++) {
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
		    O_CLOEXEC | O_NOCTTY, 0600);
		/* one left by a process of this pid that died: ours to drop */
		if (fd >= 0 || errno != EEXIST || tries > 0 || unlink(tmp) != 0)
			break;
	}
	if (fd < 0)
		return -errno;
	if (write_all(fd, &h, sizeof h) != 0 ||
	    write_all(fd, id, h.idlen) != 0 ||
	    write_all(fd, zeros, pad8(h.idlen) - h.idlen) != 0 ||
	    write_all(fd, o->recs, o->nrecs * sizeof *o->recs) != 0 ||
	    write_all(fd, o->fns, o->nfns * sizeof *o->fns) != 0 ||
	    write_all(fd, o->strings, o->strbytes) != 0)
		err = -(errno != 0 ? errno : EIO);
	if (close(fd) != 0 && err == 0)
		err = -errno;
	if (err == 0 && rename(tmp, path) != 0)
		err = -errno;
	if (err != 0)
		unlink(tmp);
	return err;
}

/* Trimming the folder. */

struct cached {
	struct timespec used;
	off_t           size;
	char            name[8 + 160 + 1];      /* "symbols-" and a key */
};

/* A cache file of this user's in the folder: its size and time in *c. */
static bool
cached(DIR *d, const struct dirent *de, struct cached *c)
{
	struct stat st;

	if (strncmp(de->d_name, "symbols-", 8) != 0 || !id_ok(de->d_name + 8) ||
	    fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
	    !S_ISREG(st.st_mode) || st.st_uid != geteuid())
		return false;
	c->used = st.st_mtim;
	c->size = st.st_size;
	return true;
}

static int
older(const void *a, const void *b)
{
	const struct timespec *x = &((const struct cached *)a)->used;
	const struct timespec *y = &((const struct cached *)b)->used;

	if (x->tv_sec != y->tv_sec)
		return x->tv_sec < y->tv_sec ? -1 : 1;
	return (x->tv_nsec > y->tv_nsec) - (x->tv_nsec < y->tv_nsec);
}

/* The cache files of dir beyond the folder's budget, least recently used
 * first, removed; never the file of key, just written. */
static void
trim(const char *dir, const char *key)
{
	DIR *d = opendir(dir);
	struct cached c, *v = NULL;
	struct dirent *de;
	size_t n = 0, m = 0;
	uint64_t bytes = 0;

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL)
		if (cached(d, de, &c)) {
			n++;
			bytes += (uint64_t)c.size;
		}
	if ((n <= ML_SYMCACHE_KEEP_FILES && bytes <= ML_SYMCACHE_KEEP_BYTES) ||
	    (v = ml_mem_calloc(TRIM_SCAN, sizeof *v)) == NULL)
		goto out;
	rewinddir(d);
	while (m < TRIM_SCAN && (de = readdir(d)) != NULL)
		if (cached(d, de, &v[m]) && strcmp(de->d_name + 8, key) != 0)
			memcpy(v[m++].name, de->d_name, strlen(de->d_name) + 1);
	qsort(v, m, sizeof *v, older);
	for (size_t i = 0; i < m && (n > ML_SYMCACHE_KEEP_FILES ||
	    bytes > ML_SYMCACHE_KEEP_BYTES); i++)
		if (unlinkat(dirfd(d), v[i].name, 0) == 0) {
			n--;    /* (a file may have grown since it was counted) */
			bytes -= (uint64_t)v[i].size < bytes ?
			    (uint64_t)v[i].size : bytes;
		}
out:
	ml_mem_free(v);
	closedir(d);
}

int
ml_symcache_write(const char *dir, const char *build_id,
    const struct ml_symcache_rec *recs, size_t n)
{
	char why[256];
	struct ml_symcache *old;
	struct ml_symcache_fn fns[ML_SYMCACHE_MAX_FNS];
	const struct ml_symcache_rec **by = NULL;
	struct out o = { 0 };
	int err = -ENOMEM;

	if (!id_ok(build_id))
		return -EINVAL;
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return -errno;
	if (ml_wire_dir_check(dir, ML_WIRE_SERVER, why, sizeof why) != 0)
		return -EACCES;
	old = ml_symcache_read(dir, build_id);
	size_t nold = old != NULL ? old->h.nrecs : 0;
	size_t max = n + nold < ML_SYMCACHE_MAX_RECS ? n + nold :
	    ML_SYMCACHE_MAX_RECS;
	o.nslots = 4096;
	while (o.nslots < 4 * max)
		o.nslots *= 2;
	if ((by = ml_mem_calloc(n ? n : 1, sizeof *by)) == NULL ||
	    (o.recs = ml_mem_calloc(max ? max : 1, sizeof *o.recs)) == NULL ||
	    (o.fns = ml_mem_calloc(max ? max * ML_SYMCACHE_MAX_FNS : 1,
	    sizeof *o.fns)) == NULL ||
	    (o.slots = ml_mem_calloc(o.nslots, sizeof *o.slots)) == NULL)
		goto out;
	for (size_t i = 0; i < n; i++)
		by[i] = &recs[i];
	qsort(by, n, sizeof *by, rec_cmp);
	/* by offset, the two lists merged: the new first at an offset */
	size_t i = 0, k = 0;
	while (i < n || k < nold) {
		uint64_t at = i < n && (k == nold ||
		    by[i]->offset <= old->recs[k].offset) ?
		    by[i]->offset : old->recs[k].offset;
		bool added;
		int m = 0;
		if (k < nold && old->recs[k].offset == at)
			m = ml_symcache_find(old, at, fns, ML_SYMCACHE_MAX_FNS);
		/* a record from DWARF is not replaced by a symbol's */
		if (i < n && by[i]->offset == at && (m == 0 || by[i]->n <= 0 ||
		    !by[i]->fns[0].symbol_only || fns[0].symbol_only)) {
			int nn = by[i]->n < ML_SYMCACHE_MAX_FNS ? by[i]->n :
			    ML_SYMCACHE_MAX_FNS;
			added = nn <= 0 || out_rec(&o, at, by[i]->fns, nn);
		} else {
			added = out_rec(&o, at, fns, m);
		}
		if (!added)
			break;
		while (i < n && by[i]->offset == at)
			i++;
		while (k < nold && old->recs[k].offset == at)
			k++;
	}
	if ((err = out_write(&o, dir, build_id)) == 0)
		trim(dir, build_id);
out:
	ml_symcache_free(old);
	ml_mem_free(by);
	ml_mem_free(o.recs);
	ml_mem_free(o.fns);
	ml_mem_free(o.slots);
	ml_mem_free(o.strings);
	return err;
}
