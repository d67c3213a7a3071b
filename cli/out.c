/*
 * out.c - what memleasectl writes: its messages on stderr, after what
 * standard output holds; text from a process made safe; JSON and tables
 * on standard output; files of -o, replaced whole.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctl.h"

void
ctl_out_warn(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs("memleasectl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

char *
ctl_out_clean(const char *s)
{
	char *c = ctl_fmt_clean(s);

	if (c == NULL) {
		ctl_out_warn("out of memory");
		exit(CTL_EXIT_FAIL);
	}
	return c;
}

void
ctl_out_json(json_t *o)
{
	json_dumpf(o, stdout, CTL_OUT_JSON);
	putchar('\n');
}

int
ctl_out_table(struct ctl_table *t)
{
	if (ctl_fmt_table_print(t, stdout, ctl_fmt_term_width(STDOUT_FILENO))
	    != 0) {
		ctl_out_warn("out of memory, or standard output failed");
		return -1;
	}
	return 0;
}

/* The folder of path, in a string from malloc ("." for a bare name). */
static char *
folder_of(const char *path)
{
	char *copy = strdup(path), *dir;

	if (copy == NULL)
		return NULL;
	dir = strdup(dirname(copy));
	free(copy);
	return dir;
}

int
ctl_out_file_open(struct ctl_out_file *o, const char *what, const char *path)
{
	char *copy = strdup(path), *dir = folder_of(path);
	struct stat st;
	int fd = -1;

	memset(o, 0, sizeof *o);
	o->what = what;
	o->path = path;
	if (copy == NULL || dir == NULL ||
	    asprintf(&o->tmp, "%s/.%s.XXXXXX", dir, basename(copy)) < 0) {
		o->tmp = NULL;
		ctl_out_warn("out of memory");
		goto fail;
	}
	/* said now rather than after every process was asked */
	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
		ctl_out_warn("%s: %s: %s", what, path, strerror(EISDIR));
		goto fail;
	}
	if ((fd = mkostemp(o->tmp, O_CLOEXEC)) < 0) {
		ctl_out_warn("%s: %s: cannot make a file in %s: %s", what,
		    path, dir, strerror(errno));
		goto fail;
	}
	if ((o->f = fdopen(fd, "w")) == NULL) {
		ctl_out_warn("%s: %s: %s", what, o->tmp, strerror(errno));
		close(fd);
		unlink(o->tmp);
		goto fail;
	}
	free(copy);
	free(dir);
	return 0;
fail:
	free(copy);
	free(dir);
	free(o->tmp);
	o->tmp = NULL;
	return -1;
}

int
ctl_out_file_commit(struct ctl_out_file *o)
{
	mode_t mask = umask(0);
	char *dir;
	int fd;

	umask(mask);
	errno = 0;
	/* mkstemp made it 0600; a file made anew is 0666 less the umask,
	 * readable by node_exporter's user under the usual 022 */
	if (fflush(o->f) != 0 || ferror(o->f) ||
	    fchmod(fileno(o->f), 0666 & ~mask) != 0 ||
	    fsync(fileno(o->f)) != 0) {
		ctl_out_warn("%s: writing %s: %s", o->what, o->tmp,
		    strerror(errno != 0 ? errno : EIO));
		ctl_out_file_abort(o);
		return -1;
	}
	if (fclose(o->f) != 0) {
		o->f = NULL;
		ctl_out_warn("%s: writing %s: %s", o->what, o->tmp,
		    strerror(errno));
		ctl_out_file_abort(o);
		return -1;
	}
	o->f = NULL;
	if (rename(o->tmp, o->path) != 0) {
		ctl_out_warn("%s: %s: %s", o->what, o->path, strerror(errno));
		ctl_out_file_abort(o);
		return -1;
	}
	/* the rename made durable too; the file is in place whatever this
	 * says, so a failure here is not one of the command's */
	if ((dir = folder_of(o->path)) != NULL &&
	    (fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		fsync(fd);
		close(fd);
	}
	free(dir);
	free(o->tmp);
	o->tmp = NULL;
	return 0;
}

void
ctl_out_file_abort(struct ctl_out_file *o)
{
	if (o->f != NULL)
		fclose(o->f);
	o->f = NULL;
	if (o->tmp != NULL)
		unlink(o->tmp);
	free(o->tmp);
	o->tmp = NULL;
}
