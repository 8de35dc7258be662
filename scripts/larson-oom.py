#!/usr/bin/env python3
"""larson-oom.py OUT [DOC]: the numbers of docs/larson-oom.md from the runs
scripts/larson-oom.sh made in OUT.

Writes OUT/larson-oom-numbers.md: the two tables of the page, as the page
shows them, and every other number its text cites, each with the run and
the run.json field it comes from.  With DOC (docs/larson-oom.md), also
rewrites the tables there, between the lines

    <!-- larson-oom.sh: TABLE -->
    <!-- end larson-oom.sh -->

(TABLE: presets, seed); the prose is the reader's to check against the
numbers file (the script says which numbers changed).
"""
import json
import os
import re
import sys

PRESETS = ["seed-buggy", "fix-a", "fix-b", "lg20", "phase1", "reuse", "adopt"]
MODELS = {
    "seed-buggy": "the failing run",
    "fix-a": "Option A alone",
    "fix-b": "Option B alone",
    "lg20": "Option C (1 MiB)",
    "phase1": "Option A + B",
    "reuse": "Phase 1 + refill from existing SuperSlabs",
    "adopt": "Phase 1 + reuse + adoption of orphaned slabs",
}
SEED_RATE = 4.19e6        # the seed's Larson operations (free+malloc pairs) per second
MAP_LIMIT = 65530


def load(path):
    with open(path) as f:
        return json.load(f)


def n(x):
    """1234567 -> 1,234,567"""
    return "{:,}".format(x)


def size(b):
    for unit, k in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if b >= k:
            v = b / k
            return ("%.2f %s" if v < 10 else "%.1f %s" if v < 100 else "%.0f %s") % (v, unit)
    return "%d B" % b


def pct(x, digits=None):
    v = 100.0 * x
    if digits is None:
        digits = 1 if v >= 1 else 2 if v >= 0.1 else 3 if v >= 0.01 else 4
    return "%.*f%%" % (digits, v)


def second_half_live(run):
    """Live SuperSlabs over the second half of the run's samples."""
    s = run["samples"]
    end = s[-1]["t"]
    live = [x["ss"]["live"] for x in s if x["t"] >= end / 2]
    return live


def rising(live):
    """True when the floor of a run's 2nd-half live count rises: the least
    live count of its last quarter is above that of its first quarter."""
    q = max(1, len(live) // 4)
    return min(live[-q:]) > min(live[:q])


def steady(run):
    """The seed table's steady-state cell for a run that did not run out."""
    live = second_half_live(run)
    if rising(live):
        return "none: rising, %s-%s in the 2nd half" % (n(min(live)), n(max(live)))
    return n(min(live)) if min(live) == max(live) else "%s-%s" % (n(min(live)), n(max(live)))


def live_by_class(run):
    """SuperSlabs live at the run's end (or OOM), by class, from its map and unmap events."""
    cls, live = {}, {}
    for e in run["events"]:
        if e["type"] == "ss_map":
            cls[e["ss"]] = e["class"]
            live[e["class"]] = live.get(e["class"], 0) + 1
        elif e["type"] == "ss_unmap":
            live[cls[e["ss"]]] -= 1
    return live


def by_class(d):
    return ", ".join("%d: %s" % (k, n(v)) for k, v in sorted(d.items()))


def class_of(run, size_bytes):
    classes = [int(c) for c in run["config"]["size_classes"].split(",")]
    return next(i for i, c in enumerate(classes) if c >= size_bytes)


def maps_by_class(run):
    out = {}
    for e in run["events"]:
        if e["type"] == "ss_map":
            out[e["class"]] = out.get(e["class"], 0) + 1
    return out


def trims(run):
    return [e for e in run["events"] if e["type"] == "trim"]


def presets_table(runs):
    head = ("| preset | models | SuperSlabs allocated | freed | peak live | live in the 2nd half "
            "(mean, min-max) | peak mapped | peak touched | utilization at end | remote frees | OOM |\n"
            "|---|---|---|---|---|---|---|---|---|---|---|\n")
    rows = []
    for p in PRESETS:
        r = runs[p]
        s = r["summary"]
        oom = s["oom"]
        live = second_half_live(r)
        first = runs[PRESETS[0]]["summary"]["oom"]
        if oom:
            half = "growing until the OOM"
            same = p != PRESETS[0] and first and first["t"] == oom["t"]
            o = "**yes**, same event" if same else "**yes**, event %s" % n(oom["t"])
        else:
            half = "%s (%s-%s)%s" % (n(round(sum(live) / len(live))), n(min(live)), n(max(live)),
                                     ", rising" if rising(live) else "")
            o = "no"
        rows.append("| `%s` | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            p, MODELS[p], n(s["ss_allocated"]), n(s["ss_freed"]), n(s["ss_peak"]), half,
            size(s["peak_ss_mapped_bytes"]), size(s["peak_touched_bytes"]),
            pct(s["utilization_end"]), pct(s["remote_ratio"]), o))
    return head + "\n".join(rows) + "\n"


