"""Label maps: how a source writes a preference, turned into an outcome, a winner, a strength or a probability.

Positions are the answers in the order the row gives them (1 is the first answer field).
A value outside the map is an error naming the value and what the map accepts, never a
silent tie.

Named maps
    ``1/2/0``: 1 the first answer wins, 2 the second, 0 a tie (PandaLM, AlpacaEval 1).
    ``A/B/tie``: A the first, B the second, tie (letters in either case).
    ``model_a/model_b/tie``: Chatbot Arena's and MT-Bench's ``winner``: model_a, model_b,
    tie, ``tie (bothbad)`` (both bad) and ``tie (inconsistent)`` (MT-Bench's GPT-4 verdicts
    that changed with the order, a tie).
    ``A>>B``: Arena-Hard's verdicts A>>B, A>B, A=B, B>A, B>>A (also written A<B, A<<B, B<A,
    B<<A, B=A); ``>>`` is a strong win (strength 2).
    ``probability``: the probability in [0, 1] that the first answer is preferred;
    ``probability-second``: that the second is. Above 0.5 the favoured answer wins (the
    hard verdict), exactly 0.5 is a tie; the probability is kept as a soft preference.
    ``alpaca-eval``: AlpacaEval's ``preference``: 1 the first answer, 2 the second, 0 a tie
    (a draw), a number strictly between 1 and 2 a probability (1 + the probability that the
    second is preferred, as its weighted judges write it; 1.5 is a tie at probability 1/2).
    ``index``: for N answers, the position of the winner (1..N), 0 for a tie.

A custom map is written ``VALUE=VERDICT,...`` with VERDICT one of ``first``, ``second``,
a position ``1..N``, ``tie`` or ``both_bad``, optionally with ``:2`` for a strong win:
``--label-map "yes=first,no=second,same=tie"``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

from assay.io.labels._parsed import RowError

NAMES = ("1/2/0", "A/B/tie", "model_a/model_b/tie", "A>>B", "probability", "probability-second", "alpaca-eval",
         "index")


@dataclass(frozen=True)
class Label:
    """A decoded verdict: ``winner`` is a 0-based position among the answers given."""

    outcome: Literal["win", "tie", "both_bad"]
    winner: int | None = None
    strength: int | None = None
    probability: float | None = None  # that position 0 is preferred (two answers only)


_TIE = Label("tie")


def _number(v: Any) -> float | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, float)):
        return float(v)
    if isinstance(v, str):
        try:
            return float(v.strip())
        except ValueError:
            return None
    return None


def _from_probability(p: float, first: bool) -> Label:
    p_first = p if first else 1 - p
    if p_first == 0.5:
        return Label("tie", probability=0.5)
    return Label("win", winner=0 if p_first > 0.5 else 1, probability=p_first)


_ARENA_HARD = {"A>>B": (0, 2), "A>B": (0, 1), "A=B": (None, None), "B=A": (None, None), "B>A": (1, 1),
               "B>>A": (1, 2), "A<B": (1, 1), "A<<B": (1, 2), "B<A": (0, 1), "B<<A": (0, 2)}
_ARENA = {"model_a": Label("win", 0), "model_b": Label("win", 1), "tie": _TIE, "tie (bothbad)": Label("both_bad"),
          "tie (inconsistent)": _TIE}


class LabelMap:
    """Decodes a label value into a :class:`Label` for a row with ``n`` answers."""

    def __init__(self, spec: str) -> None:
        self.spec = spec.strip()
        self.custom: dict[str, tuple[Literal["win", "tie", "both_bad"], Any, int | None]] | None = None
        if self.spec not in NAMES:
            self.custom = self._parse_custom(self.spec)

    @staticmethod
    def _parse_custom(spec: str) -> dict[str, tuple[Any, Any, int | None]]:
        if "=" not in spec:
            raise RowError("--label-map", f"unknown label map {spec!r}: use one of {', '.join(NAMES)}, "
                                          "or VALUE=VERDICT pairs such as 'yes=first,no=second,same=tie'")
        out: dict[str, tuple[Any, Any, int | None]] = {}
        for part in spec.split(","):
            value, eq, verdict = part.partition("=")
            value, verdict = value.strip(), verdict.strip()
            if not eq or not value or not verdict:
                raise RowError("--label-map", f"{part.strip()!r} is not VALUE=VERDICT")
            if value in out:
                raise RowError("--label-map", f"value {value!r} is mapped twice")
            verdict, colon, strength = verdict.partition(":")
            if colon and strength not in ("1", "2"):
                raise RowError("--label-map", f"strength in {part.strip()!r} must be 1 or 2")
            if verdict in ("tie", "both_bad"):
                if colon:
                    raise RowError("--label-map", f"a {verdict} has no strength: {part.strip()!r}")
                out[value] = (verdict, None, None)
            elif verdict in ("first", "second") or verdict.isdigit():
                pos = {"first": 0, "second": 1}.get(verdict, int(verdict) - 1 if verdict.isdigit() else -1)
                if pos < 0:
                    raise RowError("--label-map", f"positions start at 1: {part.strip()!r}")
                out[value] = ("win", pos, int(strength) if colon else None)
            else:
                raise RowError("--label-map", f"verdict {verdict!r} in {part.strip()!r} is not first, second, "
                                              "a position, tie or both_bad")
        return out

    def accepts(self) -> str:
        """What values the map takes, for error messages."""
        if self.custom is not None:
            return ", ".join(repr(k) for k in self.custom)
        return {"1/2/0": "1, 2 or 0", "A/B/tie": "A, B or tie",
                "model_a/model_b/tie": "model_a, model_b, tie, 'tie (bothbad)' or 'tie (inconsistent)'",
                "A>>B": "A>>B, A>B, A=B, B>A, B>>A (or A<B, A<<B, B<A, B<<A, B=A)",
                "probability": "a number from 0 to 1", "probability-second": "a number from 0 to 1",
                "alpaca-eval": "0, 1, 1.5, 2 or a number between 1 and 2", "index": "0 or a position 1..N"}[self.spec]

    def __call__(self, value: Any, n: int, fieldname: str) -> Label:
        label = self._decode(value, n)
        if label is None:
            raise RowError(fieldname, f"label {value!r} is not in the label map {self.spec!r} "
                                      f"(it takes {self.accepts()})")
        if label.winner is not None and label.winner >= n:
            raise RowError(fieldname, f"label {value!r} names answer {label.winner + 1}, but the row has {n}")
        if label.probability is not None and n != 2:
            raise RowError(fieldname, f"a probability compares two answers, the row has {n}")
        return label

    def _decode(self, value: Any, n: int) -> Label | None:  # noqa: PLR0911 - one branch per map
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return None
        if self.custom is not None:
            key = str(value).strip() if not isinstance(value, float) or not value.is_integer() else str(int(value))
            hit = self.custom.get(key)
            if hit is None:
                return None
            outcome, pos, strength = hit
            return Label(outcome, pos, strength)
        spec = self.spec
        if spec in ("1/2/0", "index", "alpaca-eval"):
            x = _number(value)
            if x is None:
                return None
            if spec == "alpaca-eval":
                if x == 0.0:
                    return _TIE
                if x == 1.5:
                    return Label("tie", probability=0.5)
                if x in (1.0, 2.0):
                    return Label("win", int(x) - 1)
                if 1.0 < x < 2.0:
                    return _from_probability(x - 1.0, first=False)
                return None
            if not x.is_integer():
                return None
            k = int(x)
            if k == 0:
                return _TIE
            if spec == "1/2/0" and k not in (1, 2):
                return None
            return Label("win", k - 1) if 1 <= k <= max(n, 2) else None
        if spec in ("probability", "probability-second"):
            x = _number(value)
            if x is None or not 0.0 <= x <= 1.0:
                return None
            return _from_probability(x, first=spec == "probability")
        if not isinstance(value, str):
            return None
        v = value.strip()
        if spec == "A/B/tie":
            return {"a": Label("win", 0), "b": Label("win", 1), "tie": _TIE}.get(v.lower())
        if spec == "model_a/model_b/tie":
            return _ARENA.get(v)
        hit = _ARENA_HARD.get(v)
        if hit is None:
            return None
        pos, strength = hit
        return _TIE if pos is None else Label("win", pos, strength)


__all__ = ["NAMES", "Label", "LabelMap"]
