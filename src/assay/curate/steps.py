"""Curation steps by name: each reads the items still in play and says which to remove or change, and why.

A step is made by a registered factory (``@step("name", version=...)``) that records the
arguments it was made with, so ``s.spec()`` stored in a curation run rebuilds the same
step with ``from_spec``. Steps are deterministic: items come in the pipeline's stated
order (see ``pipeline.curate``), ties go to the earlier item, and what is random (MinHash
permutations, language detection) is seeded.

>>> s = parse_step("length(unit=words, min=2)")
>>> [o.reason for o in s.apply([Item(id="a", dataset="d", prompt="hi"), Item(id="b", dataset="d", prompt="hi there")])]
['prompt has 1 word, fewer than the minimum 2']
>>> from_spec(s.spec()).label()
'length(unit="words", min=2)'
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from assay import records as R
from assay.plugins import Configured, Factories, Registration, split_calls
from assay.curate import pii as _pii
from assay.curate.text import check_fields, dup_key, item_text, ngrams, words
from assay.records import Item

if TYPE_CHECKING:
    from assay.store import Store

Progress = Callable[[int], None]


@dataclass(frozen=True)
class Decision:
    """What a step does to one item: remove it, replace it by ``item`` (same id, changed text), or keep
    it with a reason worth logging (e.g. too short to tell its language)."""

    item_id: str
    action: Literal["removed", "modified", "kept"]
    reason: str
    related_id: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    item: Item | None = None


@dataclass(frozen=True)
class Work:
    """What a step factory returns: ``apply(items, progress)``, and optionally ``prepare(store)``
    (reads the store before the pipeline's transaction opens) and ``scrub(text)`` (applies
    the step's change to other text, such as carried responses)."""

    apply: Callable[[list[Item], Progress], list[Decision]]
    prepare: Callable[[Store], None] | None = None
    scrub: Callable[[str], str] | None = None


class Step(Configured):
    """A configured curation step: a name, a version, its recorded arguments and its work."""

    what = "curation step"

    def prepare(self, store: Store) -> None:
        if self._made.prepare is not None:
            self._made.prepare(store)

    def apply(self, items: list[Item], progress: Progress | None = None) -> list[Decision]:
        """The outcomes for ``items`` (in their order); items without one are kept as they are."""
        return self._made.apply(list(items), progress or (lambda n: None))

    @property
    def scrub(self) -> Callable[[str], str] | None:
        return self._made.scrub


_STEPS: Factories[Step] = Factories("curation-step", Step)


def step(name: str, *, version: str = "1") -> Callable[[Callable[..., Work]], Callable[..., Step]]:
    """Register a factory of curation steps under ``name``; calling the result builds a Step.

    The factory takes keyword configuration (JSON values, recorded with defaults filled in),
    checks it (ValueError naming the argument) and returns a ``Work``.
    """
    return _STEPS.register(name, version=version)


get = _STEPS.get
names = _STEPS.names
registrations = _STEPS.registrations
arguments = _STEPS.arguments
create = _STEPS.create
from_spec = _STEPS.from_spec


def parse_step(text: str) -> Step:
    """One step from the CLI's syntax ``name`` or ``name(key=value, ...)`` (values JSON; strings may go unquoted)."""
    return _STEPS.parse(text)


def parse_steps(text: str) -> list[Step]:
    """Steps from ``a+b(k=v)+...``."""
    return [parse_step(part) for part in split_calls(text)]


# ---- helpers ---------------------------------------------------------------------------------


def _per_item(check: Callable[[Item], Decision | None]) -> Callable[[list[Item], Progress], list[Decision]]:
    """``apply`` for a step that judges each item on its own."""
    def apply(items: list[Item], progress: Progress) -> list[Decision]:
        out = []
        for k, it in enumerate(items, 1):
            o = check(it)
            if o is not None:
                out.append(o)
            if k % 1000 == 0 or k == len(items):
                progress(k)
        return out
    return apply


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _bound(value: Any, arg: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{arg} must be a whole number >= 0, not {value!r}")
    return value


def _unit_interval(value: Any, arg: str, *, low_open: bool = True) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (0 < value <= 1 if low_open else 0 <= value <= 1):
        raise ValueError(f"{arg} must lie in {'(0, 1]' if low_open else '[0, 1]'}, not {value!r}")
    return float(value)


def _str_list(value: Any, arg: str) -> list[str]:
    out = [value] if isinstance(value, str) else value
    if not isinstance(out, list) or not out or not all(isinstance(v, str) and v for v in out):
        raise ValueError(f"{arg} must be a non-empty list of names, not {value!r}")
    return out


# ---- the steps -------------------------------------------------------------------------------


@step("empty")
def empty(fields: Any = "prompt") -> Work:
    """Remove items whose prompt (or other given fields) is missing or only whitespace."""
    names_ = check_fields(fields)

    def check(it: Item) -> Decision | None:
        blank = [f for f in names_ if not item_text(it, f).strip()]
        if blank:
            return Decision(it.id, "removed", f"empty {' and '.join(blank)}", detail={"fields": blank})
        return None

    return Work(_per_item(check))


@step("length")
def length(field: str = "prompt", unit: str = "chars", min: int | None = None, max: int | None = None) -> Work:  # noqa: A002
    """Remove items whose prompt (or reference) is shorter than ``min`` or longer than ``max`` chars or words."""
    check_fields(field, "field")
    if unit not in ("chars", "words"):
        raise ValueError(f"unit must be chars or words, not {unit!r}")
    lo, hi = _bound(min, "min"), _bound(max, "max")
    if lo is None and hi is None:
        raise ValueError("give min, max or both")
    if lo is not None and hi is not None and lo > hi:
        raise ValueError(f"min {lo} is more than max {hi}")
    word = unit[:-1]

    def check(it: Item) -> Decision | None:
        text = item_text(it, field)
        n = len(text.split()) if unit == "words" else len(text)
        if lo is not None and n < lo:
            why = f"{field} has {_plural(n, word)}, fewer than the minimum {lo}"
        elif hi is not None and n > hi:
            why = f"{field} has {_plural(n, word)}, more than the maximum {hi}"
        else:
            return None
        return Decision(it.id, "removed", why, detail={unit: n})

    return Work(_per_item(check))


@step("language", version="2")
def language(keep: Any = "en", field: str = "prompt", min_chars: int = 10, min_confidence: float = 0.3,
             languages: Any = None) -> Work:
    """Remove items whose prompt is in none of the given languages (lingua); too short or unclear to tell: kept, logged.

    ``min_chars`` counts letters; ``min_confidence`` is lingua's confidence of the best
    language, over ``languages`` (ISO 639-1 codes; None: the 75 lingua knows). The defaults
    come from ``benchmarks/bench_language.py``: on 1,146 English prompts and 204 short
    Tatoeba sentences in 3 other languages they removed no English text and 75% of the others.
    """
    from assay.curate.language import check_codes, identify

    keep_ = check_codes(_str_list(keep, "keep"), "keep")
    check_fields(field, "field")
    if _bound(min_chars, "min_chars") is None:
        raise ValueError("min_chars must be a whole number >= 0, not None")
    _unit_interval(min_confidence, "min_confidence", low_open=False)
    among = None if languages is None else check_codes(_str_list(languages, "languages"), "languages")
    if among is not None and set(keep_) - set(among):
        raise ValueError(f"keep: {', '.join(sorted(set(keep_) - set(among)))} must be among languages too")

    def check(it: Item) -> Decision | None:
        found = identify(item_text(it, field), min_chars=min_chars, min_confidence=min_confidence, languages=among)
        detail = {"language": found.language, "confidence": found.confidence, "letters": found.letters}
        if found.language in keep_:
            return None  # sure or not, it stays; nothing to explain
        if found.unsure is not None:
            return Decision(it.id, "kept", f"kept: {found.unsure}", detail=detail)
        return Decision(it.id, "removed", f"language {found.language} (confidence {found.confidence}), "
                       f"not one of {', '.join(keep_)}", detail=detail)

    return Work(_per_item(check))


@step("exact-dup", version="2")
def exact_dup(fields: Any = "prompt", normalize: bool = True, lowercase: bool = True, nfkc: bool = True,
              punctuation: bool = False) -> Work:
    """Remove items whose prompt equals an earlier one's up to NFKC, case, punctuation and spaces; the first is kept.

    Compared: the text after Unicode NFKC, case folding, dropping punctuation and
    collapsing whitespace (``curate.text.dup_key``); ``normalize=false`` compares the exact
    text. Punctuation is what ``curate.text.drop_punctuation`` drops: Unicode punctuation marks
    except ``- * / % # @ & _ \\`` and marks between digits; symbols such as ``+ = <`` stay,
    so "What is 2*3?" and "What is 2+3?" are not duplicates. ``punctuation=true`` keeps
    it; ``lowercase`` and ``nfkc`` turn the other parts off one by one.
    """
    names_ = check_fields(fields)
    if not normalize:
        how = "exact text"
    else:
        how = ", ".join(w for w, on in (("NFKC", nfkc), ("case folded", lowercase), ("punctuation ignored", not punctuation),
                                        ("whitespace collapsed", True)) if on)

    def key_of(it: Item) -> tuple:
        texts = (item_text(it, f) for f in names_)
        if not normalize:
            return tuple(texts)
        return tuple(dup_key(t, lowercase=lowercase, nfkc=nfkc, punctuation=punctuation) for t in texts)

    def apply(items: list[Item], progress: Progress) -> list[Decision]:
        first: dict[tuple, Item] = {}
        out = []
        for k, it in enumerate(items, 1):
            kept = first.setdefault(key_of(it), it)
            if kept.id != it.id:
                named = f" (external id {kept.external_id})" if kept.external_id is not None else ""
                out.append(Decision(it.id, "removed", f"exact duplicate of item {kept.id}{named}, which is kept ({how})",
                                   related_id=kept.id, detail={"fields": names_, "kept": kept.id,
                                                               "kept_external_id": kept.external_id}))
            if k % 1000 == 0 or k == len(items):
                progress(k)
        return out

    return Work(apply)


@step("near-dup", version="2")
def near_dup(threshold: float = 0.8, ngram: int = 5, num_perm: int = 128, seed: int = 1, field: str = "prompt") -> Work:
    """Remove items whose word n-gram Jaccard similarity to a kept earlier item reaches ``threshold`` (MinHash LSH).

    Candidates come from MinHash LSH (``curate.minhash``, vectorised over all items) and each
    is verified by the exact Jaccard of the two shingle sets, so every removal is a true
    near-duplicate; LSH may miss a pair near the threshold (raise ``num_perm`` to miss
    fewer). An item is compared with the items kept so far only: no two kept items are
    near-duplicates that LSH found. Version 2: its own hashing in place of datasketch's.
    """
    threshold = _unit_interval(threshold, "threshold")
    if not isinstance(ngram, int) or ngram < 1:
        raise ValueError(f"ngram must be a whole number >= 1, not {ngram!r}")
    if not isinstance(num_perm, int) or num_perm < 16:
        raise ValueError(f"num_perm must be a whole number >= 16, not {num_perm!r}")
    check_fields(field, "field")

    def apply(items: list[Item], progress: Progress) -> list[Decision]:
        from assay.curate.minhash import near_duplicates

        texts = [item_text(it, field) for it in items]
        out = []
        for i, j, sim in near_duplicates(texts, threshold=threshold, ngram=ngram, num_perm=num_perm, seed=seed,
                                         progress=progress):
            kept = items[j].id
            out.append(Decision(items[i].id, "removed", f"near-duplicate of item {kept}, Jaccard {sim:.3f}",
                                related_id=kept, detail={"jaccard": round(sim, 6), "ngram": ngram}))
        return out

    return Work(apply)


@step("pii")
def pii(mode: str = "mask", kinds: Any = list(_pii.KINDS), fields: Any = ["prompt", "reference"]) -> Work:  # noqa: B006
    """Mask (``[EMAIL]``, ``[PHONE]``, ...) or drop items with e-mails, phones, IPv4s, Luhn-valid cards, valid IBANs."""
    if mode not in ("mask", "drop"):
        raise ValueError(f"mode must be mask or drop, not {mode!r}")
    kinds_ = _str_list(kinds, "kinds")
    bad = [k for k in kinds_ if k not in _pii.KINDS]
    if bad:
        raise ValueError(f"kinds must be some of {', '.join(_pii.KINDS)}, not {', '.join(bad)}")
    names_ = check_fields(fields)

    def counted(counts: dict[str, int]) -> str:
        return ", ".join(_plural(n, k.replace("_", " ")) for k, n in sorted(counts.items()))

    def check(it: Item) -> Decision | None:
        total: dict[str, int] = {}
        update: dict[str, Any] = {}

        def scrub(text: str) -> str:
            new, counts = _pii.scrub(text, kinds_)
            for k, n in counts.items():
                total[k] = total.get(k, 0) + n
            return new

        if "prompt" in names_:
            if it.prompt is not None:
                update["prompt"] = scrub(it.prompt)
            else:
                update["messages"] = [m.model_copy(update={"content": scrub(m.content)}) for m in it.messages or []]
        if "reference" in names_ and it.reference is not None:
            update["reference"] = scrub(it.reference)
        if not total:
            return None
        detail = {"counts": dict(sorted(total.items()))}
        if mode == "drop":
            return Decision(it.id, "removed", f"contains personal data: {counted(total)}", detail=detail)
        return Decision(it.id, "modified", f"masked {counted(total)}", detail=detail, item=it.model_copy(update=update))

    return Work(_per_item(check), scrub=(lambda t: _pii.scrub(t, kinds_)[0]) if mode == "mask" else None)


@step("decontaminate")
def decontaminate(datasets: Any = None, ngram: int = 13, field: str = "prompt", against: Any = ["prompt", "reference"],  # noqa: B006
                  min_overlap: int = 1) -> Work:
    """Remove items sharing a word ``ngram``-gram (13 as in GPT-3) with any item of the given reference datasets.

    Words are the text case folded, NFKC, without punctuation. A reference text shorter than
    ``ngram`` words is matched whole, as one contiguous run of words, like GPT-3's
    decontamination of short test items (Brown et al. 2020, appendix C).
    """
    refs = _str_list(datasets, "datasets")
    if not isinstance(ngram, int) or ngram < 1:
        raise ValueError(f"ngram must be a whole number >= 1, not {ngram!r}")
    check_fields(field, "field")
    against_ = check_fields(against, "against")
    if not isinstance(min_overlap, int) or min_overlap < 1:
        raise ValueError(f"min_overlap must be a whole number >= 1, not {min_overlap!r}")
    owner: dict[str, tuple[str, str]] = {}  # n-gram -> (reference dataset, item id): the first that has it
    lengths: set[int] = set()  # lengths of reference texts shorter than ngram

    def prepare(store: Store) -> None:
        from assay.curate.text import natural_key

        owner.clear()
        lengths.clear()
        for ds in refs:
            if store.find(R.Dataset, ds) is None:
                raise ValueError(f"datasets: no dataset {ds!r} in the store")
            items = sorted(store.iter(R.Item, dataset=ds), key=lambda i: (natural_key(i.external_id), i.id))
            for it in items:
                for f in against_:
                    toks = words(item_text(it, f))
                    if 0 < len(toks) < ngram:
                        lengths.add(len(toks))
                    for g in ngrams(toks, ngram):
                        owner.setdefault(g, (ds, it.id))

    def check(it: Item) -> Decision | None:
        toks = words(item_text(it, field))
        grams = {g for g in ngrams(toks, ngram) if len(toks) >= ngram} | {
            g for n in lengths if n <= len(toks) for g in ngrams(toks, n)}
        hits: dict[tuple[str, str], int] = {}
        for g in grams:
            o = owner.get(g)
            if o is not None:
                hits[o] = hits.get(o, 0) + 1
        total = sum(hits.values())
        if total < min_overlap:
            return None
        (ds, ref_id), n = max(hits.items(), key=lambda kv: (kv[1], kv[0]))
        return Decision(it.id, "removed", f"shares {_plural(total, f'{ngram}-gram')} with reference dataset {ds} "
                       f"(most with item {ref_id}: {n})", related_id=ref_id,
                       detail={"overlapping_ngrams": total, "with_related": n, "reference_dataset": ds, "ngram": ngram})

    return Work(_per_item(check), prepare=prepare)


_ITEM_FIELDS = ("category", "language", "tags", "cluster")


@step("filter")
def filter_(field: str = "category", values: Any = None, mode: str = "keep") -> Work:
    """Keep (or drop) items whose category, language, tags, cluster or ``metadata.KEY`` is one of ``values``."""
    if field not in _ITEM_FIELDS and not (field.startswith("metadata.") and len(field) > 9):
        raise ValueError(f"field must be one of {', '.join(_ITEM_FIELDS)} or metadata.KEY, not {field!r}")
    if not isinstance(values, list) or not values:
        if values is None or isinstance(values, list):
            raise ValueError("values must be a non-empty list")
        values = [values]
    if mode not in ("keep", "drop"):
        raise ValueError(f"mode must be keep or drop, not {mode!r}")
    wanted = {json.dumps(v, sort_keys=True) for v in values}

    def value_of(it: Item) -> Any:
        if field.startswith("metadata."):
            return it.metadata.get(field[9:])
        return getattr(it, field)

    def check(it: Item) -> Decision | None:
        v = value_of(it)
        found = [x for x in (v if isinstance(v, list) else [v]) if x is not None]
        hit = [x for x in found if json.dumps(x, sort_keys=True) in wanted]
        shown = json.dumps(v, ensure_ascii=False)
        if mode == "keep" and not hit:
            why = f"{field} {shown} is not one of the kept values" if found else f"no {field}"
        elif mode == "drop" and hit:
            why = f"{field} {shown} is one of the dropped values"
        else:
            return None
        return Decision(it.id, "removed", why, detail={"value": v})

    return Work(_per_item(check))


def describe(s: Registration | str) -> dict[str, Any]:
    """A step's name, version, summary and arguments with defaults, as JSON (what ``assay curate steps`` lists)."""
    reg = get(s) if isinstance(s, str) else s
    args = {k: (None if v is inspect.Parameter.empty else v) for k, v in reg.defaults.items()}
    return {"name": reg.name, "version": reg.version, "description": reg.description.replace("``", ""), "args": args}


def steps_from(specs: Iterable[Step | str | Mapping[str, Any]]) -> list[Step]:
    """Steps from Step objects, CLI strings or specs ({name, args})."""
    out = []
    for s in specs:
        if isinstance(s, Step):
            out.append(s)
        elif isinstance(s, str):
            out.extend(parse_steps(s))
        else:
            out.append(from_spec(s))
    return out


__all__: Sequence[str] = ("Decision", "Step", "Work", "arguments", "create", "describe", "from_spec", "get", "names",
                          "parse_step", "parse_steps", "registrations", "step", "steps_from")
