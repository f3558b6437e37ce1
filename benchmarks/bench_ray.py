"""10,000 generation calls at 50 ms latency: the Ray executor (2 local workers) beside the local executor.

    python benchmarks/bench_ray.py [--calls 10000] [--concurrency 64] [--latency 0.05] [--rounds 5] [--workers 2]

The scripted server (``python -m assay.testing``) runs in its own process. Both runs are
``assay.runs.generate`` into a fresh SQLite store (ledger, Response records, batched
writes, no cache), alternating, with the same limits: ``--concurrency`` requests in
flight for the model (the Ray workers get ``concurrency // workers`` each). Ray is
started once (``ray.init(num_cpus=workers)``, timed apart); each Ray run starts and
kills its own actors, which is counted. Prints each round, then the medians, the ratio
Ray / local and the ideal wall time calls x latency / concurrency. Driver CPU is this
process's ``time.process_time``; the Ray workers' CPU is not in it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_providers import messages, start_server  # noqa: E402 - the same server and prompts


def run(kind: str, base: str, n: int, concurrency: int, workers: int) -> tuple[list[str], float, float]:
    """One generation of ``n`` calls: the answers, wall seconds and driver CPU seconds of the run."""
    from assay import records as R
    from assay.runs import generate
    from assay.session import Endpoint, Execution, Session
    from assay.store import Store

    with tempfile.TemporaryDirectory() as d:
        store = Store(os.path.join(d, "bench.db"))
        items = [R.Item(id=R.Item.make_id("bench", str(i), None, None), dataset="bench", external_id=str(i),
                        messages=messages(i)) for i in range(n)]
        store.add([R.Dataset(name="bench"), *items])
        where = Execution(concurrency=concurrency, executor="ray", options={"num_workers": workers}) \
            if kind == "ray" else Execution(concurrency=concurrency)
        c0, t0 = time.process_time(), time.perf_counter()
        done = generate(Session(store, Endpoint(timeout=30, cache="own-run"), where),
                        R.Model(id="bench@1", base_url=base), "bench")
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        assert done.succeeded == n, done
        texts = {r.item_id: r.text for r in store.iter("responses")}
        store.close()
        return [texts[it.id] for it in items], wall, cpu


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--calls", type=int, default=10_000)
    p.add_argument("--concurrency", type=int, default=64)
    p.add_argument("--latency", type=float, default=0.05)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--workers", type=int, default=2)
    a = p.parse_args()
    import ray

    ideal = a.calls * a.latency / a.concurrency
    proc, base = start_server(a.latency)
    t = time.perf_counter()
    ray.init(num_cpus=a.workers, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    ray_start = time.perf_counter() - t
    kinds = ("local", "ray")
    figures: dict[str, list[tuple[float, float]]] = {k: [] for k in kinds}
    try:
        ref = [f"echo: question number {i}" for i in range(200)]
        for k in kinds:  # the same answers before timing
            assert run(k, base, 200, a.concurrency, a.workers)[0] == ref, f"{k} answers differ"
        for r in range(a.rounds):
            for k in kinds:
                _, wall, cpu = run(k, base, a.calls, a.concurrency, a.workers)
                figures[k].append((wall, cpu))
                print(f"round {r + 1} {k:5s} wall {wall:6.2f} s ({wall / ideal:4.2f}x ideal)  "
                      f"driver CPU {cpu * 1000 / a.calls:5.3f} ms/call", flush=True)
    finally:
        ray.shutdown()
        proc.terminate()
        proc.wait(10)
    print(f"\n{a.calls:,} calls, concurrency {a.concurrency}, latency {a.latency * 1000:g} ms, {a.workers} Ray workers: "
          f"ideal {ideal:.2f} s; median of {a.rounds} rounds; ray.init {ray_start:.1f} s (once); "
          f"{os.cpu_count()} cores, Python {platform.python_version()}, Ray {ray.__version__}")
    summary = {}
    for k in kinds:
        wall = statistics.median(w for w, _ in figures[k])
        cpu = statistics.median(c for _, c in figures[k]) * 1000 / a.calls
        summary[k] = {"wall_s": round(wall, 3), "x_ideal": round(wall / ideal, 3), "driver_cpu_ms_per_call": round(cpu, 4),
                      "rounds_wall_s": [round(w, 2) for w, _ in figures[k]]}
        print(f"  {k:5s} wall {wall:6.2f} s = {wall / ideal:4.2f}x ideal   driver CPU {cpu:5.3f} ms/call")
    print(f"  ray / local: wall {summary['ray']['wall_s'] / summary['local']['wall_s']:.2f}x")
    print(json.dumps({"ray_init_s": round(ray_start, 2), **summary}))


if __name__ == "__main__":
    main()
