"""The pairwise judge: an LLM decides which of two responses to one item is better, and by how much.

The judge reasons, then gives one verdict carrying the call's nonce: by default (the
client's ``structured`` setting, ``auto``) a JSON object ``{"code": nonce, "reasoning": ...,
"verdict": ...}`` under a strict schema, else (an endpoint that refuses ``response_format``,
or a judge that writes lines instead) a verdict line::

    VERDICT 3f9a0c21e4: A>B

with A>>B, A>B, A=B, B>A, B>>A, or BOTH BAD. By default each pair is judged in both
orders; the two verdicts are kept in the Comparison's ``detail["orders"]``, and when
they disagree the result is a tie with ``detail["consistent"] = False`` (the position
flips that ``judge-report`` counts). N responses are ranked through their pairs
(``rank_through_pairs``); responses with equal points tie (``tie_groups``).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assay import records as R
from assay.judges._llm import JudgeParseError, Structured, Usage, ask, request_digests
from assay.judges._verdict import load_json_verdict, mark, missing_hint, quote, rest_of_part
from assay.judges._verdict import pairwise_output_format_json, pairwise_schema, response_format
from assay.judges._template import Template, fence, load_template, make_nonce
from assay.runs import Unit, WorkTask, unit_work, work_spec

PLACEHOLDERS = {"prompt", "reference", "response_a", "response_b", "nonce", "criteria", "output_format"}
REQUIRED = {"response_a", "response_b", "output_format"}
DEFAULT_CRITERIA = (
    "correctness first, then how fully and directly the answer does what the prompt asks, "
    "then clarity; harmful or made-up content counts heavily against an answer."
)

SCORES = {"A>>B": 2, "A>B": 1, "A=B": 0, "B>A": -1, "B>>A": -2}
"""A verdict as a signed score of the first shown answer (A) over the second (B)."""
BOTH_BAD = "BOTH_BAD"


def load_pairwise_template(path: str | Path | None = None) -> Template:
    """The pairwise judge's template: ``path``, or the built-in ``templates/pairwise.txt``."""
    return load_template(path, kind="pairwise", required=REQUIRED, known=PLACEHOLDERS)


def output_format(nonce: str) -> str:
    return "\n".join([
        "End with exactly one verdict line, on its own line, in this form (the code is required):",
        f"VERDICT {nonce}: <verdict>",
        "where <verdict> is one of:",
        "  A>>B  (A is much better)",
        "  A>B   (A is better)",
        "  A=B   (about equally good)",
        "  B>A   (B is better)",
        "  B>>A  (B is much better)",
        "  BOTH BAD  (neither answer is acceptable)",
        f"For example: VERDICT {nonce}: B>A",
    ])


def verdict_pattern(nonce: str) -> re.Pattern[str]:
    """Verdicts of this call, ``VERDICT <nonce>: <verdict>``, wherever they stand on a line (text after a verdict is left)."""
    token = r"\[*[ \t]*(?:both[ _]?bad|neither|tie|[AB][ \t]*(?:>>|<<|==|[<>=≫»])[ \t]*[AB])[ \t]*\]*(?![\w<>=])"
    return re.compile(rf"{mark(nonce)}[ \t*_`]*[:=]?[ \t*_`]*(?:(?P<tok>{token})|{rest_of_part(nonce)})",
                      re.IGNORECASE | re.MULTILINE)


def parse_verdict_value(text: str) -> str:
    """Normalise a verdict's text (``[[A>B]]``, ``a > b``, ``tie``, ``both bad``...) to a key of SCORES or BOTH_BAD."""
    raw = re.sub(r"[\s\[\]()\"'`*]", "", text).upper()
    if raw in {"BOTHBAD", "BOTH_BAD", "NEITHER"}:
        return BOTH_BAD
    if raw in {"TIE", "A=B", "B=A", "A==B"}:
        return "A=B"
    raw = raw.replace("≫", ">>").replace("»", ">>")
    if raw in SCORES:
        return raw
    flipped = {"B<<A": "A>>B", "B<A": "A>B", "A<B": "B>A", "A<<B": "B>>A"}
    if raw in flipped:
        return flipped[raw]
    raise JudgeParseError(f"{quote(text)} is not one of A>>B, A>B, A=B, B>A, B>>A, BOTH BAD")


