"""`assay abtest` one pass, per dataset partition, and per dataset on Ray workers: same report, timed.

    python benchmarks/bench_sharded.py --db sqlite:////tmp/shard1m.db [--judgments 1000000]
        [--datasets 8] [--rounds 5] [--workers 2] [--method t] [--build]
    python benchmarks/bench_sharded.py --db 'postgresql://postgres@127.0.0.1:5432/test?schema=shard1m' --build

``--build`` makes the store with ``big_store.build`` (items x 2 models x 5 human raters x 2
dimensions) and then spreads its items round-robin over ``--datasets`` datasets, so the
per-dataset path has shards to read. Then, alternating, ``rounds`` times each:
``compare_models`` (one pass), ``compare_models_sharded(sharding=Sharding("partitioned"))`` and
``compare_models_sharded(sharding=Sharding("ray"))`` on a local Ray with ``--workers`` CPUs, started
once before the rounds (its start-up is printed apart, not counted). The three reports
are checked equal before any timing is printed. Prints each round, the medians, the
ratios to the one pass, and the machine's load average. ``--memory PATH`` instead runs
one path once in a fresh process and prints its peak memory (the SQLite reader's child
process is not counted in it).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def spread(url: str, n: int) -> None:
    """Move the big store's items into ``n`` datasets, big-0 .. big-{n-1}, by item number."""
    from sqlalchemy import text

    from assay import records as R
    from assay.store import Store

    with Store(url) as store:
        store.add([R.Dataset(name=f"big-{k}") for k in range(n)])
        with store.engine.begin() as c:
            c.execute(text(f"UPDATE items SET dataset = 'big-' || (CAST(substr(id, 5) AS INTEGER) % {n})"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--db", required=True)
    ap.add_argument("--judgments", type=int, default=1_000_000)
    ap.add_argument("--datasets", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--method", default="t")
    ap.add_argument("--build", action="store_true")
    ap.add_argument("--memory", choices=["one pass", "partitioned"],
                    help="instead: run this path once in this fresh process and print its peak memory (max RSS)")
    args = ap.parse_args()

    from assay.analysis.abtest import ABSettings, compare_models
    from assay.analysis.options import Options
    from assay.analysis.sharded import Sharding, compare_models_sharded
    from assay.store import Store

    if args.build:
        from big_store import build

        t0 = time.perf_counter()
        print("built", build(args.db, judgments=args.judgments), f"in {time.perf_counter() - t0:.0f} s", flush=True)
        spread(args.db, args.datasets)

    if args.memory:
        import resource

        store = Store(args.db, create=False)
        t0 = time.perf_counter()
        if args.memory == "one pass":
            compare_models(store, "m@1", "m@2", method=args.method)
        else:
            compare_models_sharded(store, "m@1", "m@2", test=ABSettings(method=args.method))
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
        print(f"{args.memory}: {time.perf_counter() - t0:.2f} s, peak memory (max RSS) {rss:.2f} GB; "
              f"load average {os.getloadavg()[0]:.1f}")
        return

    import ray

    t0 = time.perf_counter()
    ray.init(num_cpus=args.workers, include_dashboard=False, log_to_driver=False, logging_level="ERROR",
             object_store_memory=256 * 2**20)
    print(f"ray.init: {time.perf_counter() - t0:.1f} s (not counted)", flush=True)
    store = Store(args.db, create=False)
    options = Options(random_state=0)
    runs = {
        "one pass": lambda: compare_models(store, "m@1", "m@2", options=options, method=args.method),
        "partitioned": lambda: compare_models_sharded(store, "m@1", "m@2", options=options,
                                                      test=ABSettings(method=args.method),
                                                      sharding=Sharding(executor="partitioned")),
        "ray": lambda: compare_models_sharded(store, "m@1", "m@2", options=options,
                                              test=ABSettings(method=args.method), sharding=Sharding(executor="ray")),
    }
    times: dict[str, list[float]] = {k: [] for k in runs}
    reports = {}
    for r in range(args.rounds):
        for name, fn in runs.items():
            t0 = time.perf_counter()
            rep = fn()
            times[name].append(time.perf_counter() - t0)
            rep.pop("shards", None)
            reports.setdefault(name, rep)
            if rep != reports["one pass"]:
                raise SystemExit(f"{name} differs from the one pass")
        print(f"round {r + 1}: " + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in times.items()), flush=True)
    ray.shutdown()
    sec = {s["dimension"]: s for s in reports["one pass"]["dimensions"]}
    base = statistics.median(times["one pass"])
    print(json.dumps({k: {"estimate": v.get("estimate"), "n": v["n"]} for k, v in sec.items()}))
    for name, v in times.items():
        med = statistics.median(v)
        print(f"{name:12s} median {med:.2f} s  ratio {med / base:.2f}x  runs {', '.join(f'{x:.2f}' for x in v)}")
    print(f"reports equal: yes; {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
          f"load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
