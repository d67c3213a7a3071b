/*
 * api.h - what the rest of libmemlease (and the tests) may ask of the
 * public API layer.
 */
#ifndef ML_API_H
#define ML_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "memlease.h"

struct ml_core;
struct ml_ended;

/* The process-wide core, initialised; NULL if initialisation failed. */
struct ml_core *ml_api_core(void);

/* Initialise (once); 0 or a negative errno. */
int        ml_api_ready(void);

/* Frames recorded per lease (MEMLEASE_BACKTRACE). */
int        ml_api_depth(void);

/* A lease for a block of the tracking layer, starting at now (from
 * clock.h: ml_clock_ms_ceil() or ml_clock_ms_late()); 0 with errno set on
 * failure.  Call ml_api_deadline(*wake) after, with no lock held, when
 * ttl_ms is not 0. */
memlease_t ml_api_add(uint64_t now, void *buf, size_t size,
               uint64_t ttl_ms, unsigned releases, unsigned kind,
               uint32_t stack, const char *label, bool *wake);
void       ml_api_deadline(bool wake);

/* Expire a lease now (its kind's action applies): 0, -ESTALE, -EBUSY
 * (pinned). */
int        ml_api_expire(memlease_t h);

/* ml_core_end() and ml_core_move() on the process-wide core. */
int        ml_api_end(memlease_t h, struct ml_ended *out);
int        ml_api_move(memlease_t h, void *buf, size_t size);

#endif /* ML_API_H */
