/*
 * proto.h - the control protocol: one JSON object a line in, one JSON
 * object a line out (memleasectl(1), memlease(7)).
 *
 * The handler is the protocol without the socket: the server (to come)
 * frames lines and feeds them here; tests call it directly.  It runs on
 * memlease's own thread, which holds the recursion guard, so that what
 * jansson allocates is never tagged.  It never changes jansson's
 * process-wide allocator: the host may use jansson too.
 *
 * Requests: {"id":N, "cmd":NAME, ...arguments}; every response carries the
 * request's id:  {"id":N,"ok":true,"result":{...}}  or
 * {"id":N,"ok":false,"error":{"code":"EINVAL","message":"..."}}.
 * A bad request gets an error response; nothing a client sends is fatal.
 * Lease ids are strings ("0x100000001"), as in the reports; requests may
 * also give them as numbers.
 *
 * Listings are paged: a page holds at most ML_PROTO_PAGE leases and the
 * cursor of the next ("next": null at the end), so that a million leases
 * never become one document in memory.
 */
#ifndef ML_PROTO_H
#define ML_PROTO_H

#include <stddef.h>

#include "listing.h"

#include "wire.h"

/* the protocol's constants are wire.h's, which memleasectl shares */
#define ML_PROTO_VERSION  ML_WIRE_VERSION
#define ML_PROTO_MAX_LINE ML_WIRE_MAX_LINE
#define ML_PROTO_TOP_MAX  ML_WIRE_TOP_MAX
#define ML_PROTO_PAGE     ML_LISTING_PAGE  /* leases in a page of "list" */

/*
 * Answer one request (len bytes, without its newline).  The response, one
 * line ending in a newline, is a string of memlease's own memory, to be
 * freed with ml_mem_free() (mem.h: free() is another allocator where the
 * C library's is not the first, as with a sanitizer linked into the
 * program), stored in *resp (*resp_len its length); NULL only
 * when out of memory, and then the server answers an ENOMEM error of its
 * own.  A result that could not be made whole for want of memory is
 * answered ENOMEM, never sent short.  Returns 0, or ML_PROTO_WATCH for a
 * "watch" that was accepted: the server then sends the client expiry
 * events, one JSON object a line, until it goes away.
 */
#define ML_PROTO_WATCH 1
int ml_proto_handle(const char *req, size_t len, char **resp,
        size_t *resp_len);

#endif /* ML_PROTO_H */
