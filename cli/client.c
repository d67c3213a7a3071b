/*
 * client.c - memleasectl's side of the control socket: finds the
 * processes by their sockets in the folder (wire.h's rule), connects,
 * checks the peer and says hello, sends requests and reads the lines of
 * the responses.
 *
 * Every wait is bounded (CONN_TIMEOUT_MS), but watch's wait for events; a
 * response line is at most CTL_REPLY_MAX_LINE bytes, and read into the
 * connection's buffer as it comes (inbuf.c).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"
#include "wire.h"

#define CONN_TIMEOUT_MS  5000           /* connect, and each response */
#define MAX_PROCS        4096           /* sockets a folder may hold */
#define YOUNG_MS         1000           /* a process this young may not */
#define RETRY_MS         20             /* have opened its socket yet */
#define REFUSED_TRIES    3

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* --- the socket folder -------------------------------------------------- */

/* The socket folder (wire.h), in out: 0, or -1 (said). */
static int
socket_dir(char *out, size_t n)
{
	if (ml_wire_dir(out, n) == 0)
		return 0;
	ctl_out_warn("socket folder: path too long");
	return -1;
}

/*
 * The folder must pass the rule the server made it by (wire.h).  Returns
 * 0, 1 if it does not exist, -1 if it is refused (said).
 */
static int
check_dir(const char *dir)
{
	char why[128];
	int r = ml_wire_dir_check(dir, ML_WIRE_CLIENT, why, sizeof why);

	if (r == -ENOENT)
		return 1;       /* no process made it: none there */
	if (r != 0) {
		ctl_out_warn("socket folder %s: %s", dir, why);
		return -1;
	}
	return 0;
}

/* The command line of pid, its words joined by blanks, in buf ("" if it
 * cannot be read). */
static void
proc_cmdline(pid_t pid, char *buf, size_t n)
{
	char path[64];
	ssize_t len = -1;
	int fd;

	snprintf(path, sizeof path, "/proc/%d/cmdline", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) >= 0) {
		len = read(fd, buf, n - 1);
		close(fd);
	}
	if (len < 0)
		len = 0;
	while (len > 0 && buf[len - 1] == '\0')
		len--;
	for (ssize_t i = 0; i < len; i++)
		if (buf[i] == '\0')
			buf[i] = ' ';
	buf[len] = '\0';
}

/* --- a connection ------------------------------------------------------- */

/* Connect to path once within CONN_TIMEOUT_MS: the fd, or -errno. */
static int
connect_once(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { CONN_TIMEOUT_MS / 1000, 0 };
	int fd, e;

	if (strlen(path) >= sizeof sa.sun_path)
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -errno;
	/* a full backlog: connect() waits at most the send timeout */
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
		e = errno;
		close(fd);
		return -e;
	}
	return fd;
}

/* Write all of buf, waiting at most timeout_ms in all: 0; -1 (said); or
 * -2 if the process closed the connection (not said: it may have said
 * why, in a line to read). */
static int
conn_write(struct ctl_conn *c, const char *buf, size_t len, int timeout_ms)
{
	uint64_t end = now_ms() + (uint64_t)timeout_ms;

	while (len > 0) {
		struct pollfd p = { c->fd, POLLOUT, 0 };
		uint64_t t = now_ms();
		int r = poll(&p, 1, t >= end ? 0 : (int)(end - t));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			ctl_out_warn("%s: %s", c->name, r == 0 ? "timed out "
			    "writing a request" : strerror(errno));
			return -1;
		}
		ssize_t n = send(c->fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0 && (errno == EPIPE || errno == ECONNRESET))
			return -2;
		if (n < 0) {
			ctl_out_warn("%s: %s", c->name, strerror(errno));
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

int
ctl_client_read_line(struct ctl_conn *c, int timeout_ms, char **line,
    size_t *len)
{
	uint64_t end = now_ms() + (uint64_t)(timeout_ms < 0 ? 0 : timeout_ms);
	size_t room;

	for (;;) {
		int r = ctl_inbuf_line(&c->in, CTL_REPLY_MAX_LINE, line, len);
		if (r == 0)
			return 0;
		if (r < 0) {
			ctl_out_warn("%s: a response line of more than %u MiB",
			    c->name, CTL_REPLY_MAX_LINE >> 20);
			return -1;
		}
		char *to = ctl_inbuf_room(&c->in, &room);
		if (to == NULL) {
			ctl_out_warn("out of memory");
			return -1;
		}
		struct pollfd p = { c->fd, POLLIN, 0 };
		uint64_t t = now_ms();
		r = poll(&p, 1, timeout_ms < 0 ? -1 : t >= end ? 0 :
		    (int)(end - t));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			ctl_out_warn("%s: %s", c->name, r == 0 ? "no response "
			    "within 5 s" : strerror(errno));
			return -1;
		}
		ssize_t n = read(c->fd, to, room);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0) {
			ctl_out_warn("%s: %s", c->name, strerror(errno));
			return -1;
		}
		if (n == 0) {
			if (!ctl_inbuf_partial(&c->in))
				return 1;
			ctl_out_warn("%s: the connection closed in the middle "
			    "of a response", c->name);
			return -1;
		}
		ctl_inbuf_filled(&c->in, (size_t)n);
	}
}

