/*
 * ctl.h - memleasectl's private header, an index of its modules, each a
 * file with its prefix (tmux.h's manner).  The pure parts (args.c,
 * format.c, inbuf.c, reply.c) are tested without a socket
 * (tests/test_ctl.c); out.c writes, client.c talks to the sockets, cmd.c
 * holds the table of the commands, one file cmd-NAME.c each, and
 * memleasectl.c has main().  flame.c (flame graphs, folded stacks) and
 * group.c (a log's events by stack) are pure too (tests/test_flame.c).
 *
 * The client talks to the control socket of a process only through the
 * JSON protocol (memlease(7)): it includes neither the core nor the preload,
 * only wire.h, the protocol's constants, names and socket folder shared
 * with the server.  One thread; nothing keeps state between calls but
 * what the caller holds.
 */
#ifndef CTL_H
#define CTL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "wire.h"

/* Exit statuses (memleasectl(1)). */
#define CTL_EXIT_OK     0
#define CTL_EXIT_FAIL   1
#define CTL_EXIT_USAGE  2

#define CTL_TOP_MAX     ML_WIRE_TOP_MAX /* "limit" of a sorted listing */
#define CTL_TTL_MAX     ((UINT64_C(1) << 40) - 1)  /* ms: ~34 years */
#define CTL_DEPTH_MAX   1000            /* list --depth */

/* --- args.c: the command line, parsed into a struct ---------------------- */

enum ctl_cmd {
	CTL_CMD_NONE,
	CTL_CMD_PS,
	CTL_CMD_STATS,
	CTL_CMD_LIST,
	CTL_CMD_SHOW,
	CTL_CMD_RENEW,
	CTL_CMD_EXPIRE,
	CTL_CMD_RULES,
	CTL_CMD_WATCH,
	CTL_CMD_EXPORT,
	CTL_CMD_ATTACH,
	CTL_CMD_FLAMEGRAPH,
	CTL_CMD_REPORT,
};

enum ctl_sort   { CTL_SORT_NONE, CTL_SORT_AGE, CTL_SORT_SIZE };
enum ctl_rules  { CTL_RULES_GET, CTL_RULES_SET, CTL_RULES_ADD,
                  CTL_RULES_CLEAR };
enum ctl_format { CTL_FORMAT_PROMETHEUS, CTL_FORMAT_OPENMETRICS,
                  CTL_FORMAT_FOLDED };

struct ctl_args {
	enum ctl_cmd    cmd;
	bool            help;           /* --help: of cmd, or of the tool */
	bool            version;
	bool            json;
	pid_t           pid;            /* -p; 0: none */
	const char     *socket;         /* -S; NULL: none */

	/* list */
	uint64_t        older_than_ms;  /* 0: any age */
	const char     *label;          /* NULL: any */
	const char     *state;          /* NULL: any */
	enum ctl_sort   sort;
	uint64_t        limit;          /* 0: none */
	bool            by_site;
	bool            by_stack;
	uint64_t        depth;          /* by_stack: frames kept, 0: all */
	const char     *skip;           /* by_stack: globs, comma-separated */

	/* show, renew, expire */
	uint64_t        lease;
	uint64_t        ttl_ms;         /* renew: 0 (no timeout) if not given */

	/* rules */
	enum ctl_rules  rules_op;
	char           *rules;          /* set, add: the words joined (malloc) */

	/* export, flamegraph */
	enum ctl_format format;
	const char     *output;         /* -o: the file to replace; NULL: stdout */

	/* attach: the process in pid, the rules (--rules) in rules */
	const char     *library;        /* --library; NULL: the installed one */

	/* report */
	char          **files;          /* nfiles words of argv (malloc) */
	size_t          nfiles;         /* 0: standard input */
};

/*
 * Parse argv (argc words, argv[0] the program's name) into *a.  Returns
 * CTL_EXIT_OK, or CTL_EXIT_USAGE with the reason in err (errlen bytes);
 * CTL_EXIT_FAIL only when out of memory.  Free with ctl_args_free.
 */
int         ctl_args_parse(int argc, char *const argv[], struct ctl_args *a,
                char *err, size_t errlen);
void        ctl_args_free(struct ctl_args *a);
/* "250ms", "30s", "5m", "1h", "2d", or a bare number of ms: 0 or -1. */
int         ctl_args_duration(const char *s, uint64_t *ms);
/* A lease id, "0x100000001" or decimal, not 0: 0 or -1. */
int         ctl_args_lease(const char *s, uint64_t *id);
/* The usage of the tool (cmd NONE) or of one command. */
void        ctl_args_help(FILE *f, enum ctl_cmd cmd);
const char *ctl_args_cmd_name(enum ctl_cmd cmd);

