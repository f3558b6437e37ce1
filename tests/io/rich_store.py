"""A store with rows in every table, each written by the code that writes it in real use."""

from __future__ import annotations

from datetime import timedelta

from assay import annotate as A
from assay import records as R
from assay.cli import main
from assay.io import EXPORTED
from assay.server import accounts as ACC
from assay.store import Store
from assay.store import rating as S
from assay.testing import ScriptedServer
from tests.factories import every_kind
from tests.server.conftest import password_hash
from tests.sessions import session


def build(store: Store, store_url: str) -> None:
    """Fill ``store`` (at ``store_url``): records, campaigns worked through, runs, red team, library, curation."""
    from assay.curate import curate
    from assay.judges import jobs, registry
    from assay.library import add_entry
    from assay.redteam import detect_refusals, import_jailbreakbench
    from tests.redteam._data import JBB

    store.add(every_kind())
    # a correction: a judgment superseding another, as `assay` writes one
    old = store.get("judgments", "j1")
    store.add([old.model_copy(update={"id": "j1-fixed", "value": 4.0, "supersedes": "j1"})])

    # the rating app: accounts (argon2 hashes), a campaign with gold, worked, skipped, one sign-in
    users = [ACC.create_user(store, n, password_hash=password_hash(), role=r)
             for n, r in (("ann2", "rater"), ("bob", "rater"), ("lee", "lead"))]
    raters = [u.rater_id for u in users[:2]]
    units = A.units_from_dataset(store, "qa", models=["alpha@1", "beta@2024-01"])
    gold = [A.Gold(response_ids=tuple(units[0]), explanation="known answer", values={"factuality": 5})]
    camp = A.create_campaign(store, "rich", rubric="default@1", units=units[1:], gold=gold,
                             spec=A.CampaignSpec(gold_share=0.3, dimensions=["factuality"], overlap=2, raters=raters),
                             created_by="lee")
    for k, rater in enumerate(raters):
        asg = A.next_assignment(store, camp, rater)
        if k == 0:
            A.skip(store, camp, asg, reason="cannot judge this one")
            asg = A.next_assignment(store, camp, rater)
        A.submit(store, camp, asg, A.Answer(justification="checked against the reference", values={"factuality": 4},
                                            flags=["ambiguous"], flag_note="partly right"))
    # a campaign on a uniform sample of the dataset's items: how it was drawn, and its frame
    from assay.analysis.active import SelectSpec, select_units

    sample, design = select_units(store, units, SelectSpec(method="uniform", budget=2, seed=1), dataset="qa")
    A.create_campaign(store, "rich-sample", rubric="default@1", units=sample, design=design, created_by="lee")
    S.insert_session(store, {"token_hash": "t" * 64, "user_name": "bob", "csrf_token": "c" * 64,
                             "created_at": R.utcnow(), "expires_at": R.utcnow() + timedelta(hours=1)})
    S.record_login_attempt(store, ["bob"], False, R.utcnow())
    case = A.collect_edge_cases(store, campaign_id=camp.id)
    if case:
        A.resolve_edge_case(store, case[0].id, clarification="a partly right answer is a 3", author="lee")

    # a generation run through a scripted model server: runs, run units, the request cache
    with ScriptedServer(models=["gen"]) as srv:
        assert main(["--db", store_url, "generate", "--model", "gen@1", "--dataset", "qa", "--base-url",
                     srv.base_url, "--backoff", "0.01"]) == 0
    jobs.verify(session(store), registry.create("exact_match"), dataset="qa")

    # red team: a published artifact, then the refusal detector on its attempts
    import_jailbreakbench(store, JBB / "PAIR-gpt-4-0125-preview.json")
    detect_refusals(session(store), attempts_only=True)
    attempt = store.list("attempts")[0]
    add_entry(store, "Complies when asked in role play", examples=[attempt.response_id], tags=["jailbreak"],
              detector={"program": {"name": "refusal"}}, created_by="lee")

    # curation: a near-duplicate removed and logged
    store.add([R.Item(id=R.Item.make_id("qa", "3", None, None), dataset="qa", external_id="3",
                      prompt="Capital of France?!")])
    curate(store, "qa", "qa-clean", ["near-dup(threshold=0.5)"])

    empty = [k for k in EXPORTED if store.count(k) == 0]
    assert not empty, f"the rich store has no rows in {empty}"
