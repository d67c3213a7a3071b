/*
 * report.c - the log of expiry reports, and diagnostics (see report.h).
 *
 * The log descriptor is private: a duplicate of stderr made at start, or
 * the file of MEMLEASE_LOG, both moved to a high descriptor, close-on-exec.
 * Programs close descriptors they do not own (coreutils closes fd 2 before
 * destructors run; daemons close everything), and a closed number may be
 * reused for the program's own files: before each write the descriptor is
 * checked to still be the file it was (device and inode).  A log file that
 * went away is opened again; a stderr that went away is dropped.
 * memlease's thread has a descriptor table of its own (fd.h), where it
 * keeps a copy of the log's descriptor and opens the file again if need
 * be: each table has its log descriptor, rep.d[ml_fd_own].
 *
 * A log that cannot be opened (MEMLEASE_LOG of a folder that is not
 * there, or not ours) falls back to stderr, said once.
 *
 * The journal: when a descriptor written to is systemd's journal stream
 * (JOURNAL_STREAM="DEV:INODE", read at start, is its device and inode;
 * sd_journal_stream_fd(3)), each line starts with its syslog priority,
 * "<4>" (warning) for reports and diagnostics, "<3>" (error) for late
 * accesses and aborts, which journald takes off the line and keeps as the
 * entry's priority (journalctl -p).  Never for a MEMLEASE_LOG file.
 *
 * Locking: `rep.lock` guards the descriptor and the report buffer.
 * Reports allocate nothing of their own (symbolizing may: callers under the
 * preload hold the recursion guard).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bystack.h"
#include "core.h"
#include "fd.h"
#include "json.h"
#include "mem.h"
#include "report.h"
#include "stackid.h"
#include "stacks.h"
#include "symbols.h"
#include "wire.h"

#define REPORT_MAX 65536

static struct {
	pthread_mutex_t    lock;
	enum ml_log_format format;
	char              *path;      /* NULL: stderr */
	struct log_fd {
		int             fd;   /* -1: closed */
		struct ml_fd_id id;
	} d[2];                       /* [ml_fd_own]: the process's table,
	                               * memlease's thread's own (fd.h) */
	bool               said;      /* the open failure was reported */
	bool               journal;   /* JOURNAL_STREAM is set */
	struct ml_fd_id    journal_id;   /* ...to this stream */
	int                prio;      /* of the report rendered: -1 none */
	uint64_t           max;       /* MEMLEASE_LOG_MAX, 0: no limit */
	uint64_t           written;   /* bytes of reports written */
	_Atomic uint64_t   dropped;   /* reports counted, not written */
	char               buf[REPORT_MAX];
	size_t             len;
	struct ml_json     w;         /* writing in buf */
} rep = { .lock = PTHREAD_MUTEX_INITIALIZER, .d = { { .fd = -1 },
    { .fd = -1 } }, .prio = -1 };

enum { PRIO_ERR = 3, PRIO_WARNING = 4 };

static void
remember(struct log_fd *d, int fd)
{
	d->fd = fd;
	if (fd >= 0 && !ml_fd_id(fd, &d->id)) {
		close(fd);
		d->fd = -1;
	}
}

/* Close d's descriptor if it is still ours: its number may be the
 * program's now. */
static void
forget(struct log_fd *d)
{
	if (ml_fd_still(d->fd, &d->id))
		close(d->fd);
	d->fd = -1;
}

/* The log descriptor is still the file we opened, and for a log file, that
 * file is still at its path (it was not removed or rotated away). */
static bool
still_ours(const struct log_fd *d)
{
	struct stat st;

	if (!ml_fd_still(d->fd, &d->id))
		return false;
	return rep.path == NULL || (stat(rep.path, &st) == 0 &&
	    (uint64_t)st.st_dev == d->id.dev &&
	    (uint64_t)st.st_ino == d->id.ino);
}

static void
write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		p += w;
		n -= (size_t)w;
	}
}