/* --- format.c: human units, clean text, tables ---------------------------- */

#define CTL_FMT_UNIT 24                 /* a buffer for one size or duration */

/* 512B, 1.5KiB, 64KiB, 3.2MiB ...; "-" for a negative size (unknown). */
char       *ctl_fmt_size(int64_t bytes, char buf[CTL_FMT_UNIT]);
/* 850ms, 12.3s, 4m05s, 2h01m, 3d04h; "-" for a negative time (none). */
char       *ctl_fmt_duration(int64_t ms, char buf[CTL_FMT_UNIT]);
/* A count, or "-" if negative. */
char       *ctl_fmt_count(int64_t n, char buf[CTL_FMT_UNIT]);
/*
 * s (NULL: "-") made safe for a terminal: control characters, C1 controls
 * and bytes that are not UTF-8 become '?'.  From malloc; NULL when out of
 * memory.
 */
char       *ctl_fmt_clean(const char *s);
/* Columns a clean string takes (its UTF-8 characters). */
size_t      ctl_fmt_width(const char *s);
/* The columns of the terminal on fd: $COLUMNS, the tty's, 80 if the tty
 * tells none; 0 (no limit) if fd is not a terminal. */
size_t      ctl_fmt_term_width(int fd);

/* A column of a table. */
struct ctl_col {
	const char *name;
	bool        right;          /* numbers: aligned right */
	bool        shrink;         /* may be cut to fit the terminal */
	bool        keep_end;       /* cut at the start (paths), not the end */
};

/*
 * A table: rows are added, then printed in batches (ctl_fmt_table_print);
 * the header comes with the first batch, and columns only grow from batch
 * to batch, so a listing printed page by page stays aligned (but for a
 * later page holding a wider cell).
 */
struct ctl_table {
	const struct ctl_col *cols;
	size_t                ncols;
	size_t               *cells;    /* nrows * ncols offsets into text */
	size_t                nrows, cap;
	char                 *text;     /* the cells, clean, NUL-terminated */
	size_t                used, room;
	size_t               *width;    /* natural widths so far */
	bool                  headed;   /* the header was printed */
};

int         ctl_fmt_table_init(struct ctl_table *t, const struct ctl_col *cols,
                size_t ncols);
/* One row of ncols strings (NULL shows "-"); 0, or -1 out of memory. */
int         ctl_fmt_table_add(struct ctl_table *t, const char *const *row);
/*
 * The widths the columns get within `columns` (0: no limit): shrinkable
 * columns are cut, the widest first, never below their header or 8.
 */
void        ctl_fmt_table_layout(const struct ctl_table *t, size_t columns,
                size_t *out);
/* Print the rows added since the last call; 0, or -1 on an output error. */
int         ctl_fmt_table_print(struct ctl_table *t, FILE *f, size_t columns);
void        ctl_fmt_table_free(struct ctl_table *t);
/* s cut to `width` columns with "..." (at its start if keep_end). */
char       *ctl_fmt_cut(const char *s, size_t width, bool keep_end);

/* --- inbuf.c: the lines of a stream, as they arrive ---------------------- */

struct ctl_inbuf {
	char  *buf;
	size_t off, scan, len, cap;
};

/* The next whole line, without its newline, NUL-terminated in place and
 * valid until the next call: 0.  1: no whole line yet (read more);
 * -1: more than max bytes without a newline. */
int   ctl_inbuf_line(struct ctl_inbuf *b, size_t max, char **line,
          size_t *len);
/* Where to read the next bytes, *room (at least 4096) of them; NULL: out
 * of memory.  Then ctl_inbuf_filled() with how many came. */
char *ctl_inbuf_room(struct ctl_inbuf *b, size_t *room);
void  ctl_inbuf_filled(struct ctl_inbuf *b, size_t n);
/* Bytes of a line not yet whole are there. */
bool  ctl_inbuf_partial(const struct ctl_inbuf *b);
void  ctl_inbuf_free(struct ctl_inbuf *b);

/* --- reply.c: a response line, checked, and its results typed ------------ */

#define CTL_REPLY_MAX_LINE (16u << 20)  /* bytes of a response line */

struct ctl_reply {
	json_t     *root;
	int64_t     id;                 /* -1: null */
	bool        ok;
	json_t     *result;             /* ok: an object, borrowed from root */
	const char *code;               /* !ok: "EINVAL" ... ("?" if none) */
	const char *message;            /* !ok: ("" if none) */
};

