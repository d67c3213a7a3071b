/*
 * replay.c - a fuzz target without libFuzzer: each file named, and each
 * file of each folder named (in name order), is given to the target once.
 * make check runs it over the seed corpora, so that the seeds (crash
 * regressions among them) are replayed on every build, gcc's and the
 * sanitizers' too.  Exits 0, 1 if a file cannot be read; a failing input
 * aborts (its name is on stderr first).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

/* Feed one file; -1 if it cannot be read. */
static int
replay(const char *path)
{
	FILE *f = fopen(path, "rb");
	struct stat st;

	if (f == NULL || fstat(fileno(f), &st) != 0) {
		perror(path);
		if (f != NULL)
			fclose(f);
		return -1;
	}
	/* exactly its size, so that a sanitizer sees any read past it */
	size_t n = (size_t)st.st_size;
	uint8_t *buf = malloc(n > 0 ? n : 1);
	if (buf == NULL || fread(buf, 1, n, f) != n) {
		perror(path);
		free(buf);
		fclose(f);
		return -1;
	}
	fclose(f);
	fprintf(stderr, "replay: %s\n", path);
	LLVMFuzzerTestOneInput(buf, n);
	free(buf);
	return 0;
}

static int
is_file(const struct dirent *de)
{
	return de->d_name[0] != '.';
}

int
main(int argc, char **argv)
{
	int status = 0, count = 0;
	struct stat st;

	LLVMFuzzerInitialize(&argc, &argv);
	for (int i = 1; i < argc; i++) {
		struct dirent **names;
		if (stat(argv[i], &st) != 0 || !S_ISDIR(st.st_mode)) {
			status |= replay(argv[i]) != 0;
			count++;
			continue;
		}
		int n = scandir(argv[i], &names, is_file, alphasort);
		if (n < 0) {
			perror(argv[i]);
			status = 1;
			continue;
		}
		for (int k = 0; k < n; k++) {
			char *path;
			if (asprintf(&path, "%s/%s", argv[i], names[k]->d_name) < 0)
				abort();
			status |= replay(path) != 0;
			count++;
			free(path);
			free(names[k]);
		}
		free(names);
	}
	fprintf(stderr, "replay: %d inputs\n", count);
	return status;
}
