/*
 * inject.c - calling functions inside another process, with ptrace(2),
 * for memleasectl attach: one thread of the process is stopped, made to
 * call a function of its own (dlopen...) on its own stack, and put back
 * as it was.
 *
 * Where: a thread that holds a lock of the allocator's or of the dynamic
 * loader's would deadlock in dlopen().  So the thread is taken inside a
 * system call, where it holds none as far as can be told: blocked in one
 * (read, sleep, a wait), or stopped at the entry of its next one (that
 * call then made from its start when the thread is put back), but not in
 * those the allocator makes with its lock held (mmap, brk...).  A thread
 * that makes no system call within SAFE_WAIT_MS is taken where it is.
 *
 * How a call is made: below the thread's stack pointer and its red zone,
 * the arguments' bytes, then a return address of 0; the registers say
 * where to start and what to pass (System V ABI).  When the function
 * returns, the thread jumps to 0 and faults: that SIGSEGV, seen here and
 * never delivered, ends the call.  During the calls every signal but
 * SIGSEGV is blocked in the thread (a synchronous SIGSEGV that is blocked
 * would reset the program's handler), so that none of the program's
 * handlers run on the borrowed state; those that arrive stay pending and
 * are delivered once the thread's own mask is back.
 *
 * What is put back: the general registers, the FPU/SSE/AVX state, the
 * signal mask, errno (by the caller, with the calls it makes).  A thread
 * stopped inside a system call (sleep, read) had the call interrupted:
 * its saved registers say so (orig_rax, and -ERESTART... in rax), and the
 * kernel restarts the call when the thread resumes with them, as after a
 * debugger's stop; the borrowed calls run with orig_rax -1, so that no
 * restart is applied to them.  But for one kind: a call that restarts
 * through the thread's restart block (nanosleep, poll, a futex wait with a
 * timeout: -ERESTART_RESTARTBLOCK), which the borrowed calls may have
 * overwritten (any nanosleep() does): that one is made again from the
 * start, its number and its arguments as they were, so that the program
 * never sees EINTR; a relative sleep starts over.
 *
 * x86-64 only: elsewhere ctl_inject_begin() fails with ENOSYS.
 */
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ctl.h"

/* Bytes [off, off + n) of the file fd, from malloc; NULL if not all. */
static void *
slurp(int fd, uint64_t off, uint64_t n)
{
	char *b = n > 0 && n < (UINT64_C(64) << 20) ? malloc(n) : NULL;

	if (b != NULL && pread(fd, b, n, (off_t)off) != (ssize_t)n) {
		free(b);
		return NULL;
	}
	return b;
}

int
ctl_inject_symbol(const char *path, uint64_t base, const char *name,
    uint64_t *addr)
{
	Elf64_Ehdr eh;
	Elf64_Shdr *sh = NULL;
	Elf64_Phdr *ph = NULL;
	Elf64_Sym *syms = NULL;
	char *strs = NULL;
	uint64_t bias = base;
	int fd = open(path, O_RDONLY | O_CLOEXEC), r = -1;

	if (fd < 0)
		return -1;
	if (pread(fd, &eh, sizeof eh, 0) != (ssize_t)sizeof eh ||
	    memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 ||
	    eh.e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh.e_shentsize != sizeof *sh || eh.e_phentsize != sizeof *ph)
		goto done;
	/* the load bias: where the first segment is, less its address */
	if ((ph = slurp(fd, eh.e_phoff, (uint64_t)eh.e_phnum * sizeof *ph)) ==
	    NULL || (sh = slurp(fd, eh.e_shoff, (uint64_t)eh.e_shnum *
	    sizeof *sh)) == NULL)
		goto done;
	for (int i = 0; i < eh.e_phnum; i++)
		if (ph[i].p_type == PT_LOAD) {
			bias = base - (ph[i].p_vaddr & ~(uint64_t)0xfff);
			break;
		}
	for (int i = 0; i < eh.e_shnum; i++) {
		if (sh[i].sh_type != SHT_DYNSYM || sh[i].sh_link >= eh.e_shnum)
			continue;
		const Elf64_Shdr *st = &sh[sh[i].sh_link];
		size_t n = sh[i].sh_size / sizeof *syms;
		syms = slurp(fd, sh[i].sh_offset, sh[i].sh_size);
		strs = slurp(fd, st->sh_offset, st->sh_size);
		if (syms == NULL || strs == NULL)
			goto done;
		for (size_t k = 0; k < n; k++) {
			if (syms[k].st_shndx == SHN_UNDEF ||
			    ELF64_ST_TYPE(syms[k].st_info) != STT_FUNC ||
			    syms[k].st_name >= st->sh_size ||
			    strncmp(strs + syms[k].st_name, name,
			    st->sh_size - syms[k].st_name) != 0)
				continue;
			*addr = bias + syms[k].st_value;
			r = 0;
			goto done;
		}
		break;
	}
done:
	free(ph);
	free(sh);
	free(syms);
	free(strs);
	close(fd);
	return r;
}

