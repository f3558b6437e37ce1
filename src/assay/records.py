"""The typed records every part of assay shares: what is stored, imported, exported and judged.

Records are immutable once written. A correction is a new record whose ``supersedes``
names the one it replaces. Identifiers are stable: derived from content or from an
external id, so importing the same data twice adds nothing.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_serializer, model_validator

SCHEMA_VERSION = 1


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _part(p: Any) -> bytes:
    if isinstance(p, str):
        return p.encode()
    if isinstance(p, int) and not isinstance(p, bool):
        return b"%d" % p  # the bytes json.dumps would give, without its cost
    return json.dumps(p, sort_keys=True, ensure_ascii=False).encode()


def digest(*parts: Any, size: int = 16) -> str:
    """A short stable hex id from the parts (text as is, anything else as sorted JSON), by blake2b."""
    return hashlib.blake2b(b"\x1f".join(map(_part, parts)) + b"\x1f", digest_size=size).hexdigest()


def _text_digest(text: str) -> str:
    """``digest`` of parts already joined with 0x1f and ended by it (the import's hot path)."""
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def unit_id(response_ids: Sequence[str]) -> str:
    """The id of a campaign unit: its response id when it is one response, else a digest of the sorted ids."""
    if len(response_ids) == 1:
        return response_ids[0]
    return digest("unit", *sorted(response_ids))


def new_id() -> str:
    return uuid.uuid4().hex


class Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_assignment=True)


class Message(Record):
    """One chat message of a prompt."""

    role: Literal["system", "user", "assistant", "tool", "developer"]
    content: str
    tool_calls: list[dict[str, Any]] | None = Field(
        None, description="An assistant message's tool calls, as the OpenAI chat API writes them.")
    tool_call_id: str | None = Field(None, description="A tool message: the id of the call it answers.")

    @model_serializer(mode="wrap")
    def _without_unset_tools(self, handler: Any) -> dict[str, Any]:
        # messages without tool fields dump as {role, content}, as before: ids and cache keys do not change
        out = handler(self)
        for key in ("tool_calls", "tool_call_id"):
            if out.get(key) is None:
                out.pop(key, None)
        return out


class Dataset(Record):
    """A named collection of items."""

    name: str = Field(min_length=1, description="Unique name; also the dataset's id.")
    description: str = ""
    source: str | None = Field(None, description="Where the items came from (file, URL, generator).")
    created_at: datetime = Field(default_factory=utcnow)


class Item(Record):
    """One prompt to be answered: plain text or chat messages, with an optional reference answer."""

    id: str = Field(description="Stable id: digest of dataset and external id, or of the prompt.")
    dataset: str
    external_id: str | None = Field(None, description="The id the source gave this item, if any.")
    prompt: str | None = Field(None, description="The prompt as plain text (None when given as messages).")
    messages: list[Message] | None = Field(None, description="The prompt as chat messages.")
    reference: str | None = Field(None, description="A reference (gold) answer, if any.")
    category: str | None = None
    language: str | None = None
    tags: list[str] = Field(default_factory=list)
    cluster: str | None = Field(None, description="Cluster key for clustered standard errors (e.g. a source document).")
    metadata: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _has_prompt(self) -> Item:
        if self.prompt is None and not self.messages:
            raise ValueError("an item needs a prompt or chat messages")
        return self

    @staticmethod
    def make_id(dataset: str, external_id: str | None, prompt: str | None, messages: list | None) -> str:
        if external_id is not None:
            return _text_digest(f"item\x1f{dataset}\x1fid\x1f{external_id}\x1f")
        return digest("item", dataset, "prompt", prompt if prompt is not None else messages)

    def prompt_text(self) -> str:
        """The prompt as one string (the last user message for chat prompts)."""
        if self.prompt is not None:
            return self.prompt
        users = [m.content for m in self.messages or [] if m.role == "user"]
        return users[-1] if users else (self.messages or [])[-1].content

    def chat(self) -> list[dict[str, str]]:
        """The prompt as OpenAI chat messages."""
        if self.messages:
            return [m.model_dump() for m in self.messages]
        return [{"role": "user", "content": self.prompt or ""}]