def seed_table(runs):
    b, p, a = runs["seed-buggy"]["summary"], runs["phase1"]["summary"], runs["adopt"]["summary"]
    boom = b["oom"]
    pairs = boom["t"] / 2 if boom else None

    def oom(s, label):
        if not s["oom"]:
            return "no"
        t = s["oom"]["t"]
        return "yes, at %.1f M operations (free+malloc pairs; ~%.1f s at 4.19 M ops/s)" % (
            t / 2 / 1e6, t / 2 / SEED_RATE)

    rows = [
        ("SuperSlabs allocated", "49,123",
         n(b["ss_allocated"]) + (" (at the OOM)" if boom else ""), "~50", n(p["ss_allocated"]),
         n(a["ss_allocated"])),
        ("SuperSlabs freed", "0", n(b["ss_freed"]), "~45", n(p["ss_freed"]),
         n(a["ss_freed"]) + (" (none needed)" if a["ss_freed"] == 0 else "")),
        ("steady-state SuperSlabs", "49,123", "(no steady state)" if boom else n(b["ss_live_end"]),
         "5-10", "until the OOM" if p["oom"] else steady(runs["phase1"]),
         "until the OOM" if a["oom"] else steady(runs["adopt"])),
        ("virtual memory", "167 GB VmSize", size(b["peak_ss_mapped_bytes"]) + " of SuperSlabs",
         "20 MB", size(p["peak_ss_mapped_bytes"]) + " peak", size(a["peak_ss_mapped_bytes"])),
        ("utilization", "0.0006%", pct(b["utilization_end"]), "2-5%",
         pct(p["utilization_end"]) + " at the end", pct(a["utilization_end"])),
        ("OOM", "yes, at 2 s", oom(b, "seed-buggy"), "no", oom(p, "phase1"), oom(a, "adopt")),
    ]
    head = ("| metric | seed: before | measured: `seed-buggy` | seed: after Phase 1 | measured: "
            "`phase1` | measured: `adopt` |\n|---|---|---|---|---|---|\n")
    return head + "\n".join("| %s |" % " | ".join(r) for r in rows) + "\n"