#if defined(__x86_64__)
#include <sys/user.h>

#define XSTATE_MAX (64 * 1024)          /* bytes of the FPU/vector state */
#define ERESTART_RESTARTBLOCK 516       /* the kernel's, not in errno.h */
#define SYSCALL_STOP (SIGTRAP | 0x80)   /* PTRACE_O_TRACESYSGOOD */
#define SAFE_WAIT_MS 250                /* for a system call, at most */
#define CALL_WAIT_MS 20000              /* for a call to return, at most */
#define RED_ZONE   128

struct ctl_inject {
	pid_t                   tid;
	struct user_regs_struct regs;   /* the thread's, as it was */
	uint64_t                mask;   /* its signal mask */
	struct iovec            xstate; /* its FPU/SSE/AVX state */
	bool                    fp_regs; /* xstate holds user_fpregs_struct */
	bool                    running; /* a call did not return in time */
	uint64_t                scratch; /* the next free byte, downwards */
};

/* "what: strerror(e)" (e 0: "what") into err: -1. */
static int
failed(char *err, size_t errlen, const char *what, int e)
{
	snprintf(err, errlen, "%s%s%s", what, e != 0 ? ": " : "",
	    e != 0 ? strerror(e) : "");
	return -1;
}

static int64_t
now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* The thread's next stop, waited for until `deadline` (now_ms()'s clock):
 * 0 with its wait status in *st; 1, none came by then; -1, it ended or
 * waitpid failed (said in err). */
static int
stop_by(struct ctl_inject *in, int64_t deadline, int *st, char *err,
    size_t errlen)
{
	pid_t r;

	while ((r = waitpid(in->tid, st, __WALL | WNOHANG)) == 0) {
		struct timespec ms = { 0, 1000000 };
		if (now_ms() >= deadline)
			return 1;
		nanosleep(&ms, NULL);
	}
	if (r < 0)
		return failed(err, errlen, "waitpid", errno);
	if (!WIFSTOPPED(*st))
		return failed(err, errlen, "the process ended meanwhile", 0);
	return 0;
}

/* The thread's next stop, its signal in *sig and its ptrace event in
 * *event: 0, or -1 (it ended, or did not stop within CALL_WAIT_MS: it
 * runs, in->running). */
static int
next_stop(struct ctl_inject *in, int *sig, int *event, char *err,
    size_t errlen)
{
	int st, r = stop_by(in, now_ms() + CALL_WAIT_MS, &st, err, errlen);

	if (r > 0) {
		in->running = true;
		snprintf(err, errlen, "no answer within %d s (a lock that the "
		    "thread waits for?)", CALL_WAIT_MS / 1000);
		return -1;
	}
	if (r < 0)
		return -1;
	*sig = WSTOPSIG(st);
	*event = st >> 16;
	return 0;
}

/* Stop the thread where it is (PTRACE_INTERRUPT): 0, or -1.  A signal
 * that comes first is delivered, as it would have been; but in a call
 * (in->running), the SIGSEGV of its return, which is a stop as good. */
