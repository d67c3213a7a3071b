/*
 * cmd-list.c - memleasectl list: the live leases of one process, read
 * page by page and printed as they come, so that a process with a
 * million leases does not make the client hold them all; or sorted (one
 * request, the top N); or their count and bytes per allocation site, or
 * per stack.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

static const struct ctl_col lease_cols[] = {
	{ "ID", false, false, false },
	{ "SIZE", true, false, false },
	{ "AGE", true, false, false },
	{ "EXPIRES", true, false, false },
	{ "STATE", false, false, false },
	{ "KIND", false, false, false },
	{ "LABEL", false, true, false },
};
#define NLEASE_COLS (sizeof lease_cols / sizeof *lease_cols)

/* A lease as a row of the table. */
static int
lease_add(const struct ctl_lease *l, struct ctl_table *t)
{
	char size[CTL_FMT_UNIT], age[CTL_FMT_UNIT], exp[CTL_FMT_UNIT];
	const char *row[NLEASE_COLS] = {
		l->id, ctl_fmt_size(l->size, size),
		ctl_fmt_duration(l->age_ms, age),
		ctl_fmt_duration(l->expires_in_ms, exp), l->state, l->kind,
		l->label,
	};

	if (ctl_fmt_table_add(t, row) != 0) {
		ctl_out_warn("out of memory");
		return -1;
	}
	return 0;
}

/* A lease parsed by jansson as a row of the table. */
static int
lease_row(const struct ctl_conn *c, json_t *o, struct ctl_table *t)
{
	struct ctl_lease l;
	char err[256];

	if (ctl_reply_lease(o, &l, err, sizeof err) != 0)
		return ctl_client_malformed(c, err);
	return lease_add(&l, t);
}

/*
 * The leases of a page in the server's plain shape as rows of t, read
 * from the text (jansson only for a lease whose strings have escapes):
 * parsing each lease into objects cost most of a table's listing.
 */
static int
page_rows(const struct ctl_args *a, struct ctl_conn *c,
    const struct ctl_page_text *pg, uint64_t *count, struct ctl_table *t)
{
	char buf[1024];
	size_t off = 0, len;
	const char *from;
	struct ctl_lease l;
	json_t *o;
	int rc = 0;

	for (size_t i = 0; i < pg->count && rc == 0; i++, (*count)++) {
		if (a->limit != 0 && *count == a->limit)
			break;
		switch (ctl_reply_lease_next(pg, &off, &l, buf, sizeof buf,
		    &from, &len)) {
		case 0:
			rc = lease_add(&l, t);
			break;
		case 1:
			o = json_loadb(from, len, JSON_REJECT_DUPLICATES, NULL);
			rc = o != NULL ? lease_row(c, o, t) :
			    ctl_client_malformed(c, "a lease is not JSON");
			json_decref(o);
			break;
		default:
			rc = ctl_client_malformed(c, "a lease without an "
			    "\"id\", or with a field of the wrong type");
		}
	}
	return rc == 0 ? ctl_out_table(t) : rc;
}

/* The arguments of list every request carries: the filters (NULL, said,
 * if the label is not UTF-8). */
static json_t *
list_filters(const struct ctl_args *a)
{
	json_t *o = json_object(), *label;

	if (a->older_than_ms != 0)
		json_object_set_new(o, "older_than_ms",
		    json_integer((json_int_t)a->older_than_ms));
	if (a->label != NULL) {
		if ((label = ctl_cmd_arg_string(a->label, "--label")) == NULL) {
			json_decref(o);
			return NULL;
		}
		json_object_set_new(o, "label", label);
	}
	if (a->state != NULL)
		json_object_set_new(o, "state", json_string(a->state));
	return o;
}

/* A site's bytes, estimated where the process gives the estimate. */
static int64_t
site_bytes(json_t *o)
{
	json_t *v = json_object_get(o, "estimated_bytes");

	if (!json_is_integer(v))
		v = json_object_get(o, "bytes");
	return json_is_integer(v) ? (int64_t)json_integer_value(v) : -1;
}