@dataclass
class OrderVerdict:
    """One order's verdict: what was shown first, the verdict as written, and the reasoning."""

    shown_order: list[str]
    verdict: str
    reasoning: str

    def score_for(self, first: str) -> int | None:
        """The signed score of response ``first`` over the other one (None for both bad)."""
        if self.verdict == BOTH_BAD:
            return None
        s = SCORES[self.verdict]
        return s if self.shown_order[0] == first else -s


def parse_pairwise(text: str, nonce: str) -> tuple[str, str]:
    """(verdict, reasoning) from the judge's own verdict line(s); JudgeParseError when none or conflicting."""
    pattern = verdict_pattern(nonce)
    found = list(pattern.finditer(text))
    if not found:
        raise JudgeParseError(f"no verdict line 'VERDICT {nonce}: <verdict>' found{missing_hint(text, pattern)}")
    verdicts = {parse_verdict_value(m.group("tok") or m.group("val")): m.group(0).strip() for m in found}
    if len(verdicts) > 1:
        raise JudgeParseError(f"conflicting verdicts {sorted(verdicts)}: {', '.join(quote(v) for v in verdicts.values())}")
    return next(iter(verdicts)), text[: found[0].start()].strip().rstrip(" \t*_`>#-").strip()


def parse_pairwise_json(text: str, nonce: str) -> tuple[str, str]:
    """(verdict, reasoning) from a structured (JSON) answer, through the same checks as a text verdict."""
    answer = load_json_verdict(text, nonce)
    return parse_verdict_value(str(answer.get("verdict", ""))), str(answer.get("reasoning") or "").strip()


def combine(orders: Sequence[OrderVerdict], response_ids: Sequence[str]) -> dict[str, Any]:
    """The result of one or two orders: outcome, winner, strength, consistent.

    Two orders agree when they prefer the same response (or both call it a tie, or both
    call both bad); the strength kept is the weaker of the two. Disagreeing orders give a
    tie, marked inconsistent.
    """
    first = response_ids[0]

    def side(o: OrderVerdict) -> str:
        s = o.score_for(first)
        return BOTH_BAD if s is None else ("first" if s > 0 else "second" if s < 0 else "tie")

    sides = {side(o) for o in orders}
    if len(sides) > 1:
        return {"outcome": "tie", "winner": None, "strength": None, "consistent": False}
    (s,) = sides
    if s == BOTH_BAD:
        return {"outcome": "both_bad", "winner": None, "strength": None, "consistent": True}
    if s == "tie":
        return {"outcome": "tie", "winner": None, "strength": None, "consistent": True}
    scores = [sc for o in orders if (sc := o.score_for(first)) is not None]  # all: every order chose this side
    strength = min(abs(sc) for sc in scores)
    winner = response_ids[0] if s == "first" else response_ids[1]
    return {"outcome": "win", "winner": winner, "strength": strength, "consistent": True}


def signed(c: R.Comparison) -> float | None:
    """A two-response Comparison as a score of ``response_ids[0]`` over ``[1]``: +-1 or +-2 for wins (by strength), 0 tie, None both bad."""
    if c.outcome == "both_bad":
        return None
    if c.outcome == "tie":
        return 0.0
    s = float(c.strength or 1)
    return s if c.winner == c.response_ids[0] else -s