static int
interrupt(struct ctl_inject *in, char *err, size_t errlen)
{
	int sig, event;

	if (ptrace(PTRACE_INTERRUPT, in->tid, NULL, NULL) != 0)
		return failed(err, errlen, "ptrace", errno);
	for (;;) {
		if (next_stop(in, &sig, &event, err, errlen) != 0)
			return -1;
		if (event == PTRACE_EVENT_STOP ||
		    (in->running && sig == SIGSEGV && event == 0))
			return 0;
		if (ptrace(PTRACE_CONT, in->tid, NULL, (void *)(intptr_t)
		    (sig == SYSCALL_STOP ? 0 : sig)) != 0)
			return failed(err, errlen, "ptrace", errno);
	}
}

/*
 * Let the thread run to the entry of its next system call: 0, stopped
 * there, its registers in in->regs; 1, none came before `deadline` (the
 * thread runs); -1, an error.  Signals on the way are delivered.
 */
static int
next_call(struct ctl_inject *in, int64_t deadline, char *err, size_t errlen)
{
	int deliver = 0;

	for (;;) {
		int st, r;

		if (ptrace(PTRACE_SYSCALL, in->tid, NULL,
		    (void *)(intptr_t)deliver) != 0)
			return failed(err, errlen, "ptrace", errno);
		deliver = 0;
		if ((r = stop_by(in, deadline, &st, err, errlen)) != 0)
			return r;
		if (WSTOPSIG(st) == SYSCALL_STOP) {
			if (ptrace(PTRACE_GETREGS, in->tid, NULL, &in->regs) !=
			    0)
				return failed(err, errlen, "ptrace", errno);
			if ((int64_t)in->regs.rax == -ENOSYS)
				return 0;       /* an entry, not an exit */
		} else if (st >> 16 == 0) {
			deliver = WSTOPSIG(st);
		}
	}
}

/* System calls that the allocator makes while it holds a lock of its own
 * (growing or trimming its heap). */
static bool
allocator_call(uint64_t nr)
{
	switch (nr) {
	case SYS_mmap: case SYS_munmap: case SYS_mremap: case SYS_brk:
	case SYS_mprotect: case SYS_madvise:
		return true;
	default:
		return false;
	}
}

/*
 * Bring the stopped thread to a point where it holds no lock of the
 * allocator's or of the dynamic loader's, as far as can be told: inside
 * a system call (blocked in it, or at its entry), but not one that the
 * allocator makes with its lock held.  A thread that makes no system
 * call within SAFE_WAIT_MS is taken where it is.  0, or -1.
 */
static int
safe_point(struct ctl_inject *in, char *err, size_t errlen)
{
	int64_t deadline = now_ms() + SAFE_WAIT_MS;
	int r;

	if (ptrace(PTRACE_GETREGS, in->tid, NULL, &in->regs) != 0)
		return failed(err, errlen, "ptrace", errno);
	if ((int64_t)in->regs.orig_rax >= 0 &&
	    !allocator_call(in->regs.orig_rax))
		return 0;
	while ((r = next_call(in, deadline, err, errlen)) == 0) {
		if (!allocator_call(in->regs.orig_rax)) {
			/* not made yet: made again from its start when the
			 * thread is put back */
			in->regs.rax = in->regs.orig_rax;
			in->regs.rip -= 2;
			in->regs.orig_rax = (uint64_t)-1;
			return 0;
		}
	}
	if (r < 0 || interrupt(in, err, errlen) != 0)
		return -1;
	if (ptrace(PTRACE_GETREGS, in->tid, NULL, &in->regs) != 0)
		return failed(err, errlen, "ptrace", errno);
	return 0;
}

