"""Program judges by name: verifiers and reference metrics a run's config can name and rebuild.

A program judge is made by a registered factory (``@program("name", version=...)``)
that records the arguments it was made with, so ``judge.spec()`` stored in a run's
config rebuilds the same judge with ``from_spec``. Each judge is a rater of kind
``program`` whose identity is its name, version and arguments (``judge.rater()``).

Call a judge on one response: ``judge(text, item)`` where ``item`` is a
``records.Item``, a mapping with ``prompt``/``reference``/``metadata`` keys, or None.
Per-item settings (IFEval instructions, a JSON Schema, a pattern) come from the
item's metadata when the judge was not given them.

>>> judge = create("length", unit="words", max=3)
>>> judge("one two three four").reason
'4 words, more than the maximum 3'
>>> from_spec(judge.spec()).spec() == judge.spec()
True
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypeGuard
from assay.plugins import REGISTRY, Configured, Factories, Registration

if TYPE_CHECKING:
    from assay.judges.formats import Unit

Kind = Literal["verifier", "metric"]


@dataclass(frozen=True)
class Verdict:
    """A program judge's result on one response."""

    passed: bool | None
    """Pass or fail; None for a metric given no threshold."""
    score: float | None
    """The measured value (a metric's score, a verifier's share of checks passed), if any."""
    reason: str
    """A short justification a person can read."""
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def value(self) -> float | None:
        """The number to store in a Judgment: 1/0 when there is a pass or fail, else the score."""
        if self.passed is not None:
            return float(self.passed)
        return self.score


@dataclass(frozen=True)
class Target:
    """What a judge may look at besides the response: the prompt, the reference answer, the item's metadata."""

    prompt: str | None = None
    reference: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)


def target_of(item: Any) -> Target:
    """A Target from a ``records.Item``, a mapping (``prompt``, ``reference``, ``metadata``) or None."""
    if item is None:
        return Target()
    if isinstance(item, Target):
        return item
    if isinstance(item, Mapping):
        return Target(item.get("prompt"), item.get("reference"), item.get("metadata") or {})
    prompt = item.prompt_text() if hasattr(item, "prompt_text") else getattr(item, "prompt", None)
    return Target(prompt, getattr(item, "reference", None), getattr(item, "metadata", None) or {})


Check = Callable[[str, Target], Verdict]


class ProgramJudge(Configured):
    """A configured program judge: callable on one response, with a name, a version and its recorded arguments."""

    what = "program judge"

    def __init__(self, registration: Registration, args: dict[str, Any], check: Check) -> None:
        super().__init__(registration, args, check)
        self.kind = registration.kind

    def __call__(self, response: str, item: Any = None) -> Verdict:
        return self._made(response, target_of(item))

    def rater(self):  # noqa: ANN201
        """This judge as a ``records.Rater`` of kind program; the id covers name, version and arguments."""
        from assay.records import Rater

        return Rater(
            id=Rater.make_id("program", self.name, self.version, self.args),
            kind="program",
            name=self.name,
            program_version=self.version,
            config=dict(self.args),
        )

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.args.items())
        return f"<{self.kind} {self.name}@{self.version}({args})>"


_KINDS: dict[str, Factories[ProgramJudge]] = {
    kind: Factories(kind, ProgramJudge, prefix=False) for kind in ("verifier", "metric")
}


def program(
    name: str,
    *,
    version: str | Callable[[dict[str, Any]], str],
    kind: Kind = "verifier",
    description: str | None = None,
) -> Callable[[Callable[..., Check]], Callable[..., ProgramJudge]]:
    """Register a factory of program judges under ``name``; calling the result builds a ProgramJudge.

    The factory takes keyword configuration and returns ``check(response, target) -> Verdict``.
    The arguments it is called with (defaults filled in) are recorded and must be JSON values.
    The same as ``assay.plugins.register(kind, name, version=...)``.
    """
    return _KINDS[kind].register(name, version=version, description=description)


def get(name: str) -> Registration:
    """The registration of ``name`` (a verifier or a metric); ValueError naming the known ones when there is none."""
    for factories in _KINDS.values():
        found = REGISTRY.find(factories.kind, name)
        if found is not None:
            return found
    raise ValueError(f"no program judge named {name!r}; known: {', '.join(names())}{REGISTRY.failure_note()}")


def names(kind: Kind | None = None) -> list[str]:
    """Registered names, optionally only verifiers or only metrics."""
    return sorted(n for k, f in _KINDS.items() if kind is None or k == kind for n in f.names())


def create(name: str, /, **args: Any) -> ProgramJudge:
    """Build the program judge ``name`` with ``args``."""
    return _KINDS[get(name).kind].create(name, **args)


