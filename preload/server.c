/*
 * server.c - the control socket (see server.h).
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
 * Clients: at most MAX_CLIENTS; each has an input buffer of one request
 * (lines.h: a longer line is refused with E2BIG and skipped) and an output
 * queue.
 * Requests are not read while a client's queue holds more than OUT_SOFT
 * bytes (back-pressure: a listing is produced a page a request), and a
 * client whose queue passes OUT_HARD (a watcher that never reads) is
 * dropped.  Nothing here ever blocks: every descriptor is non-blocking.
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

#define MAX_CLIENTS  128
#define OUT_SOFT     (256 * 1024)
#define OUT_HARD     (16 * 1024 * 1024)
#define EVENTS_MAX   4096

struct client {
	int      fd;
	struct ml_fd_id id;       /* what fd must be, in a fork child */
	ev_io    rw, ww;
	struct ml_lines in;
	bool     watching;
	bool     reading;         /* rw is started */
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
	atomic_int       watchers;
	pthread_mutex_t  qlock;
	char           **q;             /* event lines (mem.h) */
	size_t           qn;
	uint64_t         dropped;
	bool             said;
	ev_timer         retry;         /* the socket again, a while later */
	unsigned         retries;
	atomic_int       owner;         /* the pid whose file path is, or 0 */
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

/* Clients. */

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
	ml_mem_free(c->out);
	ml_mem_free(c);
}

static size_t
pending(const struct client *c)
{
	return c->outlen - c->outoff;
}

/* Send what is queued; false if the client is gone (closed). */
static bool
flush_out(struct client *c)
{
	while (pending(c) > 0) {
		ssize_t w = send(c->fd, c->out + c->outoff, pending(c),
		    MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w > 0) {
			c->outoff += (size_t)w;
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
	ev_io_stop(sv.loop, &c->ww);
	if (!c->reading) {              /* back-pressure is over */
		c->reading = true;
		ev_io_start(sv.loop, &c->rw);
	}
	return true;
}

/* Queue a line for the client; false if it was dropped (closed). */
static bool
queue_out(struct client *c, const char *line, size_t len)
{
	if (pending(c) + len > OUT_HARD) {
		client_close(c);        /* it does not read what it asked for */
		return false;
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
			client_close(c);
			return false;
		}
		c->out = m;
		c->outcap = cap;
	}
	memcpy(c->out + c->outlen, line, len);
	c->outlen += len;
	return true;
}

/* An error line for a client that is refused before any request. */
static void
refuse(int fd, const char *code, const char *msg)
{
	char line[256];
	int n = snprintf(line, sizeof line, "{\"id\":null,\"ok\":false,"
	    "\"error\":{\"code\":\"%s\",\"message\":\"%s\"}}\n", code, msg);

	if (n > 0)
		(void)!send(fd, line, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
	close(fd);
}

/* The answer when out of memory: the request's id is not known (it was
 * in what could not be built), hence null, as for a line that is not
 * JSON. */
static const char nomem[] = "{\"id\":null,\"ok\":false,\"error\":"
    "{\"code\":\"ENOMEM\",\"message\":\"out of memory: the answer "
    "could not be made (what the command does may have been done)\"}}\n";

/* One request line (an ml_lines_fn); false if the client was closed. */
static bool
serve_line(void *arg, const char *line, size_t len)
{
	struct client *c = arg;
	char *resp;
	size_t rlen;
	int r = ml_proto_handle(line, len, &resp, &rlen);

	if (resp == NULL)
		return queue_out(c, nomem, sizeof nomem - 1);
	if (r == ML_PROTO_WATCH && !c->watching) {
		c->watching = true;
		atomic_fetch_add(&sv.watchers, 1);
	}
	bool ok = queue_out(c, resp, rlen);
	ml_mem_free(resp);
	return ok;
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
	struct client *c = w->data;
	size_t room;

	(void)loop;
	if (client_gone(c, revents))
		return;
	for (;;) {
		if (pending(c) > OUT_SOFT) {    /* let it read first */
			ev_io_stop(sv.loop, &c->rw);
			c->reading = false;
			break;
		}
		char *at = ml_lines_room(&c->in, &room);
		ssize_t n = recv(c->fd, at, room, MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK &&
		    errno != EINTR)) {
			client_close(c);
			return;
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (!ml_lines_feed(&c->in, (size_t)n, serve_line, c) ||
		    !flush_out(c))
			return;
	}
	flush_out(c);
}

static void
client_write(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop;
	if (!client_gone(w->data, revents))
		flush_out(w->data);
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
			refuse(fd, "EBUSY", "too many clients");
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
		c->reading = true;
		ev_io_start(loop, &c->rw);
		sv.c[sv.n++] = c;
	}
}

/* The socket. */

#define RETRIES 10      /* 50 ms, 100, 200, ... 1 s: 7.5 s in all */

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
	switch (ml_wire_sock_probe(sv.path)) {
	case ML_WIRE_SOCK_NONE:
		break;
	case ML_WIRE_SOCK_DEAD:         /* of an earlier process with our pid */
		unlink(sv.path);
		break;
	case ML_WIRE_SOCK_LIVE:
		say("%s: a socket there answers (a process of another PID "
		    "namespace?); left alone", sv.path);
		return;
	case ML_WIRE_SOCK_OTHER:
		say("%s: not a socket of ours; left alone", sv.path);
		return;
	}
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
	sv.lfd = fd;
	sv.retries = 0;
	atomic_store(&sv.owner, (int)getpid());
	ev_io_init(&sv.lw, accept_cb, fd, EV_READ);
	ev_io_start(loop, &sv.lw);
}

void
ml_server_stop(struct ev_loop *loop)
{
	ev_timer_stop(loop, &sv.retry);         /* if it is waiting */
	while (sv.n > 0)
		client_close(sv.c[0]);
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
			if (c->watching && queue_out(c, q[i], len))
				flush_out(c);
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

	ml_runtime_observe(&watch);
	ml_loop_hooks(ml_server_start, ml_server_stop);
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