int64_t
ctl_client_send(struct ctl_conn *c, const char *cmd, json_t *args,
    char **line, size_t *len)
{
	json_t *req = args != NULL ? args : json_object();
	char *text;
	int64_t id = ++c->next_id;

	json_object_set_new(req, "id", json_integer(id));
	json_object_set_new(req, "cmd", json_string(cmd));
	text = json_dumps(req, JSON_COMPACT | JSON_ENSURE_ASCII);
	json_decref(req);
	if (text == NULL) {
		ctl_out_warn("out of memory");
		return -1;
	}
	*len = strlen(text);
	if (*len + 1 > ML_WIRE_MAX_LINE) {
		ctl_out_warn("%s: the request is over %d bytes", cmd,
		    ML_WIRE_MAX_LINE);
		free(text);
		return -1;
	}
	text[*len] = '\n';      /* over the NUL: the buffer has len + 1 */
	int w = conn_write(c, text, *len + 1, CONN_TIMEOUT_MS);
	free(text);
	if (w == -2) {          /* refused (EBUSY): the line says why */
		if (ctl_client_read_line(c, CONN_TIMEOUT_MS, line, len) == 0)
			return id;
		ctl_out_warn("%s: the connection was closed", c->name);
		return -1;
	}
	if (w != 0)
		return -1;
	switch (ctl_client_read_line(c, CONN_TIMEOUT_MS, line, len)) {
	case 0:
		return id;
	case 1:
		ctl_out_warn("%s: the connection closed before a response",
		    c->name);
		return -1;
	default:
		return -1;
	}
}

int
ctl_client_reply(struct ctl_conn *c, int64_t id, const char *line,
    size_t len, struct ctl_reply *r)
{
	char err[256];

	if (ctl_reply_parse(line, len, r, err, sizeof err) != 0) {
		char *e = ctl_out_clean(err);
		ctl_out_warn("%s: %s", c->name, e);
		free(e);
		return -1;
	}
	/* id null: the server refused the connection before any request
	 * (EBUSY with the clients it serves), said below as it says it */
	if (r->id != id && !(r->id == -1 && !r->ok)) {
		ctl_out_warn("%s: a response to request %" PRId64 " instead "
		    "of %" PRId64, c->name, r->id, id);
		ctl_reply_free(r);
		return -1;
	}
	if (!r->ok && c->lease != 0 && strcmp(r->code, "ESTALE") == 0) {
		/* renew and expire as show says it, whatever the server does */
		ctl_out_warn("%s: ESTALE: lease %#" PRIx64 ": %s", c->name,
		    c->lease, ML_WIRE_NO_LEASE);
		ctl_reply_free(r);
		return -1;
	}
	if (!r->ok) {
		char *code = ctl_out_clean(r->code);
		char *msg = ctl_out_clean(r->message);
		ctl_out_warn("%s: %s: %s", c->name, code, msg);
		free(code);
		free(msg);
		ctl_reply_free(r);
		return -1;
	}
	return 0;
}

int
ctl_client_request(struct ctl_conn *c, const char *cmd, json_t *args,
    struct ctl_reply *r)
{
	char *line;
	size_t len;
	int64_t id;

	memset(r, 0, sizeof *r);
	if ((id = ctl_client_send(c, cmd, args, &line, &len)) < 0)
		return -1;
	return ctl_client_reply(c, id, line, len, r);
}

