#!/usr/bin/env python3
"""Turns one benchmark run into bench/results/<date>.md and its JSON twin.

Inputs (written by scripts/bench.sh into a temp dir):
  --micro   Google Benchmark JSON of streamrec_microbench (aggregates only)
  --e2e     the JSON of streamrec_bench_e2e
  --machine lscpu / free / uname / compiler / git, as "## section" blocks
Every figure in the Markdown comes from these files; ratios compare figures
measured in the same run. Standard library only.
"""
import argparse
import json
import math
import re
import statistics

UNIT_NS = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}


def parse_machine(path):
    sections, current = {}, None
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("## "):
                current = line[3:]
                sections[current] = []
            elif current:
                sections[current].append(line)
    lscpu = {}
    for line in sections.get("lscpu", []):
        if ":" in line:
            key, value = line.split(":", 1)
            lscpu[key.strip()] = value.strip()
    mem_total = None
    for line in sections.get("free", []):
        if line.startswith("Mem:"):
            mem_total = int(line.split()[1])
    flags = lscpu.get("Flags", "").split()
    simd = [f for f in ("avx2", "fma", "avx512f", "avx512bw", "avx512vl") if f in flags]
    return {
        "cpu": lscpu.get("Model name", "?"),
        "cpus": lscpu.get("CPU(s)", "?"),
        "threads_per_core": lscpu.get("Thread(s) per core", "?"),
        "l1d": lscpu.get("L1d cache", "?"),
        "l2": lscpu.get("L2 cache", "?"),
        "l3": lscpu.get("L3 cache", "?"),
        "hypervisor": lscpu.get("Hypervisor vendor", "none"),
        "simd": simd,
        "memory_bytes": mem_total,
        "kernel": " ".join(sections.get("uname", [])),
        "compiler": " ".join(sections.get("compiler", [])),
        "git": " ".join(sections.get("git", [])),
        "git_dirty_files": int((sections.get("git-dirty") or ["0"])[0] or 0),
        "build": " ".join(sections.get("build", [])),
    }


def load_micro(path):
    """{run_name: {"median": entry, "mean": ..., "cv": ...}} with times in ns."""
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    runs = {}
    for b in data.get("benchmarks", []):
        if b.get("run_type") != "aggregate":
            continue
        entry = dict(b)
        if b.get("aggregate_unit", "time") == "time":
            scale = UNIT_NS[b.get("time_unit", "ns")]
            entry["real_ns"] = b["real_time"] * scale
            entry["cpu_ns"] = b["cpu_time"] * scale
            # CPU time, unless the benchmark asked for wall time (I/O waits
            # count there): on a shared machine it leaves out the time this
            # thread was descheduled.
            entry["time_ns"] = entry["real_ns"] if b["run_name"].endswith("/real_time") else entry["cpu_ns"]
        runs.setdefault(b["run_name"], {})[b["aggregate_name"]] = entry
    return data.get("context", {}), runs


def fmt_num(x, digits=3):
    if x is None or (isinstance(x, float) and (math.isnan(x) or math.isinf(x))):
        return "n/a"
    if x == 0:
        return "0"
    magnitude = math.floor(math.log10(abs(x)))
    if magnitude >= digits:
        return f"{x:,.0f}"
    return f"{x:,.{max(digits - 1 - magnitude, 0)}f}"


def fmt_time_ns(ns):
    if ns is None:
        return "n/a"
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if ns >= scale:
            return f"{fmt_num(ns / scale)} {unit}"
    return f"{fmt_num(ns)} ns"


def fmt_bytes(b):
    if b is None:
        return "n/a"
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if b >= scale:
            return f"{fmt_num(b / scale)} {unit}"
    return f"{b:.0f} B"


def fmt_rate(r):
    if r is None or (isinstance(r, float) and math.isnan(r)):
        return "n/a"
    for unit, scale in (("M", 1e6), ("k", 1e3)):
        if r >= scale:
            return f"{fmt_num(r / scale)} {unit}"
    return fmt_num(r)


def cv(runs, name):
    c = runs.get(name, {}).get("cv")
    if c is None:
        return None
    return (c["real_time"] if name.endswith("/real_time") else c["cpu_time"]) * 100


def median_ns(runs, name):
    m = runs.get(name, {}).get("median")
    return None if m is None else m["time_ns"]


def counter(runs, name, key, agg="median"):
    m = runs.get(name, {}).get(agg)
    return None if m is None else m.get(key)


def spread(runs, name):
    c = cv(runs, name)
    return "n/a" if c is None else f"±{c:.1f}%"


def verdict(ok):
    return "**met**" if ok else "**missed**"


