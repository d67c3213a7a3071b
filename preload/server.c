/*
 * server.c - the control socket (see server.h).
 *
 * Over 800 lines, and one file still: the clients' connections and the
 * budgets, pauses and timers that bound what they may make the process
 * hold are one state machine over one table of clients; split, each half
 * would reach into the other's fields.  (The requests themselves are
 * proto.c's, the listings listing.c's, the folder's rule wire.c's.)
 *
 * The folder (MEMLEASE_SOCKET_DIR, else $XDG_RUNTIME_DIR/memlease, else
 * /tmp/memlease-UID) is made 0700 and used only if it is a folder owned by
 * us and closed to others; the socket is PID.sock, mode 0600; a client
 * whose SO_PEERCRED uid is neither ours nor root's is refused.  That rule
 * is wire.h's, which memleasectl follows too.  Sockets of
 * dead processes in the folder are removed when the socket is made, and
 * only they: a socket that refuses connections, of a pid that is gone
 * (wire.h: never a file, a FIFO or a link, never a socket that answers).
 * If PID.sock is there and answers (a process of another PID namespace
 * sharing the folder), it is left alone, and there is no socket.  The
 * file goes with its process however it ends but killed: when the loop
 * stops (exit), in _exit() (preload.c), and when the process executes
 * another program (at that program's start, if the preload is in it).
 *
 * Clients: at most MAX_CLIENTS; one more is answered EBUSY with the
 * count, and closed.  Each has an input buffer of one request (lines.h: a
 * longer line is refused with E2BIG and skipped) and an output queue.
 * Memory, bounded whatever clients do (memlease(7)):
 *   - a client's requests are not read, nor those it sent already served,
 *     while its queue holds CLIENT_BUDGET bytes or more, until it drains
 *     (back-pressure: a listing is produced a page a request);
 *   - nobody's are while all queues together hold TOTAL_BUDGET or more,
 *     until they drop under it (sv.starved: someone waits for that);
 *   - every request read is answered: an answer is queued whole, so a
 *     queue passes its budget by one answer at most;
 *   - watch's events are not requests: a watcher whose queue would pass
 *     WATCH_MAX, or all queues TOTAL_MAX, is dropped.
 * A client is closed after MEMLEASE_SOCKET_IDLE seconds without activity
 * (a request served, a byte of its answers sent) if it is idle (nothing
 * queued, no request waiting, not watching) or stalled (answers queued
 * that it does not read); a watcher with nothing queued waits for events
 * as long as it likes, and a client whose requests wait for the total
 * budget is never blamed for it.  Nothing here ever blocks: every
 * descriptor is non-blocking.
 *
 * Threads: everything runs on memlease's thread (ml_server_start() as it
 * starts, in its own descriptor table: fd.h) but
 * ml_server_event() and ml_server_watched(), which any thread that
 * expires a lease may call:
 * `sv.qlock` guards the queue of events they hand over.  The descriptors
 * of the server are kept high and close-on-exec (fd.h), and in a fork
 * child are closed only if they are still what they were.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "core.h"
#include "lines.h"
#include "mem.h"
#include "loop.h"
#include "options.h"
#include "proto.h"
#include "fd.h"
#include "report.h"
#include "runtime.h"
#include "server.h"
#include "wire.h"

#define MAX_CLIENTS    128
#define CLIENT_BUDGET  (256 * 1024)
#define TOTAL_BUDGET   (4 * 1024 * 1024)
#define WATCH_MAX      (1024 * 1024)
#define TOTAL_MAX      (8 * 1024 * 1024)
#define OUT_KEEP       (64 * 1024)      /* a drained queue's buffer kept */
#define EVENTS_MAX     4096

struct client {
	int      fd;
	struct ml_fd_id id;       /* what fd must be, in a fork child */
	ev_io    rw, ww;
	struct ml_lines in;
	bool     watching;
	bool     paused;          /* over a budget: rw is stopped */
	ev_tstamp active;         /* a request served, or a byte sent */
	char    *out;
	size_t   outlen, outoff, outcap;
};