void
ctl_client_close(struct ctl_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	ctl_inbuf_free(&c->in);
	json_decref(c->hello_root);
	memset(c, 0, sizeof *c);
	c->fd = -1;
}

int
ctl_client_malformed(const struct ctl_conn *c, const char *err)
{
	char *e = ctl_out_clean(err);

	ctl_out_warn("%s: a malformed response: %s", c->name, e);
	free(e);
	return -1;
}

/* The name of user uid in buf, or "uid N" if it has none. */
static const char *
user_name(uid_t uid, char *buf, size_t n)
{
	struct passwd *pw = getpwuid(uid);

	if (pw != NULL && pw->pw_name[0] != '\0')
		snprintf(buf, n, "%s", pw->pw_name);
	else
		snprintf(buf, n, "uid %u", (unsigned)uid);
	return buf;
}

/*
 * A process or socket (what) of another user, which only that user or
 * root may look at, is said so: true.  False when it is ours, or we are
 * root.
 */
static bool
says_others(const char *what, uid_t owner)
{
	char name[64];

	if (owner == geteuid() || geteuid() == 0)
		return false;
	user_name(owner, name, sizeof name);
	if (owner == 0)
		ctl_out_warn("%s belongs to user root: only root may look at "
		    "it", what);
	else
		ctl_out_warn("%s belongs to user %s: only %s or root may look "
		    "at it", what, name, name);
	return true;
}

/*
 * Why memlease is not loaded in a process whose maps say it is not, and
 * whose program is exe, said so: it is statically linked (no dynamic
 * loader among its objects), set-user-ID or set-group-ID (the loader
 * ignores LD_PRELOAD for those), or, most likely, it was started without
 * the preload.
 */
static void
explain_not_loaded(pid_t pid, bool loader, const char *exe)
{
	struct stat st;

	if (!loader)
		ctl_out_warn("process %d does not have memlease loaded: it is "
		    "statically linked, and LD_PRELOAD cannot load a library "
		    "into a static program", (int)pid);
	else if (stat(exe, &st) == 0 && (st.st_mode & (S_ISUID | S_ISGID)))
		ctl_out_warn("process %d does not have memlease loaded: its "
		    "program is set-user-ID or set-group-ID, and the loader "
		    "ignores LD_PRELOAD for such a program", (int)pid);
	else
		ctl_out_warn("process %d does not have memlease loaded: most "
		    "likely it was not started with LD_PRELOAD=libmemlease.so "
		    "(start it with MEMLEASE_SOCKET=on LD_PRELOAD=libmemlease.so"
		    "); or the loader could not load that file, and said so on "
		    "the program's standard error", (int)pid);
}

/* Whether a line of /proc/PID/maps maps the dynamic loader: ld-linux*,
 * ld64.so*, ld-musl*, ld.so*. */
static bool
maps_loader(const char *line)
{
	const char *base = strrchr(line, '/');

	return base != NULL && (strncmp(base, "/ld-", 4) == 0 ||
	    strncmp(base, "/ld.so", 6) == 0 || strncmp(base, "/ld64.so", 8) == 0);
}

/*
 * Explain why pid has no socket at path (connect() said err): no such
 * process, another user's, no memlease in it (and why), or no socket
 * opened.
 */
static void
explain_missing(pid_t pid, const char *path, int err)
{
	char maps[64], exe[64], line[4096], what[64];
	struct stat st;
	FILE *f;
	bool loaded = false, loader = false;

	snprintf(maps, sizeof maps, "/proc/%d", (int)pid);
	if (stat(maps, &st) != 0) {
		ctl_out_warn("process %d: %s", (int)pid, errno == ENOENT ?
		    "no such process" : strerror(errno));
		return;
	}
	snprintf(what, sizeof what, "process %d", (int)pid);
	if (says_others(what, st.st_uid))
		return;
	snprintf(maps, sizeof maps, "/proc/%d/maps", (int)pid);
	if ((f = fopen(maps, "re")) == NULL) {
		/* ours, or we are root, and closed to us all the same
		 * (a security module's rule) */
		ctl_out_warn("process %d has no control socket at %s: %s; "
		    "cannot tell whether memlease is loaded in it (%s: %s; "
		    "set-user-ID programs ignore LD_PRELOAD)", (int)pid, path,
		    strerror(err), maps, strerror(errno));
		return;
	}
	while (fgets(line, sizeof line, f) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		loaded = loaded || strstr(line, "libmemlease") != NULL;
		loader = loader || maps_loader(line);
	}
	fclose(f);
	snprintf(exe, sizeof exe, "/proc/%d/exe", (int)pid);
	if (!loaded)
		explain_not_loaded(pid, loader, exe);
	else if (st.st_uid != geteuid())        /* root, at a user's */
		ctl_out_warn("process %d has memlease loaded but no control "
		    "socket at %s: %s (it belongs to user %s: its socket is "
		    "in that user's folder; give it with MEMLEASE_SOCKET_DIR)",
		    (int)pid, path, strerror(err),
		    user_name(st.st_uid, line, sizeof line));
	else
		ctl_out_warn("process %d has memlease loaded but no control "
		    "socket at %s: %s: start it with MEMLEASE_SOCKET=on to "
		    "open its socket at start (else it opens with memlease's "
		    "thread, never with MEMLEASE_SOCKET=off), or it was given "
		    "another MEMLEASE_SOCKET_DIR", (int)pid, path,
		    strerror(err));
}

