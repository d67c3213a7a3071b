/*
 * options.h - the preload's configuration from the environment: every
 * MEMLEASE_* variable, read once, from one table (options.c).
 */
#ifndef ML_OPTIONS_H
#define ML_OPTIONS_H

enum ml_option {
	ML_OPT_RULES,           /* string */
	ML_OPT_CONFIG,          /* string: a path */
	ML_OPT_LOG,             /* string: "stderr" or a path */
	ML_OPT_LOG_FORMAT,      /* choice: enum ml_log_format (report.h) */
	ML_OPT_LOG_MAX,         /* size: bytes of reports, 0 for no limit */
	ML_OPT_REPORT_AT_EXIT,  /* choice: enum ml_at_exit */
	ML_OPT_SKIP,            /* string: comma-separated globs */
	ML_OPT_INHERIT,         /* boolean */
	ML_OPT_SOCKET,          /* choice: enum ml_socket_mode */
	ML_OPT_SOCKET_DIR,      /* string: a path */
	ML_OPT_SOCKET_IDLE,     /* number: seconds (0: never) */
	ML_OPT_THREAD,          /* boolean */
	ML_OPT_BACKTRACE,       /* number */
	ML_OPT_FAULT,           /* string, parsed by the core (fault.h) */
	ML_OPT_COUNT
};

enum ml_at_exit {
	ML_AT_EXIT_OFF,
	ML_AT_EXIT_STACKS,      /* 1: grouped by stack, with a summary */
	ML_AT_EXIT_EACH,        /* each: a report a lease */
};

enum ml_socket_mode {
	ML_SOCKET_AUTO,         /* opens with memlease's thread */
	ML_SOCKET_ON,           /* the thread starts at once, for it */
	ML_SOCKET_OFF,
};

/* A string option's value; NULL when it is unset or empty. */
const char *ml_options_str(enum ml_option o);

/* Any other option's value: a boolean's 0 or 1, a number, a choice's
 * index in its list.  A value that did not parse is its default. */
long        ml_options_num(enum ml_option o);

/* Give option o the value v, whatever the environment says: for a process
 * that memlease was loaded into by memleasectl attach, before anything
 * that reads o runs (the values are not guarded after that). */
void        ml_options_override(enum ml_option o, long v);

/* MEMLEASE_SOCKET. */
static inline enum ml_socket_mode
ml_options_socket(void)
{
	return (enum ml_socket_mode)ml_options_num(ML_OPT_SOCKET);
}

#endif /* ML_OPTIONS_H */