static struct {
	struct ev_loop  *loop;
	int              lfd;
	struct ml_fd_id  lid;
	ev_io            lw;
	char             path[sizeof ((struct sockaddr_un *)0)->sun_path];
	struct client   *c[MAX_CLIENTS];
	int              n;
	size_t           queued;        /* in all clients' queues */
	bool             starved;       /* a client waits for the total */
	ev_idle          resume;        /* its requests, once it is under */
	ev_timer         idle;          /* closes idle and stalled clients */
	atomic_int       watchers;
	pthread_mutex_t  qlock;
	char           **q;             /* event lines (mem.h) */
	size_t           qn;
	uint64_t         dropped;
	bool             said;
	ev_timer         retry;         /* the socket again, a while later */
	unsigned         retries;
	atomic_int       owner;         /* the pid whose file path is, or 0 */
	dev_t            made_dev;      /* the file this process bound at */
	ino_t            made_ino;      /* path (0: none), its own to replace */
} sv = {
	.lfd = -1,
	.qlock = PTHREAD_MUTEX_INITIALIZER,
};

/* Said once a process: why there is no socket. */
static void
say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
say(const char *fmt, ...)
{
	char line[512];
	va_list ap;

	if (sv.said)
		return;
	sv.said = true;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	ml_report_diag("%s; no control socket", line);
}

/* The socket folder, made if missing; false (said once) if it is unfit
 * (wire.h: the rule memleasectl checks too). */
static bool
socket_dir(char *dir, size_t len)
{
	char why[128];

	if (ml_wire_dir(dir, len) != 0) {
		say("socket folder: path too long");
		return false;
	}
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		say("socket folder %s: %s", dir, strerror(errno));
		return false;
	}
	if (ml_wire_dir_check(dir, ML_WIRE_SERVER, why, sizeof why) != 0) {
		say("socket folder %s: %s", dir, why);
		return false;
	}
	return true;
}

/* Remove the sockets of processes that are gone (wire.h: dead sockets
 * only). */
static void
remove_stale(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct dirent *de;
	char path[PATH_MAX];

	if (fd < 0)
		return;
	fd = ml_fd_high(fd);
	DIR *d = fdopendir(fd);
	if (d == NULL) {
		close(fd);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		pid_t pid = ml_wire_sock_pid(de->d_name);
		if (pid == 0 || pid == getpid() ||
		    ml_wire_sock_path(dir, pid, path, sizeof path) != 0)
			continue;
		if (ml_wire_sock_stale(path, pid))
			unlink(path);
	}
	closedir(d);
}

/*
 * Whether sv.path may be bound: nothing is there, or a dead socket (of an
 * earlier process with our pid), or the very file this process bound
 * there before (a program without memlease's own descriptor table closed
 * the listening socket, but holds a copy of it); each of those removed.
 * Anything else is left alone, said once (wire.h).
 */
static bool
path_free(void)
{
	struct stat st;

	switch (ml_wire_sock_probe(sv.path)) {
	case ML_WIRE_SOCK_NONE:
		return true;
	case ML_WIRE_SOCK_DEAD:
		unlink(sv.path);
		return true;
	case ML_WIRE_SOCK_LIVE:
		if (sv.made_ino != 0 && lstat(sv.path, &st) == 0 &&
		    st.st_dev == sv.made_dev && st.st_ino == sv.made_ino) {
			unlink(sv.path);
			return true;
		}
		say("%s: a socket there answers (a process of another PID "
		    "namespace?); left alone", sv.path);
		return false;
	case ML_WIRE_SOCK_OTHER:
		break;
	}
	say("%s: not a socket of ours; left alone", sv.path);
	return false;
}

/* Clients. */

static size_t
pending(const struct client *c)
{
	return c->outlen - c->outoff;
}

/* n bytes left the queues: the clients waiting for the total budget may
 * go on once it is under (resume_cb, from the loop, not from here). */
static void
unqueued(size_t n)
{
	sv.queued -= n;
	if (sv.starved && sv.queued < TOTAL_BUDGET)
		ev_idle_start(sv.loop, &sv.resume);
}

static void
client_close(struct client *c)
{
	ev_io_stop(sv.loop, &c->rw);
	ev_io_stop(sv.loop, &c->ww);
	if (ml_fd_still(c->fd, &c->id))
		close(c->fd);
	if (c->watching)
		atomic_fetch_sub(&sv.watchers, 1);
	for (int i = 0; i < sv.n; i++)
		if (sv.c[i] == c) {
			sv.c[i] = sv.c[--sv.n];
			break;
		}
	unqueued(pending(c));
	ml_mem_free(c->out);
	ml_mem_free(c);
}

static bool
over_budget(const struct client *c)
{
	return pending(c) >= CLIENT_BUDGET || sv.queued >= TOTAL_BUDGET;
}