/*
 * Parse one response line (without its newline): 0, or -1 with what is
 * wrong in err.  A response that is not one JSON object with an integer
 * "id", a boolean "ok" and a "result" object (or an "error" object) is
 * refused.  Free with ctl_reply_free.
 */
int         ctl_reply_parse(const char *line, size_t len, struct ctl_reply *r,
                char *err, size_t errlen);
void        ctl_reply_free(struct ctl_reply *r);

/*
 * The typed views below borrow their strings from the JSON they were read
 * from.  A number missing or null reads as -1 ("-" in a table); one of the
 * wrong type, negative, or a string of the wrong type is an error (-1,
 * with err set).
 */
struct ctl_hello {
	int64_t     proto, pid;
	const char *version, *program;
};

struct ctl_stats {
	int64_t pid, live_leases, live_bytes, tagged, allocated, released,
	        expired, reclaimed, pinned, overdue, entry_blocks,
	        entries_per_block, bookkeeping_bytes, stacks,
	        reports_dropped, sampled, estimated_bytes, estimated_leases;
};

struct ctl_lease {
	const char *id, *label, *state, *kind, *addr;
	int64_t     size, age_ms, expires_in_ms, pins, releases;
};

/* A frame, as SPEC's "Frames" says: NULL strings and -1 numbers when
 * absent. */
struct ctl_frame {
	const char *function, *object, *ip, *file;
	int64_t     offset, object_offset, line;
	bool        inlined;
};

/* A stack of list --by-stack (and of report): its frames innermost
 * first, an array (NULL: none). */
struct ctl_stack {
	const char *stack_id;
	int64_t     count, bytes, oldest_ms;
	int64_t     est_count, est_bytes;   /* weighed (sample=); -1: absent */
	json_t     *frames;
};

struct ctl_site {
	int64_t          count, bytes;
	int64_t          est_count, est_bytes;  /* weighed (sample=) */
	bool             known;         /* site is not null */
	struct ctl_frame site;
};

struct ctl_event {
	const char *event, *id, *label, *addr, *action;
	int64_t     pid, size, age_ms;
	json_t     *backtrace;          /* an array, or NULL */
};

/* A stats counter: its JSON name, its offset in struct ctl_stats, its
 * help text, and whether it only grows (a counter) or not (a gauge). */
struct ctl_stat_field {
	const char *name;
	size_t      offset;
	const char *help;
	bool        counter;
	bool        bytes;
};
extern const struct ctl_stat_field ctl_reply_stat_fields[];
extern const size_t ctl_reply_nstat_fields;

int         ctl_reply_hello(json_t *o, struct ctl_hello *h, char *err,
                size_t errlen);
int         ctl_reply_stats(json_t *o, struct ctl_stats *st, char *err,
                size_t errlen);
int         ctl_reply_lease(json_t *o, struct ctl_lease *l, char *err,
                size_t errlen);
int         ctl_reply_frame(json_t *o, struct ctl_frame *fr, char *err,
                size_t errlen);
int         ctl_reply_site(json_t *o, struct ctl_site *s, char *err,
                size_t errlen);
/* A stack, its frames checked (ctl_reply_frame) too. */
int         ctl_reply_stack(json_t *o, struct ctl_stack *s, char *err,
                size_t errlen);
int         ctl_reply_event(json_t *o, struct ctl_event *ev, char *err,
                size_t errlen);
/*
 * A page of "list": its "leases" (or, by_site, "sites") array and its
 * "next" cursor (-1: null, the last page).
 */
int         ctl_reply_page(json_t *o, const char *key, json_t **items,
                int64_t *next, char *err, size_t errlen);
/*
 * A page of "list" read from its text alone, for --json, which prints
 * the leases as they came: parsing and writing them again with jansson
 * costs several times the listing itself.  Only a successful response
 * in the plain shape the server writes is taken here: one line of
 * printable ASCII (no tab, no control character, no byte over 0x7e, so
 * that it is safe on a terminal as it is), integers of at most 18
 * digits, strings without NUL or surrogate escapes, nesting of at most
 * 32, no member twice among "id", "ok", "result", "next" and the key,
 * each item an object.  Anything else returns 0 and is left to
 * ctl_reply_parse, whose messages say what is wrong; 1 with *pg set.
 */
