/*
 * fd.c - memlease's own descriptors among the program's (see fd.h).
 *
 * memlease's thread opens descriptors all its life: a client's as
 * memleasectl connects, libunwind's (/proc/self/maps, an ELF file) as a
 * report names its frames, its socket's when the program closed it.  In
 * the process's table each would take, for a moment, the lowest free
 * number, which the program expects open() to give it, and a child forked
 * in that moment would inherit it.  So the thread unshares its table
 * (unshare(CLONE_FILES)): it starts as a copy of the process's, from which
 * the thread closes at once everything but what it shares with the
 * program's threads by number: the eventfd they wake it with, the log, and
 * libunwind's validation pipe.  The copies closed are the program's files
 * still open in its own table: closing them there releases no lock of the
 * program's (POSIX locks belong to the table that took them) and ends no
 * pipe early; keeping them would (a pipe's reader would wait for an end
 * of file that never comes).
 *
 * Nothing here allocates but the fallback of close_gap() on kernels
 * without close_range(2).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdatomic.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fd.h"

__thread bool ml_fd_own __attribute__((tls_model("initial-exec")));

/* this thread's pidfd of its process, in its own table */
static __thread int pidfd = -1;

/* libunwind's pipe, seen opened by ml_fd_run_high() */
#define SHARED_MAX 4
static atomic_int shared[SHARED_MAX] = { -1, -1, -1, -1 };

/* Descriptors of memlease's own live at or above this number. */
static int
fd_floor(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 1024)
		return (int)(rl.rlim_cur / 2);
	return 512;
}

/* What fd is, and its type (the S_IFMT bits of its mode). */
static bool
identify(int fd, struct ml_fd_id *id, unsigned *type)
{
	struct stat st;

	if (fd < 0 || fstat(fd, &st) != 0)
		return false;
	id->dev = (uint64_t)st.st_dev;
	id->ino = (uint64_t)st.st_ino;
	*type = st.st_mode & S_IFMT;
	return true;
}

bool
ml_fd_id(int fd, struct ml_fd_id *id)
{
	unsigned type;

	return identify(fd, id, &type);
}

bool
ml_fd_id_is(int fd, unsigned type, struct ml_fd_id *id)
{
	unsigned t;

	return identify(fd, id, &t) && t == type;
}

bool
ml_fd_still(int fd, const struct ml_fd_id *id)
{
	struct ml_fd_id now;

	return ml_fd_id(fd, &now) && now.dev == id->dev && now.ino == id->ino;
}

int
ml_fd_high(int fd)
{
	int floor = fd_floor(), nfd;

	if (fd < 0)
		return fd;
	if (fd >= floor || (nfd = fcntl(fd, F_DUPFD_CLOEXEC, floor)) < 0) {
		fcntl(fd, F_SETFD, FD_CLOEXEC);
		return fd;
	}
	close(fd);
	return nfd;
}

/* A pipe libunwind opened, to keep in memlease's thread's table; the
 * oldest forgotten when a fifth comes (the program closed the others). */
static void
remember(int fd)
{
	static atomic_uint next;

	for (int i = 0; i < SHARED_MAX; i++) {
		int none = -1;
		if (atomic_compare_exchange_strong(&shared[i], &none, fd))
			return;
	}
	atomic_store(&shared[atomic_fetch_add(&next, 1) % SHARED_MAX], fd);
}

int
ml_fd_pipe2_high(int fds[2], int flags)
{
	if (pipe2(fds, flags) != 0)
		return -1;
	for (int i = 0; i < 2; i++) {
		fds[i] = ml_fd_high(fds[i]);
		remember(fds[i]);
	}
	return 0;
}

/* The first numbers from floor up: which are open. */
#define SCAN 64
static uint64_t
open_above(int floor)
{
	uint64_t set = 0;

	for (int i = 0; i < SCAN; i++)
		if (fcntl(floor + i, F_GETFD) >= 0)
			set |= UINT64_C(1) << i;
	return set;
}

