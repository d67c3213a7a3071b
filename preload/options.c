/*
 * options.c - the preload's configuration from the environment (see
 * options.h).
 *
 * Owns: the values of the MEMLEASE_* variables, each read once.  Locking:
 * a pthread_once per value.  Never: allocate (it runs inside malloc).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "options.h"
#include "report.h"

static struct {
	pthread_once_t      socket_once;
	enum ml_socket_mode socket;
} opt = { .socket_once = PTHREAD_ONCE_INIT };

static void
read_socket(void)
{
	const char *v = getenv("MEMLEASE_SOCKET");

	opt.socket = ML_SOCKET_AUTO;
	if (v == NULL || *v == '\0' || strcmp(v, "auto") == 0)
		return;
	if (strcmp(v, "on") == 0)
		opt.socket = ML_SOCKET_ON;
	else if (strcmp(v, "off") == 0)
		opt.socket = ML_SOCKET_OFF;
	else
		ml_report_diag("MEMLEASE_SOCKET=%s: not auto, on or off; "
		    "using auto", v);
}

enum ml_socket_mode
ml_options_socket(void)
{
	pthread_once(&opt.socket_once, read_socket);
	return opt.socket;
}