def split_model_id(model_id: str) -> tuple[str, str]:
    if "@" not in model_id:
        raise ValueError(f"model '{model_id}' must be written NAME@VERSION")
    name, _, version = model_id.rpartition("@")
    if not name or not version:
        raise ValueError(f"model '{model_id}' must be written NAME@VERSION")
    return name, version


class Model(Record):
    """A model under evaluation or used as a judge, written ``name@version``, and how to call it."""

    id: str = Field(description="name@version")
    provider: str = "openai"
    base_url: str | None = None
    api_key_env: str | None = Field(None, description="Name of the environment variable holding the API key.")
    family: str | None = Field(None, description="Model family, used to detect self-preference of judges.")
    params: dict[str, Any] = Field(default_factory=dict, description="Default request parameters.")
    price_input_per_mtok: float | None = Field(None, description="USD per million prompt tokens.")
    price_output_per_mtok: float | None = Field(None, description="USD per million completion tokens.")

    @field_validator("id")
    @classmethod
    def _name_at_version(cls, v: str) -> str:
        split_model_id(v)
        return v

    @property
    def name(self) -> str:
        return split_model_id(self.id)[0]

    @property
    def version(self) -> str:
        return split_model_id(self.id)[1]


class Response(Record):
    """One model's answer to one item (item x model x sample index)."""

    id: str
    item_id: str
    model: str = Field(description="name@version of the model that answered.")
    sample_index: int = Field(0, ge=0)
    text: str
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    latency_ms: float | None = None
    cost_usd: float | None = None
    finish_reason: str | None = None
    run_id: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime = Field(default_factory=utcnow)
    ttft_ms: float | None = Field(None, description=(
        "Time to first token of a streamed answer: milliseconds from sending the request to the first "
        "chunk with non-empty content; None when the answer was not streamed (or came from a cache "
        "entry that was not)."))

    @staticmethod
    def make_id(item_id: str, model: str, sample_index: int) -> str:
        return _text_digest(f"response\x1f{item_id}\x1f{model}\x1f{int(sample_index)}\x1f")


# ---- rubrics ---------------------------------------------------------------------------

ScaleKind = Literal["binary", "ordinal", "categorical", "continuous"]


class Level(Record):
    """One level of an ordinal scale with the anchor that tells a rater when to give it."""

    value: int
    label: str
    anchor: str = Field(min_length=1)


class Category(Record):
    name: str = Field(min_length=1)
    description: str = ""


class Scale(Record):
    """How a dimension is measured."""

    kind: ScaleKind
    levels: list[Level] = Field(default_factory=list, description="ordinal: every level 1..N with its anchor")
    categories: list[Category] = Field(default_factory=list, description="categorical: the allowed labels")
    min: float | None = Field(None, description="continuous: lower bound")
    max: float | None = Field(None, description="continuous: upper bound")
    true_label: str = "yes"
    false_label: str = "no"

    @model_validator(mode="after")
    def _check(self) -> Scale:
        if self.kind == "ordinal":
            if len(self.levels) < 2:
                raise ValueError("an ordinal scale needs at least two levels")
            values = [lv.value for lv in self.levels]
            if values != list(range(1, len(values) + 1)):
                raise ValueError(f"ordinal levels must be 1..N in order, got {values}")
        elif self.levels:
            raise ValueError(f"'levels' only belongs to an ordinal scale, not {self.kind}")
        if self.kind == "categorical":
            names = [c.name for c in self.categories]
            if len(names) < 2:
                raise ValueError("a categorical scale needs at least two categories")
            if len(set(names)) != len(names):
                raise ValueError("category names must be unique")
        elif self.categories:
            raise ValueError(f"'categories' only belongs to a categorical scale, not {self.kind}")
        if self.kind == "continuous":
            if self.min is None or self.max is None or not self.min < self.max:
                raise ValueError("a continuous scale needs min < max")
        return self

    def points(self) -> list[Any] | None:
        """The scale's values in order, as agreement statistics take them: category names,
        ordinal levels and binary 0/1 as floats; None for a continuous scale."""
        if self.kind == "categorical":
            return [c.name for c in self.categories]
        if self.kind == "ordinal":
            return [float(lv.value) for lv in self.levels]
        if self.kind == "binary":
            return [0.0, 1.0]
        return None

    def bounds(self) -> tuple[float, float]:
        """The lowest and highest value of a numeric scale: 0..1 (binary), 1..N (ordinal), min..max
        (continuous). A categorical scale has none: ValueError."""
        if self.kind == "binary":
            return 0.0, 1.0
        if self.kind == "ordinal":
            return 1.0, float(len(self.levels))
        if self.kind == "continuous" and self.min is not None and self.max is not None:
            return float(self.min), float(self.max)
        raise ValueError(f"a {self.kind} scale has no numeric bounds")

    def accepts(self, value: float | None, label: str | None) -> str | None:
        """Why (value, label) is not a valid point of this scale, or None when it is."""
        if self.kind == "categorical":
            if label not in {c.name for c in self.categories}:
                return f"label {label!r} is not one of {[c.name for c in self.categories]}"
            return None
        if value is None:
            return "a numeric value is required"
        if self.kind == "binary" and value not in (0, 1):
            return f"binary value must be 0 or 1, got {value}"
        if self.kind == "ordinal" and (value != int(value) or not 1 <= value <= len(self.levels)):
            return f"ordinal value must be an integer 1..{len(self.levels)}, got {value}"
        if self.kind == "continuous":
            lo, hi = self.bounds()
            if not lo <= value <= hi:
                return f"value must lie in [{self.min}, {self.max}], got {value}"
        return None


