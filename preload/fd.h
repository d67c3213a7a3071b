/*
 * fd.h - memlease's own descriptors among the program's.
 *
 * Programs close descriptors they do not own (daemons close them all) and
 * reuse the numbers, expect the lowest free number from open(), and check
 * which descriptors their children inherit.  memlease's descriptors are
 * kept high and close-on-exec, checked (device and inode) before each use,
 * and memlease's thread has a descriptor table of its own (ml_fd_unshare):
 * what it opens takes no number of the program's.
 */
#ifndef ML_FD_H
#define ML_FD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Move fd to a descriptor at or above the private floor, close-on-exec;
 * returns the new fd (the old one is closed), or fd itself on failure. */
int  ml_fd_high(int fd);

/* What a descriptor is (device and inode), to tell later whether it still
 * is: programs close descriptors they do not own, and reuse the numbers. */
struct ml_fd_id {
	uint64_t dev, ino;
};
bool ml_fd_id(int fd, struct ml_fd_id *id);        /* false: fd is bad */
bool ml_fd_still(int fd, const struct ml_fd_id *id);
/* As ml_fd_id(), false too if fd is not of that type (S_IFSOCK, ...): in
 * a table shared with the program, a number just made may be the
 * program's already (a program that dup2()s over every number). */
bool ml_fd_id_is(int fd, unsigned type, struct ml_fd_id *id);

/* Run fn with the low descriptors taken, so that what it opens is high;
 * the pipes it opens are kept by ml_fd_unshare() (libunwind's: any thread
 * may write to them by number).  A thousand system calls: the fallback
 * of ml_fd_pipe2_high(). */
void ml_fd_run_high(void (*fn)(void));

/* pipe2() for libunwind, whose GOT slot stacks.c points here: the pipe
 * lands high and is kept by ml_fd_unshare(), as ml_fd_run_high()'s, at
 * the cost of two fcntl() and two close() calls.  Async-signal-safe. */
int  ml_fd_pipe2_high(int fds[2], int flags);

/*
 * Give the calling thread a descriptor table of its own, a copy of the
 * process's from which every descriptor is closed but those in keep[]
 * (negative entries ignored) and libunwind's pipes (ml_fd_run_high(),
 * ml_fd_pipe2_high()): shared
 * with the program's threads, by number.  False (and the table still the
 * process's) when the kernel refuses (seccomp, no unshare(2)).
 */
bool ml_fd_unshare(const int *keep, size_t n);

/* Set in a thread whose table is its own (ml_fd_unshare). */
extern __thread bool ml_fd_own __attribute__((tls_model("initial-exec")));

/* A copy, in this thread's table, of descriptor fd of the process's table
 * (pidfd_getfd(2) on the thread-group leader); -errno on failure. */
int  ml_fd_fetch(int fd);

#endif /* ML_FD_H */
