/*
 * mem.c - memlease's own memory (see mem.h).
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>

#include "mem.h"

char *
ml_mem_strdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *p = ml_mem_malloc(n);

	if (p != NULL)
		memcpy(p, s, n);
	return p;
}

int
ml_mem_asprintf(char **out, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	*out = n < 0 ? NULL : ml_mem_malloc((size_t)n + 1);
	if (*out == NULL)
		return -1;
	va_start(ap, fmt);
	vsnprintf(*out, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return n;
}