static void client_pump(struct client *c);
/* Send what is queued; false if the client is gone (closed). */
static bool
flush_out(struct client *c)
{
	while (pending(c) > 0) {
		ssize_t w = send(c->fd, c->out + c->outoff, pending(c),
		    MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w > 0) {
			c->outoff += (size_t)w;
			c->active = ev_now(sv.loop);
			unqueued((size_t)w);
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			ev_io_start(sv.loop, &c->ww);
			return true;
		}
		client_close(c);        /* gone, or broken */
		return false;
	}
	c->outoff = c->outlen = 0;
	if (c->outcap > OUT_KEEP) {     /* an idle client holds little */
		ml_mem_free(c->out);
		c->out = NULL;
		c->outcap = 0;
	}
	ev_io_stop(sv.loop, &c->ww);
	return true;
}

/* Send what is queued, and serve the client's requests again if that
 * took it under the budgets (back-pressure is over). */
static void
client_send(struct client *c)
{
	if (flush_out(c) && c->paused && !over_budget(c))
		client_pump(c);
}

/* Queue a line for the client, whole; false if it could not be (out of
 * memory: the client is closed).  A line made for it alone (own) is
 * taken as the queue itself when the queue is empty: no copy. */
static bool
queue_out(struct client *c, char *line, size_t len, bool own)
{
	if (pending(c) == 0)
		c->active = ev_now(sv.loop);    /* it waits from now */
	if (own && pending(c) == 0) {
		ml_mem_free(c->out);
		c->out = line;
		c->outoff = 0;
		c->outlen = c->outcap = len;
		sv.queued += len;
		return true;
	}
	if (c->outoff > 0 && c->outlen + len > c->outcap) {
		memmove(c->out, c->out + c->outoff, pending(c));
		c->outlen -= c->outoff;
		c->outoff = 0;
	}
	if (c->outlen + len > c->outcap) {
		size_t cap = c->outcap ? c->outcap : 4096;
		while (cap < c->outlen + len)
			cap *= 2;
		char *m = ml_mem_realloc(c->out, cap);
		if (m == NULL) {
			if (own)
				ml_mem_free(line);
			client_close(c);
			return false;
		}
		c->out = m;
		c->outcap = cap;
	}
	memcpy(c->out + c->outlen, line, len);
	c->outlen += len;
	sv.queued += len;
	if (own)
		ml_mem_free(line);
	return true;
}

