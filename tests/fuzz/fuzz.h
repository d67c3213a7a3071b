/*
 * fuzz.h - the two entry points of a fuzz target (tests/fuzz/NAME.c).
 *
 * A target is built twice: with libFuzzer (configure --enable-fuzzers,
 * make fuzz) and with replay.c's main(), which feeds it the files of its
 * seed corpus in make check, with any compiler.  A target calls abort()
 * when a property it checks does not hold, so that both see a failure.
 */
#ifndef FUZZ_H
#define FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Once, before the first input (libFuzzer calls it if it is defined). */
int LLVMFuzzerInitialize(int *argc, char ***argv);
/* One input; returns 0. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Abort with a message on stderr: a property of the target failed. */
void fuzz_fail(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));

/* /dev/null, for what a target prints (opened once). */
FILE *fuzz_null(void);

#define FUZZ_CHECK(cond) \
	((cond) ? (void)0 : fuzz_fail("%s:%d: %s", __FILE__, __LINE__, #cond))

#endif /* FUZZ_H */
