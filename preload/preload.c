/*
 * preload.c - the start and the end of libmemlease.so in a process: read
 * the preload's configuration before main() runs, and remove the control
 * socket's file of a process that ends in _exit() (fork children mostly),
 * where no destructor runs; count the program's threads (threads.h), so
 * that memlease's own never keeps the process alive.  Built only into
 * libmemlease.so.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "init.h"
#include "server.h"
#include "threads.h"

#define EXPORT __attribute__((visibility("default")))

__attribute__((constructor)) static void
preload_init(void)
{
	ml_init_start();
}

/* The program's threads are counted (threads.h). */
EXPORT int
pthread_create(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *),
    void *arg)
{
	return ml_threads_create(t, attr, fn, arg);
}

/* What the C library's _exit() does: end every thread; it cannot fail. */
EXPORT void
_exit(int status)
{
	ml_server_exit();
	for (;;)
		syscall(SYS_exit_group, status);
}

EXPORT void
_Exit(int status)
{
	_exit(status);
}
