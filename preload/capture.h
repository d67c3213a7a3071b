/*
 * capture.h - a stack captured again without unwinding it: each thread
 * remembers the chains of frames it unwound, and a capture from the same
 * place, whose return addresses are proven the same, takes the stack id
 * its chain had (capture.c says why that proof is exact).
 */
#ifndef ML_CAPTURE_H
#define ML_CAPTURE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* Where a capture starts: its instruction, stack and frame pointers. */
struct ml_capture_regs {
	uintptr_t ip, sp, bp;
};

#if defined(__x86_64__)
#define ML_CAPTURE_FAST 1
/* The registers of the code this expands in (in the frame of the function
 * it is inlined into, never a frame of its own): rip after the lea, which
 * is still inside this block, where rsp and rbp are those read. */
#define ML_CAPTURE_REGS(r) \
	__asm__ __volatile__("lea 0(%%rip), %0\n\tmov %%rsp, %1\n\t" \
	    "mov %%rbp, %2" : "=r"((r).ip), "=r"((r).sp), "=r"((r).bp))
#else
#define ML_CAPTURE_FAST 0
#define ML_CAPTURE_REGS(r) ((r).ip = (r).sp = (r).bp = 0)
#endif

/*
 * The stack id (never 0) of the capture that starts at r, from return
 * address `from`, `depth` frames, as the stack table would intern that of
 * a full unw_backtrace() there; 0 when this thread knows no chain proven
 * the same (then the caller unwinds, and gives the frames to
 * ml_capture_learn()).  Cost on a hit: a hash, the key compared, then one
 * load and compare per frame (and per frame-pointer frame), all on the
 * thread's own stack, and a counter of the thread's; no lock, no atomic
 * read-modify-write.
 */
uint32_t ml_capture_find(const struct ml_capture_regs *r, const void *from,
             int depth);

/*
 * After a capture that ml_capture_find() did not know: frames[0..n) from
 * unw_backtrace(frames, size) called in the same frame as r, and the id
 * they were interned as.  Walks the chain again by the CFI of each frame
 * (classifying new code addresses with libdw), and remembers it when it
 * gives exactly those frames and every frame's CFA is proven by its pc
 * and the registers checked.  Never waits: when another thread is
 * learning, it returns.  The recursion guard is held (libdw allocates).
 */
void     ml_capture_learn(const struct ml_capture_regs *r, void *const *frames,
             int n, int size, const void *from, int depth, uint32_t id);

/*
 * Test-only (tests/fixtures/capture.c, bench/floors): not a user setting.
 * With ml_capture_verify set, every hit is followed by a full unwind at
 * the same point (stacks.h), its id compared: the hits and the
 * mismatches are counted, and the chains refused (their start the same, a
 * slot not).
 */
extern bool             ml_capture_verify;
extern _Atomic uint64_t ml_capture_hits, ml_capture_mismatches,
                        ml_capture_refused;
static inline void
ml_capture_checked(bool same)
{
	atomic_fetch_add_explicit(same ? &ml_capture_hits :
	    &ml_capture_mismatches, 1, memory_order_relaxed);
}

/* Forget every thread's chains: a new generation (at dlclose(), and for
 * bench/floors to time a capture that finds none).  An atomic add. */
void     ml_capture_forget(void);

/* Fork: the lock of the rules (taken with the stack table's). */
void     ml_capture_lock(void);
void     ml_capture_unlock(void);
void     ml_capture_reinit_lock(void);

#endif /* ML_CAPTURE_H */
