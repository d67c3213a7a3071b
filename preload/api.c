/*
 * api.c - the public memlease_* functions: arguments checked, errors made
 * the contract's, and the work left to the runtime (runtime.h) and, for
 * memlease_adopt(), to the tracking layer.
 *
 * Owns: nothing but the checks.  Lease buffers are allocated here (never
 * by the core) and freed by the runtime, outside every lock.  Never:
 * hold a lock, or keep state of its own.
 */
#define _GNU_SOURCE
#include <errno.h>

#include "clock.h"
#include "core.h"
#include "init.h"
#include "mem.h"
#include "real.h"
#include "runtime.h"
#include "tag.h"

static inline int
ready(void)
{
	return ml_init_ready();
}

memlease_t
memlease_alloc(size_t size, uint64_t ttl_ms, unsigned releases, void **bufp)
{
	void *buf;
	int r;

	if ((r = ready()) != 0) {
		errno = -r;
		return 0;
	}
	if (size > ML_MAX_SIZE || (buf = ml_mem_malloc(size ? size : 1)) == NULL) {
		errno = ENOMEM;
		return 0;
	}
	memlease_t h = ml_runtime_add_now(buf, size, ttl_ms, releases,
	    ML_KIND_BUFFER, ml_runtime_capture(__builtin_return_address(0)));
	if (h == 0) {
		int err = errno;
		ml_mem_free(buf);
		errno = err;
		return 0;
	}
	if (bufp != NULL)
		*bufp = buf;
	return h;
}

memlease_t
memlease_adopt(void *p, uint64_t ttl_ms, unsigned releases)
{
	memlease_t h;
	int r;

	if ((r = ready()) != 0) {
		errno = -r;
		return 0;
	}
	if (p == NULL || ml_boot_owns(p)) {
		errno = EINVAL;
		return 0;
	}
	r = ml_tag_adopt(p, ttl_ms, releases,
	    ml_runtime_capture(__builtin_return_address(0)), &h);
	if (r != 0) {
		errno = -r;
		return 0;
	}
	return h;
}

void *
memlease_get(memlease_t h, size_t *sizep)
{
	if (ready() != 0) {
		errno = ESTALE;
		return NULL;
	}
	return ml_core_get(ml_runtime_core(), h, sizep);
}

void *
memlease_pin(memlease_t h, size_t *sizep)
{
	if (ready() != 0) {
		errno = ESTALE;
		return NULL;
	}
	return ml_core_pin(ml_runtime_core(), h, sizep);
}

int
memlease_unpin(memlease_t h)
{
	struct ml_ended e;
	uint64_t now = ml_clock_ms();
	int r;

	if ((r = ready()) != 0)
		return r;
	if ((r = ml_core_unpin(ml_runtime_core(), h, now, &e)) != 1)
		return r;
	ml_runtime_finish(&e, now);
	return 0;
}

int
memlease_release(memlease_t h)
{
	struct ml_ended e;
	int r;

	if ((r = ready()) != 0)
		return r;
	if ((r = ml_core_release(ml_runtime_core(), h, &e)) != 1)
		return r;
	ml_runtime_finish(&e, 0);
	return 0;
}

int
memlease_renew(memlease_t h, uint64_t ttl_ms)
{
	int r;

	if ((r = ready()) != 0)
		return r;
	return ml_runtime_renew(h, ttl_ms);
}

int
memlease_set_releases(memlease_t h, unsigned releases)
{
	int r;

	if ((r = ready()) != 0)
		return r;
	return ml_core_set_releases(ml_runtime_core(), h, releases);
}

int
memlease_set_label(memlease_t h, const char *label)
{
	int r;

	if ((r = ready()) != 0)
		return r;
	return ml_core_set_label(ml_runtime_core(), h, label);
}

int
memlease_set_report(memlease_t h, bool on)
{
	int r;

	if ((r = ready()) != 0)
		return r;
	return ml_core_set_report(ml_runtime_core(), h, on);
}

int
memlease_on_expire(memlease_expire_fn fn, void *arg)
{
	int r;

	if ((r = ready()) != 0)
		return r;
	ml_runtime_set_hook(fn, arg);
	return 0;
}

int
memlease_expire_due(void)
{
	int r;

	if ((r = ready()) != 0)
		return r;
	return ml_runtime_expire_due();
}

int64_t
memlease_next_deadline_ms(void)
{
	if (ready() != 0)
		return -1;
	return ml_core_next_deadline(ml_runtime_core(), ml_clock_ms());
}

int
memlease_stats(struct memlease_stats *st)
{
	int r;

	if (st == NULL)
		return -EINVAL;
	if ((r = ready()) != 0)
		return r;
	ml_runtime_stats(st);
	return 0;
}

int
memlease_trim(void)
{
	int r;

	if ((r = ready()) != 0)
		return r;
	return ml_runtime_trim();
}