class Report:
    def __init__(self):
        self.lines = []
        self.bars = []  # rows of the summary table
        self.twin = {}

    def add(self, *lines):
        self.lines.extend(lines)

    def table(self, header, rows):
        self.add("| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |")
        for row in rows:
            self.add("| " + " | ".join(str(c) for c in row) + " |")
        self.add("")


def micro_sections(rep, runs):
    twin = {}
    # --- SGD step
    rows, sgd = [], []
    for name in sorted(n for n in runs if n.startswith("BM_IsgdLearn")):
        m = re.search(r"dim:(\d+)/neg:(\d+)", name)
        if not m:
            continue
        dim, neg = int(m.group(1)), int(m.group(2))
        t = median_ns(runs, name)
        plain = name.startswith("BM_IsgdLearnPlainMf")
        size = re.search(r"size:(\d+)", name)
        label = "plain MF (no context)" if plain else "default (10-item context)"
        if size and int(size.group(1)) != 100000:
            label += f", {int(size.group(1)) // 1000}k items x users (cache-resident)"
        rows.append((dim, neg, label, fmt_time_ns(t), fmt_num(t / (1 + neg)), fmt_rate(1e9 / t), spread(runs, name)))
        sgd.append({"dim": dim, "negatives": neg, "context": not plain, "ns_per_event": t,
                    "ns_per_step": t / (1 + neg), "cv_percent": cv(runs, name)})
    rows.sort(key=lambda r: (r[2] != "default (10-item context)", r[2], r[1], r[0]))
    if rows:
        rep.add("### SGD step (`IsgdModel::Learn`, 100k items x 100k users, warm)", "")
        rep.add("One event = 1 positive step + `neg` sampled negative steps (+ the context update).", "")
        rep.table(["dim", "neg", "model", "time / event (median)", "ns / step", "events/s", "spread (CV)"], rows)
        twin["sgd"] = sgd

    # --- top-N
    def shape_of(name):
        m = re.search(r"items:(\d+)/users:(\d+)(?:/dim:(\d+))?", name)
        return int(m.group(1)), int(m.group(2)), int(m.group(3) or 64)

    def suffix_of(items, users, dim, legacy):
        return f"items:{items}/users:{users}" + ("" if legacy else f"/dim:{dim}")

    def pass_name(kind, items, dim, legacy):
        return f"BM_{kind}/items:{items}" + ("" if legacy else f"/dim:{dim}")

    topn_names = [n for n in runs if n.startswith("BM_TopN/")]
    legacy = bool(topn_names) and "/dim:" not in topn_names[0]
    shapes = sorted({shape_of(n) for n in topn_names}, key=lambda s: (s[2], s[0], s[1]))
    rows, topn = [], []
    for items, users, dim in shapes:
        suffix = suffix_of(items, users, dim, legacy)
        t = median_ns(runs, f"BM_TopN/{suffix}")
        full = median_ns(runs, f"BM_GemmFull/{suffix}")
        blocked = median_ns(runs, f"BM_GemmBlocked/{suffix}")
        refs = [x for x in (full, blocked) if x]
        ref = min(refs) if refs else None
        gemv = median_ns(runs, pass_name("Gemv", items, dim, legacy)) if users == 1 else None
        mem = median_ns(runs, pass_name("MemoryPass", items, dim, legacy))
        ratio = ref / t if (ref and t) else None
        gflops = 2.0 * users * items * dim / t if t else None
        row = {"items": items, "users": users, "dim": dim, "topn_ns": t, "gemm_full_ns": full,
               "gemm_blocked_ns": blocked, "gemv_ns": gemv, "memory_pass_ns": mem, "ratio_to_gemm": ratio,
               "topn_gflops": gflops,
               "cv_percent": cv(runs, f"BM_TopN/{suffix}")}
        topn.append(row)
        one = users == 1
        rows.append((fmt_num(items), users, dim, fmt_time_ns(t), spread(runs, f"BM_TopN/{suffix}"),
                     fmt_time_ns(t / users) if t else "n/a", fmt_num(gflops),
                     fmt_time_ns(full), fmt_time_ns(blocked),
                     f"{ratio * 100:.0f}%" if ratio else "n/a",
                     (f"{mem / t * 100:.0f}%" if (mem and t) else "n/a") if one else ""))
    if rows:
        rep.add("### Top-N (`serving::TopN`, N = 10) beside plain Eigen GEMM of the same shape", "")
        rep.add("`GEMM full`: one product into a users x items matrix. `GEMM blocked`: the same in item blocks of "
                "4096 into one reused buffer (TopN's own blocking, no bias, no selection). `vs GEMM` = the faster "
                "GEMM's time / TopN's time (bar: >= 60% for batches); for one user the floor is one memory pass "
                "over the item matrix (sum of its floats), shown as pass time / TopN time.", "")
        rep.table(["items", "users", "dim", "TopN", "spread", "per user", "GFLOP/s", "GEMM full", "GEMM blocked",
                   "vs GEMM", "vs memory pass"],
                  rows)
        twin["top_n"] = topn
        mem_rows = []
        for items, dim in sorted({(r["items"], r["dim"]) for r in topn}, key=lambda x: (x[1], x[0])):
            mem = median_ns(runs, pass_name("MemoryPass", items, dim, legacy))
            bps = counter(runs, pass_name("MemoryPass", items, dim, legacy), "bytes_per_second")
            gemv = median_ns(runs, pass_name("Gemv", items, dim, legacy))
            mem_rows.append((fmt_num(items), dim, fmt_bytes(items * dim * 4), fmt_time_ns(mem),
                             f"{bps / 1e9:.1f} GB/s" if bps else "n/a", fmt_time_ns(gemv)))
        rep.add("Memory-bandwidth pass and GEMV over the item matrix:", "")
        rep.table(["items", "dim", "matrix", "memory pass", "bandwidth", "GEMV (1 user)"], mem_rows)

    # --- records
    rows, rec = [], []
    for kind in ("User", "Item"):
        for dim in (64, 128):
            enc, dec = f"BM_Encode{kind}/dim:{dim}", f"BM_Decode{kind}/dim:{dim}"
            if enc not in runs:
                continue
            size = counter(runs, enc, "record_bytes")
            rows.append((kind.lower(), dim, fmt_num(size), fmt_time_ns(median_ns(runs, enc)), spread(runs, enc),
                         fmt_time_ns(median_ns(runs, dec)), spread(runs, dec),
                         f"{counter(runs, dec, 'bytes_per_second') / 1e9:.2f} GB/s"))
            rec.append({"kind": kind.lower(), "dim": dim, "bytes": size, "encode_ns": median_ns(runs, enc),
                        "decode_ns": median_ns(runs, dec)})
    if rows:
        rep.add("### State records (`state/records.h`)", "")
        rep.add("User rows carry 50 recent and 200 seen items; item rows carry q_i and y_i.", "")
        rep.table(["record", "dim", "bytes", "encode", "spread", "decode", "spread", "decode rate"], rows)
        exp = [n for n in runs if n.startswith("BM_ExportEncodeUser")]
        if exp:
            parts = []
            for n in sorted(exp):
                dim = re.search(r"dim:(\d+)", n).group(1)
                parts.append(f"dim {dim}: {fmt_time_ns(median_ns(runs, n))}")
            rep.add("Export from the model + encode (a warm user with few items): " + ", ".join(parts), "")
        twin["records"] = rec

    # --- parsing
    names = [n for n in ("BM_ParseEvent", "BM_NlohmannDom", "BM_SimdjsonOndemand") if n in runs]
    if names:
        base = median_ns(runs, "BM_ParseEvent")
        rows = []
        for n in names:
            t = median_ns(runs, n)
            rows.append((n[3:], fmt_time_ns(t), spread(runs, n), fmt_rate(1e9 / t) + " events/s",
                         f"{counter(runs, n, 'bytes_per_second') / 1e6:.0f} MB/s", f"{base / t:.2f}x"))
        size = counter(runs, "BM_ParseEvent", "event_bytes")
        rep.add(f"### Event parsing ({fmt_num(size)}-byte events, 4096 distinct)", "")
        rep.add("`ParseEvent` validates (types, ids, UTF-8, ranges, timestamps) and builds a `schemas::Event`; "
                "the references only parse.", "")
        rep.table(["parser", "time / event", "spread", "rate", "throughput", "speed vs ParseEvent"], rows)
        twin["parse"] = {n[3:]: median_ns(runs, n) for n in names}

    # --- RocksDB
    names = [n for n in runs if n.startswith("BM_FeatureStoreWrite") or n.startswith("BM_RocksDbWriteBatch")]
    if names:
        rows = []
        for n in sorted(names):
            rate = counter(runs, n, "items_per_second")
            rows.append((n[3:].replace("/real_time", ""), fmt_time_ns(median_ns(runs, n)), spread(runs, n),
                         fmt_rate(rate) + " records/s",
                         f"{counter(runs, n, 'bytes_per_second') / 1e6:.0f} MB/s"))
        fs = [n for n in names if "FeatureStore" in n]
        raw = [n for n in names if "RocksDb" in n]
        rep.add("### RocksDB batch write (1000 user records of ~1.3 KB per batch, WAL on, no sync)", "")
        rep.table(["writer", "time / batch", "spread", "rate", "throughput"], rows)
        if fs and raw:
            r = counter(runs, fs[0], "items_per_second") / counter(runs, raw[0], "items_per_second")
            rep.add(f"FeatureStore::Write reaches {r * 100:.0f}% of a raw WriteBatch of the same bytes "
                    "(it also validates and encodes each record).", "")
        twin["rocksdb"] = {n[3:]: counter(runs, n, "items_per_second") for n in names}
    return twin


