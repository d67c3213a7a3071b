/*
 * conf.c - the preload's configuration from files and the environment
 * beyond single values (see conf.h): the rules of MEMLEASE_RULES and of
 * the file MEMLEASE_CONFIG names, and LD_PRELOAD without memlease
 * (MEMLEASE_INHERIT=off).
 *
 * Runs at the preload's start, with the recursion guard held; no lock.
 * Never: fail the program: a bad configuration is said on one line, and
 * nothing is tagged.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "mem.h"
#include "options.h"
#include "report.h"

#define CONFIG_MAX   (1 << 20)       /* memlease(7): MEMLEASE_CONFIG */

/*
 * The contents of a file, NUL-terminated, from the next allocator; NULL
 * with *why set if it cannot be read.  Only a regular file of at most
 * CONFIG_MAX bytes: this runs before main(), where nothing may wait (a
 * FIFO's open waits for a writer, a terminal's read for a line, /dev/zero
 * never ends), hence O_NONBLOCK, and the type checked on what was opened.
 */
static char *
slurp(const char *path, const char **why)
{
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	struct stat st;
	size_t len = 0, size;
	char *text = NULL;

	*why = NULL;
	if (fd < 0) {
		*why = strerror(errno);
		return NULL;
	}
	if (fstat(fd, &st) != 0)
		*why = strerror(errno);
	else if (!S_ISREG(st.st_mode))
		*why = "not a regular file";
	else if (st.st_size > CONFIG_MAX)
		*why = "larger than 1 MiB";
	else if ((text = ml_mem_malloc((size = (size_t)st.st_size) + 1)) ==
	    NULL)
		*why = "out of memory";
	while (text != NULL && len < size) {
		ssize_t n = read(fd, text + len, size - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {   /* an error, or the file shrank: read again */
			*why = n < 0 ? strerror(errno) : "changed as it was read";
			ml_mem_free(text);
			text = NULL;
			break;
		}
		len += (size_t)n;
	}
	close(fd);
	if (text != NULL && memchr(text, '\0', len) != NULL) {
		*why = "holds a NUL byte";
		ml_mem_free(text);
		text = NULL;
	}
	if (text != NULL)
		text[len] = '\0';
	return text;
}

/* Parse one source of rules; report an error on one line. */
static bool
parse_source(const char *what, const char *text, struct ml_rules *out)
{
	struct ml_rules_error err;

	if (ml_rules_parse(text, out, &err) == 0)
		return true;
	ml_report_diag("%s:%d:%d: %s; nothing is tagged", what, err.line,
	    err.column, err.msg);
	return false;
}

bool
ml_conf_rules(struct ml_rules *out)
{
	const char *env = ml_options_str(ML_OPT_RULES);
	const char *path = ml_options_str(ML_OPT_CONFIG);
	struct ml_rules a = { NULL, 0 }, b = { NULL, 0 };
	char *text = NULL;

	if (env != NULL && !parse_source("MEMLEASE_RULES", env, &a))
		return false;
	if (path != NULL) {
		const char *why;
		if ((text = slurp(path, &why)) == NULL) {
			ml_report_diag("MEMLEASE_CONFIG=%s: %s; nothing is "
			    "tagged", path, why);
			ml_rules_free(&a);
			return false;
		}
		bool ok = parse_source(path, text, &b);
		ml_mem_free(text);
		if (!ok) {
			ml_rules_free(&a);
			return false;
		}
	}
	if (a.n + b.n > ML_RULES_MAX) {
		ml_report_diag("MEMLEASE_RULES and MEMLEASE_CONFIG: more than "
		    "%d rules; nothing is tagged", ML_RULES_MAX);
		ml_rules_free(&a);
		ml_rules_free(&b);
		return false;
	}
	out->n = a.n + b.n;
	out->v = out->n ? ml_mem_malloc(out->n * sizeof *out->v) : NULL;
	if (out->n != 0 && out->v == NULL) {
		ml_report_diag("out of memory reading the rules; nothing is "
		    "tagged");
		ml_rules_free(&a);
		ml_rules_free(&b);
		return false;
	}
	if (a.n)
		memcpy(out->v, a.v, a.n * sizeof *a.v);
	if (b.n)
		memcpy(out->v + a.n, b.v, b.n * sizeof *b.v);
	ml_mem_free(a.v);       /* the strings now belong to out */
	ml_mem_free(b.v);
	return true;
}

void
ml_conf_uninherit(void)
{
	const char *pre = getenv("LD_PRELOAD");
	char *keep, *w, *save = NULL;
	size_t used = 0;

	if (pre == NULL || (keep = ml_mem_malloc(strlen(pre) + 1)) == NULL)
		return;
	char *copy = ml_mem_strdup(pre);
	if (copy == NULL) {
		ml_mem_free(keep);
		return;
	}
	for (w = strtok_r(copy, " :", &save); w != NULL;
	    w = strtok_r(NULL, " :", &save)) {
		const char *base = strrchr(w, '/');
		base = base != NULL ? base + 1 : w;
		if (strncmp(base, "libmemlease.so", 14) == 0)
			continue;
		used += (size_t)sprintf(keep + used, "%s%s", used ? " " : "",
		    w);
	}
	if (used == 0)
		unsetenv("LD_PRELOAD");
	else
		setenv("LD_PRELOAD", keep, 1);
	ml_mem_free(copy);
	ml_mem_free(keep);
}
