/*
 * memleasectl.c - the command-line client of memlease's control socket
 * (memleasectl(1)): finds processes by their sockets, talks the JSON
 * protocol of memlease(7) to them, and prints what they answer.
 *
 * The pure parts live beside it: args.c (the command line), format.c
 * (human output), reply.c (responses checked).  This file owns the socket
 * I/O and the commands.  Every wait is bounded (CONN_TIMEOUT_MS), but
 * watch's wait for events; a response line is at most CTL_REPLY_MAX_LINE
 * bytes.  Listings are read page by page and printed as they come, so that
 * a process with a million leases does not make the client hold them all.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
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

static void
warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* "memleasectl: ..." on stderr. */
static void
warn(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs("memleasectl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* A text from a process, made safe to print (never NULL). */
static char *
clean(const char *s)
{
	char *c = ctl_fmt_clean(s);

	if (c == NULL) {
		warn("out of memory");
		exit(CTL_EXIT_FAIL);
	}
	return c;
}

/* JSON on one line; escaped to ASCII, so that it is safe on a terminal
 * too, and the same JSON. */
#define JSON_OUT (JSON_COMPACT | JSON_ENSURE_ASCII)

static void
print_json(json_t *o)
{
	json_dumpf(o, stdout, JSON_OUT);
	putchar('\n');
}

/* A JSON string of a command-line argument, which must be UTF-8. */
static json_t *
arg_string(const char *s, const char *what)
{
	json_t *v = json_string(s);

	if (v == NULL)
		warn("%s: not UTF-8 text", what);
	return v;
}

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* --- the socket folder ---------------------------------------------------- */

/* The socket folder (wire.h), in out: 0, or -1 (said). */
static int
socket_dir(char *out, size_t n)
{
	if (ml_wire_dir(out, n) == 0)
		return 0;
	warn("socket folder: path too long");
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
		warn("socket folder %s: %s", dir, why);
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

/* --- a connection ----------------------------------------------------------- */

struct conn {
	int              fd;
	char             name[160];     /* for messages: "process 42" */
	struct ctl_inbuf in;            /* bytes read, lines not yet read */
	int64_t          next_id;
	json_t          *hello_root;
	struct ctl_hello hello;
};

/* Connect to path within CONN_TIMEOUT_MS: the fd, or -errno. */
static int
connect_path(const char *path)
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

/* Write all of buf, waiting at most timeout_ms in all. */
static int
conn_write(struct conn *c, const char *buf, size_t len, int timeout_ms)
{
	uint64_t end = now_ms() + (uint64_t)timeout_ms;

	while (len > 0) {
		struct pollfd p = { c->fd, POLLOUT, 0 };
		uint64_t t = now_ms();
		int r = poll(&p, 1, t >= end ? 0 : (int)(end - t));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			warn("%s: %s", c->name, r == 0 ? "timed out writing "
			    "a request" : strerror(errno));
			return -1;
		}
		ssize_t n = send(c->fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0) {
			warn("%s: %s", c->name, strerror(errno));
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * The next line (without its newline, NUL-terminated in place) in
 * *line, valid until the next call.  timeout_ms < 0: wait for ever.
 * Returns 0, 1 at the end of the stream (between lines), -1 on error
 * (said).
 */
static int
conn_read_line(struct conn *c, int timeout_ms, char **line, size_t *len)
{
	uint64_t end = now_ms() + (uint64_t)(timeout_ms < 0 ? 0 : timeout_ms);
	size_t room;

	for (;;) {
		int r = ctl_inbuf_line(&c->in, CTL_REPLY_MAX_LINE, line, len);
		if (r == 0)
			return 0;
		if (r < 0) {
			warn("%s: a response line of more than %u MiB",
			    c->name, CTL_REPLY_MAX_LINE >> 20);
			return -1;
		}
		char *to = ctl_inbuf_room(&c->in, &room);
		if (to == NULL) {
			warn("out of memory");
			return -1;
		}
		struct pollfd p = { c->fd, POLLIN, 0 };
		uint64_t t = now_ms();
		r = poll(&p, 1, timeout_ms < 0 ? -1 : t >= end ? 0 :
		    (int)(end - t));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			warn("%s: %s", c->name, r == 0 ? "no response within "
			    "5 s" : strerror(errno));
			return -1;
		}
		ssize_t n = read(c->fd, to, room);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0) {
			warn("%s: %s", c->name, strerror(errno));
			return -1;
		}
		if (n == 0) {
			if (!ctl_inbuf_partial(&c->in))
				return 1;
			warn("%s: the connection closed in the middle of a "
			    "response", c->name);
			return -1;
		}
		ctl_inbuf_filled(&c->in, (size_t)n);
	}
}

/*
 * Send {"id":N,"cmd":cmd,...args} (args taken, may be NULL) and read the
 * line of its response (valid until the next read).  Returns N, or -1
 * (said).
 */
static int64_t
conn_send(struct conn *c, const char *cmd, json_t *args, char **line,
    size_t *len)
{
	json_t *req = args != NULL ? args : json_object();
	char *text;
	int64_t id = ++c->next_id;

	json_object_set_new(req, "id", json_integer(id));
	json_object_set_new(req, "cmd", json_string(cmd));
	text = json_dumps(req, JSON_COMPACT | JSON_ENSURE_ASCII);
	json_decref(req);
	if (text == NULL) {
		warn("out of memory");
		return -1;
	}
	*len = strlen(text);
	if (*len + 1 > ML_WIRE_MAX_LINE) {
		warn("%s: the request is over %d bytes", cmd, ML_WIRE_MAX_LINE);
		free(text);
		return -1;
	}
	text[*len] = '\n';      /* over the NUL: the buffer has len + 1 */
	int w = conn_write(c, text, *len + 1, CONN_TIMEOUT_MS);
	free(text);
	if (w != 0)
		return -1;
	switch (conn_read_line(c, CONN_TIMEOUT_MS, line, len)) {
	case 0:
		return id;
	case 1:
		warn("%s: the connection closed before a response", c->name);
		return -1;
	default:
		return -1;
	}
}

/*
 * The response line to request id in *r.  Returns 0 with r->ok true; -1
 * otherwise, said (a failure the process answered, a malformed response).
 */
static int
conn_reply(struct conn *c, int64_t id, const char *line, size_t len,
    struct ctl_reply *r)
{
	char err[256];

	if (ctl_reply_parse(line, len, r, err, sizeof err) != 0) {
		char *e = clean(err);
		warn("%s: %s", c->name, e);
		free(e);
		return -1;
	}
	if (r->id != id) {
		warn("%s: a response to request %" PRId64 " instead of %" PRId64,
		    c->name, r->id, id);
		ctl_reply_free(r);
		return -1;
	}
	if (!r->ok) {
		char *code = clean(r->code), *msg = clean(r->message);
		warn("%s: %s: %s", c->name, code, msg);
		free(code);
		free(msg);
		ctl_reply_free(r);
		return -1;
	}
	return 0;
}

/* A request and its response: conn_send, then conn_reply. */
static int
conn_request(struct conn *c, const char *cmd, json_t *args,
    struct ctl_reply *r)
{
	char *line;
	size_t len;
	int64_t id;

	memset(r, 0, sizeof *r);
	if ((id = conn_send(c, cmd, args, &line, &len)) < 0)
		return -1;
	return conn_reply(c, id, line, len, r);
}

static void
conn_close(struct conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	ctl_inbuf_free(&c->in);
	json_decref(c->hello_root);
	memset(c, 0, sizeof *c);
	c->fd = -1;
}

/* A typed view of a result failed: say so (clean) and return -1. */
static int
malformed(const struct conn *c, const char *err)
{
	char *e = clean(err);

	warn("%s: a malformed response: %s", c->name, e);
	free(e);
	return -1;
}

/*
 * A request whose result --json prints as it is: -1 (failed, said), 1
 * (printed), or 0 with *r to show to a human (the caller frees it).
 */
static int
ask(struct conn *c, const struct ctl_args *a, const char *cmd, json_t *args,
    struct ctl_reply *r)
{
	if (conn_request(c, cmd, args, r) != 0)
		return -1;
	if (!a->json)
		return 0;
	print_json(r->result);
	ctl_reply_free(r);
	return 1;
}

/*
 * Explain why pid has no socket at path: no such process, no memlease in
 * it, or no socket opened.
 */
static void
explain_missing(pid_t pid, const char *path, int err)
{
	char maps[64], line[4096];
	struct stat st;
	FILE *f;
	bool loaded = false;

	snprintf(maps, sizeof maps, "/proc/%d", (int)pid);
	if (stat(maps, &st) != 0 && errno == ENOENT) {
		warn("process %d: no such process", (int)pid);
		return;
	}
	snprintf(maps, sizeof maps, "/proc/%d/maps", (int)pid);
	if ((f = fopen(maps, "re")) == NULL) {
		/* another user's process, or a set-user-ID one (not
		 * dumpable): its maps are closed to us */
		warn("process %d has no control socket at %s: %s; cannot tell "
		    "whether memlease is loaded in it (%s: %s; set-user-ID "
		    "programs ignore LD_PRELOAD)", (int)pid, path,
		    strerror(err), maps, strerror(errno));
		return;
	}
	while (!loaded && fgets(line, sizeof line, f) != NULL)
		loaded = strstr(line, "libmemlease") != NULL;
	fclose(f);
	if (!loaded)
		warn("process %d does not have memlease loaded (statically "
		    "linked and set-user-ID programs ignore LD_PRELOAD)",
		    (int)pid);
	else
		warn("process %d has memlease loaded but no control socket at "
		    "%s: %s (it opens with memlease's thread, at start with "
		    "MEMLEASE_SOCKET=on, never with MEMLEASE_SOCKET=off; "
		    "MEMLEASE_SOCKET_DIR may name another folder)", (int)pid,
		    path, strerror(err));
}

/*
 * Connect to path (pid: its process, or 0), check the peer, say hello.
 * Returns 0 or -1 (said).
 */
static int
conn_open(struct conn *c, const char *path, pid_t pid)
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
	if ((c->fd = connect_path(path)) < 0) {
		int e = -c->fd;
		c->fd = -1;
		if (pid != 0 && (e == ENOENT || e == ECONNREFUSED))
			explain_missing(pid, path, e);
		else
			warn("%s: %s", path, e == EAGAIN || e ==
			    EWOULDBLOCK ? "timed out connecting" : strerror(e));
		return -1;
	}
	if (getsockopt(c->fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) != 0 ||
	    !ml_wire_peer_ok(cred.uid, ML_WIRE_CLIENT)) {
		warn("%s: refused: the process listening there is not yours",
		    path);
		conn_close(c);
		return -1;
	}
	args = json_object();
	json_object_set_new(args, "proto", json_integer(ML_WIRE_VERSION));
	if (conn_request(c, "hello", args, &r) != 0) {
		conn_close(c);
		return -1;
	}
	c->hello_root = json_incref(r.root);
	ctl_reply_free(&r);
	if (ctl_reply_hello(json_object_get(c->hello_root, "result"),
	    &c->hello, err, sizeof err) != 0) {
		malformed(c, err);
		conn_close(c);
		return -1;
	}
	if (c->hello.proto != ML_WIRE_VERSION) {
		warn("%s speaks protocol %" PRId64 "; this memleasectl speaks "
		    "%d", c->name, c->hello.proto, ML_WIRE_VERSION);
		conn_close(c);
		return -1;
	}
	snprintf(c->name, sizeof c->name, "process %" PRId64, c->hello.pid);
	return 0;
}

/* --- finding processes -------------------------------------------------------- */

static int
cmp_pid(const void *a, const void *b)
{
	pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;

	return x < y ? -1 : x > y;
}

/* A dead process's socket: nobody listens, and the process is gone. */
static bool
stale(const char *path, pid_t pid)
{
	if (kill(pid, 0) == 0 || errno != ESRCH)
		return false;
	int fd = connect_path(path);
	if (fd >= 0) {          /* another pid namespace's, alive */
		close(fd);
		return false;
	}
	return fd == -ECONNREFUSED;
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
		warn("%s: %s", dir, strerror(errno));
		return -1;
	}
	while ((e = readdir(d)) != NULL && n < max) {
		char path[PATH_MAX];
		pid_t pid = ml_wire_sock_pid(e->d_name);
		if (pid == 0 ||
		    ml_wire_sock_path(dir, pid, path, sizeof path) != 0)
			continue;
		if (stale(path, pid)) {
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

/* Open the connection a command for one process is about: -S, -p, or the
 * only process of the folder. */
static int
open_one(const struct ctl_args *a, struct conn *c)
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
		warn("no process has a memlease control socket in %s", dir);
		return -1;
	}
	if (n > 1) {
		fflush(stdout);
		fprintf(stderr, "memleasectl: %d processes have memlease "
		    "sockets; choose one with -p:", n);
		for (int i = 0; i < n; i++) {
			char cmd[256];
			proc_cmdline(pids[i], cmd, sizeof cmd);
			char *s = clean(cmd[0] != '\0' ? cmd : "?");
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
    struct conn *c)
{
	char path[PATH_MAX + 32];

	if (pid == 0 || a->socket != NULL)
		return conn_open(c, a->socket, 0);
	ml_wire_sock_path(dir, pid, path, sizeof path);
	return conn_open(c, path, pid);
}

/* --- output --------------------------------------------------------------------- */

static int
table_out(struct ctl_table *t)
{
	if (ctl_fmt_table_print(t, stdout, ctl_fmt_term_width(STDOUT_FILENO))
	    != 0) {
		warn("out of memory, or standard output failed");
		return -1;
	}
	return 0;
}

/* "name+0x12" of a frame, in buf. */
static const char *
frame_where(const struct ctl_frame *fr, char *buf, size_t n)
{
	if (fr->function == NULL || fr->function[0] == '\0')
		snprintf(buf, n, "?");
	else if (fr->offset > 0)
		snprintf(buf, n, "%s+%#" PRIx64, fr->function,
		    (uint64_t)fr->offset);
	else
		snprintf(buf, n, "%s", fr->function);
	return buf;
}

/* Print a backtrace, a frame a line, indented; -1 if malformed. */
static int
print_backtrace(const struct conn *c, json_t *bt, const char *indent)
{
	size_t i;
	json_t *v;
	char err[256], where[512];

	if (bt == NULL)
		return 0;
	if (!json_is_array(bt))
		return malformed(c, "\"backtrace\" is not a list");
	json_array_foreach(bt, i, v) {
		struct ctl_frame fr;
		if (ctl_reply_frame(v, &fr, err, sizeof err) != 0)
			return malformed(c, err);
		char *w = clean(frame_where(&fr, where, sizeof where));
		char *obj = clean(fr.object != NULL ? fr.object : "?");
		char *ip = clean(fr.ip != NULL ? fr.ip : "?");
		printf("%s#%-2zu %s (%s) [%s]\n", indent, i, w, obj, ip);
		free(w);
		free(obj);
		free(ip);
	}
	return 0;
}

/* --- commands --------------------------------------------------------------------- */

static const struct ctl_col lease_cols[] = {
	{ "ID", false, false, false },
	{ "SIZE", true, false, false },
	{ "AGE", true, false, false },
	{ "EXPIRES", true, false, false },
	{ "STATE", false, false, false },
	{ "KIND", false, false, false },
	{ "LABEL", false, true, false },
};
#define NLEASE_COLS (sizeof lease_cols / sizeof *lease_cols)

/* A lease as a row of the table. */
static int
lease_row(const struct conn *c, json_t *o, struct ctl_table *t)
{
	struct ctl_lease l;
	char err[256], size[CTL_FMT_UNIT], age[CTL_FMT_UNIT],
	    exp[CTL_FMT_UNIT];

	if (ctl_reply_lease(o, &l, err, sizeof err) != 0)
		return malformed(c, err);
	const char *row[NLEASE_COLS] = {
		l.id, ctl_fmt_size(l.size, size),
		ctl_fmt_duration(l.age_ms, age),
		ctl_fmt_duration(l.expires_in_ms, exp), l.state, l.kind,
		l.label,
	};
	if (ctl_fmt_table_add(t, row) != 0) {
		warn("out of memory");
		return -1;
	}
	return 0;
}

/* The arguments of list every request carries: the filters (NULL, said,
 * if the label is not UTF-8). */
static json_t *
list_filters(const struct ctl_args *a)
{
	json_t *o = json_object(), *label;

	if (a->older_than_ms != 0)
		json_object_set_new(o, "older_than_ms",
		    json_integer((json_int_t)a->older_than_ms));
	if (a->label != NULL) {
		if ((label = arg_string(a->label, "--label")) == NULL) {
			json_decref(o);
			return NULL;
		}
		json_object_set_new(o, "label", label);
	}
	if (a->state != NULL)
		json_object_set_new(o, "state", json_string(a->state));
	return o;
}

static int64_t
site_bytes(json_t *o)
{
	json_t *v = json_object_get(o, "bytes");

	return json_is_integer(v) ? (int64_t)json_integer_value(v) : -1;
}

static int
cmp_site(const void *a, const void *b)
{
	int64_t x = site_bytes(*(json_t *const *)a);
	int64_t y = site_bytes(*(json_t *const *)b);

	return x < y ? 1 : x > y ? -1 : 0;
}

/* list --by-site: every site, the most bytes first, at most --limit. */
static int
list_by_site(const struct ctl_args *a, struct conn *c)
{
	static const struct ctl_col cols[] = {
		{ "COUNT", true, false, false },
		{ "BYTES", true, false, false },
		{ "SITE", false, true, false },
		{ "OBJECT", false, true, true },
	};
	struct ctl_reply r;
	struct ctl_table t;
	json_t *req = list_filters(a), *sites = NULL, **v;
	int64_t next = -1;
	char err[256];
	int rc = -1;

	json_object_set_new(req, "by_site", json_true());
	if (conn_request(c, "list", req, &r) != 0)
		return -1;
	if (ctl_reply_page(r.result, "sites", &sites, &next, err,
	    sizeof err) != 0) {
		malformed(c, err);
		ctl_reply_free(&r);
		return -1;
	}
	size_t n = json_array_size(sites);
	if ((v = calloc(n + 1, sizeof *v)) == NULL ||
	    ctl_fmt_table_init(&t, cols, 4) != 0) {
		free(v);
		warn("out of memory");
		ctl_reply_free(&r);
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		v[i] = json_array_get(sites, i);
	qsort(v, n, sizeof *v, cmp_site);
	if (a->limit != 0 && n > a->limit)
		n = (size_t)a->limit;
	if (a->json) {
		json_t *arr = json_array();
		for (size_t i = 0; i < n; i++)
			json_array_append(arr, v[i]);
		json_object_set_new(r.result, "sites", arr);
		print_json(r.result);
		rc = 0;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		struct ctl_site s;
		char count[CTL_FMT_UNIT], bytes[CTL_FMT_UNIT], where[512];
		if (ctl_reply_site(v[i], &s, err, sizeof err) != 0) {
			malformed(c, err);
			goto out;
		}
		const char *row[] = {
			ctl_fmt_count(s.count, count),
			ctl_fmt_size(s.bytes, bytes),
			s.known ? frame_where(&s.site, where, sizeof where) :
			    "?",
			s.known && s.site.object != NULL ? s.site.object : "?",
		};
		if (ctl_fmt_table_add(&t, row) != 0) {
			warn("out of memory");
			goto out;
		}
	}
	rc = table_out(&t);
out:
	ctl_fmt_table_free(&t);
	free(v);
	ctl_reply_free(&r);
	return rc;
}

/* list --sort: one request, the top N. */
static int
list_sorted(const struct ctl_args *a, struct conn *c)
{
	struct ctl_reply r;
	struct ctl_table t;
	json_t *req = list_filters(a), *leases = NULL, *v;
	int64_t next = -1;
	char err[256];
	size_t i;
	int rc = 0;

	json_object_set_new(req, "sort", json_string(a->sort == CTL_SORT_AGE ?
	    "age" : "size"));
	json_object_set_new(req, "limit", json_integer(a->limit != 0 ?
	    (json_int_t)a->limit : CTL_TOP_MAX));
	if ((rc = ask(c, a, "list", req, &r)) != 0)
		return rc < 0 ? -1 : 0;
	if (ctl_reply_page(r.result, "leases", &leases, &next, err,
	    sizeof err) != 0) {
		ctl_reply_free(&r);
		return malformed(c, err);
	}
	if (ctl_fmt_table_init(&t, lease_cols, NLEASE_COLS) != 0) {
		ctl_reply_free(&r);
		warn("out of memory");
		return -1;
	}
	json_array_foreach(leases, i, v)
		if ((rc = lease_row(c, v, &t)) != 0)
			break;
	if (rc == 0)
		rc = table_out(&t);
	ctl_fmt_table_free(&t);
	ctl_reply_free(&r);
	return rc;
}

/* The leases of a page's response line, through jansson: rows of t, or
 * with t NULL, JSON each after a comma but the first. */
static int
page_parsed(const struct ctl_args *a, struct conn *c, int64_t id,
    const char *line, size_t len, uint64_t *count, int64_t *next,
    struct ctl_table *t)
{
	struct ctl_reply r;
	json_t *leases = NULL, *v;
	char err[256];
	size_t i;
	int rc = 0;

	if (conn_reply(c, id, line, len, &r) != 0)
		return -1;
	if (ctl_reply_page(r.result, "leases", &leases, next, err,
	    sizeof err) != 0)
		rc = malformed(c, err);
	json_array_foreach(leases, i, v) {
		if (rc != 0 || (a->limit != 0 && *count == a->limit))
			break;
		if (t != NULL) {
			rc = lease_row(c, v, t);
		} else if (!json_is_object(v)) {
			rc = malformed(c, "a lease is not an object");
		} else {
			if (*count != 0)
				putchar(',');
			json_dumpf(v, stdout, JSON_OUT);
		}
		(*count)++;
	}
	ctl_reply_free(&r);
	return rc == 0 && t != NULL ? table_out(t) : rc;
}

/*
 * One page of list from the cursor: the leases after what *count had, up
 * to the limit, as rows of t, or with t NULL as JSON.  JSON is printed
 * from the text of the response when that is in the server's plain shape
 * (ctl_reply_page_text): parsing and writing each lease again costs
 * several times the listing.  Returns 0 with *next (-1: the last page),
 * or -1 (said).
 */
static int
list_page(const struct ctl_args *a, struct conn *c, int64_t cursor,
    uint64_t *count, int64_t *next, struct ctl_table *t)
{
	struct ctl_page_text pg;
	json_t *req = list_filters(a);
	char *line;
	size_t len, n;
	int64_t id;

	json_object_set_new(req, "cursor", json_integer(cursor));
	if ((id = conn_send(c, "list", req, &line, &len)) < 0)
		return -1;
	if (t != NULL || !ctl_reply_page_text(line, len, "leases", &pg) ||
	    pg.id != id)
		return page_parsed(a, c, id, line, len, count, next, t);
	*next = pg.next;
	n = pg.count;
	if (a->limit != 0 && n > a->limit - *count)
		n = a->limit - *count;
	if (n > 0 && *count > 0)
		putchar(',');
	fwrite(pg.items, 1, ctl_reply_page_cut(&pg, n), stdout);
	*count += n;
	return 0;
}

/* list: page after page, each printed as it comes; --json writes one
 * {"leases":[...]} as it goes. */
static int
list_paged(const struct ctl_args *a, struct conn *c)
{
	struct ctl_table t;
	int64_t cursor = 0, next = -1;
	uint64_t count = 0;
	int rc = 0;

	if (ctl_fmt_table_init(&t, lease_cols, NLEASE_COLS) != 0) {
		warn("out of memory");
		return -1;
	}
	if (a->json)
		fputs("{\"leases\":[", stdout);
	for (;;) {
		rc = list_page(a, c, cursor, &count, &next, a->json ? NULL :
		    &t);
		if (rc == 0 && next >= 0 && next <= cursor)
			rc = malformed(c, "the cursor of \"next\" goes back");
		if (rc != 0 || next < 0 || (a->limit != 0 && count == a->limit))
			break;
		cursor = next;
	}
	if (a->json && rc == 0)
		fputs("]}\n", stdout);
	else if (a->json)
		fputs("\n", stdout);    /* what was written stays one line */
	ctl_fmt_table_free(&t);
	return rc;
}

static int
cmd_list(const struct ctl_args *a, struct conn *c)
{
	json_t *filters = list_filters(a);

	/* checked once: each request below makes its own */
	if (filters == NULL)
		return -1;
	json_decref(filters);
	if (a->by_site)
		return list_by_site(a, c);
	if (a->sort != CTL_SORT_NONE)
		return list_sorted(a, c);
	return list_paged(a, c);
}

static int
cmd_stats(const struct ctl_args *a, struct conn *c)
{
	struct ctl_reply r;
	struct ctl_stats st;
	char err[256], v[CTL_FMT_UNIT];
	int rc;

	if ((rc = ask(c, a, "stats", NULL, &r)) != 0)
		return rc < 0 ? -1 : 0;
	if (ctl_reply_stats(r.result, &st, err, sizeof err) != 0) {
		ctl_reply_free(&r);
		return malformed(c, err);
	}
	char *prog = clean(c->hello.program);
	printf("%-18s %s\n", "pid", ctl_fmt_count(st.pid, v));
	printf("%-18s %s\n", "program", prog);
	free(prog);
	for (size_t i = 0; i < ctl_reply_nstat_fields; i++) {
		const struct ctl_stat_field *f = &ctl_reply_stat_fields[i];
		int64_t x = *(const int64_t *)((const char *)&st + f->offset);
		char name[32];
		snprintf(name, sizeof name, "%s", f->name);
		for (char *p = name; *p != '\0'; p++)
			if (*p == '_')
				*p = ' ';
		printf("%-18s %s\n", name, f->bytes ? ctl_fmt_size(x, v) :
		    ctl_fmt_count(x, v));
	}
	ctl_reply_free(&r);
	return 0;
}

static json_t *
lease_arg(uint64_t lease)
{
	char id[24];
	json_t *o = json_object();

	snprintf(id, sizeof id, "%#" PRIx64, lease);
	json_object_set_new(o, "lease", json_string(id));
	return o;
}

static int
cmd_show(const struct ctl_args *a, struct conn *c)
{
	struct ctl_reply r;
	struct ctl_lease l;
	char err[256], size[CTL_FMT_UNIT], age[CTL_FMT_UNIT],
	    exp[CTL_FMT_UNIT], n[CTL_FMT_UNIT];
	int rc;

	if ((rc = ask(c, a, "show", lease_arg(a->lease), &r)) != 0)
		return rc < 0 ? -1 : 0;
	if (ctl_reply_lease(r.result, &l, err, sizeof err) != 0) {
		ctl_reply_free(&r);
		return malformed(c, err);
	}
	const struct {
		const char *name, *value;
	} lines[] = {
		{ "lease", l.id },
		{ "label", l.label },
		{ "size", ctl_fmt_size(l.size, size) },
		{ "address", l.addr },
		{ "age", ctl_fmt_duration(l.age_ms, age) },
		{ "expires in", l.expires_in_ms >= 0 ?
		    ctl_fmt_duration(l.expires_in_ms, exp) : "never" },
		{ "state", l.state },
		{ "kind", l.kind },
		{ "pins", ctl_fmt_count(l.pins, n) },
	};
	for (size_t i = 0; i < sizeof lines / sizeof *lines; i++) {
		char *s = clean(lines[i].value);
		printf("%-11s %s\n", lines[i].name, s);
		free(s);
	}
	printf("%-11s %s\n", "releases", ctl_fmt_count(l.releases, n));
	printf("backtrace:\n");
	rc = print_backtrace(c, json_object_get(r.result, "backtrace"),
	    "  ");
	ctl_reply_free(&r);
	return rc;
}

static int
cmd_renew(const struct ctl_args *a, struct conn *c)
{
	struct ctl_reply r;
	json_t *req = lease_arg(a->lease);
	char ttl[CTL_FMT_UNIT];
	int rc;

	json_object_set_new(req, "ttl_ms", json_integer((json_int_t)a->ttl_ms));
	if ((rc = ask(c, a, "renew", req, &r)) != 0)
		return rc < 0 ? -1 : 0;
	if (a->ttl_ms == 0)
		printf("lease %#" PRIx64 " renewed: no timeout\n", a->lease);
	else
		printf("lease %#" PRIx64 " renewed: expires in %s\n", a->lease,
		    ctl_fmt_duration((int64_t)a->ttl_ms, ttl));
	ctl_reply_free(&r);
	return 0;
}

static int
cmd_expire(const struct ctl_args *a, struct conn *c)
{
	struct ctl_reply r;
	int rc;

	if ((rc = ask(c, a, "expire", lease_arg(a->lease), &r)) != 0)
		return rc < 0 ? -1 : 0;
	printf("lease %#" PRIx64 " expired\n", a->lease);
	ctl_reply_free(&r);
	return 0;
}

static int
cmd_rules(const struct ctl_args *a, struct conn *c)
{
	static const char *const ops[] = { "get", "set", "add", "clear" };
	struct ctl_reply r;
	json_t *req = json_object(), *rules;
	const char *text;
	char err[256];
	int rc;

	json_object_set_new(req, "op", json_string(ops[a->rules_op]));
	if (a->rules != NULL) {
		if ((rules = arg_string(a->rules, "rules")) == NULL) {
			json_decref(req);
			return -1;
		}
		json_object_set_new(req, "rules", rules);
	}
	if ((rc = ask(c, a, "rules", req, &r)) != 0)
		return rc < 0 ? -1 : 0;
	if (ctl_reply_rules(r.result, &text, err, sizeof err) != 0) {
		ctl_reply_free(&r);
		return malformed(c, err);
	}
	if (text[0] == '\0') {
		printf("no rules\n");
	} else {
		/* one rule a line: each line cleaned on its own */
		char *copy = strdup(text), *save = NULL;
		for (char *l = copy != NULL ? strtok_r(copy, "\n", &save) :
		    NULL; l != NULL; l = strtok_r(NULL, "\n", &save)) {
			char *s = clean(l);
			printf("%s\n", s);
			free(s);
		}
		free(copy);
	}
	ctl_reply_free(&r);
	return 0;
}

/* One expiry event, as a report of memlease(7) would say it. */
static int
print_event(const struct conn *c, json_t *o)
{
	struct ctl_event ev;
	char err[256], size[CTL_FMT_UNIT], age[CTL_FMT_UNIT];

	if (ctl_reply_event(o, &ev, err, sizeof err) != 0)
		return malformed(c, err);
	char *event = clean(ev.event), *id = clean(ev.id),
	    *addr = clean(ev.addr), *action = clean(ev.action);
	char *label = ev.label != NULL ? clean(ev.label) : NULL;
	printf("pid %" PRId64 ": lease %s%s%s%s %s: %s at %s, age %s, %s\n",
	    ev.pid, id, label ? " \"" : "", label ? label : "",
	    label ? "\"" : "", event, ctl_fmt_size(ev.size, size), addr,
	    ctl_fmt_duration(ev.age_ms, age), action);
	free(event);
	free(id);
	free(addr);
	free(action);
	free(label);
	return print_backtrace(c, ev.backtrace, "    ");
}

static int
cmd_watch(const struct ctl_args *a, struct conn *c)
{
	struct ctl_reply r;
	json_error_t jerr;
	char *line;
	size_t len;
	int rc;

	if (conn_request(c, "watch", NULL, &r) != 0)
		return -1;
	ctl_reply_free(&r);
	fflush(stdout);
	while ((rc = conn_read_line(c, -1, &line, &len)) == 0) {
		json_t *o = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
		if (!json_is_object(o)) {
			json_decref(o);
			return malformed(c, "an event that is not a JSON "
			    "object");
		}
		if (json_is_false(json_object_get(o, "ok"))) {
			/* the process ends the watch with an error */
			char *msg = clean(json_string_value(json_object_get(
			    json_object_get(o, "error"), "message")));
			warn("%s: %s", c->name, msg);
			free(msg);
			json_decref(o);
			return -1;
		}
		if (a->json)
			print_json(o);
		else
			rc = print_event(c, o);
		json_decref(o);
		if (rc != 0)
			return -1;
		if (fflush(stdout) != 0)
			return -1;
	}
	return rc < 0 ? -1 : 0;         /* the process went away: done */
}

/* A process's hello and stats, for ps and export. */
struct proc {
	pid_t            pid;
	char            *program, *command, *version;
	json_t          *stats_json;
	struct ctl_stats st;
};

/* Read the processes of targets(): those that answer in *procs (count
 * returned); -1 if any failed (the others are still there). */
static int
read_procs(const struct ctl_args *a, struct proc **procs, int *count)
{
	char dir[PATH_MAX], err[256], cmdline[4096];
	pid_t pids[MAX_PROCS];
	int n, rc = 0;

	*count = 0;
	if (socket_dir(dir, sizeof dir) != 0 ||
	    (n = targets(a, dir, pids, MAX_PROCS)) < 0)
		return -1;
	if ((*procs = calloc((size_t)n + 1, sizeof **procs)) == NULL) {
		warn("out of memory");
		return -1;
	}
	for (int i = 0; i < n; i++) {
		struct conn c;
		struct ctl_reply r;
		struct proc *p = &(*procs)[*count];

		if (open_target(a, dir, pids[i], &c) != 0) {
			rc = -1;
			continue;
		}
		if (conn_request(&c, "stats", NULL, &r) != 0) {
			conn_close(&c);
			rc = -1;
			continue;
		}
		if (ctl_reply_stats(r.result, &p->st, err, sizeof err) != 0) {
			rc = malformed(&c, err);
			ctl_reply_free(&r);
			conn_close(&c);
			continue;
		}
		p->pid = (pid_t)c.hello.pid;
		p->stats_json = json_incref(r.result);
		p->program = clean(c.hello.program != NULL ?
		    c.hello.program : "");
		p->version = clean(c.hello.version != NULL ?
		    c.hello.version : "");
		proc_cmdline(p->pid, cmdline, sizeof cmdline);
		p->command = clean(cmdline[0] != '\0' ? cmdline : p->program);
		ctl_reply_free(&r);
		conn_close(&c);
		(*count)++;
	}
	return rc;
}

static void
free_procs(struct proc *procs, int n)
{
	for (int i = 0; i < n; i++) {
		free(procs[i].program);
		free(procs[i].command);
		free(procs[i].version);
		json_decref(procs[i].stats_json);
	}
	free(procs);
}

static int
cmd_ps(const struct ctl_args *a)
{
	static const struct ctl_col cols[] = {
		{ "PID", true, false, false },
		{ "LEASES", true, false, false },
		{ "BYTES", true, false, false },
		{ "TAGGED", true, false, false },
		{ "COMMAND", false, true, false },
	};
	struct proc *procs = NULL;
	struct ctl_table t;
	int n, rc = read_procs(a, &procs, &n);

	if (procs == NULL)
		return -1;
	if (a->json) {
		json_t *arr = json_array(), *o = json_object();
		for (int i = 0; i < n; i++) {
			json_t *p = json_object();
			json_object_set_new(p, "pid", json_integer(procs[i].pid));
			json_object_set_new(p, "program",
			    json_string(procs[i].program));
			json_object_set_new(p, "version",
			    json_string(procs[i].version));
			json_object_set_new(p, "command",
			    json_string(procs[i].command));
			json_object_set(p, "stats", procs[i].stats_json);
			json_array_append_new(arr, p);
		}
		json_object_set_new(o, "processes", arr);
		print_json(o);
		json_decref(o);
	} else if (ctl_fmt_table_init(&t, cols, 5) == 0) {
		for (int i = 0; i < n && rc == 0; i++) {
			char pid[CTL_FMT_UNIT], leases[CTL_FMT_UNIT],
			    bytes[CTL_FMT_UNIT], tagged[CTL_FMT_UNIT];
			const char *row[] = {
				ctl_fmt_count(procs[i].pid, pid),
				ctl_fmt_count(procs[i].st.live_leases, leases),
				ctl_fmt_size(procs[i].st.live_bytes, bytes),
				ctl_fmt_count(procs[i].st.tagged, tagged),
				procs[i].command,
			};
			if (ctl_fmt_table_add(&t, row) != 0)
				rc = -1;
		}
		if (table_out(&t) != 0)
			rc = -1;
		ctl_fmt_table_free(&t);
	} else {
		rc = -1;
	}
	free_procs(procs, n);
	return rc;
}

/* A label value of the exposition format: \, " and newline escaped. */
static void
print_label_value(const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '\\' || *s == '"')
			printf("\\%c", *s);
		else if (*s == '\n')
			fputs("\\n", stdout);
		else
			putchar(*s);
	}
}

static void
print_labels(const struct proc *p, bool version)
{
	printf("{pid=\"%d\",program=\"", (int)p->pid);
	print_label_value(p->program);
	if (version) {
		fputs("\",version=\"", stdout);
		print_label_value(p->version);
	}
	fputs("\"}", stdout);
}

static int
cmd_export(const struct ctl_args *a)
{
	bool om = a->format == CTL_FORMAT_OPENMETRICS;
	struct proc *procs = NULL;
	int n, rc = read_procs(a, &procs, &n);

	if (procs == NULL)
		return -1;
	/* memlease_info: one sample a process, its value 1 */
	printf("# HELP memlease_info A process with memlease: its pid, "
	    "program and version.\n# TYPE memlease%s\n",
	    om ? " info" : "_info gauge");
	for (int i = 0; i < n; i++) {
		fputs("memlease_info", stdout);
		print_labels(&procs[i], true);
		fputs(" 1\n", stdout);
	}
	for (size_t k = 0; k < ctl_reply_nstat_fields; k++) {
		const struct ctl_stat_field *f = &ctl_reply_stat_fields[k];
		/* a counter's family is named without _total in OpenMetrics,
		 * with it in Prometheus's text format; samples have it */
		const char *total = f->counter ? "_total" : "";
		const char *family = om ? "" : total;

		printf("# HELP memlease_%s%s %s\n", f->name, family, f->help);
		printf("# TYPE memlease_%s%s %s\n", f->name, family,
		    f->counter ? "counter" : "gauge");
		for (int i = 0; i < n; i++) {
			int64_t x = *(const int64_t *)((const char *)
			    &procs[i].st + f->offset);
			if (x < 0)
				continue;
			printf("memlease_%s%s", f->name, total);
			print_labels(&procs[i], false);
			printf(" %" PRId64 "\n", x);
		}
	}
	if (om)
		fputs("# EOF\n", stdout);
	free_procs(procs, n);
	return rc;
}

static int
run(const struct ctl_args *a)
{
	struct conn c;
	int rc;

	switch (a->cmd) {
	case CTL_CMD_PS:
		return cmd_ps(a);
	case CTL_CMD_EXPORT:
		return cmd_export(a);
	default:
		break;
	}
	if (open_one(a, &c) != 0)
		return -1;
	switch (a->cmd) {
	case CTL_CMD_STATS:  rc = cmd_stats(a, &c); break;
	case CTL_CMD_LIST:   rc = cmd_list(a, &c); break;
	case CTL_CMD_SHOW:   rc = cmd_show(a, &c); break;
	case CTL_CMD_RENEW:  rc = cmd_renew(a, &c); break;
	case CTL_CMD_EXPIRE: rc = cmd_expire(a, &c); break;
	case CTL_CMD_RULES:  rc = cmd_rules(a, &c); break;
	case CTL_CMD_WATCH:  rc = cmd_watch(a, &c); break;
	default:             rc = -1; break;
	}
	conn_close(&c);
	return rc;
}

int
main(int argc, char **argv)
{
	struct ctl_args a;
	char err[512];
	int rc = ctl_args_parse(argc, argv, &a, err, sizeof err);

	if (rc == CTL_EXIT_USAGE) {
		warn("%s", err);
		return rc;
	}
	if (rc != CTL_EXIT_OK) {
		warn("out of memory");
		return rc;
	}
	if (a.version) {
		printf("memleasectl (memlease) %s\n", MEMLEASECTL_VERSION);
	} else if (a.help) {
		ctl_args_help(stdout, a.cmd);
	} else {
		rc = run(&a) == 0 ? CTL_EXIT_OK : CTL_EXIT_FAIL;
	}
	ctl_args_free(&a);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		warn("standard output: %s", strerror(errno));
		return CTL_EXIT_FAIL;
	}
	return rc;
}
