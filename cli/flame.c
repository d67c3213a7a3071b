/*
 * flame.c - stacks as a flame graph, one SVG document, or as folded lines
 * (see ctl.h).
 *
 * Pure: writes to the FILE given and keeps nothing between calls.  The SVG
 * is self-contained: its style and its script are inline, it names no
 * other file and no network address, so that it opens as it is in a
 * browser, from a mail or from a CI job's artifacts.  Every name in it is
 * made clean (ctl_fmt_clean) and escaped for XML.
 *
 * The graph is the tree of the stacks' frames merged from the outermost
 * (main) up, as flamegraph.pl draws it: a frame's width is its bytes, the
 * children of a frame are sorted by name, and a frame narrower than
 * MIN_WIDTH pixels is left out, with its children, narrower still.  Its
 * colour is a hash of its name, so that a function has the same colour in
 * every graph; frames without a name are blue-grey.  The script zooms on
 * a frame clicked (and on "#zoom=ID" in the address, which is how
 * tests/flame.sh tries it in a browser), goes back with "Reset zoom" or a
 * click on the root, and says below the graph what the frame under the
 * pointer holds.
 *
 * Under byte sampling (sample=) the leases listed are a sample: each
 * stack is weighed by its estimates, what its sampled leases stand for,
 * and the graph says so (a subtitle, "est." in every frame's title), so
 * that its figures are never read as counted ones.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

#define WIDTH     1200          /* of the picture, in pixels */
#define PAD       10            /* left and right of the graph */
#define GRAPH_W   (WIDTH - 2 * PAD)
#define ROW       16            /* a frame's height, and the gap above */
#define TOP       40            /* the title */
#define SUBTITLE  16            /* more, for the estimates' subtitle */
#define BOTTOM    30            /* the details line */
#define CHAR_W    7.3           /* a character of 12px monospace */
#define MIN_WIDTH 0.1           /* pixels: narrower frames are left out */
#define MAX_FRAMES 1024         /* of a stack; deeper ones are left out */

/* A frame of the graph: a name on a path from the root. */
struct node {
	char    *name;              /* clean, from malloc */
	char    *object;            /* basename, clean (NULL: none) */
	bool     named;             /* by a function, not OBJECT+0xOFFSET */
	bool     inlined;           /* inlined into its caller, somewhere */
	int64_t  bytes, count;
	size_t   first, next;       /* children, siblings; 0: none */
	size_t   last;              /* the last child, to append */
	int      depth;
	int64_t  start;             /* bytes before it on its row */
};

struct tree {
	struct node *v;             /* v[0] is the root */
	size_t       n, cap;
	json_t      *index;         /* "PARENT\x1fNAME\x1fOBJECT": node */
	int          depth;         /* of the deepest node */
	int64_t      stacks;
	bool         estimated;     /* weighed by the estimates */
	int64_t      listed;        /* the leases listed (count) */
};

static const char *const start_frames[] = {
	"_start", "__libc_start_main", "__libc_start_main_impl",
	"__libc_start_call_main",
};

static const char *
base_name(const char *path)
{
	const char *b = strrchr(path, '/');

	return b != NULL && b[1] != '\0' ? b + 1 : path;
}

const char *
ctl_flame_name(const struct ctl_frame *fr, char *buf, size_t n)
{
	const char *obj = fr->object != NULL ? base_name(fr->object) : "?";

	if (fr->function != NULL && fr->function[0] != '\0')
		snprintf(buf, n, "%s", fr->function);
	else if (fr->object_offset >= 0)
		snprintf(buf, n, "%s+%#" PRIx64, obj,
		    (uint64_t)fr->object_offset);
	else if (fr->ip != NULL)
		snprintf(buf, n, "%s@%s", obj, fr->ip);
	else
		snprintf(buf, n, "%s", obj);
	return buf;
}

