"""Synthetic datasets with known differences for the profile tests: topics, lengths, scores planted."""

from __future__ import annotations

import numpy as np

from assay import records as R
from assay.rubrics import default_rubric

TOPICS = {
    "cooking": ["How long should I bake {x} bread at 200 degrees in the oven",
                "What spices go well with roasted {x} and garlic for dinner",
                "Give me a recipe for {x} soup with fresh vegetables and herbs"],
    "code": ["How do I reverse a {x} list in Python without using a loop",
             "Why does my JavaScript {x} function return undefined after the promise resolves",
             "Write a SQL query that joins the {x} table with the orders table by customer id"],
    "finance": ["Should I put my {x} savings into an index fund or pay off my mortgage",
                "How is capital gains tax on {x} stock computed when I sell after one year",
                "Explain compound interest on a {x} loan with monthly payments"],
}
FILL = ["small", "large", "old", "new", "red", "green", "quick", "simple", "cheap", "family"]


def prompts(rng: np.random.Generator, mix: dict[str, int], *, pad: int = 0) -> list[tuple[str, str]]:
    """(topic, prompt) pairs, ``mix[topic]`` of each, every prompt distinct; ``pad`` extra words lengthen them."""
    out = []
    for topic, n in mix.items():
        for k in range(n):
            text = rng.choice(TOPICS[topic]).format(x=FILL[k % len(FILL)])
            extra = " ".join(rng.choice(["please", "thanks", "quickly", "today", "now"], size=pad))
            out.append((topic, f"{text} (case {k}{' ' + extra if pad else ''})?"))
    return out


def add_dataset(store, name: str, pairs: list[tuple[str, str]], *, category: bool = True) -> list[R.Item]:
    items = [R.Item(id=R.Item.make_id(name, str(k), None, None), dataset=name, external_id=str(k), prompt=p,
                    category=t if category else None, language="en", metadata={"source": "synthetic"})
             for k, (t, p) in enumerate(pairs)]
    store.add([R.Dataset(name=name), *items])
    return items


def add_scores(store, items: list[R.Item], win_by_topic: dict[str, float], topic_of: dict[str, str],
               rng: np.random.Generator, dimension: str = "factuality") -> None:
    """Models a@1 and b@1 scored on ``dimension`` by one rater: B beats A on a topic's prompts with the given chance."""
    rub = default_rubric()
    rater = R.Rater(id=R.Rater.make_id("human", "ann"), kind="human", name="ann")
    recs: list[R.Record] = [rub, R.Model(id="a@1"), R.Model(id="b@1"), rater]
    for it in items:
        win = rng.random() < win_by_topic[topic_of[it.id]]
        for model, value in (("a@1", 2.0 if win else 4.0), ("b@1", 4.0 if win else 2.0)):
            rid = R.Response.make_id(it.id, model, 0)
            recs.append(R.Response(id=rid, item_id=it.id, model=model, text="answer"))
            recs.append(R.Judgment(id=f"j-{rid}", response_id=rid, rater_id=rater.id, rubric=rub.id,
                                   dimension=dimension, value=value))
    store.add(recs)
