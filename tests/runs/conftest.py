from __future__ import annotations

from assay import records as R
from assay.testing.pytest_plugin import model_server  # noqa: F401 - the fixture


def make_dataset(store, name: str = "qa", n: int = 10) -> list[R.Item]:
    """A dataset of ``n`` items whose prompts are "question {i}"."""
    items = [R.Item(id=R.Item.make_id(name, str(i), None, None), dataset=name, external_id=str(i), prompt=f"question {i}") for i in range(n)]
    store.add([R.Dataset(name=name), *items])
    return items