/* A start-up frame of the C library: left out at the outer end. */
static bool
is_start_frame(const struct ctl_frame *fr)
{
	for (size_t i = 0; i < sizeof start_frames / sizeof *start_frames; i++)
		if (fr->function != NULL &&
		    strcmp(fr->function, start_frames[i]) == 0)
			return true;
	return false;
}

/*
 * The frames of a stack to draw, outermost first, into fr[] (at most
 * MAX_FRAMES): their count.  The stack was checked (ctl_reply_stack).
 */
static size_t
stack_frames(json_t *frames, struct ctl_frame *fr)
{
	size_t n = json_array_size(frames), k = 0;
	char err[8];

	while (n > 0) {         /* the start-up frames, outermost */
		if (ctl_reply_frame(json_array_get(frames, n - 1), &fr[0], err,
		    sizeof err) != 0 || !is_start_frame(&fr[0]))
			break;
		n--;
	}
	while (n > 0 && k < MAX_FRAMES)
		ctl_reply_frame(json_array_get(frames, --n), &fr[k++], err,
		    sizeof err);
	return k;
}

static int
tree_node(struct tree *t, size_t parent, const char *name, const char *obj,
    bool named, size_t *out)
{
	char *key = NULL;
	json_t *v;

	if (asprintf(&key, "%zu\x1f%s\x1f%s", parent, name, obj != NULL ?
	    obj : "") < 0)
		return -1;
	if ((v = json_object_get(t->index, key)) != NULL) {
		*out = (size_t)json_integer_value(v);
		free(key);
		return 0;
	}
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 256;
		struct node *m = realloc(t->v, cap * sizeof *m);
		if (m == NULL)
			goto fail;
		t->v = m;
		t->cap = cap;
	}
	struct node *nd = &t->v[t->n];
	memset(nd, 0, sizeof *nd);
	nd->name = ctl_fmt_clean(name);
	nd->object = obj != NULL ? ctl_fmt_clean(obj) : NULL;
	nd->named = named;
	if (nd->name == NULL || (obj != NULL && nd->object == NULL) ||
	    json_object_set_new_nocheck(t->index, key,
	    json_integer((json_int_t)t->n)) != 0) {
		free(nd->name);
		free(nd->object);
		goto fail;
	}
	free(key);
	if (t->n > 0) {         /* a child of parent, appended */
		struct node *p = &t->v[parent];
		nd->depth = p->depth + 1;
		if (p->last != 0)
			t->v[p->last].next = t->n;
		else
			p->first = t->n;
		p->last = t->n;
		if (nd->depth > t->depth)
			t->depth = nd->depth;
	}
	*out = t->n++;
	return 0;
fail:
	free(key);
	errno = ENOMEM;
	return -1;
}

static void
tree_free(struct tree *t)
{
	for (size_t i = 0; i < t->n; i++) {
		free(t->v[i].name);
		free(t->v[i].object);
	}
	free(t->v);
	json_decref(t->index);
	memset(t, 0, sizeof *t);
}

/* The bytes and leases stack s weighs: its own, or estimated, its
 * estimates where it has them; never below 0. */
static void
stack_weight(const struct ctl_stack *s, bool estimated, int64_t *bytes,
    int64_t *count)
{
	int64_t b = estimated && s->est_bytes >= 0 ? s->est_bytes : s->bytes;
	int64_t c = estimated && s->est_count >= 0 ? s->est_count : s->count;

	*bytes = b > 0 ? b : 0;
	*count = c > 0 ? c : 0;
}

/* Check every stack: 0, or -1 with err. */
static int
check_stacks(json_t *stacks, bool estimated, char *err, size_t errlen)
{
	struct ctl_stack s;
	json_t *v;
	size_t i;

	int64_t bytes = 0, count = 0, b, c;

	if (!json_is_array(stacks)) {
		snprintf(err, errlen, "\"stacks\" is not a list");
		return -1;
	}
	json_array_foreach(stacks, i, v) {
		if (ctl_reply_stack(v, &s, err, errlen) != 0)
			return -1;
		/* summed in the root frame */
		stack_weight(&s, estimated, &b, &c);
		if (b > INT64_MAX - bytes || c > INT64_MAX - count) {
			snprintf(err, errlen, "stacks whose bytes or counts add "
			    "up past 2^63");
			return -1;
		}
		bytes += b;
		count += c;
	}
	return 0;
}

