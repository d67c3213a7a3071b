/*
 * stacks.h - allocation backtraces: captured with libunwind, stored once per
 * distinct stack, symbolized lazily (function, offset, object) with a cache.
 */
#ifndef ML_STACKS_H
#define ML_STACKS_H

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

#define ML_STACK_MAX_DEPTH 64

/* One symbolized frame; the strings live as long as the process. */
struct ml_frame {
	uintptr_t   ip;
	const char *function;   /* "??" when unknown */
	uintptr_t   offset;     /* from the function's start */
	const char *object;     /* path of the shared object, "??" if unknown */
};

/* The id (never 0) of the stack of the current call, from the frame that
 * returns to `from` (the caller of memlease) up to `depth` frames; 0 if
 * depth is 0 or the table is full or out of memory. */
uint32_t ml_stacks_capture(const void *from, int depth);

/* Copy the frames of a stack into ips[]; returns how many. */
int      ml_stacks_get(uint32_t id, uintptr_t *ips, int max);

/* Symbolize one return address (cached).  False when out of memory: the
 * names are "??" this once, and must not be taken for the code's. */
bool     ml_stacks_symbolize(uintptr_t ip, struct ml_frame *f);

/* Distinct stacks stored. */
uint32_t ml_stacks_count(void);

void     ml_stacks_lock(void);
void     ml_stacks_unlock(void);
void     ml_stacks_reinit_lock(void);

#endif /* ML_STACKS_H */