struct ctl_page_text {
	int64_t     id;
	int64_t     next;               /* -1: null, the last page */
	const char *items;              /* the items as sent: "{..},{..}" */
	size_t      len;                /* bytes of items */
	size_t      count;              /* how many */
};
int         ctl_reply_page_text(const char *line, size_t len,
                const char *key, struct ctl_page_text *pg);
/* The bytes of the first n items of pg (n <= pg->count). */
size_t      ctl_reply_page_cut(const struct ctl_page_text *pg, size_t n);
/*
 * The lease at byte *off of pg's items (0: the first), read from its text
 * without jansson: 0, *l set (its strings in buf, until the next call);
 * 1, a string of it has an escape, or buf is too small: parse its text,
 * [*from, *from + *len), with jansson; -1, malformed (a field of the
 * wrong type, no "id").  *off moves past it.
 */
int         ctl_reply_lease_next(const struct ctl_page_text *pg,
                size_t *off, struct ctl_lease *l, char *buf, size_t buflen,
                const char **from, size_t *len);
/* The "rules" text of a rules result ("" if null). */
int         ctl_reply_rules(json_t *o, const char **text, char *err,
                size_t errlen);

/* --- flame.c: stacks as a flame graph or as folded lines ---------------- */

/*
 * stacks: the "stacks" of a list --by-stack result (or of report's), each
 * checked with ctl_reply_stack; their frames innermost first.  A frame is
 * named by its function, or OBJECT+0xOFFSET (the object's basename) when
 * it has none; the C library's start-up frames at the outer end of a
 * stack are left out, as text output leaves them.  estimated (the
 * listing's "estimated": byte sampling chose its leases): each stack
 * weighs its "estimated_bytes" and "estimated_count", where it has them,
 * not the bytes and count of the leases sampled.  Both return 0, -1 with
 * what is malformed in err, or -1 with errno set (out of memory).
 */

/* One line a stack, outermost frame first and its bytes last, "main;f;g
 * 4096": the folded format of flamegraph.pl, inferno and speedscope,
 * which has no room to say the bytes are estimates: the caller says it. */
int         ctl_flame_folded(FILE *f, json_t *stacks, bool estimated,
                char *err, size_t errlen);
/*
 * A flame graph of the stacks' bytes: one SVG document, self-contained
 * (its style and script inline), under a title (NULL: none); estimated,
 * a subtitle and each frame's title say the figures are estimates.
 */
int         ctl_flame_svg(FILE *f, json_t *stacks, const char *title,
                bool estimated, char *err, size_t errlen);
/* The name of a frame in a flame graph and in folded lines, in buf. */
const char *ctl_flame_name(const struct ctl_frame *fr, char *buf, size_t n);

/* --- group.c: the events of a JSON log, grouped by stack ----------------- */

/*
 * Events (a line of MEMLEASE_LOG_FORMAT=json each) go in, one at a time;
 * a lease is counted once, however many events name it (an expiry, then
 * a late access, then its report at exit), with its greatest age.  A
 * stack is its events' "stack_id", or, without one, its frames' objects
 * and offsets.
 */
struct ctl_group {
	json_t  *stacks;                /* key: {stack_id, count, bytes,
	                                 * oldest_ms, frames} */
	json_t  *leases;                /* "pid id": the key of its stack */
	int64_t  count, bytes;
};

int         ctl_group_init(struct ctl_group *g);
/* 0: taken; 1: not about a lease (log_full), left; -1: malformed (err),
 * or out of memory (errno set). */
int         ctl_group_add(struct ctl_group *g, json_t *event, char *err,
                size_t errlen);
/* {"stacks":[...],"count":N,"bytes":N}, the shape of list --by-stack's
 * result, the most bytes first; NULL when out of memory. */
json_t     *ctl_group_result(const struct ctl_group *g);
void        ctl_group_free(struct ctl_group *g);

/* --- out.c: what memleasectl writes -------------------------------------- */

/* JSON on one line; escaped to ASCII, so that it is safe on a terminal
 * too, and the same JSON. */
#define CTL_OUT_JSON (JSON_COMPACT | JSON_ENSURE_ASCII)

/* "memleasectl: ..." on stderr, after what stdout holds. */
void        ctl_out_warn(const char *fmt, ...)
                __attribute__((format(printf, 1, 2)));
/* A text from a process, made safe to print (never NULL: out of memory
 * ends memleasectl). */
char       *ctl_out_clean(const char *s);
/* o as one line of JSON on stdout. */
void        ctl_out_json(json_t *o);
/* The rows of t added since the last call, to the terminal's width:
 * 0, or -1 (said). */