/* The tree of the stacks, checked: 0, or -1 (err, or errno). */
static int
tree_build(struct tree *t, json_t *stacks, bool estimated, char *err,
    size_t errlen)
{
	struct ctl_frame *fr = calloc(MAX_FRAMES, sizeof *fr);
	struct ctl_stack s;
	char name[1024];
	json_t *v;
	size_t i, at;

	memset(t, 0, sizeof *t);
	t->estimated = estimated;
	if (fr == NULL || (t->index = json_object()) == NULL ||
	    tree_node(t, 0, "all", NULL, true, &at) != 0) {
		free(fr);
		tree_free(t);
		errno = ENOMEM;
		return -1;
	}
	json_array_foreach(stacks, i, v) {
		ctl_reply_stack(v, &s, err, errlen);
		int64_t bytes, count;
		stack_weight(&s, estimated, &bytes, &count);
		size_t n = stack_frames(s.frames, fr);
		t->stacks++;
		t->listed += s.count > 0 ? s.count : 0;
		t->v[0].bytes += bytes;
		t->v[0].count += count;
		at = 0;
		for (size_t k = 0; k < (n > 0 ? n : 1); k++) {
			const char *obj = n > 0 && fr[k].object != NULL ?
			    base_name(fr[k].object) : NULL;
			bool named = n == 0 || (fr[k].function != NULL &&
			    fr[k].function[0] != '\0');
			if (tree_node(t, at, n > 0 ? ctl_flame_name(&fr[k],
			    name, sizeof name) : "[no backtrace]", obj, named,
			    &at) != 0) {
				free(fr);
				tree_free(t);
				return -1;
			}
			t->v[at].bytes += bytes;
			t->v[at].count += count;
			t->v[at].inlined |= n > 0 && fr[k].inlined;
		}
	}
	free(fr);
	return 0;
}

/* By name: qsort_r's comparison of two nodes of tree t. */
static int
cmp_node(const void *a, const void *b, void *t)
{
	const struct node *v = ((const struct tree *)t)->v;

	return strcmp(v[*(const size_t *)a].name, v[*(const size_t *)b].name);
}

/*
 * Each node's start: its children sorted by name, side by side from their
 * parent's start.  Breadth by breadth, so that no recursion follows a
 * stack's depth: a node's parent comes before it in the array.
 */
static int
tree_layout(struct tree *t)
{
	size_t *kids = malloc(t->n * sizeof *kids);

	if (kids == NULL)
		return -1;
	for (size_t p = 0; p < t->n; p++) {
		size_t nk = 0;
		for (size_t c = t->v[p].first; c != 0; c = t->v[c].next)
			kids[nk++] = c;
		qsort_r(kids, nk, sizeof *kids, cmp_node, t);
		int64_t at = t->v[p].start;
		for (size_t k = 0; k < nk; k++) {
			t->v[kids[k]].start = at;
			at += t->v[kids[k]].bytes;
		}
	}
	free(kids);
	return 0;
}

/* s, clean, with XML's special characters escaped (and U+FFFE, U+FFFF,
 * which XML does not allow, as '?'). */
static void
put_xml(FILE *f, const char *s)
{
	for (; *s != '\0'; s++) {
		switch (*s) {
		case '&':
			fputs("&amp;", f);
			break;
		case '<':
			fputs("&lt;", f);
			break;
		case '>':
			fputs("&gt;", f);
			break;
		case '"':
			fputs("&quot;", f);
			break;
		case '\'':
			fputs("&apos;", f);
			break;
		default:
			if ((unsigned char)s[0] == 0xef &&
			    (unsigned char)s[1] == 0xbf &&
			    ((unsigned char)s[2] & 0xfe) == 0xbe) {
				putc('?', f);
				s += 2;
			} else {
				putc(*s, f);
			}
		}
	}
}

