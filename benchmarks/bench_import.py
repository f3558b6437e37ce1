"""Benchmark: import N responses (~200 characters each) into a fresh SQLite store, export them back.

    python benchmarks/bench_import.py --rows 1000000

Prints seconds and rows/s for the import (items + responses in one transaction) and the
JSONL export of the responses. Target (issue 2): 1,000,000 rows imported in under 60 s on one core.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import tempfile
import time
from pathlib import Path

from assay.io import FieldMap, export, import_file
from assay.store import Store

WORDS = ("the model answers every question with care and cites its sources where it can while keeping "
         "each reply short clear and polite so that raters can judge it quickly").split()


def make_file(path: Path, rows: int, seed: int = 0) -> None:
    rng = random.Random(seed)
    with open(path, "w", encoding="utf-8") as f:
        for i in range(rows):
            text = " ".join(rng.choices(WORDS, k=34))[:200]
            f.write(json.dumps({"id": i, "prompt": f"Question {i}: explain item {rng.random():.6f}.",
                                "response": text, "category": "bench"}) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--dir", default=None, help="work folder (default: a temporary one)")
    args = ap.parse_args()
    work = Path(args.dir or tempfile.mkdtemp(prefix="assay-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    data = work / "responses.jsonl"
    if not data.exists() or sum(1 for _ in open(data)) != args.rows:
        make_file(data, args.rows)
    db = work / "bench.db"
    for f in work.glob("bench.db*"):
        f.unlink()
    store = Store(str(db))
    c0, t0 = time.process_time(), time.perf_counter()
    s = import_file(store, data, dataset="bench", fields=FieldMap(model="bench-model@1"))
    t_import, c_import = time.perf_counter() - t0, time.process_time() - c0
    assert s.responses_added == args.rows and s.items_added == args.rows
    t0 = time.perf_counter()
    n = export(store, "responses", work / "out.jsonl")
    t_export = time.perf_counter() - t0
    assert n == args.rows
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"rows               {args.rows:,} ({data.stat().st_size / 1e6:.0f} MB JSONL)")
    print(f"import             {t_import:.1f} s wall, {c_import:.1f} s CPU, {args.rows / t_import:,.0f} rows/s")
    print(f"export (jsonl)     {t_export:.1f} s wall, {args.rows / t_export:,.0f} rows/s")
    print(f"store size         {sum(f.stat().st_size for f in work.glob('bench.db*')) / 1e6:.0f} MB; peak RSS {rss:.0f} MB")
    print(f"cores {os.cpu_count()}")


if __name__ == "__main__":
    main()