class Dimension(Record):
    """One thing a rubric measures (factuality, safety, ...) on one scale."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_\-]*$")
    description: str = Field(min_length=1)
    scale: Scale
    direction: Literal["higher_is_better", "lower_is_better"] = "higher_is_better"


class Rubric(Record):
    """A named, versioned set of dimensions plus the guideline text raters follow."""

    name: str = Field(pattern=r"^[A-Za-z0-9_\-\.]+$")
    version: int = Field(1, ge=1)
    description: str = ""
    guidelines: str = ""
    dimensions: list[Dimension] = Field(min_length=1)

    @property
    def id(self) -> str:
        return f"{self.name}@{self.version}"

    @model_validator(mode="after")
    def _unique_dims(self) -> Rubric:
        names = [d.name for d in self.dimensions]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ValueError(f"dimension names must be unique, repeated: {sorted(dup)}")
        return self

    def dimension(self, name: str) -> Dimension:
        for d in self.dimensions:
            if d.name == name:
                return d
        raise KeyError(f"rubric {self.id} has no dimension {name!r}; it has {[d.name for d in self.dimensions]}")


class GuidelineVersion(Record):
    """One version of a rubric's guidelines; later versions add clarifications from edge cases."""

    rubric: str = Field(description="rubric id, name@version")
    version: int = Field(ge=1)
    text: str
    note: str = Field("", description="What changed from the previous version and why.")
    edge_case_id: str | None = None
    author: str | None = None
    created_at: datetime = Field(default_factory=utcnow)


# ---- raters and their verdicts ---------------------------------------------------------

RaterKind = Literal["human", "llm", "program"]


class Rater(Record):
    """Who or what judged: a human account, an LLM judge (model + template digest) or a program."""

    id: str
    kind: RaterKind
    name: str
    model: str | None = Field(None, description="llm raters: name@version of the judge model")
    template_digest: str | None = Field(None, description="llm raters: digest of the prompt template")
    program_version: str | None = Field(None, description="program raters: verifier version")
    config: dict[str, Any] = Field(default_factory=dict)

    @staticmethod
    def make_id(kind: str, name: str, *identity: Any) -> str:
        if kind == "human":
            return f"human:{name}"
        return f"{kind}:{name}:" + digest(kind, name, *identity, size=6)


FLAGS = ("ambiguous", "unclassifiable", "novel")


class Judgment(Record):
    """One rater's value for one response on one rubric dimension, with the reasons."""

    id: str = Field(default_factory=new_id)
    response_id: str
    rater_id: str
    rubric: str = Field(description="rubric id, name@version")
    dimension: str
    value: float | None = Field(None, description="numeric value (binary 0/1, ordinal level, continuous)")
    label: str | None = Field(None, description="categorical label, or the level label")
    justification: str = ""
    flags: list[Literal["ambiguous", "unclassifiable", "novel"]] = Field(default_factory=list)
    flag_note: str | None = None
    time_spent_s: float | None = None
    guideline_version: int | None = Field(None, description="guideline version in force when judged")
    run_id: str | None = None
    campaign_id: str | None = None
    assignment_id: str | None = None
    supersedes: str | None = Field(None, description="id of the judgment this one corrects")
    detail: dict[str, Any] = Field(default_factory=dict, description="e.g. probability-weighted score, samples")
    created_at: datetime = Field(default_factory=utcnow)