/* The name cut to fit w pixels ("" if not 3 characters fit), escaped. */
static void
put_fit(FILE *f, const char *name, double w)
{
	double room = (w - 6) / CHAR_W;
	size_t fits = room > 0 ? (size_t)room : 0, chars = 0;
	char *cut;

	if (fits < 3)
		return;
	for (const char *p = name; *p != '\0'; p++)
		chars += ((unsigned char)*p & 0xc0) != 0x80;
	if (chars <= fits) {
		put_xml(f, name);
		return;
	}
	if ((cut = strdup(name)) == NULL)
		return;
	size_t keep = fits - 2, i = 0;
	for (chars = 0; cut[i] != '\0'; i++)
		if (((unsigned char)cut[i] & 0xc0) != 0x80 && chars++ == keep)
			break;
	cut[i] = '\0';
	put_xml(f, cut);
	fputs("..", f);
	free(cut);
}

/* A colour a name: warm for functions, blue-grey for frames that have
 * none. */
static void
put_colour(FILE *f, const struct node *nd, bool root)
{
	uint32_t h = 2166136261u;       /* FNV-1a */

	if (root) {
		fputs("rgb(200,200,200)", f);
		return;
	}
	for (const char *p = nd->name; *p != '\0'; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	unsigned a = h & 0xff, b = (h >> 8) & 0xff, c = (h >> 16) & 0xff;
	if (nd->named)
		fprintf(f, "rgb(%u,%u,%u)", 205 + a * 50 / 255,
		    b * 230 / 255, c * 55 / 255);
	else
		fprintf(f, "rgb(%u,%u,%u)", 150 + a * 40 / 255,
		    170 + a * 40 / 255, 200 + b * 40 / 255);
}

static const char svg_style[] =
    "text { font-family: monospace; font-size: 12px; fill: #000; }\n"
    "g.f text { pointer-events: none; }\n"
    "g.f { cursor: pointer; }\n"
    "g.f:hover rect { stroke: #000; stroke-width: 0.5; }\n"
    "g.under rect { opacity: 0.5; }\n"
    "#title { font-size: 16px; text-anchor: middle; }\n"
    "#subtitle { text-anchor: middle; fill: #555; }\n"
    "#reset { fill: #0645ad; cursor: pointer; }\n";

/* The script: no "]]>" in it (it is in a CDATA section). */
static const char svg_script[] =
    "(function () {\n"
    "\"use strict\";\n"
    "var W = %d, X = %d, CW = %.1f;\n"
    "var all = Array.prototype.slice.call(document.querySelectorAll("
    "\"g.f\"));\n"
    "var root = document.getElementById(\"f0\");\n"
    "var details = document.getElementById(\"details\");\n"
    "var reset = document.getElementById(\"reset\");\n"
    "function num(g, k) { return Number(g.getAttribute(\"data-\" + k)); }\n"
    "function said(g) { return g.querySelector(\"title\").textContent; }\n"
    "function fit(s, w) {\n"
    "  var c = Math.floor((w - 6) / CW), a = Array.from(s);\n"
    "  if (c < 3) return \"\";\n"
    "  return a.length <= c ? s : a.slice(0, c - 2).join(\"\") + \"..\";\n"
    "}\n"
    "function zoom(z) {\n"
    "  var d = num(z, \"d\"), s = num(z, \"s\"), b = num(z, \"b\");\n"
    "  var k = b > 0 ? W / b : 0;\n"
    "  all.forEach(function (g) {\n"
    "    var gd = num(g, \"d\"), gs = num(g, \"s\"), gb = num(g, \"b\");\n"
    "    var r = g.querySelector(\"rect\"), t = g.querySelector(\"text\");\n"
    "    var inside = gd >= d && gs >= s && gs + gb <= s + b;\n"
    "    var under = gd < d && gs <= s && gs + gb >= s + b;\n"
    "    if (!inside && !under) {\n"
    "      g.setAttribute(\"display\", \"none\");\n"
    "      return;\n"
    "    }\n"
    "    g.removeAttribute(\"display\");\n"
    "    var x = inside ? X + (gs - s) * k : X, w = inside ? gb * k : W;\n"
    "    r.setAttribute(\"x\", x.toFixed(1));\n"
    "    r.setAttribute(\"width\", w.toFixed(1));\n"
    "    t.setAttribute(\"x\", (x + 3).toFixed(1));\n"
    "    t.textContent = fit(said(g).split(\"\\n\")[0], w);\n"
    "    g.classList.toggle(\"under\", under);\n"
    "  });\n"
    "  reset.setAttribute(\"display\", z === root ? \"none\" : \"inline\");\n"
    "  document.documentElement.setAttribute(\"data-zoom\", z.id);\n"
    "}\n"
    "function show(g) {\n"
    "  details.textContent = said(g).replace(/\\n/g, \": \");\n"
    "}\n"
    "var svg = document.documentElement;\n"
    "svg.addEventListener(\"click\", function (e) {\n"
    "  var g = e.target.closest(\"g.f\");\n"
    "  if (g) zoom(g); else if (e.target === reset) zoom(root);\n"
    "});\n"
    "svg.addEventListener(\"mouseover\", function (e) {\n"
    "  var g = e.target.closest(\"g.f\");\n"
    "  show(g || root);\n"
    "});\n"
    "show(root);\n"
    "var m = /^#zoom=(f[0-9]+)$/.exec(location.hash);\n"
    "var z = m ? document.getElementById(m[1]) : null;\n"
    "if (z) zoom(z);\n"
    "})();\n";

/* A frame's title: its name, then what it holds (and its object);
 * estimates marked "est.". */
static void
put_title(FILE *f, const struct tree *t, const struct node *nd)
{
	char size[CTL_FMT_UNIT];
	int64_t total = t->v[0].bytes;
	const char *est = t->estimated ? "est. " : "";

	put_xml(f, nd->name);
	fprintf(f, "\n%s%s, %" PRId64 " bytes (%.2f%%), %s%" PRId64 " lease%s",
	    est, ctl_fmt_size(nd->bytes, size), nd->bytes, total > 0 ?
	    100.0 * (double)nd->bytes / (double)total : 100.0, est, nd->count,
	    nd->count == 1 ? "" : "s");
	if (nd == &t->v[0])
		fprintf(f, ", %" PRId64 " stack%s", t->stacks,
		    t->stacks == 1 ? "" : "s");
	if (nd->object != NULL && nd->named) {
		fputs(", in ", f);
		put_xml(f, nd->object);
	}
	if (nd->inlined)
		fputs(", inlined", f);
}

static void
put_svg(FILE *f, const struct tree *t, const char *title)
{
	int top = TOP + (t->estimated ? SUBTITLE : 0);
	int height = top + (t->depth + 1) * ROW + BOTTOM;
	int64_t total = t->v[0].bytes;

	fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\" "
	    "standalone=\"no\"?>\n"
	    "<svg version=\"1.1\" xmlns=\"http://www.w3.org/2000/svg\" "
	    "width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\">\n"
	    "<style type=\"text/css\"><![CDATA[\n%s]]></style>\n"
	    "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" "
	    "fill=\"#fdfdf6\"/>\n"
	    "<text id=\"title\" x=\"%d\" y=\"24\">", WIDTH, height, WIDTH,
	    height, svg_style, WIDTH, height, WIDTH / 2);
	put_xml(f, title != NULL ? title : "");
	fputs("</text>\n", f);
	if (t->estimated)
		fprintf(f, "<text id=\"subtitle\" x=\"%d\" y=\"44\">estimated "
		    "bytes and leases: of the %" PRId64 " lease%s listed, "
		    "those byte sampling (sample=) chose weigh what they "
		    "stand for</text>\n", WIDTH / 2, t->listed,
		    t->listed == 1 ? "" : "s");
	fprintf(f, "<text id=\"reset\" x=\"%d\" y=\"24\" "
	    "display=\"none\">Reset zoom</text>\n"
	    "<text id=\"details\" x=\"%d\" y=\"%d\"> </text>\n"
	    "<g id=\"frames\">\n", PAD, PAD, height - 10);
	for (size_t i = 0; i < t->n; i++) {
		const struct node *nd = &t->v[i];
		double x = PAD + (total > 0 ? (double)nd->start * GRAPH_W /
		    (double)total : 0);
		double w = total > 0 ? (double)nd->bytes * GRAPH_W /
		    (double)total : i == 0 ? GRAPH_W : 0;
		int y = height - BOTTOM - (nd->depth + 1) * ROW;
		if (w < MIN_WIDTH)
			continue;
		fprintf(f, "<g class=\"f\" id=\"f%zu\" data-d=\"%d\" "
		    "data-s=\"%" PRId64 "\" data-b=\"%" PRId64 "\" "
		    "data-n=\"%" PRId64 "\"><title>", i, nd->depth, nd->start,
		    nd->bytes, nd->count);
		put_title(f, t, nd);
		fprintf(f, "</title><rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" "
		    "height=\"%d\" rx=\"2\" fill=\"", x, y, w, ROW - 1);
		put_colour(f, nd, i == 0);
		fprintf(f, "\"/><text x=\"%.1f\" y=\"%d\">", x + 3, y + 11);
		put_fit(f, nd->name, w);
		fputs("</text></g>\n", f);
	}
	/* last, so that what it looks for is there when it runs */
	fputs("</g>\n<script type=\"text/ecmascript\"><![CDATA[\n", f);
	fprintf(f, svg_script, GRAPH_W, PAD, CHAR_W);
	fputs("]]></script>\n</svg>\n", f);
}

