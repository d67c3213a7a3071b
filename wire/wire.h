/*
 * wire.h - the control protocol's common ground: what the server (the
 * preload's server.c and proto.c) and the client (memleasectl) must agree
 * on, written once.  The protocol's constants, the names a lease's state
 * and kind go by, and the socket folder: where it is, when it may be
 * trusted, what a socket in it is called, which peer may be talked to.
 *
 * Below both cli/ and preload/: it includes the C library only
 * (tests/layers.sh).  Pure but for the environment, lstat() and the
 * connect() that tells a dead socket: no allocation, no global state, so
 * that the server may call it on memlease's own thread with the recursion
 * guard held.
 */
#ifndef ML_WIRE_H
#define ML_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* --- constants (memlease(7)) --------------------------------------------- */

#define ML_WIRE_VERSION   1             /* the protocol version spoken */
#define ML_WIRE_MAX_LINE  65536         /* bytes of a request, newline too */
#define ML_WIRE_TOP_MAX   10000         /* "limit" of a sorted listing */
/* What an ESTALE about a lease says, after "lease ID: ": the server's
 * show, and memleasectl for every command about a lease. */
#define ML_WIRE_NO_LEASE  "no such lease (ended, or never made)"

/* --- names --------------------------------------------------------------- */

/* A lease's state, as "list" and "show" say it and "state" filters it. */
enum ml_wire_state {
	ML_WIRE_LIVE,
	ML_WIRE_PINNED,                 /* pins held: it does not expire */
	ML_WIRE_OVERDUE,                /* its deadline passed while pinned */
	ML_WIRE_RELEASED,               /* ended, its block not yet freed */
	ML_WIRE_NSTATES
};

/* A lease's kind: a memlease_alloc() buffer, or a tagged block and the
 * action of its rule. */
enum ml_wire_kind {
	ML_WIRE_BUFFER,
	ML_WIRE_TAGGED,                 /* action=report */
	ML_WIRE_TAGGED_FREE,
	ML_WIRE_TAGGED_RECLAIM,
	ML_WIRE_TAGGED_ABORT,
	ML_WIRE_NKINDS
};

/* The name of a state or a kind; "?" for one out of range. */
const char *ml_wire_state_name(unsigned state);
const char *ml_wire_kind_name(unsigned kind);
/* The state of a name: 0 with *state set, or -1 if it names none. */
int         ml_wire_state_parse(const char *name, enum ml_wire_state *state);

/* Whether function is one of the C library's start-up frames
 * (__libc_start_call_main, __libc_start_main, _start), which text
 * backtraces fold away and JSON keeps (SPEC "Frames"). */
bool        ml_wire_startup_frame(const char *function);

/* --- the socket folder --------------------------------------------------- */

/*
 * Who asks: the server makes its socket in the folder; the client only
 * talks to sockets in it.  Root's client may use another user's folder
 * and talk to another user's process (to inspect it); nothing else
 * differs.
 */
enum ml_wire_role { ML_WIRE_SERVER, ML_WIRE_CLIENT };

/*
 * The folder's path in dir (len bytes): MEMLEASE_SOCKET_DIR, else
 * $XDG_RUNTIME_DIR/memlease, else /tmp/memlease-UID.  0, or -1 if it does
 * not fit.
 */
int         ml_wire_dir(char *dir, size_t len);
/*
 * Whether the folder may be trusted: a folder (not a symbolic link to
 * one), owned by this user, closed to group and others (the server makes
 * it 0700).  A socket another user could put there would be an
 * impostor's.  Returns 0; -errno of lstat() (-ENOENT: there is none); or
 * -ENOTDIR or -EACCES, and then what is wrong in why (len bytes), for a
 * message "socket folder DIR: WHY".
 */
int         ml_wire_dir_check(const char *dir, enum ml_wire_role role,
                char *why, size_t len);
/* The socket of pid in dir, "DIR/PID.sock", in out: 0, or -1 if it does
 * not fit. */
int         ml_wire_sock_path(const char *dir, pid_t pid, char *out,
                size_t len);
/* The pid of a socket's file name "PID.sock"; 0 if it is not one. */
pid_t       ml_wire_sock_pid(const char *name);
/*
 * What is at a socket's path, as the sweep of dead sockets must know it
 * before it removes anything: only a socket that refuses a connection
 * (ECONNREFUSED: nobody listens) is dead.  A regular file, a FIFO or a
 * link (lstat: not followed) named like a socket is someone's, not ours
 * to remove; a socket that answers (a process of another PID namespace
 * with the same pid, sharing the folder), or whose connect() fails
 * otherwise (a full backlog: EAGAIN), is alive.  The connect() never
 * blocks.
 */
enum ml_wire_sock {
	ML_WIRE_SOCK_NONE,              /* nothing there */
	ML_WIRE_SOCK_DEAD,              /* a socket nobody listens on */
	ML_WIRE_SOCK_LIVE,              /* a socket that answers, or may */
	ML_WIRE_SOCK_OTHER,             /* not a socket; or lstat() failed */
};
enum ml_wire_sock ml_wire_sock_probe(const char *path);
/* Whether the socket of pid at path may be removed: pid is gone (ESRCH)
 * and the socket is dead (above). */
bool        ml_wire_sock_stale(const char *path, pid_t pid);
/* Whether a peer of uid (its SO_PEERCRED) may be talked to. */
bool        ml_wire_peer_ok(uid_t uid, enum ml_wire_role role);

#endif /* ML_WIRE_H */
