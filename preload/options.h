/*
 * options.h - the preload's configuration from the environment.
 */
#ifndef ML_OPTIONS_H
#define ML_OPTIONS_H

enum ml_socket_mode {
	ML_SOCKET_AUTO,         /* opens with memlease's thread */
	ML_SOCKET_ON,           /* the thread starts at once, for it */
	ML_SOCKET_OFF,
};

/* MEMLEASE_SOCKET, read once (a bad value is said once: auto). */
enum ml_socket_mode ml_options_socket(void);

#endif /* ML_OPTIONS_H */