/*
 * Connect to path: the fd, or -errno.  A socket that refuses may be one
 * that is being made (memlease binds it, then listens): asked again,
 * REFUSED_TRIES times RETRY_MS apart, before it is taken for the socket
 * of a process that ended.
 */
static int
connect_path(const char *path)
{
	int fd = connect_once(path);

	for (int i = 0; fd == -ECONNREFUSED && i < REFUSED_TRIES; i++) {
		struct timespec ts = { 0, RETRY_MS * 1000000L };
		nanosleep(&ts, NULL);
		fd = connect_once(path);
	}
	return fd;
}

/* Milliseconds since pid started, or -1 if unknown. */
static long
age_ms(pid_t pid)
{
	char path[64], buf[1024];
	unsigned long long start;
	double up;
	long tick = sysconf(_SC_CLK_TCK);
	FILE *f;
	int n;

	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	if ((f = fopen(path, "re")) == NULL)
		return -1;
	n = (int)fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n > 0 ? n : 0] = '\0';
	/* "PID (COMM) S" then starttime, the 22nd field; COMM may hold ')' */
	char *p = strrchr(buf, ')');
	for (int field = 2; p != NULL && field < 22; field++)
		p = strchr(p + 1, ' ');
	if (p == NULL || sscanf(p, "%llu", &start) != 1 || tick <= 0 ||
	    (f = fopen("/proc/uptime", "re")) == NULL)
		return -1;
	n = fscanf(f, "%lf", &up);
	fclose(f);
	if (n != 1)
		return -1;
	return (long)(up * 1000) - (long)(start * 1000 / (unsigned long long)tick);
}

/*
 * Connect to pid's socket at path: memlease opens it on its thread, a
 * moment after the process started (the program does not wait for it), so
 * a process younger than YOUNG_MS is given until it is that old.  The fd,
 * or -errno.
 */
static int
connect_pid(const char *path, pid_t pid)
{
	int fd = connect_path(path);
	long age;

	while ((fd == -ENOENT || fd == -ECONNREFUSED) &&
	    (age = age_ms(pid)) >= 0 && age < YOUNG_MS) {
		struct timespec ts = { 0, RETRY_MS * 1000000L };
		nanosleep(&ts, NULL);
		fd = connect_path(path);
	}
	return fd;
}

/* Explain why connecting to -S path failed with err: it is not a socket,
 * another user's, or nobody listens there. */
static void
explain_socket(const char *path, int err)
{
	struct stat st;
	char *copy;

	if (stat(path, &st) != 0) {
		int e = errno;
		/* in a folder closed to us: whose it is says why */
		if (e == EACCES && (copy = strdup(path)) != NULL) {
			bool said = stat(dirname(copy), &st) == 0 &&
			    says_others(path, st.st_uid);
			free(copy);
			if (said)
				return;
		}
		ctl_out_warn("%s: %s", path, strerror(e));
	} else if (!S_ISSOCK(st.st_mode)) {
		ctl_out_warn("%s: not a socket (%s); a control socket is "
		    "SOCKET_DIR/PID.sock, see memleasectl ps", path,
		    S_ISDIR(st.st_mode) ? "a folder" : S_ISREG(st.st_mode) ?
		    "a file" : "not a socket");
	} else if (err == EACCES && says_others(path, st.st_uid)) {
		return;
	} else if (err == ECONNREFUSED) {
		ctl_out_warn("%s: %s (no process listens there: it has ended)",
		    path, strerror(err));
	} else {
		ctl_out_warn("%s: %s", path, err == EAGAIN || err ==
		    EWOULDBLOCK ? "timed out connecting" : strerror(err));
	}
}