int         ctl_out_table(struct ctl_table *t);

/*
 * A file written whole or not at all (-o): its text goes to a temporary
 * file beside it (".NAME.XXXXXX", which node_exporter's textfile collector
 * does not read, as it reads only *.prom), made durable and renamed over
 * it by ctl_out_file_commit, so that a reader sees the old file or the new
 * one, never a part.  Messages start with what ("export").
 */
struct ctl_out_file {
	FILE       *f;                  /* write here */
	const char *what, *path;
	char       *tmp;                /* from malloc */
};
/* 0 with o->f open, or -1 (said). */
int         ctl_out_file_open(struct ctl_out_file *o, const char *what,
                const char *path);
/* Flush, sync and rename over the path, readable as the umask allows (as a
 * file made anew): 0, or -1 (said, and the temporary file removed). */
int         ctl_out_file_commit(struct ctl_out_file *o);
/* Give up: the temporary file removed, the path untouched. */
void        ctl_out_file_abort(struct ctl_out_file *o);

/* --- client.c: finding processes, talking to one ------------------------ */

/* A connection to a process's control socket, hello said. */
struct ctl_conn {
	int              fd;
	char             name[160];     /* for messages: "process 42" */
	struct ctl_inbuf in;            /* bytes read, lines not yet read */
	int64_t          next_id;
	uint64_t         lease;         /* of the request (0: none), for
	                                 * ESTALE's message */
	json_t          *hello_root;
	struct ctl_hello hello;
};

/* Open the connection a command for one process is about: -S, -p, or
 * the only process of the socket folder.  0, or -1 (said). */
int         ctl_client_open_one(const struct ctl_args *a, struct ctl_conn *c);
void        ctl_client_close(struct ctl_conn *c);
/*
 * Send {"id":N,"cmd":cmd,...args} (args taken, may be NULL) and read the
 * line of its response (valid until the next read).  Returns N, or -1
 * (said).
 */
int64_t     ctl_client_send(struct ctl_conn *c, const char *cmd, json_t *args,
                char **line, size_t *len);
/*
 * The response line to request id in *r.  Returns 0 with r->ok true; -1
 * otherwise, said (a failure the process answered, a malformed response).
 */
int         ctl_client_reply(struct ctl_conn *c, int64_t id, const char *line,
                size_t len, struct ctl_reply *r);
/* A request and its response: ctl_client_send, then ctl_client_reply. */
int         ctl_client_request(struct ctl_conn *c, const char *cmd,
                json_t *args, struct ctl_reply *r);
/*
 * The next line (without its newline, NUL-terminated in place) in
 * *line, valid until the next call.  timeout_ms < 0: wait for ever.
 * Returns 0, 1 at the end of the stream (between lines), -1 on error
 * (said).
 */
int         ctl_client_read_line(struct ctl_conn *c, int timeout_ms,
                char **line, size_t *len);
/* A typed view of a result failed: say so (clean) and return -1. */
int         ctl_client_malformed(const struct ctl_conn *c, const char *err);

/* A process's hello and stats, for ps and export. */
struct ctl_proc {
	pid_t            pid;
	char            *program, *command, *version;
	json_t          *stats_json;
	struct ctl_stats st;
};

/* Read the processes of -p, -S, or the socket folder: those that answer
 * in *procs (count returned); -1 if any failed (the others are still
 * there), with *procs NULL only when none could be read at all. */
int         ctl_client_procs(const struct ctl_args *a, struct ctl_proc **procs,
                int *count);
void        ctl_client_procs_free(struct ctl_proc *procs, int n);
/* Say that the socket folder has no process, naming it. */
void        ctl_client_say_none(void);

/* --- inject.c: calling functions inside another process (ptrace) ------ */

struct ctl_inject;

/*
 * Stop thread tid (ptrace-seized), keep its registers, FPU state and
 * signal mask, and block its signals but SIGSEGV: 0 with *in set, or -1
 * with errno (EPERM...) and what failed in err.  x86-64 only (ENOSYS).
 */
int         ctl_inject_begin(struct ctl_inject **in, pid_t tid, char *err,
                size_t errlen);
/* Bytes of the process's memory: 0 or -1. */
int         ctl_inject_read(struct ctl_inject *in, uint64_t at, void *buf,
                size_t n);
int         ctl_inject_write(struct ctl_inject *in, uint64_t at,
                const void *buf, size_t n);
/* n bytes copied onto the thread's stack, below what it uses: their
 * address there (0: failed).  Valid until ctl_inject_end(). */
