#!/usr/bin/env python3
"""larson_model.py: a second, independent implementation of `haktrace gen
larson`, written from the workload's definition (docs/larson.md) and the
trace format (docs/trace-format.md), sharing no code with the C generator.

    larson_model.py [--threads T --min A --max B --chunks C --rounds R
                     --seed S --generations G --quantum Q
                     --thread-tls-bytes N] [--events K]
        prints the trace's first K events (all by default), one JSON
        array per line, as .jsonl writes them
    larson_model.py --golden FILE
        writes the pinned trace that traces.larson reads (its parameters
        are in the file's first line)
    larson_model.py --check HAKTRACE
        generates several configurations with HAKTRACE and compares every
        event with this model; exit 1 on the first difference

scripts/regen-golden.sh writes traces/tests/golden/larson-model.jsonl with
--golden; meson test traces.larson_model runs --check and checks that file.
"""
import json
import os
import subprocess
import sys
import tempfile

M, A, C = 714025, 1366, 150889


def c_mod(a, b):
    """C's % on signed longs: the sign of the dividend."""
    r = abs(a) % abs(b)
    return -r if a < 0 else r


class Lran2:
    def __init__(self, seed):
        x = abs(c_mod(C - seed, M))
        self.v = []
        for _ in range(97):
            x = (A * x + C) % M
            self.v.append(x)
        self.x = (A * x + C) % M
        self.y = self.x

    def next(self):
        j = self.y % 97
        self.y = self.v[j]
        self.x = (A * self.x + C) % M
        self.v[j] = self.x
        return self.y


DEFAULTS = dict(threads=4, min=8, max=128, chunks=1024, rounds=1, seed=12345,
                generations=2000, quantum=64, thread_tls_bytes=320)


def events(p):
    """Yields the trace's events as lists, in the generator's order."""
    T, Cn, lo, hi = p["threads"], p["chunks"], p["min"], p["max"]
    N = T * Cn
    tls = p["thread_tls_bytes"]

    def size(g):
        return lo if hi == lo else lo + g.next() % (hi - lo)

    # larson reads its seed as (unsigned) atoi(argv[6]).
    g = Lran2(p["seed"] % 2**32)
    slot_of = list(range(N))                     # array slot -> block id
    for k in range(N):
        yield ["alloc", 0, k, size(g)]
    for c in range(N, 0, -1):
        v = g.next() % c
        slot_of[v], slot_of[c - 1] = slot_of[c - 1], slot_of[v]
    for _ in range(4 * N):
        v = g.next() % N
        yield ["free", 0, slot_of[v]]
        yield ["alloc", 0, slot_of[v], size(g)]

    def dtv(parent, child):
        # glibc's pthread_create, in the parent: calloc(entries, 16) of the
        # new thread's DTV, never freed; ids above the slots.
        if tls:
            yield ["calloc", parent, N + child - 1, tls // 16, 16]

    # Slot generators, seeded in slot order as C ints; main starts them.
    slots = []
    next_tid = 1
    for i in range(T):
        s = g.next()
        s = s - 2**32 if s >= 2**31 else s       # stored in an int
        slots.append(dict(rng=Lran2(s), tid=next_tid, gen=0, pairs=0,
                          victim=None, done=False))
        yield ["thread_start", next_tid, 0]
        yield from dtv(0, next_tid)
        next_tid += 1
    pairs_per_thread = p["rounds"] * Cn
    running = T
    while running:
        for i, sl in enumerate(slots):
            q = 0
            while q < p["quantum"] and not sl["done"]:
                q += 1
                if sl["victim"] is None:
                    sl["victim"] = sl["rng"].next() % Cn
                    yield ["free", sl["tid"], slot_of[i * Cn + sl["victim"]]]
                    continue
                yield ["alloc", sl["tid"], slot_of[i * Cn + sl["victim"]],
                       size(sl["rng"])]
                sl["victim"] = None
                sl["pairs"] += 1
                if sl["pairs"] < pairs_per_thread:
                    continue
                old = sl["tid"]
                if sl["gen"] + 1 < p["generations"]:
                    sl.update(tid=next_tid, gen=sl["gen"] + 1, pairs=0)
                    next_tid += 1
                    yield ["thread_start", sl["tid"], old]
                    yield from dtv(old, sl["tid"])
                else:
                    sl["done"] = True
                    running -= 1
                yield ["thread_exit", old]


def line(ev):
    return json.dumps(ev, separators=(",", ":"))


def parse(argv):
    p, k, i = dict(DEFAULTS), None, 0
    while i < len(argv):
        name = argv[i].lstrip("-").replace("-", "_")
        if name == "events":
            k = int(argv[i + 1])
        elif name in p:
            p[name] = int(argv[i + 1])
        else:
            sys.exit("larson_model.py: unknown option %s" % argv[i])
        i += 2
    return p, k


def args_of(p):
    out = []
    for name, v in p.items():
        out += ["--" + name.replace("_", "-"), str(v)]
    return out


# The pinned trace: small enough to read, and it has the warm-up, main's
# starts with their callocs, and hand-overs with theirs.
GOLDEN = dict(DEFAULTS, threads=2, chunks=4, generations=3, quantum=3)

CHECKS = [
    dict(DEFAULTS, threads=2, chunks=4, generations=3, quantum=3),
    dict(DEFAULTS, threads=3, chunks=16, generations=5, quantum=1, rounds=2),
    dict(DEFAULTS, threads=4, chunks=64, generations=4, quantum=64),
    dict(DEFAULTS, threads=2, min=16, max=16, chunks=32, generations=3,
         thread_tls_bytes=0),
    dict(DEFAULTS, threads=3, min=8, max=1000, chunks=37, rounds=3,
         seed=-7, generations=3, quantum=17, thread_tls_bytes=288),
]


def golden_text():
    # The parameters in .jsonl meta order, then every event.
    head = dict((k.replace("_", "-"), v) for k, v in GOLDEN.items())
    return "".join(line(x) + "\n" for x in [["params", head]] + list(events(GOLDEN)))


def main(argv):
    if argv[:1] == ["--golden"]:
        text = golden_text()
        if len(argv) > 2 and argv[2] == "--verify":
            with open(argv[1]) as f:
                if f.read() != text:
                    print("%s is not what the model writes (scripts/regen-golden.sh)" % argv[1])
                    return 1
            return 0
        with open(argv[1], "w") as f:
            f.write(text)
        return 0
    if argv[:1] == ["--check"]:
        hk = argv[1]
        with tempfile.TemporaryDirectory() as d:
            for p in CHECKS:
                out = os.path.join(d, "t.jsonl")
                subprocess.run([hk, "gen", "larson"] + args_of(p) + ["-o", out],
                               check=True)
                with open(out) as f:
                    f.readline()                   # the header
                    got = [l.rstrip("\n") for l in f]
                want = [line(ev) for ev in events(p)]
                for n, (a, b) in enumerate(zip(got, want)):
                    if a != b:
                        print("%s: event %d: haktrace %s, model %s" % (args_of(p), n, a, b))
                        return 1
                if len(got) != len(want):
                    print("%s: haktrace wrote %d events, the model %d" %
                          (args_of(p), len(got), len(want)))
                    return 1
                print("ok: %d events: %s" % (len(got), " ".join(args_of(p))))
        return 0
    p, k = parse(argv)
    for n, ev in enumerate(events(p)):
        if k is not None and n == k:
            break
        print(line(ev))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
