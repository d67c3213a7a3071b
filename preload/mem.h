/*
 * mem.h - memlease's own memory: entry blocks, the stack table, the symbol
 * cache, labels, the pointer map, rules, reports, the server's buffers.
 *
 * Every allocation memlease makes for itself goes through here: from the
 * next allocator (real.h), never tagged, and a fault point (fault.h), so
 * that a fault-injection build can make any of them fail.  The host's own
 * blocks (untagged or tagged) never come from here: they go to ml_real_*
 * and do not fail but as the next allocator does.  A failure sets errno
 * to ENOMEM, as the C library's functions do.
 */
#ifndef ML_MEM_H
#define ML_MEM_H

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>

#include "fault.h"
#include "real.h"

static inline bool
ml_mem_fail(void)
{
	if (!ml_fault_fail())
		return false;
	errno = ENOMEM;
	return true;
}

static inline void *
ml_mem_malloc(size_t n)
{
	return ml_mem_fail() ? NULL : ml_real_malloc(n);
}

static inline void *
ml_mem_calloc(size_t n, size_t size)
{
	return ml_mem_fail() ? NULL : ml_real_calloc(n, size);
}

/* As realloc(); on failure p is left as it was. */
static inline void *
ml_mem_realloc(void *p, size_t n)
{
	return ml_mem_fail() ? NULL : ml_real_realloc(p, n);
}

static inline void
ml_mem_free(void *p)
{
	ml_real_free(p);
}

char *ml_mem_strdup(const char *s);
/* As asprintf(): the length, or -1 (and *out NULL) if out of memory. */
int   ml_mem_asprintf(char **out, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif /* ML_MEM_H */