/*
 * Connect to path (pid: its process, or 0), check the peer, say hello.
 * Returns 0 or -1 (said).
 */
static int
conn_open(struct ctl_conn *c, const char *path, pid_t pid)
{
	struct ucred cred;
	socklen_t clen = sizeof cred;
	struct ctl_reply r;
	char err[256];
	json_t *args;

	memset(c, 0, sizeof *c);
	c->fd = -1;
	if (pid != 0)
		snprintf(c->name, sizeof c->name, "process %d", (int)pid);
	else
		snprintf(c->name, sizeof c->name, "%s", path);
	c->fd = pid != 0 ? connect_pid(path, pid) : connect_path(path);
	if (c->fd < 0) {
		int e = -c->fd;
		c->fd = -1;
		if (pid != 0 && (e == ENOENT || e == ECONNREFUSED ||
		    e == EACCES))
			explain_missing(pid, path, e);
		else
			explain_socket(path, e);
		return -1;
	}
	if (getsockopt(c->fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) != 0) {
		ctl_out_warn("%s: %s", path, strerror(errno));
		ctl_client_close(c);
		return -1;
	}
	if (!ml_wire_peer_ok(cred.uid, ML_WIRE_CLIENT)) {
		ctl_out_warn("%s: refused: the process listening there belongs "
		    "to user %s, not to you", path,
		    user_name(cred.uid, err, sizeof err));
		ctl_client_close(c);
		return -1;
	}
	args = json_object();
	json_object_set_new(args, "proto", json_integer(ML_WIRE_VERSION));
	if (ctl_client_request(c, "hello", args, &r) != 0) {
		ctl_client_close(c);
		return -1;
	}
	c->hello_root = json_incref(r.root);
	ctl_reply_free(&r);
	if (ctl_reply_hello(json_object_get(c->hello_root, "result"),
	    &c->hello, err, sizeof err) != 0) {
		ctl_client_malformed(c, err);
		ctl_client_close(c);
		return -1;
	}
	if (c->hello.proto != ML_WIRE_VERSION) {
		ctl_out_warn("%s speaks protocol %" PRId64 "; this memleasectl "
		    "speaks %d", c->name, c->hello.proto, ML_WIRE_VERSION);
		ctl_client_close(c);
		return -1;
	}
	snprintf(c->name, sizeof c->name, "process %" PRId64, c->hello.pid);
	return 0;
}

/* --- finding processes -------------------------------------------------- */

