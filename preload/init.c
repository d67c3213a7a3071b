/*
 * init.c - the preload's life in one place: what each module registers
 * with the runtime, the fork handlers of every lock in one ordered table,
 * the start (ml_init_start(), which libmemlease.so's constructor calls:
 * the constructor itself is in preload.c, built into the shared library
 * only, so that test programs linking these files start nothing) and the
 * destructor.
 *
 * It is the top of the preload: it names the modules below it, and no
 * module names it but the front ends (api.c, preload.c).
 *
 * Locking: the registration runs once (pthread_once) before the runtime
 * is initialised; the fork table is the lock order itself, given to
 * pthread_atfork() when the runtime starts.  One fork handler is not in
 * it: threads.c's, which takes no lock and must run in every fork child,
 * runtime or none, is registered by ml_threads_init() at the start.
 * Never: read the environment but through options.h, or allocate before
 * the runtime is asked to initialise.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "block.h"
#include "decide.h"
#include "guard.h"
#include "heap.h"
#include "init.h"
#include "loop.h"
#include "options.h"
#include "report.h"
#include "runtime.h"
#include "server.h"
#include "stacks.h"
#include "symbols.h"
#include "tag.h"
#include "threads.h"

/*
 * Fork: every lock, in the order the code nests them.  prepare runs down
 * the table, parent and child up it.  The loop's; the program's hook; the
 * server's queue; the report's and the stack table's (a report being
 * written, or a stack being stored, may free() a block, and free() may
 * take a shard of the map); the rules'; the map's shards and the reclaim
 * records' (shards are taken before the core's by tagged allocations);
 * the core's; the heap of memlease's thread (heap.h: a leaf, taken by any
 * free() of its blocks).  The child re-makes them all.
 */
static const struct fork_step {
	void (*prepare)(void), (*parent)(void), (*child)(void);
} fork_steps[] = {
	{ ml_loop_prepare, ml_loop_parent, ml_loop_child },
	{ ml_runtime_prepare, ml_runtime_parent, ml_runtime_child },
	{ ml_server_prepare, ml_server_parent, ml_server_child },
	{ ml_report_lock, ml_report_unlock, ml_report_reinit_lock },
	{ ml_stacks_lock, ml_stacks_unlock, ml_stacks_reinit_lock },
	{ ml_decide_prepare, ml_decide_parent, ml_decide_child },
	{ ml_block_prepare, ml_block_parent, ml_block_child },
	{ ml_runtime_core_prepare, ml_runtime_core_parent,
	  ml_runtime_core_child },
	{ ml_heap_prepare, ml_heap_parent, ml_heap_child },
};
#define FORK_STEPS (sizeof fork_steps / sizeof *fork_steps)

static void
fork_prepare(void)
{
	for (size_t i = 0; i < FORK_STEPS; i++)
		fork_steps[i].prepare();
}

static void
fork_parent(void)
{
	for (size_t i = FORK_STEPS; i-- > 0;)
		fork_steps[i].parent();
}

static void
fork_child(void)
{
	for (size_t i = FORK_STEPS; i-- > 0;)
		fork_steps[i].child();
}

static pthread_once_t wired = PTHREAD_ONCE_INIT;

static void
wire(void)
{
	/* the log first, then the socket's watchers */
	static const struct ml_runtime_observer report = {
		ml_report_expired, NULL,
	};

	ml_runtime_on_fork(fork_prepare, fork_parent, fork_child);
	ml_runtime_observe(&report);
	ml_server_register();
	ml_block_register();
	ml_symbols_say(ml_report_diag);
}

int
ml_init_ready(void)
{
	pthread_once(&wired, wire);
	return ml_runtime_ready();
}

void
ml_init_start(void)
{
	ml_threads_init();      /* first: this thread is the program's */
	pthread_once(&wired, wire);
	ml_server_exec();
	if (ml_options_socket() == ML_SOCKET_ON)
		ml_init_ready();        /* starts the thread, and the socket */
	ml_tag_init();
}

int
ml_init_attach(void)
{
	int r;

	ml_options_override(ML_OPT_SOCKET, ML_SOCKET_ON);
	ml_options_override(ML_OPT_THREAD, 1);
	if ((r = ml_init_ready()) == 0)
		ml_runtime_deadline(true);      /* the thread, and its socket */
	return r;
}

/* The process is ending: no thread starts any more; the live tagged
 * leases are reported if asked; the thread stops; the names of frames
 * learned here are left for the next process of the same binaries. */
__attribute__((destructor)) static void
init_fini(void)
{
	ml_runtime_exit();
	ml_guard_enter();
	ml_report_exit();       /* the expiries' summary */
	ml_guard_leave();
	ml_tag_exit();
	ml_loop_stop();
	ml_guard_enter();
	ml_symbols_save();
	ml_guard_leave();
}
