/*
 * init.h - the preload's life: its start, its fork handlers, its end.
 */
#ifndef ML_INIT_H
#define ML_INIT_H

/* The modules registered with the runtime (once), then the runtime
 * initialised: 0 or a negative errno.  Every public entry point calls
 * this first. */
int  ml_init_ready(void);

/* The preload's start, from its constructor (preload.c): the program's
 * threads counted from here on, a socket file left by the program before
 * exec() removed, the thread started for
 * MEMLEASE_SOCKET=on, the rules of the environment put in force. */
void ml_init_start(void);

/* Loaded into a running process (memleasectl attach): the thread and the
 * socket started at once, as with MEMLEASE_SOCKET=on, whatever the
 * environment of the process says.  0 or a negative errno. */
int  ml_init_attach(void);

#endif /* ML_INIT_H */