/* The stream of systemd's journal is fd. */
static bool
journal_is(int fd)
{
	struct stat st;

	return rep.journal && fd >= 0 && fstat(fd, &st) == 0 &&
	    (uint64_t)st.st_dev == rep.journal_id.dev &&
	    (uint64_t)st.st_ino == rep.journal_id.ino;
}

/* The program's stderr of the moment: memlease's thread writes to it, not
 * to the number 2 of its own table; put it back with stderr_put(). */
static int
stderr_get(void)
{
	return ml_fd_own ? ml_fd_fetch(STDERR_FILENO) : STDERR_FILENO;
}

static void
stderr_put(int fd)
{
	if (fd >= 0 && ml_fd_own)
		close(fd);
}

static void
write_stderr(const char *p, size_t n)
{
	int fd = stderr_get();

	if (fd >= 0)
		write_all(fd, p, n);
	stderr_put(fd);
}

static bool
stderr_journal(void)
{
	int fd = stderr_get();
	bool j = journal_is(fd);

	stderr_put(fd);
	return j;
}

/* The length of the UTF-8 character at p (n bytes left) that a terminal
 * shows as text, or 0: a byte of no valid sequence, or a C1 control
 * (U+0080 to U+009F, which terminals may take as escape sequences). */
static size_t
utf8_printable(const unsigned char *p, size_t n)
{
	size_t len = p[0] >= 0xc2 && p[0] <= 0xdf ? 2 :
	    p[0] >= 0xe0 && p[0] <= 0xef ? 3 :
	    p[0] >= 0xf0 && p[0] <= 0xf4 ? 4 : 0;

	if (len == 0 || len > n)
		return 0;
	for (size_t i = 1; i < len; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	if ((p[0] == 0xc2 && p[1] < 0xa0) ||    /* C1 control */
	    (p[0] == 0xe0 && p[1] < 0xa0) ||    /* overlong */
	    (p[0] == 0xed && p[1] > 0x9f) ||    /* surrogate */
	    (p[0] == 0xf0 && p[1] < 0x90) ||    /* overlong */
	    (p[0] == 0xf4 && p[1] > 0x8f))      /* beyond U+10FFFF */
		return 0;
	return len;
}

/* in[0..n) into out (cap bytes, room for \xNN at each byte): control
 * characters and bytes that are not printable UTF-8 as \xNN, so that a
 * diagnostic quoting a configuration writes nothing to a terminal but
 * text.  Its length. */
static size_t
escape(const char *in, size_t n, char *out, size_t cap)
{
	const unsigned char *p = (const unsigned char *)in;
	size_t o = 0, len;

	for (size_t i = 0; i < n && o + 5 <= cap; i += len) {
		len = p[i] >= 0x20 && p[i] < 0x7f ? 1 :
		    p[i] >= 0x80 ? utf8_printable(p + i, n - i) : 0;
		if (len == 0) {
			o += (size_t)snprintf(out + o, cap - o, "\\x%02x",
			    p[i]);
			len = 1;
		} else if (o + len <= cap) {
			memcpy(out + o, p + i, len);
			o += len;
		}
	}
	return o;
}

static void vdiag(int prio, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void
vdiag(int prio, const char *fmt, va_list ap)
{
	char raw[1024], line[4 * sizeof raw + 1];
	int errsave = errno;
	int n = 0;
	int fd = stderr_get();

	if (fd < 0)
		goto out;
	if (journal_is(fd))     /* an fstat(): diagnostics are rare */
		n = snprintf(line, sizeof line, "<%d>", prio);
	n += snprintf(line + n, sizeof line - n, "memlease: ");
	int m = vsnprintf(raw, sizeof raw, fmt, ap);
	if (m < 0)
		m = 0;
	if (m > (int)sizeof raw - 1)
		m = sizeof raw - 1;
	n += (int)escape(raw, (size_t)m, line + n, sizeof line - n - 1);
	line[n++] = '\n';
	write_all(fd, line, (size_t)n);
out:
	stderr_put(fd);
	errno = errsave;
}

void
ml_report_diag(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vdiag(PRIO_WARNING, fmt, ap);
	va_end(ap);
}

void
ml_report_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vdiag(PRIO_ERR, fmt, ap);
	va_end(ap);
}

void
ml_report_init(const char *log, enum ml_log_format format, uint64_t max)
{
	pthread_mutex_lock(&rep.lock);
	rep.format = format;
	rep.max = max;
	ml_mem_free(rep.path);
	rep.path = NULL;
	forget(&rep.d[0]);
	rep.d[1].fd = -1;       /* no thread yet */
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev = 0, ino = 0;
	char end;
	rep.journal = js != NULL &&
	    sscanf(js, "%llu:%llu%c", &dev, &ino, &end) == 2;
	rep.journal_id = (struct ml_fd_id){ .dev = dev, .ino = ino };
	if (log != NULL && *log != '\0' && strcmp(log, "stderr") != 0) {
		rep.path = ml_mem_strdup(log);
		if (rep.path == NULL)
			ml_report_diag("MEMLEASE_LOG: out of memory; "
			    "reporting to stderr");
	}
	if (rep.path == NULL)
		remember(&rep.d[0], ml_fd_high(fcntl(STDERR_FILENO,
		    F_DUPFD_CLOEXEC, 3)));
	pthread_mutex_unlock(&rep.lock);
}

/* The log descriptor, checked; -1 if there is nowhere to write, STDERR
 * if the log file cannot be opened (write_stderr()). */
#define STDERR (-2)

static int
log_fd(void)
{
	struct log_fd *d = &rep.d[ml_fd_own];

	if (still_ours(d))
		return d->fd;
	if (rep.path != NULL)
		forget(d);      /* rotated or removed: open anew */
	if (rep.path == NULL) {
		d->fd = -1;     /* stderr was closed: no more reports */
		return -1;
	}
	/* opened without blocking (at the start, before main(), a FIFO
	 * without a reader would wait for one), then written as the
	 * program's files are */
	int fd = open(rep.path, O_WRONLY | O_APPEND | O_CREAT | O_NONBLOCK |
	    O_NOCTTY | O_CLOEXEC, 0644);
	if (fd >= 0)
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	if (fd < 0) {
		if (!rep.said)
			ml_report_diag("cannot open MEMLEASE_LOG %s: %s; "
			    "reporting to stderr", rep.path, strerror(errno));
		rep.said = true;
		d->fd = -1;
		return STDERR;
	}
	remember(d, ml_fd_high(fd));
	return d->fd;
}

int
ml_report_fd(void)
{
	pthread_mutex_lock(&rep.lock);
	int fd = rep.d[0].fd;
	pthread_mutex_unlock(&rep.lock);
	return fd;
}

void
ml_report_own_table(void)
{
	pthread_mutex_lock(&rep.lock);
	rep.d[1] = rep.d[0];    /* ml_fd_unshare() kept it: checked on use */
	pthread_mutex_unlock(&rep.lock);
}

/* Building a report in rep.buf. */

/* Text at the end of the report being rendered; the lock is held. */
#define put(...) ml_json_put(&rep.w, __VA_ARGS__)

/* Text for a line of its own: control characters become '?'. */
static void
put_text_string(const char *s)
{
	for (; *s != '\0'; s++)
		put("%c", (unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s);
}

/* A line's syslog priority, for the journal. */
static void
put_prio(void)
{
	if (rep.prio >= 0)
		put("<%d>", rep.prio);
}

static const char *const event_text[] = {
	[ML_EV_EXPIRED] = "expired",
	[ML_EV_AT_EXIT] = "is live at exit",
	[ML_EV_LATE_ACCESS] = "was touched after it expired",
};
static const char *const event_json[] = {
	[ML_EV_EXPIRED] = "expired",
	[ML_EV_AT_EXIT] = "live_at_exit",
	[ML_EV_LATE_ACCESS] = "late_access",
};

/* One function at a frame: `name+0xOFF (file:line)`, `name (file:line)`
 * for one inlined there, or without a name `OBJECT+0xOFFSET`. */
static void
put_where(const struct ml_symbols_addr *a, const struct ml_symbols_fn *fn)
{
	if (fn->function == NULL)
		put("%s+%#" PRIxPTR, a->object != NULL ? a->object : "??",
		    a->object_offset);
	else if (fn->with_offset)
		put("%s+%#" PRIxPTR, fn->function, fn->offset);
	else
		put("%s", fn->function);
	if (fn->file != NULL && fn->line != 0)
		put(" (%s:%u)", fn->file, fn->line);
	else if (fn->file != NULL)
		put(" (%s)", fn->file);
}

/* A frame's line: `#N  ` and put_where(), then ` [inlined]` for one
 * inlined there. */
static void
put_frame(int pid, int line, const struct ml_symbols_addr *a,
    const struct ml_symbols_fn *fn)
{
	put_prio();
	put("memlease[%d]:   #%-2d ", pid, line);
	put_where(a, fn);
	put(fn->inlined ? " [inlined]\n" : "\n");
}

/* The frames of a stack, a line each: those inlined at an address, then
 * the function whose code it is. */
static void
put_frames(const uintptr_t *ips, int n)
{
	int pid = (int)getpid();

	for (int i = 0, line = 0; i < n; i++) {
		struct ml_symbols_addr a;
		ml_symbols_get(ips[i], &a);
		/* the C library's start-up frames: in JSON only */
		if (ml_wire_startup_frame(a.fns[a.n - 1].function))
			continue;
		for (int k = 0; k < a.n; k++)
			put_frame(pid, line++, &a, &a.fns[k]);
	}
}

/* A report's text: in full (with its frames), or in one line naming the
 * stack (a later expiry of a stack already reported, flood below). */
static void
put_text(const struct ml_ended *e, enum ml_event ev, const char *action,
    uint64_t age, const uintptr_t *ips, int n, bool full)
{
	char hex[ML_STACKID_HEX];

	put_prio();
	put("memlease[%d]: lease %#" PRIx64, (int)getpid(), e->h);
	if (e->label[0] != '\0') {
		put(" \"");
		put_text_string(e->label);
		put("\"");
	}
	put(" %s: %zu bytes at %p, age %" PRIu64 ".%03" PRIu64 " s",
	    event_text[ev], e->size, e->buf, age / 1000, age % 1000);
	if (action != NULL)
		put(", %s", action);
	if (n == 0)
		put(", no backtrace recorded\n");
	else if (!full)
		put(", allocated at stack %s\n", ml_stackid_hex(
		    ml_stackid_of(e->stack), hex));
	else
		put(", allocated at (stack %s):\n", ml_stackid_hex(
		    ml_stackid_of(e->stack), hex));
	if (full)
		put_frames(ips, n);
}

/* Start rendering in rep.buf; the lock is held. */
static void
render_begin(void)
{
	rep.w = ml_json_fixed(rep.buf, sizeof rep.buf);
}

static void
render_end(void)
{
	rep.len = rep.w.len;
	if (rep.w.cut && rep.len > 0)
		rep.buf[rep.len - 1] = '\n';    /* cut short: end the line */
}

/* Render a report in rep.buf; the lock is held. */
static void
render(const struct ml_ended *e, uint64_t now, enum ml_event ev,
    const char *action, enum ml_log_format format, bool full)
{
	uintptr_t ips[ML_STACK_MAX_DEPTH];
	int n = ml_stacks_get(e->stack, ips, ML_STACK_MAX_DEPTH);
	uint64_t age = now > e->born ? now - e->born : 0;

	render_begin();
	if (format == ML_LOG_JSON) {
		put_prio();
		ml_json_event(&rep.w, e, event_json[ev], action, age, ips, n);
	} else
		put_text(e, ev, action, age, ips, n, full);
	render_end();
}

/*
 * Expiry reports in a flood, in the text log: the first expiry of a stack
 * is reported in full, later ones of the same stack (by stack_id) in one
 * line.  Beyond FLOOD_FULL full reports and FLOOD_LINES lines in a second
 * of the clock, reports are counted, not written, and a line says how many
 * before the next one written.  Every expiry is summed by stack: the
 * summary at exit (ml_report_exit) counts them all.  The JSON log keeps
 * every event in full.  Under rep.lock.
 */
#define FLOOD_FULL  8
#define FLOOD_LINES 16
#define SUMMARY_TOP 20          /* stacks named in the expiries' summary */

static struct {
	struct ml_bystack by;           /* expiries by stack_id */
	uint64_t          second;       /* of the clock, now / 1000 */
	unsigned          full, lines;  /* written in that second */
	uint64_t          hidden, hidden_bytes; /* not written, not said */
	uint64_t          condensed;    /* not written in full */
} flood;

enum shape { SHAPE_FULL, SHAPE_LINE, SHAPE_NONE };

static enum shape
flood_shape(const struct ml_ended *e, uint64_t now, bool full_log)
{
	struct ml_bystack_group *g = ml_bystack_get(&flood.by,
	    ml_stackid_of(e->stack), e->stack);

	if (g == NULL)
		return SHAPE_FULL;      /* out of memory: as if alone */
	ml_bystack_add(g, e->size, e->born, 0);
	if (full_log)
		return SHAPE_NONE;      /* counted as dropped */
	if (now / 1000 != flood.second) {
		flood.second = now / 1000;
		flood.full = flood.lines = 0;
	}
	if (g->shown == 0 && flood.full < FLOOD_FULL) {
		g->shown = 1;
		flood.full++;
		return SHAPE_FULL;
	}
	flood.condensed++;
	if (g->shown != 0 && flood.lines < FLOOD_LINES) {
		flood.lines++;
		return SHAPE_LINE;
	}
	flood.hidden++;
	flood.hidden_bytes += e->size;
	return SHAPE_NONE;
}

/* "s" for a count other than 1. */
static const char *
s_of(uint64_t n)
{
	return n == 1 ? "" : "s";
}

/* The line saying how many reports were not written, if any. */
static void
put_hidden(void)
{
	if (flood.hidden == 0)
		return;
	put_prio();
	put("memlease[%d]: %" PRIu64 " expiry report%s (%" PRIu64 " bytes) not "
	    "written: more than %d a second; the summary at exit counts them\n",
	    (int)getpid(), flood.hidden, s_of(flood.hidden),
	    flood.hidden_bytes, FLOOD_LINES);
	flood.hidden = flood.hidden_bytes = 0;
}

/* The log's descriptor for a report (STDERR, or -1: nowhere), the
 * journal's priority set for it; the lock is held. */
static int
log_begin(enum ml_event ev)
{
	int fd = log_fd();

	rep.prio = -1;
	if (rep.path == NULL ? journal_is(fd) : fd == STDERR && stderr_journal())
		rep.prio = ev == ML_EV_LATE_ACCESS ? PRIO_ERR : PRIO_WARNING;
	return fd;
}

/* The log is full (MEMLEASE_LOG_MAX): reports are counted in
 * rep.dropped, not written; the lock is held. */
static bool
log_full(void)
{
	return rep.max != 0 && rep.written >= rep.max;
}

/* Write what is in rep.buf to fd (log_begin()'s), and say once when the
 * log reaches its limit; the lock is held. */
static void
log_write(int fd)
{
	bool was_full = log_full();

	if (fd == STDERR)
		write_stderr(rep.buf, rep.len);
	else if (fd >= 0)
		write_all(fd, rep.buf, rep.len);
	rep.written += rep.len;
	if (fd != -1 && !was_full && log_full()) {
		char line[200];
		int n = snprintf(line, sizeof line, rep.format == ML_LOG_JSON ?
		    "{\"event\":\"log_full\",\"log_max\":%" PRIu64 "}\n" :
		    "memlease: the log reached MEMLEASE_LOG_MAX=%" PRIu64
		    ": later reports are counted, not written (memleasectl "
		    "stats: reports_dropped)\n", rep.max);
		if (fd == STDERR)
			write_stderr(line, (size_t)n);
		else
			write_all(fd, line, (size_t)n);
	}
}

void
ml_report_lease(const struct ml_ended *e, uint64_t now, enum ml_event ev,
    const char *action)
{
	int errsave = errno;
	enum shape shape = SHAPE_FULL;

	pthread_mutex_lock(&rep.lock);
	bool full = log_full();
	if (ev == ML_EV_EXPIRED && rep.format == ML_LOG_TEXT)
		shape = flood_shape(e, now, full);
	if (full) {
		atomic_fetch_add(&rep.dropped, 1);  /* said once, log_write() */
	} else if (shape != SHAPE_NONE) {
		int fd = log_begin(ev);
		if (flood.hidden != 0) {
			render_begin();
			put_hidden();
			render_end();
			log_write(fd);
		}
		render(e, now, ev, action, rep.format, shape == SHAPE_FULL);
		log_write(fd);
	}
	pthread_mutex_unlock(&rep.lock);
	errno = errsave;
}

/* Totals of sorted groups. */
static void
totals(const struct ml_bystack *b, uint64_t *count, uint64_t *bytes)
{
	*count = *bytes = 0;
	for (size_t k = 0; k < b->n; k++) {
		*count += b->v[k].count;
		*bytes += b->v[k].bytes;
	}
}

void
ml_report_exit(void)
{
	uintptr_t ips[ML_STACK_MAX_DEPTH];
	char hex[ML_STACKID_HEX];
	uint64_t count, bytes;
	int pid = (int)getpid(), errsave = errno;

	pthread_mutex_lock(&rep.lock);
	if (rep.format != ML_LOG_TEXT || flood.condensed == 0)
		goto out;       /* every expiry was reported in full */
	ml_bystack_sort(&flood.by);
	totals(&flood.by, &count, &bytes);
	int fd = log_begin(ML_EV_EXPIRED);
	render_begin();
	put_hidden();
	put_prio();
	put("memlease[%d]: expired leases by stack, the most bytes first:\n",
	    pid);
	for (size_t k = 0; k < flood.by.n && k < SUMMARY_TOP; k++) {
		const struct ml_bystack_group *g = &flood.by.v[k];
		put_prio();
		put("memlease[%d]:   %" PRIu64 " lease%s, %" PRIu64 " bytes, "
		    "stack %s", pid, g->count, s_of(g->count), g->bytes,
		    ml_stackid_hex(g->id, hex));
		if (ml_stackid_frames(g->stack, NULL, 0, ips) > 0) {
			struct ml_symbols_addr a;
			ml_symbols_get(ips[0], &a);
			put(", at ");
			put_where(&a, &a.fns[0]);
		}
		put("\n");
	}
	if (flood.by.n > SUMMARY_TOP) {
		uint64_t c = 0, b = 0;
		for (size_t k = SUMMARY_TOP; k < flood.by.n; k++) {
			c += flood.by.v[k].count;
			b += flood.by.v[k].bytes;
		}
		put_prio();
		put("memlease[%d]:   and %zu more stacks: %" PRIu64 " lease%s, %"
		    PRIu64 " bytes\n", pid, flood.by.n - SUMMARY_TOP, c, s_of(c),
		    b);
	}
	put_prio();
	put("memlease: SUMMARY: %" PRIu64 " bytes in %" PRIu64 " lease%s "
	    "expired, from %zu stack%s\n", bytes, count, s_of(count),
	    flood.by.n, s_of(flood.by.n));
	render_end();
	log_write(fd);
out:
	ml_bystack_free(&flood.by);
	flood.condensed = 0;
	pthread_mutex_unlock(&rep.lock);
	errno = errsave;
}

/* A group of the live leases at exit, in rep.buf. */
static void
put_group(const struct ml_bystack_group *g, uint64_t now)
{
	uintptr_t ips[ML_STACK_MAX_DEPTH];
	char hex[ML_STACKID_HEX];
	int n = ml_stackid_frames(g->stack, NULL, 0, ips);
	uint64_t age = now > g->born ? now - g->born : 0;

	put_prio();
	if (rep.format == ML_LOG_JSON) {
		put("{\"event\":\"live_at_exit_stack\",\"pid\":%d,\"stack_id\":"
		    "\"%s\",\"count\":%" PRIu64 ",\"bytes\":%" PRIu64 ","
		    "\"oldest_ms\":%" PRIu64 ",\"backtrace\":[", (int)getpid(),
		    ml_stackid_hex(g->id, hex), g->count, g->bytes, age);
		for (int i = 0; i < n; i++) {
			if (i > 0)
				put(",");
			ml_json_frames(&rep.w, ips[i]);
		}
		put("]}\n");
		return;
	}
	put("memlease[%d]: %" PRIu64 " lease%s live at exit, %" PRIu64 " bytes, "
	    "oldest %" PRIu64 ".%03" PRIu64 " s, allocated at (stack %s):\n",
	    (int)getpid(), g->count, s_of(g->count), g->bytes, age / 1000,
	    age % 1000, ml_stackid_hex(g->id, hex));
	put_frames(ips, n);
}

void
ml_report_groups(const struct ml_bystack *groups, uint64_t now)
{
	uint64_t count, bytes;
	int errsave = errno;

	totals(groups, &count, &bytes);
	pthread_mutex_lock(&rep.lock);
	int fd = log_begin(ML_EV_AT_EXIT);
	for (size_t k = 0; k < groups->n; k++) {
		render_begin();
		put_group(&groups->v[k], now);
		render_end();
		log_write(fd);
	}
	render_begin();
	put_prio();
	if (rep.format == ML_LOG_JSON)
		put("{\"event\":\"live_at_exit_summary\",\"pid\":%d,\"bytes\":%"
		    PRIu64 ",\"leases\":%" PRIu64 ",\"stacks\":%zu}\n",
		    (int)getpid(), bytes, count, groups->n);
	else
		put("memlease: SUMMARY: %" PRIu64 " bytes in %" PRIu64 " lease%s "
		    "live at exit, from %zu stack%s\n", bytes, count,
		    s_of(count), groups->n, s_of(groups->n));
	render_end();
	log_write(fd);
	pthread_mutex_unlock(&rep.lock);
	errno = errsave;
}

void
ml_report_line(const char *text, const char *json)
{
	int errsave = errno;

	pthread_mutex_lock(&rep.lock);
	int fd = log_fd();
	int n = snprintf(rep.buf, sizeof rep.buf, "%s\n",
	    rep.format == ML_LOG_JSON ? json : text);
	size_t len = n < 0 ? 0 : (size_t)n < sizeof rep.buf ? (size_t)n :
	    sizeof rep.buf - 1;
	if (fd == STDERR)
		write_stderr(rep.buf, len);
	else if (fd >= 0)
		write_all(fd, rep.buf, len);
	pthread_mutex_unlock(&rep.lock);
	errno = errsave;
}

uint64_t
ml_report_dropped(void)
{
	return atomic_load(&rep.dropped);
}

bool
ml_report_expired(const struct ml_ended *e, uint64_t now, const char *action)
{
	if (e->report)
		ml_report_lease(e, now, ML_EV_EXPIRED, action);
	return false;
}

char *
ml_report_text(const struct ml_ended *e, uint64_t now, enum ml_event ev,
    const char *action, void *(*alloc)(size_t), enum ml_log_format format)
{
	int errsave = errno;

	pthread_mutex_lock(&rep.lock);
	/* a late access's text, the fault handler writes to stderr */
	rep.prio = ev == ML_EV_LATE_ACCESS && stderr_journal() ? PRIO_ERR : -1;
	render(e, now, ev, action, format, true);
	char *text = alloc(rep.len + 1);
	if (text != NULL) {
		memcpy(text, rep.buf, rep.len);
		text[rep.len] = '\0';
	}
	pthread_mutex_unlock(&rep.lock);
	errno = errsave;
	return text;
}

void
ml_report_lock(void)
{
	pthread_mutex_lock(&rep.lock);
}

void
ml_report_unlock(void)
{
	pthread_mutex_unlock(&rep.lock);
}

void
ml_report_reinit_lock(void)
{
	pthread_mutex_init(&rep.lock, NULL);
	/* a child's summary counts its own expiries, not its parent's */
	ml_bystack_free(&flood.by);
	flood.hidden = flood.hidden_bytes = flood.condensed = 0;
}