static int
cmp_pid(const void *a, const void *b)
{
	pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * The processes with a socket in dir, by pid, in pids (at most max); the
 * sockets of dead processes are removed.  Returns how many, or -1 (said).
 */
static int
discover(const char *dir, pid_t *pids, int max)
{
	DIR *d;
	struct dirent *e;
	int n = 0, r;

	if ((r = check_dir(dir)) != 0)
		return r < 0 ? -1 : 0;
	if ((d = opendir(dir)) == NULL) {
		ctl_out_warn("%s: %s", dir, strerror(errno));
		return -1;
	}
	while ((e = readdir(d)) != NULL && n < max) {
		char path[PATH_MAX];
		struct stat st;
		pid_t pid = ml_wire_sock_pid(e->d_name);
		if (pid == 0 ||
		    ml_wire_sock_path(dir, pid, path, sizeof path) != 0)
			continue;
		if (lstat(path, &st) != 0 || !S_ISSOCK(st.st_mode))
			continue;       /* a file, a link: no process's */
		if (ml_wire_sock_stale(path, pid)) {
			unlink(path);
			continue;
		}
		pids[n++] = pid;
	}
	closedir(d);
	qsort(pids, (size_t)n, sizeof *pids, cmp_pid);
	return n;
}

/* The processes a command for all (ps, export) is about: those of the
 * folder, or the one of -p or -S (pid 0 for -S).  Returns how many. */
static int
targets(const struct ctl_args *a, const char *dir, pid_t *pids, int max)
{
	if (a->socket != NULL || a->pid != 0) {
		pids[0] = a->pid;
		return 1;
	}
	return discover(dir, pids, max);
}

int
ctl_client_open_one(const struct ctl_args *a, struct ctl_conn *c)
{
	char dir[PATH_MAX], path[PATH_MAX + 32];
	pid_t pids[MAX_PROCS];
	int n;

	if (a->socket != NULL)
		return conn_open(c, a->socket, 0);
	if (socket_dir(dir, sizeof dir) != 0)
		return -1;
	if (a->pid != 0) {
		ml_wire_sock_path(dir, a->pid, path, sizeof path);
		return conn_open(c, path, a->pid);
	}
	if ((n = discover(dir, pids, MAX_PROCS)) < 0)
		return -1;
	if (n == 0) {
		ctl_client_say_none();
		return -1;
	}
	if (n > 1) {
		fflush(stdout);
		fprintf(stderr, "memleasectl: %d processes have memlease "
		    "sockets; choose one with -p:", n);
		for (int i = 0; i < n; i++) {
			char cmd[256];
			proc_cmdline(pids[i], cmd, sizeof cmd);
			char *s = ctl_out_clean(cmd[0] != '\0' ? cmd : "?");
			fprintf(stderr, "%s %d (%.60s)", i ? "," : "",
			    (int)pids[i], s);
			free(s);
		}
		fputc('\n', stderr);
		return -1;
	}
	ml_wire_sock_path(dir, pids[0], path, sizeof path);
	return conn_open(c, path, pids[0]);
}

/* Connect to one of targets() (pid 0: -S). */
static int
open_target(const struct ctl_args *a, const char *dir, pid_t pid,
    struct ctl_conn *c)
{
	char path[PATH_MAX + 32];

	if (pid == 0 || a->socket != NULL)
		return conn_open(c, a->socket, 0);
	ml_wire_sock_path(dir, pid, path, sizeof path);
	return conn_open(c, path, pid);
}

int
ctl_client_procs(const struct ctl_args *a, struct ctl_proc **procs,
    int *count)
{
	char dir[PATH_MAX], err[256], cmdline[4096];
	pid_t pids[MAX_PROCS];
	int n, rc = 0;

	*count = 0;
	if (socket_dir(dir, sizeof dir) != 0 ||
	    (n = targets(a, dir, pids, MAX_PROCS)) < 0)
		return -1;
	if ((*procs = calloc((size_t)n + 1, sizeof **procs)) == NULL) {
		ctl_out_warn("out of memory");
		return -1;
	}
	for (int i = 0; i < n; i++) {
		struct ctl_conn c;
		struct ctl_reply r;
		struct ctl_proc *p = &(*procs)[*count];

		if (open_target(a, dir, pids[i], &c) != 0) {
			rc = -1;
			continue;
		}
		if (ctl_client_request(&c, "stats", NULL, &r) != 0) {
			ctl_client_close(&c);
			rc = -1;
			continue;
		}
		if (ctl_reply_stats(r.result, &p->st, err, sizeof err) != 0) {
			rc = ctl_client_malformed(&c, err);
			ctl_reply_free(&r);
			ctl_client_close(&c);
			continue;
		}
		p->pid = (pid_t)c.hello.pid;
		p->stats_json = json_incref(r.result);
		p->program = ctl_out_clean(c.hello.program != NULL ?
		    c.hello.program : "");
		p->version = ctl_out_clean(c.hello.version != NULL ?
		    c.hello.version : "");
		proc_cmdline(p->pid, cmdline, sizeof cmdline);
		p->command = ctl_out_clean(cmdline[0] != '\0' ? cmdline :
		    p->program);
		ctl_reply_free(&r);
		ctl_client_close(&c);
		(*count)++;
	}
	return rc;
}

void
ctl_client_say_none(void)
{
	char dir[PATH_MAX];
	struct stat st;

	if (socket_dir(dir, sizeof dir) != 0)
		return;
	ctl_out_warn("no process has a memlease control socket in %s%s", dir,
	    stat(dir, &st) != 0 && errno == ENOENT ? " (no such folder: no "
	    "process of this user made it)" : "");
}

void
ctl_client_procs_free(struct ctl_proc *procs, int n)
{
	for (int i = 0; i < n; i++) {
		free(procs[i].program);
		free(procs[i].command);
		free(procs[i].version);
		json_decref(procs[i].stats_json);
	}
	free(procs);
}