int
ctl_inject_begin(struct ctl_inject **inp, pid_t tid, char *err,
    size_t errlen)
{
	struct ctl_inject *in = calloc(1, sizeof *in);
	uint64_t all = ~(UINT64_C(1) << (SIGSEGV - 1));

	*inp = NULL;
	if (in == NULL || (in->xstate.iov_base = malloc(XSTATE_MAX)) == NULL) {
		free(in);
		return failed(err, errlen, "out of memory", 0);
	}
	in->tid = tid;
	if (ptrace(PTRACE_SEIZE, tid, NULL,
	    (void *)(intptr_t)PTRACE_O_TRACESYSGOOD) != 0) {
		int e = errno;
		free(in->xstate.iov_base);
		free(in);
		errno = e;
		return failed(err, errlen, "ptrace", e);
	}
	if (interrupt(in, err, errlen) != 0 || safe_point(in, err, errlen) != 0)
		goto fail;
	if (ptrace(PTRACE_GETSIGMASK, tid, (void *)sizeof in->mask,
	    &in->mask) != 0)
		goto gone;
	in->xstate.iov_len = XSTATE_MAX;
	if (ptrace(PTRACE_GETREGSET, tid, (void *)NT_X86_XSTATE,
	    &in->xstate) != 0) {
		in->fp_regs = true;
		if (ptrace(PTRACE_GETFPREGS, tid, NULL,
		    in->xstate.iov_base) != 0)
			goto gone;
	}
	if (ptrace(PTRACE_SETSIGMASK, tid, (void *)sizeof all, &all) != 0)
		goto gone;
	if ((int64_t)in->regs.orig_rax >= 0 &&
	    (int64_t)in->regs.rax == -ERESTART_RESTARTBLOCK) {
		in->regs.rax = in->regs.orig_rax;       /* the call again */
		in->regs.rip -= 2;                      /* at its syscall */
		in->regs.orig_rax = (uint64_t)-1;       /* not restarted */
	}
	in->scratch = (in->regs.rsp - RED_ZONE) & ~(uint64_t)15;
	*inp = in;
	return 0;
gone:
	failed(err, errlen, "ptrace", errno);
fail:
	ptrace(PTRACE_DETACH, tid, NULL, NULL);
	free(in->xstate.iov_base);
	free(in);
	return -1;
}

/* n bytes at `at` in the process, from or to buf. */
static int
memory(struct ctl_inject *in, uint64_t at, void *buf, size_t n, bool put)
{
	struct iovec local = { buf, n }, remote = { (void *)at, n };
	ssize_t r = put ? process_vm_writev(in->tid, &local, 1, &remote, 1, 0) :
	    process_vm_readv(in->tid, &local, 1, &remote, 1, 0);

	if (r == (ssize_t)n)
		return 0;
	/* process_vm_* need the pages mapped as they are to be used:
	 * ptrace's words write even read-only ones, and read any */
	for (size_t i = 0; i < n; i += sizeof(long)) {
		long w;
		size_t k = n - i < sizeof w ? n - i : sizeof w;

		errno = 0;
		w = ptrace(PTRACE_PEEKDATA, in->tid, (void *)(at + i), NULL);
		if (errno != 0)
			return -1;
		if (!put) {
			memcpy((char *)buf + i, &w, k);
			continue;
		}
		memcpy(&w, (const char *)buf + i, k);
		if (ptrace(PTRACE_POKEDATA, in->tid, (void *)(at + i),
		    (void *)w) != 0)
			return -1;
	}
	return 0;
}

int
ctl_inject_read(struct ctl_inject *in, uint64_t at, void *buf, size_t n)
{
	return memory(in, at, buf, n, false);
}

int
ctl_inject_write(struct ctl_inject *in, uint64_t at, const void *buf,
    size_t n)
{
	return memory(in, at, (void *)buf, n, true);
}

uint64_t
ctl_inject_push(struct ctl_inject *in, const void *buf, size_t n)
{
	uint64_t at = (in->scratch - n) & ~(uint64_t)15;

	if (ctl_inject_write(in, at, buf, n) != 0)
		return 0;
	in->scratch = at;
	return at;
}

