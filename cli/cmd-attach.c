/*
 * cmd-attach.c - memleasectl attach: load memlease into a running process
 * that was started without it, as heaptrack -p does, and put the rules of
 * --rules in force through its new control socket.
 *
 * First what would make it fail, said in words a user acts on: a process
 * that is gone, memleasectl itself, another user's, a set-user-ID one, a
 * static one, a 32-bit one, one that does not see the library's path (a
 * container), one that is stopped, and Yama's ptrace_scope.  Then, on one
 * thread of the process (inject.c): errno kept, dlopen() of the library,
 * memleasectl_attach() of it (which routes the process's malloc family
 * to memlease and starts its socket), errno put back.  Then the socket,
 * found in /proc/PID/net/unix, gets the rules.  A process that has
 * memlease already is left as it is, but for the socket it may lack: the
 * copy it has is called the same way, and opens one.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"

#ifndef MEMLEASE_LIBDIR
#define MEMLEASE_LIBDIR "/usr/local/lib"
#endif
#define LIBRARY        MEMLEASE_LIBDIR "/libmemlease.so.0"
#define SOCKET_WAIT_MS 10000

/* What /proc/PID/status and /proc/PID/maps say of the process. */
struct target {
	pid_t         pid;
	char          state;            /* R, S, T, Z... */
	unsigned long uid[4], gid[4];   /* real, effective, saved, fs */
	char          libc[PATH_MAX];   /* "" if no C library is mapped */
	uint64_t      libc_base;
	char          libdl[PATH_MAX];  /* libdl.so.2, where dlopen was */
	uint64_t      libdl_base;
	bool          memlease;         /* libmemlease.so is mapped: */
	char          mapped[PATH_MAX]; /* its path */
	bool          loader;           /* a dynamic loader is mapped */
	char          exe[PATH_MAX];
};

static const char *
user_name(unsigned long uid, char *buf, size_t n)
{
	struct passwd *pw = getpwuid((uid_t)uid);

	if (pw != NULL)
		snprintf(buf, n, "%s", pw->pw_name);
	else
		snprintf(buf, n, "%lu", uid);
	return buf;
}

static int
read_status(struct target *t)
{
	char path[64], line[512];
	FILE *f;

	snprintf(path, sizeof path, "/proc/%d/status", (int)t->pid);
	if ((f = fopen(path, "re")) == NULL) {
		if (errno == ENOENT)
			ctl_out_warn("attach: there is no process %d",
			    (int)t->pid);
		else
			ctl_out_warn("attach: %s: %s", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof line, f) != NULL) {
		sscanf(line, "State: %c", &t->state);
		sscanf(line, "Uid: %lu %lu %lu %lu", &t->uid[0], &t->uid[1],
		    &t->uid[2], &t->uid[3]);
		sscanf(line, "Gid: %lu %lu %lu %lu", &t->gid[0], &t->gid[1],
		    &t->gid[2], &t->gid[3]);
	}
	fclose(f);
	return 0;
}

/* A path's file name, "libc.so.6" of "/lib/x86_64-linux-gnu/libc.so.6". */
static const char *
base_name(const char *path)
{
	const char *s = strrchr(path, '/');

	return s != NULL ? s + 1 : path;
}

static int
read_maps(struct target *t)
{
	char path[64], line[PATH_MAX + 128];
	FILE *f;

	snprintf(path, sizeof path, "/proc/%d/maps", (int)t->pid);
	if ((f = fopen(path, "re")) == NULL) {
		ctl_out_warn("attach: %s: %s", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof line, f) != NULL) {
		unsigned long long start, off;
		int at = 0;
		if (sscanf(line, "%llx-%*x %*s %llx %*s %*s %n", &start, &off,
		    &at) < 2 || at == 0 || line[at] != '/')
			continue;
		char *file = line + at;
		file[strcspn(file, "\n")] = '\0';
		const char *name = base_name(file);
		if (strncmp(name, "libmemlease.so", 14) == 0 && !t->memlease) {
			t->memlease = true;
			snprintf(t->mapped, sizeof t->mapped, "%s", file);
		}
		if (strncmp(name, "ld-linux", 8) == 0)
			t->loader = true;
		if (off != 0)
			continue;
		if (t->libc[0] == '\0' && (strcmp(name, "libc.so.6") == 0 ||
		    (strncmp(name, "libc-", 5) == 0 &&
		    strstr(name, ".so") != NULL))) {
			snprintf(t->libc, sizeof t->libc, "%s", file);
			t->libc_base = start;
		} else if (t->libdl[0] == '\0' &&
		    strncmp(name, "libdl", 5) == 0) {
			snprintf(t->libdl, sizeof t->libdl, "%s", file);
			t->libdl_base = start;
		}
	}
	fclose(f);
	return 0;
}

