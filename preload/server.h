/*
 * server.h - the control socket: SOCKET_DIR/PID.sock, served on memlease's
 * own thread, one JSON object a line (proto.h).
 */
#ifndef ML_SERVER_H
#define ML_SERVER_H

#include <stdbool.h>
#include <stdint.h>

struct ev_loop;
struct ml_ended;

/* Register with the runtime (an expiry observer, whose tick sends the
 * queued events) and the loop (the socket opens and closes with it). */
void ml_server_register(void);

/* Open the socket (if the mode allows and the folder is fit) when the
 * loop is made, before it runs; close it (removing the file) on the loop
 * thread when it stops. */
void ml_server_start(struct ev_loop *loop);
void ml_server_stop(struct ev_loop *loop);

/* The process starts: a socket file at its pid's name is that of the
 * program it was before exec() (which ran no destructor), removed. */
void ml_server_exec(void);

/* The process ends without destructors (_exit()): remove its socket
 * file.  Any thread; takes no lock, allocates nothing. */
void ml_server_exit(void);

/* Loop thread: send queued events to the clients that watch. */
void ml_server_flush(void);

/* Any thread: whether a client watches, and an expiry to send it (true
 * if the loop thread must be woken to send it). */
bool ml_server_watched(void);
bool ml_server_event(const struct ml_ended *e, uint64_t now,
         const char *action);

/* Fork: the child forgets the parent's socket and clients (it closes
 * their descriptors and removes no file). */
void ml_server_prepare(void);
void ml_server_parent(void);
void ml_server_child(void);

#endif /* ML_SERVER_H */
