/*
 * stackid.h - a stack's stable name, stack_id: a 64-bit hash of its
 * frames' objects (build-id, else path) and offsets in them (the address
 * less the object's load base), the same in every process of the same
 * binaries, wherever ASLR put them.  Names never enter it.
 *
 * A stack is grouped after its allocation wrappers are dropped from its
 * top (MEMLEASE_SKIP, and a listing's own globs) and cut to a depth; its
 * stack_id is that of the frames kept.
 */
#ifndef ML_STACKID_H
#define ML_STACKID_H

#include <stdbool.h>
#include <stdint.h>

#include "stacks.h"

#define ML_STACKID_SKIP_MAX 32  /* globs of a skip list */
#define ML_STACKID_HEX      17  /* 16 hex digits and a NUL */

/* Globs of function names (fnmatch(3)), borrowed. */
struct ml_stackid_skip {
	const char *glob[ML_STACKID_SKIP_MAX];
	int         n;
};

/* MEMLEASE_SKIP (NULL: none), once, before any stack is named: its
 * comma-separated globs are copied.  0, or -EINVAL (more than
 * ML_STACKID_SKIP_MAX) or -ENOMEM, said by the caller: then none. */
int      ml_stackid_set_skip(const char *globs);

/* A comma-separated list split in place into sk (its words point into
 * text): 0, or -EINVAL if there are too many. */
int      ml_stackid_parse_skip(char *text, struct ml_stackid_skip *sk);

/* The hash of frames ips[0..n). */
uint64_t ml_stackid_hash(const uintptr_t *ips, int n);

/* The frames of stored stack `stack` in ips (ML_STACK_MAX_DEPTH of
 * them), innermost first, as they are grouped: memlease's own dropped,
 * then the wrappers from the top (MEMLEASE_SKIP's and extra's, which may
 * be NULL; the last frame is always kept), then cut to depth (0: all).
 * Returns how many. */
int      ml_stackid_frames(uint32_t stack, const struct ml_stackid_skip *extra,
             int depth, uintptr_t *ips);

/* The stack_id of stored stack `stack`, whole, after MEMLEASE_SKIP;
 * computed once a stack.  0 for no stack (stack 0). */
uint64_t ml_stackid_of(uint32_t stack);

/* id as 16 hex digits. */
char    *ml_stackid_hex(uint64_t id, char buf[ML_STACKID_HEX]);

#endif /* ML_STACKID_H */
