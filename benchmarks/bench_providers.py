"""10,000 chat calls at concurrency 64 to a local server answering after 50 ms.

    python benchmarks/bench_providers.py [--calls 10000] [--concurrency 64] [--latency 0.05] [--rounds 5]

The scripted server (``python -m assay.testing``) runs in a separate process, so only the
client's CPU is counted (``time.process_time`` of this process, all threads). Compared,
alternating, in the same process: assay's client (``OpenAIChat.complete``, no cache), the
same through the run engine (``assay.runs.generate`` into a SQLite store: ledger,
Response records, batched writes), and plain asyncio + httpx doing the same calls.
Prints each round, then the median of each and the ratio to the ideal wall time
calls x latency / concurrency (target: 1.2x, and under 1 ms of client CPU a call).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time


def start_server(latency: float) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "assay.testing", "--latency", str(latency), "--no-record", "--model", "bench"],
        stdout=subprocess.PIPE, text=True,
    )
    base = proc.stdout.readline().strip()  # type: ignore[union-attr]
    import httpx

    for _ in range(200):
        try:
            httpx.get(base + "/models", timeout=1)
            return proc, base
        except httpx.TransportError:
            time.sleep(0.05)
    raise RuntimeError("the benchmark server did not start")


def messages(i: int) -> list[dict[str, str]]:
    return [{"role": "user", "content": f"question number {i}"}]


async def _pool(n: int, concurrency: int, call) -> list[str]:  # noqa: ANN001
    out: list[str] = [""] * n
    it = iter(range(n))

    async def worker() -> None:
        for i in it:
            out[i] = await call(i)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return out


async def run_assay(base: str, n: int, concurrency: int) -> list[str]:
    from assay.providers import make_provider
    from assay.records import Model

    client = make_provider(Model(id="bench@1", base_url=base), concurrency=concurrency, timeout=30)
    try:
        async def call(i: int) -> str:
            return (await client.complete(messages(i), sample_index=0)).text

        return await _pool(n, concurrency, call)
    finally:
        await client.aclose()


async def run_httpx(base: str, n: int, concurrency: int) -> list[str]:
    import httpx

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=30) as http:
        url = base + "/chat/completions"

        async def call(i: int) -> str:
            r = await http.post(url, json={"model": "bench", "messages": messages(i)})
            r.raise_for_status()
            return r.json()["choices"][0]["message"]["content"]

        return await _pool(n, concurrency, call)


def run_engine(base: str, n: int, concurrency: int) -> tuple[list[str], float, float]:
    """The run through the engine: answers, CPU time once the dataset is stored, wall time of the run."""
    from assay import records as R
    from assay.runs import generate
    from assay.session import Endpoint, Execution, Session
    from assay.store import Store

    with tempfile.TemporaryDirectory() as d:
        store = Store(os.path.join(d, "bench.db"))
        items = [R.Item(id=R.Item.make_id("bench", str(i), None, None), dataset="bench", external_id=str(i),
                        messages=messages(i)) for i in range(n)]
        store.add([R.Dataset(name="bench"), *items])
        t_ready = time.process_time()
        t_run = time.perf_counter()
        run = generate(Session(store, Endpoint(timeout=30, cache="own-run"), Execution(concurrency=concurrency)),
                       R.Model(id="bench@1", base_url=base), "bench")
        assert run.succeeded == n, run
        wall = time.perf_counter() - t_run
        texts = {r.item_id: r.text for r in store.iter("responses")}
        store.close()
        return [texts[it.id] for it in items], t_ready, wall


def measure(kind: str, base: str, n: int, c: int) -> tuple[float, float, list[str]]:
    if kind == "engine":
        out, cpu_ready, wall = run_engine(base, n, c)
        # from the dataset being stored (setup, not counted) to the responses read back
        return wall, time.process_time() - cpu_ready, out
    fn = run_assay if kind == "assay" else run_httpx
    c0 = time.process_time()
    t0 = time.perf_counter()
    out = asyncio.run(fn(base, n, c))
    return time.perf_counter() - t0, time.process_time() - c0, out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--calls", type=int, default=10_000)
    p.add_argument("--concurrency", type=int, default=64)
    p.add_argument("--latency", type=float, default=0.05)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--only", choices=["assay", "engine", "httpx"], action="append")
    a = p.parse_args()
    kinds = a.only or ["assay", "engine", "httpx"]
    ideal = a.calls * a.latency / a.concurrency
    proc, base = start_server(a.latency)
    try:
        # the fast path must give the reference's answers before it is timed
        small = {k: measure(k, base, 200, a.concurrency)[2] for k in kinds}
        ref = [f"echo: question number {i}" for i in range(200)]
        for k, got in small.items():
            assert got == ref, f"{k} answers differ from the reference"
        figures: dict[str, list[tuple[float, float]]] = {k: [] for k in kinds}
        for r in range(a.rounds):
            for k in kinds:
                wall, cpu, _ = measure(k, base, a.calls, a.concurrency)
                figures[k].append((wall, cpu))
                print(f"round {r + 1} {k:6s} wall {wall:6.2f} s ({wall / ideal:4.2f}x ideal)  client CPU {cpu * 1000 / a.calls:5.3f} ms/call", flush=True)
    finally:
        proc.terminate()
        proc.wait(10)
    print(f"\n{a.calls:,} calls, concurrency {a.concurrency}, latency {a.latency * 1000:g} ms: ideal {ideal:.2f} s; "
          f"median of {a.rounds} rounds; {os.cpu_count()} cores, Python {platform.python_version()}")
    summary = {}
    for k in kinds:
        wall = statistics.median(w for w, _ in figures[k])
        cpu = statistics.median(c for _, c in figures[k]) * 1000 / a.calls
        summary[k] = {"wall_s": round(wall, 3), "x_ideal": round(wall / ideal, 3), "cpu_ms_per_call": round(cpu, 4)}
        print(f"  {k:6s} wall {wall:6.2f} s = {wall / ideal:4.2f}x ideal   client CPU {cpu:5.3f} ms/call")
    if "assay" in summary and "httpx" in summary:
        print(f"  httpx / assay: wall {summary['httpx']['wall_s'] / summary['assay']['wall_s']:.2f}x, "
              f"CPU {summary['httpx']['cpu_ms_per_call'] / summary['assay']['cpu_ms_per_call']:.2f}x")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