def from_spec(spec: Mapping[str, Any]) -> ProgramJudge:
    """Rebuild a judge from ``judge.spec()``; warns when the code's version differs from the stored one."""
    judge = create(spec["name"], **dict(spec.get("args") or {}))
    stored = spec.get("version")
    if stored is not None and stored != judge.version:
        warnings.warn(
            f"{judge.name}: stored version {stored} differs from this code's {judge.version}; verdicts may differ",
            stacklevel=2,
        )
    return judge


# ---- helpers for the built-ins ---------------------------------------------------------


def _is_ifeval_mode(mode: str) -> TypeGuard[Literal["strict", "loose"]]:
    return mode in ("strict", "loose")


def _is_regex_mode(mode: str) -> TypeGuard[Literal["search", "fullmatch"]]:
    return mode in ("search", "fullmatch")


def _is_unit(unit: str) -> TypeGuard[Unit]:
    from assay.judges.formats import UNITS

    return unit in UNITS


def _from_item(value: Any, target: Target, key: str, judge: str) -> Any:
    if value is not None:
        return value
    if key in target.metadata and target.metadata[key] is not None:
        return target.metadata[key]
    raise ValueError(f"{judge}: no {key!r} given and the item's metadata has none")


def _reference(target: Target, judge: str) -> str | list[str]:
    refs = target.metadata.get("references") or target.reference
    if not refs:
        raise ValueError(f"{judge}: the item has no reference answer")
    return refs


def _threshold(score: float, threshold: float | None, reason: str, details: dict | None = None) -> Verdict:
    passed = None if threshold is None else score >= threshold
    if threshold is not None:
        reason += f" ({'at least' if passed else 'below'} threshold {threshold:g})"
    return Verdict(passed, score, reason, details or {})


# ---- IFEval ----------------------------------------------------------------------------


def _ifeval_version(args: dict[str, Any]) -> str:
    from assay.judges.ifeval import VERSION

    return VERSION


@program("ifeval", version=_ifeval_version)
def ifeval(mode: str = "strict") -> Check:
    """IFEval instructions of the item (metadata ``instruction_id_list`` and ``kwargs``), strict or loose."""
    if not _is_ifeval_mode(mode):
        raise ValueError(f"ifeval: mode must be 'strict' or 'loose', got {mode!r}")

    def check(response: str, target: Target) -> Verdict:
        from assay.judges.ifeval import check as ifeval_check

        ids = _from_item(None, target, "instruction_id_list", "ifeval")
        kwargs = target.metadata.get("kwargs")
        followed = ifeval_check(target.prompt, response, ids, kwargs, mode=mode)
        missed = [i for i, ok in zip(ids, followed) if not ok]
        reason = f"{sum(followed)}/{len(ids)} instructions followed ({mode})"
        if missed:
            reason += "; not followed: " + ", ".join(missed)
        details = {"instructions": [{"id": i, "followed": ok} for i, ok in zip(ids, followed)], "mode": mode}
        return Verdict(all(followed), sum(followed) / len(ids) if ids else 1.0, reason, details)

    return check


@program("ifeval.instruction", version=_ifeval_version)
def ifeval_instruction(instruction_id: str, kwargs: dict[str, Any] | None = None, mode: str = "strict") -> Check:
    """One IFEval instruction type with fixed arguments, e.g. ``punctuation:no_comma``."""
    from assay.judges.ifeval import INSTRUCTIONS

    if instruction_id not in INSTRUCTIONS:
        raise ValueError(f"ifeval.instruction: unknown instruction {instruction_id!r}")
    if not _is_ifeval_mode(mode):
        raise ValueError(f"ifeval.instruction: mode must be 'strict' or 'loose', got {mode!r}")

    def check(response: str, target: Target) -> Verdict:
        from assay.judges.ifeval import check as ifeval_check

        (ok,) = ifeval_check(target.prompt, response, [instruction_id], [kwargs or {}], mode=mode)
        return Verdict(ok, float(ok), f"{instruction_id} {'followed' if ok else 'not followed'} ({mode})")

    return check


# ---- formats ---------------------------------------------------------------------------


def _format_verdict(result: Any) -> Verdict:
    return Verdict(result.passed, float(result.passed), result.reason)


@program("json_valid", version="1")
def json_valid(allow_fence: bool = False) -> Check:
    """The response is valid JSON (optionally inside a markdown code fence)."""

    def check(response: str, target: Target) -> Verdict:
        from assay.judges.formats import check_json

        return _format_verdict(check_json(response, allow_fence=allow_fence))

    return check


@program("json_schema", version="1")
def json_schema(schema: dict[str, Any] | None = None, allow_fence: bool = False) -> Check:
    """The response is JSON valid against a schema (given, or the item's metadata ``json_schema``)."""

    def check(response: str, target: Target) -> Verdict:
        from assay.judges.formats import check_json_schema

        return _format_verdict(check_json_schema(response, _from_item(schema, target, "json_schema", "json_schema"), allow_fence=allow_fence))

    return check


