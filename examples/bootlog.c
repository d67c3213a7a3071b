/*
 * bootlog.c - an ordinary program with an ordinary leak; it knows nothing
 * of memlease and is built without it.
 *
 * At boot it keeps each log line in a 64 KiB buffer for a peer that is
 * supposed to connect and collect them; the peer never comes, and the
 * buffers are never freed.  Everything else it allocates, it frees.  At the
 * end it prints the C library's count of bytes in use, then, being tidy
 * after all, frees its buffers: late.
 *
 * Run it under the preload, giving those buffers a 200 ms lease:
 *
 *   MEMLEASE_RULES='caller=keep_for_peer ttl=200ms action=free' \
 *   LD_PRELOAD=libmemlease.so ./bootlog
 *
 *   bootlog [MS]    MS: how long it waits for the peer (default 500)
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LINES    5
#define BUF_SIZE (64 * 1024)

/* Keep a log line until the peer collects it (it never does). */
__attribute__((noinline)) static char *
keep_for_peer(const char *line)
{
	char *buf = malloc(BUF_SIZE);

	if (buf != NULL)
		snprintf(buf, BUF_SIZE, "%s", line);
	return buf;
}

static size_t
in_use(void)
{
	return mallinfo2().uordblks;
}

int
main(int argc, char **argv)
{
	long wait_ms = argc > 1 ? atol(argv[1]) : 500;
	static const char *const boot[LINES] = {
		"radio up", "no peer yet", "sensors ready", "still no peer",
		"giving up on the peer",
	};
	char *kept[LINES];

	for (int i = 0; i < LINES; i++) {
		char *scratch = strdup(boot[i]);     /* freed: not a leak */
		kept[i] = keep_for_peer(scratch);
		free(scratch);
		usleep(20 * 1000);
	}
	printf("bootlog: %zu KiB in use after boot\n", in_use() / 1024);
	printf("bootlog: waiting %ld ms for the peer\n", wait_ms);
	fflush(stdout);
	usleep((useconds_t)wait_ms * 1000);
	printf("bootlog: %zu KiB in use %ld ms later\n", in_use() / 1024,
	    wait_ms);
	for (int i = 0; i < LINES; i++)
		free(kept[i]);
	return 0;
}
