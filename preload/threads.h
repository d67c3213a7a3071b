/*
 * threads.h - the program's threads, counted, so that memlease's own
 * thread never keeps a process alive after the program's last thread has
 * left (see threads.c).
 */
#ifndef ML_THREADS_H
#define ML_THREADS_H

#include <pthread.h>

/* At start (the preload's constructor): the thread that runs it is the
 * program's only one, or the process is left to the C library. */
void    ml_threads_init(void);

/* pthread_create(), counting the new thread as the program's unless the
 * recursion guard is held (a thread of memlease's). */
int     ml_threads_create(pthread_t *t, const pthread_attr_t *attr,
            void *(*fn)(void *), void *arg);

#endif /* ML_THREADS_H */
