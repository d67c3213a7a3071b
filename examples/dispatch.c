/*
 * dispatch.c - one buffer, three consumers, and a log nobody collects.
 *
 * A producer fills a message buffer and hands its *handle* to three
 * consumer threads through their queues; the lease's release count is 3,
 * so the last consumer to finish frees it, whoever that is.  A late
 * consumer that gets a handle whose lease has ended reads it as stale,
 * never as a dangling pointer.
 *
 * Then a "boot log" buffer is made for a peer that never connects: nobody
 * releases it, and after its 300 ms lease it expires and is reported, with
 * the backtrace of its allocation, on stderr (or MEMLEASE_LOG).
 *
 * Build: cc -std=gnu11 -pthread dispatch.c $(pkg-config --cflags --libs memlease)
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <memlease.h>

#define CONSUMERS 3
#define QUEUE_LEN 8

/* A small blocking queue of handles. */
struct queue {
	pthread_mutex_t lock;
	pthread_cond_t  ready;
	memlease_t      items[QUEUE_LEN];
	unsigned        head, count;
};

static void
queue_put(struct queue *q, memlease_t h)
{
	pthread_mutex_lock(&q->lock);
	q->items[(q->head + q->count++) % QUEUE_LEN] = h;
	pthread_cond_signal(&q->ready);
	pthread_mutex_unlock(&q->lock);
}

static memlease_t
queue_get(struct queue *q)
{
	pthread_mutex_lock(&q->lock);
	while (q->count == 0)
		pthread_cond_wait(&q->ready, &q->lock);
	memlease_t h = q->items[q->head];
	q->head = (q->head + 1) % QUEUE_LEN;
	q->count--;
	pthread_mutex_unlock(&q->lock);
	return h;
}

struct consumer {
	pthread_t    thread;
	int          id;
	struct queue queue;
};

/* Each consumer reads the message under a pin (so that it cannot expire
 * while in use), then releases its share.  Handle 0 means stop. */
static void *
consume(void *arg)
{
	struct consumer *c = arg;
	memlease_t h;

	while ((h = queue_get(&c->queue)) != 0) {
		size_t size;
		const char *msg = memlease_pin(h, &size);
		if (msg == NULL) {
			printf("consumer %d: lease %#llx is stale (%s)\n", c->id,
			    (unsigned long long)h, strerror(errno));
			continue;
		}
		printf("consumer %d: read \"%s\" (%zu bytes)\n", c->id, msg,
		    size);
		usleep(1000 * (unsigned)(10 * c->id));  /* some work */
		memlease_unpin(h);
		int r = memlease_release(h);
		printf("consumer %d: released (%s)\n", c->id,
		    r == 0 ? "ok" : strerror(-r));
	}
	return NULL;
}

static void
on_expire(memlease_t h, void *buf, size_t size, const char *label, void *arg)
{
	(void)buf;
	(void)arg;
	printf("hook: lease %#llx (%s, %zu bytes) expired, nobody came\n",
	    (unsigned long long)h, label ? label : "no label", size);
}

/* The log buffer of a peer that never connects. */
static memlease_t
keep_boot_log(void)
{
	char *log;
	memlease_t h = memlease_alloc(4096, 0, 1, (void **)&log);

	if (h == 0)
		return 0;
	snprintf(log, 4096, "boot: radio up; waiting for a peer\n");
	memlease_set_label(h, "boot-log");
	memlease_renew(h, 300);    /* filled: now it may expire */
	return h;
}

int
main(void)
{
	struct consumer c[CONSUMERS];
	struct memlease_stats st;
	char *msg;

	memlease_on_expire(on_expire, NULL);
	for (int i = 0; i < CONSUMERS; i++) {
		memset(&c[i], 0, sizeof c[i]);
		c[i].id = i + 1;
		pthread_mutex_init(&c[i].queue.lock, NULL);
		pthread_cond_init(&c[i].queue.ready, NULL);
		pthread_create(&c[i].thread, NULL, consume, &c[i]);
	}

	/* One message for three consumers: release count 3, 2 s lease. */
	memlease_t h = memlease_alloc(64, 2000, CONSUMERS, (void **)&msg);
	if (h == 0) {
		perror("memlease_alloc");
		return 1;
	}
	snprintf(msg, 64, "temperature=21.5");
	memlease_set_label(h, "sensor-msg");
	for (int i = 0; i < CONSUMERS; i++)
		queue_put(&c[i].queue, h);

	memlease_t log = keep_boot_log();

	for (int i = 0; i < CONSUMERS; i++) {
		queue_put(&c[i].queue, 0);
		pthread_join(c[i].thread, NULL);
	}
	printf("main: message lease is %s after three releases\n",
	    memlease_get(h, NULL) == NULL ? "gone" : "STILL LIVE");

	/* A late consumer with the old handle gets ESTALE, not a pointer. */
	if (memlease_get(h, NULL) == NULL && errno == ESTALE)
		printf("main: a late reader sees ESTALE\n");

	usleep(500 * 1000);        /* the boot log's lease runs out */
	memlease_stats(&st);
	printf("main: boot log %s; %llu leases made, %llu released, "
	    "%llu expired, %llu live\n",
	    memlease_get(log, NULL) == NULL ? "expired" : "STILL LIVE",
	    (unsigned long long)st.allocated,
	    (unsigned long long)st.released, (unsigned long long)st.expired,
	    (unsigned long long)st.live_leases);
	return st.released == 1 && st.expired == 1 && st.live_leases == 0 ?
	    0 : 1;
}
