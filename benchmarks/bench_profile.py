"""`assay profile` on a 100,000-prompt dataset, without and with topic clusters: wall and CPU time, peak memory.

    PYTHONPATH=src python benchmarks/bench_profile.py [--n 100000] [--runs 3] [--topic-runs 1] [--db /tmp/profile100k.db]

The dataset is synthetic: prompts from 8 topic templates with 0 to 80 filler words from a
vocabulary of 5,000, a category per template, 70% with a stored language (the rest are
detected on the default seeded sample of 2,000), a metadata key, 2% exact copies, 2% near
copies (one word changed), 1% with an e-mail address. A second dataset of 20,000 prompts
(other templates too) is the `--against` side of one comparison run. Each run is the
command in a child process (`benchmarks/treemem.py`: wall, CPU of the tree, peak summed RSS);
runs without and with topics alternate. `uptime` is printed before and after.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

TEMPLATES = [
    ("cooking", "How long should I bake {w} bread in the oven and what temperature works best"),
    ("code", "Why does my Python function that parses {w} return None instead of the list"),
    ("finance", "Should I move my {w} savings into an index fund before paying off the loan"),
    ("travel", "What is the cheapest way to travel from Paris to {w} by train in winter"),
    ("health", "Is it safe to take {w} together with ibuprofen for a headache"),
    ("law", "Can my landlord keep the {w} deposit if I leave before the lease ends"),
    ("math", "Prove that the sum of {w} consecutive odd numbers is a perfect square"),
    ("writing", "Write a short poem about {w} in the style of a sonnet"),
]


def build(db: str, n: int, n_other: int, seed: int = 0) -> None:
    from assay import records as R
    from assay.store import Store

    s = Store(db)
    if s.find(R.Dataset, "big") is not None:
        s.close()
        return
    rng = np.random.default_rng(seed)
    vocab = [f"w{i}" for i in range(5000)]

    def make(name: str, count: int, templates: list[tuple[str, str]]) -> list[R.Item]:
        out: list[R.Item] = []
        for k in range(count):
            r = rng.random()
            if r < 0.02 and out:  # exact copy of an earlier prompt
                text, cat = out[int(rng.integers(len(out)))].prompt, "copy"
            elif r < 0.04 and out:  # near copy: one word changed
                words = out[int(rng.integers(len(out)))].prompt.split()
                words[int(rng.integers(len(words)))] = "changed"
                text, cat = " ".join(words), "copy"
            else:
                cat, tpl = templates[int(rng.integers(len(templates)))]
                filler = " ".join(rng.choice(vocab, size=int(rng.integers(0, 80))))
                text = tpl.format(w=vocab[int(rng.integers(len(vocab)))]) + (" " + filler if filler else "") + "?"
                if rng.random() < 0.01:
                    text += " Reply to jo.smith@example.org"
            out.append(R.Item(id=R.Item.make_id(name, str(k), None, None), dataset=name, external_id=str(k),
                              prompt=text, category=cat, language="en" if rng.random() < 0.7 else None,
                              metadata={"source": "web" if rng.random() < 0.5 else "app"}))
        return out

    for name, count, tpls in (("big", n, TEMPLATES[:6]), ("other", n_other, TEMPLATES)):
        items = make(name, count, tpls)
        s.add([R.Dataset(name=name)])
        for lo in range(0, len(items), 20_000):
            s.add(items[lo:lo + 20_000])
    s.close()


def timed(cmd: list[str]) -> str:
    """treemem.py's line for ``cmd``: exit code, wall, CPU of the tree, peak RSS, load."""
    out = subprocess.run([sys.executable, str(Path(__file__).with_name("treemem.py")), *cmd],
                         capture_output=True, text=True, env={**os.environ, "OUT": "/dev/null"})
    return out.stdout.strip() or out.stderr.strip()[-300:]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--other", type=int, default=20_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--topic-runs", type=int, default=1)
    ap.add_argument("--db", default="/tmp/profile100k.db")
    args = ap.parse_args()
    url = f"sqlite:///{args.db}"
    t = time.time()
    build(url, args.n, args.other)
    print(f"store ready in {time.time() - t:.1f} s ({args.db})")
    print("uptime:", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())
    base = [sys.executable, "-m", "assay", "--db", url, "profile", "big", "--json"]
    plans = [("no topics", base + ["--no-topics"], args.runs), ("topics", base, args.topic_runs),
             ("against other, topics", base + ["--against", "other"], args.topic_runs)]
    for k in range(max(p[2] for p in plans)):
        for name, cmd, runs in plans:
            if k < runs:
                print(f"{name} (run {k + 1}): {timed(cmd)}", flush=True)
    print("uptime:", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())


if __name__ == "__main__":
    main()