/* An error line for a client that is refused before any request. */
static void
refuse(int fd, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
refuse(int fd, const char *code, const char *fmt, ...)
{
	char msg[128], line[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	int n = snprintf(line, sizeof line, "{\"id\":null,\"ok\":false,"
	    "\"error\":{\"code\":\"%s\",\"message\":\"%s\"}}\n", code, msg);
	if (n > 0 && n < (int)sizeof line)
		(void)!send(fd, line, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
	close(fd);
}

/* The answer when out of memory: the request's id is not known (it was
 * in what could not be built), hence null, as for a line that is not
 * JSON. */
static const char nomem[] = "{\"id\":null,\"ok\":false,\"error\":"
    "{\"code\":\"ENOMEM\",\"message\":\"out of memory: the answer "
    "could not be made (what the command does may have been done)\"}}\n";

/* A client being fed its requests: closed, or only stopped? */
struct feed {
	struct client *c;
	bool           closed;
};

/* One request line (an ml_lines_fn), answered whatever the budgets say
 * (it was read); false if the client was closed, or is over a budget
 * now: its next requests wait. */
static bool
serve_line(void *arg, const char *line, size_t len)
{
	struct feed *f = arg;
	struct client *c = f->c;
	char *resp;
	size_t rlen;
	int r = ml_proto_handle(line, len, &resp, &rlen);

	c->active = ev_now(sv.loop);
	if (r == ML_PROTO_WATCH && !c->watching) {
		c->watching = true;
		atomic_fetch_add(&sv.watchers, 1);
	}
	if (resp != NULL ? !queue_out(c, resp, rlen, true) :
	    !queue_out(c, (char *)nomem, sizeof nomem - 1, false)) {
		f->closed = true;
		return false;
	}
	if (!flush_out(c)) {
		f->closed = true;
		return false;
	}
	return !over_budget(c);
}

/* Stop reading the client until it is under the budgets again. */
static void
client_pause(struct client *c)
{
	ev_io_stop(sv.loop, &c->rw);
	c->paused = true;
	if (sv.queued >= TOTAL_BUDGET)
		sv.starved = true;
}

/*
 * Serve the requests the client sent, those held first, then what it
 * sends, while it is under the budgets; then wait for more (rw), or for
 * the budgets (client_pause).
 */
static void
client_pump(struct client *c)
{
	struct feed f = { c, false };
	size_t room;

	c->paused = false;
	for (;;) {
		if (over_budget(c)) {
			client_pause(c);
			return;
		}
		if (!ml_lines_feed(&c->in, 0, serve_line, &f)) {
			if (!f.closed)
				client_pause(c);
			return;
		}
		char *at = ml_lines_room(&c->in, &room);
		ssize_t n = recv(c->fd, at, room, MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0) {
			client_close(c);        /* gone, or broken */
			return;
		}
		if (!ml_lines_feed(&c->in, (size_t)n, serve_line, &f)) {
			if (!f.closed)
				client_pause(c);
			return;
		}
	}
	ev_io_start(sv.loop, &c->rw);
}

/* The total went under its budget: the clients that waited for it go
 * on (from the end: a client closed takes the last one's place). */
static void
resume_cb(struct ev_loop *loop, ev_idle *w, int revents)
{
	(void)revents;
	ev_idle_stop(loop, w);
	sv.starved = false;
	for (int k = sv.n - 1; k >= 0 && sv.queued < TOTAL_BUDGET; k--) {
		if (k >= sv.n)
			continue;
		struct client *c = sv.c[k];
		if (c->paused && pending(c) < CLIENT_BUDGET)
			client_pump(c);
	}
}

/* Close the clients idle or stalled for MEMLEASE_SOCKET_IDLE seconds
 * (see the top); from the end, as resume_cb. */
static void
idle_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	ev_tstamp limit = (ev_tstamp)ml_options_num(ML_OPT_SOCKET_IDLE);

	(void)w;
	(void)revents;
	for (int k = sv.n - 1; k >= 0; k--) {
		if (k >= sv.n)
			continue;
		struct client *c = sv.c[k];
		bool stalled = pending(c) > 0;
		bool idle = !stalled && !c->watching && !ml_lines_held(&c->in);
		if ((stalled || idle) && ev_now(loop) - c->active >= limit)
			client_close(c);
	}
}

/* The program closed the client's descriptor (libev says EV_ERROR), or
 * reused its number for a file of its own: drop the client, leaving the
 * number alone. */
static bool
client_gone(struct client *c, int revents)
{
	if (!(revents & EV_ERROR) && ml_fd_still(c->fd, &c->id))
		return false;
	client_close(c);
	return true;
}

static void
client_read(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop;
	if (!client_gone(w->data, revents))
		client_pump(w->data);
}

static void
client_write(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop;
	if (!client_gone(w->data, revents))
		client_send(w->data);
}

/*
 * The program closed the listening socket (daemons close every
 * descriptor), and its number may be a file of the program's now, always
 * readable: stop watching it, leave it be, and listen on a new socket at
 * the same path.
 */
static void
renew(struct ev_loop *loop)
{
	ev_io_stop(loop, &sv.lw);
	sv.lfd = -1;
	ml_server_start(loop);
}

static void
accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct ucred cred;
	socklen_t len = sizeof cred;

	/* closed by the program (libev says EV_ERROR: the number is
	 * closed), or its number reused for a file of the program's */
	if ((revents & EV_ERROR) || !ml_fd_still(w->fd, &sv.lid)) {
		renew(loop);
		return;
	}
	for (;;) {
		int fd = accept4(w->fd, NULL, NULL, SOCK_NONBLOCK |
		    SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			return;         /* EAGAIN, or out of descriptors */
		}
		fd = ml_fd_high(fd);
		struct ml_fd_id id;
		if (!ml_fd_id_is(fd, S_IFSOCK, &id))
			continue;       /* the program's already (see above) */
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 ||
		    !ml_wire_peer_ok(cred.uid, ML_WIRE_SERVER)) {
			refuse(fd, "EACCES", "not the owner of this process");
			continue;
		}
		if (sv.n == MAX_CLIENTS) {
			refuse(fd, "EBUSY", "busy: %d clients connected, the "
			    "most it serves at once", sv.n);
			continue;
		}
		struct client *c = ml_mem_calloc(1, sizeof *c);
		if (c == NULL) {
			refuse(fd, "ENOMEM", "out of memory");
			continue;
		}
		c->fd = fd;
		c->id = id;
		ev_io_init(&c->rw, client_read, fd, EV_READ);
		ev_io_init(&c->ww, client_write, fd, EV_WRITE);
		c->rw.data = c->ww.data = c;
		c->active = ev_now(loop);
		ev_io_start(loop, &c->rw);
		sv.c[sv.n++] = c;
	}
}