@program("regex", version="1")
def regex(pattern: str | None = None, mode: str = "search", flags: str = "") -> Check:
    """A regular expression occurs in (``search``) or matches all of (``fullmatch``) the response."""

    def check(response: str, target: Target) -> Verdict:
        from assay.judges.formats import check_regex

        where = _from_item(pattern, target, "regex", "regex")
        if not _is_regex_mode(mode):  # said per response, as check_regex says it
            raise ValueError(f"mode must be 'search' or 'fullmatch', got {mode!r}")
        return _format_verdict(check_regex(response, where, mode=mode, flags=flags))

    return check


@program("length", version="1")
def length(unit: str = "words", min: int | None = None, max: int | None = None) -> Check:  # noqa: A002
    """The response's length in chars, words, sentences or lines lies within limits."""
    from assay.judges.formats import UNITS

    if not _is_unit(unit):
        raise ValueError(f"length: unit must be one of {UNITS}, got {unit!r}")
    if min is None and max is None:
        raise ValueError("length: give min, max or both")

    def check(response: str, target: Target) -> Verdict:
        from assay.judges.formats import check_length, count

        result = check_length(response, unit=unit, min=min, max=max)
        return Verdict(result.passed, float(count(response, unit)), result.reason)

    return check


# ---- reference metrics -----------------------------------------------------------------


@program("exact_match", version="1", kind="metric")
def exact_match(
    ignore_case: bool = False,
    ignore_punctuation: bool = False,
    ignore_articles: bool = False,
    collapse_whitespace: bool = True,
) -> Check:
    """The response equals the reference answer after the chosen normalisation."""

    def check(response: str, target: Target) -> Verdict:
        from assay.judges.metrics import exact_match as em

        ok = em(
            response,
            _reference(target, "exact_match"),
            ignore_case=ignore_case,
            ignore_punctuation=ignore_punctuation,
            ignore_articles=ignore_articles,
            collapse_whitespace=collapse_whitespace,
        )
        return Verdict(ok, float(ok), "matches the reference" if ok else "differs from the reference")

    return check


def _metric(name: str, compute: Callable[[str, Any], float], label: str, threshold: float | None) -> Check:
    def check(response: str, target: Target) -> Verdict:
        score = compute(response, _reference(target, name))
        return _threshold(score, threshold, f"{label} {score:.4g}")

    return check


@program("token_f1", version="1", kind="metric")
def token_f1(threshold: float | None = None) -> Check:
    """SQuAD token F1 against the reference answer, 0..1."""
    from assay.judges import metrics

    return _metric("token_f1", metrics.token_f1, "token F1", threshold)


@program("rouge_l", version="1", kind="metric")
def rouge_l(beta: float = 1.0, threshold: float | None = None) -> Check:
    """ROUGE-L F-measure against the reference answer, 0..1."""
    from assay.judges import metrics

    return _metric("rouge_l", lambda p, r: metrics.rouge_l(p, r, beta=beta).fmeasure, "ROUGE-L F", threshold)


def _sacrebleu_version(args: dict[str, Any]) -> str:
    from importlib.metadata import version

    return f"1+sacrebleu=={version('sacrebleu')}"


@program("bleu", version=_sacrebleu_version, kind="metric")
def bleu(threshold: float | None = None) -> Check:
    """Sentence BLEU (sacrebleu, effective order) against the reference answer, 0..100."""
    from assay.judges import metrics

    return _metric("bleu", metrics.bleu, "BLEU", threshold)


@program("chrf", version=_sacrebleu_version, kind="metric")
def chrf(word_order: int = 0, threshold: float | None = None) -> Check:
    """Sentence chrF (chrF++ with ``word_order=2``, sacrebleu) against the reference answer, 0..100."""
    from assay.judges import metrics

    label = "chrF++" if word_order == 2 else "chrF"
    return _metric("chrf", lambda p, r: metrics.chrf(p, r, word_order=word_order), label, threshold)


def _embedding_version(args: dict[str, Any]) -> str:
    from assay.judges.metrics import embedding_model_version

    return f"1+{embedding_model_version(args['model'])}"


@program("embedding_cosine", version=_embedding_version, kind="metric")
def embedding_cosine(model: str = "all-MiniLM-L6-v2", threshold: float | None = None) -> Check:
    """Cosine of sentence embeddings (all-MiniLM-L6-v2, offline) of the response and the reference, -1..1."""
    from assay.judges import metrics

    return _metric("embedding_cosine", lambda p, r: metrics.embedding_cosine(p, r, model=model), "embedding cosine", threshold)
