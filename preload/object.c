/*
 * object.c - which loaded object holds an address (see object.h).
 */
#define _GNU_SOURCE
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include <dlfcn.h>
#include <stddef.h>

#include "object.h"

const struct link_map *
ml_object_of(const void *p)
{
	struct link_map *map = NULL;
#ifdef HAVE__DL_FIND_OBJECT
	struct dl_find_object fo;

	if (_dl_find_object((void *)p, &fo) == 0)
		return fo.dlfo_link_map;
#endif
	Dl_info dl;

	if (dladdr1(p, &dl, (void **)&map, RTLD_DL_LINKMAP) == 0)
		return NULL;
	return map;
}