static int
cmp_site(const void *a, const void *b)
{
	int64_t x = site_bytes(*(json_t *const *)a);
	int64_t y = site_bytes(*(json_t *const *)b);

	return x < y ? 1 : x > y ? -1 : 0;
}

/* list --by-site: every site, the most bytes first, at most --limit.
 * Where byte sampling chose leases ("estimated"), the sampled count and
 * bytes and the estimates of all, under headings that say so. */
static int
list_by_site(const struct ctl_args *a, struct ctl_conn *c)
{
	static const struct ctl_col exact[] = {
		{ "COUNT", true, false, false },
		{ "BYTES", true, false, false },
		{ "SITE", false, true, false },
		{ "OBJECT", false, true, true },
	};
	static const struct ctl_col estimated[] = {
		{ "SAMPLED", true, false, false },
		{ "SAMPLED BYTES", true, false, false },
		{ "EST. COUNT", true, false, false },
		{ "EST. BYTES", true, false, false },
		{ "SITE", false, true, false },
		{ "OBJECT", false, true, true },
	};
	struct ctl_reply r;
	struct ctl_table t;
	json_t *req = list_filters(a), *sites = NULL, **v;
	int64_t next = -1;
	char err[256];
	int rc = -1;

	json_object_set_new(req, "by_site", json_true());
	if (ctl_client_request(c, "list", req, &r) != 0)
		return -1;
	if (ctl_reply_page(r.result, "sites", &sites, &next, err,
	    sizeof err) != 0) {
		ctl_client_malformed(c, err);
		ctl_reply_free(&r);
		return -1;
	}
	size_t n = json_array_size(sites);
	bool est = json_is_true(json_object_get(r.result, "estimated"));
	if ((v = calloc(n + 1, sizeof *v)) == NULL ||
	    ctl_fmt_table_init(&t, est ? estimated : exact, est ? 6 : 4) != 0) {
		free(v);
		ctl_out_warn("out of memory");
		ctl_reply_free(&r);
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		v[i] = json_array_get(sites, i);
	qsort(v, n, sizeof *v, cmp_site);
	if (a->limit != 0 && n > a->limit)
		n = (size_t)a->limit;
	if (a->json) {
		json_t *arr = json_array();
		for (size_t i = 0; i < n; i++)
			json_array_append(arr, v[i]);
		json_object_set_new(r.result, "sites", arr);
		ctl_out_json(r.result);
		rc = 0;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		struct ctl_site s;
		char count[CTL_FMT_UNIT], bytes[CTL_FMT_UNIT], where[512];
		char ecount[CTL_FMT_UNIT], ebytes[CTL_FMT_UNIT];
		if (ctl_reply_site(v[i], &s, err, sizeof err) != 0) {
			ctl_client_malformed(c, err);
			goto out;
		}
		const char *row[] = {
			ctl_fmt_count(s.count, count),
			ctl_fmt_size(s.bytes, bytes),
			ctl_fmt_count(s.est_count, ecount),
			ctl_fmt_size(s.est_bytes, ebytes),
			s.known ? ctl_cmd_frame_where(&s.site, where,
			    sizeof where) : "?",
			s.known && s.site.object != NULL ? s.site.object : "?",
		};
		if (!est) {             /* no estimates: the two columns go */
			row[2] = row[4];
			row[3] = row[5];
		}
		if (ctl_fmt_table_add(&t, row) != 0) {
			ctl_out_warn("out of memory");
			goto out;
		}
	}
	rc = ctl_out_table(&t);
out:
	ctl_fmt_table_free(&t);
	free(v);
	ctl_reply_free(&r);
	return rc;
}

/* A whole number of o's, -1 if it has none. */
static int64_t
whole(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	return json_is_integer(v) ? (int64_t)json_integer_value(v) : -1;
}

/* The globs of --skip as a JSON array (NULL, said, if one is not
 * UTF-8). */
static json_t *
skip_globs(const char *list)
{
	json_t *arr = json_array(), *g;
	const char *p = list;

	while (*p != '\0') {
		size_t n = strcspn(p, ",");
		char *w = strndup(p, n);
		if (w == NULL || n == 0) {
			free(w);
		} else if ((g = ctl_cmd_arg_string(w, "--skip")) == NULL) {
			free(w);
			json_decref(arr);
			return NULL;
		} else {
			json_array_append_new(arr, g);
			free(w);
		}
		p += n + (p[n] == ',');
	}
	return arr;
}

/* One stack of list --by-stack: a row, then its frames; with est, the
 * estimates after the sampled count and bytes. */
static int
stack_rows(const struct ctl_conn *c, json_t *s, bool est,
    struct ctl_table *t)
{
	char count[CTL_FMT_UNIT], bytes[CTL_FMT_UNIT], oldest[CTL_FMT_UNIT];
	char ecount[CTL_FMT_UNIT], ebytes[CTL_FMT_UNIT];
	char err[256];
	struct ctl_stack st;

	if (ctl_reply_stack(s, &st, err, sizeof err) != 0)
		return ctl_client_malformed(c, err);
	if (st.stack_id == NULL || st.frames == NULL)
		return ctl_client_malformed(c, "a stack without a \"stack_id\" "
		    "or \"frames\"");
	const char *row[] = {
		ctl_fmt_count(st.count, count), ctl_fmt_size(st.bytes, bytes),
		ctl_fmt_count(st.est_count, ecount),
		ctl_fmt_size(st.est_bytes, ebytes),
		ctl_fmt_duration(st.oldest_ms, oldest), st.stack_id,
	};
	if (!est) {             /* no estimates: the two columns go */
		row[2] = row[4];
		row[3] = row[5];
	}
	if (ctl_fmt_table_add(t, row) != 0) {
		ctl_out_warn("out of memory");
		return -1;
	}
	if (ctl_out_table(t) != 0)
		return -1;
	return ctl_cmd_backtrace(c, st.frames, "    ");
}

/* list --by-stack: the stacks, the most bytes first, each with its
 * frames; then the totals of every lease listed. */
static int
list_by_stack(const struct ctl_args *a, struct ctl_conn *c)
{
	static const struct ctl_col exact[] = {
		{ "COUNT", true, false, false },
		{ "BYTES", true, false, false },
		{ "OLDEST", true, false, false },
		{ "STACK", false, false, false },
	};
	static const struct ctl_col estimated[] = {
		{ "SAMPLED", true, false, false },
		{ "SAMPLED BYTES", true, false, false },
		{ "EST. COUNT", true, false, false },
		{ "EST. BYTES", true, false, false },
		{ "OLDEST", true, false, false },
		{ "STACK", false, false, false },
	};
	char count[CTL_FMT_UNIT], bytes[CTL_FMT_UNIT];
	struct ctl_reply r;
	struct ctl_table t;
	json_t *req = list_filters(a), *skip = NULL, *v;
	size_t i;
	int rc;

	json_object_set_new(req, "by_stack", json_true());
	if (a->depth != 0)
		json_object_set_new(req, "depth", json_integer(
		    (json_int_t)a->depth));
	if (a->skip != NULL) {
		if ((skip = skip_globs(a->skip)) == NULL) {
			json_decref(req);
			return -1;
		}
		json_object_set_new(req, "skip", skip);
	}
	if (a->limit != 0)
		json_object_set_new(req, "limit", json_integer(
		    (json_int_t)a->limit));
	if ((rc = ctl_cmd_ask(c, a, "list", req, &r)) != 0)
		return rc < 0 ? -1 : 0;
	json_t *stacks = json_object_get(r.result, "stacks");
	if (!json_is_array(stacks)) {
		ctl_reply_free(&r);
		return ctl_client_malformed(c, "a listing without \"stacks\"");
	}
	bool est = json_is_true(json_object_get(r.result, "estimated"));
	if (ctl_fmt_table_init(&t, est ? estimated : exact, est ? 6 : 4) != 0) {
		ctl_reply_free(&r);
		ctl_out_warn("out of memory");
		return -1;
	}
	json_array_foreach(stacks, i, v)
		if ((rc = stack_rows(c, v, est, &t)) != 0)
			break;
	if (rc == 0) {
		printf("in all: %s leases, %s", ctl_fmt_count(whole(r.result,
		    "count"), count), ctl_fmt_size(whole(r.result, "bytes"),
		    bytes));
		if (est)
			printf(" sampled; estimated: %s leases, %s",
			    ctl_fmt_count(whole(r.result, "estimated_count"),
			    count), ctl_fmt_size(whole(r.result,
			    "estimated_bytes"), bytes));
		putchar('\n');
	}
	ctl_fmt_table_free(&t);
	ctl_reply_free(&r);
	return rc;
}

/* list --sort: one request, the top N. */
static int
list_sorted(const struct ctl_args *a, struct ctl_conn *c)
{
	struct ctl_reply r;
	struct ctl_table t;
	json_t *req = list_filters(a), *leases = NULL, *v;
	int64_t next = -1;
	char err[256];
	size_t i;
	int rc = 0;

	json_object_set_new(req, "sort", json_string(a->sort == CTL_SORT_AGE ?
	    "age" : "size"));
	json_object_set_new(req, "limit", json_integer(a->limit != 0 ?
	    (json_int_t)a->limit : CTL_TOP_MAX));
	if ((rc = ctl_cmd_ask(c, a, "list", req, &r)) != 0)
		return rc < 0 ? -1 : 0;
	if (ctl_reply_page(r.result, "leases", &leases, &next, err,
	    sizeof err) != 0) {
		ctl_reply_free(&r);
		return ctl_client_malformed(c, err);
	}
	if (ctl_fmt_table_init(&t, lease_cols, NLEASE_COLS) != 0) {
		ctl_reply_free(&r);
		ctl_out_warn("out of memory");
		return -1;
	}
	json_array_foreach(leases, i, v)
		if ((rc = lease_row(c, v, &t)) != 0)
			break;
	if (rc == 0)
		rc = ctl_out_table(&t);
	ctl_fmt_table_free(&t);
	ctl_reply_free(&r);
	return rc;
}

/* The leases of a page's response line, through jansson: rows of t, or
 * with t NULL, JSON each after a comma but the first. */
static int
page_parsed(const struct ctl_args *a, struct ctl_conn *c, int64_t id,
    const char *line, size_t len, uint64_t *count, int64_t *next,
    struct ctl_table *t)
{
	struct ctl_reply r;
	json_t *leases = NULL, *v;
	char err[256];
	size_t i;
	int rc = 0;

	if (ctl_client_reply(c, id, line, len, &r) != 0)
		return -1;
	if (ctl_reply_page(r.result, "leases", &leases, next, err,
	    sizeof err) != 0)
		rc = ctl_client_malformed(c, err);
	json_array_foreach(leases, i, v) {
		if (rc != 0 || (a->limit != 0 && *count == a->limit))
			break;
		if (t != NULL) {
			rc = lease_row(c, v, t);
		} else if (!json_is_object(v)) {
			rc = ctl_client_malformed(c, "a lease is not an "
			    "object");
		} else {
			if (*count != 0)
				putchar(',');
			json_dumpf(v, stdout, CTL_OUT_JSON);
		}
		(*count)++;
	}
	ctl_reply_free(&r);
	return rc == 0 && t != NULL ? ctl_out_table(t) : rc;
}

/*
 * One page of list from the cursor: the leases after what *count had, up
 * to the limit, as rows of t, or with t NULL as JSON.  Both are made from
 * the text of the response when that is in the server's plain shape
 * (ctl_reply_page_text): parsing and writing each lease again costs
 * several times the listing.  Returns 0 with *next (-1: the last page),
 * or -1 (said).
 */
static int
list_page(const struct ctl_args *a, struct ctl_conn *c, int64_t cursor,
    uint64_t *count, int64_t *next, struct ctl_table *t)
{
	struct ctl_page_text pg;
	json_t *req = list_filters(a);
	char *line;
	size_t len, n;
	int64_t id;

	json_object_set_new(req, "cursor", json_integer(cursor));
	if ((id = ctl_client_send(c, "list", req, &line, &len)) < 0)
		return -1;
	if (!ctl_reply_page_text(line, len, "leases", &pg) || pg.id != id)
		return page_parsed(a, c, id, line, len, count, next, t);
	*next = pg.next;
	if (t != NULL)
		return page_rows(a, c, &pg, count, t);
	n = pg.count;
	if (a->limit != 0 && n > a->limit - *count)
		n = a->limit - *count;
	if (n > 0 && *count > 0)
		putchar(',');
	fwrite(pg.items, 1, ctl_reply_page_cut(&pg, n), stdout);
	*count += n;
	return 0;
}

/* list: page after page, each printed as it comes; --json writes one
 * {"leases":[...]} as it goes. */
static int
list_paged(const struct ctl_args *a, struct ctl_conn *c)
{
	struct ctl_table t;
	int64_t cursor = 0, next = -1;
	uint64_t count = 0;
	int rc = 0;

	if (ctl_fmt_table_init(&t, lease_cols, NLEASE_COLS) != 0) {
		ctl_out_warn("out of memory");
		return -1;
	}
	if (a->json)
		fputs("{\"leases\":[", stdout);
	for (;;) {
		rc = list_page(a, c, cursor, &count, &next, a->json ? NULL :
		    &t);
		if (rc == 0 && next >= 0 && next <= cursor)
			rc = ctl_client_malformed(c, "the cursor of \"next\" "
			    "goes back");
		if (rc != 0 || next < 0 || (a->limit != 0 && count == a->limit))
			break;
		cursor = next;
	}
	if (a->json && rc == 0)
		fputs("]}\n", stdout);
	else if (a->json)
		fputs("\n", stdout);    /* what was written stays one line */
	ctl_fmt_table_free(&t);
	return rc;
}

static int
cmd_list_exec(const struct ctl_args *a, struct ctl_conn *c)
{
	json_t *filters = list_filters(a);

	/* checked once: each request below makes its own */
	if (filters == NULL)
		return -1;
	json_decref(filters);
	if (a->by_site)
		return list_by_site(a, c);
	if (a->by_stack)
		return list_by_stack(a, c);
	if (a->sort != CTL_SORT_NONE)
		return list_sorted(a, c);
	return list_paged(a, c);
}

const struct ctl_cmd_entry ctl_cmd_list_entry = {
	.cmd = CTL_CMD_LIST,
	.name = "list",
	.args = "[--older-than D] [--label L] [--state S] [--sort age|size]\n"
	    "         [--limit N] [--by-site | --by-stack [--depth N] "
	    "[--skip GLOBS]]",
	.summary = "live leases, or their bytes per allocation site or stack",
	.options =
	    "  --older-than D   leases at least D old (250ms, 30s, 5m, 1h, "
	    "2d)\n"
	    "  --label L        leases labelled L ('' for those without)\n"
	    "  --state S        live, pinned, overdue or released\n"
	    "  --sort age|size  the oldest or the largest first (the top "
	    "10000,\n"
	    "                   or the top N with --limit)\n"
	    "  --limit N        at most N leases (sorted: 1 to 10000)\n"
	    "  --by-site        count and bytes per allocation site\n"
	    "  --by-stack       count, bytes and oldest age per stack, the "
	    "stack's\n"
	    "                   frames below (--limit: the N largest stacks)\n"
	    "  --depth N        --by-stack: group by the first N frames (0: "
	    "all)\n"
	    "  --skip GLOBS     --by-stack: drop allocation wrappers matching "
	    "these\n"
	    "                   comma-separated globs from the top of stacks\n",
	.more = NULL,
	.min_pos = 0,
	.max_pos = 0,
	.all = false,
	.exec = cmd_list_exec,
};