/*
 * Run fn with every free descriptor below the floor taken, so that what
 * fn opens and cannot be moved (libunwind's validation pipe) lands high.
 * Another thread that opens a file meanwhile gets a high number: that is
 * harmless, and this happens once a process.  The pipes fn opened are
 * remembered for ml_fd_unshare().
 */
void
ml_fd_run_high(void (*fn)(void))
{
	int floor = fd_floor();
	int taken[512];
	int n = 0, fd;
	int null = open("/dev/null", O_RDONLY | O_CLOEXEC);

	while (null >= 0 && n < floor && n < 512 &&
	    (fd = fcntl(null, F_DUPFD_CLOEXEC, 0)) >= 0) {
		if (fd >= floor) {
			close(fd);
			break;
		}
		taken[n++] = fd;
	}
	uint64_t before = open_above(floor);
	fn();
	uint64_t opened = open_above(floor) & ~before;
	struct ml_fd_id id;
	for (int i = 0; i < SCAN; i++)
		if ((opened >> i & 1) && ml_fd_id_is(floor + i, S_IFIFO, &id))
			remember(floor + i);
	while (n > 0)
		close(taken[--n]);
	if (null >= 0)
		close(null);
}

/* Close the descriptors lo..hi of this thread's table. */
static void
close_gap(unsigned lo, unsigned hi)
{
	struct rlimit rl;

	if (lo > hi)
		return;
#ifdef SYS_close_range
	if (syscall(SYS_close_range, lo, hi, 0) == 0)
		return;
#endif
	/* before Linux 5.9: one number at a time, up to the limit */
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur > 1u << 20)
		rl.rlim_cur = 1u << 20;
	for (unsigned fd = lo; fd <= hi && fd < rl.rlim_cur; fd++)
		close((int)fd);
}

bool
ml_fd_unshare(const int *keep, size_t n)
{
	int k[16 + SHARED_MAX + 1];
	size_t m = 0;

	for (size_t i = 0; i < n && m < 16; i++)
		if (keep[i] >= 0)
			k[m++] = keep[i];
	for (int i = 0; i < SHARED_MAX; i++) {
		int fd = atomic_load(&shared[i]);
		if (fd >= 0)
			k[m++] = fd;
	}
#if defined(__SANITIZE_ADDRESS__)
	k[m++] = STDERR_FILENO;         /* where ASan writes its reports */
#endif
	/* ascending, for the gaps between them */
	for (size_t i = 1; i < m; i++)
		for (size_t j = i; j > 0 && k[j - 1] > k[j]; j--) {
			int t = k[j];
			k[j] = k[j - 1];
			k[j - 1] = t;
		}
#if defined(__SANITIZE_THREAD__)
	/* TSan knows descriptors by number, for the whole process: the same
	 * number in two tables would be one descriptor to it, closed by
	 * one thread as another uses it.  Its builds test the shared table
	 * (as under a seccomp filter that refuses unshare). */
	return false;
#endif
	if (unshare(CLONE_FILES) != 0)
		return false;
	ml_fd_own = true;
	unsigned lo = 0;
	for (size_t i = 0; i < m; i++) {
		if ((unsigned)k[i] > lo)
			close_gap(lo, (unsigned)k[i] - 1);
		lo = (unsigned)k[i] + 1;
	}
	close_gap(lo, ~0U);
	/* 0, 1 and 2 taken, so that nothing of ours is where a write to
	 * "stderr" by number would go (diagnostics fetch the
	 * program's) */
	for (int fd = 0; fd <= 2; fd++)
		if (fcntl(fd, F_GETFD) < 0 &&
		    open("/dev/null", O_RDWR | O_CLOEXEC) < 0)
			break;
#ifdef SYS_pidfd_open
	pidfd = (int)syscall(SYS_pidfd_open, getpid(), 0);
#endif
	return true;
}

int
ml_fd_fetch(int fd)
{
#ifdef SYS_pidfd_getfd
	if (pidfd < 0)
		return -EBADF;
	int r = (int)syscall(SYS_pidfd_getfd, pidfd, fd, 0);
	return r >= 0 ? r : -errno;
#else
	(void)fd;
	return -ENOSYS;
#endif
}
