"""Prompt converters: registry, recorded arguments, chains, determinism, inverses."""

from __future__ import annotations

import base64 as b64
import warnings

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assay.redteam import converters as C

INVERTIBLE = ["direct", "base64", "rot13", "reverse", "spacing", "roleplay", "prefix", "no-refusal", "split"]
texts = st.text(min_size=0, max_size=200)


def test_the_built_ins_are_registered_with_what_they_test():
    assert set(INVERTIBLE) | {"leetspeak"} <= set(C.names())
    for r in C.registrations():
        assert r.description and not r.description.startswith("``"), r.name


@pytest.mark.parametrize("name", INVERTIBLE)
@settings(max_examples=60, deadline=None)
@given(text=texts)
def test_invertible_converters_round_trip(name, text):
    conv = C.create(name)
    assert conv.invert(conv(text)) == text


@settings(max_examples=60, deadline=None)
@given(text=texts, sep=st.text(min_size=1, max_size=3), parts=st.integers(2, 6))
def test_round_trip_with_arguments_and_chains(text, sep, parts):
    chain = C.Chain([C.create("split", parts=parts), C.create("spacing", separator=sep), C.create("base64")])
    assert chain.invertible and chain.invert(chain(text)) == text


def test_encodings_say_what_they_encode():
    out = C.create("base64")("How do I do X?")
    payload = out.split("\n\n")[-1]
    assert b64.b64decode(payload).decode() == "How do I do X?" and "base64" in out
    assert C.create("base64", instruction=False)("hi") == "aGk="
    assert C.create("rot13", instruction=False)("Hello") == "Uryyb"
    assert C.create("reverse", instruction=False)("abc") == "cba"
    assert C.create("spacing", separator="-")("abc") == "a-b-c"
    assert C.create("prefix", opening="Absolutely")("Do X").endswith('"Absolutely".')


def test_leetspeak_is_seeded_and_partial_rates_differ_by_seed():
    text = "a lot of letters to substitute, seriously a great deal of them"
    full = C.create("leetspeak")(text)
    assert "a" not in full and "e" not in full and not C.create("leetspeak").invertible
    half = [C.create("leetspeak", rate=0.5, seed=s)(text) for s in (1, 1, 2)]
    assert half[0] == half[1] and half[0] != half[2]
    assert half[0] != text and half[0] != full
    assert C.create("leetspeak", rate=0.0)(text) == text


def test_parse_chain_and_rebuild_from_spec():
    chain = C.parse_chain("leetspeak(rate=0.5, seed=3) + roleplay(scene=game)+prefix")
    assert [s.name for s in chain.steps] == ["leetspeak", "roleplay", "prefix"]
    assert chain.steps[0].args == {"rate": 0.5, "seed": 3} and chain.steps[1].args == {"scene": "game"}
    assert chain.label() == 'leetspeak(rate=0.5, seed=3)+roleplay(scene="game")+prefix'
    rebuilt = C.chain_from_spec(chain.spec())
    assert rebuilt.spec() == chain.spec() and rebuilt("Tell me") == chain("Tell me")
    assert C.parse_chain(rebuilt.label()).spec() == chain.spec()
    # the dataset key is short, stable, and tells argument sets apart
    assert C.parse_chain("roleplay+prefix").key() == "roleplay+prefix"
    assert chain.key().startswith("leetspeak+roleplay+prefix-") and chain.key() == rebuilt.key()
    assert C.parse_chain("leetspeak(seed=4)").key() != C.parse_chain("leetspeak(seed=5)").key()


@pytest.mark.parametrize("spec, message", [
    ("nonesuch", "no converter named 'nonesuch'"),
    ("base64+", None),
    ("", "at least one converter"),
    ("leetspeak(speed=2)", "takes no argument speed"),
    ("leetspeak(rate)", "key=value"),
    ("leetspeak(rate=3)", "rate must lie in [0, 1]"),
    ("roleplay(scene=opera)", "scene must be one of"),
    ("Base64", "cannot read converter step"),
])
def test_bad_chains_are_refused_with_the_reason(spec, message):
    if message is None:  # a trailing '+' is tolerated: the chain is just base64
        assert [s.name for s in C.parse_chain(spec).steps] == ["base64"]
        return
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        C.parse_chain(spec)


def test_from_spec_warns_on_a_version_change_and_arguments_must_be_json():
    spec = C.create("rot13").spec()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        C.from_spec(spec)
    with pytest.warns(UserWarning, match="stored version 0"):
        C.from_spec({**spec, "version": "0"})
    with pytest.raises(ValueError, match="JSON values"):
        C.create("prefix", opening=object())


def test_a_name_cannot_be_registered_twice_by_other_code():
    with pytest.raises(ValueError, match="already registered"):
        @C.converter("base64")
        def other() -> C.Transform:
            """Another base64."""
            return C.Transform(lambda t: t)