def e2e_sections(rep, e2e):
    twin = {}
    ing = e2e.get("ingest")
    if ing and "error" not in ing:
        run0 = ing["runs"][0]
        pipe, store = run0["pipeline"], run0["store"]
        rep.add("### Ingest throughput", "")
        rep.add(f"{fmt_num(ing['events'])} synthetic events ({ing['load']['mean_event_bytes']:.0f} bytes each, "
                f"{fmt_num(ing['users'])} users, {fmt_num(ing['items'])} items, Zipf item popularity) preloaded "
                f"into the embedded broker ({ing['partitions']} partitions, lz4; watermarks checked: nothing "
                "dropped), then the pipeline (`Pipeline::Run`, as `streamrec run`) until every event was applied. "
                "References in the same run: a bare `kafka::Consumer` with the pipeline's client settings "
                "draining the same topics (best of one run before and two after the pipeline), and a `FeatureStore` "
                "writing the same records in the same batch sizes (replayed through the learner; only the "
                f"writes timed). Settings: {json.dumps(ing.get('settings', {}))}.", "")
        rows = [
            ("pipeline (consume, parse, learn, persist; lists refreshed on the worker's thread)",
             fmt_rate(ing["pipeline_events_per_second"]["median"]), "1.00"),
            ("bare consumer (reference)", fmt_rate(ing["consumer_events_per_second"]["median"]),
             f"{ing['pipeline_events_per_second']['median'] / ing['consumer_events_per_second']['median']:.3f}"),
            ("FeatureStore writes only (reference)", fmt_rate(ing["store_events_per_second"]["median"]),
             f"{ing['pipeline_events_per_second']['median'] / ing['store_events_per_second']['median']:.3f}"),
            ("parse only", fmt_rate(ing["parse_events_per_second"]["median"]), ""),
            ("learn only", fmt_rate(ing["learn_events_per_second"]["median"]), ""),
        ]
        rep.table(["stage", "events/s (median)", "pipeline / this"], rows)
        n_runs = len(ing["runs"])
        p = ing["pipeline_events_per_second"]
        rep.add(f"Runs: {n_runs}" + (f" (pipeline min {fmt_rate(p['min'])}, max {fmt_rate(p['max'])})"
                                      if n_runs > 1 else " (use `--long` for 3)") + ". "
                f"Per batch of {fmt_num(ing['events'] / max(store['batches'], 1))} events the store reference "
                f"wrote {store['user_records'] / store['batches']:.0f} user, "
                f"{store['item_records'] / store['batches']:.0f} item and "
                f"{store['pending_records'] / store['batches']:.0f} pending records "
                f"({fmt_rate(store['records_per_second'])} records/s). At the last event the pipeline had "
                f"published {fmt_num(pipe['at_last_event']['lists_published'])} lists with "
                f"{fmt_num(pipe['at_last_event']['users_waiting'])} users waiting; finishing (publishing "
                f"every owed list) took {pipe['finish_seconds']:.1f} s. RSS {fmt_bytes(pipe['rss_bytes'])}, "
                f"store {fmt_bytes(pipe['store_bytes'])}.", "")
        twin["ingest"] = {k: ing[k] for k in ("events", "users", "items", "partitions", "ratio_to_lesser_reference",
                                              "lesser_reference")}
        twin["ingest"].update({k: ing[k]["median"] for k in ("pipeline_events_per_second",
                                                             "consumer_events_per_second",
                                                             "store_events_per_second", "parse_events_per_second",
                                                             "learn_events_per_second")})
        rep.bars.append(("ingest (learn + persist) >= 50% of the lesser reference",
                         f"{fmt_rate(ing['pipeline_events_per_second']['median'])} events/s",
                         f"{ing['lesser_reference']}: "
                         f"{fmt_rate(min(ing['consumer_events_per_second']['median'], ing['store_events_per_second']['median']))} events/s",
                         f"{ing['ratio_to_lesser_reference'] * 100:.1f}%",
                         verdict(ing["ratio_to_lesser_reference"] >= 0.5)))
    elif ing:
        rep.add("### Ingest throughput", "", f"Failed: `{ing['error']}`", "")

    fr = e2e.get("freshness")
    if fr and "error" not in fr:
        rep.add("### Freshness (produce -> list on `recommendations`)", "")
        t = fr["template"]
        rep.add(f"A warm model of {fmt_num(fr['users'])} users x {fmt_num(fr['items'])} items (every user past "
                f"cold start, so every list is an exact top-N over the catalog) loaded by the pipeline; events "
                f"for uniformly drawn users produced at a fixed rate ({fr['warmup_seconds']:.0f} s warm-up, "
                f"{fr['measure_seconds']:.0f} s measured, 10 s drain); the bench tails `recommendations` and "
                "matches each event to the first list of its user whose `source_event_ts` covers it. Latency = "
                "produce call -> list arrival in the bench (same clock). The split is at the list's "
                "`generated_at`, the wall clock when the refresher took the user, before its top-N (ms resolution). Settings: " + json.dumps(fr.get("settings", {})) + ".", "")
        if "feed_linger_ms" in fr:
            rep.add(f"Kafka side: `events` has {fr['event_partitions']} partition(s), `recommendations` "
                    f"{fr['list_partitions']}; the feed producer lingers {fr['feed_linger_ms']} ms (included in the "
                    "latency). The embedded broker walks a partition's message sets one by one to find a fetch "
                    "offset, so fewer, larger sets keep its cost (not Apache Kafka's) out of the figures.", "")
        repeats = fr.get("repeats", 1)
        if repeats > 1:
            rep.add(f"Each pipeline run was repeated {repeats} times (the `k/{repeats}` rows); the bars take the "
                    "median p99 of a configuration's runs, as this shared host's phase moves a p99 several-fold "
                    "between runs.", "")

        def rate_label(r):
            return fmt_num(r["rate"]) + (f" ({r['repeat']}/{repeats})" if repeats > 1 else "")

        rows, runs = [], []
        for r in fr["runs"]:
            lat, split = r["latency_ms"], r["split_ms"]
            rows.append((rate_label(r), fmt_num(r["achieved_rate"]), fmt_num(r["measured_events"]),
                         fmt_num(lat["p50"]), fmt_num(lat["p99"]), fmt_num(lat["max"]),
                         f"{r['refreshed_share'] * 100:.1f}%",
                         fmt_num(split["produce_to_computed"]["p50"]), fmt_num(split["computed_to_arrived"]["p50"]),
                         f"{r['pipeline']['events_applied'] / max(r['pipeline']['batches'], 1):.1f}",
                         r.get("index", {}).get("kind", "exact")
                         + (f" (recall@10 {r['index']['recall_at_n']:.3f})"
                            if r.get("index", {}).get("kind", "exact") != "exact" else "")
                         + (f", {r['index']['sq8_skipped_share'] * 100:.0f}% of the int8 scan skipped"
                            if r.get("index", {}).get("kind") == "sq8" and "sq8_skipped_share" in r["index"] else ""),
                         fmt_bytes(r["rss_bytes"]), fmt_bytes(r["store_bytes"])))
            runs.append({"rate": r["rate"], "repeat": r.get("repeat", 1),
                         "ranking": r.get("index", {}).get("kind", "exact"), "p50_ms": lat["p50"],
                         "p99_ms": lat["p99"], "max_ms": lat["max"], "refreshed_share": r["refreshed_share"]})
        rep.table(["events/s", "achieved", "events measured", "p50 ms", "p99 ms", "max ms", "refreshed",
                   "p50 produce -> refresh start", "p50 refresh start -> arrival", "events / batch", "ranking", "RSS",
                   "store"], rows)
        rep.add(f"Template: built in {t['total_seconds']:.0f} s, store {fmt_bytes(t.get('store_bytes'))}; "
                f"pipeline open (load) {fr['runs'][0]['pipeline']['open_seconds']:.1f} s.", "")
        staged = [r for r in fr["runs"] if "stages_ms" in r]
        if staged:
            rep.add("Where each latency went, from the pipeline's own clocks (wall ms): *stored* = event ts -> its "
                    "batch stored (feed hop, learning, store write); *queued* = -> the refresh round took the user; "
                    "*ranked* = -> the list handed to Kafka (top-N, and the round's earlier lists); *delivered* = "
                    "-> arrival in the bench. Each as p50 / p99 / mean over the slowest 1% of events (what the p99 "
                    "is made of).", "")
            srows = []
            for r in staged:
                st = r["stages_ms"]
                srows.append((rate_label(r), r.get("index", {}).get("kind", "exact"),
                              *(f"{fmt_num(st[s]['p50'])} / {fmt_num(st[s]['p99'])} / "
                                f"{fmt_num(st[s]['slowest_1pct_mean'])}"
                                for s in ("stored", "queued", "ranked", "delivered"))))
            rep.table(["events/s", "ranking", "stored", "queued", "ranked", "delivered"], srows)
        relay = {r["rate"]: r for r in fr.get("relay_runs", [])}
        if relay:
            rep.add("Reference, same run: a bare relay with the pipeline's client settings answers each event at "
                    "once with a list-shaped record (consume, parse, produce; no learning, store or ranking), on a "
                    "fresh broker at the same rate: the floor the two Kafka hops through the embedded broker set "
                    "on this machine. `x relay` = the pipeline's percentile / the relay's.", "")
            rrows = []
            for r in fr["runs"]:
                ref = relay.get(r["rate"])
                if ref is None:
                    continue
                rl, pl = ref["latency_ms"], r["latency_ms"]
                rrows.append((rate_label(r), fmt_num(rl["p50"]), fmt_num(rl["p99"]), fmt_num(rl["max"]),
                              f"{ref['refreshed_share'] * 100:.1f}%",
                              f"{pl['p50'] / max(rl['p50'], 1e-9):.1f}x", f"{pl['p99'] / max(rl['p99'], 1e-9):.1f}x"))
            rep.table(["events/s", "relay p50 ms", "relay p99 ms", "relay max ms", "answered",
                       "pipeline p50 x relay", "pipeline p99 x relay"], rrows)
        twin["freshness"] = {"users": fr["users"], "items": fr["items"], "runs": runs,
                             "relay_runs": [{"rate": r["rate"], "p50_ms": r["latency_ms"]["p50"],
                                             "p99_ms": r["latency_ms"]["p99"]} for r in relay.values()]}
        # The bars, per (rate, ranking): the median p99 of its runs; every run
        # must have refreshed every list (and kept the index's recall).
        groups = {}
        for r in fr["runs"]:
            groups.setdefault((r["rate"], r.get("index", {}).get("kind", "exact")), []).append(r)

        def judged(group):
            p99s = sorted(x["latency_ms"]["p99"] for x in group)
            p99 = statistics.median(p99s)
            refreshed = min(x["refreshed_share"] for x in group)
            shown = f"p99 {fmt_num(p99)} ms" + (
                f" (median of {len(group)} runs: {', '.join(fmt_num(p) for p in p99s)})" if len(group) > 1 else "")
            return p99, refreshed, f"{shown}, {refreshed * 100:.1f}% refreshed"

        shape = f"{fmt_num(fr['users'])} users x {fmt_num(fr['items'])} items"
        if (1000, "exact") in groups:
            p99, refreshed, shown = judged(groups[(1000, "exact")])
            ref = relay.get(1000)
            rep.bars.append(("freshness p99 <= 50 ms at 1k events/s, exact, every list refreshed", shown,
                             shape + (f"; bare relay p99 {fmt_num(ref['latency_ms']['p99'])} ms" if ref else ""),
                             f"{p99 / max(ref['latency_ms']['p99'], 1e-9):.1f}x relay" if ref else "",
                             verdict(p99 <= 50 and refreshed >= 0.999)))
        approximate = [kind for (rate, kind) in groups if rate == 5000 and kind != "exact"]
        for kind in approximate:
            group = groups[(5000, kind)]
            p99, refreshed, shown = judged(group)
            recall = min(x["index"]["recall_at_n"] for x in group)
            checked = sum(x["index"]["recall_checked_lists"] for x in group)
            rep.bars.append(("freshness p99 <= 50 ms at 5k events/s with an approximate index (recall@10 >= 0.95)",
                             f"{kind}: {shown}, recall@10 {recall:.3f}{' (lowest run)' if len(group) > 1 else ''} "
                             f"over {fmt_num(int(checked))} lists",
                             shape, "", verdict(p99 <= 50 and refreshed >= 0.999 and recall >= 0.95)))
        if not approximate and (5000, "exact") in groups:
            _, _, shown = judged(groups[(5000, "exact")])
            rep.bars.append(("freshness p99 <= 50 ms at 5k events/s with an approximate index (recall@10 >= 0.95)",
                             f"exact: {shown}", "approximate: run with `--fresh-sq8-rates 5000`", "",
                             "**missed (exact)**"))
    elif fr:
        rep.add("### Freshness", "", f"Failed: `{fr['error']}`", "")

    mem = e2e.get("memory")
    if mem and "error" not in mem:
        rep.add(f"### Memory (dim {mem['dim']}, {mem['events_per_user']} events per user)", "")
        rep.add(f"Measured on {fmt_num(mem['users'])} users and {fmt_num(mem['items'])} items, scaled to one "
                "million. RSS from /proc/self/status (VmRSS growth), heap = bytes allocated and not freed (jemalloc's "
                "stats.allocated, or glibc's mallinfo2); store = `du` of a store holding only those rows, reopened (WAL replayed into lz4 SST files).", "")
        rows = [("per million items", fmt_bytes(mem["rss_bytes_per_million_items"]),
                 fmt_bytes(mem["heap_bytes_per_million_items"]), fmt_bytes(mem["factor_bytes_per_million_items"]),
                 fmt_bytes(mem["store_bytes_per_million_items"])),
                ("per million users", fmt_bytes(mem["rss_bytes_per_million_users"]),
                 fmt_bytes(mem["heap_bytes_per_million_users"]), fmt_bytes(mem["factor_bytes_per_million_users"]),
                 fmt_bytes(mem["store_bytes_per_million_users"]))]
        rep.table(["", "RSS", "heap", "of which factors (floats)", "store on disk"], rows)
        twin["memory"] = {k: v for k, v in mem.items() if k.endswith("per_million_items") or
                          k.endswith("per_million_users")}
        bounded = mem.get("bounded")
        if bounded:
            rep.add("Bounded state: waves of new users, two hours of stream time apart, under "
                    f"`learner.user_ttl` = {bounded['ttl_ms'] / 3600000:.0f} h (10,000 items). Expired users' "
                    "slots are reused, so live users and RSS stay flat while the users seen grow.", "")
            rep.table(["wave", "users seen", "users live", "user slots", "RSS"],
                      [(w["wave"], fmt_num(w["users_seen"]), fmt_num(w["users_live"]), fmt_num(w["user_slots"]),
                        fmt_bytes(w["rss_bytes"])) for w in bounded["waves"]])
            twin["memory"]["bounded"] = bounded
    elif mem:
        rep.add("### Memory", "", f"Failed: `{mem['error']}`", "")

    ev = e2e.get("evaluation")
    if ev and "error" not in ev:
        rep.add(f"### Evaluation speed (prequential, ISGD dim {ev['dim']}, exact ranking included)", "")
        rep.add("Reference: one memory pass (sum of all floats) over an item matrix of as many items as the "
                "evaluation knew on average when ranking, measured in the same process.", "")
        rows, streams = [], []
        for s in ev["streams"]:
            rows.append((s["stream"].split("/")[-1], fmt_num(s["events"]), fmt_num(s["items"]),
                         f"{s['recall_at_10']:.4f}", fmt_rate(s["events_per_second"]),
                         fmt_num(s["us_per_event"]), fmt_num(s["memory_pass_us_mean_catalog"]),
                         f"{s['ratio_to_memory_pass']:.2f}x"))
            streams.append({k: s[k] for k in ("stream", "events", "items", "recall_at_10", "events_per_second",
                                              "us_per_event", "memory_pass_us_mean_catalog",
                                              "ratio_to_memory_pass", "index_recall_at_10") if k in s})
            rep.bars.append((f"evaluation within 2x of one memory pass per event ({s['stream'].split('/')[-1]})",
                             f"{fmt_num(s['us_per_event'])} µs/event",
                             f"pass {fmt_num(s['memory_pass_us_mean_catalog'])} µs", f"{s['ratio_to_memory_pass']:.2f}x",
                             verdict(s["ratio_to_memory_pass"] <= 2.0)))
        rep.table(["stream", "events", "items", "recall@10", "events/s", "µs / event", "memory pass µs",
                   "event / pass"], rows)
        # The approximate indexes on each trained model (serving.index_candidates' evidence).
        recall_rows = []
        for s in ev["streams"]:
            index_recall = s.get("index_recall_at_10")
            if not index_recall:
                continue
            for index in ("sq8", "hnsw"):
                by_candidates = index_recall.get(index, {})
                recall_rows.append((s["stream"].split("/")[-1], index, fmt_num(index_recall["warm_users"]),
                                    *(f"{by_candidates[k]:.4f}" if k in by_candidates else "-"
                                      for k in ("candidates_10", "candidates_25", "candidates_50", "candidates_100"))))
        if recall_rows:
            configured = ev["streams"][0].get("index_candidates")
            rep.add("Recall@10 of the approximate indexes against exact lists, every warm user of the trained "
                    "model, by `serving.index_candidates`" + (f" (this run's setting: {configured})" if configured
                                                              else "") + ":", "")
            rep.table(["stream", "index", "warm users", "10", "25", "50", "100"], recall_rows)
        twin["evaluation"] = streams
    elif ev:
        rep.add("### Evaluation", "", f"Failed: `{ev['error']}`", "")
    return twin


