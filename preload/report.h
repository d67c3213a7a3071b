/*
 * report.h - expiry reports and diagnostics.
 *
 * Reports go to the log (MEMLEASE_LOG: "stderr", the default, or a file
 * path, appended), as text or JSON lines (MEMLEASE_LOG_FORMAT).  Each report
 * is one write(2), so that reports of several threads or processes never
 * interleave within a line.  Diagnostics ("memlease: ...") go to stderr.
 */
#ifndef ML_REPORT_H
#define ML_REPORT_H

#include <stdbool.h>
#include <stdint.h>

struct ml_ended;
struct ml_bystack;

enum ml_log_format { ML_LOG_TEXT, ML_LOG_JSON };

/* The log: log is MEMLEASE_LOG ("stderr" or NULL: a private duplicate of
 * stderr; else a file, appended), format MEMLEASE_LOG_FORMAT's; after max
 * bytes of reports (MEMLEASE_LOG_MAX; 0: no limit), one line says so and
 * later reports are only counted (ml_report_dropped). */
void ml_report_init(const char *log, enum ml_log_format format,
         uint64_t max);
/* Reports not written since the log reached its limit. */
uint64_t ml_report_dropped(void);

enum ml_event {
	ML_EV_EXPIRED,          /* its deadline passed */
	ML_EV_AT_EXIT,          /* still live at exit (MEMLEASE_REPORT_AT_EXIT) */
	ML_EV_LATE_ACCESS,      /* touched after it was reclaimed */
};

/* Report a lease to the log; now is the clock's ms; action (what became
 * of the block: "freed", ...) may be NULL. */
void  ml_report_lease(const struct ml_ended *e, uint64_t now,
          enum ml_event ev, const char *action);

/* An expired lease's report, if it asks for one (an expiry observer of
 * the runtime's: false, the loop thread has nothing to do for it). */
bool  ml_report_expired(const struct ml_ended *e, uint64_t now,
          const char *action);

/* At exit: the summary of the expiry reports by stack (text log only: the
 * JSON log has every event in full), ending in a line "memlease: SUMMARY:
 * B bytes in N leases expired, from S stacks"; nothing if every expiry
 * was reported in full. */
void  ml_report_exit(void);

/* The live leases at exit grouped by stack (sorted, ml_bystack_sort()):
 * each group's count, bytes, oldest age and stack, then a line "memlease:
 * SUMMARY: B bytes in N leases live at exit, from S stacks" (JSON: events
 * "live_at_exit_stack", then "live_at_exit_summary"). */
void  ml_report_groups(const struct ml_bystack *groups, uint64_t now);

/* The same report, as text or a JSON line, in a string from alloc (NULL
 * if it fails). */
char *ml_report_text(const struct ml_ended *e, uint64_t now,
          enum ml_event ev, const char *action, void *(*alloc)(size_t),
          enum ml_log_format format);

/* One line of the log's own (a summary), text or a JSON object as
 * MEMLEASE_LOG_FORMAT says, without its newline. */
void  ml_report_line(const char *text, const char *json);

/* One diagnostic line on stderr, prefixed "memlease: ". */
void ml_report_diag(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
/* A diagnostic of an error (a late access, an abort): the same, but
 * journald's priority (report.c). */
void ml_report_error(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

/* The log's descriptor in the process's table (-1: none), for memlease's
 * thread to keep in its own; then, on that thread, ml_report_own_table()
 * makes its copy the thread's log. */
int  ml_report_fd(void);
void ml_report_own_table(void);

void ml_report_lock(void);
void ml_report_unlock(void);
void ml_report_reinit_lock(void);

#endif /* ML_REPORT_H */