int
ctl_flame_svg(FILE *f, json_t *stacks, const char *title, bool estimated,
    char *err, size_t errlen)
{
	struct tree t;
	char *clean;

	if (check_stacks(stacks, estimated, err, errlen) != 0)
		return -1;
	if (tree_build(&t, stacks, estimated, err, errlen) != 0)
		return -1;
	if (tree_layout(&t) != 0 || (clean = ctl_fmt_clean(title != NULL ?
	    title : "")) == NULL) {
		tree_free(&t);
		errno = ENOMEM;
		return -1;
	}
	put_svg(f, &t, clean);
	free(clean);
	tree_free(&t);
	return 0;
}

/* A name of a folded line: clean, no ';' (it parts the frames). */
static int
put_folded_name(FILE *f, const char *name)
{
	char *c = ctl_fmt_clean(name);

	if (c == NULL)
		return -1;
	for (char *p = c; *p != '\0'; p++)
		if (*p == ';')
			*p = ':';
	fputs(c, f);
	free(c);
	return 0;
}

int
ctl_flame_folded(FILE *f, json_t *stacks, bool estimated, char *err,
    size_t errlen)
{
	struct ctl_frame *fr;
	struct ctl_stack s;
	char name[1024];
	int64_t bytes, count;
	json_t *v;
	size_t i;

	if (check_stacks(stacks, estimated, err, errlen) != 0)
		return -1;
	if ((fr = calloc(MAX_FRAMES, sizeof *fr)) == NULL)
		return -1;
	json_array_foreach(stacks, i, v) {
		ctl_reply_stack(v, &s, err, errlen);
		size_t n = stack_frames(s.frames, fr);
		if (n == 0)
			fputs("[no backtrace]", f);
		for (size_t k = 0; k < n; k++) {
			if (k > 0)
				putc(';', f);
			if (put_folded_name(f, ctl_flame_name(&fr[k], name,
			    sizeof name)) != 0) {
				free(fr);
				errno = ENOMEM;
				return -1;
			}
		}
		stack_weight(&s, estimated, &bytes, &count);
		fprintf(f, " %" PRId64 "\n", bytes);
	}
	free(fr);
	return 0;
}