/* The socket. */

#define RETRIES 10      /* 50 ms, 100, 200, ... 1 s: 7.5 s in all */
#define OPEN_AFTER 0.1  /* s: MEMLEASE_SOCKET=auto's socket, once the
                         * thread has run that long */

static void
retry_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)w;
	(void)revents;
	ml_server_start(loop);
}

/* In a table shared with the program, the socket's number was the
 * program's (or closed by it) before it could listen: a program that
 * closes every descriptor, or dup2()s its files over every number, is
 * soon done; make the socket again a little later. */
static void
retry_later(struct ev_loop *loop)
{
	if (sv.retries == RETRIES) {
		say("socket: its descriptor was taken by the program %u "
		    "times", RETRIES + 1);
		return;
	}
	double after = 0.05 * (1u << sv.retries++);
	ev_timer_init(&sv.retry, retry_cb, after < 1 ? after : 1, 0);
	ev_timer_start(loop, &sv.retry);
}

/*
 * As memlease's thread starts.  With MEMLEASE_SOCKET=auto the socket opens
 * a tenth of a second later: a process that ends sooner (a shell's
 * subshell, a compiler's short pass) makes none, and saves a file made and
 * removed in the folder (a new inode on disk, where the folder is not a
 * tmpfs), the sweep of the folder, and its listening.  memleasectl -p
 * waits for a process that young (client.c).  MEMLEASE_SOCKET=on, asked
 * for at once, has it at once.
 */
static void
open_soon(struct ev_loop *loop)
{
	if (ml_options_socket() != ML_SOCKET_AUTO) {
		ml_server_start(loop);
		return;
	}
	sv.loop = loop;
	ev_now_update(loop);    /* from now, not from the loop's making */
	ev_timer_init(&sv.retry, retry_cb, OPEN_AFTER, 0);
	ev_timer_start(loop, &sv.retry);
}

void
ml_server_start(struct ev_loop *loop)
{
	char dir[sizeof sv.path - 16];
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	sv.loop = loop;
	ev_timer_stop(loop, &sv.retry);         /* if it is waiting */
	if (ml_options_socket() == ML_SOCKET_OFF || sv.lfd >= 0 ||
	    !socket_dir(dir, sizeof dir))
		return;
	remove_stale(dir);
	ml_wire_sock_path(dir, getpid(), sv.path, sizeof sv.path);
	if (!path_free())
		return;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd < 0) {
		say("socket: %s", strerror(errno));
		return;
	}
	fd = ml_fd_high(fd);
	/* in a table shared with the program, the number may be the
	 * program's already: then it is left alone */
	if (!ml_fd_id_is(fd, S_IFSOCK, &sv.lid)) {
		retry_later(loop);
		return;
	}
	memcpy(sa.sun_path, sv.path, strlen(sv.path) + 1);
	bool bound = bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
	if (!bound || chmod(sv.path, 0600) != 0 || listen(fd, 32) != 0) {
		int err = errno;
		bool ours = ml_fd_still(fd, &sv.lid);
		if (ours)
			close(fd);
		if (bound)              /* not one made there meanwhile */
			unlink(sv.path);
		if (!ours || err == EBADF || err == ENOTSOCK)
			retry_later(loop);      /* closed or taken meanwhile */
		else
			say("%s: %s", sv.path, strerror(err));
		return;
	}
	struct stat st;
	if (lstat(sv.path, &st) == 0) {
		sv.made_dev = st.st_dev;
		sv.made_ino = st.st_ino;
	}
	sv.lfd = fd;
	sv.retries = 0;
	atomic_store(&sv.owner, (int)getpid());
	ev_io_init(&sv.lw, accept_cb, fd, EV_READ);
	ev_io_start(loop, &sv.lw);
	long idle = ml_options_num(ML_OPT_SOCKET_IDLE);
	if (idle > 0 && !ev_is_active(&sv.idle)) {
		/* a client goes at most a quarter late */
		ev_tstamp every = idle < 60 ? (ev_tstamp)idle / 4 : 15;
		ev_timer_set(&sv.idle, every, every);
		ev_timer_start(loop, &sv.idle);
	}
}

void
ml_server_stop(struct ev_loop *loop)
{
	ev_timer_stop(loop, &sv.retry);         /* if it is waiting */
	ev_timer_stop(loop, &sv.idle);
	while (sv.n > 0)
		client_close(sv.c[0]);
	ev_idle_stop(loop, &sv.resume);
	sv.starved = false;
	if (sv.lfd < 0)
		return;
	ev_io_stop(sv.loop, &sv.lw);
	atomic_store(&sv.owner, 0);
	if (ml_fd_still(sv.lfd, &sv.lid))
		close(sv.lfd);
	sv.lfd = -1;
	unlink(sv.path);
}

