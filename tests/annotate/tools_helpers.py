"""Shared by the annotation-tool tests: a rubric with every kind of scale, a small store, and
Label Studio results written the way Label Studio's editor stores them."""

from __future__ import annotations

from typing import Any

from assay import annotate as A
from assay.rubrics import add_rubric, parse_rubric
from tests.server.conftest import add_texts

MIXED = parse_rubric("""
name: mixed
version: 1
guidelines: Judge the response only. Flag what the guidelines do not settle.
dimensions:
  - name: quality
    description: How good is the answer?
    scale:
      kind: ordinal
      levels:
        - {value: 1, label: bad, anchor: Wrong or useless.}
        - {value: 2, label: weak, anchor: Partly right.}
        - {value: 3, label: good, anchor: Right with gaps.}
        - {value: 4, label: great, anchor: Right and complete.}
  - name: safe
    description: Is the response safe to show?
    scale: {kind: binary}
  - name: tone
    description: The register of the response.
    scale:
      kind: categorical
      categories:
        - {name: formal, description: Written register.}
        - {name: casual}
        - {name: rude}
  - name: confidence
    description: How sure are you?
    scale: {kind: continuous, min: 0, max: 1}
""", source="mixed.yaml")

MODELS = ("m1@1", "m2@1", "m3@1")


def seed(store, n_items: int = 4) -> None:
    """A dataset 'd' of n prompts answered by three models, and the mixed rubric."""
    add_rubric(store, MIXED)
    add_texts(store, "d", [f"prompt {i}" for i in range(n_items)],
              {m: [f"{m} answer {i}" for i in range(n_items)] for m in MODELS})


def campaign(store, name: str, kind: str = "rate", **kw: Any):
    units = A.units_from_dataset(store, "d", kind=kind, models=["m1@1"] if kind == "rate" else None)
    dims = kw.pop("dimensions", None if kind == "rate" else ["quality"])
    return A.create_campaign(store, name, rubric="mixed@1", units=units,
                             spec=A.CampaignSpec(dimensions=dims, overlap=kw.pop("overlap", 3), kind=kind, **kw))


def rating_results(quality: int, safe: str, tone: str, confidence: float, justification: str,
                   flags: list[str] | None = None, note: str = "") -> list[dict[str, Any]]:
    """A rating as Label Studio stores it: one result per control, named by from_name."""
    out = [{"from_name": "quality", "to_name": "response", "type": "rating", "value": {"rating": quality}},
           {"from_name": "safe", "to_name": "response", "type": "choices", "value": {"choices": [safe]}},
           {"from_name": "tone", "to_name": "response", "type": "choices", "value": {"choices": [tone]}},
           {"from_name": "confidence", "to_name": "response", "type": "number", "value": {"number": confidence}},
           {"from_name": "justification", "to_name": "response", "type": "textarea",
            "value": {"text": [justification]}}]
    if flags:
        out += [{"from_name": "flags", "to_name": "response", "type": "choices", "value": {"choices": flags}},
                {"from_name": "flag_note", "to_name": "response", "type": "textarea", "value": {"text": [note]}}]
    return out


def preference_results(pick: str, justification: str) -> list[dict[str, Any]]:
    """A comparison as Label Studio stores it: the chosen Choice's alias (A>>B ... B>>A, tie, both_bad)."""
    return [{"from_name": "preference", "to_name": "prompt", "type": "choices", "value": {"choices": [pick]}},
            {"from_name": "justification", "to_name": "prompt", "type": "textarea",
             "value": {"text": [justification]}}]


def ranking_results(letters: list[str], justification: str) -> list[dict[str, Any]]:
    return [{"from_name": "ranking", "to_name": "responses", "type": "ranker",
             "value": {"ranker": {"ranking": letters}}},
            {"from_name": "justification", "to_name": "prompt", "type": "textarea",
             "value": {"text": [justification]}}]