class Comparison(Record):
    """One rater's preference among 2..N responses to one item."""

    id: str = Field(default_factory=new_id)
    item_id: str
    rater_id: str
    response_ids: list[str] = Field(min_length=2, description="the responses compared, in canonical order")
    shown_order: list[str] = Field(description="the same ids in the order the rater saw them")
    outcome: Literal["win", "tie", "both_bad"] = "win"
    winner: str | None = Field(None, description="the preferred response id when outcome is 'win'")
    ranking: list[str] | None = Field(None, description="for N > 2: all ids, best first")
    strength: Literal[1, 2] | None = Field(None, description="1 slightly better, 2 much better")
    probability: float | None = Field(None, ge=0, le=1, description=(
        "Soft preference between two responses: the probability that response_ids[0] is preferred to "
        "response_ids[1] (a judge's weighted verdict, e.g. AlpacaEval 2.0's). outcome and winner hold the "
        "hard verdict it rounds to: above 0.5 the first wins, below 0.5 the second, exactly 0.5 a tie. "
        "None when only a hard verdict was given."))
    rubric: str | None = None
    dimension: str | None = None
    justification: str = ""
    flags: list[Literal["ambiguous", "unclassifiable", "novel"]] = Field(default_factory=list)
    flag_note: str | None = None
    time_spent_s: float | None = None
    guideline_version: int | None = None
    run_id: str | None = None
    campaign_id: str | None = None
    assignment_id: str | None = None
    supersedes: str | None = None
    detail: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime = Field(default_factory=utcnow)

    @model_validator(mode="after")
    def _consistent(self) -> Comparison:
        if len(set(self.response_ids)) != len(self.response_ids):
            raise ValueError("response_ids must be distinct")
        if sorted(self.shown_order) != sorted(self.response_ids):
            raise ValueError("shown_order must be a permutation of response_ids")
        if self.outcome == "win":
            if self.winner not in self.response_ids and not self.ranking:
                raise ValueError("a 'win' needs a winner among response_ids (or a ranking)")
        elif self.winner is not None:
            raise ValueError(f"outcome {self.outcome!r} cannot have a winner")
        if self.ranking is not None and sorted(self.ranking) != sorted(self.response_ids):
            raise ValueError("ranking must be a permutation of response_ids")
        if self.probability is not None:
            if len(self.response_ids) != 2:
                raise ValueError("a probability is a preference between two responses, not "
                                 f"{len(self.response_ids)}")
            p, (first, second) = self.probability, self.response_ids
            want = (first if p > 0.5 else second) if p != 0.5 else None
            if (want is None and self.outcome == "win") or (want is not None and self.winner != want):
                raise ValueError(f"probability {p:g} that the first response is preferred rounds to "
                                 f"{'a tie' if want is None else 'a win of response_ids[' + str(int(p < 0.5)) + ']'}"
                                 f", not outcome {self.outcome!r} with winner {self.winner!r}")
        return self


# ---- campaigns and runs ----------------------------------------------------------------


class CampaignSelection(Record):
    """How a campaign's units were sampled from a dataset's items (``assay campaign create --select``).

    Every item of the frame (the dataset's items with units) had a probability of being drawn,
    stored per item in the ``campaign_frame`` table (``assay.analysis.active.frame``): ``uniform``
    draws ``budget`` items at random without replacement; ``active`` draws each item
    independently with its own probability (Poisson sampling), higher where the judge is less
    certain, so the number drawn varies around ``budget`` and estimates must weight each label
    by one over its probability (``assay.stats.ppi.active_mean``).
    """

    method: Literal["uniform", "active"]
    budget: int = Field(ge=2, description="items to label: exactly (uniform) or in expectation (active)")
    frame: int = Field(ge=1, description="items that could be drawn")
    selected: int = Field(ge=0, description="items drawn")
    seed: int = 0
    judge: str | None = Field(None, description="active: rater id of the judge whose uncertainty set the probabilities")
    signal: str | None = Field(None, description="active: the uncertainty used (panel, samples, logprobs, probability; "
                                                 "'none' when the judge gave none, and the draw was uniform)")
    uniform_mix: float = Field(0.0, ge=0, le=1, description="active: share of the budget spread uniformly")
    pi_min: float = Field(0.0, ge=0, le=1, description="active: the floor of the uncertainty-driven probabilities")


