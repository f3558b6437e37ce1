"""How long the Label Studio round trip costs: installing Label Studio into its own virtualenv
(scripts/install-label-studio) and running the live round-trip test. Prints each run and the medians.

    python benchmarks/bench_label_studio.py [--installs 1] [--test-runs 3]

Installs go into a fresh temporary folder each time (pip's cache, if warm, is used as the
suite would use it); the test runs use the virtualenv scripts/test keeps
(ASSAY_LABEL_STUDIO_VENV or ~/.cache/assay-tests/label-studio) and start a new Label Studio
each run. Not a test.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def timed(cmd: list[str], env: dict[str, str]) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--installs", type=int, default=1)
    ap.add_argument("--test-runs", type=int, default=3)
    args = ap.parse_args()
    installs, tests = [], []
    for i in range(args.installs):
        venv = Path(tempfile.mkdtemp(prefix="ls-bench-")) / "label-studio"
        try:
            installs.append(timed(["bash", "scripts/install-label-studio"],
                                  {**os.environ, "ASSAY_LABEL_STUDIO_VENV": str(venv)}))
        finally:
            shutil.rmtree(venv.parent, ignore_errors=True)
        print(f"install {i + 1}: {installs[-1]:.1f} s", flush=True)
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    for i in range(args.test_runs):
        tests.append(timed([sys.executable, "-m", "pytest", "-n", "0", "-q", "-p", "no:cacheprovider",
                            "tests/annotate/test_label_studio_live.py"], env))
        print(f"live round-trip tests (both stores, one server start): {tests[-1]:.1f} s", flush=True)
    if installs:
        print(f"install: median {statistics.median(installs):.1f} s of {len(installs)}")
    if tests:
        print(f"live tests: median {statistics.median(tests):.1f} s of {len(tests)}")


if __name__ == "__main__":
    main()
