import threading, json, queue
q = queue.Queue()
def producer(n):
    for i in range(n):
        q.put({"id": i, "name": "item%d" % i, "tags": [str(j) for j in range(i % 7)]})
    q.put(None)
def consumer(out):
    while True:
        d = q.get()
        if d is None:
            break
        out.append(json.dumps(d))
out = []
ts = [threading.Thread(target=producer, args=(200,)), threading.Thread(target=consumer, args=(out,))]
[t.start() for t in ts]; [t.join() for t in ts]
print(len(out))