class Campaign(Record):
    """A human rating campaign: who rates what, with which rubric, overlap and gold."""

    id: str
    name: str
    kind: Literal["rate", "compare", "rank"] = "rate"
    rubric: str = Field(description="rubric id, name@version")
    guideline_version: int = 1
    dimensions: list[str] = Field(default_factory=list, description="empty: every dimension")
    overlap: int = Field(1, ge=1, description="each unit is rated by this many different raters")
    gold_share: float = Field(0.0, ge=0, le=1)
    calibration: bool = False
    blind: bool = True
    min_justification: int = Field(0, ge=0)
    deadline: datetime | None = None
    status: Literal["open", "closed"] = "open"
    created_by: str | None = None
    created_at: datetime = Field(default_factory=utcnow)
    selection: CampaignSelection | None = Field(None, description="how the units were sampled; None: every unit "
                                                          "(and every campaign made before migration 0015)")


class Assignment(Record):
    """One unit of a campaign given to one rater: a response to rate or responses to compare."""

    id: str
    campaign_id: str
    rater_id: str
    response_ids: list[str] = Field(min_length=1)
    shown_order: list[str] = Field(description="order shown to this rater (randomised per assignment)")
    is_gold: bool = False
    status: Literal["pending", "done", "skipped"] = "pending"
    created_at: datetime = Field(default_factory=utcnow)
    submitted_at: datetime | None = None


RunKind = Literal["generate", "judge", "pairwise", "verify", "redteam", "curate", "other"]


class Run(Record):
    """One execution of generation, judges or verifiers: config snapshot, counts, tokens, cost, errors."""

    id: str
    kind: RunKind
    config: dict[str, Any] = Field(default_factory=dict, description="full config snapshot; its digest is the id")
    status: Literal["running", "done", "failed", "interrupted"] = "running"
    total: int = 0
    succeeded: int = 0
    failed: int = 0
    cached: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    errors: dict[str, int] = Field(default_factory=dict, description="count of failures by error kind")
    started_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None


class EdgeCase(Record):
    """A guideline question: an item raters flagged or disagreed on, until a lead resolves it."""

    id: str = Field(default_factory=new_id)
    rubric: str
    dimension: str | None = None
    response_id: str | None = None
    item_id: str | None = None
    source: Literal["flag", "low_agreement", "manual"] = "flag"
    note: str = ""
    status: Literal["open", "resolved", "dismissed"] = "open"
    resolution: str | None = None
    guideline_version: int | None = Field(None, description="the guideline version that resolved it")
    created_at: datetime = Field(default_factory=utcnow)
    campaign_id: str | None = Field(None, description="the campaign whose raters raised it (its owner handles it); "
                                                      "None for judges' cases and cases stored before migration 0010")



# ---- red teaming and the failure library -------------------------------------------------


class Attempt(Record):
    """One attack on a target model: which behaviour, which attack, what was sent and what came back.

    The exact prompt sent is an Item of a derived dataset (``item_id``) and the target's
    answer a Response (``response_id``), so generation, judges, agreement and human review
    all work on attempts unchanged. Verdicts on whether the attack succeeded are Judgments
    on that response; ``success`` is only the attack's own scorer, which an iterative attack
    steers by. Iterative attacks store one attempt per turn, linked by ``parent_id``.
    """

    id: str
    behavior_id: str = Field(description="the item stating the behaviour the attack tries to elicit")
    model: str = Field(description="name@version of the target")
    attack: str = Field(description="registered attack name, e.g. 'direct', 'base64', 'iterative'")
    attack_config: dict[str, Any] = Field(default_factory=dict)
    stream: int = Field(0, ge=0, description="parallel stream of a multi-stream attack")
    turn: int = Field(0, ge=0, description="iteration of an iterative attack (0 for single-shot attacks)")
    parent_id: str | None = Field(None, description="the attempt this one refines")
    item_id: str = Field(description="the item holding the exact prompt or messages sent")
    response_id: str | None = Field(None, description="the target's answer; None when the call failed")
    success: bool | None = Field(None, description="the attack's own scorer: did it think this worked")
    score: float | None = None
    scorer: str | None = Field(None, description="rater id of the attack's own scorer")
    note: str = ""
    run_id: str | None = None
    created_at: datetime = Field(default_factory=utcnow)

    @staticmethod
    def make_id(behavior_id: str, model: str, attack: str, attack_config: dict[str, Any],
                stream: int = 0, turn: int = 0) -> str:
        return digest("attempt", behavior_id, model, attack, attack_config, int(stream), int(turn))