def facts(out, runs, extra, trace):
    f = []

    def fact(name, value, source):
        f.append("* %s: **%s** (%s)" % (name, value, source))

    b = runs["seed-buggy"]
    bs = b["summary"]
    fact("trace events", n(trace["events"]), "larson-seed.hkt, trace.events")
    fact("trace threads (main included)", n(trace["threads"]), "trace.threads")
    pairs = trace["meta"]["params"]["generations"] * trace["meta"]["params"]["threads"] * \
        trace["meta"]["params"]["chunks"] * trace["meta"]["params"]["rounds"]
    fact("worker free+malloc pairs", n(pairs), "generations x threads x chunks x rounds")
    fact("DTV bytes per new thread", trace["meta"]["params"].get("thread-tls-bytes", 0),
         "trace.meta.params")
    fact("replay clock (events per logical ms)", n(b["config"]["replay"]["ops_per_ms"]),
         "config.replay.ops_per_ms")
    fact("trim period (events)", n(runs["phase1"]["config"]["replay"]["trim_every_events"]),
         "phase1: config.replay.trim_every_events")
    if bs["oom"]:
        o = bs["oom"]
        fact("seed-buggy OOM event", n(o["t"]), "summary.oom.t")
        fact("seed-buggy OOM in operations (pairs)", "%.2f M" % (o["t"] / 2 / 1e6), "oom.t / 2")
        fact("seed-buggy OOM in the seed's seconds", "%.2f s" % (o["t"] / 2 / SEED_RATE),
             "oom.t / 2 / 4.19 M")
        fact("seed-buggy SuperSlabs live at the OOM", n(o["ss_live"]), "summary.oom.ss_live")
        fact("thread mappings at the OOM", n(o["thread_maps"]), "summary.oom.thread_maps")
        started = o["thread_maps"] // max(1, b["config"]["replay"]["thread_maps"])
        fact("threads started at the OOM", n(started), "oom.thread_maps / thread_maps")
        fact("SuperSlabs per thread at the OOM", "%.2f" % (o["ss_live"] / max(1, started)),
             "oom.ss_live / threads started")
        ml = bs["map_limit"]
        fact("seed-buggy at the OOM: SuperSlab + thread mappings (limit)", "%s + %s = %s (%s)" % (
            n(ml["ss_mappings"]), n(ml["thread_mappings"]), n(ml["ss_mappings"] + ml["thread_mappings"]),
            n(ml["limit"])), "summary.map_limit")
        last = b["samples"][-1]
        params = trace["meta"]["params"]
        larson_blocks = params["threads"] * params["chunks"]
        dtvs = last["live_blocks"] - larson_blocks
        dtv_bytes = dtvs * params.get("thread-tls-bytes", 0)
        fact("seed-buggy at the OOM: live blocks (Larson's + DTVs)", "%s (%s + %s)" % (
            n(last["live_blocks"]), n(larson_blocks), n(dtvs)),
            "samples[-1].live_blocks; Larson's are threads x chunks")
        fact("seed-buggy at the OOM: R (Larson's bytes + DTV bytes)", "%s (%s + %s)" % (
            n(last["live_req_bytes"]), n(last["live_req_bytes"] - dtv_bytes), n(dtv_bytes)),
            "samples[-1].live_req_bytes; DTVs x thread-tls-bytes")
        fact("seed-buggy at the OOM: R/H, and Larson's bytes alone over H", "%s, %s" % (
            pct(last["utilization"]), pct((last["live_req_bytes"] - dtv_bytes) / last["ss_mapped_bytes"])),
            "samples[-1].utilization; (R - DTV bytes) / ss_mapped_bytes")
        fact("seed-buggy remote frees up to the OOM", n(last["frees"]["remote"]), "samples[-1].frees.remote")
    fact("the one-line log", "`alloc=%d freed=%d bytes=%d`" % (
        bs["ss_allocated"], bs["ss_freed"], bs["ss_live_end"] * 2 * 2**20),
        "summary.ss_allocated, ss_freed, ss_live_end x 2 MiB")
    fact("seed-buggy logically non-empty but empty at the end", n(bs["logically_nonempty_but_empty_end"]),
         "summary.logically_nonempty_but_empty_end")
    fact("seed-buggy SuperSlabs holding live blocks at the end",
         n(bs["ss_live_end"] - b["samples"][-1]["ss"]["empty"]), "ss_live_end - samples[-1].ss.empty")
    fact("seed-buggy accounting drift at the end", n(bs["accounting_drift_end"]),
         "summary.accounting_drift_end")
    for p in ("fix-a",):
        s = runs[p]["summary"]
        fact("fix-a drift / logically non-empty but empty at the end", "%s / %s" % (
            n(s["accounting_drift_end"]), n(s["logically_nonempty_but_empty_end"])), "summary")
    fb = runs["fix-b"]
    fact("fix-b trim passes / SuperSlabs they freed", "%s / %s" % (
        n(fb["summary"]["trims"]), n(sum(len(e["freed"]) for e in trims(fb)))), "summary.trims, events[trim].freed")
    fact("remote frees (seed-buggy)", pct(bs["remote_ratio"]), "summary.remote_ratio")
    fact("remote frees (adopt)", pct(runs["adopt"]["summary"]["remote_ratio"]), "summary.remote_ratio")
    fact("lg20 SuperSlabs allocated", n(runs["lg20"]["summary"]["ss_allocated"]), "summary.ss_allocated")
    byc = maps_by_class(b)
    c512 = class_of(b, 320)
    fact("seed-buggy SuperSlabs by class (index: count)", by_class(byc), "events[ss_map].class")
    fact("seed-buggy SuperSlabs of the DTV's class (512 B)", n(byc.get(c512, 0)), "class %d" % c512)
    fact("seed-buggy wholly empty SuperSlabs reused instead of mapped", n(bs["ss_reused"]),
         "summary.ss_reused")
    fact("seed-buggy SuperSlabs holding live blocks at the end, not of the DTV's class (each of "
         "which holds a DTV)", n(bs["ss_live_end"] - b["samples"][-1]["ss"]["empty"] - byc.get(c512, 0)),
         "ss_live_end - samples[-1].ss.empty - class %d" % c512)
    for name, run in extra.items():
        s = run["summary"]
        fact("%s: SuperSlabs allocated / freed / OOM" % name, "%s / %s / %s" % (
            n(s["ss_allocated"]), n(s["ss_freed"]), ("event " + n(s["oom"]["t"])) if s["oom"] else "no"),
            "summary")
        ml = s["map_limit"]
        fact("%s: SuperSlabs live at the end + thread mappings (threads started); peak live" % name,
             "%s + %s (%s); %s" % (n(s["ss_live_end"]), n(ml["thread_mappings"]), n(s["threads_started"]),
                                   n(s["ss_peak"])), "summary.ss_live_end, map_limit, threads_started, ss_peak")
    p1 = runs["phase1"]
    t = trims(p1)
    late = t[len(t) // 2:]
    if late:
        fact("phase1 trims per pass, 2nd half: freed / skipped non-empty / scanned", "%s / %s / %s" % (
            n(round(sum(len(e["freed"]) for e in late) / len(late))),
            n(round(sum(e["skipped_nonempty"] for e in late) / len(late))),
            n(round(sum(e["scanned"] for e in late) / len(late)))), "events[trim]")
    fact("phase1 trim passes", n(p1["summary"]["trims"]), "summary.trims")
    for name, e in (("first", t[0]), ("last", t[-1])):
        fact("phase1 %s trim pass (event): freed / skipped non-empty / scanned" % name, "%s: %s / %s / %s" % (
            n(e["t"]), n(len(e["freed"])), n(e["skipped_nonempty"]), n(e["scanned"])), "events[trim]")
    starts = [e["t"] for e in p1["events"] if e["type"] == "thread_start"]
    period = p1["config"]["replay"]["trim_every_events"]
    per = [sum(1 for x in starts if a < x <= a + period) for a in range(period, starts[-1] - period, period)]
    if per:
        fact("threads started per trim period", "%s-%s" % (n(min(per)), n(max(per))), "events[thread_start]")
    fact("phase1 SuperSlabs live at the end by class", by_class(live_by_class(p1)), "events[ss_map, ss_unmap]")
    fact("reuse SuperSlabs live at the end by class", by_class(live_by_class(runs["reuse"])),
         "events[ss_map, ss_unmap]")
    ad = runs["adopt"]
    fact("adopt SuperSlabs by class", by_class(maps_by_class(ad)), "events[ss_map].class")
    fact("adopt's SuperSlabs of the DTV's class mapped at (event, by trace thread)", ", ".join(
        "%s by %s" % (n(e["t"]), n(e["thread"])) for e in ad["events"]
        if e["type"] == "ss_map" and e["class"] == class_of(ad, 320)), "events[ss_map]")
    fact("adopt adoptions", n(ad["summary"]["adoptions"]), "summary.adoptions")
    last = ad["samples"][-1]
    fact("adopt at the end: R, live blocks", "%s, %s" % (n(last["live_req_bytes"]), n(last["live_blocks"])),
         "samples[-1]")
    fact("phase1 SuperSlabs live at the end", n(p1["summary"]["ss_live_end"]), "summary.ss_live_end")
    byc1 = maps_by_class(p1)
    fact("phase1 SuperSlabs of the DTV's class mapped", n(byc1.get(class_of(p1, 320), 0)),
         "events[ss_map].class")
    if "phase1, old clock" in extra:
        o = extra["phase1, old clock"]
        lo = second_half_live(o)
        fact("phase1 at the old clock (4,190): live in the 2nd half min-max, peak mapped",
             "%s-%s, %s" % (n(min(lo)), n(max(lo)), size(o["summary"]["peak_ss_mapped_bytes"])), "samples")
        ln = second_half_live(p1)
        fact("phase1 at the chosen clock: live in the 2nd half min-max, peak mapped",
             "%s-%s, %s" % (n(min(ln)), n(max(ln)), size(p1["summary"]["peak_ss_mapped_bytes"])), "samples")
        to = trims(o)
        fact("phase1 trim passes at the old clock / at the chosen clock", "%s / %s" % (
            n(len(to)), n(len(t))), "summary.trims")
        lt = to[len(to) // 2:]
        fact("phase1 at the old clock: SuperSlabs freed per pass, 2nd half", n(round(
            sum(len(e["freed"]) for e in lt) / len(lt))), "events[trim].freed")
    if "phase1, 6,000 generations" in extra:
        lg = extra["phase1, 6,000 generations"]["summary"]
        ml = lg["map_limit"]
        if lg["oom"]:
            fact("phase1 meets the map limit at (events; M pairs; seed's seconds)", "%s; %.1f M; %.1f s" % (
                n(lg["events"]), lg["events"] / 2 / 1e6, lg["events"] / 2 / SEED_RATE),
                "phase1-long: summary.events")
            fact("phase1 at its OOM: SuperSlabs live + thread mappings (threads)", "%s + %s (%s)" % (
                n(ml["ss_mappings"]), n(ml["thread_mappings"]), n(lg["threads_started"])),
                "summary.map_limit, threads_started")
            fact("phase1 at its OOM: SuperSlabs allocated / freed", "%s / %s" % (
                n(lg["ss_allocated"]), n(lg["ss_freed"])), "summary")
            fact("phase1 at its OOM: SuperSlabs live by class",
                 by_class(live_by_class(extra["phase1, 6,000 generations"])), "events[ss_map, ss_unmap]")
    for name in ("reuse, 6,000 generations", "adopt, 6,000 generations"):
        if name in extra:
            fact("%s: SuperSlabs live at the end by class" % name, by_class(live_by_class(extra[name])),
                 "events[ss_map, ss_unmap]")
    r = runs["reuse"]
    lr = second_half_live(r)
    fact("reuse live in the 2nd half", "%s-%s" % (n(min(lr)), n(max(lr))), "samples")
    return "\n".join(f) + "\n"


def replace_block(text, name, body):
    pat = re.compile(r"(<!-- larson-oom.sh: %s -->\n)(.*?)(<!-- end larson-oom.sh -->)" % name, re.S)
    if not pat.search(text):
        sys.exit("larson-oom.py: no '<!-- larson-oom.sh: %s -->' block in the page" % name)
    return pat.sub(lambda m: m.group(1) + body + m.group(3), text)


def main(argv):
    out = argv[1]
    runs = {p: load(os.path.join(out, "compare", p, "run.json")) for p in PRESETS}
    extra = {}
    for name, f in (("seed-buggy, no thread stacks (--thread-maps 0)", "seed-buggy-no-stacks.json"),
                    ("seed-buggy, no DTV in the trace (--thread-tls-bytes 0)", "seed-buggy-no-dtv.json"),
                    ("phase1, old clock", "phase1-clock-4190.json"),
                    ("phase1, 6,000 generations", "phase1-long.json"),
                    ("reuse, 6,000 generations", "reuse-long.json"),
                    ("adopt, 6,000 generations", "adopt-long.json")):
        path = os.path.join(out, f)
        if os.path.exists(path):
            extra[name] = load(path)
    trace = runs["seed-buggy"]["trace"]
    t1, t2 = presets_table(runs), seed_table(runs)
    with open(os.path.join(out, "larson-oom-numbers.md"), "w") as f:
        f.write("# The numbers of docs/larson-oom.md (scripts/larson-oom.sh)\n\n")
        f.write("Trace: `%s`\n\n## The seed's table, measured\n\n%s\n## Beside the seed's "
                "table\n\n%s\n## Every other number the page cites\n\n%s" % (
                    trace["meta"]["command"], t1, t2, facts(out, runs, extra, trace)))
    if len(argv) > 2:
        with open(argv[2]) as f:
            text = f.read()
        new = replace_block(replace_block(text, "presets", t1), "seed", t2)
        if new != text:
            with open(argv[2], "w") as f:
                f.write(new)
            print("%s: tables rewritten; check the text against %s/larson-oom-numbers.md" %
                  (argv[2], out))
        else:
            print("%s: tables unchanged" % argv[2])
    print("%s/larson-oom-numbers.md" % out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
