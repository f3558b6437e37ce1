"""Personal data: checksums tell real card numbers and IBANs from look-alikes; masking never stores a value."""

from __future__ import annotations

import json

import pytest

from assay import records as R
from assay.curate import curate
from assay.curate.pii import iban_ok, luhn_ok, scrub
from tests.curate.helpers import add_dataset, log_by_ext

CARD = "4539 1488 0343 6467"      # Luhn-valid Visa test number
BAD_CARD = "4539 1488 0343 6468"  # one digit off
IBAN = "DE89 3704 0044 0532 0130 00"
BAD_IBAN = "DE89 3704 0044 0532 0130 01"


@pytest.mark.parametrize("number, ok", [
    ("4111111111111111", True), ("4111111111111112", False), ("5555 5555 5555 4444", True),
    ("378282246310005", True), ("378282246310006", False), (CARD, True), (BAD_CARD, False), ("", False),
])
def test_luhn(number, ok):
    assert luhn_ok(number) is ok


@pytest.mark.parametrize("iban, ok", [
    (IBAN, True), (BAD_IBAN, False), ("GB82WEST12345698765432", True), ("GB82WEST12345698765433", False),
    ("FR1420041010050500013M02606", True), ("NL91ABNA0417164300", True), ("NL91ABNA0417164301", False),
    ("DE89", False),
])
def test_iban_checksum(iban, ok):
    assert iban_ok(iban) is ok


def test_scrub_finds_each_kind_and_leaves_look_alikes():
    text = (f"Write to ana.lopez+x@mail.example.com or call +1 (415) 555-0132 / 415-555-0199. "
            f"Server 10.0.0.254. Card {CARD}, not {BAD_CARD}. IBAN {IBAN}, not {BAD_IBAN}. "
            f"Order 2023-10-12, version 1.2.3, ticket 123456789.")
    out, counts = scrub(text)
    assert counts == {"email": 1, "phone": 2, "ip": 1, "credit_card": 1, "iban": 1}
    assert out == ("Write to [EMAIL] or call [PHONE] / [PHONE]. Server [IP]. Card [CREDIT_CARD], not "
                   f"{BAD_CARD}. IBAN [IBAN], not {BAD_IBAN}. Order 2023-10-12, version 1.2.3, ticket 123456789.")
    assert scrub("plain text, nothing personal")[1] == {}
    assert scrub("999.10.10.10 and 1.2.3.4.5")[1] == {}


def _everything_written(store, run_id: str, target: str) -> str:
    """Every stored row of the target dataset, its responses and verdicts, the run and its log, as text."""
    rows = [*store.rows("items", dataset=target), *store.rows("curation_log", run_id=run_id),
            *store.rows("runs", id=run_id), *store.rows("datasets", name=target)]
    items = [r["id"] for r in store.rows("items", dataset=target)]
    responses = list(store.rows("responses", item_id=items))
    rows += responses + list(store.rows("judgments", response_id=[r["id"] for r in responses]))
    rows += list(store.rows("comparisons", item_id=items))
    return json.dumps(rows, default=str, ensure_ascii=False)


def test_masking_never_stores_the_value(store):
    secrets = ["ana.lopez@example.org", "+44 20 7946 0958", "192.168.13.77", CARD, IBAN]
    items = add_dataset(store, "d", [
        {"prompt": f"My email is {secrets[0]} and my phone {secrets[1]}.", "reference": f"IP {secrets[2]}"},
        {"messages": [{"role": "system", "content": f"Card {CARD}"}, {"role": "user", "content": f"Pay to {IBAN}"}]},
        {"prompt": f"Nothing here but {BAD_CARD}."},
    ])
    answers = [R.Response(id=R.Response.make_id(items[0].id, m, 0), item_id=items[0].id, model=m,
                          text=f"Sure, I will write to {secrets[0]}.") for m in ("m@1", "m@2")]
    rater = R.Rater(id="human:rev", kind="human", name="rev")
    store.add([R.Model(id="m@1"), R.Model(id="m@2"), *answers, rater,
               R.Judgment(response_id=answers[0].id, rater_id=rater.id, rubric="default@1", dimension="safety",
                          value=1, justification=f"It repeats {secrets[0]} back", flag_note=f"call {secrets[1]}"),
               R.Comparison(item_id=items[0].id, rater_id=rater.id, response_ids=[a.id for a in answers],
                            shown_order=[a.id for a in answers], winner=answers[1].id,
                            justification=f"both leak {secrets[0]}")])
    s = curate(store, "d", "d2", ["pii"], carry_responses=True)
    written = _everything_written(store, s.run_id, "d2")
    for value in secrets:
        assert value not in written and value.replace(" ", "") not in written
    assert BAD_CARD in written  # not a card number: kept as it is
    log = log_by_ext(store, s.run_id, "d")
    assert log == {"1": ("pii", "modified", "masked 1 email, 1 ip, 1 phone", None),
                   "2": ("pii", "modified", "masked 1 credit card, 1 iban", None)}
    by_ext = {i.external_id: i for i in store.iter("items", dataset="d2")}
    assert by_ext["1"].prompt == "My email is [EMAIL] and my phone [PHONE]." and by_ext["1"].reference == "IP [IP]"
    assert [m.content for m in by_ext["2"].messages] == ["Card [CREDIT_CARD]", "Pay to [IBAN]"]
    rows = {r.item_id: r for r in store.iter("curation_log", run_id=s.run_id)}
    assert rows[items[0].id].new_item_id == by_ext["1"].id
    assert rows[items[0].id].detail["counts"] == {"email": 1, "ip": 1, "phone": 1}
    assert [r.text for r in store.iter("responses", item_id=[by_ext["1"].id])] == ["Sure, I will write to [EMAIL]."] * 2
    (j,) = [j for j in store.iter("judgments") if j.justification.endswith("back") and "[EMAIL]" in j.justification]
    assert (j.justification, j.flag_note) == ("It repeats [EMAIL] back", "call [PHONE]")
    assert [c.justification for c in store.iter("comparisons", item_id=[by_ext["1"].id])] == ["both leak [EMAIL]"]


def test_drop_mode_removes_items_with_personal_data(store):
    add_dataset(store, "d", [f"card {CARD}", f"card {BAD_CARD}", "mail x@y.io", "clean"])
    s = curate(store, "d", "d2", ["pii(mode=drop, kinds=[credit_card])"])
    assert log_by_ext(store, s.run_id, "d") == {"1": ("pii", "removed", "contains personal data: 1 credit card", None)}
    assert CARD not in _everything_written(store, s.run_id, "d2")