LIBRARY_STATUSES = ("open", "confirmed", "mitigated", "regressed", "retired")


class LibraryEntry(Record):
    """A recurring failure mode in the failure library: what fails, why we think so, where it was seen.

    Entries are versioned: an edit is a new record with the same ``entry`` and the next
    ``version``. ``detector`` says how to tell whether a response shows the failure (a
    program judge spec, or a rubric dimension and threshold), so the library can re-check
    its examples against a new model version and mark an entry mitigated or regressed.
    """

    id: str = Field(default_factory=new_id)
    entry: str = Field(min_length=1, max_length=120, description="stable slug shared by all versions")
    version: int = Field(1, ge=1)
    title: str = Field(min_length=1)
    description: str = ""
    hypothesis: str = Field("", description="why we think the model fails this way")
    category: str | None = None
    tags: list[str] = Field(default_factory=list)
    severity: Literal["low", "medium", "high", "critical"] = "medium"
    status: Literal["open", "confirmed", "mitigated", "regressed", "retired"] = "open"
    examples: list[str] = Field(default_factory=list, description="response ids showing the failure")
    models: list[str] = Field(default_factory=list, description="models the failure was seen in")
    detector: dict[str, Any] | None = None
    source: Literal["cluster", "redteam", "manual", "judges", "slices"] = "manual"
    evidence: dict[str, Any] = Field(default_factory=dict, description="how the entry was found or last checked")
    created_by: str | None = None
    created_at: datetime = Field(default_factory=utcnow)



# ---- curation --------------------------------------------------------------------------------


class CurationLog(Record):
    """What one curation step did to one item: kept it, removed it (and why), or changed its text.

    A curation run reads a source dataset and writes a curated one; every removal or change
    is a row here, so a training team can see what cleaning took out and undo a rule's
    effect. ``step`` names the registered filter with its arguments in ``detail``.
    """

    id: str
    run_id: str = Field(description="the curation run (digest of source, target and the steps with their arguments)")
    source: str = Field(description="dataset read")
    target: str = Field(description="dataset written")
    item_id: str = Field(description="the source item")
    action: Literal["removed", "modified", "kept"] = Field(
        description="'kept': the step kept the item but says why it could not judge it (e.g. too short to tell its language)")
    step: str = Field(description="registered name of the filter that acted")
    reason: str = Field(description="why, in words a person can check (e.g. 'near-duplicate of item X, Jaccard 0.91')")
    related_id: str | None = Field(None, description="another item involved, e.g. the one a duplicate duplicates")
    new_item_id: str | None = Field(None, description="the item written to the target, for 'modified'")
    detail: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime = Field(default_factory=utcnow)

    @staticmethod
    def make_id(run_id: str, item_id: str, step: str) -> str:
        return digest("curation", run_id, item_id, step)


KINDS: dict[str, type[Record]] = {
    "datasets": Dataset,
    "items": Item,
    "models": Model,
    "responses": Response,
    "rubrics": Rubric,
    "guidelines": GuidelineVersion,
    "raters": Rater,
    "judgments": Judgment,
    "comparisons": Comparison,
    "campaigns": Campaign,
    "assignments": Assignment,
    "runs": Run,
    "edge_cases": EdgeCase,
    "attempts": Attempt,
    "library": LibraryEntry,
    "curation_log": CurationLog,
}
KIND_OF: dict[type[Record], str] = {cls: kind for kind, cls in KINDS.items()}
"""The kind (table) name of each stored record class: ``KIND_OF[Judgment] == "judgments"``."""