uint64_t    ctl_inject_push(struct ctl_inject *in, const void *buf, size_t n);
/* fn(args...) called on the thread, its result in *ret: 0, or -1 (said in
 * err; the thread is still stopped, for ctl_inject_end). */
int         ctl_inject_call(struct ctl_inject *in, uint64_t fn,
                const uint64_t *args, int nargs, uint64_t *ret, char *err,
                size_t errlen);
/* The thread put back as it was, and let go: 0, or -1. */
int         ctl_inject_end(struct ctl_inject *in);
/* The address of function `name` in the ELF object at path, loaded at
 * base (its first mapping): 0, or -1 (not found). */
int         ctl_inject_symbol(const char *path, uint64_t base,
                const char *name, uint64_t *addr);

/* --- cmd.c: the commands' table, and what several commands do --------- */

/*
 * A command, defined by its file cmd-NAME.c (tmux's cmd_entry): its name,
 * its usage (arguments, summary, the help of its options and more), the
 * positional arguments args.c takes for it, and what runs it.  exec gets
 * the connection to the process of -p, -S or the only one, or, for a
 * command that talks to every process itself (all), NULL.  It returns 0,
 * or -1 (said).
 */
struct ctl_cmd_entry {
	enum ctl_cmd cmd;
	const char  *name;
	const char  *args;
	const char  *summary;
	const char  *options;           /* NULL: none */
	const char  *more;              /* after the options; NULL: none */
	int          min_pos, max_pos;  /* positional arguments; -1: any */
	bool         all;
	int        (*exec)(const struct ctl_args *a, struct ctl_conn *c);
};

extern const struct ctl_cmd_entry ctl_cmd_ps_entry;
extern const struct ctl_cmd_entry ctl_cmd_stats_entry;
extern const struct ctl_cmd_entry ctl_cmd_list_entry;
extern const struct ctl_cmd_entry ctl_cmd_show_entry;
extern const struct ctl_cmd_entry ctl_cmd_renew_entry;
extern const struct ctl_cmd_entry ctl_cmd_expire_entry;
extern const struct ctl_cmd_entry ctl_cmd_rules_entry;
extern const struct ctl_cmd_entry ctl_cmd_watch_entry;
extern const struct ctl_cmd_entry ctl_cmd_export_entry;
extern const struct ctl_cmd_entry ctl_cmd_attach_entry;
extern const struct ctl_cmd_entry ctl_cmd_flamegraph_entry;
extern const struct ctl_cmd_entry ctl_cmd_report_entry;

/* attach's refusal for Yama's kernel.yama.ptrace_scope of value v (-1: no
 * Yama) when memleasectl runs as root or not: -1 after saying why and what
 * to do, or 0 when v forbids nothing. */
int ctl_attach_check_scope(pid_t pid, int v, bool root);

/* Every command, in the order of the help; NULL-terminated. */
extern const struct ctl_cmd_entry *const ctl_cmd_table[];
/* The entry of cmd, or NULL (CTL_CMD_NONE). */
const struct ctl_cmd_entry *ctl_cmd_find(enum ctl_cmd cmd);

/*
 * A request whose result --json prints as it is: -1 (failed, said), 1
 * (printed), or 0 with *r to show to a human (the caller frees it).
 */
int         ctl_cmd_ask(struct ctl_conn *c, const struct ctl_args *a,
                const char *cmd, json_t *args, struct ctl_reply *r);
/* A JSON string of a command-line argument, which must be UTF-8 (NULL,
 * said, if it is not). */
json_t     *ctl_cmd_arg_string(const char *s, const char *what);
/* {"lease":"0x..."}: the arguments of show, renew and expire. */
json_t     *ctl_cmd_lease_arg(uint64_t lease);
/* A frame in text, in buf: "name+0x12 (file:line)", "name (file:line)"
 * for a function inlined there, or without a name "OBJECT+0xOFFSET". */
const char *ctl_cmd_frame_where(const struct ctl_frame *fr, char *buf,
                size_t n);
/* export --format folded (cmd-flamegraph.c): the stacks of c's process
 * as folded lines, to -o's file or stdout; 0, or -1 (said). */
int         ctl_cmd_folded(const struct ctl_args *a, struct ctl_conn *c);
/* Print a backtrace, a frame a line, indented, the inlined ones marked,
 * the C library's start-up frames left out; -1 if malformed. */
int         ctl_cmd_backtrace(const struct ctl_conn *c, json_t *bt,
                const char *indent);

#endif /* CTL_H */
