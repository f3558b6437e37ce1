"""Precision and recall of the injection and leakage detectors on a hand-labelled held-out set.

The set (``tests/redteam/data/injection_heldout.jsonl``, written by ``build_heldout.py`` beside it)
holds realistic answers written and labelled by hand before the detectors were run on them: 166
for injection (followed or not) and 68 for leakage (leaked or not), each with its category,
language and form. The set is split in two halves with a fixed seed, stratified by family and
label: ``dev`` is the half whose errors may be read while changing the rules, ``holdout`` the
half whose figures are reported and whose rows are never listed.

    python benchmarks/validate_injection_heldout.py [--half all|dev|holdout] [--by category,language,form]
        [--errors]          # list the dev half's misread rows (refused for the holdout half)
"""

from __future__ import annotations

import argparse
import json
import random
from collections import defaultdict
from pathlib import Path

from assay.redteam.canary import injection_call, leak_call

DATA = Path(__file__).resolve().parents[1] / "tests" / "redteam" / "data" / "injection_heldout.jsonl"
SPLIT_SEED = 20261205


def load(path: Path = DATA) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def split(rows: list[dict], seed: int = SPLIT_SEED) -> dict[str, str]:
    """id -> "dev" or "holdout": half of each (family, label) group, drawn with ``seed``."""
    groups: dict[tuple, list[str]] = defaultdict(list)
    for r in rows:
        groups[(r["family"], r["label"])].append(r["id"])
    rng = random.Random(seed)
    half = {}
    for key in sorted(groups):
        ids = sorted(groups[key])
        rng.shuffle(ids)
        for k, i in enumerate(ids):
            half[i] = "dev" if k < len(ids) // 2 else "holdout"
    return half


def verdict(row: dict) -> bool:
    if row["family"] == "injection":
        return injection_call(row["text"], row["canary"]).followed
    return leak_call(row["text"], row["canary"], row["protected"] or None).leaked


def confusion(pairs: list[tuple[bool, bool]]) -> dict:
    tp = sum(s and t for s, t in pairs)
    fp = sum(s and not t for s, t in pairs)
    fn = sum(t and not s for s, t in pairs)
    tn = sum(not s and not t for s, t in pairs)
    return {"n": len(pairs), "tp": tp, "fp": fp, "fn": fn, "tn": tn,
            "precision": tp / (tp + fp) if tp + fp else float("nan"),
            "recall": tp / (tp + fn) if tp + fn else float("nan"),
            "accuracy": (tp + tn) / len(pairs) if pairs else float("nan")}


def scores(rows: list[dict]) -> dict[str, dict]:
    """family -> confusion of the detector's verdicts against the labels."""
    by: dict[str, list] = defaultdict(list)
    for r in rows:
        by[r["family"]].append((verdict(r), r["label"]))
    return {f: confusion(p) for f, p in sorted(by.items())}


def _fmt(x: float) -> str:
    return "-" if x != x else f"{x:.3f}"


def table(title: str, groups: dict[str, list]) -> None:
    print(f"\n{title}\n| group | n | TP | FP | FN | TN | precision | recall | accuracy |\n"
          "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for g, pairs in sorted(groups.items()):
        c = confusion(pairs)
        print(f"| {g} | {c['n']} | {c['tp']} | {c['fp']} | {c['fn']} | {c['tn']} | {_fmt(c['precision'])} | "
              f"{_fmt(c['recall'])} | {_fmt(c['accuracy'])} |")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--half", choices=["all", "dev", "holdout"], default="all")
    ap.add_argument("--by", default="category,language,form", help="columns to break the tables down by")
    ap.add_argument("--errors", action="store_true", help="list the misread rows (dev half only)")
    args = ap.parse_args()
    rows = load()
    half = split(rows)
    if args.half != "all":
        rows = [r for r in rows if half[r["id"]] == args.half]
    print(f"{DATA.name}: {len(rows)} answers ({args.half}; split seed {SPLIT_SEED})")
    overall = defaultdict(list)
    for r in rows:
        overall[r["family"]].append((verdict(r), r["label"]))
    table("overall", overall)
    for col in [c for c in args.by.split(",") if c]:
        groups = defaultdict(list)
        for r in rows:
            groups[f"{r['family']} / {r.get(col)}"].append((verdict(r), r["label"]))
        table(f"by {col}", groups)
    if args.errors:
        if args.half != "dev":
            raise SystemExit("--errors lists the dev half only (use --half dev): the holdout half stays unread")
        print("\nerrors (dev half)")
        for r in rows:
            if verdict(r) != r["label"]:
                print(f"- {r['id']} [{r['category']}/{r['language']}/{r['form']}] label={r['label']} "
                      f"({r['reason']}): {r['text'][:160]!r}")


if __name__ == "__main__":
    main()
