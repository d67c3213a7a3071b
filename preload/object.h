/*
 * object.h - which loaded object holds an address.
 *
 * The dynamic loader's own table answers, through _dl_find_object()
 * (glibc 2.35 and later: a lock-free binary search, about 20 ns), else
 * dladdr1(), which takes the loader's lock and looks for the nearest
 * symbol through the whole symbol table of the object (20 to 60 us in
 * the C library): a short process paid that at every new call site.
 * Never allocates, never takes a lock of memlease's.
 */
#ifndef ML_OBJECT_H
#define ML_OBJECT_H

#include <link.h>

/* The object that holds address p, or NULL if none does. */
const struct link_map *ml_object_of(const void *p);

#endif /* ML_OBJECT_H */