@dataclass(frozen=True)
class PairwisePrompt:
    """How a pairwise judge is asked: template, both orders or one, with the reference or not, criteria."""

    template: Template | str | Path | None = None
    """A template or its file (None: the built-in ``templates/pairwise.txt``)."""
    both_orders: bool = True
    """Ask with the responses in both orders (a verdict that flips with the order is a tie)."""
    use_reference: bool = True
    """Show the item's reference answer when it has one."""
    criteria: str | None = None
    """What makes an answer better, in words (None: the default criteria)."""


class PairwiseJudge:
    """An LLM judge of pairs of responses, through a provider client.

    ``both_orders`` (default) asks twice, swapping the positions; otherwise the order is
    chosen by a digest of the pair, so positions are balanced over many pairs.
    ``use_reference``: show the item's reference answer when it has one.
    """

    kind = "pairwise"

    def __init__(
        self,
        client: Any,
        prompt: PairwisePrompt | None = None,
        *,
        temperature: float = 0.0,
        max_tokens: int | None = None,
        max_parse_retries: int = 2,
        rubric: str | None = None,
        dimension: str | None = None,
        guideline_version: int | None = None,
    ) -> None:
        how = prompt if prompt is not None else PairwisePrompt()
        template, both_orders, use_reference, criteria = how.template, how.both_orders, how.use_reference, how.criteria
        self.client = client
        self.template = template if isinstance(template, Template) else load_pairwise_template(template)
        self.both_orders = both_orders
        self.use_reference = use_reference
        self.criteria = criteria or DEFAULT_CRITERIA
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.max_parse_retries = max_parse_retries
        self.rubric = rubric
        self.dimension = dimension
        self.guideline_version = guideline_version

    @property
    def model_id(self) -> str:
        return self.client.model.id

    def params(self) -> dict[str, Any]:
        p: dict[str, Any] = {"temperature": self.temperature}
        if self.max_tokens is not None:
            p["max_tokens"] = self.max_tokens
        return p

    def identity(self) -> dict[str, Any]:
        structured = getattr(self.client, "structured", "off")
        return {
            "kind": "pairwise", "both_orders": self.both_orders, "use_reference": self.use_reference,
            "criteria": self.criteria, "params": self.params(), "max_parse_retries": self.max_parse_retries,
            **({"structured": structured} if structured != "off" else {}),
        }

    def rater(self) -> R.Rater:
        ident = self.identity()
        return R.Rater(
            id=R.Rater.make_id("llm", self.model_id, self.template.digest, ident),
            kind="llm", name=self.model_id, model=self.model_id, template_digest=self.template.digest, config=ident,
        )

    def messages(self, item: R.Item, shown: Sequence[R.Response], *, structured: bool = False
                 ) -> tuple[list[dict[str, str]], str]:
        prompt = item.prompt_text() if item.prompt is not None else "\n\n".join(f"[{m.role}] {m.content}" for m in item.messages or [])
        ref = item.reference if self.use_reference else None
        a, b = shown
        nonce = make_nonce(self.template.digest, prompt, ref, a.text, b.text, avoid=(prompt, ref or "", a.text, b.text))
        values = {
            "prompt": fence("PROMPT", prompt, nonce),
            "reference": "\nA reference answer (correct, though not the only good answer):\n"
            + fence("REFERENCE", ref, nonce) + "\n" if ref else "",
            "response_a": fence("ANSWER A", a.text, nonce),
            "response_b": fence("ANSWER B", b.text, nonce),
            "nonce": nonce,
            "criteria": self.criteria,
            "output_format": (pairwise_output_format_json if structured else output_format)(nonce),
        }
        return self.template.render(values), nonce

    def structured_form(self, item: R.Item, shown: Sequence[R.Response]) -> Structured:
        """The question for one order in its structured-outputs form."""
        messages, nonce = self.messages(item, shown, structured=True)
        return Structured(messages, response_format("pairwise_verdict", pairwise_schema(nonce)),
                          lambda c: parse_pairwise_json(c.text, nonce), nonce)

    def orders(self, item: R.Item, first: R.Response, second: R.Response) -> list[tuple[R.Response, R.Response]]:
        if self.both_orders:
            return [(first, second), (second, first)]
        if int(R.digest("order", item.id, first.id, second.id, size=1), 16) % 2:
            return [(second, first)]
        return [(first, second)]

    async def compare(self, item: R.Item, first: R.Response, second: R.Response, *,
                      run_id: str | None = None, usage: Usage | None = None) -> R.Comparison:
        """The Comparison of ``first`` and ``second`` (canonical order), from one or both orders."""
        usage = usage if usage is not None else Usage()
        verdicts: list[OrderVerdict] = []
        parse_info = []
        for shown in self.orders(item, first, second):
            messages, nonce = self.messages(item, shown)
            asked = await ask(self.client, messages, lambda c, n=nonce: parse_pairwise(c.text, n), usage,
                              sample_index=0, params=self.params(), max_parse_retries=self.max_parse_retries,
                              structured=self.structured_form(item, shown))
            verdict, reasoning = asked.parsed
            verdicts.append(OrderVerdict([shown[0].id, shown[1].id], verdict, reasoning))
            parse_info.append({"nonce": nonce, "format": asked.format, "attempts": asked.attempts, "errors": asked.errors,
                               "finish_reason": asked.completion.finish_reason,
                               "request_digest": asked.completion.digest})
        ids = [first.id, second.id]
        result = combine(verdicts, ids)
        rater = self.rater()
        orders_detail = [
            {"shown_order": v.shown_order, "verdict": v.verdict, "score": v.score_for(first.id), "reasoning": v.reasoning}
            for v in verdicts
        ]
        justification = verdicts[0].reasoning if len(verdicts) == 1 else "\n\n".join(
            f"[order {i}: A = {'first' if v.shown_order[0] == first.id else 'second'} response, verdict {v.verdict}]\n{v.reasoning}"
            for i, v in enumerate(verdicts, start=1)
        )
        return R.Comparison(
            id=R.digest("comparison", rater.id, item.id, ids, self.rubric, self.dimension),
            item_id=item.id, rater_id=rater.id, response_ids=ids, shown_order=verdicts[0].shown_order,
            outcome=result["outcome"], winner=result["winner"], strength=result["strength"],
            rubric=self.rubric, dimension=self.dimension, justification=justification,
            guideline_version=self.guideline_version, run_id=run_id,
            detail={"orders": orders_detail, "consistent": result["consistent"], "parse": parse_info},
        )

    def config(self) -> dict[str, Any]:
        return {"judge": self.rater().id, "model": self.model_id, "template_digest": self.template.digest,
                "rubric": self.rubric, "dimension": self.dimension, **self.identity()}

    def request_digests(self, item: R.Item, first: R.Response, second: R.Response) -> list[str]:
        """Cache keys of the first call in each order ``compare`` asks."""
        return [d for shown in self.orders(item, first, second)
                for d in request_digests(self.client, self.messages(item, shown)[0], sample_index=0, params=self.params(),
                                         structured=self.structured_form(item, shown))]

    def spec(self) -> dict[str, Any]:
        """This judge as plain data, its client as ``client.spec()``: ``from_spec`` rebuilds it elsewhere."""
        return {
            "client": self.client.spec(), "template": self.template.spec(), "both_orders": self.both_orders,
            "use_reference": self.use_reference, "criteria": self.criteria, "temperature": self.temperature,
            "max_tokens": self.max_tokens, "max_parse_retries": self.max_parse_retries, "rubric": self.rubric,
            "dimension": self.dimension, "guideline_version": self.guideline_version,
        }

    @classmethod
    def from_spec(cls, spec: dict[str, Any], clients: Any) -> PairwiseJudge:
        """Rebuild a judge from ``spec()``; ``clients(client_spec)`` makes its provider client."""
        how = PairwisePrompt(template=Template.from_spec(spec["template"]), both_orders=spec["both_orders"],
                             use_reference=spec["use_reference"], criteria=spec["criteria"])
        rest = {k: v for k, v in spec.items() if k not in ("client", "template", "both_orders", "use_reference", "criteria")}
        return cls(clients(spec["client"]), how, **rest)