int
ctl_inject_call(struct ctl_inject *in, uint64_t fn, const uint64_t *args,
    int nargs, uint64_t *ret, char *err, size_t errlen)
{
	struct user_regs_struct r = in->regs;
	uint64_t zero = 0;
	int sig, event;

	if (nargs > 6)
		return failed(err, errlen, "too many arguments", 0);
	/* at the function's entry, rsp + 8 is a multiple of 16 */
	r.rsp = (in->scratch - 4096) & ~(uint64_t)15;
	r.rsp -= 8;
	if (ctl_inject_write(in, r.rsp, &zero, sizeof zero) != 0)
		return failed(err, errlen, "cannot write to its stack", errno);
	r.rip = fn;
	r.rax = 0;              /* no vector registers: a variadic call */
	r.orig_rax = (uint64_t)-1;      /* no system call to restart */
	r.rdi = nargs > 0 ? args[0] : 0;
	r.rsi = nargs > 1 ? args[1] : 0;
	r.rdx = nargs > 2 ? args[2] : 0;
	r.rcx = nargs > 3 ? args[3] : 0;
	r.r8 = nargs > 4 ? args[4] : 0;
	r.r9 = nargs > 5 ? args[5] : 0;
	if (ptrace(PTRACE_SETREGS, in->tid, NULL, &r) != 0 ||
	    ptrace(PTRACE_CONT, in->tid, NULL, NULL) != 0)
		return failed(err, errlen, "ptrace", errno);
	for (;;) {
		if (next_stop(in, &sig, &event, err, errlen) != 0) {
			/* a call that does not return is given up: the
			 * thread, stopped, goes back to what it was doing
			 * at the end, whatever the call holds (better than
			 * a thread stuck, or a fault at address 0) */
			char why[64];
			if (in->running && interrupt(in, why, sizeof why) == 0)
				in->running = false;
			return -1;
		}
		if (sig == SIGSEGV && event == 0) {
			if (ptrace(PTRACE_GETREGS, in->tid, NULL, &r) != 0)
				return failed(err, errlen, "ptrace",
				    errno);
			if (r.rip == 0)
				break;
			snprintf(err, errlen, "the call faulted at %#llx",
			    (unsigned long long)r.rip);
			return -1;
		}
		/* only SIGKILL and SIGSTOP come through the mask: a
		 * stop of the group, which the call does not keep */
		if (ptrace(PTRACE_CONT, in->tid, NULL, NULL) != 0)
			return failed(err, errlen, "ptrace", errno);
	}
	*ret = r.rax;
	return 0;
}

int
ctl_inject_end(struct ctl_inject *in)
{
	int r = 0;

	if (in == NULL)
		return 0;
	if (in->fp_regs ? ptrace(PTRACE_SETFPREGS, in->tid, NULL,
	    in->xstate.iov_base) != 0 : ptrace(PTRACE_SETREGSET, in->tid,
	    (void *)NT_X86_XSTATE, &in->xstate) != 0)
		r = -1;
	if (ptrace(PTRACE_SETREGS, in->tid, NULL, &in->regs) != 0 ||
	    ptrace(PTRACE_SETSIGMASK, in->tid, (void *)sizeof in->mask,
	    &in->mask) != 0)
		r = -1;
	if (ptrace(PTRACE_DETACH, in->tid, NULL, NULL) != 0)
		r = -1;
	free(in->xstate.iov_base);
	free(in);
	return r;
}

#else

struct ctl_inject {
	int none;
};

int
ctl_inject_begin(struct ctl_inject **inp, pid_t tid, char *err,
    size_t errlen)
{
	(void)tid;
	*inp = NULL;
	snprintf(err, errlen, "attach is made for x86-64 only");
	errno = ENOSYS;
	return -1;
}

int
ctl_inject_read(struct ctl_inject *in, uint64_t at, void *buf, size_t n)
{
	(void)in, (void)at, (void)buf, (void)n;
	return -1;
}

int
ctl_inject_write(struct ctl_inject *in, uint64_t at, const void *buf,
    size_t n)
{
	(void)in, (void)at, (void)buf, (void)n;
	return -1;
}

uint64_t
ctl_inject_push(struct ctl_inject *in, const void *buf, size_t n)
{
	(void)in, (void)buf, (void)n;
	return 0;
}

int
ctl_inject_call(struct ctl_inject *in, uint64_t fn, const uint64_t *args,
    int nargs, uint64_t *ret, char *err, size_t errlen)
{
	(void)in, (void)fn, (void)args, (void)nargs, (void)ret;
	snprintf(err, errlen, "attach is made for x86-64 only");
	return -1;
}

int
ctl_inject_end(struct ctl_inject *in)
{
	(void)in;
	return 0;
}

#endif
