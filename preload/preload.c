/*
 * preload.c - the start of libmemlease.so in a process: read the preload's
 * configuration before main() runs.  Built only into libmemlease.so.
 */
#include "tag.h"

__attribute__((constructor)) static void
preload_init(void)
{
	ml_tag_init();
}