def pairwise_task(judge: PairwiseJudge, work_items: Sequence[tuple[R.Item, R.Response, R.Response]], *,
                  execution: dict[str, Any] | None = None) -> WorkTask:
    """A runs.Task comparing each (item, first, second): unit key = ``first.id:second.id``."""
    from assay.runs import run_id_for

    config = {**judge.config(), "pairs": R.digest("pairs", sorted(f"{a.id}:{b.id}" for _, a, b in work_items)),
              "execution": execution or {}}
    run_id = run_id_for("pairwise", config)
    units = [Unit(f"{a.id}:{b.id}", (i, a, b)) for i, a, b in work_items]
    spec = work_spec("judge.pairwise", {"judge": judge.spec(), "run_id": run_id})
    task = WorkTask("pairwise", config, units, functools.partial(_compare, judge, run_id), clients=[judge.client],
                     spec=spec, digests=lambda p: judge.request_digests(*p), run_id=run_id)
    return task


async def _compare(judge: PairwiseJudge, run_id: str, payload: tuple[R.Item, R.Response, R.Response]) -> Any:
    item, a, b = payload
    usage = Usage()
    c = await judge.compare(item, a, b, run_id=run_id, usage=usage)
    return usage.outcome(c.id, [c])


@unit_work("judge.pairwise")
def _pairwise_work(config: dict[str, Any], clients: Any) -> WorkTask:
    """pairwise_task's unit work, rebuilt in a worker process."""
    judge = PairwiseJudge.from_spec(config["judge"], clients)
    return WorkTask("pairwise", {}, [], functools.partial(_compare, judge, config["run_id"]), clients=[judge.client])


