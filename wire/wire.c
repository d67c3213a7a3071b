/*
 * wire.c - the control protocol's common ground (see wire.h): its names
 * and the socket folder's rule, for the server and the client alike.
 *
 * Whose folder: the effective uid's, in the path, the owner check and
 * the peer check.  The effective uid is who the kernel makes the folder
 * and the socket for, who it lets in, and what SO_PEERCRED reports of a
 * peer: checking the real uid instead would trust, in a set-user-ID
 * program, a folder and peers of the user who started it, not of the
 * identity it runs as.  For the same reason the environment is read with
 * secure_getenv(): a set-user-ID program does not take its folder from
 * the user who runs it.
 *
 * Must not allocate: the server calls it on memlease's own thread.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "wire.h"

static const char *const state_names[ML_WIRE_NSTATES] = {
	[ML_WIRE_LIVE]     = "live",
	[ML_WIRE_PINNED]   = "pinned",
	[ML_WIRE_OVERDUE]  = "overdue",
	[ML_WIRE_RELEASED] = "released",
};

static const char *const kind_names[ML_WIRE_NKINDS] = {
	[ML_WIRE_BUFFER]         = "buffer",
	[ML_WIRE_TAGGED]         = "tagged",
	[ML_WIRE_TAGGED_FREE]    = "tagged-free",
	[ML_WIRE_TAGGED_RECLAIM] = "tagged-reclaim",
	[ML_WIRE_TAGGED_ABORT]   = "tagged-abort",
};

const char *
ml_wire_state_name(unsigned state)
{
	return state < ML_WIRE_NSTATES ? state_names[state] : "?";
}

const char *
ml_wire_kind_name(unsigned kind)
{
	return kind < ML_WIRE_NKINDS ? kind_names[kind] : "?";
}

int
ml_wire_state_parse(const char *name, enum ml_wire_state *state)
{
	for (unsigned i = 0; i < ML_WIRE_NSTATES; i++)
		if (strcmp(name, state_names[i]) == 0) {
			*state = (enum ml_wire_state)i;
			return 0;
		}
	return -1;
}

bool
ml_wire_startup_frame(const char *function)
{
	static const char *const startup[] = {
		"__libc_start_call_main", "__libc_start_main",
		"__libc_start_main_impl", "__libc_start_main_alias_1",
		"__libc_start_main_alias_2", "_start",
	};

	/* a symbol table's name may carry its version: name@@GLIBC_2.34 */
	size_t n = function != NULL ? strcspn(function, "@") : 0;

	for (size_t i = 0; function != NULL &&
	    i < sizeof startup / sizeof *startup; i++)
		if (strlen(startup[i]) == n &&
		    strncmp(function, startup[i], n) == 0)
			return true;
	return false;
}

/* Whether root's client may take what uid owns. */
static bool
trusted(uid_t uid, enum ml_wire_role role)
{
	uid_t me = geteuid();

	return uid == me || (role == ML_WIRE_CLIENT && me == 0);
}

int
ml_wire_dir(char *dir, size_t len)
{
	const char *d = secure_getenv("MEMLEASE_SOCKET_DIR");
	const char *x = secure_getenv("XDG_RUNTIME_DIR");
	int n;

	if (d != NULL && *d != '\0')
		n = snprintf(dir, len, "%s", d);
	else if (x != NULL && *x != '\0')
		n = snprintf(dir, len, "%s/memlease", x);
	else
		n = snprintf(dir, len, "/tmp/memlease-%u", (unsigned)geteuid());
	return n >= 0 && (size_t)n < len ? 0 : -1;
}

int
ml_wire_dir_check(const char *dir, enum ml_wire_role role, char *why,
    size_t len)
{
	struct stat st;

	/* lstat: a link could lead anywhere, to a folder of anyone's */
	if (lstat(dir, &st) != 0) {
		int e = errno;
		snprintf(why, len, "%s", strerror(e));
		return -e;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(why, len, "not a folder");
		return -ENOTDIR;
	}
	if (!trusted(st.st_uid, role)) {
		snprintf(why, len, "owned by uid %u, not by this process's "
		    "uid %u", (unsigned)st.st_uid, (unsigned)geteuid());
		return -EACCES;
	}
	if ((st.st_mode & 077) != 0) {
		snprintf(why, len, "open to others (mode %03o); it must be "
		    "0700", (unsigned)(st.st_mode & 0777));
		return -EACCES;
	}
	return 0;
}

int
ml_wire_sock_path(const char *dir, pid_t pid, char *out, size_t len)
{
	int n = snprintf(out, len, "%s/%d.sock", dir, (int)pid);

	return n >= 0 && (size_t)n < len ? 0 : -1;
}

pid_t
ml_wire_sock_pid(const char *name)
{
	long pid = 0;
	const char *p = name;

	if (*p < '1' || *p > '9')
		return 0;
	for (; *p >= '0' && *p <= '9'; p++) {
		pid = pid * 10 + (*p - '0');
		if (pid > INT_MAX)
			return 0;
	}
	return strcmp(p, ".sock") == 0 ? (pid_t)pid : 0;
}

enum ml_wire_sock
ml_wire_sock_probe(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	size_t len = strlen(path);

	if (lstat(path, &st) != 0)
		return errno == ENOENT ? ML_WIRE_SOCK_NONE : ML_WIRE_SOCK_OTHER;
	if (!S_ISSOCK(st.st_mode) || len >= sizeof sa.sun_path)
		return ML_WIRE_SOCK_OTHER;
	memcpy(sa.sun_path, path, len + 1);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd < 0)
		return ML_WIRE_SOCK_LIVE;       /* cannot be told */
	int r = connect(fd, (struct sockaddr *)&sa, sizeof sa), e = errno;
	close(fd);
	return r != 0 && e == ECONNREFUSED ? ML_WIRE_SOCK_DEAD :
	    ML_WIRE_SOCK_LIVE;
}

bool
ml_wire_sock_stale(const char *path, pid_t pid)
{
	if (kill(pid, 0) == 0 || errno != ESRCH)
		return false;
	return ml_wire_sock_probe(path) == ML_WIRE_SOCK_DEAD;
}

bool
ml_wire_peer_ok(uid_t uid, enum ml_wire_role role)
{
	return uid == 0 || trusted(uid, role);
}