def sanitize(x):
    """NaN and infinities become null, so the twin is strict JSON."""
    if isinstance(x, float) and (math.isnan(x) or math.isinf(x)):
        return None
    if isinstance(x, dict):
        return {k: sanitize(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [sanitize(v) for v in x]
    return x


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--micro")
    ap.add_argument("--e2e")
    ap.add_argument("--machine", required=True)
    ap.add_argument("--mode", default="default")
    ap.add_argument("--date", required=True)
    ap.add_argument("--out-md", required=True)
    ap.add_argument("--out-json", required=True)
    args = ap.parse_args()

    machine = parse_machine(args.machine)
    rep = Report()
    micro_twin, e2e_twin, micro_context, e2e = {}, {}, {}, {}
    body = Report()
    if args.micro:
        micro_context, runs = load_micro(args.micro)
        body.add("## Micro benchmarks (Google Benchmark)", "")
        reps = next((r["median"].get("repetitions") for r in runs.values() if "median" in r), "?")
        body.add(f"Median of {reps} repetitions, randomly interleaved across benchmarks, of CPU time (wall time "
                 "for the RocksDB writes, whose I/O waits count); spread = coefficient of variation across the "
                 "repetitions. Built with the project's `STREAMREC_MARCH`; one thread.", "")
        micro_twin = micro_sections(body, runs)
        for row in micro_twin.get("top_n", []):
            if row["users"] >= 64 and row["dim"] == 64 and row["ratio_to_gemm"]:
                body.bars.append((f"top-N batch >= 60% of plain GEMM ({fmt_num(row['items'])} items x "
                                  f"{row['users']} users, dim 64)", fmt_time_ns(row["topn_ns"]),
                                  f"GEMM {fmt_time_ns(min(x for x in (row['gemm_full_ns'], row['gemm_blocked_ns']) if x))}",
                                  f"{row['ratio_to_gemm'] * 100:.0f}%",
                                  verdict(row["ratio_to_gemm"] >= 0.6)))
    if args.e2e:
        with open(args.e2e, encoding="utf-8") as f:
            e2e = json.load(f)
        body.add("## End-to-end (`streamrec_bench_e2e`)", "")
        e2e_twin = e2e_sections(body, e2e)

    mem = machine["memory_bytes"]
    rep.add(f"# Benchmarks, {args.date}" + (" (quick run)" if args.mode == "quick" else ""), "")
    rep.add(f"Machine: {machine['cpu']}, {machine['cpus']} vCPUs ({machine['threads_per_core']} thread/core, "
            f"hypervisor {machine['hypervisor']}), {', '.join(machine['simd'])}; caches L1d {machine['l1d']}, "
            f"L2 {machine['l2']}, L3 {machine['l3']}; {fmt_bytes(mem)} RAM; {machine['kernel']}; "
            f"{machine['compiler']}; build {machine['build']}"
            + (f", malloc {e2e['allocator']}" if e2e.get("allocator") else "")
            + f"; commit {machine['git'][:12]}"
            + (f" plus {machine['git_dirty_files']} uncommitted files" if machine["git_dirty_files"] else "")
            + ".", "")
    if micro_context.get("library_build_type") == "debug":
        rep.add("Debian's libbenchmark reports itself as a debug build; that affects only its own bookkeeping "
                "between timed regions, not the code measured.", "")
    rep.add("The machine is shared and noisy: compare ratios to the references measured in the same run, not "
            "absolute figures across runs. Reproduce with `scripts/bench.sh` (`--quick`, `--long`).", "")
    rep.add("## Bars (issue 5)", "")
    rep.table(["bar", "measured", "reference (same run)", "ratio", "verdict"], body.bars)
    rep.lines.extend(body.lines)
    with open(args.out_md, "w", encoding="utf-8") as f:
        f.write("\n".join(rep.lines).rstrip() + "\n")

    twin = {"date": args.date, "mode": args.mode, "machine": machine,
            "bars": [dict(zip(["bar", "measured", "reference", "ratio", "verdict"], b[:4] + (b[4].strip("*"),)))
                     for b in body.bars],
            "micro": micro_twin, "e2e": e2e_twin, "e2e_raw": e2e,
            "micro_context": micro_context}
    with open(args.out_json, "w", encoding="utf-8") as f:
        json.dump(sanitize(twin), f, indent=1, allow_nan=False, default=str)
        f.write("\n")


if __name__ == "__main__":
    main()
