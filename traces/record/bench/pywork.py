# pywork.py [ROUNDS] — an allocation-heavy multi-threaded Python program for
# traces/record/bench/overhead.sh: two threads build dicts and JSON-encode them.
# Run with PYTHONMALLOC=malloc so that every object goes through malloc.
import threading, json
def work(k):
    for r in range(int(__import__("sys").argv[1]) if len(__import__("sys").argv) > 1 else 30):
        d = {str(i): [i, str(i) * 3, {"k": i}] for i in range(20000)}
        s = json.dumps(d)
        json.loads(s)
ts = [threading.Thread(target=work, args=(k,)) for k in range(2)]
[t.start() for t in ts]; [t.join() for t in ts]
