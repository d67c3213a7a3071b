# threads.py - python's own part of make check-real: threads that
# allocate heavily (dicts, lists, strings, bytes of every size) and hand
# their work through queues.  What it prints depends on its input alone.
import hashlib
import json
import queue
import threading
from concurrent.futures import ThreadPoolExecutor


def churn(seed):
    h = hashlib.sha256()
    keep = []
    for i in range(12000):
        n = (seed * 7919 + i * 104729) % 9000
        d = {"i": i, "s": "x" * (n % 300), "l": list(range(n % 50))}
        keep.append(d)
        if len(keep) > 500:
            keep = keep[250:]
        h.update(json.dumps(d, sort_keys=True).encode())
        h.update(bytes(n))
    return h.hexdigest()


def worker(q, out):
    while True:
        item = q.get()
        if item is None:
            return
        out.append((item, churn(item)))


q = queue.Queue()
outs = [[], [], []]
threads = [threading.Thread(target=worker, args=(q, o)) for o in outs]
for t in threads:
    t.start()
for i in range(8):
    q.put(i)
for t in threads:
    q.put(None)
for t in threads:
    t.join()
for item, digest in sorted(x for o in outs for x in o):
    print("queue", item, digest)

with ThreadPoolExecutor(max_workers=4) as ex:
    for i, digest in enumerate(ex.map(churn, range(100, 104))):
        print("pool", i, digest)