def rank_through_pairs(comparisons: Sequence[R.Comparison], response_ids: Sequence[str] | None = None) -> list[tuple[str, float]]:
    """Rank responses by their pairwise results: (id, points) best first.

    Points are Copeland-style: 1 per win, 0.5 per tie (both bad counts as a tie between
    two failures), plus 0.01 x the signed strength summed, which separates equal records
    by how decisively they were won. Equal points are a tie (:func:`tie_groups`): tied
    responses are listed by id, and nothing downstream may read their order as a
    preference.
    """
    ids = list(response_ids) if response_ids is not None else list(dict.fromkeys(i for c in comparisons for i in c.response_ids))
    hundredths = {i: 0 for i in ids}  # integers, so that equal points compare exactly
    for c in comparisons:
        a, b = c.response_ids[:2]
        if a not in hundredths or b not in hundredths:
            continue
        s = signed(c)
        if s is None or s == 0:
            hundredths[a] += 50
            hundredths[b] += 50
            continue
        win, lose = (a, b) if s > 0 else (b, a)
        hundredths[win] += 100 + int(abs(s))
        hundredths[lose] -= int(abs(s))
    order = sorted(ids, key=lambda i: (-hundredths[i], i))
    return [(i, hundredths[i] / 100) for i in order]


def tie_groups(ranked: Sequence[tuple[str, float]]) -> list[list[str]]:
    """The responses of a ranking (``rank_through_pairs``), grouped by equal points, best group first.

    This is the one tie rule of derived rankings: two responses tie when their points are
    equal. Points are whole hundredths, so equality is exact; the tolerance (1e-9) only
    absorbs the rounding of points that were stored as floats and read back.
    """
    groups: list[list[str]] = []
    last: float | None = None
    for rid, pts in ranked:
        if last is not None and abs(pts - last) <= 1e-9:
            groups[-1].append(rid)
        else:
            groups.append([rid])
        last = pts
    return groups