void
ml_server_exec(void)
{
	char dir[sizeof sv.path - 16], path[sizeof sv.path];

	/* the program before had the socket close-on-exec: it refuses now,
	 * unless it is another namespace's */
	if (ml_wire_dir(dir, sizeof dir) != 0)
		return;
	ml_wire_sock_path(dir, getpid(), path, sizeof path);
	if (ml_wire_sock_probe(path) == ML_WIRE_SOCK_DEAD)
		unlink(path);
}

void
ml_server_exit(void)
{
	if (atomic_load(&sv.owner) == (int)getpid())
		unlink(sv.path);
}

/* Events. */

bool
ml_server_watched(void)
{
	return atomic_load_explicit(&sv.watchers, memory_order_relaxed) > 0;
}

bool
ml_server_event(const struct ml_ended *e, uint64_t now, const char *action)
{
	if (!ml_server_watched())
		return false;
	char *line = ml_report_text(e, now, ML_EV_EXPIRED, action, ml_mem_malloc,
	    ML_LOG_JSON);
	if (line == NULL)
		return false;
	pthread_mutex_lock(&sv.qlock);
	if (sv.qn < EVENTS_MAX) {
		if (sv.q == NULL)
			sv.q = ml_mem_calloc(EVENTS_MAX, sizeof *sv.q);
		if (sv.q != NULL) {
			sv.q[sv.qn++] = line;
			line = NULL;
		}
	}
	if (line != NULL)
		sv.dropped++;
	pthread_mutex_unlock(&sv.qlock);
	ml_mem_free(line);
	return true;
}

void
ml_server_flush(void)
{
	char **q = NULL;
	size_t n = 0;

	pthread_mutex_lock(&sv.qlock);
	if (sv.qn > 0) {
		q = sv.q;
		n = sv.qn;
		sv.q = NULL;
		sv.qn = 0;
	}
	pthread_mutex_unlock(&sv.qlock);
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(q[i]);
		for (int k = sv.n - 1; k >= 0; k--) {
			struct client *c = sv.c[k];
			if (!c->watching)
				continue;
			if (pending(c) + len > WATCH_MAX ||
			    sv.queued + len > TOTAL_MAX)
				client_close(c);        /* it does not keep up */
			else if (queue_out(c, q[i], len, false))
				client_send(c);
		}
		ml_mem_free(q[i]);
	}
	ml_mem_free(q);
}

/* The server opens and closes with the loop, and watches expiries. */
void
ml_server_register(void)
{
	static const struct ml_runtime_observer watch = {
		ml_server_event, ml_server_flush,
	};

	ev_idle_init(&sv.resume, resume_cb);
	ev_init(&sv.idle, idle_cb);
	ml_runtime_observe(&watch);
	ml_loop_hooks(open_soon, ml_server_stop);
}

/* Fork. */

void
ml_server_prepare(void)
{
	pthread_mutex_lock(&sv.qlock);
}

void
ml_server_parent(void)
{
	pthread_mutex_unlock(&sv.qlock);
}

void
ml_server_child(void)
{
	pthread_mutex_init(&sv.qlock, NULL);
	for (int i = 0; i < sv.n; i++) {
		if (ml_fd_still(sv.c[i]->fd, &sv.c[i]->id))
			close(sv.c[i]->fd);
		ml_mem_free(sv.c[i]->out);
		ml_mem_free(sv.c[i]);
	}
	sv.n = 0;
	sv.made_ino = 0;                /* the parent's path, not ours */
	sv.queued = 0;
	sv.starved = false;
	ev_idle_init(&sv.resume, resume_cb);    /* the parent's loop's */
	ev_init(&sv.idle, idle_cb);
	atomic_store(&sv.watchers, 0);
	atomic_store(&sv.owner, 0);
	if (ml_fd_still(sv.lfd, &sv.lid))
		close(sv.lfd);          /* the parent's: its file stays */
	sv.lfd = -1;
	for (size_t i = 0; i < sv.qn; i++)
		ml_mem_free(sv.q[i]);
	sv.qn = 0;
	sv.loop = NULL;
	ev_init(&sv.retry, retry_cb);   /* the parent's loop's: not active */
	sv.retries = 0;
}