/* Whether the program's ELF class is 32-bit (false if it cannot tell). */
static bool
is_32bit(const struct target *t)
{
	char path[64];
	unsigned char id[EI_NIDENT];
	int fd;
	bool r = false;

	snprintf(path, sizeof path, "/proc/%d/exe", (int)t->pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return false;
	if (read(fd, id, sizeof id) == (ssize_t)sizeof id &&
	    memcmp(id, ELFMAG, SELFMAG) == 0)
		r = id[EI_CLASS] == ELFCLASS32;
	close(fd);
	return r;
}

/* Yama's ptrace_scope, -1 without Yama. */
static int
ptrace_scope(void)
{
	FILE *f = fopen("/proc/sys/kernel/yama/ptrace_scope", "re");
	int v = -1;

	if (f != NULL) {
		if (fscanf(f, "%d", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

/* What Yama's setting v forbids a user (root or not) to do: said, -1; or 0. */
int
ctl_attach_check_scope(pid_t pid, int v, bool root)
{
	if (v == 1 && !root)
		ctl_out_warn("attach: process %d: kernel.yama.ptrace_scope "
		    "is 1: a process may only be traced by its ancestors.  Run "
		    "memleasectl as root (CAP_SYS_PTRACE), or allow tracing "
		    "with 'sysctl kernel.yama.ptrace_scope=0'", (int)pid);
	else if (v == 2 && !root)
		ctl_out_warn("attach: process %d: kernel.yama.ptrace_scope "
		    "is 2: only root (CAP_SYS_PTRACE) may trace a process.  "
		    "Run memleasectl as root", (int)pid);
	else if (v >= 3)
		ctl_out_warn("attach: process %d: kernel.yama.ptrace_scope is "
		    "%d: no process may be traced until the next boot, so "
		    "memlease cannot be loaded into a running one", (int)pid,
		    v);
	else
		return 0;
	return -1;
}

static pid_t pick_thread(pid_t pid);

/* Every refusal that can be said before touching the process: -1, said. */
static int
refusals(struct target *t, const char *library)
{
	char path[PATH_MAX + 64], who[64], me[64];
	struct stat here, there, exe;
	bool root = geteuid() == 0;
	uint64_t fn;

	if (t->pid == getpid()) {
		ctl_out_warn("attach: %d is memleasectl itself", (int)t->pid);
		return -1;
	}
	if (read_status(t) != 0)
		return -1;
	if (t->state == 'X' || (t->state == 'Z' && pick_thread(t->pid) ==
	    t->pid)) {
		ctl_out_warn("attach: process %d has ended (a zombie)",
		    (int)t->pid);
		return -1;
	}
	if (t->state == 'T' || t->state == 't') {
		ctl_out_warn("attach: process %d is stopped (by a signal or a "
		    "debugger): continue it first ('kill -CONT %d')",
		    (int)t->pid, (int)t->pid);
		return -1;
	}
	if (!root && (t->uid[0] != getuid() || t->uid[1] != getuid())) {
		user_name(t->uid[0], who, sizeof who);
		ctl_out_warn("attach: process %d belongs to user %s; only %s%s "
		    "may attach to it (you are %s)", (int)t->pid, who, who,
		    t->uid[0] == 0 ? "" : " or root",
		    user_name(getuid(), me, sizeof me));
		return -1;
	}
	snprintf(path, sizeof path, "/proc/%d/exe", (int)t->pid);
	ssize_t n = readlink(path, t->exe, sizeof t->exe - 1);
	t->exe[n > 0 ? n : 0] = '\0';
	if (t->uid[0] != t->uid[1] || t->uid[1] != t->uid[2] ||
	    t->gid[0] != t->gid[1] || t->gid[1] != t->gid[2] ||
	    (stat(path, &exe) == 0 && (exe.st_mode & (S_ISUID | S_ISGID)))) {
		ctl_out_warn("attach: process %d runs a set-user-ID or "
		    "set-group-ID program (%s): memlease is not loaded into "
		    "such programs, as the dynamic loader ignores LD_PRELOAD "
		    "for them", (int)t->pid, t->exe[0] ? t->exe : "?");
		return -1;
	}
	if (ctl_attach_check_scope(t->pid, ptrace_scope(), root) != 0)
		return -1;
	if (read_maps(t) != 0)
		return -1;
	if (t->memlease)
		return 0;       /* said by the caller */
	if (t->libc[0] == '\0' && t->loader) {
		ctl_out_warn("attach: process %d is starting: its C library is "
		    "not loaded yet; try again", (int)t->pid);
		return -1;
	}
	if (t->libc[0] == '\0') {
		ctl_out_warn("attach: process %d runs a statically linked "
		    "program (%s): it has no dynamic loader and no shared C "
		    "library, so nothing can be loaded into it", (int)t->pid,
		    t->exe[0] ? t->exe : "?");
		return -1;
	}
	if (is_32bit(t)) {
		ctl_out_warn("attach: process %d runs a 32-bit program: attach "
		    "loads a 64-bit memlease only", (int)t->pid);
		return -1;
	}
	if (stat(library, &here) != 0) {
		ctl_out_warn("attach: %s: %s (--library names another)",
		    library, strerror(errno));
		return -1;
	}
	if (ctl_inject_symbol(library, 0, "memleasectl_attach", &fn) != 0) {
		ctl_out_warn("attach: %s has no memleasectl_attach(): not "
		    "memlease's library, or an older one", library);
		return -1;
	}
	snprintf(path, sizeof path, "/proc/%d/root%s", (int)t->pid, library);
	if (stat(path, &there) != 0 || there.st_dev != here.st_dev ||
	    there.st_ino != here.st_ino) {
		ctl_out_warn("attach: process %d does not see %s as "
		    "memleasectl does (it runs in a container, or another "
		    "mount namespace): memlease cannot be loaded into it from "
		    "here", (int)t->pid, library);
		return -1;
	}
	return 0;
}

/* A thread of the process that runs: the main one, unless it has left. */
static pid_t
pick_thread(pid_t pid)
{
	char path[64], buf[512];
	DIR *d;
	struct dirent *e;
	pid_t tid = pid;

	snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
	if ((d = opendir(path)) == NULL)
		return pid;
	while ((e = readdir(d)) != NULL) {
		int fd;
		ssize_t n;
		if (e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof path, "/proc/%d/task/%d/stat", (int)pid,
		    atoi(e->d_name));
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
			continue;
		n = read(fd, buf, sizeof buf - 1);
		close(fd);
		buf[n > 0 ? n : 0] = '\0';
		char *paren = strrchr(buf, ')');
		if (paren != NULL && paren[1] == ' ' && paren[2] != 'Z') {
			tid = atoi(e->d_name);
			if (tid == pid)
				break;
		}
	}
	closedir(d);
	return tid;
}

/* The address of a function of the C library (or of libdl, for dlopen
 * before glibc 2.34), as the process sees it: 0, or -1. */
static int
libc_symbol(const struct target *t, const char *name, uint64_t *addr)
{
	char path[PATH_MAX + 64];

	snprintf(path, sizeof path, "/proc/%d/root%s", (int)t->pid, t->libc);
	if (ctl_inject_symbol(path, t->libc_base, name, addr) == 0)
		return 0;
	if (t->libdl[0] == '\0')
		return -1;
	snprintf(path, sizeof path, "/proc/%d/root%s", (int)t->pid, t->libdl);
	return ctl_inject_symbol(path, t->libdl_base, name, addr);
}

/* A string of the process's (at most n - 1 bytes) into buf. */
static void
read_string(struct ctl_inject *in, uint64_t at, char *buf, size_t n)
{
	buf[0] = '\0';
	for (size_t k = n - 1; k >= 16; k /= 2)        /* up to a page's end */
		if (ctl_inject_read(in, at, buf, k) == 0) {
			buf[k] = '\0';
			return;
		}
}

/*
 * Load the library into the process and attach it: 0, or -1 (said).
 * *already: memleasectl_attach() said it had been done.
 */
static int
inject(const struct target *t, const char *library, bool *already)
{
	struct ctl_inject *in;
	uint64_t errno_fn, dlopen_at, dlerror_at, dlsym_at, r, h, fn, arg[2];
	uint64_t errno_at = 0;
	char err[512], msg[512];
	int saved_errno = 0, rc = -1;
	sigset_t quiet, mask;
	pid_t tid = pick_thread(t->pid);

	if (libc_symbol(t, "__errno_location", &errno_fn) != 0 ||
	    libc_symbol(t, "dlopen", &dlopen_at) != 0 ||
	    libc_symbol(t, "dlerror", &dlerror_at) != 0 ||
	    libc_symbol(t, "dlsym", &dlsym_at) != 0) {
		ctl_out_warn("attach: process %d: dlopen, dlsym, dlerror or "
		    "__errno_location not found in %s: not the GNU C library?",
		    (int)t->pid, t->libc);
		return -1;
	}
	/* not interrupted while the thread is borrowed: it would be left
	 * with what it was lent for, and fault */
	sigemptyset(&quiet);
	sigaddset(&quiet, SIGINT);
	sigaddset(&quiet, SIGTERM);
	sigaddset(&quiet, SIGHUP);
	sigaddset(&quiet, SIGQUIT);
	sigaddset(&quiet, SIGTSTP);
	sigprocmask(SIG_BLOCK, &quiet, &mask);
	if (ctl_inject_begin(&in, tid, err, sizeof err) != 0) {
		sigprocmask(SIG_SETMASK, &mask, NULL);
		if (errno == EPERM)
			ctl_out_warn("attach: process %d: %s (memleasectl may "
			    "not trace it: a security module, a container, or "
			    "a process that is not dumpable)", (int)t->pid,
			    err);
		else if (errno == ESRCH)
			ctl_out_warn("attach: process %d has ended",
			    (int)t->pid);
		else
			ctl_out_warn("attach: process %d: %s", (int)t->pid,
			    err);
		return -1;
	}
	if (ctl_inject_call(in, errno_fn, NULL, 0, &r, err, sizeof err) != 0)
		goto fail;
	if (ctl_inject_read(in, r, &saved_errno, sizeof saved_errno) != 0) {
		snprintf(err, sizeof err, "cannot read its errno");
		goto fail;
	}
	errno_at = r;
	arg[0] = ctl_inject_push(in, library, strlen(library) + 1);
	arg[1] = 2;     /* RTLD_NOW: its own scope, nothing of the program's
	                 * binds to it (but what attach routes) */
	if (arg[0] == 0 || ctl_inject_call(in, dlopen_at, arg, 2, &h, err,
	    sizeof err) != 0)
		goto fail;
	if (h == 0) {
		if (ctl_inject_call(in, dlerror_at, NULL, 0, &r, err,
		    sizeof err) == 0 && r != 0)
			read_string(in, r, msg, sizeof msg);
		else
			snprintf(msg, sizeof msg, "no reason given");
		snprintf(err, sizeof err, "it could not load %s: %s", library,
		    msg);
		goto fail;
	}
	arg[0] = h;
	arg[1] = ctl_inject_push(in, "memleasectl_attach",
	    sizeof "memleasectl_attach");
	if (arg[1] == 0 || ctl_inject_call(in, dlsym_at, arg, 2, &fn, err,
	    sizeof err) != 0)
		goto fail;
	if (fn == 0) {
		snprintf(err, sizeof err, "memleasectl_attach() not found "
		    "in %s", library);
		goto fail;
	}
	if (ctl_inject_call(in, fn, NULL, 0, &r, err, sizeof err) != 0)
		goto fail;
	if ((int)r == -EALREADY) {
		*already = true;
	} else if ((int)r != 0) {
		snprintf(err, sizeof err, "memlease could not start in it: %s",
		    strerror(-(int)r));
		goto fail;
	}
	rc = 0;
fail:
	if (errno_at != 0)
		ctl_inject_write(in, errno_at, &saved_errno,
		    sizeof saved_errno);
	if (ctl_inject_end(in) != 0 && rc == 0) {
		snprintf(err, sizeof err, "its thread %d could not be put back "
		    "as it was", (int)tid);
		rc = -1;
	}
	sigprocmask(SIG_SETMASK, &mask, NULL);
	if (rc != 0)
		ctl_out_warn("attach: process %d: %s", (int)t->pid, err);
	return rc;
}

/* The path of the process's control socket, from the sockets of its
 * network namespace: 0, or -1 (none listens). */
static int
find_socket(pid_t pid, char *out, size_t n)
{
	char path[64], line[PATH_MAX + 128], tail[32];
	FILE *f;
	int rc = -1;

	snprintf(path, sizeof path, "/proc/%d/net/unix", (int)pid);
	snprintf(tail, sizeof tail, "/%d.sock", (int)pid);
	if ((f = fopen(path, "re")) == NULL)
		return -1;
	while (rc != 0 && fgets(line, sizeof line, f) != NULL) {
		char *p = strchr(line, '/');
		size_t len;
		if (p == NULL)
			continue;
		p[strcspn(p, "\n")] = '\0';
		len = strlen(p);
		if (len > strlen(tail) && strcmp(p + len - strlen(tail),
		    tail) == 0 && access(p, F_OK) == 0) {
			snprintf(out, n, "%s", p);
			rc = 0;
		}
	}
	fclose(f);
	return rc;
}

static int
wait_socket(pid_t pid, char *out, size_t n)
{
	struct timespec tick = { 0, 20 * 1000000 };

	for (int waited = 0; waited < SOCKET_WAIT_MS; waited += 20) {
		if (find_socket(pid, out, n) == 0)
			return 0;
		nanosleep(&tick, NULL);
	}
	return -1;
}

/* --rules, through the socket: 0, or -1 (said). */
static int
set_rules(const struct ctl_args *a, const char *sock)
{
	struct ctl_args b = *a;
	struct ctl_conn c;
	struct ctl_reply r;
	json_t *req, *rules;
	int rc;

	b.pid = 0;
	b.socket = sock;
	if ((rules = ctl_cmd_arg_string(a->rules, "--rules")) == NULL)
		return -1;
	if (ctl_client_open_one(&b, &c) != 0) {
		json_decref(rules);
		return -1;
	}
	req = json_object();
	json_object_set_new(req, "op", json_string("set"));
	json_object_set_new(req, "rules", rules);
	rc = ctl_client_request(&c, "rules", req, &r);
	if (rc == 0)
		ctl_reply_free(&r);
	ctl_client_close(&c);
	return rc;
}

static int
cmd_attach_exec(const struct ctl_args *a, struct ctl_conn *unused)
{
	struct target t;
	const char *library = a->library != NULL ? a->library : LIBRARY;
	char sock[PATH_MAX];
	bool already = false, opened = false;

	(void)unused;
	memset(&t, 0, sizeof t);
	t.pid = a->pid;
	if (refusals(&t, library) != 0)
		return -1;
	if (!t.memlease) {
		if (inject(&t, library, &already) != 0)
			return -1;
	} else if (find_socket(t.pid, sock, sizeof sock) == 0) {
		already = true;
	} else {
		/* preloaded without a socket (MEMLEASE_SOCKET=auto and
		 * nothing to expire yet): the copy loaded opens one */
		if (inject(&t, t.mapped, &already) != 0)
			return -1;
		already = opened = true;
	}
	if (wait_socket(t.pid, sock, sizeof sock) != 0) {
		ctl_out_warn("attach: process %d: memlease is %s, but no "
		    "control socket of its opened (its standard error may say "
		    "why; MEMLEASE_SOCKET=off?)", (int)t.pid, already ?
		    "already loaded in it" : "loaded");
		return -1;
	}
	if (a->rules != NULL && set_rules(a, sock) != 0)
		return -1;
	if (a->json) {
		json_t *o = json_object();
		json_object_set_new(o, "pid", json_integer(t.pid));
		json_object_set_new(o, "already", json_boolean(already));
		json_object_set_new(o, "socket", json_string(sock));
		ctl_out_json(o);
		json_decref(o);
		return 0;
	}
	char *s = ctl_out_clean(sock);
	if (opened)
		printf("memlease was loaded in process %d without a control "
		    "socket: it has one now\nsocket: %s\n", (int)t.pid, s);
	else if (already)
		printf("memlease is already loaded in process %d: nothing "
		    "done%s\nsocket: %s\n", (int)t.pid, a->rules != NULL ?
		    " but the rules set" : "", s);
	else
		printf("attached to process %d\nsocket: %s\n", (int)t.pid, s);
	free(s);
	return 0;
}

const struct ctl_cmd_entry ctl_cmd_attach_entry = {
	.cmd = CTL_CMD_ATTACH,
	.name = "attach",
	.args = "PID [--rules RULES] [--library PATH]",
	.summary = "load memlease into a process started without it",
	.options = "  --rules RULES     rules to put in force at once (as "
	    "rules set)\n"
	    "  --library PATH    the libmemlease.so to load (default: "
	    LIBRARY ")\n",
	.more = "Blocks allocated before stay the C library's.  Not for "
	    "static, set-user-ID or\n32-bit programs; needs the right to "
	    "trace the process (ptrace).\n",
	.min_pos = 1,
	.max_pos = 1,
	.all = true,
	.exec = cmd_attach_exec,
};
