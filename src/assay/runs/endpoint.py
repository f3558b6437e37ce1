"""A model's endpoint becomes its stored default only once a run through it has worked.

A run stores the model it calls (responses name it) without its base URL and key
variable (``store_model``); once the run has answers, ``remember_endpoint`` keeps the
base URL, key variable and prices it was given as the model's defaults where the model
had none. A run that fails (a mistyped URL, a refused key) leaves the stored model as it
was, so a later run without ``base_url`` says no endpoint is known instead of reusing
the wrong one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from assay import records as R

if TYPE_CHECKING:
    from assay.store import Store

ENDPOINT_FIELDS = ("base_url", "api_key_env", "price_input_per_mtok", "price_output_per_mtok")


def store_model(store: Store, model: R.Model) -> None:
    """Store ``model`` if it is new, without the endpoint fields (see ``remember_endpoint``)."""
    store.add([model.model_copy(update={"base_url": None, "api_key_env": None})])


def remember_endpoint(store: Store, model: R.Model) -> None:
    """Keep ``model``'s base URL, key variable and prices as the stored model's, where it has none."""
    from assay.store.ledger import Ledger

    store_model(store, model)
    Ledger(store).fill_model(model.id, {f: getattr(model, f) for f in ENDPOINT_FIELDS})
