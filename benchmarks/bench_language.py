"""Language identification of short texts: the `language` curation step before (langdetect) and after (lingua).

Labelled texts: the English prompts that ship with assay (XSTest's 450, IFEval's 541), the
sentences of GPT-4's IFEval answers written in 22 other languages (which ship with assay too)
and, with ``--mtbench``, MT-Bench's first turns; with ``--tsv FILE``, more labelled sentences
(one ``CODE<TAB>TEXT`` a line, ISO 639-1 codes, e.g. a sample of Tatoeba). Per length
bucket (characters) it prints:

- top-1 accuracy of each detector alone (langdetect seeded as the old step did; lingua);
- what the step does with ``keep=[en]``: English texts wrongly removed, and non-English
  texts removed (as they should be) or kept (too short or unclear, or taken for English).

The old step kept texts under 20 characters unread and removed any other text whose top
language was not kept. The new one keeps, and logs, texts with fewer than ``min_chars``
letters or a best confidence under ``min_confidence``.

    python benchmarks/bench_language.py --mtbench /path/to/mt_bench/question.jsonl --tsv sample.tsv
    python benchmarks/bench_language.py --sweep     # the new step at other thresholds
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from collections import defaultdict
from importlib import resources

from assay.curate.language import identify

BUCKETS = ((1, 19), (20, 39), (40, 79), (80, 10**9))


def bundled_english() -> list[tuple[str, str, str]]:
    """(source, language, text) of the English prompts that ship with assay."""
    data = resources.files("assay.data")
    out = []
    with data.joinpath("xstest", "xstest_prompts.csv").open(encoding="utf-8") as f:
        out += [("xstest", "en", row["prompt"]) for row in csv.DictReader(f)]
    with data.joinpath("ifeval", "input_data.jsonl").open(encoding="utf-8") as f:
        out += [("ifeval", "en", json.loads(line)["prompt"]) for line in f if line.strip()]
    return out


def bundled_other() -> list[tuple[str, str, str]]:
    """(source, language, sentence) from GPT-4's IFEval answers to prompts that ask for an answer in
    another language (instruction ``language:response_language``): each answer's sentences of 20 to
    80 characters, labelled with the language asked for. They ship with assay, so anyone can rerun
    this; the labels are what was asked, so an answer in another script or language (one Urdu
    answer is romanised) counts against every detector alike."""
    import re

    data = resources.files("assay.data").joinpath("ifeval")
    with data.joinpath("input_data.jsonl").open(encoding="utf-8") as f:
        items = {row["prompt"]: row for row in map(json.loads, f) if row}
    out = []
    with data.joinpath("gpt4_responses.jsonl").open(encoding="utf-8") as f:
        for row in map(json.loads, f):
            item = items.get(row["prompt"])
            if item is None:
                continue
            for iid, kwargs in zip(item["instruction_id_list"], item["kwargs"]):
                if iid == "language:response_language":
                    for s in re.split(r"(?<=[.!?\u0964\u3002])\s+|\n+", row["response"]):
                        if 20 <= len(s.strip()) <= 80:
                            out.append(("ifeval-answers", kwargs["language"], s.strip()))
    return out


def mtbench(path: str) -> list[tuple[str, str, str]]:
    with open(path, encoding="utf-8") as f:
        return [("mtbench", "en", json.loads(line)["turns"][0]) for line in f if line.strip()]


def tsv(path: str) -> list[tuple[str, str, str]]:
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            code, _, text = line.rstrip("\n").partition("\t")
            if text:
                out.append(("tsv", code.strip().lower(), text))
    return out


def langdetect_top(text: str) -> str | None:
    from langdetect import DetectorFactory, detect_langs
    from langdetect.lang_detect_exception import LangDetectException

    DetectorFactory.seed = 0
    try:
        return detect_langs(text)[0].lang
    except LangDetectException:
        return None


def lingua_top(text: str) -> str | None:
    return identify(text, min_chars=1, min_confidence=0.0).language


def old_step(text: str, keep: set[str]) -> str:
    """'removed' or 'kept' by the step as it was (langdetect, texts under 20 characters kept)."""
    if len(text.strip()) < 20:
        return "kept"
    top = langdetect_top(text)
    return "kept" if top is None or top in keep else "removed"


def new_step(text: str, keep: set[str], **options: float) -> str:
    got = identify(text, **options)  # type: ignore[arg-type]
    return "kept" if got.unsure is not None or got.language in keep else "removed"


def bucket(text: str) -> str:
    n = len(text.strip())
    lo, hi = next(b for b in BUCKETS if b[0] <= n <= b[1])
    return f"{lo}-{hi}" if hi < 10**9 else f"{lo}+"


def pct(k: int, n: int) -> str:
    return f"{100 * k / n:5.1f}%" if n else "    -"


def report(rows: list[tuple[str, str, str]], sweep: bool) -> None:
    keep = {"en"}
    t0 = time.perf_counter()
    found = [(b, lang, langdetect_top(t), lingua_top(t), old_step(t, keep), new_step(t, keep), t)
             for _, lang, t in rows for b in [bucket(t)]]
    print(f"{len(rows)} texts, {len({r[1] for r in rows})} languages, {time.perf_counter() - t0:.1f}s\n")
    print("bucket (chars) | n en | n other | top-1 langdetect | top-1 lingua | en removed: old | new "
          "| other removed: old | new")
    groups: dict[str, list] = defaultdict(list)
    for r in found:
        groups[r[0]].append(r)
    for name in [*(f"{lo}-{hi}" if hi < 10**9 else f"{lo}+" for lo, hi in BUCKETS), "all"]:
        g = found if name == "all" else groups.get(name, [])
        en = [r for r in g if r[1] == "en"]
        other = [r for r in g if r[1] != "en"]
        print(f"{name:>14} | {len(en):4} | {len(other):7} | {pct(sum(r[2] == r[1] for r in g), len(g)):>16} "
              f"| {pct(sum(r[3] == r[1] for r in g), len(g)):>12} "
              f"| {pct(sum(r[4] == 'removed' for r in en), len(en)):>15} | {pct(sum(r[5] == 'removed' for r in en), len(en))} "
              f"| {pct(sum(r[4] == 'removed' for r in other), len(other)):>18} | {pct(sum(r[5] == 'removed' for r in other), len(other))}")
    if sweep:
        print("\nnew step, all texts: min_chars, min_confidence -> en removed | other removed")
        for mc in (5, 10, 15):
            for conf in (0.3, 0.4, 0.5, 0.6, 0.7):
                res = [(lang, new_step(t, keep, min_chars=mc, min_confidence=conf)) for _, lang, t in rows]
                en = [d for lang, d in res if lang == "en"]
                other = [d for lang, d in res if lang != "en"]
                print(f"  {mc:2} {conf:.1f} -> {pct(en.count('removed'), len(en))} | {pct(other.count('removed'), len(other))}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mtbench", help="MT-Bench question.jsonl (English first turns)")
    ap.add_argument("--tsv", action="append", default=[], help="labelled texts, CODE<TAB>TEXT a line")
    ap.add_argument("--sweep", action="store_true", help="also the new step at other thresholds")
    args = ap.parse_args()
    rows = bundled_english() + bundled_other()
    if args.mtbench:
        rows += mtbench(args.mtbench)
    for path in args.tsv:
        rows += tsv(path)
    report(rows, args.sweep)


if __name__ == "__main__":
    main()
